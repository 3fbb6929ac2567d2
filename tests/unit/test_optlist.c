/* fs/optlist: versions of an option list sharing one array. */
#include "check.h"

#include "optline.h"
#include "optlist.h"

static struct optline *line(const char *text)
{
        struct optline *l = NULL;
        bf_error err = { 0 };
        CHECK_INTEQ(optline_parse(text, strlen(text), &l, &err), 0);
        return l;
}

static struct optlist *append(const struct optlist *cur, struct optline *l, uint64_t seq)
{
        return optlist_change(cur, NULL, 0, &l, 1, seq, false);
}

TEST(a_new_list_holds_its_lines_and_the_size_opts_shows)
{
        struct optline *a = line("WithHostname a"), *b = line("WithEnv X=1");
        struct optline *lines[] = { a, b };
        struct optlist *l = optlist_new(lines, NULL, NULL, 2);
        CHECK_UINTEQ(optlist_len(l), 2);
        CHECK(optlist_lines(l)[0] == a && optlist_lines(l)[1] == b);
        CHECK_UINTEQ(optlist_seq(l, 0), 0);
        CHECK_UINTEQ(optlist_seq(l, 1), 1);
        CHECK(!optlist_by_control(l, 0));
        CHECK_UINTEQ(optlist_bytes(l), strlen("WithHostname a\nWithEnv X=1\n"));
        CHECK_UINTEQ(a->refs.n, 2);     /* the list's and ours */
        optlist_unref(l);
        CHECK_UINTEQ(a->refs.n, 1);
        optline_unref(a);
        optline_unref(b);
}

TEST(appending_to_the_newest_version_fills_the_same_array_and_leaves_the_old_version_as_it_was)
{
        struct optline *a = line("WithHostname a"), *b = line("WithDomainname b");
        struct optlist *v1 = optlist_new(&a, NULL, NULL, 1);
        struct optlist *v2 = append(v1, b, 1);
        CHECK(optlist_lines(v2) == optlist_lines(v1));  /* shared: no copy of the list */
        CHECK_UINTEQ(optlist_len(v1), 1);
        CHECK_UINTEQ(optlist_len(v2), 2);
        CHECK(optlist_lines(v2)[1] == b);
        CHECK_UINTEQ(optlist_bytes(v2), optlist_bytes(v1) + strlen("WithDomainname b\n"));
        optlist_unref(v1);
        CHECK(optlist_lines(v2)[0] == a);       /* v2 keeps the array alive */
        optlist_unref(v2);
        CHECK_UINTEQ(a->refs.n, 1);
        CHECK_UINTEQ(b->refs.n, 1);
        optline_unref(a);
        optline_unref(b);
}

TEST(dropping_a_line_hides_it_from_the_new_version_only)
{
        struct optline *a = line("WithHostname a"), *b = line("WithMemoryLimit 1"), *c = line("WithHostname c");
        struct optline *ab[] = { a, b };
        uint64_t seqs[] = { 4, 9 };
        bool control[] = { false, true };
        struct optlist *v1 = optlist_new(ab, seqs, control, 2);
        uint64_t drop = 9;
        struct optlist *v2 = optlist_change(v1, &drop, 1, &c, 1, 10, true);
        /* v1 still shows both, v2 a then c, numbered as they were given */
        CHECK_UINTEQ(optlist_len(v1), 2);
        CHECK(optlist_lines(v1)[1] == b);
        CHECK(optlist_has(v1, 9));
        CHECK_UINTEQ(optlist_len(v2), 2);
        CHECK(optlist_lines(v2)[0] == a && optlist_lines(v2)[1] == c);
        CHECK_UINTEQ(optlist_seq(v2, 0), 4);
        CHECK_UINTEQ(optlist_seq(v2, 1), 10);
        CHECK(!optlist_by_control(v2, 0) && optlist_by_control(v2, 1));
        CHECK(!optlist_has(v2, 9) && optlist_has(v2, 10));
        CHECK_UINTEQ(optlist_bytes(v2), strlen("WithHostname a\nWithHostname c\n"));
        optlist_unref(v1);
        optlist_unref(v2);
        CHECK_UINTEQ(b->refs.n, 1);
        optline_unref(a);
        optline_unref(b);
        optline_unref(c);
}

TEST(changing_an_older_version_copies)
{
        struct optline *a = line("WithHostname a"), *b = line("WithHostname b"), *c = line("WithHostname c");
        struct optlist *v1 = optlist_new(&a, NULL, NULL, 1);
        struct optlist *v2 = append(v1, b, 1);
        /* v1 is no longer the array's newest: another branch from it copies */
        struct optlist *v3 = append(v1, c, 2);
        CHECK(optlist_lines(v3) != optlist_lines(v2));
        CHECK(optlist_lines(v2)[1] == b && optlist_lines(v3)[1] == c);
        /* a control file's value replaces its own last line */
        uint64_t own = 1;
        struct optlist *v4 = optlist_change(v2, &own, 1, &c, 1, 3, true);
        CHECK_UINTEQ(optlist_len(v4), 2);
        CHECK(optlist_lines(v4)[1] == c && optlist_lines(v2)[1] == b);
        optlist_unref(v1);
        optlist_unref(v2);
        optlist_unref(v3);
        optlist_unref(v4);
        CHECK_UINTEQ(c->refs.n, 1);
        optline_unref(a);
        optline_unref(b);
        optline_unref(c);
}

TEST(many_appends_cost_amortised_constant_copies)
{
        struct optline *a = line("WithEnv K=v");
        struct optlist *l = optlist_new(NULL, NULL, NULL, 0);
        size_t copies = 0;
        for (int i = 0; i < 10000; i++) {
                struct optlist *next = append(l, a, (uint64_t) i);
                copies += optlist_lines(next) != optlist_lines(l);
                optlist_unref(l);
                l = next;
        }
        CHECK_UINTEQ(optlist_len(l), 10000);
        CHECK(copies < 20);     /* the array doubles */
        optlist_unref(l);
        CHECK_UINTEQ(a->refs.n, 1);
        optline_unref(a);
}

TEST(a_line_replaced_a_hundred_thousand_times_stays_one_line)
{
        /* A list of 1,000 lines, then a control file's line dropping its
         * previous one each time (the array is copied only once dead lines
         * outnumber live ones). */
        struct optline *a = line("WithEnv K=v"), *m = line("WithMemoryLimit 1");
        struct optlist *l = optlist_new(NULL, NULL, NULL, 0);
        uint64_t seq = 0;
        for (int i = 0; i < 1000; i++) {
                struct optlist *next = append(l, a, seq++);
                optlist_unref(l);
                l = next;
        }
        uint64_t last = seq;
        struct optlist *next = optlist_change(l, NULL, 0, &m, 1, seq++, true);
        optlist_unref(l);
        l = next;
        for (int i = 0; i < 100000; i++) {
                next = optlist_change(l, &last, 1, &m, 1, seq, true);
                CHECK(!optlist_has(next, last) && optlist_has(l, last));
                last = seq++;
                optlist_unref(l);
                l = next;
        }
        CHECK_UINTEQ(optlist_len(l), 1001);
        CHECK_UINTEQ(optlist_bytes(l), 1000 * strlen("WithEnv K=v\n") + strlen("WithMemoryLimit 1\n"));
        CHECK(optlist_lines(l)[1000] == m && optlist_lines(l)[999] == a);
        CHECK_UINTEQ(optlist_seq(l, 1000), last);
        optlist_unref(l);
        CHECK_UINTEQ(m->refs.n, 1);
        optline_unref(a);
        optline_unref(m);
}
