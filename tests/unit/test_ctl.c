/* ctl: the grammar of every control file. What each written value becomes
 * (the option lines), what is refused and why, what a read shows from a
 * rendered spec, and that the files docs/bundlefs.md marks rt read back
 * what they show. */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "optline.h"
#include "render.h"
#include "spec.h"

/* ---- a bundle rootfs, and an image config beside it -------------------------- */

static char dir[] = "/tmp/bundlefs-ctl-XXXXXX";
static char rootfs[64], image[64];

static void put_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
                perror(path);
                exit(2);
        }
        close(fd);
}

__attribute__((constructor)) static void fixtures_make(void)
{
        char etc[96], path[128];
        if (!mkdtemp(dir)) {
                perror(dir);
                exit(2);
        }
        snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
        snprintf(etc, sizeof(etc), "%s/etc", rootfs);
        snprintf(image, sizeof(image), "%s/image.json", dir);
        if (mkdir(rootfs, 0755) < 0 || mkdir(etc, 0755) < 0) {
                perror(etc);
                exit(2);
        }
        snprintf(path, sizeof(path), "%s/passwd", etc);
        put_file(path, "root:x:0:0:root:/root:/bin/sh\n"
                       "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
                       "bob:x:1001:1001:Bob:/home/bob:/bin/sh\n");
        snprintf(path, sizeof(path), "%s/group", etc);
        put_file(path, "root:x:0:\nwheel:x:10:alice\naudio:x:29:bob\nvideo:x:44:alice,bob\nalice:x:1000:\n"
                       "bob:x:1001:\n");
        put_file(image, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"bob\","
                        "\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/srv\"}}");
}

__attribute__((destructor)) static void fixtures_remove(void)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/etc/passwd", rootfs);
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc/group", rootfs);
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc", rootfs);
        rmdir(path);
        rmdir(rootfs);
        unlink(image);
        rmdir(dir);
}

/* ---- helpers ---------------------------------------------------------------------- */

static const struct ctl *ctl_at_line(const char *file, int line, const char *name)
{
        const struct ctl *c = ctl_find(name);
        if (!CHECK_AT(file, line, c != NULL))
                fprintf(stderr, "    no control file %s\n", name);
        return c;
}

/* Lines as their canonical text, one per line (what opts shows). */
static char *text_of(struct optline *const *lines, size_t n)
{
        buf b = { 0 };
        optline_print_all(&b, lines, n);
        buf_putc(&b, '\0');
        return buf_steal(&b, NULL);
}

/* The option lines a value written to the file becomes; want: their text,
 * one per line. */
#define WRITES(name, value, want) writes(__FILE__, __LINE__, (name), (value), sizeof(value) - 1, (want))

static void writes(const char *file, int line, const char *name, const char *value, size_t len, const char *want)
{
        const struct ctl *c = ctl_at_line(file, line, name);
        if (!c)
                return;
        struct optline **lines = NULL;
        size_t n = 0;
        bf_error err = { 0 };
        if (!CHECK_INTEQ_AT(file, line, ctl_parse(c, value, len, &lines, &n, &err), 0)) {
                fprintf(stderr, "    %s <- \"%.*s\": %s\n", name, (int) len, value, err.msg);
                return;
        }
        char *got = text_of(lines, n);
        CHECK_STREQ_AT(file, line, got, want);
        free(got);
        optline_free_all(lines, n);
}

/* The value is refused with code and exactly this message. */
#define REFUSES(name, value, code, msg) \
        refuses(__FILE__, __LINE__, (name), (value), sizeof(value) - 1, (code), (msg))

static void refuses(const char *file, int line, const char *name, const char *value, size_t len, int code,
                    const char *msg)
{
        const struct ctl *c = ctl_at_line(file, line, name);
        if (!c)
                return;
        struct optline **lines = NULL;
        size_t n = 0;
        bf_error err = { 0 };
        int r = ctl_parse(c, value, len, &lines, &n, &err);
        if (!CHECK_INTEQ_AT(file, line, r, -code)) {
                fprintf(stderr, "    %s <- \"%.*s\"\n", name, (int) len, value);
                if (r == 0)
                        optline_free_all(lines, n);
                return;
        }
        CHECK_INTEQ_AT(file, line, err.code, code);
        CHECK_STREQ_AT(file, line, err.msg, msg);
}

/* A spec rendered (linux/amd64, the test's rootfs) from option lines. */
struct rendered {
        arena a;
        struct spec spec;
        struct optline **lines;
        size_t n;
        int rc;
        bf_error err;
};

static void rendered_free(struct rendered *r)
{
        arena_done(&r->a);
        optline_free_all(r->lines, r->n);
}

static int render_lines(struct rendered *r, const char *platform, struct optline **lines, size_t n)
{
        r->lines = lines;
        r->n = n;
        arena_init(&r->a, RENDER_ARENA_LIMIT);
        struct render_input in = {
                .platform = platform,
                .namespace_ = "default",
                .id = "c1",
                .bundle_rootfs = rootfs,
                .lines = lines,
                .nlines = n,
        };
        r->rc = spec_build(&r->a, &in, &r->spec, NULL, &r->err);
        return r->rc;
}

static int render_text(struct rendered *r, const char *platform, const char *text)
{
        struct optline **lines = NULL;
        size_t n = 0;
        *r = (struct rendered){ 0 };
        if (optline_parse_text(text, strlen(text), &lines, &n, &r->err) < 0) {
                arena_init(&r->a, 0);
                return r->rc = -r->err.code;
        }
        return render_lines(r, platform, lines, n);
}

/* What a read of the file shows after the option lines (text). */
#define SHOWS(name, opts, want) shows(__FILE__, __LINE__, "linux/amd64", (name), (opts), (want))

static void shows(const char *file, int line, const char *platform, const char *name, const char *opts,
                  const char *want)
{
        const struct ctl *c = ctl_at_line(file, line, name);
        if (!c)
                return;
        struct rendered r;
        if (!CHECK_INTEQ_AT(file, line, render_text(&r, platform, opts), 0)) {
                fprintf(stderr, "    %s\n", r.err.msg);
        } else {
                struct ctl_view v = { .spec = &r.spec, .lines = r.lines, .nlines = r.n };
                buf out = { 0 };
                bf_error err = { 0 };
                CHECK_INTEQ_AT(file, line, ctl_show(c, &v, &out, &err), 0);
                CHECK_STREQ_AT(file, line, out.p ? out.p : "", want);
                buf_free(&out);
        }
        rendered_free(&r);
}

/* ---- the files ---------------------------------------------------------------------- */

/* docs/bundlefs.md section 3, in name order. */
static const char *const documented[] = {
        "annotations", "args", "caps", "caps.ambient", "cpu.cfs", "cpu.rt", "cpu.shares", "cpuset.cpus",
        "cpuset.mems", "cwd", "devices", "domainname", "env", "groups", "hostname", "image", "memory.limit",
        "memory.swap", "mounts", "namespaces", "pids.max", "privileged", "rootfs.path", "rootfs.readonly", "tty",
        "user",
};
#define NDOCUMENTED (sizeof(documented) / sizeof(documented[0]))

TEST(the_control_files_are_those_documented_in_name_order)
{
        CHECK_UINTEQ(ctl_count(), NDOCUMENTED);
        for (size_t i = 0; i < NDOCUMENTED && i < ctl_count(); i++) {
                CHECK_STREQ(ctl_name(ctl_at(i)), documented[i]);
                CHECK(ctl_find(documented[i]) == ctl_at(i));
        }
        CHECK(ctl_at(ctl_count()) == NULL);
        CHECK(ctl_find("opts") == NULL);
        CHECK(ctl_find("config.json") == NULL);
        CHECK(ctl_find("") == NULL);
}

/* What every file does with its value before its own grammar. */
TEST(every_file_refuses_nul_bytes_invalid_utf8_and_empty_values)
{
        static const struct {
                const char *value;
                size_t len;
                const char *msg;
        } bad[] = {
                { "1\0", 2, "a value may not contain a NUL byte" },
                { "\0", 1, "a value may not contain a NUL byte" },
                { "a\nb\0c\n", 6, "a value may not contain a NUL byte" },
                { "\xff\xfe", 2, "a value must be valid UTF-8" },
                { "\xc0\xaf", 2, "a value must be valid UTF-8" },
                { "\xed\xa0\x80", 3, "a value must be valid UTF-8" },
        };
        for (size_t i = 0; i < ctl_count(); i++) {
                const char *name = ctl_name(ctl_at(i));
                char want[256];
                for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
                        snprintf(want, sizeof(want), "%s: %s", name, bad[j].msg);
                        refuses(__FILE__, __LINE__, name, bad[j].value, bad[j].len, EINVAL, want);
                }
                /* nothing, a line end alone, a CRLF alone */
                static const char *const empty[] = { "", "\n", "\r\n" };
                for (size_t j = 0; j < 3; j++) {
                        struct optline **lines = NULL;
                        size_t n = 0;
                        bf_error err = { 0 };
                        CHECK_INTEQ(ctl_parse(ctl_at(i), empty[j], strlen(empty[j]), &lines, &n, &err), -EINVAL);
                        if (!CHECK(strncmp(err.msg, name, strlen(name)) == 0 && err.msg[strlen(name)] == ':'))
                                fprintf(stderr, "    %s: %s\n", name, err.msg);
                }
        }
}

TEST(a_final_line_end_lf_or_crlf_is_not_part_of_the_value)
{
        WRITES("hostname", "web", "WithHostname web\n");
        WRITES("hostname", "web\n", "WithHostname web\n");
        WRITES("hostname", "web\r\n", "WithHostname web\n");
        /* only one: another line end, or a CR alone, is the value's */
        REFUSES("hostname", "web\n\n", EINVAL, "hostname: one line expected");
        REFUSES("hostname", "web\r\r\n", EINVAL, "hostname: a value cannot end in a carriage return");
        REFUSES("hostname", "web\r\r", EINVAL, "hostname: a value cannot end in a carriage return");
        /* a CR at the very end is taken for a line end too */
        WRITES("hostname", "web\r", "WithHostname web\n");
        WRITES("args", "a\n", "WithProcessArgs a\n");
        WRITES("args", "a\n\n", "WithProcessArgs a \"\"\n");
}

/* ---- caps ------------------------------------------------------------------------------- */

TEST(caps_takes_names_in_any_spelling_and_keeps_them_canonical)
{
        WRITES("caps", "net_admin", "WithCapabilities CAP_NET_ADMIN\n");
        WRITES("caps", "NET_ADMIN", "WithCapabilities CAP_NET_ADMIN\n");
        WRITES("caps", "cap_net_admin", "WithCapabilities CAP_NET_ADMIN\n");
        WRITES("caps", "CAP_CHOWN\nkill\n", "WithCapabilities CAP_CHOWN CAP_KILL\n");
        WRITES("caps", " CAP_CHOWN \t CAP_KILL ", "WithCapabilities CAP_CHOWN CAP_KILL\n");
        WRITES("caps", "+sys_admin +Net_Admin", "WithAddedCapabilities CAP_SYS_ADMIN CAP_NET_ADMIN\n");
        WRITES("caps", "-kill\n-cap_chown\n", "WithDroppedCapabilities CAP_KILL CAP_CHOWN\n");
        WRITES("caps", "all", "WithAllKnownCapabilities\n");
        WRITES("caps", "current", "WithAllCurrentCapabilities\n");
        WRITES("caps", "none", "WithCapabilities\n");
        WRITES("caps.ambient", "net_raw\nCAP_KILL\n", "WithAmbientCapabilities CAP_NET_RAW CAP_KILL\n");
        WRITES("caps.ambient", "none", "WithAmbientCapabilities\n");
}

TEST(caps_refuses_unknown_names_mixed_forms_and_trailing_text)
{
        REFUSES("caps", "CAP_BOGUS", EINVAL, "caps: unknown capability \"CAP_BOGUS\"");
        REFUSES("caps", "CAP_CHOWN CAP_BOGUS", EINVAL, "caps: unknown capability \"CAP_BOGUS\"");
        REFUSES("caps", "12", EINVAL, "caps: unknown capability \"12\" (use its name)");
        REFUSES("caps", "+CAP_SYS_ADMIN -CAP_CHOWN", EINVAL,
                "caps: write additions (+CAP) and removals (-CAP) separately");
        REFUSES("caps", "all CAP_CHOWN", EINVAL, "caps: unknown capability \"all\"");
        REFUSES("caps", "+", EINVAL, "caps: unknown capability \"\"");
        REFUSES("caps", "CAP_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", EINVAL,
                "caps: unknown capability \"CAP_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"");
        /* libcap reads a name from the start of its text: the rest is not dropped */
        REFUSES("caps", "CAP_CHOWN;reboot", EINVAL, "caps: unknown capability \"CAP_CHOWN;reboot\"");
        REFUSES("caps", "+chown;reboot", EINVAL, "caps: unknown capability \"chown;reboot\"");
        REFUSES("caps", "CAP_CHOWN\x01", EINVAL, "caps: unknown capability \"CAP_CHOWN \"");
        REFUSES("caps.ambient", "kill;reboot", EINVAL, "caps.ambient: unknown capability \"kill;reboot\"");
        REFUSES("caps.ambient", "+CAP_KILL", EINVAL, "caps.ambient: unknown capability \"+CAP_KILL\"");
        REFUSES("caps.ambient", "none CAP_KILL", EINVAL, "caps.ambient: unknown capability \"none\"");
}

TEST(caps_shows_the_bounding_and_ambient_sets)
{
        SHOWS("caps", "WithCapabilities CAP_CHOWN CAP_KILL", "CAP_CHOWN\nCAP_KILL\n");
        SHOWS("caps", "WithCapabilities", "");
        SHOWS("caps", "WithDroppedCapabilities CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD "
                      "CAP_NET_RAW CAP_SETGID CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE",
              "CAP_SYS_CHROOT\nCAP_KILL\nCAP_AUDIT_WRITE\n");
        SHOWS("caps.ambient", "", "");
        SHOWS("caps.ambient", "WithAmbientCapabilities CAP_KILL", "CAP_KILL\n");
        SHOWS("caps", "WithSpecFromBytes {}", "");
}

/* ---- devices ------------------------------------------------------------------------------- */

TEST(devices_takes_a_path_keywords_or_a_udev_match)
{
        WRITES("devices", "/dev/null rwm", "WithDevices /dev/null \"\" rwm\n");
        WRITES("devices", "/dev/null", "WithDevices /dev/null \"\" rwm\n");
        WRITES("devices", "/dev/zero:/dev/myzero rw\n", "WithDevices /dev/zero /dev/myzero rw\n");
        WRITES("devices", "  /dev/fuse  m ", "WithDevices /dev/fuse \"\" m\n");
        WRITES("devices", "host", "WithHostDevices\n");
        WRITES("devices", "allow-all", "WithAllDevicesAllowed\n");
        WRITES("devices", "default\n", "WithDefaultUnixDevices\n");
        WRITES("devices", "parent", "WithParentCgroupDevices\n");
}

TEST(devices_refuses_bad_paths_and_permissions)
{
        REFUSES("devices", "/dev/null rwx", EINVAL, "devices: invalid permissions \"rwx\" (a subset of rwm)");
        REFUSES("devices", "/dev/null rr", EINVAL, "devices: invalid permissions \"rr\" (a subset of rwm)");
        REFUSES("devices", "/dev/null rw rw", EINVAL, "devices: expected PATH[:CONTAINER_PATH] [PERMISSIONS]");
        REFUSES("devices", "null rw", EINVAL, "devices: expected a device path, host, allow-all, default, parent or "
                "a udev match such as subsystem=input");
        REFUSES("devices", "/dev/null:", EINVAL, "devices: the container path must be absolute");
        REFUSES("devices", "/dev/null:x rw", EINVAL, "devices: the container path must be absolute");
        REFUSES("devices", "host default", EINVAL, "devices: expected a device path, host, allow-all, default, "
                "parent or a udev match such as subsystem=input");
        REFUSES("devices", "/dev/null\n/dev/zero", EINVAL, "devices: one line expected");
}

TEST(devices_udev_match_gives_one_line_per_device_node_sorted)
{
        const struct ctl *c = ctl_find("devices");
        struct optline **lines = NULL;
        size_t n = 0;
        bf_error err = { 0 };
        if (!CHECK_INTEQ(ctl_parse(c, "subsystem=mem rw", 16, &lines, &n, &err), 0)) {
                fprintf(stderr, "    %s\n", err.msg);
                return;
        }
        /* every machine's mem class has null and zero (and full, random, ...) */
        bool null = false, zero = false;
        for (size_t i = 0; i < n; i++) {
                CHECK_STREQ(optline_option_name(lines[i]), "WithDevices");
                CHECK_UINTEQ(lines[i]->nargs, 3);
                CHECK_STREQ(lines[i]->args[1].str, "");
                CHECK_STREQ(lines[i]->args[2].str, "rw");
                CHECK(i == 0 || strcmp(lines[i - 1]->args[0].str, lines[i]->args[0].str) < 0);
                null = null || strcmp(lines[i]->args[0].str, "/dev/null") == 0;
                zero = zero || strcmp(lines[i]->args[0].str, "/dev/zero") == 0;
        }
        CHECK(null && zero);
        optline_free_all(lines, n);
        REFUSES("devices", "subsystem=no-such-subsystem-here", ENOENT,
                "devices: no device matches subsystem=no-such-subsystem-here");
        REFUSES("devices", "=input", EINVAL, "devices: invalid udev match \"=input\"");
        REFUSES("devices", "subsystem=", EINVAL, "devices: invalid udev match \"subsystem=\"");
        REFUSES("devices", "subsystem=mem bogus", EINVAL,
                "devices: expected KEY=VALUE or permissions, got \"bogus\"");
}

TEST(devices_shows_linux_devices)
{
        SHOWS("devices", "", "");
        SHOWS("devices", "WithDevices /dev/null \"\" rwm", "/dev/null c 1:3 0666\n");
        SHOWS("devices", "WithDevices /dev/zero /dev/myzero rw", "/dev/myzero c 1:5 0666\n");
        SHOWS("devices", "WithLinuxDevices [{\"path\":\"/dev/x\",\"type\":\"b\",\"major\":8,\"minor\":1}]",
              "/dev/x b 8:1 -\n");
}

/* ---- user and groups --------------------------------------------------------------------- */

TEST(user_takes_one_user_without_the_blanks_around_it)
{
        WRITES("user", "alice", "WithUser alice\n");
        WRITES("user", " alice \n", "WithUser alice\n");
        WRITES("user", "1001:44", "WithUser 1001:44\n");
        REFUSES("user", "a b", EINVAL, "user: one user expected (name, uid, name:group or uid:gid)");
        REFUSES("user", "a\nb", EINVAL, "user: one user expected (name, uid, name:group or uid:gid)");
        REFUSES("user", " \t", EINVAL, "user: empty value");
        SHOWS("user", "", "0:0\n");
        SHOWS("user", "WithUser alice", "1000:1000\n");
        SHOWS("user", "WithUser bob:video", "1001:44\n");
        SHOWS("user", "WithSpecFromBytes {}", "");
}

TEST(groups_takes_plus_groups_or_from_user)
{
        WRITES("groups", "+audio", "WithAppendAdditionalGroups audio\n");
        WRITES("groups", "+audio +4000\n", "WithAppendAdditionalGroups audio 4000\n");
        WRITES("groups", "from alice", "WithAdditionalGIDs alice\n");
        REFUSES("groups", "audio", EINVAL, "groups: expected +GROUP (a name or gid) or: from USER");
        REFUSES("groups", "+", EINVAL, "groups: expected +GROUP (a name or gid) or: from USER");
        REFUSES("groups", "from", EINVAL, "groups: expected: from USER");
        REFUSES("groups", "from a b", EINVAL, "groups: expected: from USER");
        SHOWS("groups", "", "");
        SHOWS("groups", "WithAppendAdditionalGroups audio 4000", "0\n29\n4000\n");
        SHOWS("groups", "WithAdditionalGIDs alice", "0\n10\n44\n");
}

/* ---- env, args, annotations ------------------------------------------------------------------ */

TEST(env_args_and_annotations_take_one_argument_per_line)
{
        WRITES("env", "A=1\nB=x y\n", "WithEnv A=1 \"B=x y\"\n");
        WRITES("env", "EMPTY=", "WithEnv EMPTY=\n");
        WRITES("env", "A=1\r\nB=2\r\n", "WithEnv A=1 B=2\n");
        WRITES("args", "/bin/sh\n-c\necho \"$HOME\"\n", "WithProcessArgs /bin/sh -c \"echo \\\"$HOME\\\"\"\n");
        WRITES("args", "a\n\nb", "WithProcessArgs a \"\" b\n");
        WRITES("args", "[1]\n{}\n", "WithProcessArgs \"[1]\" \"{}\"\n");
        WRITES("annotations", "a=1\nb=x y\n", "WithAnnotations a=1 \"b=x y\"\n");
        WRITES("annotations", "org.example/key=v=w", "WithAnnotations org.example/key=v=w\n");
}

TEST(env_args_and_annotations_refuse_lines_that_would_not_read_back)
{
        REFUSES("env", "NOEQUALS", EINVAL, "env: expected KEY=VALUE, got \"NOEQUALS\"");
        REFUSES("env", "=x", EINVAL, "env: expected KEY=VALUE, got \"=x\"");
        REFUSES("env", "A=1\n\nB=2", EINVAL, "env: expected KEY=VALUE, got \"\"");
        REFUSES("env", "A=1\r\r\nB=2", EINVAL, "env: a line cannot end in a carriage return");
        REFUSES("args", "a\r\r\nb\n", EINVAL, "args: a line cannot end in a carriage return");
        REFUSES("args", "\r\r", EINVAL, "args: a line cannot end in a carriage return");
        REFUSES("annotations", "a=1\nnovalue", EINVAL, "annotations: expected KEY=VALUE, got \"novalue\"");
        REFUSES("annotations", "a=1\n\n", EINVAL, "annotations: expected KEY=VALUE, got \"\"");
}

TEST(env_args_and_annotations_show_one_per_line)
{
        SHOWS("env", "", "");
        SHOWS("env", "WithEnv A=1 \"B=x y\"", "A=1\nB=x y\n");
        SHOWS("args", "WithProcessArgs a \"b c\"", "a\nb c\n");
        SHOWS("annotations", "WithAnnotations b=2 a=1 c=k=v", "a=1\nb=2\nc=k=v\n");
        SHOWS("annotations", "", "");
}

/* ---- strings --------------------------------------------------------------------------------- */

TEST(string_files_take_the_whole_line)
{
        WRITES("cwd", "/srv/my app\n", "WithProcessCwd \"/srv/my app\"\n");
        WRITES("hostname", "box1", "WithHostname box1\n");
        WRITES("hostname", " box1 ", "WithHostname \" box1 \"\n");
        WRITES("domainname", "example.org\n", "WithDomainname example.org\n");
        WRITES("rootfs.path", "/srv/root", "WithRootFSPath /srv/root\n");
        WRITES("image", "/images/app.json", "WithImageConfig /images/app.json\n");
        WRITES("hostname", "a\rb", "WithHostname \"a\\rb\"\n");
        REFUSES("cwd", "/a\n/b", EINVAL, "cwd: one line expected");
        REFUSES("domainname", "72\r\r\n", EINVAL, "domainname: a value cannot end in a carriage return");
        REFUSES("rootfs.path", "/r\r\r\n", EINVAL, "rootfs.path: a value cannot end in a carriage return");
        REFUSES("image", "images/app.json", EINVAL, "image: invalid option line: WithImageConfig: argument 1: host "
                "path \"images/app.json\" is not absolute");
}

TEST(string_files_show_their_field)
{
        SHOWS("cwd", "", "/\n");
        SHOWS("cwd", "WithProcessCwd \"/srv/my app\"", "/srv/my app\n");
        SHOWS("hostname", "", "");
        SHOWS("hostname", "WithHostname box1", "box1\n");
        SHOWS("domainname", "WithDomainname example.org", "example.org\n");
        SHOWS("rootfs.path", "", "rootfs\n");
        SHOWS("rootfs.path", "WithRootFSPath /srv/root", "/srv/root\n");
        SHOWS("rootfs.path", "WithSpecFromBytes {}", "");
        SHOWS("cwd", "WithSpecFromBytes {}", "");
}

TEST(image_shows_the_last_image_config_since_the_spec_was_replaced)
{
        char opts[512];
        SHOWS("image", "", "");
        snprintf(opts, sizeof(opts), "WithImageConfig %s", image);
        char want[128];
        snprintf(want, sizeof(want), "%s\n", image);
        shows(__FILE__, __LINE__, "linux/amd64", "image", opts, want);
        snprintf(opts, sizeof(opts), "WithImageConfigArgs %s /bin/true\nWithHostname h", image);
        shows(__FILE__, __LINE__, "linux/amd64", "image", opts, want);
        snprintf(opts, sizeof(opts), "WithImageConfig %s\nWithDefaultSpec", image);
        shows(__FILE__, __LINE__, "linux/amd64", "image", opts, "");
        snprintf(opts, sizeof(opts), "WithSpecFromBytes {\"process\":{},\"linux\":{}}\nWithImageConfig %s", image);
        shows(__FILE__, __LINE__, "linux/amd64", "image", opts, want);
        snprintf(opts, sizeof(opts), "WithImageConfig %s\nWithSpecFromBytes {\"process\":{}}", image);
        shows(__FILE__, __LINE__, "linux/amd64", "image", opts, "");
        /* the image sets the user the user file shows */
        snprintf(opts, sizeof(opts), "WithImageConfig %s", image);
        shows(__FILE__, __LINE__, "linux/amd64", "user", opts, "1001:1001\n");
}

/* ---- flags ----------------------------------------------------------------------------------- */

TEST(flag_files_take_1_and_cannot_be_turned_off)
{
        WRITES("privileged", "1\n", "WithPrivileged\n");
        WRITES("rootfs.readonly", " 1\r\n", "WithRootFSReadonly\n");
        WRITES("tty", "1", "WithTTY\n");
        REFUSES("privileged", "0", EINVAL, "privileged: privileged mode cannot be turned off: no option does that");
        REFUSES("rootfs.readonly", "0", EINVAL,
                "rootfs.readonly: a read-only root cannot be turned off: no option does that");
        REFUSES("tty", "0", EINVAL, "tty: the terminal cannot be turned off: no option does that");
        REFUSES("privileged", "yes", EINVAL, "privileged: expected 1");
        REFUSES("privileged", "11", EINVAL, "privileged: expected 1");
        REFUSES("rootfs.readonly", "1\n1", EINVAL, "rootfs.readonly: expected 1");
        REFUSES("tty", "2", EINVAL, "tty: expected 1");
}

TEST(tty_also_takes_a_console_size)
{
        WRITES("tty", "80x24\n", "WithTTYSize 80 24\n");
        REFUSES("tty", "80x", EINVAL, "tty: expected 1 or WIDTHxHEIGHT");
        REFUSES("tty", "x24", EINVAL, "tty: expected 1 or WIDTHxHEIGHT");
        REFUSES("tty", "-80x24", EINVAL, "tty: expected 1 or WIDTHxHEIGHT");
        REFUSES("tty", "80x24x1", EINVAL, "tty: expected 1 or WIDTHxHEIGHT");
        REFUSES("tty", "99999999999999999999x1", EINVAL, "tty: invalid option line: WithTTYSize: argument 1: "
                "number 99999999999999999999 out of range (int64)");
}

TEST(flag_files_show_0_or_1)
{
        SHOWS("tty", "", "0\n");
        SHOWS("tty", "WithTTY", "1\n");
        SHOWS("tty", "WithTTYSize 80 24", "0\n");
        SHOWS("tty", "WithSpecFromBytes {}", "0\n");
        SHOWS("rootfs.readonly", "", "0\n");
        SHOWS("rootfs.readonly", "WithRootFSReadonly", "1\n");
        SHOWS("rootfs.readonly", "WithSpecFromBytes {}", "0\n");
        SHOWS("privileged", "", "0\n");
        SHOWS("privileged", "WithPrivileged", "1\n");
        SHOWS("privileged", "WithPrivileged\nWithMaskedPaths /proc/kcore", "0\n");
}

/* ---- numbers ----------------------------------------------------------------------------------- */

TEST(memory_files_take_sizes_with_suffixes)
{
        WRITES("memory.limit", "536870912", "WithMemoryLimit 536870912\n");
        WRITES("memory.limit", "512K", "WithMemoryLimit 524288\n");
        WRITES("memory.limit", "256m\n", "WithMemoryLimit 268435456\n");
        WRITES("memory.limit", " 1G\r\n", "WithMemoryLimit 1073741824\n");
        WRITES("memory.limit", "1T", "WithMemoryLimit 1099511627776\n");
        WRITES("memory.limit", "9223372036854775807", "WithMemoryLimit 9223372036854775807\n");
        WRITES("memory.swap", "-1", "WithMemorySwap -1\n");
        WRITES("memory.swap", "3G", "WithMemorySwap 3221225472\n");
}

TEST(memory_files_refuse_what_would_not_read_back)
{
        REFUSES("memory.limit", "-1", EINVAL, "memory.limit: negative size \"-1\"");
        REFUSES("memory.limit", "max", EINVAL, "memory.limit: max cannot be written: no option unsets a limit");
        REFUSES("memory.limit", "1.5G", EINVAL, "memory.limit: invalid size \"1.5G\" (bytes, or K, M, G, T)");
        REFUSES("memory.limit", "1GB", EINVAL, "memory.limit: invalid size \"1GB\" (bytes, or K, M, G, T)");
        REFUSES("memory.limit", "G", EINVAL, "memory.limit: invalid size \"G\"");
        REFUSES("memory.limit", "1 G", EINVAL, "memory.limit: invalid size \"1 G\" (bytes, or K, M, G, T)");
        REFUSES("memory.limit", "18446744073709551616", EINVAL, "memory.limit: size out of range");
        REFUSES("memory.limit", "16777216T", EINVAL, "memory.limit: size out of range");
        /* the spec's limit is signed: more would read back negative */
        REFUSES("memory.limit", "9223372036854775808", EINVAL, "memory.limit: size out of range");
        REFUSES("memory.limit", "8388608T", EINVAL, "memory.limit: size out of range");
        REFUSES("memory.swap", "-2", EINVAL, "memory.swap: negative size \"-2\"");
        REFUSES("memory.swap", "--1", EINVAL, "memory.swap: negative size \"--1\"");
}

TEST(memory_files_show_bytes_or_max)
{
        SHOWS("memory.limit", "", "max\n");
        SHOWS("memory.limit", "WithMemoryLimit 1073741824", "1073741824\n");
        /* a windows spec's limit when linux has none */
        SHOWS("memory.limit", "WithSpecFromBytes {\"windows\":{\"resources\":{\"memory\":{\"limit\":1024}}}}",
              "1024\n");
        SHOWS("memory.swap", "", "max\n");
        SHOWS("memory.swap", "WithMemorySwap -1", "-1\n");
        SHOWS("memory.swap", "WithMemorySwap 3221225472", "3221225472\n");
}

TEST(number_files_take_as_many_numbers_as_their_option)
{
        WRITES("pids.max", "100", "WithPidsLimit 100\n");
        WRITES("pids.max", "\t64 ", "WithPidsLimit 64\n");
        WRITES("pids.max", "-1", "WithPidsLimit -1\n");
        WRITES("cpu.shares", "512\n", "WithCPUShares 512\n");
        WRITES("cpu.cfs", "50000 100000", "WithCPUCFS 50000 100000\n");
        WRITES("cpu.cfs", "-1 100000\n", "WithCPUCFS -1 100000\n");
        WRITES("cpu.rt", "950000 1000000", "WithCPURT 950000 1000000\n");
        REFUSES("pids.max", "max", EINVAL, "pids.max: max cannot be written: no option unsets a limit");
        REFUSES("pids.max", "1.5", EINVAL, "pids.max: invalid number \"1.5\"");
        REFUSES("pids.max", "1 2", EINVAL, "pids.max: one number expected");
        REFUSES("pids.max", "9223372036854775808", EINVAL, "pids.max: invalid option line: WithPidsLimit: argument "
                "1: number 9223372036854775808 out of range (int64)");
        REFUSES("cpu.shares", "-5", EINVAL, "cpu.shares: invalid number \"-5\"");
        REFUSES("cpu.shares", "+5", EINVAL, "cpu.shares: invalid number \"+5\"");
        REFUSES("cpu.shares", "111111111111111111111111111111", EINVAL,
                "cpu.shares: invalid number \"111111111111111111111111111111\"");
        REFUSES("cpu.shares", "18446744073709551616", EINVAL, "cpu.shares: invalid option line: WithCPUShares: "
                "argument 1: invalid number \"18446744073709551616\"");
        REFUSES("cpu.cfs", "100", EINVAL, "cpu.cfs: 2 numbers expected");
        REFUSES("cpu.cfs", "1000 -100", EINVAL, "cpu.cfs: invalid number \"-100\"");
        REFUSES("cpu.cfs", "1000\n100000", EINVAL, "cpu.cfs: one line expected");
        REFUSES("cpu.rt", "max", EINVAL, "cpu.rt: 2 numbers expected");
        REFUSES("cpu.rt", "0x10 100", EINVAL, "cpu.rt: invalid number \"0x10\"");
}

TEST(number_files_show_their_values)
{
        SHOWS("pids.max", "", "max\n");
        SHOWS("pids.max", "WithPidsLimit 100", "100\n");
        SHOWS("cpu.shares", "", "");
        SHOWS("cpu.shares", "WithCPUShares 512", "512\n");
        SHOWS("cpu.cfs", "", "max\n");
        SHOWS("cpu.cfs", "WithCPUCFS 50000 100000", "50000 100000\n");
        SHOWS("cpu.rt", "", "max\n");
        SHOWS("cpu.rt", "WithCPURT 950000 1000000", "950000 1000000\n");
        SHOWS("pids.max", "WithSpecFromBytes {}", "max\n");
}

TEST(cpuset_files_take_lists)
{
        WRITES("cpuset.cpus", "0-3,5", "WithCPUs 0-3,5\n");
        WRITES("cpuset.cpus", " 0-1 \n", "WithCPUs 0-1\n");
        WRITES("cpuset.mems", "0\n", "WithCPUsMems 0\n");
        REFUSES("cpuset.cpus", "1-", EINVAL, "cpuset.cpus: invalid list \"1-\" (e.g. 0-3,5)");
        REFUSES("cpuset.cpus", "0,,1", EINVAL, "cpuset.cpus: invalid list \"0,,1\" (e.g. 0-3,5)");
        REFUSES("cpuset.cpus", "0-1-2", EINVAL, "cpuset.cpus: invalid list \"0-1-2\" (e.g. 0-3,5)");
        REFUSES("cpuset.mems", "0 1", EINVAL, "cpuset.mems: invalid list \"0 1\" (e.g. 0-3,5)");
        SHOWS("cpuset.cpus", "", "");
        SHOWS("cpuset.cpus", "WithCPUs 0-3,5", "0-3,5\n");
        SHOWS("cpuset.mems", "WithCPUsMems 0-1", "0-1\n");
}

/* ---- namespaces and mounts ---------------------------------------------------------------------- */

TEST(namespaces_takes_a_type_and_path_or_host_type)
{
        WRITES("namespaces", "host network", "WithHostNamespace network\n");
        WRITES("namespaces", "network /proc/1/ns/net", "WithLinuxNamespace network /proc/1/ns/net\n");
        WRITES("namespaces", "user\n", "WithLinuxNamespace user\n");
        REFUSES("namespaces", "bogus", EINVAL, "namespaces: unknown namespace type \"bogus\" (pid, network, mount, "
                "ipc, uts, user, cgroup, time)");
        REFUSES("namespaces", "host", EINVAL, "namespaces: expected: host TYPE");
        REFUSES("namespaces", "network rel/path", EINVAL, "namespaces: the namespace path must be absolute");
        REFUSES("namespaces", "network /a /b", EINVAL, "namespaces: expected: TYPE [PATH] or host TYPE");
        REFUSES("namespaces", "pid\nipc", EINVAL, "namespaces: one line expected");
        SHOWS("namespaces", "", "pid\nipc\nuts\nmount\nnetwork\n");
        SHOWS("namespaces", "WithHostNamespace network\nWithLinuxNamespace user /proc/1/ns/user",
              "pid\nipc\nuts\nmount\nuser /proc/1/ns/user\n");
}

TEST(mounts_takes_a_json_array_or_destinations_to_remove)
{
        WRITES("mounts", "[\n  {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/srv/data\",\n"
                         "   \"options\": [\"rbind\", \"ro\"]}\n]\n",
               "WithMounts [{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/data\","
               "\"options\":[\"rbind\",\"ro\"]}]\n");
        WRITES("mounts", "  []  ", "WithMounts []\n");
        WRITES("mounts", "-/run", "WithoutMounts /run\n");
        WRITES("mounts", "-/run -/dev/mqueue\n", "WithoutMounts /run /dev/mqueue\n");
        REFUSES("mounts", "/run", EINVAL, "mounts: expected a JSON array of mounts, or -DESTINATION to remove");
        REFUSES("mounts", "-run", EINVAL, "mounts: expected a JSON array of mounts, or -DESTINATION to remove");
        REFUSES("mounts", "{\"destination\": \"/x\"}", EINVAL,
                "mounts: expected a JSON array of mounts, or -DESTINATION to remove");
        REFUSES("mounts", "[{\"destination\": 1}]", EINVAL, "mounts: invalid option line: WithMounts: argument 1: "
                "json: cannot unmarshal number into Go struct field Mount.destination of type string");
        REFUSES("mounts", "[] []", EINVAL, "mounts: invalid option line: WithMounts: argument 1: invalid JSON: "
                "invalid JSON near byte 4: unexpected character");
        REFUSES("mounts", "[{", EINVAL, "mounts: invalid option line: WithMounts: argument 1: invalid JSON: "
                "unexpected end of JSON input");
}

TEST(mounts_shows_one_mount_per_line)
{
        SHOWS("mounts", "WithSpecFromBytes {\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\","
                        "\"source\":\"/srv\",\"options\":[\"rbind\",\"ro\"]},{\"destination\":\"/e\"}]}",
              "/data bind /srv rbind,ro\n/e - - -\n");
        SHOWS("mounts", "WithSpecFromBytes {}", "");
        SHOWS("mounts", "WithoutMounts /proc /dev /dev/pts /dev/shm /dev/mqueue /sys",
              "/run tmpfs tmpfs nosuid,strictatime,mode=755,size=65536k\n");
}

/* ---- values the model can hold ------------------------------------------------------------------ */

/* A JSON null inside an array of strings is a NULL string in the model: it
 * reads as "". */
TEST(every_file_shows_a_spec_with_null_strings)
{
        const char *null2[] = { NULL, NULL };
        const char *args[] = { "a", NULL, "b" };
        struct spec_caps caps = { .bounding = { null2, 2, 2 }, .ambient = { null2, 1, 1 } };
        struct spec_process process = { .args = { args, 3, 3 }, .env = { null2, 1, 1 }, .capabilities = &caps };
        struct spec_mount mount = { .options = { null2, 2, 2 } };
        struct spec_device device = { 0 };
        struct spec_namespace ns = { 0 };
        struct str_entry ann = { .key = "k" };
        struct spec_root root = { 0 };
        struct spec_cpu cpu = { 0 };
        struct spec_resources res = { .cpu = &cpu };
        struct spec_linux lnx = {
                .devices = { &device, 1, 1 }, .namespaces = { &ns, 1, 1 }, .masked_paths = { null2, 1, 1 },
                .resources = &res,
        };
        struct spec s = {
                .process = &process, .root = &root, .mounts = { &mount, 1, 1 }, .annotations = { &ann, 1, 1 },
                .linux_ = &lnx,
        };
        static const struct {
                const char *name, *want;
        } want[] = {
                { "args", "a\n\nb\n" }, { "env", "\n" }, { "caps", "\n\n" }, { "caps.ambient", "\n" },
                { "mounts", "- - - ,\n" }, { "devices", "  0:0 -\n" }, { "namespaces", "\n" },
                { "annotations", "k=\n" }, { "cwd", "" }, { "hostname", "" }, { "rootfs.path", "" },
                { "cpuset.cpus", "" }, { "privileged", "0\n" },
        };
        struct ctl_view v = { .spec = &s };
        for (size_t i = 0; i < ctl_count(); i++) {
                buf out = { 0 };
                bf_error err = { 0 };
                CHECK_INTEQ(ctl_show(ctl_at(i), &v, &out, &err), 0);
                for (size_t j = 0; j < sizeof(want) / sizeof(want[0]); j++)
                        if (strcmp(want[j].name, ctl_name(ctl_at(i))) == 0 &&
                            !CHECK_STREQ(out.p ? out.p : "", want[j].want))
                                fprintf(stderr, "    %s\n", want[j].name);
                buf_free(&out);
        }
}

/* ---- round trips ------------------------------------------------------------------------------------ */

/* The files docs/bundlefs.md marks rt, each with lines that give it a value
 * other than the default. */
static const struct {
        const char *name, *opts;
} round_trips[] = {
        { "caps", "WithAddedCapabilities CAP_SYS_ADMIN\nWithDroppedCapabilities CAP_KILL" },
        { "caps.ambient", "WithAmbientCapabilities CAP_NET_BIND_SERVICE CAP_CHOWN" },
        { "env", "WithEnv PATH=/usr/bin:/bin \"GREETING=hello world\" EQ=a=b EMPTY=" },
        { "args", "WithProcessArgs /bin/sh -c \"echo \\\"$HOME\\\" done\" \"\" last" },
        { "cwd", "WithProcessCwd \"/srv/my app\"" },
        { "hostname", "WithHostname box-1.example" },
        { "domainname", "WithDomainname corp.example.org" },
        { "memory.limit", "WithMemoryLimit 3221225472" },
        { "memory.swap", "WithMemorySwap -1" },
        { "pids.max", "WithPidsLimit 4096" },
        { "cpu.shares", "WithCPUShares 2048" },
        { "cpu.cfs", "WithCPUCFS 25000 50000" },
        { "cpu.rt", "WithCPURT 950000 1000000" },
        { "cpuset.cpus", "WithCPUs 0-3,5,7-8" },
        { "cpuset.mems", "WithCPUsMems 0-1" },
        { "annotations", "WithAnnotations org.example/a=1 \"b=x y\" c=k=v" },
};

/* config.json's bytes of a rendering. */
static char *encoded(const struct spec *s)
{
        buf b = { 0 };
        spec_encode(s, &b);
        return buf_steal(&b, NULL);
}

TEST(what_an_rt_file_shows_written_back_renders_the_same_spec)
{
        for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
                const char *name = round_trips[i].name;
                const struct ctl *c = ctl_find(name);
                if (!CHECK(c != NULL))
                        continue;
                struct rendered before, after;
                if (!CHECK_INTEQ(render_text(&before, "linux/amd64", round_trips[i].opts), 0)) {
                        fprintf(stderr, "    %s: %s\n", name, before.err.msg);
                        rendered_free(&before);
                        continue;
                }
                buf shown = { 0 }, again = { 0 };
                bf_error err = { 0 };
                struct ctl_view v = { .spec = &before.spec, .lines = before.lines, .nlines = before.n };
                CHECK_INTEQ(ctl_show(c, &v, &shown, &err), 0);
                CHECK(shown.len > 0 && strcmp(shown.p, "max\n") != 0);

                /* the lines, then what the read showed, written back */
                struct optline **back = NULL;
                size_t nback = 0;
                if (!CHECK_INTEQ(ctl_parse(c, shown.p, shown.len, &back, &nback, &err), 0)) {
                        fprintf(stderr, "    %s <- \"%s\": %s\n", name, shown.p, err.msg);
                } else {
                        size_t n = before.n + nback;
                        struct optline **lines = calloc(n, sizeof(*lines));
                        for (size_t j = 0; j < before.n; j++)
                                lines[j] = optline_ref(before.lines[j]);
                        for (size_t j = 0; j < nback; j++)
                                lines[before.n + j] = back[j];
                        free(back);
                        after = (struct rendered){ 0 };
                        if (CHECK_INTEQ(render_lines(&after, "linux/amd64", lines, n), 0)) {
                                char *a = encoded(&before.spec), *b = encoded(&after.spec);
                                if (!CHECK_STREQ(b, a))
                                        fprintf(stderr, "    %s shows \"%s\"\n", name, shown.p);
                                free(a);
                                free(b);
                                struct ctl_view v2 = { .spec = &after.spec, .lines = after.lines, .nlines = after.n };
                                CHECK_INTEQ(ctl_show(c, &v2, &again, &err), 0);
                                CHECK_STREQ(again.p, shown.p);
                        }
                        rendered_free(&after);
                }
                buf_free(&shown);
                buf_free(&again);
                rendered_free(&before);
        }
}

TEST(every_rt_file_has_a_round_trip_case)
{
        static const char *const rt[] = { "caps", "caps.ambient", "env", "args", "cwd", "hostname", "domainname",
                                          "memory.limit", "memory.swap", "pids.max", "cpu.shares", "cpu.cfs",
                                          "cpu.rt", "cpuset.cpus", "cpuset.mems", "annotations" };
        CHECK_UINTEQ(sizeof(round_trips) / sizeof(round_trips[0]), sizeof(rt) / sizeof(rt[0]));
        for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
                bool found = false;
                for (size_t j = 0; j < sizeof(round_trips) / sizeof(round_trips[0]); j++)
                        found = found || strcmp(round_trips[j].name, rt[i]) == 0;
                if (!CHECK(found))
                        fprintf(stderr, "    %s\n", rt[i]);
        }
}
