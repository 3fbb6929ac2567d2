/* deps: the outside inputs a rendering read, recorded by spec_build and
 * checked again by stat after the files change (or do not). */
#include "check.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deps.h"
#include "optline.h"
#include "render.h"
#include "util.h"

/* ---- helpers -------------------------------------------------------------- */

struct tmp {
        char dir[64];
};

static bool tmp_make(struct tmp *t)
{
        snprintf(t->dir, sizeof(t->dir), "/tmp/bundlefs-deps-XXXXXX");
        return CHECK(mkdtemp(t->dir) != NULL);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void tmp_remove(struct tmp *t)
{
        CHECK(nftw(t->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

/* t->dir/rel, in a static buffer of its own per slot */
static const char *at(struct tmp *t, const char *rel)
{
        static char bufs[4][256];
        static unsigned next;
        char *b = bufs[next++ % 4];
        snprintf(b, 256, "%s/%s", t->dir, rel);
        return b;
}

static void put(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (!CHECK(fd >= 0))
                return;
        CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
}

/* Wait until what was just written is older than the racy margin. */
static void settle(void)
{
        long long ns = DEPS_RACY_MARGIN_NS + 20 * 1000 * 1000LL;
        struct timespec t = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
        while (nanosleep(&t, &t) < 0)
                ;
}

/* text with its "%s" replaced by dir */
static void subst_dir(char *out, size_t size, const char *text, const char *dir)
{
        const char *p = strstr(text, "%s");
        if (!p)
                snprintf(out, size, "%s", text);
        else
                snprintf(out, size, "%.*s%s%s", (int) (p - text), text, dir, p + 2);
}

/* spec_build of lines (formatted with one %s for dir) with inputs recorded in
 * d, which is cleared first. Returns spec_build's result. */
static int build_at(const char *file, int line, struct deps *d, const char *rootfs, const char *dir,
                    const char *const *lines, size_t n)
{
        struct optline *parsed[8] = { 0 };
        size_t np = 0;
        int rc = 0;
        for (size_t i = 0; i < n && i < 8; i++) {
                char text[512];
                subst_dir(text, sizeof(text), lines[i], dir);
                bf_error err = { 0 };
                if (!CHECK_INTEQ_AT(file, line, optline_parse(text, strlen(text), &parsed[np], &err), 0)) {
                        fprintf(stderr, "    %s: %s\n", text, err.msg);
                        rc = -EINVAL;
                        goto out;
                }
                np++;
        }
        if (d)
                deps_clear(d);
        struct render_input in = {
                .platform = "linux/amd64",
                .namespace_ = "default",
                .id = "c1",
                .bundle_rootfs = rootfs,
                .lines = parsed,
                .nlines = np,
                .deps = d,
        };
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec s;
        bf_error err = { 0 };
        rc = spec_build(&a, &in, &s, NULL, &err);
        arena_done(&a);
out:
        for (size_t i = 0; i < np; i++)
                optline_unref(parsed[i]);
        return rc;
}

#define LINES(...) ((const char *const[]){ __VA_ARGS__ }), (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))
#define BUILD(d, rootfs, dir, ...) build_at(__FILE__, __LINE__, (d), (rootfs), (dir), LINES(__VA_ARGS__))

/* ---- a change to an input makes the record invalid ---------------------------- */

static const char passwd_alice[] = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";

/* Files the cases start from: an env file, a spec file, a rootfs with
 * /etc/passwd a symlink to passwd.a, passwd.b beside it, a fifo. */
static void make_inputs(struct tmp *t)
{
        put(at(t, "env"), "A=1\n");
        put(at(t, "spec.json"), "{\"ociVersion\":\"1.0.0\"}");
        CHECK(mkdir(at(t, "rootfs"), 0755) == 0);
        CHECK(mkdir(at(t, "rootfs/etc"), 0755) == 0);
        put(at(t, "rootfs/etc/passwd.a"), passwd_alice);
        put(at(t, "rootfs/etc/passwd.b"), passwd_alice);
        CHECK(symlink("passwd.a", at(t, "rootfs/etc/passwd")) == 0);
        CHECK(mkfifo(at(t, "fifo"), 0600) == 0);
}

static void rewrite_env_same_size(struct tmp *t)
{
        put(at(t, "env"), "A=2\n");
}

static void replace_env_by_rename(struct tmp *t)
{
        put(at(t, "env.new"), "A=1\n");
        CHECK(rename(at(t, "env.new"), at(t, "env")) == 0);
}

static void delete_env(struct tmp *t)
{
        CHECK(unlink(at(t, "env")) == 0);
}

static void create_missing(struct tmp *t)
{
        put(at(t, "missing"), "A=1\n");
}

static void rewrite_spec_same_size(struct tmp *t)
{
        put(at(t, "spec.json"), "{\"ociVersion\":\"1.0.1\"}");
}

static void retarget_passwd_symlink(struct tmp *t)
{
        CHECK(symlink("passwd.b", at(t, "rootfs/etc/passwd.new")) == 0);
        CHECK(rename(at(t, "rootfs/etc/passwd.new"), at(t, "rootfs/etc/passwd")) == 0);
}

static void rewrite_passwd_same_size(struct tmp *t)
{
        put(at(t, "rootfs/etc/passwd.a"), "root:x:0:0::/root:/bin/sh\nalice:x:1001:1000::/home/alice:/bin/sh\n");
}

static void create_group(struct tmp *t)
{
        put(at(t, "rootfs/etc/group"), "wheel:x:10:\n");
}

static void chmod_fifo(struct tmp *t)
{
        CHECK(chmod(at(t, "fifo"), 0640) == 0);
}

/* d/fifo is still the same node, seen through d.old: only the path realpath
 * gives changed */
static void replace_fifo_dir_by_symlink(struct tmp *t)
{
        CHECK(rename(at(t, "d"), at(t, "d.old")) == 0);
        CHECK(symlink("d.old", at(t, "d")) == 0);
}

static void make_fifo_dir(struct tmp *t)
{
        CHECK(mkdir(at(t, "d"), 0755) == 0);
        CHECK(mkfifo(at(t, "d/fifo"), 0600) == 0);
}

static const struct change_case {
        const char *name;
        const char *line;       /* %s: the temporary directory */
        bool rendered;          /* whether the line renders before the change */
        bool with_rootfs;       /* the bundle rootfs is <dir>/rootfs */
        void (*prepare)(struct tmp *t);
        void (*change)(struct tmp *t);
        bool volatile_after;    /* the change puts a symlink on a followed path */
} change_cases[] = {
        { .name = "env file rewritten, same size",
          .line = "WithEnvFile %s/env",
          .rendered = true,
          .with_rootfs = false,
          .change = rewrite_env_same_size },
        { .name = "env file replaced by rename",
          .line = "WithEnvFile %s/env",
          .rendered = true,
          .with_rootfs = false,
          .change = replace_env_by_rename },
        { .name = "env file deleted",
          .line = "WithEnvFile %s/env",
          .rendered = true,
          .with_rootfs = false,
          .change = delete_env },
        { .name = "missing env file created",
          .line = "WithEnvFile %s/missing",
          .rendered = false,
          .with_rootfs = false,
          .change = create_missing },
        { .name = "spec file rewritten",
          .line = "WithSpecFromFile %s/spec.json",
          .rendered = true,
          .with_rootfs = false,
          .change = rewrite_spec_same_size },
        { .name = "image config created",
          .line = "WithImageConfig %s/missing",
          .rendered = false,
          .with_rootfs = false,
          .change = create_missing },
        { .name = "passwd symlink retargeted",
          .line = "WithUser alice",
          .rendered = true,
          .with_rootfs = true,
          .change = retarget_passwd_symlink },
        { .name = "passwd rewritten, same size",
          .line = "WithUsername alice",
          .rendered = true,
          .with_rootfs = true,
          .change = rewrite_passwd_same_size },
        { .name = "missing group file created",
          .line = "WithAppendAdditionalGroups wheel",
          .rendered = false,
          .with_rootfs = true,
          .change = create_group },
        { .name = "device node chmod",
          .line = "WithLinuxDevice %s/fifo rwm",
          .rendered = true,
          .with_rootfs = false,
          .change = chmod_fifo },
        { .name = "single device chmod",
          .line = "WithDevices %s/fifo /dev/x rwm",
          .rendered = true,
          .with_rootfs = false,
          .change = chmod_fifo },
        { .name = "device directory made a symlink",
          .line = "WithLinuxDeviceFollowSymlinks %s/d/fifo rwm",
          .rendered = true,
          .with_rootfs = false,
          .prepare = make_fifo_dir,
          .change = replace_fifo_dir_by_symlink,
          .volatile_after = true },
};

TEST(a_changed_input_makes_the_record_invalid)
{
        for (size_t i = 0; i < ARRAY_SIZE(change_cases); i++) {
                const struct change_case *c = &change_cases[i];
                struct tmp t;
                if (!tmp_make(&t))
                        return;
                make_inputs(&t);
                if (c->prepare)
                        c->prepare(&t);
                settle();
                struct deps *d = deps_new();
                int rc = BUILD(d, c->with_rootfs ? at(&t, "rootfs") : NULL, t.dir, c->line);
                if (!CHECK(c->rendered ? rc == 0 : rc < 0) || !CHECK(deps_count(d) > 0) || !CHECK(!deps_volatile(d)) ||
                    !CHECK(deps_still_valid(d)) || !CHECK(deps_still_valid(d)))
                        fprintf(stderr, "    case: %s (rc %d)\n", c->name, rc);
                c->change(&t);
                if (!CHECK(!deps_still_valid(d)))
                        fprintf(stderr, "    case: %s\n", c->name);
                /* a new rendering sees the change, and once it is old enough is valid again */
                settle();
                BUILD(d, c->with_rootfs ? at(&t, "rootfs") : NULL, t.dir, c->line);
                if (!CHECK(deps_still_valid(d) == !c->volatile_after) || !CHECK(deps_volatile(d) == c->volatile_after))
                        fprintf(stderr, "    case: %s, rendered again\n", c->name);
                deps_free(d);
                tmp_remove(&t);
        }
}

/* ---- when the inputs last changed --------------------------------------------- */

static struct timespec ctime_of(const char *path)
{
        struct stat st = { 0 };
        CHECK(stat(path, &st) == 0);
        return st.st_ctim;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
        return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

TEST(the_latest_change_is_the_newest_stamp_of_the_inputs_read)
{
        struct tmp t;
        if (!tmp_make(&t))
                return;
        put(at(&t, "old"), "A=1\n");
        settle();
        put(at(&t, "new"), "B=2\n");
        settle();
        struct deps *d = deps_new();
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithEnvFile %s/old"), 0);
        CHECK(ts_eq(deps_latest_change(d), ctime_of(at(&t, "old"))));
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithEnvFile %s/old", "WithEnvFile %s/new"), 0);
        CHECK(ts_eq(deps_latest_change(d), ctime_of(at(&t, "new"))));
        /* an absent input has no stamp; nothing read, nothing changed */
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithImageConfig %s/absent.json") < 0, 1);
        CHECK(ts_eq(deps_latest_change(d), (struct timespec){ 0 }));
        deps_free(d);
        tmp_remove(&t);
}

/* ---- what is recorded ------------------------------------------------------- */

TEST(a_device_node_of_the_host_is_a_valid_input)
{
        struct deps *d = deps_new();
        CHECK_INTEQ(BUILD(d, NULL, "", "WithLinuxDevice /dev/null rwm"), 0);
        CHECK_UINTEQ(deps_count(d), 1);
        CHECK(deps_still_valid(d));
        deps_free(d);
}

TEST(walking_a_device_directory_is_volatile)
{
        struct deps *d = deps_new();
        CHECK_INTEQ(BUILD(d, NULL, "", "WithHostDevices"), 0);
        CHECK(deps_volatile(d));
        CHECK(!deps_still_valid(d));
        struct tmp t;
        if (tmp_make(&t)) {
                make_inputs(&t);
                CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithDevices %s /dev/x rwm"), 0);
                CHECK(deps_volatile(d));
                CHECK(!deps_still_valid(d));
                tmp_remove(&t);
        }
        /* cleared, the record is valid again */
        deps_clear(d);
        CHECK(!deps_volatile(d));
        CHECK_UINTEQ(deps_count(d), 0);
        CHECK(deps_still_valid(d));
        deps_free(d);
}

TEST(following_a_symlink_to_a_device_is_volatile)
{
        struct tmp t;
        if (!tmp_make(&t))
                return;
        make_inputs(&t);
        CHECK(symlink("fifo", at(&t, "link")) == 0);
        settle();
        struct deps *d = deps_new();
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithLinuxDeviceFollowSymlinks %s/link rwm"), 0);
        CHECK(deps_volatile(d));
        CHECK(!deps_still_valid(d));
        /* without a symlink on the way the components are recorded */
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithLinuxDeviceFollowSymlinks %s/fifo rwm"), 0);
        CHECK(!deps_volatile(d));
        CHECK(deps_count(d) >= 2);
        deps_free(d);
        tmp_remove(&t);
}

TEST(an_input_read_by_several_options_is_recorded_once)
{
        struct tmp t;
        if (!tmp_make(&t))
                return;
        make_inputs(&t);
        settle();
        const char *rootfs = at(&t, "rootfs");
        struct deps *d = deps_new();
        CHECK_INTEQ(BUILD(d, rootfs, t.dir, "WithUser alice", "WithEnvFile %s/env"), 0);
        size_t once = deps_count(d);
        CHECK_INTEQ(BUILD(d, rootfs, t.dir, "WithUser alice", "WithEnvFile %s/env", "WithUsername alice",
                          "WithUser alice", "WithEnvFile %s/env"),
                    0);
        CHECK_UINTEQ(deps_count(d), once);
        CHECK(deps_still_valid(d));
        deps_free(d);
        tmp_remove(&t);
}

TEST(an_input_changed_just_before_the_rendering_is_racy)
{
        struct tmp t;
        if (!tmp_make(&t))
                return;
        /* changed after the rendering started: its ctime is not older than the start */
        struct deps *d = deps_new();
        struct render r = { .deps = d };
        put(at(&t, "env"), "A=1\n");
        struct stat st;
        CHECK(stat(at(&t, "env"), &st) == 0);
        deps_note_host(&r, at(&t, "env"), true, &st);
        CHECK(!deps_volatile(d));
        CHECK(!deps_still_valid(d));
        /* rendered again once the change is older than the margin */
        settle();
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithEnvFile %s/env"), 0);
        CHECK(deps_still_valid(d));
        /* an mtime in the future is never old enough */
        struct timespec future[2] = { { .tv_nsec = UTIME_OMIT }, { 0 } };
        clock_gettime(CLOCK_REALTIME, &future[1]);
        future[1].tv_sec += 3600;
        CHECK(utimensat(AT_FDCWD, at(&t, "env"), future, 0) == 0);
        settle();
        CHECK_INTEQ(BUILD(d, NULL, t.dir, "WithEnvFile %s/env"), 0);
        CHECK(!deps_still_valid(d));
        deps_free(d);
        tmp_remove(&t);
}

TEST(an_input_seen_twice_with_different_signatures_is_invalid)
{
        struct tmp t;
        if (!tmp_make(&t))
                return;
        put(at(&t, "env"), "A=1\n");
        settle();
        struct deps *base = deps_new(), *ext = deps_new();
        CHECK_INTEQ(BUILD(base, NULL, t.dir, "WithEnvFile %s/env"), 0);
        CHECK_INTEQ(BUILD(ext, NULL, t.dir, "WithEnvFile %s/env"), 0);
        CHECK(deps_still_valid(base) && deps_still_valid(ext));
        /* the same file seen the same way by both: one input */
        CHECK_INTEQ(deps_merge(ext, base), 0);
        CHECK_UINTEQ(deps_count(ext), 1);
        CHECK(deps_still_valid(ext));

        /* the extension saw another version of the file than the base */
        put(at(&t, "env"), "A=22\n");
        settle();
        CHECK_INTEQ(BUILD(ext, NULL, t.dir, "WithEnvFile %s/env"), 0);
        CHECK(deps_still_valid(ext));
        CHECK(!deps_still_valid(base));
        CHECK_INTEQ(deps_merge(ext, base), 0);
        CHECK(!deps_still_valid(ext));

        /* what makes the source never valid carries over */
        CHECK_INTEQ(BUILD(ext, NULL, t.dir, "WithEnvFile %s/env"), 0);
        CHECK_INTEQ(BUILD(base, NULL, "", "WithHostDevices"), 0);
        CHECK_INTEQ(deps_merge(ext, base), 0);
        CHECK(deps_volatile(ext));
        deps_free(base);
        deps_free(ext);
        tmp_remove(&t);
}

TEST(more_inputs_than_the_limit_make_the_record_volatile)
{
        struct deps *d = deps_new();
        struct render r = { .deps = d };
        char path[64];
        for (int i = 0; i < DEPS_MAX; i++) {
                snprintf(path, sizeof(path), "/nonexistent/bundlefs-deps/%d", i);
                deps_note_host(&r, path, true, NULL);
        }
        CHECK_UINTEQ(deps_count(d), DEPS_MAX);
        CHECK(!deps_volatile(d));
        CHECK(deps_still_valid(d));
        deps_note_host(&r, "/nonexistent/bundlefs-deps/0", true, NULL);
        CHECK(!deps_volatile(d));
        deps_note_host(&r, "/nonexistent/bundlefs-deps/one-more", true, NULL);
        CHECK(deps_volatile(d));
        CHECK(!deps_still_valid(d));
        deps_free(d);
}

TEST(without_a_record_nothing_is_noted)
{
        struct render r = { 0 };
        deps_note_host(&r, "/", true, NULL);
        deps_note_in_root(&r, "/", "etc/passwd", NULL);
        deps_note_volatile(&r);
        CHECK_INTEQ(BUILD(NULL, NULL, "", "WithLinuxDevice /dev/null rwm", "WithHostDevices"), 0);
}
