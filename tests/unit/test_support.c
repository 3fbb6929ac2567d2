/* The small pieces under everything: UTF-8 checks, line splitting, bounded
 * file reads, arenas, buffers, errors and capability names. */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "caps.h"
#include "error.h"
#include "files.h"
#include "utf8.h"

/* ---- UTF-8 ----------------------------------------------------------------- */

#define VALID(lit) CHECK(utf8_valid((lit), sizeof(lit) - 1))
#define INVALID(lit) CHECK(!utf8_valid((lit), sizeof(lit) - 1))

TEST(utf8_accepts_what_go_accepts)
{
        VALID("");
        VALID("plain ascii \x01\x7f");
        VALID("\0embedded nul");
        VALID("\xc2\x80");                      /* U+0080 */
        VALID("\xdf\xbf");                      /* U+07FF */
        VALID("\xe0\xa0\x80");                  /* U+0800 */
        VALID("\xed\x9f\xbf");                  /* U+D7FF */
        VALID("\xee\x80\x80");                  /* U+E000 */
        VALID("\xef\xbf\xbf");                  /* U+FFFF */
        VALID("\xef\xbf\xbd");                  /* U+FFFD */
        VALID("\xf0\x90\x80\x80");              /* U+10000 */
        VALID("\xf4\x8f\xbf\xbf");              /* U+10FFFF */
        VALID("h\xc3\xa9llo w\xc3\xb6rld \xe4\xb8\xad \xf0\x9f\x98\x80");
}

TEST(utf8_refuses_overlong_surrogate_and_out_of_range_forms)
{
        INVALID("\x80");                        /* lone continuation */
        INVALID("\xbf");
        INVALID("\xc0\x80");                    /* overlong NUL */
        INVALID("\xc1\xbf");                    /* overlong */
        INVALID("\xe0\x80\x80");                /* overlong */
        INVALID("\xe0\x9f\xbf");                /* overlong */
        INVALID("\xf0\x80\x80\x80");            /* overlong */
        INVALID("\xf0\x8f\xbf\xbf");            /* overlong */
        INVALID("\xed\xa0\x80");                /* U+D800 */
        INVALID("\xed\xbf\xbf");                /* U+DFFF */
        INVALID("\xf4\x90\x80\x80");            /* U+110000 */
        INVALID("\xf5\x80\x80\x80");
        INVALID("\xfe");
        INVALID("\xff");
        INVALID("\xc3");                        /* truncated */
        INVALID("\xe4\xb8");
        INVALID("\xf0\x9f\x98");
        INVALID("a\xc3(b");                     /* bad continuation */
        INVALID("\xe4\xb8\x41");
        /* a length that cuts a sequence makes it invalid */
        CHECK(!utf8_valid("\xc3\xa9", 1));
        CHECK(utf8_valid("\xc3\xa9xyz", 2));
}

TEST(utf8_sequence_lengths)
{
        CHECK_UINTEQ(utf8_seq_len((const unsigned char *) "a", 1), 1);
        CHECK_UINTEQ(utf8_seq_len((const unsigned char *) "\xc3\xa9", 2), 2);
        CHECK_UINTEQ(utf8_seq_len((const unsigned char *) "\xe4\xb8\xad", 3), 3);
        CHECK_UINTEQ(utf8_seq_len((const unsigned char *) "\xf0\x9f\x98\x80", 4), 4);
        CHECK_UINTEQ(utf8_seq_len((const unsigned char *) "\xf0\x9f\x98\x80", 3), 0);
        CHECK_UINTEQ(utf8_seq_len((const unsigned char *) "\xed\xa0\x80", 3), 0);
}

static void sanitize_check(const char *file, int line, const char *in, size_t n, const char *want)
{
        buf b = { 0 };
        utf8_sanitize(&b, in, n);
        CHECK_AT(file, line, b.p != NULL);
        if (b.p)
                CHECK_STREQ_AT(file, line, b.p, want);
        buf_free(&b);
}

#define SANITIZE(lit, want) sanitize_check(__FILE__, __LINE__, (lit), sizeof(lit) - 1, (want))
#define FFFD "\xef\xbf\xbd"

TEST(utf8_sanitize_replaces_each_bad_byte_as_go_does)
{
        SANITIZE("", "");
        SANITIZE("ok \xc3\xa9", "ok \xc3\xa9");
        SANITIZE("a\xff" "b", "a" FFFD "b");
        SANITIZE("\xe2\x82", FFFD FFFD);                        /* truncated: one per byte */
        SANITIZE("\xed\xa0\x80", FFFD FFFD FFFD);               /* surrogate */
        SANITIZE("\xc0\xaf", FFFD FFFD);                        /* overlong */
        SANITIZE("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
        SANITIZE("\xe2\x82\xac\xe2\x82", "\xe2\x82\xac" FFFD FFFD);
        SANITIZE("\xc3(", FFFD "(");
}

/* ---- lines ------------------------------------------------------------------ */

/* The lines as "a|b|c" (a NUL byte shown as "\\0"), "<none>" for no lines. */
static const char *lines_of(arena *a, const char *data, size_t n, size_t max, int *rc, bf_error *err)
{
        span_slice lines;
        *rc = scan_lines(a, data, n, max, &lines, err);
        if (*rc < 0)
                return NULL;
        if (lines.len == 0)
                return "<none>";
        buf b = { 0 };
        for (size_t i = 0; i < lines.len; i++) {
                if (i)
                        buf_putc(&b, '|');
                for (size_t k = 0; k < lines.v[i].len; k++) {
                        char c = lines.v[i].p[k];
                        if (c)
                                buf_putc(&b, c);
                        else
                                buf_puts(&b, "\\0");
                }
        }
        const char *s = arena_strndup(a, b.p ? b.p : "", b.len);     /* only empty lines: nothing put */
        buf_free(&b);
        return s;
}

#define LINES_CHECK(lit, want)                                                                  \
        do {                                                                                    \
                arena a_;                                                                       \
                bf_error err_ = { 0 };                                                          \
                int rc_;                                                                        \
                arena_init(&a_, 0);                                                             \
                CHECK_STREQ(lines_of(&a_, (lit), sizeof(lit) - 1, 0, &rc_, &err_), want);       \
                arena_done(&a_);                                                                \
        } while (0)

TEST(scan_lines_splits_like_bufio_scan_lines)
{
        LINES_CHECK("", "<none>");
        LINES_CHECK("a", "a");
        LINES_CHECK("a\n", "a");
        LINES_CHECK("a\nb", "a|b");
        LINES_CHECK("a\n\nb\n", "a||b");
        LINES_CHECK("\n", "");
        LINES_CHECK("\n\n", "|");
        LINES_CHECK("a\r\nb\r\n", "a|b");
        LINES_CHECK("a\r", "a");                /* the last line drops its CR too */
        LINES_CHECK("a\r\r\n", "a\r");          /* one CR only */
        LINES_CHECK("a\rb\n", "a\rb");          /* a CR alone ends nothing */
        LINES_CHECK("\r\n", "");
        LINES_CHECK(" x \n", " x ");            /* no trimming */
        LINES_CHECK("a\0b\nc\0\n", "a\\0b|c\\0"); /* a NUL byte is data */
}

TEST(scan_lines_refuses_a_line_at_the_limit)
{
        arena a;
        bf_error err = { 0 };
        int rc;
        arena_init(&a, 0);
        CHECK_STREQ(lines_of(&a, "abcd\nef", 7, 5, &rc, &err), "abcd|ef");
        CHECK(lines_of(&a, "abcde\nef", 8, 5, &rc, &err) == NULL);
        CHECK_INTEQ(rc, -EINVAL);
        CHECK_STREQ(err.msg, "bufio.Scanner: token too long");
        /* the CR of a CRLF counts toward the limit */
        CHECK(lines_of(&a, "abcd\r\n", 6, 5, &rc, &err) == NULL);
        CHECK(lines_of(&a, "ab\nabcde", 8, 5, &rc, &err) == NULL);
        arena_done(&a);
}

/* ---- files ------------------------------------------------------------------ */

TEST(file_read_all_reads_regular_files_only)
{
        char dir[] = "/tmp/bundlefs-unit-XXXXXX";
        if (!CHECK(mkdtemp(dir) != NULL))
                return;
        char path[128], fifo[128], missing[128];
        snprintf(path, sizeof(path), "%s/f", dir);
        snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
        snprintf(missing, sizeof(missing), "%s/missing", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0 && write(fd, "hello\0world", 11) == 11);
        close(fd);
        CHECK(mkfifo(fifo, 0644) == 0);

        char *data = NULL;
        size_t n = 0;
        bf_error err = { 0 };
        if (CHECK(file_read_all(path, 100, &data, &n, &err) == 0)) {
                CHECK_MEMEQ(data, n, "hello\0world", 11);
                CHECK(data[n] == '\0');
        }
        free(data);
        data = NULL;

        char want[256];
        CHECK(file_read_all(missing, 100, &data, &n, &err) == -ENOENT);
        snprintf(want, sizeof(want), "open %s: no such file or directory", missing);
        CHECK_STREQ(err.msg, want);
        CHECK(file_read_all(dir, 100, &data, &n, &err) == -EINVAL);
        snprintf(want, sizeof(want), "read %s: is a directory", dir);
        CHECK_STREQ(err.msg, want);
        CHECK(file_read_all(fifo, 100, &data, &n, &err) == -EINVAL);
        CHECK(file_read_all(path, 10, &data, &n, &err) == -EFBIG);
        CHECK(file_read_all(path, 11, &data, &n, &err) == 0);
        free(data);

        unlink(path);
        unlink(fifo);
        CHECK(rmdir(dir) == 0);
}

/* ---- arenas and buffers ------------------------------------------------------- */

TEST(arena_allocations_are_zeroed_aligned_and_freed_together)
{
        arena a;
        arena_init(&a, 0);
        for (size_t i = 1; i < 3000; i += 7) {
                unsigned char *p = arena_alloc(&a, i);
                if (!CHECK(p != NULL))
                        break;
                CHECK(((uintptr_t) p & 15) == 0);
                bool zero = true;
                for (size_t j = 0; j < i; j++)
                        zero = zero && p[j] == 0;
                CHECK(zero);
                memset(p, 0xff, i);
        }
        /* a block larger than any chunk */
        char *big = arena_alloc(&a, 40u << 20);
        CHECK(big != NULL && big[(40u << 20) - 1] == 0);
        CHECK_STREQ(arena_strndup(&a, "abcdef", 3), "abc");
        CHECK_STREQ(arena_strdup(&a, ""), "");
        CHECK_STREQ(arena_printf(&a, "%s-%d-%05.1f", "x", -3, 2.25), "x--3-002.2");
        CHECK(a.used >= (40u << 20));
        arena_reset(&a);
        CHECK_UINTEQ(a.used, 0);
        char *after = arena_alloc(&a, 100);
        CHECK(after != NULL && after[99] == 0);
        arena_done(&a);
        CHECK(a.head == NULL);
}

TEST(arena_refuses_a_block_past_its_limit)
{
        arena a;
        arena_init(&a, 1 << 20);
        CHECK(arena_alloc(&a, (1 << 20) + 1) == NULL);
        CHECK(arena_alloc(&a, 1000) != NULL);
        CHECK(arena_alloc(&a, 2 << 20) == NULL);
        arena_done(&a);
}

TEST(buffers_grow_and_print_numbers)
{
        buf b = { 0 };
        buf_put_i64(&b, INT64_MIN);
        buf_putc(&b, ' ');
        buf_put_i64(&b, -1);
        buf_putc(&b, ' ');
        buf_put_u64(&b, UINT64_MAX);
        buf_putc(&b, ' ');
        buf_put_u64(&b, 0);
        buf_printf(&b, " %s=%d", "k", 42);
        CHECK_STREQ(b.p, "-9223372036854775808 -1 18446744073709551615 0 k=42");
        CHECK_UINTEQ(b.len, strlen(b.p));
        for (int i = 0; i < 10000; i++)
                buf_puts(&b, "0123456789");
        CHECK_UINTEQ(b.len, 51 + 100000);
        CHECK(!b.oom);
        size_t n = 0;
        char *s = buf_steal(&b, &n);
        CHECK_UINTEQ(n, 100051);
        CHECK(s && s[n] == '\0');
        CHECK(b.p == NULL && b.len == 0);
        free(s);
        buf_free(&b);
}

/* ---- errors ------------------------------------------------------------------- */

TEST(errors_carry_a_code_and_a_one_line_message)
{
        bf_error err = { 0 };
        CHECK_INTEQ(bf_error_set(&err, ENOENT, "no %s found", "users"), -ENOENT);
        CHECK_INTEQ(err.code, ENOENT);
        CHECK_STREQ(err.msg, "no users found");
        CHECK_INTEQ(bf_error_prefix(&err, "line %d: %s", 3, "WithUser"), -ENOENT);
        CHECK_STREQ(err.msg, "line 3: WithUser: no users found");
        CHECK_INTEQ(bf_error_set(&err, -EINVAL, "a\nb\tc\x7f" "d"), -EINVAL);
        CHECK_INTEQ(err.code, EINVAL);
        CHECK_STREQ(err.msg, "a b c d");
        CHECK_INTEQ(bf_error_set(NULL, EFBIG, "ignored"), -EFBIG);
        bf_error_clear(&err);
        CHECK_INTEQ(err.code, 0);
        CHECK_STREQ(err.msg, "");
}

TEST(long_error_messages_are_cut_to_the_buffer)
{
        bf_error err = { 0 };
        char big[2000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        bf_error_set(&err, EINVAL, "%s", big);
        CHECK_UINTEQ(strlen(err.msg), BF_ERROR_MAX - 1);
        bf_error_prefix(&err, "prefix");
        CHECK_UINTEQ(strlen(err.msg), BF_ERROR_MAX - 1);
        CHECK(strncmp(err.msg, "prefix: xxx", 11) == 0);
        bf_error_set(&err, EINVAL, "short");
        bf_error_prefix(&err, "%s", big);
        CHECK_UINTEQ(strlen(err.msg), BF_ERROR_MAX - 1);
        CHECK_INTEQ(err.code, EINVAL);
}

/* ---- capabilities --------------------------------------------------------------- */

TEST(capability_names_are_those_of_kernel_5_9)
{
        CHECK_STREQ(caps_name(0), "CAP_CHOWN");
        CHECK_STREQ(caps_name(12), "CAP_NET_ADMIN");
        CHECK_STREQ(caps_name(21), "CAP_SYS_ADMIN");
        CHECK_STREQ(caps_name(38), "CAP_PERFMON");
        CHECK_STREQ(caps_name(40), "CAP_CHECKPOINT_RESTORE");
        CHECK(caps_name(CAPS_KNOWN) == NULL);
        CHECK(caps_name(1000) == NULL);
        for (unsigned i = 0; i < CAPS_KNOWN; i++)
                CHECK(caps_name(i) && strncmp(caps_name(i), "CAP_", 4) == 0);
}

TEST(capability_names_are_canonicalised_when_asked)
{
        static const char *const spellings[] = { "net_admin", "NET_ADMIN", "cap_net_admin", "CAP_NET_ADMIN", "Cap_Net_Admin" };
        for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
                const char *c = NULL;
                bf_error err = { 0 };
                if (CHECK(caps_canonical(spellings[i], &c, &err) == 0))
                        CHECK_STREQ(c, "CAP_NET_ADMIN");
        }
        /* libcap reads a name from the start of its text: what follows must not be dropped */
        static const char *const bad[] = { "", "bogus", "CAP_", "12", "cap_12", "net admin", "CAP_CHOWN;reboot",
                                           "chown;reboot", "cap_chownx", "CAP_KILL ", "kill\n" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *c = NULL;
                bf_error err = { 0 };
                CHECK(caps_canonical(bad[i], &c, &err) == -EINVAL);
                CHECK_INTEQ(err.code, EINVAL);
        }
}

TEST(current_capabilities_are_known_names_in_number_order)
{
        const char *names[CAPS_KNOWN];
        size_t n = 99;
        bf_error err = { 0 };
        if (!CHECK(caps_current(names, &n, &err) == 0))
                return;
        CHECK(n <= CAPS_KNOWN);
        unsigned last = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned num = CAPS_KNOWN;
                for (unsigned k = 0; k < CAPS_KNOWN; k++)
                        if (caps_name(k) && strcmp(caps_name(k), names[i]) == 0)
                                num = k;
                CHECK(num < CAPS_KNOWN);
                CHECK(i == 0 || num > last);
                last = num;
        }
}
