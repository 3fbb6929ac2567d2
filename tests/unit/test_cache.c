/* fs/cache and fs/content: kept renderings within a budget, and content
 * shared between readers. */
#include "check.h"

#include "cache.h"
#include "content.h"

static struct content *text(const char *s, uint64_t version)
{
        return content_new(s, strlen(s), version, NULL);
}

struct owner {
        bool busy;              /* its writer holds the kept spec */
        int dropped;
};

static bool drop_kept(void *p)
{
        struct owner *o = p;
        if (o->busy)
                return false;
        o->dropped++;
        return true;
}

TEST(a_rendering_is_served_for_its_own_version_only)
{
        struct cache *c;
        CHECK_INTEQ(cache_new(1 << 20, &c, NULL), 0);
        struct owner o = { 0 };
        struct cache_slot *s = cache_slot_new(c, drop_kept, &o);
        struct content *r = text("{}\n", 3);
        cache_put(s, r, 3);
        struct content *got = cache_get(s, 3);
        CHECK(got == r);
        content_unref(got);
        CHECK(cache_get(s, 4) == NULL);
        /* a rendering of a version the owner moved past is not kept */
        struct content *old = text("{\"old\":1}\n", 2);
        cache_put(s, old, 3);
        got = cache_get(s, 3);
        CHECK(got == r);
        content_unref(got);
        content_unref(old);
        content_unref(r);
        cache_slot_free(s);
        cache_free(c);
}

TEST(over_budget_the_least_recently_used_go_first)
{
        struct cache *c;
        char big[600];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK_INTEQ(cache_new(2000, &c, NULL), 0);
        struct owner o[3] = { 0 };
        struct cache_slot *s[3];
        for (int i = 0; i < 3; i++) {
                s[i] = cache_slot_new(c, drop_kept, &o[i]);
                struct content *r = text(big, 1);
                cache_put(s[i], r, 1);
                content_unref(r);
        }
        struct content *got = cache_get(s[0], 1);       /* 0 is used again: 1 is the oldest */
        CHECK(got != NULL);
        content_unref(got);
        struct content *r = text(big, 1);
        struct cache_slot *extra = cache_slot_new(c, drop_kept, &o[0]);
        cache_put(extra, r, 1);
        content_unref(r);
        CHECK((got = cache_get(s[1], 1)) == NULL);
        CHECK((got = cache_get(s[0], 1)) != NULL);
        content_unref(got);
        CHECK((got = cache_get(extra, 1)) != NULL);
        content_unref(got);
        for (int i = 0; i < 3; i++)
                cache_slot_free(s[i]);
        cache_slot_free(extra);
        cache_free(c);
}

TEST(a_kept_spec_is_dropped_over_budget_unless_its_writer_holds_it)
{
        struct cache *c;
        CHECK_INTEQ(cache_new(1000, &c, NULL), 0);
        struct owner busy = { .busy = true }, idle = { 0 }, newest = { 0 };
        struct cache_slot *a = cache_slot_new(c, drop_kept, &busy);
        struct cache_slot *b = cache_slot_new(c, drop_kept, &idle);
        cache_kept(a, 600, 1);
        cache_kept(b, 600, 1);  /* over: a, the older, is busy; b is the one being kept */
        CHECK_INTEQ(busy.dropped, 0);
        struct cache_slot *n = cache_slot_new(c, drop_kept, &newest);
        cache_kept(n, 300, 1);
        CHECK_INTEQ(idle.dropped, 1);
        CHECK_INTEQ(busy.dropped, 0);
        CHECK_INTEQ(newest.dropped, 0);
        cache_slot_free(a);
        cache_slot_free(b);
        cache_slot_free(n);
        cache_free(c);
}

TEST(a_reader_keeps_its_content_when_the_cache_drops_it)
{
        struct cache *c;
        CHECK_INTEQ(cache_new(100, &c, NULL), 0);
        struct owner o = { 0 };
        struct cache_slot *s = cache_slot_new(c, drop_kept, &o);
        struct content *r = text("{\"process\":{}}\n", 7);
        cache_put(s, r, 7);
        struct content *reader = cache_get(s, 7);
        cache_kept(s, 1000, 8);         /* a new version: the old rendering goes */
        CHECK(cache_get(s, 7) == NULL);
        CHECK_STREQ(content_data(reader), "{\"process\":{}}\n");
        CHECK_UINTEQ(content_len(reader), 15);
        CHECK(content_current(reader));
        content_unref(reader);
        content_unref(r);
        cache_slot_free(s);
        cache_free(c);
}
