/* users: /etc/passwd and /etc/group parsing with runc's libcontainer/user quirks. */
#include "check.h"

#include "users.h"

struct users_fixture {
        arena a;
        bf_error err;
        user_slice users;
        group_slice groups;
};

static int parse_passwd(struct users_fixture *f, const char *data, size_t n)
{
        arena_init(&f->a, 0);
        f->err = (bf_error){ 0 };
        return passwd_parse(&f->a, data, n, &f->users, &f->err);
}

static int parse_group(struct users_fixture *f, const char *data, size_t n)
{
        arena_init(&f->a, 0);
        f->err = (bf_error){ 0 };
        return group_parse(&f->a, data, n, &f->groups, &f->err);
}

#define PASSWD(f, lit) parse_passwd((f), (lit), sizeof(lit) - 1)
#define GROUP(f, lit) parse_group((f), (lit), sizeof(lit) - 1)

/* A span holds exactly these bytes. */
#define CHECK_SPANEQ(s, lit) CHECK_MEMEQ((s).p, (s).len, (lit), strlen(lit))

#define USER_IS(u, name_, uid_, gid_)                   \
        do {                                            \
                CHECK_SPANEQ((u).name, name_);          \
                CHECK_INTEQ((u).uid, uid_);             \
                CHECK_INTEQ((u).gid, gid_);             \
        } while (0)

/* members as one comma-joined string, "<nil>" for a nil list, "<empty>" for [] */
static const char *members(arena *a, const span_slice *m)
{
        if (!m->v)
                return "<nil>";
        if (m->len == 0)
                return "<empty>";
        buf b = { 0 };
        for (size_t i = 0; i < m->len; i++) {
                if (i)
                        buf_putc(&b, '|');
                buf_put(&b, m->v[i].p, m->v[i].len);
        }
        const char *s = arena_strndup(a, b.p, b.len);
        buf_free(&b);
        return s;
}

#define GROUP_IS(f, g, name_, gid_, members_)                           \
        do {                                                            \
                CHECK_SPANEQ((g).name, name_);                          \
                CHECK_INTEQ((g).gid, gid_);                             \
                CHECK_STREQ(members(&(f)->a, &(g).members), members_);  \
        } while (0)

TEST(passwd_fields_name_uid_gid_are_read)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1001:Alice:/home/alice:/bin/bash\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 2)) {
                USER_IS(f.users.v[0], "root", 0, 0);
                USER_IS(f.users.v[1], "alice", 1000, 1001);
        }
        arena_done(&f.a);
}

TEST(passwd_comment_lines_are_users_not_comments)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "#x\n# a comment:x:5:6\nroot:x:0:0::/:\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 3)) {
                USER_IS(f.users.v[0], "#x", 0, 0);
                USER_IS(f.users.v[1], "# a comment", 5, 6);
                USER_IS(f.users.v[2], "root", 0, 0);
        }
        arena_done(&f.a);
}

TEST(passwd_blank_and_white_space_lines_are_skipped)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "\n   \n\t\r\nroot:x:0:0\n\n\xc2\xa0\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 1))
                USER_IS(f.users.v[0], "root", 0, 0);
        arena_done(&f.a);
}

TEST(passwd_lines_are_trimmed_before_splitting)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "   padded:x:1500:1500:gecos:/home/padded:/bin/sh   \n\t tab:x: 7 :8\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 2)) {
                USER_IS(f.users.v[0], "padded", 1500, 1500);
                /* only the line is trimmed, not each field: " 7 " is not a number */
                USER_IS(f.users.v[1], "tab", 0, 8);
        }
        arena_done(&f.a);
}

TEST(passwd_short_lines_leave_missing_fields_zero)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "short:x:1600\nname\nonly:\n:x:5:6\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 4)) {
                USER_IS(f.users.v[0], "short", 1600, 0);
                USER_IS(f.users.v[1], "name", 0, 0);
                USER_IS(f.users.v[2], "only", 0, 0);
                USER_IS(f.users.v[3], "", 5, 6);
        }
        arena_done(&f.a);
}

TEST(passwd_numbers_that_do_not_parse_count_as_zero)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "a:x:abc:12x\nb:x:-5:+7\nc:x::\nd:x:0x10:1e3\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 4)) {
                USER_IS(f.users.v[0], "a", 0, 0);
                USER_IS(f.users.v[1], "b", -5, 7);
                USER_IS(f.users.v[2], "c", 0, 0);
                USER_IS(f.users.v[3], "d", 0, 0);
        }
        arena_done(&f.a);
}

TEST(passwd_numbers_out_of_range_are_clamped_as_atoi_does)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "big:x:99999999999999999999:-99999999999999999999\n"
                         "edge:x:9223372036854775807:4294967296\n"
                         "late:x:99999999999999999999x:5\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 3)) {
                USER_IS(f.users.v[0], "big", INT64_MAX, INT64_MIN);
                USER_IS(f.users.v[1], "edge", INT64_MAX, 4294967296LL);
                USER_IS(f.users.v[2], "late", INT64_MAX, 5);
        }
        arena_done(&f.a);
}

TEST(passwd_duplicates_are_kept_in_file_order)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "dup:x:1700:1700\ndup:x:1701:1701\nalias:x:1700:42\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 3)) {
                USER_IS(f.users.v[0], "dup", 1700, 1700);
                USER_IS(f.users.v[1], "dup", 1701, 1701);
                USER_IS(f.users.v[2], "alias", 1700, 42);
        }
        arena_done(&f.a);
}

TEST(passwd_crlf_and_a_missing_final_newline_are_handled)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, "root:x:0:0\r\nbob:x:1001:1001\r\nlast:x:3:4") == 0);
        if (CHECK_UINTEQ(f.users.len, 3)) {
                USER_IS(f.users.v[0], "root", 0, 0);
                USER_IS(f.users.v[1], "bob", 1001, 1001);
                USER_IS(f.users.v[2], "last", 3, 4);
        }
        arena_done(&f.a);
        /* a CR without LF is not a line end: one line, and its gid is "4\rb" */
        CHECK(PASSWD(&f, "a:x:3:4\rb:x:5:6\n") == 0);
        if (CHECK_UINTEQ(f.users.len, 1))
                USER_IS(f.users.v[0], "a", 3, 0);
        arena_done(&f.a);
}

TEST(passwd_empty_input_gives_no_users)
{
        struct users_fixture f;
        CHECK(parse_passwd(&f, "", 0) == 0);
        CHECK_UINTEQ(f.users.len, 0);
        arena_done(&f.a);
}

/* A passwd file whose second line has n bytes (plus a newline if nl). */
static char *long_line_file(size_t n, const char *end, size_t *ret_len)
{
        const char *head = "root:x:0:0\n";
        size_t hl = strlen(head), el = strlen(end);
        char *d = malloc(hl + n + el + 1);
        memcpy(d, head, hl);
        memset(d + hl, 'a', n);
        memcpy(d + hl, "long:x:7:8:", 11);
        memcpy(d + hl + n, end, el + 1);
        *ret_len = hl + n + el;
        return d;
}

TEST(passwd_line_of_64_kib_is_too_long_for_bufio_scanner)
{
        struct users_fixture f;
        size_t n;
        char *d = long_line_file(65536, "\nbob:x:1:1\n", &n);
        CHECK(parse_passwd(&f, d, n) == -EINVAL);
        CHECK_STREQ(f.err.msg, "bufio.Scanner: token too long");
        arena_done(&f.a);
        free(d);

        /* also as the last line, without a newline */
        d = long_line_file(65536, "", &n);
        CHECK(parse_passwd(&f, d, n) == -EINVAL);
        CHECK_STREQ(f.err.msg, "bufio.Scanner: token too long");
        arena_done(&f.a);
        free(d);

        /* 65535 bytes and CRLF: the CR counts, as it is in the scanner's buffer */
        d = long_line_file(65535, "\r\n", &n);
        CHECK(parse_passwd(&f, d, n) == -EINVAL);
        arena_done(&f.a);
        free(d);
}

TEST(passwd_line_just_under_64_kib_is_accepted)
{
        struct users_fixture f;
        size_t n;
        char *d = long_line_file(65535, "\nbob:x:1:1\n", &n);
        CHECK(parse_passwd(&f, d, n) == 0);
        if (CHECK_UINTEQ(f.users.len, 3)) {
                CHECK_SPANEQ(f.users.v[1].name, "long");
                CHECK_INTEQ(f.users.v[1].uid, 7);
                CHECK_UINTEQ(f.users.v[1].name.len, 4);
                CHECK_SPANEQ(f.users.v[2].name, "bob");
        }
        arena_done(&f.a);
        free(d);

        d = long_line_file(65535, "", &n);
        CHECK(parse_passwd(&f, d, n) == 0);
        CHECK_UINTEQ(f.users.len, 2);
        arena_done(&f.a);
        free(d);
}

TEST(group_fields_and_members_are_read)
{
        struct users_fixture f;
        CHECK(GROUP(&f, "root:x:0:root\nwheel:x:10:root,alice\nusers:x:100:alice,bob,carol\n") == 0);
        if (CHECK_UINTEQ(f.groups.len, 3)) {
                GROUP_IS(&f, f.groups.v[0], "root", 0, "root");
                GROUP_IS(&f, f.groups.v[1], "wheel", 10, "root|alice");
                GROUP_IS(&f, f.groups.v[2], "users", 100, "alice|bob|carol");
        }
        arena_done(&f.a);
}

TEST(group_comment_and_blank_lines_are_skipped)
{
        struct users_fixture f;
        CHECK(GROUP(&f, "# comment\n\n   # indented comment\n \t \nroot:x:0:\n#root2:x:1:\n") == 0);
        if (CHECK_UINTEQ(f.groups.len, 1))
                GROUP_IS(&f, f.groups.v[0], "root", 0, "<empty>");
        arena_done(&f.a);
}

TEST(group_empty_member_list_is_empty_and_missing_one_is_nil)
{
        struct users_fixture f;
        CHECK(GROUP(&f, "empty:x:3000:\nnofield:x:3001\nshort\n") == 0);
        if (CHECK_UINTEQ(f.groups.len, 3)) {
                GROUP_IS(&f, f.groups.v[0], "empty", 3000, "<empty>");
                GROUP_IS(&f, f.groups.v[1], "nofield", 3001, "<nil>");
                GROUP_IS(&f, f.groups.v[2], "short", 0, "<nil>");
        }
        arena_done(&f.a);
}

TEST(group_members_split_on_every_comma)
{
        struct users_fixture f;
        CHECK(GROUP(&f, "g:x:1:a,,b,\nh:x:2:,\ni:x:3: a , b \nj:x:4:a:b\n") == 0);
        if (CHECK_UINTEQ(f.groups.len, 4)) {
                GROUP_IS(&f, f.groups.v[0], "g", 1, "a||b|");
                GROUP_IS(&f, f.groups.v[1], "h", 2, "|");
                /* the line is trimmed, the members are not */
                GROUP_IS(&f, f.groups.v[2], "i", 3, " a | b");
                /* fields past the fourth are ignored */
                GROUP_IS(&f, f.groups.v[3], "j", 4, "a");
        }
        arena_done(&f.a);
}

TEST(group_lines_are_trimmed_and_crlf_dropped)
{
        struct users_fixture f;
        CHECK(GROUP(&f, "  spaced:x:51:padded  \r\nstaff:x:50:padded,root\r\nlast:x:52:x\r") == 0);
        if (CHECK_UINTEQ(f.groups.len, 3)) {
                GROUP_IS(&f, f.groups.v[0], "spaced", 51, "padded");
                GROUP_IS(&f, f.groups.v[1], "staff", 50, "padded|root");
                GROUP_IS(&f, f.groups.v[2], "last", 52, "x");
        }
        arena_done(&f.a);
}

TEST(group_duplicates_and_bad_numbers_are_kept)
{
        struct users_fixture f;
        CHECK(GROUP(&f, "dup:x:1700:\ndup:x:1777:\nbad:x:12ab:\nneg:x:-3:\n") == 0);
        if (CHECK_UINTEQ(f.groups.len, 4)) {
                GROUP_IS(&f, f.groups.v[0], "dup", 1700, "<empty>");
                GROUP_IS(&f, f.groups.v[1], "dup", 1777, "<empty>");
                GROUP_IS(&f, f.groups.v[2], "bad", 0, "<empty>");
                GROUP_IS(&f, f.groups.v[3], "neg", -3, "<empty>");
        }
        arena_done(&f.a);
}

TEST(group_lines_longer_than_64_kib_are_accepted)
{
        /* ParseGroup reads with bufio.Reader.ReadLine, which has no limit. */
        struct users_fixture f;
        size_t nmembers = 30000;
        buf b = { 0 };
        buf_puts(&b, "root:x:0:\nbig:x:77:");
        for (size_t i = 0; i < nmembers; i++)
                buf_printf(&b, "%su%zu", i ? "," : "", i);
        buf_puts(&b, "\nafter:x:78:z\n");
        CHECK(b.len > 128 * 1024);
        CHECK(parse_group(&f, b.p, b.len) == 0);
        if (CHECK_UINTEQ(f.groups.len, 3)) {
                CHECK_SPANEQ(f.groups.v[1].name, "big");
                CHECK_INTEQ(f.groups.v[1].gid, 77);
                if (CHECK_UINTEQ(f.groups.v[1].members.len, nmembers)) {
                        CHECK_SPANEQ(f.groups.v[1].members.v[0], "u0");
                        CHECK_SPANEQ(f.groups.v[1].members.v[nmembers - 1], "u29999");
                }
                GROUP_IS(&f, f.groups.v[2], "after", 78, "z");
        }
        arena_done(&f.a);
        buf_free(&b);
}

TEST(passwd_nul_bytes_are_part_of_the_fields)
{
        /* bufio.Scanner and strings.Split keep NUL bytes: a name holding one is
         * all of its bytes, and a number holding one does not parse (0). */
        struct users_fixture f;
        static const char data[] = "bo\0b:x:1001:1001::/:/bin/sh\nbo:x:1002:10\0\n";
        CHECK(parse_passwd(&f, data, sizeof(data) - 1) == 0);
        if (CHECK_UINTEQ(f.users.len, 2)) {
                CHECK_MEMEQ(f.users.v[0].name.p, f.users.v[0].name.len, "bo\0b", 4);
                CHECK_INTEQ(f.users.v[0].uid, 1001);
                CHECK_INTEQ(f.users.v[0].gid, 1001);
                CHECK(!span_is(f.users.v[0].name, "bo"));
                USER_IS(f.users.v[1], "bo", 1002, 0);
        }
        arena_done(&f.a);
}

TEST(group_nul_bytes_are_part_of_names_and_members)
{
        struct users_fixture f;
        static const char data[] = "wh\0eel:x:10:alice,bo\0b,\0\nstaff:x:50:bo\n";
        CHECK(parse_group(&f, data, sizeof(data) - 1) == 0);
        if (CHECK_UINTEQ(f.groups.len, 2)) {
                CHECK_MEMEQ(f.groups.v[0].name.p, f.groups.v[0].name.len, "wh\0eel", 6);
                CHECK_INTEQ(f.groups.v[0].gid, 10);
                if (CHECK_UINTEQ(f.groups.v[0].members.len, 3)) {
                        CHECK_SPANEQ(f.groups.v[0].members.v[0], "alice");
                        CHECK_MEMEQ(f.groups.v[0].members.v[1].p, f.groups.v[0].members.v[1].len, "bo\0b", 4);
                        CHECK_MEMEQ(f.groups.v[0].members.v[2].p, f.groups.v[0].members.v[2].len, "\0", 1);
                }
                GROUP_IS(&f, f.groups.v[1], "staff", 50, "bo");
        }
        arena_done(&f.a);
}

/* The rootfs-quirky fixture, inline. */
static const char quirky_passwd[] =
        "# passwd with a comment line (not skipped by the passwd parser)\n"
        "root:x:0:0:root:/root:/bin/sh\n"
        "\n"
        "   padded:x:1500:1500:leading and trailing spaces:/home/padded:/bin/sh   \n"
        "short:x:1600\n"
        "dup:x:1700:1700:first entry:/home/dup:/bin/sh\n"
        "dup:x:1701:1701:second entry:/home/dup2:/bin/sh\n"
        "alias:x:1700:42:same uid as dup:/home/alias:/bin/sh\n";

static const char quirky_group[] =
        "# group file with comments and blank lines\n"
        "root:x:0:root\n"
        "\n"
        "staff:x:50:padded,short,dup,root\n"
        "  spaced:x:51:padded  \n"
        "dup:x:1700:\n"
        "dup:x:1777:\n"
        "answer:x:42:alias\n";

TEST(quirky_fixture_passwd_parses_as_runc_does)
{
        struct users_fixture f;
        CHECK(PASSWD(&f, quirky_passwd) == 0);
        if (CHECK_UINTEQ(f.users.len, 7)) {
                USER_IS(f.users.v[0], "# passwd with a comment line (not skipped by the passwd parser)", 0, 0);
                USER_IS(f.users.v[1], "root", 0, 0);
                USER_IS(f.users.v[2], "padded", 1500, 1500);
                USER_IS(f.users.v[3], "short", 1600, 0);
                USER_IS(f.users.v[4], "dup", 1700, 1700);
                USER_IS(f.users.v[5], "dup", 1701, 1701);
                USER_IS(f.users.v[6], "alias", 1700, 42);
        }
        arena_done(&f.a);
}

TEST(quirky_fixture_group_parses_as_runc_does)
{
        struct users_fixture f;
        CHECK(GROUP(&f, quirky_group) == 0);
        if (CHECK_UINTEQ(f.groups.len, 6)) {
                GROUP_IS(&f, f.groups.v[0], "root", 0, "root");
                GROUP_IS(&f, f.groups.v[1], "staff", 50, "padded|short|dup|root");
                GROUP_IS(&f, f.groups.v[2], "spaced", 51, "padded");
                GROUP_IS(&f, f.groups.v[3], "dup", 1700, "<empty>");
                GROUP_IS(&f, f.groups.v[4], "dup", 1777, "<empty>");
                GROUP_IS(&f, f.groups.v[5], "answer", 42, "alias");
        }
        arena_done(&f.a);
}

/* ---- resolving paths inside a root without openat2 ---------------------- */

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk_root {
        char dir[64];
        int fd;
};

static void walk_root_make(struct walk_root *w)
{
        /* <root>/srv/accounts/{passwd,group}, <root>/etc/passwd -> /srv/accounts/passwd,
         * <root>/etc/group -> ../../../../srv/accounts/group, a loop, a file in the way */
        snprintf(w->dir, sizeof(w->dir), "/tmp/bundlefs-walk-XXXXXX");
        CHECK(mkdtemp(w->dir) != NULL);
        w->fd = open(w->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(w->fd >= 0);
        CHECK(mkdirat(w->fd, "srv", 0755) == 0);
        CHECK(mkdirat(w->fd, "srv/accounts", 0755) == 0);
        CHECK(mkdirat(w->fd, "etc", 0755) == 0);
        int f = openat(w->fd, "srv/accounts/passwd", O_WRONLY | O_CREAT, 0644);
        CHECK(f >= 0);
        close(f);
        f = openat(w->fd, "srv/accounts/group", O_WRONLY | O_CREAT, 0644);
        CHECK(f >= 0);
        close(f);
        CHECK(symlinkat("/srv/accounts/passwd", w->fd, "etc/passwd") == 0);
        CHECK(symlinkat("../../../../srv/accounts/group", w->fd, "etc/group") == 0);
        CHECK(symlinkat("loop", w->fd, "etc/loop") == 0);
        CHECK(symlinkat("/etc/passwd", w->fd, "etc/chain") == 0);
}

static void walk_root_done(struct walk_root *w)
{
        char cmd[128];
        close(w->fd);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
        CHECK(system(cmd) == 0);
}

/* Does path, resolved inside the root, land on the file at real (relative to the root)? */
static bool walk_lands_on(struct walk_root *w, const char *path, const char *real)
{
        int fd = open_in_root_walk(w->fd, path);
        if (fd < 0)
                return false;
        struct stat a, b;
        bool same = fstat(fd, &a) == 0 && fstatat(w->fd, real, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
        close(fd);
        return same;
}

TEST(walk_in_root_follows_absolute_symlinks_from_the_root)
{
        struct walk_root w;
        walk_root_make(&w);
        CHECK(walk_lands_on(&w, "etc/passwd", "srv/accounts/passwd"));
        CHECK(walk_lands_on(&w, "/etc/chain", "srv/accounts/passwd"));
        walk_root_done(&w);
}

TEST(walk_in_root_stops_dotdot_at_the_root)
{
        struct walk_root w;
        walk_root_make(&w);
        CHECK(walk_lands_on(&w, "etc/group", "srv/accounts/group"));
        CHECK(walk_lands_on(&w, "../../srv/./accounts//group", "srv/accounts/group"));
        walk_root_done(&w);
}

TEST(walk_in_root_reports_missing_files_loops_and_files_in_the_way)
{
        struct walk_root w;
        walk_root_make(&w);
        CHECK_INTEQ(open_in_root_walk(w.fd, "etc/shadow"), -ENOENT);
        CHECK_INTEQ(open_in_root_walk(w.fd, "etc/loop"), -ELOOP);
        CHECK_INTEQ(open_in_root_walk(w.fd, "srv/accounts/passwd/x"), -ENOTDIR);
        walk_root_done(&w);
}

TEST(walk_in_root_never_reaches_a_host_file)
{
        /* links to a file only the host has: <dir>.host/passwd */
        struct walk_root w;
        walk_root_make(&w);
        char host[96], abs_target[128], rel_target[512];
        snprintf(host, sizeof(host), "%s.host", w.dir);
        CHECK(mkdir(host, 0755) == 0);
        snprintf(abs_target, sizeof(abs_target), "%s/passwd", host);
        int f = open(abs_target, O_WRONLY | O_CREAT, 0644);
        CHECK(f >= 0);
        close(f);
        /* "../" well past the host's root, then down to the host file */
        snprintf(rel_target, sizeof(rel_target), "../../../../../../../../..%s", abs_target);
        CHECK(symlinkat(abs_target, w.fd, "etc/abs") == 0);
        CHECK(symlinkat(rel_target, w.fd, "etc/rel") == 0);
        CHECK(symlinkat(host, w.fd, "hostdir") == 0);
        CHECK(access(abs_target, F_OK) == 0);
        CHECK_INTEQ(open_in_root_walk(w.fd, "etc/abs"), -ENOENT);
        CHECK_INTEQ(open_in_root_walk(w.fd, "etc/rel"), -ENOENT);
        CHECK_INTEQ(open_in_root_walk(w.fd, "hostdir/passwd"), -ENOENT);
        CHECK_INTEQ(open_in_root_walk(w.fd, rel_target), -ENOENT);
        /* the same path inside the root is what the links find */
        char inner[128];
        snprintf(inner, sizeof(inner), "%s", host + 1);
        for (char *slash = strchr(inner, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                CHECK(mkdirat(w.fd, inner, 0755) == 0);
                *slash = '/';
        }
        CHECK(mkdirat(w.fd, inner, 0755) == 0);
        strcat(inner, "/passwd");
        f = openat(w.fd, inner, O_WRONLY | O_CREAT, 0644);
        CHECK(f >= 0);
        close(f);
        CHECK(walk_lands_on(&w, "etc/abs", inner));
        CHECK(walk_lands_on(&w, "etc/rel", inner));
        CHECK(walk_lands_on(&w, "hostdir/passwd", inner));
        walk_root_done(&w);
        CHECK(unlink(abs_target) == 0);
        CHECK(rmdir(host) == 0);
}
