/* Helpers the option implementations share: allocation in the render's
 * arena and containerd's set* functions that create missing spec sections. */
#pragma once

#include <string.h>

#include "optline.h"
#include "options.h"
#include "render.h"
#include "spec.h"

/* Zeroed memory in the render's arena; on failure the error is recorded. */
void *r_alloc(struct render *r, size_t size);
#define R_NEW(r, T) ((T *) r_alloc((r), sizeof(T)))
const char *r_strdup(struct render *r, const char *s);
/* The error for a failed allocation (ENOMEM, or EFBIG past the arena limit). */
int r_nomem(struct render *r);

/* containerd's setProcess, setRoot, setLinux, setResources, setCPU,
 * setCapabilities, setResourcesWindows and setCPUWindows. */
int set_process(struct render *r, struct spec *s);
int set_root(struct render *r, struct spec *s);
int set_linux(struct render *r, struct spec *s);
int set_resources(struct render *r, struct spec *s);
int set_cpu(struct render *r, struct spec *s);
int set_capabilities(struct render *r, struct spec *s);
int set_windows(struct render *r, struct spec *s);
int set_cpu_windows(struct render *r, struct spec *s);

/* Where containerd v1.7.7 dereferences a section the spec lacks (a panic
 * there), the option is refused instead. */
int missing_section(struct render *r, const char *section);

/* Go's append for the typed slices. */
int push_str(struct render *r, str_slice *s, const char *v);
/* A fresh slice holding the string arguments of l from index `from`;
 * `nil_if_none` gives Go's nil for an empty variadic call. */
int args_to_slice(struct render *r, str_slice *dst, const struct optline *l, size_t from, bool nil_if_none);
int64_t *r_i64(struct render *r, int64_t v);
uint64_t *r_u64(struct render *r, uint64_t v);

/* ensureAdditionalGids: the primary GID first in additionalGids. */
int ensure_additional_gids(struct render *r, struct spec *s);
/* replaceOrAppendEnvValues(defaults, overrides) into *ret. */
int env_replace_or_append(struct render *r, const str_slice *defaults, const char *const *overrides, size_t n,
                          str_slice *ret);

/* filepath.Join("/", namespace, id), containerd's default cgroups path. */
const char *cgroups_path_of(struct render *r);

/* Apply another option's function with synthetic arguments (compositions). */
int apply_with_args(struct render *r, struct spec *s, option_apply fn, const char *const *strs, size_t n);

/* Every apply function (an option_apply), declared once for the option
 * table in options.c. */

/* opt_spec.c */
int opt_default_spec(struct render *r, struct spec *s, const struct optline *l);
int opt_default_spec_for_platform(struct render *r, struct spec *s, const struct optline *l);
int opt_spec_from_bytes(struct render *r, struct spec *s, const struct optline *l);
int opt_spec_from_file(struct render *r, struct spec *s, const struct optline *l);
/* opt_process.c */
int opt_env(struct render *r, struct spec *s, const struct optline *l);
int opt_env_file(struct render *r, struct spec *s, const struct optline *l);
int opt_default_path_env(struct render *r, struct spec *s, const struct optline *l);
int opt_process_args(struct render *r, struct spec *s, const struct optline *l);
int opt_process_cwd(struct render *r, struct spec *s, const struct optline *l);
int opt_tty(struct render *r, struct spec *s, const struct optline *l);
int opt_tty_size(struct render *r, struct spec *s, const struct optline *l);
int opt_hostname(struct render *r, struct spec *s, const struct optline *l);
int opt_domainname(struct render *r, struct spec *s, const struct optline *l);
int opt_new_privileges(struct render *r, struct spec *s, const struct optline *l);
int opt_no_new_privileges(struct render *r, struct spec *s, const struct optline *l);
int opt_selinux_label(struct render *r, struct spec *s, const struct optline *l);
int opt_apparmor_profile(struct render *r, struct spec *s, const struct optline *l);
int opt_annotations(struct render *r, struct spec *s, const struct optline *l);
int opt_rootfs_path(struct render *r, struct spec *s, const struct optline *l);
int opt_rootfs_readonly(struct render *r, struct spec *s, const struct optline *l);
/* opt_mounts.c */
int opt_mounts(struct render *r, struct spec *s, const struct optline *l);
int opt_without_mounts(struct render *r, struct spec *s, const struct optline *l);
int opt_without_run_mount(struct render *r, struct spec *s, const struct optline *l);
int opt_host_hosts_file(struct render *r, struct spec *s, const struct optline *l);
int opt_host_resolvconf(struct render *r, struct spec *s, const struct optline *l);
int opt_host_localtime(struct render *r, struct spec *s, const struct optline *l);
int opt_dev_shm_size(struct render *r, struct spec *s, const struct optline *l);
int opt_writeable_sysfs(struct render *r, struct spec *s, const struct optline *l);
int opt_writeable_cgroupfs(struct render *r, struct spec *s, const struct optline *l);
/* opt_linux.c */
int opt_host_namespace(struct render *r, struct spec *s, const struct optline *l);
int opt_linux_namespace(struct render *r, struct spec *s, const struct optline *l);
int opt_user_namespace(struct render *r, struct spec *s, const struct optline *l);
int opt_cgroup(struct render *r, struct spec *s, const struct optline *l);
int opt_namespaced_cgroup(struct render *r, struct spec *s, const struct optline *l);
int opt_masked_paths(struct render *r, struct spec *s, const struct optline *l);
int opt_readonly_paths(struct render *r, struct spec *s, const struct optline *l);
int opt_seccomp_unconfined(struct render *r, struct spec *s, const struct optline *l);
int opt_memory_limit(struct render *r, struct spec *s, const struct optline *l);
int opt_memory_swap(struct render *r, struct spec *s, const struct optline *l);
int opt_pids_limit(struct render *r, struct spec *s, const struct optline *l);
int opt_blockio(struct render *r, struct spec *s, const struct optline *l);
int opt_cpu_shares(struct render *r, struct spec *s, const struct optline *l);
int opt_cpus(struct render *r, struct spec *s, const struct optline *l);
int opt_cpus_mems(struct render *r, struct spec *s, const struct optline *l);
int opt_cpu_cfs(struct render *r, struct spec *s, const struct optline *l);
int opt_cpu_rt(struct render *r, struct spec *s, const struct optline *l);
int opt_rdt(struct render *r, struct spec *s, const struct optline *l);
int opt_privileged(struct render *r, struct spec *s, const struct optline *l);
/* opt_caps.c */
int opt_capabilities(struct render *r, struct spec *s, const struct optline *l);
int opt_added_capabilities(struct render *r, struct spec *s, const struct optline *l);
int opt_dropped_capabilities(struct render *r, struct spec *s, const struct optline *l);
int opt_ambient_capabilities(struct render *r, struct spec *s, const struct optline *l);
int opt_all_known_capabilities(struct render *r, struct spec *s, const struct optline *l);
int opt_all_current_capabilities(struct render *r, struct spec *s, const struct optline *l);
/* opt_user.c */
int opt_user(struct render *r, struct spec *s, const struct optline *l);
int opt_uid_gid(struct render *r, struct spec *s, const struct optline *l);
int opt_user_id(struct render *r, struct spec *s, const struct optline *l);
int opt_username(struct render *r, struct spec *s, const struct optline *l);
int opt_additional_gids(struct render *r, struct spec *s, const struct optline *l);
int opt_append_additional_groups(struct render *r, struct spec *s, const struct optline *l);
/* opt_devices.c */
int opt_linux_devices(struct render *r, struct spec *s, const struct optline *l);
int opt_linux_device(struct render *r, struct spec *s, const struct optline *l);
int opt_linux_device_follow_symlinks(struct render *r, struct spec *s, const struct optline *l);
int opt_devices(struct render *r, struct spec *s, const struct optline *l);
int opt_host_devices(struct render *r, struct spec *s, const struct optline *l);
int opt_parent_cgroup_devices(struct render *r, struct spec *s, const struct optline *l);
int opt_all_devices_allowed(struct render *r, struct spec *s, const struct optline *l);
int opt_default_unix_devices(struct render *r, struct spec *s, const struct optline *l);
/* opt_windows.c */
int opt_windows_hyperv(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_cpu_count(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_cpu_shares(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_cpu_maximum(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_device(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_ignore_flushes_during_boot(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_allow_unqualified_dns_query(struct render *r, struct spec *s, const struct optline *l);
int opt_windows_network_namespace(struct render *r, struct spec *s, const struct optline *l);
/* opt_image.c */
int opt_image_config(struct render *r, struct spec *s, const struct optline *l);
int opt_image_config_args(struct render *r, struct spec *s, const struct optline *l);
