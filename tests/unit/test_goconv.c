/* goconv: conversions that must match Go's strconv, path and bytes. */
#include "check.h"

#include "goconv.h"

#define ATOI_CHECK(s, want, want_ok) atoi_check(__FILE__, __LINE__, (s), (want), (want_ok))

static void atoi_check(const char *file, int line, const char *s, int64_t want, bool want_ok)
{
        bool ok = !want_ok;
        int64_t v = go_atoi(s, strlen(s), &ok);
        CHECK_INTEQ_AT(file, line, v, want);
        CHECK_INTEQ_AT(file, line, ok, want_ok);
}

TEST(atoi_accepts_plain_and_signed_decimals)
{
        ATOI_CHECK("0", 0, true);
        ATOI_CHECK("42", 42, true);
        ATOI_CHECK("+5", 5, true);
        ATOI_CHECK("-5", -5, true);
        ATOI_CHECK("-0", 0, true);
        ATOI_CHECK("+0", 0, true);
        ATOI_CHECK("007", 7, true);
        ATOI_CHECK("9223372036854775807", INT64_MAX, true);
        ATOI_CHECK("-9223372036854775808", INT64_MIN, true);
        ATOI_CHECK("000000000000000000000000001", 1, true);
}

TEST(atoi_syntax_errors_give_zero_and_not_ok)
{
        ATOI_CHECK("", 0, false);
        ATOI_CHECK("+", 0, false);
        ATOI_CHECK("-", 0, false);
        ATOI_CHECK("--1", 0, false);
        ATOI_CHECK("+-1", 0, false);
        ATOI_CHECK(" 1", 0, false);
        ATOI_CHECK("1 ", 0, false);
        ATOI_CHECK("1a", 0, false);
        ATOI_CHECK("0x10", 0, false);
        ATOI_CHECK("1_000", 0, false);
        ATOI_CHECK("1.0", 0, false);
        ATOI_CHECK("1e3", 0, false);
        ATOI_CHECK("٣", 0, false);      /* a non-ASCII digit */
        /* a long string with a bad byte before any overflow */
        ATOI_CHECK("9223372036854775808x", 0, false);
        ATOI_CHECK("99999999999999999x9", 0, false);
}

TEST(atoi_range_errors_are_clamped_and_not_ok)
{
        ATOI_CHECK("9223372036854775808", INT64_MAX, false);
        ATOI_CHECK("-9223372036854775809", INT64_MIN, false);
        ATOI_CHECK("18446744073709551616", INT64_MAX, false);
        ATOI_CHECK("99999999999999999999999999999", INT64_MAX, false);
        ATOI_CHECK("-99999999999999999999999999999", INT64_MIN, false);
        ATOI_CHECK("+9223372036854775808", INT64_MAX, false);
}

TEST(atoi_range_error_wins_over_a_later_bad_byte)
{
        /* strconv.ParseUint stops at the first digit that overflows, so a bad
         * byte after it is never seen: Atoi gives the clamped value. */
        ATOI_CHECK("99999999999999999999x", INT64_MAX, false);
        ATOI_CHECK("-99999999999999999999x", INT64_MIN, false);
        ATOI_CHECK("184467440737095516150:x", INT64_MAX, false);
}

TEST(atoi_uses_only_the_given_length)
{
        bool ok = false;
        CHECK_INTEQ(go_atoi("123456", 3, &ok), 123);
        CHECK(ok);
        CHECK_INTEQ(go_atoi("12:34", 2, &ok), 12);
        CHECK(ok);
}

#define PARSE_UINT_OK(s, bits, want) parse_uint_check(__FILE__, __LINE__, (s), (bits), true, (want))
#define PARSE_UINT_BAD(s, bits) parse_uint_check(__FILE__, __LINE__, (s), (bits), false, 0)

static void parse_uint_check(const char *file, int line, const char *s, unsigned bits, bool want_ok, uint64_t want)
{
        uint64_t v = 0xdeadbeef;
        bool ok = go_parse_uint(s, strlen(s), bits, &v);
        CHECK_INTEQ_AT(file, line, ok, want_ok);
        if (want_ok && ok)
                CHECK_UINTEQ_AT(file, line, v, want);
}

TEST(parse_uint_respects_the_bit_size)
{
        PARSE_UINT_OK("0", 16, 0);
        PARSE_UINT_OK("65535", 16, 65535);
        PARSE_UINT_BAD("65536", 16);
        PARSE_UINT_OK("4294967295", 32, UINT32_MAX);
        PARSE_UINT_BAD("4294967296", 32);
        PARSE_UINT_OK("18446744073709551615", 64, UINT64_MAX);
        PARSE_UINT_BAD("18446744073709551616", 64);
        PARSE_UINT_BAD("99999999999999999999", 64);
        PARSE_UINT_OK("255", 8, 255);
        PARSE_UINT_BAD("256", 8);
        PARSE_UINT_OK("1", 1, 1);
        PARSE_UINT_BAD("2", 1);
}

TEST(parse_uint_refuses_signs_spaces_and_non_digits)
{
        PARSE_UINT_BAD("", 32);
        PARSE_UINT_BAD("-1", 32);
        PARSE_UINT_BAD("+1", 32);
        PARSE_UINT_BAD("-0", 32);
        PARSE_UINT_BAD(" 1", 32);
        PARSE_UINT_BAD("1 ", 32);
        PARSE_UINT_BAD("1_0", 32);
        PARSE_UINT_BAD("0x1", 32);
        PARSE_UINT_BAD("abc", 32);
        PARSE_UINT_OK("0007", 32, 7);
}

static char *clean(const char *path)
{
        buf b = { 0 };
        go_path_clean(&b, path);
        return buf_steal(&b, NULL);
}

#define CLEAN_CHECK(in, want)                            \
        do {                                             \
                char *got_ = clean(in);                  \
                CHECK_STREQ(got_, want);                 \
                free(got_);                              \
        } while (0)

TEST(path_clean_matches_go_table)
{
        static const char *const table[][2] = {
                /* already clean */
                { "", "." }, { "abc", "abc" }, { "abc/def", "abc/def" }, { "a/b/c", "a/b/c" }, { ".", "." },
                { "..", ".." }, { "../..", "../.." }, { "../../abc", "../../abc" }, { "/abc", "/abc" },
                { "/", "/" },
                /* trailing slashes */
                { "abc/", "abc" }, { "abc/def/", "abc/def" }, { "a/b/c/", "a/b/c" }, { "./", "." },
                { "../", ".." }, { "../../", "../.." }, { "/abc/", "/abc" },
                /* doubled slashes */
                { "abc//def//ghi", "abc/def/ghi" }, { "//abc", "/abc" }, { "///abc", "/abc" },
                { "//abc//", "/abc" }, { "abc//", "abc" },
                /* . elements */
                { "abc/./def", "abc/def" }, { "/./abc/def", "/abc/def" }, { "abc/.", "abc" },
                /* .. elements */
                { "abc/def/ghi/../jkl", "abc/def/jkl" }, { "abc/def/../ghi/../jkl", "abc/jkl" },
                { "abc/def/..", "abc" }, { "abc/def/../..", "." }, { "/abc/def/../..", "/" },
                { "abc/def/../../..", ".." }, { "/abc/def/../../..", "/" },
                { "abc/def/../../../ghi/jkl/../../../mno", "../../mno" },
                /* combinations */
                { "abc/./../def", "def" }, { "abc//./../def", "def" }, { "abc/../../././../def", "../../def" },
                /* the brief's cases */
                { "a/b/../c", "a/c" }, { "/../a", "/a" }, { "a/../../b", "../b" }, { "//a//b/", "/a/b" },
                { "/a/./b/.", "/a/b" },
                /* names that only look like dots */
                { "/...", "/..." }, { "/a/..b/.c", "/a/..b/.c" }, { "/tmp/", "/tmp" }, { "/dev/shm/.", "/dev/shm" },
                { "/..", "/" }, { "/../..", "/" }, { "../a/..", ".." },
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                CLEAN_CHECK(table[i][0], table[i][1]);
}

TEST(path_clean_appends_to_what_the_buffer_holds)
{
        buf b = { 0 };
        buf_puts(&b, "X=");
        go_path_clean(&b, "a/../..");
        CHECK_STREQ(b.p, "X=..");
        buf_puts(&b, ";");
        go_path_clean(&b, "/x/../y/");
        CHECK_STREQ(b.p, "X=..;/y");
        buf_puts(&b, ";");
        go_path_clean(&b, "");
        CHECK_STREQ(b.p, "X=..;/y;.");
        buf_puts(&b, ";");
        go_path_clean(&b, "a/..");
        CHECK_STREQ(b.p, "X=..;/y;.;.");
        CHECK_UINTEQ(b.len, strlen("X=..;/y;.;."));
        buf_free(&b);
}

static char *join(const char *const *elems, size_t n)
{
        buf b = { 0 };
        go_path_join(&b, elems, n);
        return buf_steal(&b, NULL);
}

#define JOIN_CHECK(want, ...)                                                                   \
        do {                                                                                    \
                const char *const elems_[] = { __VA_ARGS__ };                                   \
                char *got_ = join(elems_, sizeof(elems_) / sizeof(elems_[0]));                  \
                CHECK_STREQ(got_ ? got_ : "", want);                                            \
                free(got_);                                                                     \
        } while (0)

TEST(path_join_matches_go_table)
{
        char *none = join(NULL, 0);
        CHECK_STREQ(none ? none : "", "");
        free(none);
        JOIN_CHECK("a", "a");
        JOIN_CHECK("a/b", "a", "b");
        JOIN_CHECK("a", "a", "");
        JOIN_CHECK("b", "", "b");
        JOIN_CHECK("/a", "/", "a");
        JOIN_CHECK("/a/b", "/", "a/b");
        JOIN_CHECK("/", "/", "");
        JOIN_CHECK("/a", "//", "a");
        JOIN_CHECK("/a/b", "/a", "b");
        JOIN_CHECK("a/b", "a/", "b");
        JOIN_CHECK("a", "a/", "");
        JOIN_CHECK("", "", "");
        JOIN_CHECK("/a/b", "/", "a", "b");
        /* containerd's cgroup path: filepath.Join("/", namespace, id) */
        JOIN_CHECK("/default/c1", "/", "default", "c1");
        JOIN_CHECK("/c1", "/", "", "c1");
        JOIN_CHECK("/", "/", "..", "..");
        JOIN_CHECK("/etc/passwd", "/", "../../etc", "passwd");
        JOIN_CHECK("a/b", NULL, "a", NULL, "b");
}

#define TRIM_CHECK(in, want)                                                    \
        do {                                                                    \
                const char *in_ = (in);                                         \
                const char *s_ = in_;                                           \
                size_t n_ = sizeof(in) - 1;                                     \
                go_trim_space(&s_, &n_);                                        \
                CHECK_MEMEQ(s_, n_, want, sizeof(want) - 1);                    \
                CHECK(s_ >= in_ && s_ + n_ <= in_ + sizeof(in) - 1);            \
        } while (0)

TEST(trim_space_removes_ascii_white_space)
{
        TRIM_CHECK("", "");
        TRIM_CHECK("   ", "");
        TRIM_CHECK("abc", "abc");
        TRIM_CHECK(" \t\n\v\f\rabc \t\n\v\f\r", "abc");
        TRIM_CHECK("  a b  ", "a b");
        TRIM_CHECK("a\t\tb", "a\t\tb");
        /* NUL and other control bytes are not space */
        TRIM_CHECK("\x01" "a\x01", "\x01" "a\x01");
        TRIM_CHECK(" a\0 ", "a\0");
}

TEST(trim_space_removes_unicode_white_space)
{
        TRIM_CHECK("\xc2\x85x\xc2\x85", "x");                   /* U+0085 NEL */
        TRIM_CHECK("\xc2\xa0x\xc2\xa0", "x");                   /* U+00A0 NBSP */
        TRIM_CHECK("\xe2\x80\x80x\xe2\x80\x8a", "x");           /* U+2000, U+200A */
        TRIM_CHECK("\xe3\x80\x80x\xe3\x80\x80", "x");           /* U+3000 */
        TRIM_CHECK("\xe1\x9a\x80x\xe2\x81\x9f", "x");           /* U+1680, U+205F */
        TRIM_CHECK("\xe2\x80\xa8x\xe2\x80\xa9\xe2\x80\xaf", "x"); /* U+2028, U+2029, U+202F */
        TRIM_CHECK(" \xc2\xa0 \xe3\x80\x80\tx y\t\xe2\x80\x80 \xc2\x85", "x y");
}

TEST(trim_space_keeps_non_space_multibyte_characters_at_the_edges)
{
        TRIM_CHECK("\xc3\xa9x\xc3\xa9", "\xc3\xa9x\xc3\xa9");                   /* é */
        TRIM_CHECK(" \xe2\x82\xac ", "\xe2\x82\xac");                           /* € */
        TRIM_CHECK("\xe2\x80\x8b" "x", "\xe2\x80\x8b" "x");                     /* U+200B is not space */
        TRIM_CHECK("x\xef\xbb\xbf", "x\xef\xbb\xbf");                           /* BOM is not space */
        TRIM_CHECK("\xc2\xa1x\xc2\xa1", "\xc2\xa1x\xc2\xa1");                   /* U+00A1 */
        TRIM_CHECK("\xe3\x80\x81x\xe3\x80\x81", "\xe3\x80\x81x\xe3\x80\x81");   /* U+3001 */
        TRIM_CHECK("\xf0\x9f\x98\x80 ", "\xf0\x9f\x98\x80");                    /* 4-byte emoji */
        /* a space code point's tail bytes alone are not space */
        TRIM_CHECK("\xa0x\x85", "\xa0x\x85");
        TRIM_CHECK("x\xe3\x80", "x\xe3\x80");
}
