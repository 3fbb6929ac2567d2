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

/* Every apply function, declared once for the option table. */
#define OPTION_FN(name) int name(struct render *r, struct spec *s, const struct optline *l)

/* opt_spec.c */
OPTION_FN(opt_default_spec);
OPTION_FN(opt_default_spec_for_platform);
OPTION_FN(opt_spec_from_bytes);
OPTION_FN(opt_spec_from_file);
/* opt_process.c */
OPTION_FN(opt_env);
OPTION_FN(opt_env_file);
OPTION_FN(opt_default_path_env);
OPTION_FN(opt_process_args);
OPTION_FN(opt_process_cwd);
OPTION_FN(opt_tty);
OPTION_FN(opt_tty_size);
OPTION_FN(opt_hostname);
OPTION_FN(opt_domainname);
OPTION_FN(opt_new_privileges);
OPTION_FN(opt_no_new_privileges);
OPTION_FN(opt_selinux_label);
OPTION_FN(opt_apparmor_profile);
OPTION_FN(opt_annotations);
OPTION_FN(opt_rootfs_path);
OPTION_FN(opt_rootfs_readonly);
/* opt_mounts.c */
OPTION_FN(opt_mounts);
OPTION_FN(opt_without_mounts);
OPTION_FN(opt_without_run_mount);
OPTION_FN(opt_host_hosts_file);
OPTION_FN(opt_host_resolvconf);
OPTION_FN(opt_host_localtime);
OPTION_FN(opt_dev_shm_size);
OPTION_FN(opt_writeable_sysfs);
OPTION_FN(opt_writeable_cgroupfs);
/* opt_linux.c */
OPTION_FN(opt_host_namespace);
OPTION_FN(opt_linux_namespace);
OPTION_FN(opt_user_namespace);
OPTION_FN(opt_cgroup);
OPTION_FN(opt_namespaced_cgroup);
OPTION_FN(opt_masked_paths);
OPTION_FN(opt_readonly_paths);
OPTION_FN(opt_seccomp_unconfined);
OPTION_FN(opt_memory_limit);
OPTION_FN(opt_memory_swap);
OPTION_FN(opt_pids_limit);
OPTION_FN(opt_blockio);
OPTION_FN(opt_cpu_shares);
OPTION_FN(opt_cpus);
OPTION_FN(opt_cpus_mems);
OPTION_FN(opt_cpu_cfs);
OPTION_FN(opt_cpu_rt);
OPTION_FN(opt_rdt);
OPTION_FN(opt_privileged);
/* opt_caps.c */
OPTION_FN(opt_capabilities);
OPTION_FN(opt_added_capabilities);
OPTION_FN(opt_dropped_capabilities);
OPTION_FN(opt_ambient_capabilities);
OPTION_FN(opt_all_known_capabilities);
OPTION_FN(opt_all_current_capabilities);
/* opt_user.c */
OPTION_FN(opt_user);
OPTION_FN(opt_uid_gid);
OPTION_FN(opt_user_id);
OPTION_FN(opt_username);
OPTION_FN(opt_additional_gids);
OPTION_FN(opt_append_additional_groups);
/* opt_devices.c */
OPTION_FN(opt_linux_devices);
OPTION_FN(opt_linux_device);
OPTION_FN(opt_linux_device_follow_symlinks);
OPTION_FN(opt_devices);
OPTION_FN(opt_host_devices);
OPTION_FN(opt_parent_cgroup_devices);
OPTION_FN(opt_all_devices_allowed);
OPTION_FN(opt_default_unix_devices);
/* opt_windows.c */
OPTION_FN(opt_windows_hyperv);
OPTION_FN(opt_windows_cpu_count);
OPTION_FN(opt_windows_cpu_shares);
OPTION_FN(opt_windows_cpu_maximum);
OPTION_FN(opt_windows_device);
OPTION_FN(opt_windows_ignore_flushes_during_boot);
OPTION_FN(opt_windows_allow_unqualified_dns_query);
OPTION_FN(opt_windows_network_namespace);
/* opt_image.c */
OPTION_FN(opt_image_config);
OPTION_FN(opt_image_config_args);
