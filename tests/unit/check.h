/* A tiny unit-test harness.
 *
 *     TEST(name_that_reads_like_the_behaviour) { CHECK(...); CHECK_STREQ(a, b); }
 *
 * check.h defines main(): include it once per test program.
 * Tests register themselves (a constructor per TEST) and run in the order
 * they appear in the file. A failed check prints file:line and what differed,
 * and the test goes on; the program exits non-zero if any check failed.
 * Arguments select tests by substring of their name. */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_fn)(void);

struct check_test {
        const char *name;
        check_fn fn;
        int line;
};

#define CHECK_MAX_TESTS 512

static struct check_test check_tests[CHECK_MAX_TESTS];
static size_t check_ntests;
static int check_failed_checks;      /* in the running test */
static int check_total_checks;
static const char *check_skip_reason; /* set by SKIP_TEST in the running test */

static inline void check_register(const char *name, check_fn fn, int line)
{
        if (check_ntests == CHECK_MAX_TESTS) {
                fprintf(stderr, "check.h: too many tests (raise CHECK_MAX_TESTS)\n");
                exit(2);
        }
        check_tests[check_ntests++] = (struct check_test){ .name = name, .fn = fn, .line = line };
}

#define TEST(name)                                                             \
        static void name(void);                                                \
        __attribute__((constructor)) static void check_register_##name(void)   \
        {                                                                      \
                check_register(#name, name, __LINE__);                         \
        }                                                                      \
        static void name(void)

/* Print s as a C string literal, control and non-ASCII bytes escaped, long
 * strings cut in the middle. */
static inline void check_print_str(const char *s, size_t n)
{
        if (!s) {
                fputs("(null)", stderr);
                return;
        }
        fputc('"', stderr);
        for (size_t i = 0; i < n; i++) {
                if (n > 400 && i == 180) {
                        fprintf(stderr, "\" ...%zu bytes... \"", n - 360);
                        i = n - 180;
                }
                unsigned char c = (unsigned char) s[i];
                if (c == '"' || c == '\\')
                        fprintf(stderr, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", stderr);
                else if (c == '\t')
                        fputs("\\t", stderr);
                else if (c < 0x20 || c >= 0x7f)
                        fprintf(stderr, "\\x%02x", c);
                else
                        fputc(c, stderr);
        }
        fputc('"', stderr);
}

static inline void check_fail_at(const char *file, int line)
{
        check_failed_checks++;
        fprintf(stderr, "%s:%d: check failed: ", file, line);
}

static inline bool check_true(bool ok, const char *expr, const char *file, int line)
{
        check_total_checks++;
        if (!ok) {
                check_fail_at(file, line);
                fprintf(stderr, "%s\n", expr);
        }
        return ok;
}

static inline bool check_mem_eq(const char *a, size_t an, const char *b, size_t bn, const char *ea, const char *eb,
                                const char *file, int line)
{
        check_total_checks++;
        bool ok = (a == NULL) == (b == NULL) && (!a || (an == bn && memcmp(a, b, an) == 0));
        if (!ok) {
                check_fail_at(file, line);
                fprintf(stderr, "%s == %s\n    got:  ", ea, eb);
                check_print_str(a, a ? an : 0);
                fputs("\n    want: ", stderr);
                check_print_str(b, b ? bn : 0);
                fputc('\n', stderr);
        }
        return ok;
}

static inline bool check_str_eq(const char *a, const char *b, const char *ea, const char *eb, const char *file,
                                int line)
{
        return check_mem_eq(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, ea, eb, file, line);
}

static inline bool check_str_contains(const char *hay, const char *needle, const char *eh, const char *file,
                                      int line)
{
        check_total_checks++;
        bool ok = hay && strstr(hay, needle);
        if (!ok) {
                check_fail_at(file, line);
                fprintf(stderr, "%s contains \"%s\"\n    got:  ", eh, needle);
                check_print_str(hay, hay ? strlen(hay) : 0);
                fputc('\n', stderr);
        }
        return ok;
}

static inline bool check_int_eq(intmax_t a, intmax_t b, const char *ea, const char *eb, const char *file, int line)
{
        check_total_checks++;
        if (a != b) {
                check_fail_at(file, line);
                fprintf(stderr, "%s == %s\n    got:  %jd\n    want: %jd\n", ea, eb, a, b);
        }
        return a == b;
}

static inline bool check_uint_eq(uintmax_t a, uintmax_t b, const char *ea, const char *eb, const char *file,
                                 int line)
{
        check_total_checks++;
        if (a != b) {
                check_fail_at(file, line);
                fprintf(stderr, "%s == %s\n    got:  %ju\n    want: %ju\n", ea, eb, a, b);
        }
        return a == b;
}

/* Each evaluates its arguments once and returns whether the check held. */
#define CHECK(cond) check_true((cond), #cond, __FILE__, __LINE__)
#define CHECK_STREQ(a, b) check_str_eq((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_MEMEQ(a, an, b, bn) check_mem_eq((a), (an), (b), (bn), #a, #b, __FILE__, __LINE__)
#define CHECK_CONTAINS(hay, needle) check_str_contains((hay), (needle), #hay, __FILE__, __LINE__)
#define CHECK_INTEQ(a, b) check_int_eq((intmax_t) (a), (intmax_t) (b), #a, #b, __FILE__, __LINE__)
#define CHECK_UINTEQ(a, b) check_uint_eq((uintmax_t) (a), (uintmax_t) (b), #a, #b, __FILE__, __LINE__)

/* End the running test early, reported as skipped (checks made before count). */
#define SKIP_TEST(reason)                       \
        do {                                    \
                check_skip_reason = (reason);   \
                return;                         \
        } while (0)

/* A check made inside a helper, reported at the helper's caller. */
#define CHECK_AT(file, line, cond) check_true((cond), #cond, (file), (line))
#define CHECK_STREQ_AT(file, line, a, b) check_str_eq((a), (b), #a, #b, (file), (line))
#define CHECK_INTEQ_AT(file, line, a, b) check_int_eq((intmax_t) (a), (intmax_t) (b), #a, #b, (file), (line))
#define CHECK_UINTEQ_AT(file, line, a, b) check_uint_eq((uintmax_t) (a), (uintmax_t) (b), #a, #b, (file), (line))
#define CHECK_CONTAINS_AT(file, line, hay, needle) check_str_contains((hay), (needle), #hay, (file), (line))

static inline int check_cmp_line(const void *a, const void *b)
{
        return ((const struct check_test *) a)->line - ((const struct check_test *) b)->line;
}

static inline bool check_selected(const char *name, int argc, char **argv)
{
        if (argc < 2)
                return true;
        for (int i = 1; i < argc; i++)
                if (strstr(name, argv[i]))
                        return true;
        return false;
}

static inline int check_main(int argc, char **argv)
{
        qsort(check_tests, check_ntests, sizeof(check_tests[0]), check_cmp_line);
        size_t run = 0, failed = 0, skipped = 0;
        for (size_t i = 0; i < check_ntests; i++) {
                if (!check_selected(check_tests[i].name, argc, argv))
                        continue;
                check_failed_checks = 0;
                check_skip_reason = NULL;
                check_tests[i].fn();
                run++;
                if (check_failed_checks) {
                        failed++;
                        printf("FAIL %s (%d failed checks)\n", check_tests[i].name, check_failed_checks);
                } else if (check_skip_reason) {
                        skipped++;
                        printf("skip %s: %s\n", check_tests[i].name, check_skip_reason);
                } else {
                        printf("ok   %s\n", check_tests[i].name);
                }
                fflush(stdout);
                fflush(stderr);
        }
        printf("%zu tests, %zu failed, %zu skipped, %d checks\n", run, failed, skipped, check_total_checks);
        if (run == 0) {
                fprintf(stderr, "no test matched\n");
                return 1;
        }
        return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
        return check_main(argc, argv);
}
