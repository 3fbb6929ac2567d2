/* Every option of containerd v1.7.7's oci package: its name, arguments and
 * where it is implemented. Keep this table sorted by name. */
#include "options.h"

#include <string.h>

#include "opt_common.h"
#include "util.h"

#define NONE 0, 0, { 0 }
#define ARGS(min, max, ...) min, max, { __VA_ARGS__ }
#define VARIADIC(min, ...) min, ARGS_VARIADIC, { __VA_ARGS__ }

static const struct option options[] = {
        { "WithAddedCapabilities", opt_added_capabilities, VARIADIC(0, ARG_STRING) },
        { "WithAdditionalGIDs", opt_additional_gids, ARGS(1, 1, ARG_STRING) },
        { "WithAllCurrentCapabilities", opt_all_current_capabilities, NONE },
        { "WithAllDevicesAllowed", opt_all_devices_allowed, NONE },
        { "WithAllKnownCapabilities", opt_all_known_capabilities, NONE },
        { "WithAmbientCapabilities", opt_ambient_capabilities, VARIADIC(0, ARG_STRING) },
        { "WithAnnotations", opt_annotations, VARIADIC(0, ARG_KEY_VALUE) },
        { "WithApparmorProfile", opt_apparmor_profile, ARGS(1, 1, ARG_STRING) },
        { "WithAppendAdditionalGroups", opt_append_additional_groups, VARIADIC(0, ARG_STRING) },
        { "WithBlockIO", opt_blockio, ARGS(1, 1, ARG_JSON_BLOCKIO) },
        { "WithCPUCFS", opt_cpu_cfs, ARGS(2, 2, ARG_I64, ARG_U64) },
        { "WithCPURT", opt_cpu_rt, ARGS(2, 2, ARG_I64, ARG_U64) },
        { "WithCPUShares", opt_cpu_shares, ARGS(1, 1, ARG_U64) },
        { "WithCPUs", opt_cpus, ARGS(1, 1, ARG_STRING) },
        { "WithCPUsMems", opt_cpus_mems, ARGS(1, 1, ARG_STRING) },
        { "WithCapabilities", opt_capabilities, VARIADIC(0, ARG_STRING) },
        { "WithCgroup", opt_cgroup, ARGS(1, 1, ARG_STRING) },
        { "WithDefaultPathEnv", opt_default_path_env, NONE },
        { "WithDefaultSpec", opt_default_spec, NONE },
        { "WithDefaultSpecForPlatform", opt_default_spec_for_platform, ARGS(1, 1, ARG_STRING) },
        { "WithDefaultUnixDevices", opt_default_unix_devices, NONE },
        { "WithDevShmSize", opt_dev_shm_size, ARGS(1, 1, ARG_I64) },
        { "WithDevices", opt_devices, ARGS(3, 3, ARG_HOST_PATH, ARG_STRING, ARG_PERMS) },
        { "WithDomainname", opt_domainname, ARGS(1, 1, ARG_STRING) },
        { "WithDroppedCapabilities", opt_dropped_capabilities, VARIADIC(0, ARG_STRING) },
        { "WithEnv", opt_env, VARIADIC(0, ARG_ENV) },
        { "WithEnvFile", opt_env_file, ARGS(1, 1, ARG_HOST_PATH) },
        { "WithHostDevices", opt_host_devices, NONE },
        { "WithHostHostsFile", opt_host_hosts_file, NONE },
        { "WithHostLocaltime", opt_host_localtime, NONE },
        { "WithHostNamespace", opt_host_namespace, ARGS(1, 1, ARG_STRING) },
        { "WithHostResolvconf", opt_host_resolvconf, NONE },
        { "WithHostname", opt_hostname, ARGS(1, 1, ARG_STRING) },
        { "WithImageConfig", opt_image_config, ARGS(1, 1, ARG_HOST_PATH) },
        { "WithImageConfigArgs", opt_image_config_args, VARIADIC(1, ARG_HOST_PATH, ARG_STRING) },
        { "WithLinuxDevice", opt_linux_device, ARGS(2, 2, ARG_HOST_PATH, ARG_PERMS) },
        { "WithLinuxDeviceFollowSymlinks", opt_linux_device_follow_symlinks, ARGS(2, 2, ARG_HOST_PATH, ARG_PERMS) },
        { "WithLinuxDevices", opt_linux_devices, ARGS(1, 1, ARG_JSON_DEVICES) },
        { "WithLinuxNamespace", opt_linux_namespace, ARGS(1, 2, ARG_STRING, ARG_STRING) },
        { "WithMaskedPaths", opt_masked_paths, VARIADIC(0, ARG_STRING) },
        { "WithMemoryLimit", opt_memory_limit, ARGS(1, 1, ARG_U64) },
        { "WithMemorySwap", opt_memory_swap, ARGS(1, 1, ARG_I64) },
        { "WithMounts", opt_mounts, ARGS(1, 1, ARG_JSON_MOUNTS) },
        { "WithNamespacedCgroup", opt_namespaced_cgroup, NONE },
        { "WithNewPrivileges", opt_new_privileges, NONE },
        { "WithNoNewPrivileges", opt_no_new_privileges, NONE },
        { "WithParentCgroupDevices", opt_parent_cgroup_devices, NONE },
        { "WithPidsLimit", opt_pids_limit, ARGS(1, 1, ARG_I64) },
        { "WithPrivileged", opt_privileged, NONE },
        { "WithProcessArgs", opt_process_args, VARIADIC(0, ARG_STRING) },
        { "WithProcessCwd", opt_process_cwd, ARGS(1, 1, ARG_STRING) },
        { "WithRdt", opt_rdt, ARGS(3, 3, ARG_STRING, ARG_STRING, ARG_STRING) },
        { "WithReadonlyPaths", opt_readonly_paths, VARIADIC(0, ARG_STRING) },
        { "WithRootFSPath", opt_rootfs_path, ARGS(1, 1, ARG_STRING) },
        { "WithRootFSReadonly", opt_rootfs_readonly, NONE },
        { "WithSeccompUnconfined", opt_seccomp_unconfined, NONE },
        { "WithSelinuxLabel", opt_selinux_label, ARGS(1, 1, ARG_STRING) },
        { "WithSpecFromBytes", opt_spec_from_bytes, ARGS(1, 1, ARG_JSON_SPEC) },
        { "WithSpecFromFile", opt_spec_from_file, ARGS(1, 1, ARG_HOST_PATH) },
        { "WithTTY", opt_tty, NONE },
        { "WithTTYSize", opt_tty_size, ARGS(2, 2, ARG_I64, ARG_I64) },
        { "WithUIDGID", opt_uid_gid, ARGS(2, 2, ARG_U32, ARG_U32) },
        { "WithUser", opt_user, ARGS(1, 1, ARG_STRING) },
        { "WithUserID", opt_user_id, ARGS(1, 1, ARG_U32) },
        { "WithUserNamespace", opt_user_namespace, ARGS(2, 2, ARG_JSON_IDMAPS, ARG_JSON_IDMAPS) },
        { "WithUsername", opt_username, ARGS(1, 1, ARG_STRING) },
        { "WithWindowNetworksAllowUnqualifiedDNSQuery", opt_windows_allow_unqualified_dns_query, NONE },
        { "WithWindowsCPUCount", opt_windows_cpu_count, ARGS(1, 1, ARG_U64) },
        { "WithWindowsCPUMaximum", opt_windows_cpu_maximum, ARGS(1, 1, ARG_U16) },
        { "WithWindowsCPUShares", opt_windows_cpu_shares, ARGS(1, 1, ARG_U16) },
        { "WithWindowsDevice", opt_windows_device, ARGS(2, 2, ARG_STRING, ARG_STRING) },
        { "WithWindowsHyperV", opt_windows_hyperv, NONE },
        { "WithWindowsIgnoreFlushesDuringBoot", opt_windows_ignore_flushes_during_boot, NONE },
        { "WithWindowsNetworkNamespace", opt_windows_network_namespace, ARGS(1, 1, ARG_STRING) },
        { "WithWriteableCgroupfs", opt_writeable_cgroupfs, NONE },
        { "WithWriteableSysfs", opt_writeable_sysfs, NONE },
        { "WithoutMounts", opt_without_mounts, VARIADIC(0, ARG_STRING) },
        { "WithoutRunMount", opt_without_run_mount, NONE },
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
