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

TEST(a_new_list_holds_its_lines_and_the_size_opts_shows)
{
        struct optline *a = line("WithHostname a"), *b = line("WithEnv X=1");
        struct optline *lines[] = { a, b };
        struct optlist *l = optlist_new(lines, 2);
        CHECK_UINTEQ(optlist_len(l), 2);
        CHECK(optlist_lines(l)[0] == a && optlist_lines(l)[1] == b);
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
        struct optlist *v1 = optlist_new(&a, 1);
        struct optlist *v2 = optlist_extend(v1, 1, &b, 1);
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

TEST(extending_an_older_version_or_replacing_its_end_copies)
{
        struct optline *a = line("WithHostname a"), *b = line("WithHostname b"), *c = line("WithHostname c");
        struct optlist *v1 = optlist_new(&a, 1);
        struct optlist *v2 = optlist_extend(v1, 1, &b, 1);
        /* v1 is no longer the array's newest: another branch from it copies */
        struct optlist *v3 = optlist_extend(v1, 1, &c, 1);
        CHECK(optlist_lines(v3) != optlist_lines(v2));
        CHECK(optlist_lines(v2)[1] == b && optlist_lines(v3)[1] == c);
        /* a control file's value replaces its own last line: base 1 of v2 */
        struct optlist *v4 = optlist_extend(v2, 1, &c, 1);
        CHECK(optlist_lines(v4) != optlist_lines(v2));
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
        struct optlist *l = optlist_new(NULL, 0);
        size_t copies = 0;
        for (int i = 0; i < 10000; i++) {
                struct optlist *next = optlist_extend(l, optlist_len(l), &a, 1);
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
