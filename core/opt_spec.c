/* Whole-spec options: the default spec of a platform, and specs from JSON. */
#include <json-c/json.h>
#include <stdio.h>

#include "files.h"
#include "goconv.h"
#include "opt_common.h"
#include "util.h"

static const char *const default_caps[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

static const char *const default_masked_paths[] = {
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
};

static const char *const default_readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const struct spec_namespace default_namespaces[] = {
        { .type = "pid" }, { .type = "ipc" }, { .type = "uts" }, { .type = "mount" }, { .type = "network" },
};

static const char *const opts_proc[] = { "nosuid", "noexec", "nodev" };
static const char *const opts_tmpfs[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
static const char *const opts_devpts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" };
static const char *const opts_shm[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" };
static const char *const opts_sysfs[] = { "nosuid", "noexec", "nodev", "ro" };

static const struct {
        const char *destination, *type, *source;
        const char *const *options;
        size_t noptions;
} default_mounts[] = {
        { "/proc", "proc", "proc", opts_proc, ARRAY_SIZE(opts_proc) },
        { "/dev", "tmpfs", "tmpfs", opts_tmpfs, ARRAY_SIZE(opts_tmpfs) },
        { "/dev/pts", "devpts", "devpts", opts_devpts, ARRAY_SIZE(opts_devpts) },
        { "/dev/shm", "tmpfs", "shm", opts_shm, ARRAY_SIZE(opts_shm) },
        { "/dev/mqueue", "mqueue", "mqueue", opts_proc, ARRAY_SIZE(opts_proc) },
        { "/sys", "sysfs", "sysfs", opts_sysfs, ARRAY_SIZE(opts_sysfs) },
        { "/run", "tmpfs", "tmpfs", opts_tmpfs, ARRAY_SIZE(opts_tmpfs) },
};

#define SET_SLICE(r, dst, table) slice_set((r)->a, &(dst), (table), ARRAY_SIZE(table), sizeof((table)[0]))

/* A plain name: joining it to a path needs no cleaning. */
static bool plain_name(const char *s)
{
        return s && s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* filepath.Join("/", namespace, id): "/<ns>/<id>" for the names the tree
 * allows, cleaned as Go does for anything else. */
const char *cgroups_path_of(struct render *r)
{
        if (plain_name(r->namespace_) && plain_name(r->id)) {
                size_t nl = strlen(r->namespace_), il = strlen(r->id);
                char *p = arena_alloc(r->a, nl + il + 3);
                if (p) {
                        p[0] = '/';
                        memcpy(p + 1, r->namespace_, nl);
                        p[nl + 1] = '/';
                        memcpy(p + nl + 2, r->id, il + 1);
                }
                return p;
        }
        buf cg = { 0 };
        const char *parts[] = { "/", r->namespace_, r->id };
        go_path_join(&cg, parts, ARRAY_SIZE(parts));
        const char *p = cg.oom ? NULL : arena_strndup(r->a, cg.p, cg.len);
        buf_free(&cg);
        return p;
}

static int populate_unix(struct render *r, struct spec *s)
{
        *s = (struct spec){ .oci_version = SPEC_VERSION };
        struct spec_root *root = R_NEW(r, struct spec_root);
        struct spec_process *p = R_NEW(r, struct spec_process);
        struct spec_caps *caps = R_NEW(r, struct spec_caps);
        struct spec_rlimit *rl = R_NEW(r, struct spec_rlimit);
        struct spec_linux *lx = R_NEW(r, struct spec_linux);
        struct spec_resources *res = R_NEW(r, struct spec_resources);
        struct spec_device_cgroup *deny = R_NEW(r, struct spec_device_cgroup);
        if (!root || !p || !caps || !rl || !lx || !res || !deny)
                return -r->err->code;

        root->path = "rootfs";
        p->cwd = "/";
        p->no_new_privileges = true;
        p->capabilities = caps;
        *rl = (struct spec_rlimit){ .type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024 };
        p->rlimits = (rlimit_slice){ .v = rl, .len = 1, .cap = 1 };
        *deny = (struct spec_device_cgroup){ .allow = false, .access = "rwm" };
        res->devices = (device_cgroup_slice){ .v = deny, .len = 1, .cap = 1 };
        lx->resources = res;

        lx->cgroups_path = cgroups_path_of(r);
        if (!lx->cgroups_path)
                return r_nomem(r);

        if (SET_SLICE(r, caps->bounding, default_caps) < 0 || SET_SLICE(r, caps->permitted, default_caps) < 0 ||
            SET_SLICE(r, caps->effective, default_caps) < 0 ||
            SET_SLICE(r, lx->masked_paths, default_masked_paths) < 0 ||
            SET_SLICE(r, lx->readonly_paths, default_readonly_paths) < 0 ||
            SET_SLICE(r, lx->namespaces, default_namespaces) < 0)
                return r_nomem(r);

        struct spec_mount *m = r_alloc(r, ARRAY_SIZE(default_mounts) * sizeof(*m));
        if (!m)
                return -r->err->code;
        for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
                m[i].destination = default_mounts[i].destination;
                m[i].type = default_mounts[i].type;
                m[i].source = default_mounts[i].source;
                if (slice_set(r->a, &m[i].options, default_mounts[i].options, default_mounts[i].noptions,
                              sizeof(char *)) < 0)
                        return r_nomem(r);
        }
        s->mounts = (mount_slice){ .v = m, .len = ARRAY_SIZE(default_mounts), .cap = ARRAY_SIZE(default_mounts) };
        s->root = root;
        s->process = p;
        s->linux_ = lx;
        return 0;
}

static int populate_windows(struct render *r, struct spec *s)
{
        *s = (struct spec){ .oci_version = SPEC_VERSION };
        s->root = R_NEW(r, struct spec_root);
        s->process = R_NEW(r, struct spec_process);
        s->windows = R_NEW(r, struct spec_windows);
        if (!s->root || !s->process || !s->windows)
                return -r->err->code;
        s->process->cwd = "C:\\";
        return 0;
}

static int populate_darwin(struct render *r, struct spec *s)
{
        *s = (struct spec){ .oci_version = SPEC_VERSION };
        s->root = R_NEW(r, struct spec_root);
        s->process = R_NEW(r, struct spec_process);
        if (!s->root || !s->process)
                return -r->err->code;
        s->process->cwd = "/";
        return 0;
}

/* generateDefaultSpecWithPlatform */
int spec_default(struct render *r, const char *platform, struct spec *s)
{
        /* Every rendering of a container parses the same platform string. */
        static __thread char last[PLATFORM_MAX];
        static __thread enum spec_os last_os;
        enum spec_os os;
        if (last[0] && strcmp(last, platform) == 0) {
                os = last_os;
        } else {
                struct platform p;
                int ret = platform_parse(platform, &p, r->err);
                if (ret < 0)
                        return ret;
                os = platform_spec_os(&p);
                snprintf(last, sizeof(last), "%s", platform);
                last_os = os;
        }
        switch (os) {
        case SPEC_OS_WINDOWS:
                return populate_windows(r, s);
        case SPEC_OS_DARWIN:
                return populate_darwin(r, s);
        default:
                return populate_unix(r, s);
        }
}

/* WithDefaultSpec uses the platform containerd runs on, not the container's. */
int opt_default_spec(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        return spec_default(r, platform_host(), s);
}

int opt_default_spec_for_platform(struct render *r, struct spec *s, const struct optline *l)
{
        return spec_default(r, l->args[0].str, s);
}

int opt_spec_from_bytes(struct render *r, struct spec *s, const struct optline *l)
{
        /* The line holds the decoded spec; the rendering gets its own copy. */
        *s = (struct spec){ 0 };
        if (model_copy(r->a, &type_spec, s, l->args[0].value) < 0)
                return r_nomem(r);
        return 0;
}

int opt_spec_from_file(struct render *r, struct spec *s, const struct optline *l)
{
        const char *path = l->args[0].str;
        _cleanup_free_ char *data = NULL;
        size_t n;
        int ret = file_read_input(r, path, FILE_READ_MAX, &data, &n);
        if (ret < 0)
                return bf_error_prefix(r->err, "cannot load spec config file");
        struct json_object *j = NULL;
        ret = json_parse_document(data, n, &j, r->err);
        if (ret < 0)
                return bf_error_prefix(r->err, "decoding spec config file failed, current supported OCI "
                                               "runtime-spec : v%s", SPEC_VERSION);
        *s = (struct spec){ 0 };
        ret = model_decode(r->a, &type_spec, s, j, r->err);
        json_object_put(j);
        if (ret < 0)
                return bf_error_prefix(r->err, "decoding spec config file failed, current supported OCI "
                                               "runtime-spec : v%s", SPEC_VERSION);
        return 0;
}
