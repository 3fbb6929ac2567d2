/* Device options: linux.devices and the device cgroup rules. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deps.h"
#include "devices.h"
#include "opt_common.h"
#include "util.h"

int opt_linux_devices(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        const device_slice *add = l->args[0].value;
        for (size_t i = 0; i < add->len; i++) {
                struct spec_device *d = slice_push(r->a, &s->linux_->devices, sizeof(*d));
                if (!d || model_copy(r->a, type_device_slice.elem, d, &add->v[i]) < 0)
                        return r_nomem(r);
        }
        return 0;
}

static int allow_rule(struct render *r, struct spec_resources *res, const struct spec_device *dev, const char *access)
{
        struct spec_device_cgroup *rule = slice_push(r->a, &res->devices, sizeof(*rule));
        if (!rule)
                return r_nomem(r);
        /* containerd points major and minor at the device's own fields */
        int64_t *major = r_i64(r, dev->major), *minor = r_i64(r, dev->minor);
        if (!major || !minor)
                return -r->err->code;
        *rule = (struct spec_device_cgroup){
                .allow = true, .type = dev->type, .major = major, .minor = minor, .access = access,
        };
        return 0;
}

/* The device's path is what realpath made of path, so the resolution is an
 * input too. Without symlinks it is which object each component is (a
 * directory replaced by a symlink shows there; entries coming and going in
 * it do not matter); a resolution through symlinks is not recorded, the
 * rendering is then never reused. */
static void note_resolution(struct render *r, const char *path)
{
        if (!r->deps)
                return;
        char prefix[PATH_MAX];
        size_t n = strlen(path);
        if (n >= sizeof(prefix)) {
                deps_note_volatile(r);
                return;
        }
        memcpy(prefix, path, n + 1);
        for (size_t end = 1; end <= n; end++) {
                /* each component ends before a '/' or at the end; empty ones ("//") are skipped */
                if (!(end == n || prefix[end] == '/') || prefix[end - 1] == '/')
                        continue;
                char saved = prefix[end];
                prefix[end] = '\0';
                struct stat st;
                bool ok = lstat(prefix, &st) == 0 && !S_ISLNK(st.st_mode);
                if (ok)
                        deps_note_host_identity(r, prefix, &st);
                prefix[end] = saved;
                if (!ok) {
                        deps_note_volatile(r);
                        return;
                }
        }
}

static int with_linux_device(struct render *r, struct spec *s, const char *path, const char *perms, bool follow)
{
        int ret = set_linux(r, s);
        if (ret < 0 || (ret = set_resources(r, s)) < 0)
                return ret;
        char resolved[PATH_MAX];
        if (follow) {
                if (!realpath(path, resolved)) {
                        int e = errno;
                        deps_note_volatile(r);
                        /* Name the first component that fails, as filepath.EvalSymlinks does. */
                        char prefix[PATH_MAX];
                        snprintf(prefix, sizeof(prefix), "%s", path);
                        for (char *slash = prefix + 1; (slash = strchr(slash, '/')); slash++) {
                                struct stat st;
                                *slash = '\0';
                                if (lstat(prefix, &st) < 0)
                                        break;
                                *slash = '/';
                        }
                        return bf_error_set(r->err, bf_errno_class(e), "lstat %s: %s",
                                            prefix, e == ENOENT ? "no such file or directory" : strerror(e));
                }
                note_resolution(r, path);
                path = resolved;
        }
        struct spec_device dev;
        if ((ret = device_from_path(r, path, &dev)) < 0)
                return ret;
        struct spec_device *slot = slice_push(r->a, &s->linux_->devices, sizeof(*slot));
        if (!slot)
                return r_nomem(r);
        *slot = dev;
        return allow_rule(r, s->linux_->resources, &dev, perms);
}

int opt_linux_device(struct render *r, struct spec *s, const struct optline *l)
{
        return with_linux_device(r, s, l->args[0].str, l->args[1].str, false);
}

int opt_linux_device_follow_symlinks(struct render *r, struct spec *s, const struct optline *l)
{
        return with_linux_device(r, s, l->args[0].str, l->args[1].str, true);
}

int opt_devices(struct render *r, struct spec *s, const struct optline *l)
{
        device_slice devs;
        int ret = devices_get(r, l->args[0].str, l->args[1].str, &devs);
        if (ret < 0)
                return ret;
        for (size_t i = 0; i < devs.len; i++) {
                if (!s->linux_)
                        return missing_section(r, "linux");
                struct spec_device *slot = slice_push(r->a, &s->linux_->devices, sizeof(*slot));
                if (!slot)
                        return r_nomem(r);
                *slot = devs.v[i];
                if (!s->linux_->resources)
                        return missing_section(r, "linux.resources");
                if ((ret = allow_rule(r, s->linux_->resources, &devs.v[i], l->args[2].str)) < 0)
                        return ret;
        }
        return 0;
}

int opt_host_devices(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        device_slice devs;
        if ((ret = devices_get(r, "/dev", "", &devs)) < 0)
                return ret;
        for (size_t i = 0; i < devs.len; i++) {
                struct spec_device *slot = slice_push(r->a, &s->linux_->devices, sizeof(*slot));
                if (!slot)
                        return r_nomem(r);
                *slot = devs.v[i];
        }
        return 0;
}

static struct spec_resources *linux_with_resources(struct render *r, struct spec *s)
{
        if (set_linux(r, s) < 0)
                return NULL;
        if (!s->linux_->resources && !(s->linux_->resources = R_NEW(r, struct spec_resources)))
                return NULL;
        return s->linux_->resources;
}

int opt_parent_cgroup_devices(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        struct spec_resources *res = linux_with_resources(r, s);
        if (!res)
                return -r->err->code;
        res->devices = (device_cgroup_slice){ 0 };
        return 0;
}

int opt_all_devices_allowed(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        struct spec_resources *res = linux_with_resources(r, s);
        if (!res)
                return -r->err->code;
        struct spec_device_cgroup *rule = R_NEW(r, struct spec_device_cgroup);
        if (!rule)
                return -r->err->code;
        *rule = (struct spec_device_cgroup){ .allow = true, .access = "rwm" };
        res->devices = (device_cgroup_slice){ .v = rule, .len = 1, .cap = 1 };
        return 0;
}

int opt_default_unix_devices(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        static const struct {
                int64_t major, minor;
                bool any_minor;
        } rules[] = {
                { 1, 3, false },   /* /dev/null */
                { 1, 8, false },   /* /dev/random */
                { 1, 7, false },   /* /dev/full */
                { 5, 0, false },   /* /dev/tty */
                { 1, 5, false },   /* /dev/zero */
                { 1, 9, false },   /* /dev/urandom */
                { 5, 1, false },   /* /dev/console */
                { 136, 0, true },  /* /dev/pts/: every minor */
                { 5, 2, false },   /* /dev/ptmx */
        };
        struct spec_resources *res = linux_with_resources(r, s);
        if (!res)
                return -r->err->code;
        for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
                struct spec_device_cgroup *rule = slice_push(r->a, &res->devices, sizeof(*rule));
                int64_t *major = r_i64(r, rules[i].major);
                int64_t *minor = rules[i].any_minor ? NULL : r_i64(r, rules[i].minor);
                if (!rule || !major || (!rules[i].any_minor && !minor))
                        return r_nomem(r);
                *rule = (struct spec_device_cgroup){
                        .allow = true, .type = "c", .major = major, .minor = minor, .access = "rwm",
                };
        }
        return 0;
}
