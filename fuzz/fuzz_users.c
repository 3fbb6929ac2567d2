/* libFuzzer target: a rootfs's /etc/passwd and /etc/group (core/users.c),
 * and the user options that read them.
 *
 * The input is "OPTION LINE\nPASSWD\0GROUP": the bytes up to the first newline
 * are an option line, the rest up to the first NUL is /etc/passwd, what
 * follows the NUL is /etc/group. An empty passwd part means no /etc/passwd;
 * no NUL means no /etc/group.
 *
 * 1. passwd_parse and group_parse take the bytes as a buffer: they succeed or
 *    fail with EINVAL (a line too long, as Go's bufio.Scanner) or ENOMEM; what
 *    they return is at most one entry per line, names without ':' or a line
 *    end, group members without ','.
 * 2. The files are written into a private root directory, and the option
 *    line (when it parses) is rendered after the default spec with that root
 *    as the bundle's rootfs: valid JSON, or an errno of the interface with a
 *    one-line message.
 *
 * The files are written outside the sandbox; parsing and rendering run inside
 * it. The root is a mkdtemp directory under $TMPDIR (or /tmp), removed at
 * exit. FUZZ_VERBOSE=1 prints what each input renders to. */
#define FUZZ_TARGET "fuzz_users"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "checks.h"
#include "optline.h"
#include "render.h"
#include "users.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[4096];
static char etc[4096 + 8];
static int verbose;

static void path_of(char *out, size_t n, const char *name)
{
        snprintf(out, n, "%s/%s", etc, name);
}

static void remove_root(void)
{
        char p[sizeof(etc) + 16];
        path_of(p, sizeof(p), "passwd");
        unlink(p);
        path_of(p, sizeof(p), "group");
        unlink(p);
        rmdir(etc);
        rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void) argc;
        (void) argv;
        const char *tmp = getenv("TMPDIR");
        snprintf(root, sizeof(root), "%s/fuzz_users.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(root)) {
                perror("fuzz_users: mkdtemp");
                abort();
        }
        snprintf(etc, sizeof(etc), "%s/etc", root);
        if (mkdir(etc, 0755) < 0) {
                perror("fuzz_users: mkdir");
                abort();
        }
        atexit(remove_root);
        verbose = getenv("FUZZ_VERBOSE") != NULL;
        return 0;
}

/* Make etc/<name> hold data, or not exist (data NULL). */
static void put_file(const char *name, const char *data, size_t n)
{
        char p[sizeof(etc) + 16];
        path_of(p, sizeof(p), name);
        if (!data) {
                if (unlink(p) < 0 && errno != ENOENT)
                        abort();
                return;
        }
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        for (size_t off = 0; off < n;) {
                ssize_t w = write(fd, data + off, n - off);
                if (w <= 0)
                        abort();
                off += (size_t) w;
        }
        close(fd);
}

static size_t count_lines(const char *s, size_t n)
{
        size_t lines = 0;
        for (size_t i = 0; i < n; i++)
                lines += s[i] == '\n';
        return lines + (n && s[n - 1] != '\n');
}

static void check_name(const char *what, struct span name)
{
        if (!name.p || memchr(name.p, ':', name.len) || memchr(name.p, '\n', name.len))
                FAIL("%s: name \"%.*s\" is missing or holds ':' or a newline", what, (int) name.len,
                     name.p ? name.p : "(null)");
}

static void check_parsers(const char *passwd, size_t np, const char *group, size_t ng)
{
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        bf_error err = { 0 };
        user_slice users;
        int r = passwd_parse(&a, passwd, np, &users, &err);
        check_error("passwd_parse", r, &err, EINVAL, ENOMEM, 0);
        if (r == 0) {
                if (users.len > count_lines(passwd, np))
                        FAIL("passwd_parse: %zu users from %zu lines", users.len, count_lines(passwd, np));
                for (size_t i = 0; i < users.len; i++)
                        check_name("passwd_parse", users.v[i].name);
        }
        group_slice groups;
        err = (bf_error){ 0 };
        r = group_parse(&a, group, ng, &groups, &err);
        check_error("group_parse", r, &err, EINVAL, ENOMEM, 0);
        if (r == 0) {
                if (groups.len > count_lines(group, ng))
                        FAIL("group_parse: %zu groups from %zu lines", groups.len, count_lines(group, ng));
                for (size_t i = 0; i < groups.len; i++) {
                        check_name("group_parse", groups.v[i].name);
                        for (size_t j = 0; j < groups.v[i].members.len; j++) {
                                struct span m = groups.v[i].members.v[j];
                                if (!m.p || memchr(m.p, ',', m.len) || memchr(m.p, ':', m.len) ||
                                    memchr(m.p, '\n', m.len))
                                        FAIL("group_parse: member \"%.*s\" is missing or holds ',', ':' or a newline",
                                             (int) m.len, m.p ? m.p : "(null)");
                        }
                }
        }
        arena_done(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *in = (const char *) data;
        const char *nl = memchr(in, '\n', size);
        size_t line_len = nl ? (size_t) (nl - in) : size;
        const char *passwd = nl ? nl + 1 : in + size;
        size_t rest = size - (size_t) (passwd - in);
        const char *nul = memchr(passwd, '\0', rest);
        size_t np = nul ? (size_t) (nul - passwd) : rest;
        const char *group = nul ? nul + 1 : NULL;
        size_t ng = nul ? rest - np - 1 : 0;

        /* exact copies: a read past the end of either is caught */
        char *p = malloc(np ? np : 1), *g = malloc(ng ? ng : 1);
        if (!p || !g)
                abort();
        memcpy(p, passwd, np);
        if (ng)
                memcpy(g, group, ng);

        put_file("passwd", np ? passwd : NULL, np);
        put_file("group", group, ng);

        fuzz_sandbox_enter();
        check_parsers(p, np, g, ng);

        struct optline *l = NULL;
        bf_error err = { 0 };
        if (optline_parse(in, line_len, &l, &err) == 0) {
                struct optline *lines[1] = { l };
                struct render_input rin = {
                        .platform = "linux/amd64",
                        .namespace_ = "default",
                        .id = "web",
                        .bundle_rootfs = root,
                        .lines = lines,
                        .nlines = 1,
                };
                buf out = { 0 };
                int r = spec_render(&rin, &out, &err);
                check_error("spec_render", r, &err, EINVAL, ENOENT, ENODEV, EFBIG, ENOMEM, 0);
                if (r == 0)
                        check_config_json("spec_render", &out);
                if (verbose) {
                        fuzz_sandbox_leave();
                        fprintf(stderr, "%s\n-> %s%s", text_of(l), r < 0 ? err.msg : out.p, r < 0 ? "\n" : "");
                }
                buf_free(&out);
                optline_unref(l);
        }
        fuzz_sandbox_leave();
        free(p);
        free(g);
        return 0;
}
