/* render: whole renderings through spec_render, for behaviour of containerd's
 * options that the conformance cases do not pin down. */
#include "check.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "files.h"
#include "optline.h"
#include "render.h"

/* ---- rendering helpers ---------------------------------------------------- */

struct result {
        int rc;
        bf_error err;
        size_t failed_line;     /* from spec_build */
        char *text;             /* config.json bytes on success */
        struct json_object *doc;
};

static void result_free(struct result *res)
{
        free(res->text);
        json_object_put(res->doc);
        *res = (struct result){ 0 };
}

/* Render lines for a platform; rootfs is the bundle's rootfs (may be NULL).
 * A line that does not parse is a test failure, reported at the caller. */
static struct result render_at(const char *file, int line, const char *platform, const char *rootfs,
                               const char *const *lines, size_t n)
{
        struct result res = { 0 };
        struct optline *parsed[64] = { 0 };
        size_t np = 0;
        for (size_t i = 0; i < n && i < 64; i++) {
                bf_error err = { 0 };
                if (!CHECK_INTEQ_AT(file, line, optline_parse(lines[i], strlen(lines[i]), &parsed[np], &err), 0)) {
                        fprintf(stderr, "    line %zu: %s\n", i + 1, err.msg);
                        res.rc = -EINVAL;
                        goto out;
                }
                np++;
        }
        struct render_input in = {
                .platform = platform,
                .namespace_ = "default",
                .id = "c1",
                .bundle_rootfs = rootfs,
                .lines = parsed,
                .nlines = np,
        };
        /* spec_build says which line failed; spec_render gives the bytes */
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec s;
        bf_error build_err = { 0 };
        res.failed_line = (size_t) -1;
        int build_rc = spec_build(&a, &in, &s, &res.failed_line, &build_err);
        arena_done(&a);

        buf out = { 0 };
        res.rc = spec_render(&in, &out, &res.err);
        CHECK_INTEQ_AT(file, line, build_rc, res.rc);
        if (res.rc == 0) {
                res.text = buf_steal(&out, NULL);
                bf_error err = { 0 };
                CHECK_AT(file, line, res.text && res.text[strlen(res.text) - 1] == '\n');
                CHECK_INTEQ_AT(file, line, json_parse_document(res.text, strlen(res.text), &res.doc, &err), 0);
        } else {
                CHECK_STREQ_AT(file, line, build_err.msg, res.err.msg);
        }
        buf_free(&out);
out:
        for (size_t i = 0; i < np; i++)
                optline_unref(parsed[i]);
        return res;
}

#define LINES(...) ((const char *const[]){ __VA_ARGS__ }), (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))
#define RENDER(platform, rootfs, ...) render_at(__FILE__, __LINE__, (platform), (rootfs), LINES(__VA_ARGS__))
#define RENDER_LINUX(...) RENDER("linux/amd64", NULL, __VA_ARGS__)

/* The value at a dotted path ("process.user.uid"), or NULL when absent. */
static struct json_object *jget(struct json_object *doc, const char *path)
{
        char key[256];
        struct json_object *cur = doc;
        while (cur && *path) {
                size_t n = strcspn(path, ".");
                snprintf(key, sizeof(key), "%.*s", (int) n, path);
                struct json_object *next = NULL;
                if (!json_object_is_type(cur, json_type_object) || !json_object_object_get_ex(cur, key, &next))
                        return NULL;
                cur = next;
                path += n + (path[n] == '.');
        }
        return cur;
}

/* Compact JSON text of the value at path; "<absent>" when there is none. */
static const char *jtext(struct json_object *doc, const char *path)
{
        if (!doc)
                return "<no document>";
        struct json_object *v = jget(doc, path);
        if (!v && !json_object_object_get_ex(doc, path, NULL)) {
                /* a null value and an absent key differ: look for the key itself */
                const char *dot = strrchr(path, '.');
                struct json_object *parent = doc;
                if (dot) {
                        char head[256];
                        snprintf(head, sizeof(head), "%.*s", (int) (dot - path), path);
                        parent = jget(doc, head);
                }
                if (!parent || !json_object_object_get_ex(parent, dot ? dot + 1 : path, NULL))
                        return "<absent>";
                return "null";
        }
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The mount with this destination, as compact JSON, or "<absent>". */
static const char *mount_text(struct json_object *doc, const char *dest)
{
        struct json_object *mounts = doc ? jget(doc, "mounts") : NULL;
        size_t n = mounts && json_object_is_type(mounts, json_type_array) ? json_object_array_length(mounts) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *m = json_object_array_get_idx(mounts, i), *d = NULL;
                if (json_object_object_get_ex(m, "destination", &d) && strcmp(json_object_get_string(d), dest) == 0)
                        return json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        }
        return "<absent>";
}

#define CHECK_OK(res)                                                                   \
        do {                                                                            \
                if (!CHECK_INTEQ((res).rc, 0))                                          \
                        fprintf(stderr, "    error: %s\n", (res).err.msg);              \
        } while (0)

#define CHECK_AT_PATH(res, path, want) CHECK_STREQ(jtext((res).doc, (path)), (want))

/* The last line was refused with code and a message containing `part`. */
#define CHECK_REFUSED(res, want_errno, part)                                            \
        do {                                                                            \
                CHECK_INTEQ((res).rc, -(want_errno));                                   \
                CHECK_INTEQ((res).err.code, (want_errno));                              \
                CHECK_CONTAINS((res).err.msg, (part));                                  \
        } while (0)

/* ---- a temporary rootfs ----------------------------------------------------- */

struct rootfs {
        char dir[64];
        char etc[96];
};

static void write_bytes(const char *dir, const char *name, const char *data, size_t n)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (!CHECK(fd >= 0))
                return;
        CHECK(write(fd, data, n) == (ssize_t) n);
        close(fd);
}

static void write_file(const char *dir, const char *name, const char *data)
{
        write_bytes(dir, name, data, strlen(data));
}

static bool rootfs_make(struct rootfs *r, const char *passwd, const char *group)
{
        snprintf(r->dir, sizeof(r->dir), "/tmp/bundlefs-unit-XXXXXX");
        if (!CHECK(mkdtemp(r->dir) != NULL))
                return false;
        snprintf(r->etc, sizeof(r->etc), "%s/etc", r->dir);
        CHECK(mkdir(r->etc, 0755) == 0);
        if (passwd)
                write_file(r->etc, "passwd", passwd);
        if (group)
                write_file(r->etc, "group", group);
        return true;
}

static void rootfs_remove(struct rootfs *r)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/passwd", r->etc);
        unlink(path);
        snprintf(path, sizeof(path), "%s/group", r->etc);
        unlink(path);
        CHECK(rmdir(r->etc) == 0);
        CHECK(rmdir(r->dir) == 0);
}

/* ---- WithEnv -------------------------------------------------------------- */

TEST(env_keys_repeated_in_one_call_are_all_appended)
{
        /* replaceOrAppendEnvValues only knows the keys already in the spec */
        struct result r = RENDER_LINUX("WithEnv A=1 A=2");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=1\",\"A=2\"]");
        result_free(&r);
        r = RENDER_LINUX("WithEnv A=1 B=1", "WithEnv A=2 A=3 C=1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=3\",\"B=1\",\"C=1\"]");
        result_free(&r);
}

TEST(env_unsetting_a_key_appended_in_the_same_call_does_nothing)
{
        struct result r = RENDER_LINUX("WithEnv A=1 A");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=1\"]");
        result_free(&r);
        /* in a later call the key is known and goes */
        r = RENDER_LINUX("WithEnv A=1 B=2", "WithEnv A");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"B=2\"]");
        result_free(&r);
        /* unsetting then setting in one call: the set wins, in place */
        r = RENDER_LINUX("WithEnv A=1 B=2", "WithEnv A A=9");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=9\",\"B=2\"]");
        result_free(&r);
        /* setting then unsetting a known key in one call: it goes */
        r = RENDER_LINUX("WithEnv A=1 B=2", "WithEnv A=9 A");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"B=2\"]");
        result_free(&r);
}

TEST(env_with_duplicate_keys_updates_the_last_one)
{
        struct result r = RENDER_LINUX("WithEnv A=1 A=2", "WithEnv A=3");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=1\",\"A=3\"]");
        result_free(&r);
        r = RENDER_LINUX("WithEnv A=1 A=2", "WithEnv A");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=1\"]");
        result_free(&r);
}

TEST(env_keys_end_at_the_first_equals_sign)
{
        struct result r = RENDER_LINUX("WithEnv A=b=c =x", "WithEnv A=d \"\"");
        CHECK_OK(r);
        /* "" is the key "" and unsets "=x" */
        CHECK_AT_PATH(r, "process.env", "[\"A=d\"]");
        result_free(&r);
        r = RENDER_LINUX("WithEnv A=1", "WithEnv a=2 \"A =3\"");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=1\",\"a=2\",\"A =3\"]");
        result_free(&r);
}

TEST(env_with_no_arguments_changes_nothing)
{
        struct result r = RENDER_LINUX("WithSpecFromBytes {}", "WithEnv");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process", "<absent>");
        result_free(&r);
        r = RENDER_LINUX("WithSpecFromBytes {}", "WithEnv B=1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process", "{\"user\":{\"uid\":0,\"gid\":0},\"env\":[\"B=1\"],\"cwd\":\"\"}");
        result_free(&r);
}

TEST(env_unsetting_every_entry_leaves_no_env)
{
        struct result r = RENDER_LINUX("WithEnv A=1", "WithEnv A");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "<absent>");
        result_free(&r);
}

TEST(env_file_nul_bytes_are_data_as_in_containerd)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, NULL, NULL))
                return;
        /* A NUL is part of the key or value; a key holding one is another key.
         * Invalid UTF-8 (the escape byte C0 among it) prints as U+FFFD. */
        static const char env[] = "A\0=2\nA=x\0y\nC=\xc0\xc0\x80\n";
        write_bytes(fs.etc, "env", env, sizeof(env) - 1);
        char line[256];
        snprintf(line, sizeof(line), "WithEnvFile %s/env", fs.etc);
        struct result r = RENDER_LINUX("WithEnv A=1", line);
        CHECK_OK(r);
        CHECK_CONTAINS(r.text, "\"env\":[\"A=x\\u0000y\",\"A\\u0000=2\",\"C=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]");
        result_free(&r);
        /* Later options compare the bytes: A= replaces the NUL-holding value, not A\0. */
        r = RENDER_LINUX("WithEnv A=1", line, "WithEnv A=3 A");
        CHECK_OK(r);
        CHECK_CONTAINS(r.text, "\"env\":[\"A\\u0000=2\",\"C=\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]");
        result_free(&r);
        unlink(line + strlen("WithEnvFile "));
        rootfs_remove(&fs);
}

TEST(default_path_env_replaces_path_and_keeps_the_rest)
{
        struct result r = RENDER_LINUX("WithEnv PATH=/x A=1", "WithDefaultPathEnv");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env",
                      "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=1\"]");
        result_free(&r);
        r = RENDER_LINUX("WithSpecFromBytes {\"process\":{}}", "WithDefaultPathEnv");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]");
        result_free(&r);
}

TEST(tty_appends_term_on_linux_every_time)
{
        struct result r = RENDER_LINUX("WithTTY", "WithTTY");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.terminal", "true");
        CHECK_AT_PATH(r, "process.env", "[\"TERM=xterm\",\"TERM=xterm\"]");
        result_free(&r);
        r = RENDER("windows/amd64", NULL, "WithTTY");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.terminal", "true");
        CHECK_AT_PATH(r, "process.env", "<absent>");
        result_free(&r);
}

/* ---- numbers converted as Go converts them ----------------------------------- */

TEST(tty_size_minus_one_wraps_to_the_largest_uint)
{
        struct result r = RENDER_LINUX("WithTTYSize -1 -1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.consoleSize", "{\"height\":18446744073709551615,\"width\":18446744073709551615}");
        result_free(&r);
        r = RENDER_LINUX("WithTTYSize 80 24", "WithTTYSize -9223372036854775808 0");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.consoleSize", "{\"height\":0,\"width\":9223372036854775808}");
        result_free(&r);
}

TEST(memory_limit_past_int64_wraps_on_linux_but_not_on_windows)
{
        struct result r = RENDER_LINUX("WithMemoryLimit 18446744073709551615");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux.resources.memory", "{\"limit\":-1}");
        CHECK_AT_PATH(r, "windows", "<absent>");
        result_free(&r);
        r = RENDER_LINUX("WithMemoryLimit 9223372036854775808");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux.resources.memory.limit", "-9223372036854775808");
        result_free(&r);
        r = RENDER("windows/amd64", NULL, "WithMemoryLimit 18446744073709551615");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "windows.resources", "{\"memory\":{\"limit\":18446744073709551615}}");
        CHECK_AT_PATH(r, "linux", "<absent>");
        result_free(&r);
        /* a spec with both sections gets both */
        r = RENDER_LINUX("WithSpecFromBytes {\"linux\":{},\"windows\":{}}", "WithMemoryLimit 18446744073709551615");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux.resources.memory.limit", "-1");
        CHECK_AT_PATH(r, "windows.resources.memory.limit", "18446744073709551615");
        result_free(&r);
        /* and one with neither, nothing */
        r = RENDER("darwin/arm64", NULL, "WithMemoryLimit 5");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux", "<absent>");
        CHECK_AT_PATH(r, "windows", "<absent>");
        result_free(&r);
}

/* ---- mounts ------------------------------------------------------------------- */

TEST(dev_shm_size_may_be_negative_and_replaces_every_size_option)
{
        struct result r = RENDER_LINUX("WithDevShmSize -5");
        CHECK_OK(r);
        CHECK_STREQ(mount_text(r.doc, "/dev/shm"),
                    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\","
                    "\"nodev\",\"mode=1777\",\"size=-5k\"]}");
        result_free(&r);
        r = RENDER_LINUX("WithSpecFromBytes {\"mounts\":[{\"destination\":\"/dev/shm/\",\"type\":\"tmpfs\",\"source\":\"shm\","
                         "\"options\":[\"size=1k\",\"a\",\"size=2k\",\"size=\",\"b\"]}]}",
                         "WithDevShmSize 0");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "mounts", "[{\"destination\":\"/dev/shm/\",\"type\":\"tmpfs\",\"source\":\"shm\","
                                   "\"options\":[\"a\",\"b\",\"size=0k\"]}]");
        result_free(&r);
}

TEST(dev_shm_size_needs_a_tmpfs_shm_mount)
{
        struct result r = RENDER_LINUX("WithoutMounts /dev/shm", "WithDevShmSize 1");
        CHECK_REFUSED(r, EINVAL, "no /dev/shm mount specified");
        CHECK_UINTEQ(r.failed_line, 1);
        result_free(&r);
        r = RENDER_LINUX("WithSpecFromBytes {\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]}",
                         "WithDevShmSize 1");
        CHECK_REFUSED(r, EINVAL, "no /dev/shm mount specified");
        result_free(&r);
        r = RENDER_LINUX("WithSpecFromBytes {\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"shm\"}]}",
                         "WithDevShmSize 1");
        CHECK_REFUSED(r, EINVAL, "no /dev/shm mount specified");
        result_free(&r);
        /* the first matching mount is the one changed */
        r = RENDER_LINUX("WithSpecFromBytes {\"mounts\":[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\"},"
                         "{\"destination\":\"/dev//shm\",\"type\":\"tmpfs\",\"source\":\"shm\"}]}",
                         "WithDevShmSize 7");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "mounts", "[{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"size=7k\"]},"
                                   "{\"destination\":\"/dev//shm\",\"type\":\"tmpfs\",\"source\":\"shm\"}]");
        result_free(&r);
}

TEST(without_mounts_cleans_mount_destinations_but_not_its_arguments)
{
        static const char spec[] =
                "WithSpecFromBytes {\"mounts\":[{\"destination\":\"/tmp/\"},{\"destination\":\"/tmp\"},"
                "{\"destination\":\"/tmp/x/..\"},{\"destination\":\"//tmp\"},{\"destination\":\"/var\"},"
                "{\"destination\":\"tmp\"}]}";
        struct result r = RENDER_LINUX(spec, "WithoutMounts /tmp");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "mounts", "[{\"destination\":\"/var\"},{\"destination\":\"tmp\"}]");
        result_free(&r);
        r = RENDER_LINUX(spec, "WithoutMounts /tmp/ /var/");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "mounts", "[{\"destination\":\"/tmp/\"},{\"destination\":\"/tmp\"},{\"destination\":\"/tmp/x/..\"},"
                                   "{\"destination\":\"//tmp\"},{\"destination\":\"/var\"},{\"destination\":\"tmp\"}]");
        result_free(&r);
        r = RENDER_LINUX(spec, "WithoutMounts /tmp /var tmp");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "mounts", "<absent>");
        result_free(&r);
        r = RENDER_LINUX(spec, "WithoutMounts");
        CHECK_OK(r);
        CHECK(strstr(jtext(r.doc, "mounts"), "\"/tmp/x/..\"") != NULL);
        result_free(&r);
}

TEST(without_run_mount_removes_only_run)
{
        struct result r = RENDER_LINUX("WithoutRunMount");
        CHECK_OK(r);
        CHECK_STREQ(mount_text(r.doc, "/run"), "<absent>");
        CHECK(strcmp(mount_text(r.doc, "/proc"), "<absent>") != 0);
        CHECK(strcmp(mount_text(r.doc, "/dev/shm"), "<absent>") != 0);
        CHECK_UINTEQ(json_object_array_length(jget(r.doc, "mounts")), 6);
        result_free(&r);
}

/* ---- user and groups ------------------------------------------------------------ */

static const char test_passwd[] = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
static const char test_group[] =
        "root:x:0:root\n"
        "4294967296:x:77:\n"
        "123:x:88:\n"
        "-1:x:99:\n"
        "wheel:x:10:root,alice\n"
        "dup:x:1:\n"
        "dup:x:2:\n";

TEST(append_groups_treats_numbers_past_uint32_as_group_names)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, test_passwd, test_group))
                return;
        /* 4294967296 does not parse as a uint32 gid, so it is looked up by name;
         * 123 parses and is used as it is, whatever group is called "123" */
        struct result r = RENDER("linux/amd64", fs.dir, "WithAppendAdditionalGroups 4294967296 123 -1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":0,\"additionalGids\":[0,77,123,99]}");
        result_free(&r);
        /* the last of duplicate names wins, as in Go's map */
        r = RENDER("linux/amd64", fs.dir, "WithUIDGID 5 6", "WithAppendAdditionalGroups dup wheel 6");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":5,\"gid\":6,\"additionalGids\":[6,2,10,6]}");
        result_free(&r);
        /* the groups append to what is there */
        r = RENDER("linux/amd64", fs.dir, "WithAppendAdditionalGroups wheel", "WithAppendAdditionalGroups wheel");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user.additionalGids", "[0,10,10]");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithAppendAdditionalGroups wheel nosuch");
        CHECK_REFUSED(r, ENOENT, "unable to find group nosuch");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithAppendAdditionalGroups 4294967297");
        CHECK_REFUSED(r, ENOENT, "unable to find group 4294967297");
        result_free(&r);
        /* no names: the primary gid alone */
        r = RENDER("linux/amd64", fs.dir, "WithAppendAdditionalGroups");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user.additionalGids", "[0]");
        result_free(&r);
        rootfs_remove(&fs);
}

TEST(append_groups_on_windows_does_nothing)
{
        struct result r = RENDER("windows/amd64", NULL, "WithAppendAdditionalGroups nosuch");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":0}");
        result_free(&r);
}

TEST(append_groups_needs_an_etc_group)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, test_passwd, NULL))
                return;
        struct result r = RENDER("linux/amd64", fs.dir, "WithAppendAdditionalGroups 5");
        CHECK_REFUSED(r, ENOENT, "etc/group: no such file or directory");
        result_free(&r);
        rootfs_remove(&fs);
}

TEST(user_id_without_a_passwd_entry_gets_gid_zero)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, test_passwd, test_group))
                return;
        struct result r = RENDER("linux/amd64", fs.dir, "WithUserID 1000");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithUIDGID 1 2", "WithUserID 4242");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":4242,\"gid\":0,\"additionalGids\":[0]}");
        result_free(&r);
        rootfs_remove(&fs);
}

TEST(user_names_holding_nul_bytes_match_only_the_same_bytes)
{
        static const char passwd[] = "alice:x:1000:1000::/:/bin/sh\nbo\0b:x:1001:1001::/:/bin/sh\n"
                                     "bo:x:1002:1002::/:/bin/sh\n";
        static const char group[] = "wheel:x:10:alice,bo\0b\nstaff:x:50:bo\n";
        struct rootfs fs;
        if (!rootfs_make(&fs, NULL, NULL))
                return;
        write_bytes(fs.etc, "passwd", passwd, sizeof(passwd) - 1);
        write_bytes(fs.etc, "group", group, sizeof(group) - 1);
        struct result r = RENDER("linux/amd64", fs.dir, "WithUserID 1001");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":1001,\"gid\":1001,\"additionalGids\":[1001]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithUsername bo");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":1002,\"gid\":1002,\"additionalGids\":[1002]}");
        result_free(&r);
        /* "bo" is not the member "bo\0b" of wheel ... */
        r = RENDER("linux/amd64", fs.dir, "WithUser alice", "WithAdditionalGIDs bo");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user.additionalGids", "[1000,50]");
        result_free(&r);
        /* ... but the user of uid 1001 is */
        r = RENDER("linux/amd64", fs.dir, "WithUser alice", "WithAdditionalGIDs 1001");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user.additionalGids", "[1000,10]");
        result_free(&r);
        rootfs_remove(&fs);
}

TEST(user_with_an_empty_part_names_nothing_and_needs_no_lookup)
{
        /* No rootfs at all: a look-up would fail with "rootfs absolute path is required". */
        struct result r = RENDER_LINUX("WithUser :1000");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":1000,\"additionalGids\":[1000]}");
        result_free(&r);
        r = RENDER_LINUX("WithUser 1000:");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":1000,\"gid\":0,\"additionalGids\":[0]}");
        result_free(&r);
        r = RENDER_LINUX("WithUIDGID 5 5", "WithUser :");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}");
        result_free(&r);
        /* numbers wrap to uint32 as Go's uint32(int) does */
        r = RENDER_LINUX("WithUser 4294967296:-1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":4294967295,\"additionalGids\":[4294967295]}");
        result_free(&r);
        r = RENDER_LINUX("WithUser alice");
        CHECK_REFUSED(r, EINVAL, "rootfs absolute path is required");
        result_free(&r);
}

TEST(user_with_one_empty_part_looks_up_only_the_other)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, test_passwd, test_group))
                return;
        struct result r = RENDER("linux/amd64", fs.dir, "WithUser alice:");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":1000,\"gid\":0,\"additionalGids\":[0]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithUser :wheel");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":10,\"additionalGids\":[10]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithUser -1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":4294967295,\"gid\":0,\"additionalGids\":[0]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithUser 4294968296");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.user", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, "WithUser :nosuch");
        CHECK_REFUSED(r, ENOENT, "no groups found");
        result_free(&r);
        rootfs_remove(&fs);
}

/* ---- sections that containerd dereferences without checking ---------------------- */

TEST(options_that_panic_in_containerd_are_refused_on_a_spec_without_the_section)
{
        static const char *const options[] = {
                "WithMemorySwap 1", "WithPidsLimit 1", "WithRdt a b c", "WithDefaultPathEnv",
                "WithCPUShares 1", "WithCPUs 0", "WithBlockIO {}",
        };
        for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
                struct result r = RENDER_LINUX("WithHostname h", "WithSpecFromBytes {}", options[i]);
                CHECK_INTEQ(r.rc, -EINVAL);
                CHECK_UINTEQ(r.failed_line, 2);
                char prefix[64];
                snprintf(prefix, sizeof(prefix), "line 3: %.*s: ", (int) strcspn(options[i], " "), options[i]);
                if (!CHECK(strncmp(r.err.msg, prefix, strlen(prefix)) == 0))
                        fprintf(stderr, "    %s: %s\n", options[i], r.err.msg);
                result_free(&r);
        }
}

TEST(options_that_panic_in_containerd_work_once_the_section_exists)
{
        struct result r = RENDER_LINUX("WithSpecFromBytes {\"linux\":{}}", "WithMemorySwap -1", "WithPidsLimit 0",
                                       "WithRdt c \"\" m");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux", "{\"resources\":{\"memory\":{\"swap\":-1},\"pids\":{\"limit\":0}},"
                                  "\"intelRdt\":{\"closID\":\"c\",\"memBwSchema\":\"m\"}}");
        result_free(&r);
        /* on the darwin default spec (no linux) too they are refused */
        r = RENDER("darwin/arm64", NULL, "WithPidsLimit 5");
        CHECK_INTEQ(r.rc, -EINVAL);
        result_free(&r);
}

TEST(a_refused_platform_is_reported_before_any_line)
{
        struct result r = RENDER("linux/amd64/v7/extra", NULL, "WithHostname h");
        CHECK_INTEQ(r.rc, -EINVAL);
        CHECK_UINTEQ(r.failed_line, 1);
        CHECK_CONTAINS(r.err.msg, "cannot parse platform specifier");
        result_free(&r);
}

/* spec_build of one parsed line for a namespace, with line numbers or not. */
static int build_one(const char *ns, const char *line, const size_t *numbers, size_t *ret_failed, bf_error *err)
{
        struct optline *l = NULL;
        bf_error perr = { 0 };
        if (!CHECK_INTEQ(optline_parse(line, strlen(line), &l, &perr), 0))
                return -EINVAL;
        struct render_input in = {
                .platform = "darwin/amd64", .namespace_ = ns, .id = "c1", .lines = &l, .nlines = 1,
                .line_numbers = numbers,
        };
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec s;
        int rc = spec_build(&a, &in, &s, ret_failed, err);
        arena_done(&a);
        optline_unref(l);
        return rc;
}

TEST(a_namespace_that_is_not_an_identifier_is_refused_before_any_line)
{
        static const char *const bad[] = { "", "a/b", "a..b", "-a",
                                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                bf_error err = { 0 };
                size_t failed = 99;
                CHECK_INTEQ(build_one(bad[i], "WithHostname h", NULL, &failed, &err), -EINVAL);
                CHECK_UINTEQ(failed, 1);
                CHECK_CONTAINS(err.msg, i == 0 ? "namespace is required" : "namespace validation: identifier");
        }
        bf_error err = { 0 };
        CHECK_INTEQ(build_one("k8s.io", "WithHostname h", NULL, NULL, &err), 0);
}

TEST(refusals_number_lines_by_their_place_or_by_the_numbers_given)
{
        bf_error err = { 0 };
        CHECK_INTEQ(build_one("default", "WithMemorySwap 1", NULL, NULL, &err), -EINVAL);
        CHECK(strncmp(err.msg, "line 1: WithMemorySwap: ", 24) == 0);
        static const size_t numbers[] = { 7 };
        err = (bf_error){ 0 };
        CHECK_INTEQ(build_one("default", "WithMemorySwap 1", numbers, NULL, &err), -EINVAL);
        CHECK(strncmp(err.msg, "line 7: WithMemorySwap: ", 24) == 0);
}

/* ---- null strings in JSON input ------------------------------------------------- */

/* Go reads null into a string as "": a spec whose string arrays hold nulls
 * renders through every option that walks those arrays. */
static const char null_spec[] =
        "WithSpecFromBytes {\"process\":{\"args\":[null],\"env\":[null,\"A=1\"],\"capabilities\":{\"bounding\":[null,\"CAP_KILL\"],\"effective\":[null],\"permitted\":[null],\"ambient\":[null]}},\"mounts\":[{\"destination\":null,\"type\":null,\"options\":[null]},{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[null,\"size=1k\"]},{\"destination\":\"/sys\",\"type\":\"sysfs\",\"options\":[null,\"ro\"]}],\"annotations\":{\"k\":null},\"linux\":{\"namespaces\":[{\"type\":null}]}}";

TEST(null_strings_in_a_spec_render_through_every_option_that_walks_them)
{
        struct result r = RENDER_LINUX(null_spec, "WithMounts [{\"destination\":\"/x\",\"options\":[null]}]",
                                       "WithEnv B=2", "WithDefaultPathEnv", "WithTTY", "WithAddedCapabilities CAP_CHOWN",
                                       "WithDroppedCapabilities CAP_KILL", "WithDevShmSize 64", "WithWriteableSysfs",
                                       "WithWriteableCgroupfs", "WithoutMounts /x", "WithoutRunMount",
                                       "WithHostNamespace pid", "WithLinuxNamespace \"\" /p", "WithAnnotations k2=v");
        CHECK_OK(r);
        /* replaceOrAppendEnvValues drops "" entries */
        CHECK_AT_PATH(r, "process.env",
                      "[\"A=1\",\"B=2\",\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
                      "\"TERM=xterm\"]");
        CHECK_AT_PATH(r, "process.args", "[\"\"]");
        CHECK_AT_PATH(r, "process.capabilities",
                      "{\"bounding\":[\"\",\"CAP_CHOWN\"],\"effective\":[\"\",\"CAP_CHOWN\"],"
                      "\"permitted\":[\"\",\"CAP_CHOWN\"],\"ambient\":[\"\"]}");
        CHECK_AT_PATH(r, "mounts",
                      "[{\"destination\":\"\",\"options\":[\"\"]},"
                      "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"\",\"size=64k\"]},"
                      "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"options\":[\"\",\"rw\"]}]");
        CHECK_AT_PATH(r, "annotations", "{\"k\":\"\",\"k2\":\"v\"}");
        CHECK_AT_PATH(r, "linux.namespaces", "[{\"type\":\"\",\"path\":\"/p\"}]");
        result_free(&r);
        /* the lists replaced or emptied by an option, and the capability sets */
        r = RENDER_LINUX(null_spec, "WithCapabilities CAP_KILL", "WithAmbientCapabilities", "WithProcessArgs a",
                         "WithMaskedPaths", "WithReadonlyPaths /r", "WithAllKnownCapabilities",
                         "WithDroppedCapabilities CAP_KILL");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.args", "[\"a\"]");
        CHECK_AT_PATH(r, "process.capabilities.ambient", "<absent>");
        CHECK_AT_PATH(r, "linux.readonlyPaths", "[\"/r\"]");
        result_free(&r);
}

TEST(null_strings_in_an_image_config_render)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, "root:x:0:0:root:/root:/bin/sh\n", "wheel:x:10:root\n"))
                return;
        write_file(fs.etc, "image.json",
                   "{\"config\":{\"User\":null,\"WorkingDir\":null,\"Env\":[null,\"X=1\"],"
                   "\"Entrypoint\":[null,\"e\"],\"Cmd\":[null]}}");
        char line[256], args_line[256];
        snprintf(line, sizeof(line), "WithImageConfig %s/image.json", fs.etc);
        snprintf(args_line, sizeof(args_line), "WithImageConfigArgs %s/image.json x", fs.etc);
        struct result r = RENDER("linux/amd64", fs.dir, "WithEnv A=1", line);
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"X=1\",\"A=1\"]");
        CHECK_AT_PATH(r, "process.args", "[\"\",\"e\",\"\"]");
        CHECK_AT_PATH(r, "process.cwd", "\"/\"");
        CHECK_AT_PATH(r, "process.user", "{\"uid\":0,\"gid\":0,\"additionalGids\":[0,10]}");
        result_free(&r);
        r = RENDER("linux/amd64", fs.dir, args_line);
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.args", "[\"\",\"e\",\"x\"]");
        result_free(&r);
        r = RENDER("windows/amd64", fs.dir, line);
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.args", "[\"\",\"e\",\"\"]");
        result_free(&r);
        char path[256];
        snprintf(path, sizeof(path), "%s/image.json", fs.etc);
        unlink(path);
        rootfs_remove(&fs);
}

/* ---- privileged ------------------------------------------------------------------- */

/* The known effective capabilities of this process, as JSON, from /proc. */
static char *current_caps_json(void)
{
        FILE *f = fopen("/proc/self/status", "r");
        if (!f)
                return NULL;
        char line[256];
        unsigned long long eff = 0;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "CapEff:", 7) == 0)
                        eff = strtoull(line + 7, NULL, 16);
        fclose(f);
        buf b = { 0 };
        for (unsigned i = 0; i < 64; i++)
                if ((eff >> i) & 1 && caps_name(i))
                        buf_printf(&b, "%s\"%s\"", b.len ? "," : "", caps_name(i));
        if (!b.len)
                return NULL;
        char *inner = buf_steal(&b, NULL);
        buf_printf(&b, "[%s]", inner);
        free(inner);
        return buf_steal(&b, NULL);
}

TEST(privileged_on_linux_opens_up_the_default_spec)
{
        struct result r = RENDER_LINUX("WithPrivileged");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux.maskedPaths", "<absent>");
        CHECK_AT_PATH(r, "linux.readonlyPaths", "<absent>");
        CHECK_AT_PATH(r, "linux.seccomp", "<absent>");
        CHECK_STREQ(mount_text(r.doc, "/sys"),
                    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\","
                    "\"nodev\",\"rw\"]}");
        char *caps = current_caps_json();
        if (caps) {
                CHECK_AT_PATH(r, "process.capabilities.bounding", caps);
                CHECK_AT_PATH(r, "process.capabilities.effective", caps);
                CHECK_AT_PATH(r, "process.capabilities.permitted", caps);
        } else {
                CHECK_AT_PATH(r, "process.capabilities", "{}");
        }
        free(caps);
        result_free(&r);
}

TEST(privileged_on_darwin_adds_an_empty_linux_section)
{
        struct result r = RENDER("darwin/arm64", NULL, "WithPrivileged");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux", "{}");
        CHECK_AT_PATH(r, "process.selinuxLabel", "<absent>");
        CHECK_AT_PATH(r, "process.apparmorProfile", "<absent>");
        CHECK_AT_PATH(r, "process.cwd", "\"/\"");
        CHECK_AT_PATH(r, "mounts", "<absent>");
        char *caps = current_caps_json();
        if (caps)
                CHECK_AT_PATH(r, "process.capabilities.bounding", caps);
        else
                CHECK_AT_PATH(r, "process.capabilities", "{}");
        free(caps);
        result_free(&r);
}

/* ---- specs from files --------------------------------------------------------------- */

TEST(spec_from_a_file_holding_null_is_the_zero_spec)
{
        struct rootfs fs;
        if (!rootfs_make(&fs, NULL, NULL))
                return;
        write_file(fs.etc, "passwd", "null");
        write_file(fs.etc, "group", "5");
        char line[256];
        snprintf(line, sizeof(line), "WithSpecFromFile %s/passwd", fs.etc);
        struct result r = RENDER_LINUX("WithHostname h", line);
        CHECK_OK(r);
        CHECK_STREQ(r.text, "{\"ociVersion\":\"\"}\n");
        result_free(&r);
        snprintf(line, sizeof(line), "WithSpecFromFile %s/group", fs.etc);
        r = RENDER_LINUX(line);
        CHECK_REFUSED(r, EINVAL,
                      "decoding spec config file failed, current supported OCI runtime-spec : v1.1.0-rc.1: json: "
                      "cannot unmarshal number into Go value of type specs.Spec");
        result_free(&r);
        rootfs_remove(&fs);
}

TEST(spec_from_bytes_replaces_the_whole_spec)
{
        struct result r = RENDER_LINUX("WithHostname h", "WithEnv A=1", "WithSpecFromBytes {\"hostname\":\"x\"}");
        CHECK_OK(r);
        CHECK_STREQ(r.text, "{\"ociVersion\":\"\",\"hostname\":\"x\"}\n");
        result_free(&r);
        /* the line's own value is not changed by the options after it */
        r = RENDER_LINUX("WithSpecFromBytes {\"process\":{\"env\":[\"A=1\"]}}", "WithEnv A=2", "WithEnv B=1");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "process.env", "[\"A=2\",\"B=1\"]");
        result_free(&r);
}

TEST(a_parsed_line_renders_the_same_every_time)
{
        struct optline *l = NULL;
        bf_error err = { 0 };
        const char *text = "WithSpecFromBytes {\"process\":{\"env\":[\"A=1\"],\"args\":[\"x\"]},\"mounts\":[{\"destination\":\"/m\","
                           "\"options\":[\"size=1k\"],\"type\":\"tmpfs\",\"source\":\"shm\"}]}";
        if (!CHECK(optline_parse(text, strlen(text), &l, &err) == 0))
                return;
        struct optline *l2 = NULL, *l3 = NULL;
        CHECK(optline_parse("WithEnv A=2 C=3", 15, &l2, &err) == 0);
        CHECK(optline_parse("WithAddedCapabilities CAP_X", 27, &l3, &err) == 0);
        struct optline *lines[] = { l, l2, l3 };
        struct render_input in = {
                .platform = "linux/amd64", .namespace_ = "n", .id = "i", .lines = lines, .nlines = 3,
        };
        buf first = { 0 }, second = { 0 };
        CHECK(spec_render(&in, &first, &err) == 0);
        CHECK(spec_render(&in, &second, &err) == 0);
        CHECK_STREQ(first.p, second.p);
        CHECK_CONTAINS(first.p, "\"env\":[\"A=2\",\"C=3\"]");
        buf_free(&first);
        buf_free(&second);
        optline_unref(l);
        optline_unref(l2);
        optline_unref(l3);
}

/* ---- namespaces and annotations --------------------------------------------------- */

TEST(namespaced_cgroup_joins_namespace_and_id)
{
        struct result r = RENDER_LINUX("WithCgroup /x", "WithNamespacedCgroup");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux.cgroupsPath", "\"/default/c1\"");
        result_free(&r);
}

TEST(annotations_are_added_and_replaced_by_key)
{
        struct result r = RENDER_LINUX("WithAnnotations b=2 a=1 c=x=y", "WithAnnotations a=3 \"d=\"");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "annotations", "{\"a\":\"3\",\"b\":\"2\",\"c\":\"x=y\",\"d\":\"\"}");
        result_free(&r);
        r = RENDER_LINUX("WithAnnotations");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "annotations", "<absent>");
        result_free(&r);
}

TEST(user_namespace_is_added_once_and_mappings_accumulate)
{
        struct result r = RENDER_LINUX("WithUserNamespace [{\"containerID\":0,\"hostID\":1000,\"size\":10}] []",
                                       "WithUserNamespace [] [{\"containerID\":0,\"hostID\":2000,\"size\":20}]");
        CHECK_OK(r);
        CHECK_AT_PATH(r, "linux.uidMappings", "[{\"containerID\":0,\"hostID\":1000,\"size\":10}]");
        CHECK_AT_PATH(r, "linux.gidMappings", "[{\"containerID\":0,\"hostID\":2000,\"size\":20}]");
        CHECK_AT_PATH(r, "linux.namespaces",
                      "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"network\"},"
                      "{\"type\":\"user\"}]");
        result_free(&r);
}
