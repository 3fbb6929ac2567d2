/* Every option of containerd v1.7.7's oci package: its name, arguments and
 * where it is implemented. Keep this table sorted by name. */
#include "options.h"

#include <string.h>

#include "opt_common.h"
#include "util.h"

#define NONE 0, 0, { 0 }
#define ARGS(min, max, ...) min, max, { __VA_ARGS__ }
#define VARIADIC(min, ...) min, ARGS_VARIADIC, { __VA_ARGS__ }
#define HOST_FILES OPTION_READS_HOST_FILES
#define ROOT_PATH OPTION_SETS_ROOT_PATH
#define REPLACES_SPEC OPTION_REPLACES_SPEC
#define IMAGE OPTION_APPLIES_IMAGE

static const struct option options[] = {
        { "WithAddedCapabilities", opt_added_capabilities, 0, VARIADIC(0, ARG_STRING) },
        { "WithAdditionalGIDs", opt_additional_gids, 0, ARGS(1, 1, ARG_STRING) },
        { "WithAllCurrentCapabilities", opt_all_current_capabilities, 0, NONE },
        { "WithAllDevicesAllowed", opt_all_devices_allowed, 0, NONE },
        { "WithAllKnownCapabilities", opt_all_known_capabilities, 0, NONE },
        { "WithAmbientCapabilities", opt_ambient_capabilities, 0, VARIADIC(0, ARG_STRING) },
        { "WithAnnotations", opt_annotations, 0, VARIADIC(0, ARG_KEY_VALUE) },
        { "WithApparmorProfile", opt_apparmor_profile, 0, ARGS(1, 1, ARG_STRING) },
        { "WithAppendAdditionalGroups", opt_append_additional_groups, 0, VARIADIC(0, ARG_STRING) },
        { "WithBlockIO", opt_blockio, 0, ARGS(1, 1, ARG_JSON_BLOCKIO) },
        { "WithCPUCFS", opt_cpu_cfs, 0, ARGS(2, 2, ARG_I64, ARG_U64) },
        { "WithCPURT", opt_cpu_rt, 0, ARGS(2, 2, ARG_I64, ARG_U64) },
        { "WithCPUShares", opt_cpu_shares, 0, ARGS(1, 1, ARG_U64) },
        { "WithCPUs", opt_cpus, 0, ARGS(1, 1, ARG_STRING) },
        { "WithCPUsMems", opt_cpus_mems, 0, ARGS(1, 1, ARG_STRING) },
        { "WithCapabilities", opt_capabilities, 0, VARIADIC(0, ARG_STRING) },
        { "WithCgroup", opt_cgroup, 0, ARGS(1, 1, ARG_STRING) },
        { "WithDefaultPathEnv", opt_default_path_env, 0, NONE },
        { "WithDefaultSpec", opt_default_spec, REPLACES_SPEC, NONE },
        { "WithDefaultSpecForPlatform", opt_default_spec_for_platform, REPLACES_SPEC, ARGS(1, 1, ARG_STRING) },
        { "WithDefaultUnixDevices", opt_default_unix_devices, 0, NONE },
        { "WithDevShmSize", opt_dev_shm_size, 0, ARGS(1, 1, ARG_I64) },
        { "WithDevices", opt_devices, HOST_FILES, ARGS(3, 3, ARG_HOST_PATH, ARG_STRING, ARG_PERMS) },
        { "WithDomainname", opt_domainname, 0, ARGS(1, 1, ARG_STRING) },
        { "WithDroppedCapabilities", opt_dropped_capabilities, 0, VARIADIC(0, ARG_STRING) },
        { "WithEnv", opt_env, 0, VARIADIC(0, ARG_ENV) },
        { "WithEnvFile", opt_env_file, HOST_FILES, ARGS(1, 1, ARG_HOST_PATH) },
        { "WithHostDevices", opt_host_devices, 0, NONE },
        { "WithHostHostsFile", opt_host_hosts_file, 0, NONE },
        { "WithHostLocaltime", opt_host_localtime, 0, NONE },
        { "WithHostNamespace", opt_host_namespace, 0, ARGS(1, 1, ARG_STRING) },
        { "WithHostResolvconf", opt_host_resolvconf, 0, NONE },
        { "WithHostname", opt_hostname, 0, ARGS(1, 1, ARG_STRING) },
        { "WithImageConfig", opt_image_config, IMAGE | HOST_FILES, ARGS(1, 1, ARG_IMAGE_REF) },
        { "WithImageConfigArgs", opt_image_config_args, IMAGE | HOST_FILES, VARIADIC(1, ARG_IMAGE_REF, ARG_STRING) },
        { "WithLinuxDevice", opt_linux_device, HOST_FILES, ARGS(2, 2, ARG_HOST_PATH, ARG_PERMS) },
        { "WithLinuxDeviceFollowSymlinks", opt_linux_device_follow_symlinks, HOST_FILES, ARGS(2, 2, ARG_HOST_PATH, ARG_PERMS) },
        { "WithLinuxDevices", opt_linux_devices, 0, ARGS(1, 1, ARG_JSON_DEVICES) },
        { "WithLinuxNamespace", opt_linux_namespace, 0, ARGS(1, 2, ARG_STRING, ARG_STRING) },
        { "WithMaskedPaths", opt_masked_paths, 0, VARIADIC(0, ARG_STRING) },
        { "WithMemoryLimit", opt_memory_limit, 0, ARGS(1, 1, ARG_U64) },
        { "WithMemorySwap", opt_memory_swap, 0, ARGS(1, 1, ARG_I64) },
        { "WithMounts", opt_mounts, 0, ARGS(1, 1, ARG_JSON_MOUNTS) },
        { "WithNamespacedCgroup", opt_namespaced_cgroup, 0, NONE },
        { "WithNewPrivileges", opt_new_privileges, 0, NONE },
        { "WithNoNewPrivileges", opt_no_new_privileges, 0, NONE },
        { "WithParentCgroupDevices", opt_parent_cgroup_devices, 0, NONE },
        { "WithPidsLimit", opt_pids_limit, 0, ARGS(1, 1, ARG_I64) },
        { "WithPrivileged", opt_privileged, 0, NONE },
        { "WithProcessArgs", opt_process_args, 0, VARIADIC(0, ARG_STRING) },
        { "WithProcessCwd", opt_process_cwd, 0, ARGS(1, 1, ARG_STRING) },
        { "WithRdt", opt_rdt, 0, ARGS(3, 3, ARG_STRING, ARG_STRING, ARG_STRING) },
        { "WithReadonlyPaths", opt_readonly_paths, 0, VARIADIC(0, ARG_STRING) },
        { "WithRootFSPath", opt_rootfs_path, ROOT_PATH, ARGS(1, 1, ARG_STRING) },
        { "WithRootFSReadonly", opt_rootfs_readonly, 0, NONE },
        { "WithSeccompUnconfined", opt_seccomp_unconfined, 0, NONE },
        { "WithSelinuxLabel", opt_selinux_label, 0, ARGS(1, 1, ARG_STRING) },
        { "WithSpecFromBytes", opt_spec_from_bytes, REPLACES_SPEC | ROOT_PATH, ARGS(1, 1, ARG_JSON_SPEC) },
        { "WithSpecFromFile", opt_spec_from_file, REPLACES_SPEC | HOST_FILES, ARGS(1, 1, ARG_HOST_PATH) },
        { "WithTTY", opt_tty, 0, NONE },
        { "WithTTYSize", opt_tty_size, 0, ARGS(2, 2, ARG_I64, ARG_I64) },
        { "WithUIDGID", opt_uid_gid, 0, ARGS(2, 2, ARG_U32, ARG_U32) },
        { "WithUser", opt_user, 0, ARGS(1, 1, ARG_STRING) },
        { "WithUserID", opt_user_id, 0, ARGS(1, 1, ARG_U32) },
        { "WithUserNamespace", opt_user_namespace, 0, ARGS(2, 2, ARG_JSON_IDMAPS, ARG_JSON_IDMAPS) },
        { "WithUsername", opt_username, 0, ARGS(1, 1, ARG_STRING) },
        { "WithWindowNetworksAllowUnqualifiedDNSQuery", opt_windows_allow_unqualified_dns_query, 0, NONE },
        { "WithWindowsCPUCount", opt_windows_cpu_count, 0, ARGS(1, 1, ARG_U64) },
        { "WithWindowsCPUMaximum", opt_windows_cpu_maximum, 0, ARGS(1, 1, ARG_U16) },
        { "WithWindowsCPUShares", opt_windows_cpu_shares, 0, ARGS(1, 1, ARG_U16) },
        { "WithWindowsDevice", opt_windows_device, 0, ARGS(2, 2, ARG_STRING, ARG_STRING) },
        { "WithWindowsHyperV", opt_windows_hyperv, 0, NONE },
        { "WithWindowsIgnoreFlushesDuringBoot", opt_windows_ignore_flushes_during_boot, 0, NONE },
        { "WithWindowsNetworkNamespace", opt_windows_network_namespace, 0, ARGS(1, 1, ARG_STRING) },
        { "WithWriteableCgroupfs", opt_writeable_cgroupfs, 0, NONE },
        { "WithWriteableSysfs", opt_writeable_sysfs, 0, NONE },
        { "WithoutMounts", opt_without_mounts, 0, VARIADIC(0, ARG_STRING) },
        { "WithoutRunMount", opt_without_run_mount, 0, NONE },
};

const struct option *option_find(const char *name, size_t len)
{
        size_t lo = 0, hi = ARRAY_SIZE(options);
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                const char *n = options[mid].name;
                int c = strncmp(n, name, len);
                if (c == 0)
                        c = n[len] ? 1 : 0;
                if (c == 0)
                        return &options[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const struct option *option_list(size_t *ret_n)
{
        *ret_n = ARRAY_SIZE(options);
        return options;
}

bool optline_has_flags(const struct optline *l, unsigned flags)
{
        return (l->opt->flags & flags) == flags;
}

bool optline_uses_host_paths(const struct optline *l)
{
        unsigned flags = l->opt->flags;
        if (flags & OPTION_READS_HOST_FILES)
                return true;
        if (!(flags & OPTION_SETS_ROOT_PATH) || l->nargs == 0)
                return false;
        /* The root path is the string argument, or root.path of a whole spec. */
        const char *root = l->args[0].str;
        if (l->opt->args[0] == ARG_JSON_SPEC) {
                const struct spec *s = l->args[0].value;
                root = s && s->root ? s->root->path : NULL;
        }
        return root && root[0] == '/';
}
