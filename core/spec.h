/* The OCI runtime spec v1.1.0-rc.1 (the version containerd v1.7.7 emits) as
 * C structs. Pointers are Go pointers (NULL = absent), slices keep Go's nil
 * versus empty, and every struct has a descriptor in spec_types.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

#define SPEC_VERSION "1.1.0-rc.1"

DEFINE_SLICE(str_slice, const char *);
DEFINE_SLICE(u32_slice, uint32_t);
/* map[string]string: entries sorted by key */
struct str_entry {
        const char *key;
        const char *value;
};
DEFINE_SLICE(str_map, struct str_entry);

struct spec_box {
        uint64_t height;
        uint64_t width;
};

struct spec_user {
        uint32_t uid;
        uint32_t gid;
        uint32_t *umask;
        u32_slice additional_gids;
        const char *username;
};

struct spec_caps {
        str_slice bounding;
        str_slice effective;
        str_slice inheritable;
        str_slice permitted;
        str_slice ambient;
};

struct spec_rlimit {
        const char *type;
        uint64_t hard;
        uint64_t soft;
};
DEFINE_SLICE(rlimit_slice, struct spec_rlimit);

struct spec_process {
        bool terminal;
        struct spec_box *console_size;
        struct spec_user user;
        str_slice args;
        const char *command_line;
        str_slice env;
        const char *cwd;
        struct spec_caps *capabilities;
        rlimit_slice rlimits;
        bool no_new_privileges;
        const char *apparmor_profile;
        int64_t *oom_score_adj;
        const char *selinux_label;
};

struct spec_root {
        const char *path;
        bool readonly;
};

struct spec_idmap {
        uint32_t container_id;
        uint32_t host_id;
        uint32_t size;
};
DEFINE_SLICE(idmap_slice, struct spec_idmap);

struct spec_mount {
        const char *destination;
        const char *type;
        const char *source;
        str_slice options;
        idmap_slice uid_mappings;
        idmap_slice gid_mappings;
};
DEFINE_SLICE(mount_slice, struct spec_mount);

struct spec_hook {
        const char *path;
        str_slice args;
        str_slice env;
        int64_t *timeout;
};
DEFINE_SLICE(hook_slice, struct spec_hook);

struct spec_hooks {
        hook_slice prestart;
        hook_slice create_runtime;
        hook_slice create_container;
        hook_slice start_container;
        hook_slice poststart;
        hook_slice poststop;
};

struct spec_namespace {
        const char *type;
        const char *path;
};
DEFINE_SLICE(namespace_slice, struct spec_namespace);

struct spec_device_cgroup {
        bool allow;
        const char *type;
        int64_t *major;
        int64_t *minor;
        const char *access;
};
DEFINE_SLICE(device_cgroup_slice, struct spec_device_cgroup);

struct spec_memory {
        int64_t *limit;
        int64_t *reservation;
        int64_t *swap;
        int64_t *kernel;
        int64_t *kernel_tcp;
        uint64_t *swappiness;
        bool *disable_oom_killer;
        bool *use_hierarchy;
        bool *check_before_update;
};

struct spec_cpu {
        uint64_t *shares;
        int64_t *quota;
        uint64_t *burst;
        uint64_t *period;
        int64_t *realtime_runtime;
        uint64_t *realtime_period;
        const char *cpus;
        const char *mems;
        int64_t *idle;
};

struct spec_pids {
        int64_t limit;
};

struct spec_weight_device {
        int64_t major;
        int64_t minor;
        uint16_t *weight;
        uint16_t *leaf_weight;
};
DEFINE_SLICE(weight_device_slice, struct spec_weight_device);

struct spec_throttle_device {
        int64_t major;
        int64_t minor;
        uint64_t rate;
};
DEFINE_SLICE(throttle_device_slice, struct spec_throttle_device);

struct spec_blockio {
        uint16_t *weight;
        uint16_t *leaf_weight;
        weight_device_slice weight_device;
        throttle_device_slice throttle_read_bps_device;
        throttle_device_slice throttle_write_bps_device;
        throttle_device_slice throttle_read_iops_device;
        throttle_device_slice throttle_write_iops_device;
};

struct spec_hugepage_limit {
        const char *pagesize;
        uint64_t limit;
};
DEFINE_SLICE(hugepage_slice, struct spec_hugepage_limit);

struct spec_interface_priority {
        const char *name;
        uint32_t priority;
};
DEFINE_SLICE(priority_slice, struct spec_interface_priority);

struct spec_network {
        uint32_t *class_id;
        priority_slice priorities;
};

struct spec_rdma {
        uint32_t *hca_handles;
        uint32_t *hca_objects;
};
struct rdma_entry {
        const char *key;
        struct spec_rdma value;
};
DEFINE_SLICE(rdma_map, struct rdma_entry);

struct spec_resources {
        device_cgroup_slice devices;
        struct spec_memory *memory;
        struct spec_cpu *cpu;
        struct spec_pids *pids;
        struct spec_blockio *blockio;
        hugepage_slice hugepage_limits;
        struct spec_network *network;
        rdma_map rdma;
        str_map unified;
};

struct spec_device {
        const char *path;
        const char *type;
        int64_t major;
        int64_t minor;
        uint32_t *file_mode;
        uint32_t *uid;
        uint32_t *gid;
};
DEFINE_SLICE(device_slice, struct spec_device);

struct spec_seccomp_arg {
        uint64_t index;
        uint64_t value;
        uint64_t value_two;
        const char *op;
};
DEFINE_SLICE(seccomp_arg_slice, struct spec_seccomp_arg);

struct spec_syscall {
        str_slice names;
        const char *action;
        uint64_t *errno_ret;
        seccomp_arg_slice args;
};
DEFINE_SLICE(syscall_slice, struct spec_syscall);

struct spec_seccomp {
        const char *default_action;
        uint64_t *default_errno_ret;
        str_slice architectures;
        str_slice flags;
        const char *listener_path;
        const char *listener_metadata;
        syscall_slice syscalls;
};

struct spec_intel_rdt {
        const char *clos_id;
        const char *l3_cache_schema;
        const char *mem_bw_schema;
        bool enable_cmt;
        bool enable_mbm;
};

struct spec_personality {
        const char *domain;
        str_slice flags;
};

struct spec_linux {
        idmap_slice uid_mappings;
        idmap_slice gid_mappings;
        str_map sysctl;
        struct spec_resources *resources;
        const char *cgroups_path;
        namespace_slice namespaces;
        device_slice devices;
        struct spec_seccomp *seccomp;
        const char *rootfs_propagation;
        str_slice masked_paths;
        str_slice readonly_paths;
        const char *mount_label;
        struct spec_intel_rdt *intel_rdt;
        struct spec_personality *personality;
};

struct spec_solaris_anet {
        const char *linkname;
        const char *lowerlink;
        const char *allowedaddr;
        const char *configallowedaddr;
        const char *defrouter;
        const char *linkprotection;
        const char *macaddress;
};
DEFINE_SLICE(anet_slice, struct spec_solaris_anet);

struct spec_solaris_capped_cpu {
        const char *ncpus;
};

struct spec_solaris_capped_memory {
        const char *physical;
        const char *swap;
};

struct spec_solaris {
        const char *milestone;
        const char *limitpriv;
        const char *max_shm_memory;
        anet_slice anet;
        struct spec_solaris_capped_cpu *capped_cpu;
        struct spec_solaris_capped_memory *capped_memory;
};

struct spec_windows_device {
        const char *id;
        const char *id_type;
};
DEFINE_SLICE(windows_device_slice, struct spec_windows_device);

struct spec_windows_memory {
        uint64_t *limit;
};

struct spec_windows_cpu {
        uint64_t *count;
        uint16_t *shares;
        uint16_t *maximum;
};

struct spec_windows_storage {
        uint64_t *iops;
        uint64_t *bps;
        uint64_t *sandbox_size;
};

struct spec_windows_resources {
        struct spec_windows_memory *memory;
        struct spec_windows_cpu *cpu;
        struct spec_windows_storage *storage;
};

struct spec_windows_network {
        str_slice endpoint_list;
        bool allow_unqualified_dns_query;
        str_slice dns_search_list;
        const char *network_shared_container_name;
        const char *network_namespace;
};

struct spec_windows_hyperv {
        const char *utility_vm_path;
};

struct spec_windows {
        str_slice layer_folders;
        windows_device_slice devices;
        struct spec_windows_resources *resources;
        const char *credential_spec;    /* interface{} */
        bool servicing;
        bool ignore_flushes_during_boot;
        struct spec_windows_hyperv *hyperv;
        struct spec_windows_network *network;
};

struct spec_vm_hypervisor {
        const char *path;
        str_slice parameters;
};

struct spec_vm_kernel {
        const char *path;
        str_slice parameters;
        const char *initrd;
};

struct spec_vm_image {
        const char *path;
        const char *format;
};

struct spec_vm {
        struct spec_vm_hypervisor hypervisor;
        struct spec_vm_kernel kernel;
        struct spec_vm_image image;
};

struct spec_zos {
        device_slice devices;
};

struct spec {
        const char *oci_version;
        struct spec_process *process;
        struct spec_root *root;
        const char *hostname;
        const char *domainname;
        mount_slice mounts;
        struct spec_hooks *hooks;
        str_map annotations;
        struct spec_linux *linux_;
        struct spec_solaris *solaris;
        struct spec_windows *windows;
        struct spec_vm *vm;
        struct spec_zos *zos;
};

extern const struct type type_spec;
extern const struct type type_mount_slice;
extern const struct type type_idmap_slice;
extern const struct type type_device_slice;
extern const struct type type_blockio;
extern const struct type type_str_map;
extern const struct type type_mount;
