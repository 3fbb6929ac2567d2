/* Descriptors of the runtime-spec structs: JSON keys, order and omitempty
 * exactly as in runtime-spec v1.1.0-rc.1's specs-go/config.go. */
#include "spec.h"

#include "model_macros.h"

_Static_assert(offsetof(struct str_entry, value) == MAP_VALUE_OFFSET, "map value offset");
_Static_assert(offsetof(struct rdma_entry, value) == MAP_VALUE_OFFSET, "map value offset");

static NAMED_STRING(type_ns_type, "specs.LinuxNamespaceType");
static NAMED_STRING(type_seccomp_action, "specs.LinuxSeccompAction");
static NAMED_STRING(type_seccomp_operator, "specs.LinuxSeccompOperator");
static NAMED_STRING(type_arch, "specs.Arch");
static NAMED_STRING(type_seccomp_flag, "specs.LinuxSeccompFlag");
static NAMED_STRING(type_personality_domain, "specs.LinuxPersonalityDomain");
static NAMED_STRING(type_personality_flag, "specs.LinuxPersonalityFlag");

static SLICE_TYPE(type_str_slice, "[]string", type_string);
static SLICE_TYPE(type_u32_slice, "[]uint32", type_u32);
MAP_TYPE(type_str_map, "map[string]string", type_string, struct str_entry);

static PTR_TYPE(type_ptr_u32, "*uint32", type_u32);
static PTR_TYPE(type_ptr_u64, "*uint64", type_u64);
static PTR_TYPE(type_ptr_u16, "*uint16", type_u16);
static PTR_TYPE(type_ptr_i64, "*int64", type_i64);
static PTR_TYPE(type_ptr_int, "*int", type_int);
static PTR_TYPE(type_ptr_uint, "*uint", type_uint);
static PTR_TYPE(type_ptr_bool, "*bool", type_bool);
static PTR_TYPE(type_ptr_filemode, "*fs.FileMode", type_filemode);

/* process */
static const struct field box_fields[] = {
        FIELD(struct spec_box, height, "height", type_uint),
        FIELD(struct spec_box, width, "width", type_uint),
};
static STRUCT_TYPE(type_box, "specs.Box", struct spec_box, box_fields);
static PTR_TYPE(type_ptr_box, "*specs.Box", type_box);

static const struct field user_fields[] = {
        FIELD(struct spec_user, uid, "uid", type_u32),
        FIELD(struct spec_user, gid, "gid", type_u32),
        FIELD_OMIT(struct spec_user, umask, "umask", type_ptr_u32),
        FIELD_OMIT(struct spec_user, additional_gids, "additionalGids", type_u32_slice),
        FIELD_OMIT(struct spec_user, username, "username", type_string),
};
static STRUCT_TYPE(type_user, "specs.User", struct spec_user, user_fields);

static const struct field caps_fields[] = {
        FIELD_OMIT(struct spec_caps, bounding, "bounding", type_str_slice),
        FIELD_OMIT(struct spec_caps, effective, "effective", type_str_slice),
        FIELD_OMIT(struct spec_caps, inheritable, "inheritable", type_str_slice),
        FIELD_OMIT(struct spec_caps, permitted, "permitted", type_str_slice),
        FIELD_OMIT(struct spec_caps, ambient, "ambient", type_str_slice),
};
static STRUCT_TYPE(type_caps, "specs.LinuxCapabilities", struct spec_caps, caps_fields);
static PTR_TYPE(type_ptr_caps, "*specs.LinuxCapabilities", type_caps);

static const struct field rlimit_fields[] = {
        FIELD(struct spec_rlimit, type, "type", type_string),
        FIELD(struct spec_rlimit, hard, "hard", type_u64),
        FIELD(struct spec_rlimit, soft, "soft", type_u64),
};
static STRUCT_TYPE(type_rlimit, "specs.POSIXRlimit", struct spec_rlimit, rlimit_fields);
static SLICE_TYPE(type_rlimit_slice, "[]specs.POSIXRlimit", type_rlimit);

static const struct field process_fields[] = {
        FIELD_OMIT(struct spec_process, terminal, "terminal", type_bool),
        FIELD_OMIT(struct spec_process, console_size, "consoleSize", type_ptr_box),
        FIELD(struct spec_process, user, "user", type_user),
        FIELD_OMIT(struct spec_process, args, "args", type_str_slice),
        FIELD_OMIT(struct spec_process, command_line, "commandLine", type_string),
        FIELD_OMIT(struct spec_process, env, "env", type_str_slice),
        FIELD(struct spec_process, cwd, "cwd", type_string),
        FIELD_OMIT(struct spec_process, capabilities, "capabilities", type_ptr_caps),
        FIELD_OMIT(struct spec_process, rlimits, "rlimits", type_rlimit_slice),
        FIELD_OMIT(struct spec_process, no_new_privileges, "noNewPrivileges", type_bool),
        FIELD_OMIT(struct spec_process, apparmor_profile, "apparmorProfile", type_string),
        FIELD_OMIT(struct spec_process, oom_score_adj, "oomScoreAdj", type_ptr_int),
        FIELD_OMIT(struct spec_process, selinux_label, "selinuxLabel", type_string),
};
static STRUCT_TYPE(type_process, "specs.Process", struct spec_process, process_fields);
static PTR_TYPE(type_ptr_process, "*specs.Process", type_process);

/* root, mounts, hooks */
static const struct field root_fields[] = {
        FIELD(struct spec_root, path, "path", type_string),
        FIELD_OMIT(struct spec_root, readonly, "readonly", type_bool),
};
static STRUCT_TYPE(type_root, "specs.Root", struct spec_root, root_fields);
static PTR_TYPE(type_ptr_root, "*specs.Root", type_root);

static const struct field idmap_fields[] = {
        FIELD(struct spec_idmap, container_id, "containerID", type_u32),
        FIELD(struct spec_idmap, host_id, "hostID", type_u32),
        FIELD(struct spec_idmap, size, "size", type_u32),
};
static STRUCT_TYPE(type_idmap, "specs.LinuxIDMapping", struct spec_idmap, idmap_fields);
SLICE_TYPE(type_idmap_slice, "[]specs.LinuxIDMapping", type_idmap);

static const struct field mount_fields[] = {
        FIELD(struct spec_mount, destination, "destination", type_string),
        FIELD_OMIT(struct spec_mount, type, "type", type_string),
        FIELD_OMIT(struct spec_mount, source, "source", type_string),
        FIELD_OMIT(struct spec_mount, options, "options", type_str_slice),
        FIELD_OMIT(struct spec_mount, uid_mappings, "uidMappings", type_idmap_slice),
        FIELD_OMIT(struct spec_mount, gid_mappings, "gidMappings", type_idmap_slice),
};
STRUCT_TYPE(type_mount, "specs.Mount", struct spec_mount, mount_fields);
SLICE_TYPE(type_mount_slice, "[]specs.Mount", type_mount);

static const struct field hook_fields[] = {
        FIELD(struct spec_hook, path, "path", type_string),
        FIELD_OMIT(struct spec_hook, args, "args", type_str_slice),
        FIELD_OMIT(struct spec_hook, env, "env", type_str_slice),
        FIELD_OMIT(struct spec_hook, timeout, "timeout", type_ptr_int),
};
static STRUCT_TYPE(type_hook, "specs.Hook", struct spec_hook, hook_fields);
static SLICE_TYPE(type_hook_slice, "[]specs.Hook", type_hook);

static const struct field hooks_fields[] = {
        FIELD_OMIT(struct spec_hooks, prestart, "prestart", type_hook_slice),
        FIELD_OMIT(struct spec_hooks, create_runtime, "createRuntime", type_hook_slice),
        FIELD_OMIT(struct spec_hooks, create_container, "createContainer", type_hook_slice),
        FIELD_OMIT(struct spec_hooks, start_container, "startContainer", type_hook_slice),
        FIELD_OMIT(struct spec_hooks, poststart, "poststart", type_hook_slice),
        FIELD_OMIT(struct spec_hooks, poststop, "poststop", type_hook_slice),
};
static STRUCT_TYPE(type_hooks, "specs.Hooks", struct spec_hooks, hooks_fields);
static PTR_TYPE(type_ptr_hooks, "*specs.Hooks", type_hooks);

/* linux */
static const struct field namespace_fields[] = {
        FIELD(struct spec_namespace, type, "type", type_ns_type),
        FIELD_OMIT(struct spec_namespace, path, "path", type_string),
};
static STRUCT_TYPE(type_namespace, "specs.LinuxNamespace", struct spec_namespace, namespace_fields);
static SLICE_TYPE(type_namespace_slice, "[]specs.LinuxNamespace", type_namespace);

static const struct field device_cgroup_fields[] = {
        FIELD(struct spec_device_cgroup, allow, "allow", type_bool),
        FIELD_OMIT(struct spec_device_cgroup, type, "type", type_string),
        FIELD_OMIT(struct spec_device_cgroup, major, "major", type_ptr_i64),
        FIELD_OMIT(struct spec_device_cgroup, minor, "minor", type_ptr_i64),
        FIELD_OMIT(struct spec_device_cgroup, access, "access", type_string),
};
static STRUCT_TYPE(type_device_cgroup, "specs.LinuxDeviceCgroup", struct spec_device_cgroup, device_cgroup_fields);
static SLICE_TYPE(type_device_cgroup_slice, "[]specs.LinuxDeviceCgroup", type_device_cgroup);

static const struct field memory_fields[] = {
        FIELD_OMIT(struct spec_memory, limit, "limit", type_ptr_i64),
        FIELD_OMIT(struct spec_memory, reservation, "reservation", type_ptr_i64),
        FIELD_OMIT(struct spec_memory, swap, "swap", type_ptr_i64),
        FIELD_OMIT(struct spec_memory, kernel, "kernel", type_ptr_i64),
        FIELD_OMIT(struct spec_memory, kernel_tcp, "kernelTCP", type_ptr_i64),
        FIELD_OMIT(struct spec_memory, swappiness, "swappiness", type_ptr_u64),
        FIELD_OMIT(struct spec_memory, disable_oom_killer, "disableOOMKiller", type_ptr_bool),
        FIELD_OMIT(struct spec_memory, use_hierarchy, "useHierarchy", type_ptr_bool),
        FIELD_OMIT(struct spec_memory, check_before_update, "checkBeforeUpdate", type_ptr_bool),
};
static STRUCT_TYPE(type_memory, "specs.LinuxMemory", struct spec_memory, memory_fields);
static PTR_TYPE(type_ptr_memory, "*specs.LinuxMemory", type_memory);

static const struct field cpu_fields[] = {
        FIELD_OMIT(struct spec_cpu, shares, "shares", type_ptr_u64),
        FIELD_OMIT(struct spec_cpu, quota, "quota", type_ptr_i64),
        FIELD_OMIT(struct spec_cpu, burst, "burst", type_ptr_u64),
        FIELD_OMIT(struct spec_cpu, period, "period", type_ptr_u64),
        FIELD_OMIT(struct spec_cpu, realtime_runtime, "realtimeRuntime", type_ptr_i64),
        FIELD_OMIT(struct spec_cpu, realtime_period, "realtimePeriod", type_ptr_u64),
        FIELD_OMIT(struct spec_cpu, cpus, "cpus", type_string),
        FIELD_OMIT(struct spec_cpu, mems, "mems", type_string),
        FIELD_OMIT(struct spec_cpu, idle, "idle", type_ptr_i64),
};
static STRUCT_TYPE(type_cpu, "specs.LinuxCPU", struct spec_cpu, cpu_fields);
static PTR_TYPE(type_ptr_cpu, "*specs.LinuxCPU", type_cpu);

static const struct field pids_fields[] = {
        FIELD(struct spec_pids, limit, "limit", type_i64),
};
static STRUCT_TYPE(type_pids, "specs.LinuxPids", struct spec_pids, pids_fields);
static PTR_TYPE(type_ptr_pids, "*specs.LinuxPids", type_pids);

/* LinuxWeightDevice and LinuxThrottleDevice embed LinuxBlockIODevice: its
 * fields come first, flattened, as Go encodes embedded structs. */
static const struct field weight_device_fields[] = {
        FIELD(struct spec_weight_device, major, "major", type_i64),
        FIELD(struct spec_weight_device, minor, "minor", type_i64),
        FIELD_OMIT(struct spec_weight_device, weight, "weight", type_ptr_u16),
        FIELD_OMIT(struct spec_weight_device, leaf_weight, "leafWeight", type_ptr_u16),
};
static STRUCT_TYPE(type_weight_device, "specs.LinuxWeightDevice", struct spec_weight_device, weight_device_fields);
static SLICE_TYPE(type_weight_device_slice, "[]specs.LinuxWeightDevice", type_weight_device);

static const struct field throttle_device_fields[] = {
        FIELD(struct spec_throttle_device, major, "major", type_i64),
        FIELD(struct spec_throttle_device, minor, "minor", type_i64),
        FIELD(struct spec_throttle_device, rate, "rate", type_u64),
};
static STRUCT_TYPE(type_throttle_device, "specs.LinuxThrottleDevice", struct spec_throttle_device,
                   throttle_device_fields);
static SLICE_TYPE(type_throttle_device_slice, "[]specs.LinuxThrottleDevice", type_throttle_device);

static const struct field blockio_fields[] = {
        FIELD_OMIT(struct spec_blockio, weight, "weight", type_ptr_u16),
        FIELD_OMIT(struct spec_blockio, leaf_weight, "leafWeight", type_ptr_u16),
        FIELD_OMIT(struct spec_blockio, weight_device, "weightDevice", type_weight_device_slice),
        FIELD_OMIT(struct spec_blockio, throttle_read_bps_device, "throttleReadBpsDevice", type_throttle_device_slice),
        FIELD_OMIT(struct spec_blockio, throttle_write_bps_device, "throttleWriteBpsDevice", type_throttle_device_slice),
        FIELD_OMIT(struct spec_blockio, throttle_read_iops_device, "throttleReadIOPSDevice", type_throttle_device_slice),
        FIELD_OMIT(struct spec_blockio, throttle_write_iops_device, "throttleWriteIOPSDevice",
                   type_throttle_device_slice),
};
STRUCT_TYPE(type_blockio, "specs.LinuxBlockIO", struct spec_blockio, blockio_fields);
static PTR_TYPE(type_ptr_blockio, "*specs.LinuxBlockIO", type_blockio);

static const struct field hugepage_fields[] = {
        FIELD(struct spec_hugepage_limit, pagesize, "pageSize", type_string),
        FIELD(struct spec_hugepage_limit, limit, "limit", type_u64),
};
static STRUCT_TYPE(type_hugepage, "specs.LinuxHugepageLimit", struct spec_hugepage_limit, hugepage_fields);
static SLICE_TYPE(type_hugepage_slice, "[]specs.LinuxHugepageLimit", type_hugepage);

static const struct field priority_fields[] = {
        FIELD(struct spec_interface_priority, name, "name", type_string),
        FIELD(struct spec_interface_priority, priority, "priority", type_u32),
};
static STRUCT_TYPE(type_priority, "specs.LinuxInterfacePriority", struct spec_interface_priority, priority_fields);
static SLICE_TYPE(type_priority_slice, "[]specs.LinuxInterfacePriority", type_priority);

static const struct field network_fields[] = {
        FIELD_OMIT(struct spec_network, class_id, "classID", type_ptr_u32),
        FIELD_OMIT(struct spec_network, priorities, "priorities", type_priority_slice),
};
static STRUCT_TYPE(type_network, "specs.LinuxNetwork", struct spec_network, network_fields);
static PTR_TYPE(type_ptr_network, "*specs.LinuxNetwork", type_network);

static const struct field rdma_fields[] = {
        FIELD_OMIT(struct spec_rdma, hca_handles, "hcaHandles", type_ptr_u32),
        FIELD_OMIT(struct spec_rdma, hca_objects, "hcaObjects", type_ptr_u32),
};
static STRUCT_TYPE(type_rdma, "specs.LinuxRdma", struct spec_rdma, rdma_fields);
static MAP_TYPE(type_rdma_map, "map[string]specs.LinuxRdma", type_rdma, struct rdma_entry);

static const struct field resources_fields[] = {
        FIELD_OMIT(struct spec_resources, devices, "devices", type_device_cgroup_slice),
        FIELD_OMIT(struct spec_resources, memory, "memory", type_ptr_memory),
        FIELD_OMIT(struct spec_resources, cpu, "cpu", type_ptr_cpu),
        FIELD_OMIT(struct spec_resources, pids, "pids", type_ptr_pids),
        FIELD_OMIT(struct spec_resources, blockio, "blockIO", type_ptr_blockio),
        FIELD_OMIT(struct spec_resources, hugepage_limits, "hugepageLimits", type_hugepage_slice),
        FIELD_OMIT(struct spec_resources, network, "network", type_ptr_network),
        FIELD_OMIT(struct spec_resources, rdma, "rdma", type_rdma_map),
        FIELD_OMIT(struct spec_resources, unified, "unified", type_str_map),
};
static STRUCT_TYPE(type_resources, "specs.LinuxResources", struct spec_resources, resources_fields);
static PTR_TYPE(type_ptr_resources, "*specs.LinuxResources", type_resources);

static const struct field device_fields[] = {
        FIELD(struct spec_device, path, "path", type_string),
        FIELD(struct spec_device, type, "type", type_string),
        FIELD(struct spec_device, major, "major", type_i64),
        FIELD(struct spec_device, minor, "minor", type_i64),
        FIELD_OMIT(struct spec_device, file_mode, "fileMode", type_ptr_filemode),
        FIELD_OMIT(struct spec_device, uid, "uid", type_ptr_u32),
        FIELD_OMIT(struct spec_device, gid, "gid", type_ptr_u32),
};
static STRUCT_TYPE(type_device, "specs.LinuxDevice", struct spec_device, device_fields);
SLICE_TYPE(type_device_slice, "[]specs.LinuxDevice", type_device);

static const struct field seccomp_arg_fields[] = {
        FIELD(struct spec_seccomp_arg, index, "index", type_uint),
        FIELD(struct spec_seccomp_arg, value, "value", type_u64),
        FIELD_OMIT(struct spec_seccomp_arg, value_two, "valueTwo", type_u64),
        FIELD(struct spec_seccomp_arg, op, "op", type_seccomp_operator),
};
static STRUCT_TYPE(type_seccomp_arg, "specs.LinuxSeccompArg", struct spec_seccomp_arg, seccomp_arg_fields);
static SLICE_TYPE(type_seccomp_arg_slice, "[]specs.LinuxSeccompArg", type_seccomp_arg);

static SLICE_TYPE(type_arch_slice, "[]specs.Arch", type_arch);
static SLICE_TYPE(type_seccomp_flag_slice, "[]specs.LinuxSeccompFlag", type_seccomp_flag);

static const struct field syscall_fields[] = {
        FIELD(struct spec_syscall, names, "names", type_str_slice),
        FIELD(struct spec_syscall, action, "action", type_seccomp_action),
        FIELD_OMIT(struct spec_syscall, errno_ret, "errnoRet", type_ptr_uint),
        FIELD_OMIT(struct spec_syscall, args, "args", type_seccomp_arg_slice),
};
static STRUCT_TYPE(type_syscall, "specs.LinuxSyscall", struct spec_syscall, syscall_fields);
static SLICE_TYPE(type_syscall_slice, "[]specs.LinuxSyscall", type_syscall);

static const struct field seccomp_fields[] = {
        FIELD(struct spec_seccomp, default_action, "defaultAction", type_seccomp_action),
        FIELD_OMIT(struct spec_seccomp, default_errno_ret, "defaultErrnoRet", type_ptr_uint),
        FIELD_OMIT(struct spec_seccomp, architectures, "architectures", type_arch_slice),
        FIELD_OMIT(struct spec_seccomp, flags, "flags", type_seccomp_flag_slice),
        FIELD_OMIT(struct spec_seccomp, listener_path, "listenerPath", type_string),
        FIELD_OMIT(struct spec_seccomp, listener_metadata, "listenerMetadata", type_string),
        FIELD_OMIT(struct spec_seccomp, syscalls, "syscalls", type_syscall_slice),
};
static STRUCT_TYPE(type_seccomp, "specs.LinuxSeccomp", struct spec_seccomp, seccomp_fields);
static PTR_TYPE(type_ptr_seccomp, "*specs.LinuxSeccomp", type_seccomp);

static const struct field intel_rdt_fields[] = {
        FIELD_OMIT(struct spec_intel_rdt, clos_id, "closID", type_string),
        FIELD_OMIT(struct spec_intel_rdt, l3_cache_schema, "l3CacheSchema", type_string),
        FIELD_OMIT(struct spec_intel_rdt, mem_bw_schema, "memBwSchema", type_string),
        FIELD_OMIT(struct spec_intel_rdt, enable_cmt, "enableCMT", type_bool),
        FIELD_OMIT(struct spec_intel_rdt, enable_mbm, "enableMBM", type_bool),
};
static STRUCT_TYPE(type_intel_rdt, "specs.LinuxIntelRdt", struct spec_intel_rdt, intel_rdt_fields);
static PTR_TYPE(type_ptr_intel_rdt, "*specs.LinuxIntelRdt", type_intel_rdt);

static SLICE_TYPE(type_personality_flag_slice, "[]specs.LinuxPersonalityFlag", type_personality_flag);
static const struct field personality_fields[] = {
        FIELD(struct spec_personality, domain, "domain", type_personality_domain),
        FIELD_OMIT(struct spec_personality, flags, "flags", type_personality_flag_slice),
};
static STRUCT_TYPE(type_personality, "specs.LinuxPersonality", struct spec_personality, personality_fields);
static PTR_TYPE(type_ptr_personality, "*specs.LinuxPersonality", type_personality);

static const struct field linux_fields[] = {
        FIELD_OMIT(struct spec_linux, uid_mappings, "uidMappings", type_idmap_slice),
        FIELD_OMIT(struct spec_linux, gid_mappings, "gidMappings", type_idmap_slice),
        FIELD_OMIT(struct spec_linux, sysctl, "sysctl", type_str_map),
        FIELD_OMIT(struct spec_linux, resources, "resources", type_ptr_resources),
        FIELD_OMIT(struct spec_linux, cgroups_path, "cgroupsPath", type_string),
        FIELD_OMIT(struct spec_linux, namespaces, "namespaces", type_namespace_slice),
        FIELD_OMIT(struct spec_linux, devices, "devices", type_device_slice),
        FIELD_OMIT(struct spec_linux, seccomp, "seccomp", type_ptr_seccomp),
        FIELD_OMIT(struct spec_linux, rootfs_propagation, "rootfsPropagation", type_string),
        FIELD_OMIT(struct spec_linux, masked_paths, "maskedPaths", type_str_slice),
        FIELD_OMIT(struct spec_linux, readonly_paths, "readonlyPaths", type_str_slice),
        FIELD_OMIT(struct spec_linux, mount_label, "mountLabel", type_string),
        FIELD_OMIT(struct spec_linux, intel_rdt, "intelRdt", type_ptr_intel_rdt),
        FIELD_OMIT(struct spec_linux, personality, "personality", type_ptr_personality),
};
static STRUCT_TYPE(type_linux, "specs.Linux", struct spec_linux, linux_fields);
static PTR_TYPE(type_ptr_linux, "*specs.Linux", type_linux);

/* solaris */
static const struct field anet_fields[] = {
        FIELD_OMIT(struct spec_solaris_anet, linkname, "linkname", type_string),
        FIELD_OMIT(struct spec_solaris_anet, lowerlink, "lowerLink", type_string),
        FIELD_OMIT(struct spec_solaris_anet, allowedaddr, "allowedAddress", type_string),
        FIELD_OMIT(struct spec_solaris_anet, configallowedaddr, "configureAllowedAddress", type_string),
        FIELD_OMIT(struct spec_solaris_anet, defrouter, "defrouter", type_string),
        FIELD_OMIT(struct spec_solaris_anet, linkprotection, "linkProtection", type_string),
        FIELD_OMIT(struct spec_solaris_anet, macaddress, "macAddress", type_string),
};
static STRUCT_TYPE(type_anet, "specs.SolarisAnet", struct spec_solaris_anet, anet_fields);
static SLICE_TYPE(type_anet_slice, "[]specs.SolarisAnet", type_anet);

static const struct field capped_cpu_fields[] = {
        FIELD_OMIT(struct spec_solaris_capped_cpu, ncpus, "ncpus", type_string),
};
static STRUCT_TYPE(type_capped_cpu, "specs.SolarisCappedCPU", struct spec_solaris_capped_cpu, capped_cpu_fields);
static PTR_TYPE(type_ptr_capped_cpu, "*specs.SolarisCappedCPU", type_capped_cpu);

static const struct field capped_memory_fields[] = {
        FIELD_OMIT(struct spec_solaris_capped_memory, physical, "physical", type_string),
        FIELD_OMIT(struct spec_solaris_capped_memory, swap, "swap", type_string),
};
static STRUCT_TYPE(type_capped_memory, "specs.SolarisCappedMemory", struct spec_solaris_capped_memory,
                   capped_memory_fields);
static PTR_TYPE(type_ptr_capped_memory, "*specs.SolarisCappedMemory", type_capped_memory);

static const struct field solaris_fields[] = {
        FIELD_OMIT(struct spec_solaris, milestone, "milestone", type_string),
        FIELD_OMIT(struct spec_solaris, limitpriv, "limitpriv", type_string),
        FIELD_OMIT(struct spec_solaris, max_shm_memory, "maxShmMemory", type_string),
        FIELD_OMIT(struct spec_solaris, anet, "anet", type_anet_slice),
        FIELD_OMIT(struct spec_solaris, capped_cpu, "cappedCPU", type_ptr_capped_cpu),
        FIELD_OMIT(struct spec_solaris, capped_memory, "cappedMemory", type_ptr_capped_memory),
};
static STRUCT_TYPE(type_solaris, "specs.Solaris", struct spec_solaris, solaris_fields);
static PTR_TYPE(type_ptr_solaris, "*specs.Solaris", type_solaris);

/* windows */
static const struct field windows_device_fields[] = {
        FIELD(struct spec_windows_device, id, "id", type_string),
        FIELD(struct spec_windows_device, id_type, "idType", type_string),
};
static STRUCT_TYPE(type_windows_device, "specs.WindowsDevice", struct spec_windows_device, windows_device_fields);
static SLICE_TYPE(type_windows_device_slice, "[]specs.WindowsDevice", type_windows_device);

static const struct field windows_memory_fields[] = {
        FIELD_OMIT(struct spec_windows_memory, limit, "limit", type_ptr_u64),
};
static STRUCT_TYPE(type_windows_memory, "specs.WindowsMemoryResources", struct spec_windows_memory,
                   windows_memory_fields);
static PTR_TYPE(type_ptr_windows_memory, "*specs.WindowsMemoryResources", type_windows_memory);

static const struct field windows_cpu_fields[] = {
        FIELD_OMIT(struct spec_windows_cpu, count, "count", type_ptr_u64),
        FIELD_OMIT(struct spec_windows_cpu, shares, "shares", type_ptr_u16),
        FIELD_OMIT(struct spec_windows_cpu, maximum, "maximum", type_ptr_u16),
};
static STRUCT_TYPE(type_windows_cpu, "specs.WindowsCPUResources", struct spec_windows_cpu, windows_cpu_fields);
static PTR_TYPE(type_ptr_windows_cpu, "*specs.WindowsCPUResources", type_windows_cpu);

static const struct field windows_storage_fields[] = {
        FIELD_OMIT(struct spec_windows_storage, iops, "iops", type_ptr_u64),
        FIELD_OMIT(struct spec_windows_storage, bps, "bps", type_ptr_u64),
        FIELD_OMIT(struct spec_windows_storage, sandbox_size, "sandboxSize", type_ptr_u64),
};
static STRUCT_TYPE(type_windows_storage, "specs.WindowsStorageResources", struct spec_windows_storage,
                   windows_storage_fields);
static PTR_TYPE(type_ptr_windows_storage, "*specs.WindowsStorageResources", type_windows_storage);

static const struct field windows_resources_fields[] = {
        FIELD_OMIT(struct spec_windows_resources, memory, "memory", type_ptr_windows_memory),
        FIELD_OMIT(struct spec_windows_resources, cpu, "cpu", type_ptr_windows_cpu),
        FIELD_OMIT(struct spec_windows_resources, storage, "storage", type_ptr_windows_storage),
};
static STRUCT_TYPE(type_windows_resources, "specs.WindowsResources", struct spec_windows_resources,
                   windows_resources_fields);
static PTR_TYPE(type_ptr_windows_resources, "*specs.WindowsResources", type_windows_resources);

static const struct field windows_network_fields[] = {
        FIELD_OMIT(struct spec_windows_network, endpoint_list, "endpointList", type_str_slice),
        FIELD_OMIT(struct spec_windows_network, allow_unqualified_dns_query, "allowUnqualifiedDNSQuery", type_bool),
        FIELD_OMIT(struct spec_windows_network, dns_search_list, "DNSSearchList", type_str_slice),
        FIELD_OMIT(struct spec_windows_network, network_shared_container_name, "networkSharedContainerName",
                   type_string),
        FIELD_OMIT(struct spec_windows_network, network_namespace, "networkNamespace", type_string),
};
static STRUCT_TYPE(type_windows_network, "specs.WindowsNetwork", struct spec_windows_network, windows_network_fields);
static PTR_TYPE(type_ptr_windows_network, "*specs.WindowsNetwork", type_windows_network);

static const struct field hyperv_fields[] = {
        FIELD_OMIT(struct spec_windows_hyperv, utility_vm_path, "utilityVMPath", type_string),
};
static STRUCT_TYPE(type_hyperv, "specs.WindowsHyperV", struct spec_windows_hyperv, hyperv_fields);
static PTR_TYPE(type_ptr_hyperv, "*specs.WindowsHyperV", type_hyperv);

static const struct field windows_fields[] = {
        FIELD(struct spec_windows, layer_folders, "layerFolders", type_str_slice),
        FIELD_OMIT(struct spec_windows, devices, "devices", type_windows_device_slice),
        FIELD_OMIT(struct spec_windows, resources, "resources", type_ptr_windows_resources),
        FIELD_OMIT(struct spec_windows, credential_spec, "credentialSpec", type_any),
        FIELD_OMIT(struct spec_windows, servicing, "servicing", type_bool),
        FIELD_OMIT(struct spec_windows, ignore_flushes_during_boot, "ignoreFlushesDuringBoot", type_bool),
        FIELD_OMIT(struct spec_windows, hyperv, "hyperv", type_ptr_hyperv),
        FIELD_OMIT(struct spec_windows, network, "network", type_ptr_windows_network),
};
static STRUCT_TYPE(type_windows, "specs.Windows", struct spec_windows, windows_fields);
static PTR_TYPE(type_ptr_windows, "*specs.Windows", type_windows);

/* vm: its struct-valued fields are never omitted, omitempty or not */
static const struct field vm_hypervisor_fields[] = {
        FIELD(struct spec_vm_hypervisor, path, "path", type_string),
        FIELD_OMIT(struct spec_vm_hypervisor, parameters, "parameters", type_str_slice),
};
static STRUCT_TYPE(type_vm_hypervisor, "specs.VMHypervisor", struct spec_vm_hypervisor, vm_hypervisor_fields);

static const struct field vm_kernel_fields[] = {
        FIELD(struct spec_vm_kernel, path, "path", type_string),
        FIELD_OMIT(struct spec_vm_kernel, parameters, "parameters", type_str_slice),
        FIELD_OMIT(struct spec_vm_kernel, initrd, "initrd", type_string),
};
static STRUCT_TYPE(type_vm_kernel, "specs.VMKernel", struct spec_vm_kernel, vm_kernel_fields);

static const struct field vm_image_fields[] = {
        FIELD(struct spec_vm_image, path, "path", type_string),
        FIELD(struct spec_vm_image, format, "format", type_string),
};
static STRUCT_TYPE(type_vm_image, "specs.VMImage", struct spec_vm_image, vm_image_fields);

static const struct field vm_fields[] = {
        FIELD_OMIT(struct spec_vm, hypervisor, "hypervisor", type_vm_hypervisor),
        FIELD(struct spec_vm, kernel, "kernel", type_vm_kernel),
        FIELD_OMIT(struct spec_vm, image, "image", type_vm_image),
};
static STRUCT_TYPE(type_vm, "specs.VM", struct spec_vm, vm_fields);
static PTR_TYPE(type_ptr_vm, "*specs.VM", type_vm);

static const struct field zos_fields[] = {
        FIELD_OMIT(struct spec_zos, devices, "devices", type_device_slice),
};
static STRUCT_TYPE(type_zos, "specs.ZOS", struct spec_zos, zos_fields);
static PTR_TYPE(type_ptr_zos, "*specs.ZOS", type_zos);

static const struct field spec_fields[] = {
        FIELD(struct spec, oci_version, "ociVersion", type_string),
        FIELD_OMIT(struct spec, process, "process", type_ptr_process),
        FIELD_OMIT(struct spec, root, "root", type_ptr_root),
        FIELD_OMIT(struct spec, hostname, "hostname", type_string),
        FIELD_OMIT(struct spec, domainname, "domainname", type_string),
        FIELD_OMIT(struct spec, mounts, "mounts", type_mount_slice),
        FIELD_OMIT(struct spec, hooks, "hooks", type_ptr_hooks),
        FIELD_OMIT(struct spec, annotations, "annotations", type_str_map),
        FIELD_OMIT(struct spec, linux_, "linux", type_ptr_linux),
        FIELD_OMIT(struct spec, solaris, "solaris", type_ptr_solaris),
        FIELD_OMIT(struct spec, windows, "windows", type_ptr_windows),
        FIELD_OMIT(struct spec, vm, "vm", type_ptr_vm),
        FIELD_OMIT(struct spec, zos, "zos", type_ptr_zos),
};
STRUCT_TYPE(type_spec, "specs.Spec", struct spec, spec_fields);
