/* Memory for option lists (budget.h). */
#include "budget.h"

#include <stdlib.h>

#include "optline.h"

struct budget {
        size_t max;
        size_t used;            /* atomic */
};

int budget_new(size_t max, struct budget **ret, bf_error *err)
{
        struct budget *b = calloc(1, sizeof(*b));
        if (!b)
                return bf_error_oom(err);
        b->max = max;
        *ret = b;
        return 0;
}

void budget_free(struct budget *b)
{
        free(b);
}

size_t budget_max(const struct budget *b)
{
        return b->max;
}

size_t budget_list_max(const struct budget *b)
{
        return b->max / 4;
}

size_t budget_used(const struct budget *b)
{
        return __atomic_load_n(&b->used, __ATOMIC_RELAXED);
}

#define MIB(x) ((double) (x) / 1048576.0)

static int over_list(const struct budget *b, size_t list, bf_error *err)
{
        return bf_error_set(err, EFBIG, "the option list would take %.1f MiB of memory, more than one list may "
                            "(%.1f MiB, a quarter of --max-memory)", MIB(list), MIB(budget_list_max(b)));
}

static int over_all(const struct budget *b, size_t used, bf_error *err)
{
        return bf_error_set(err, ENOMEM, "the option lists of all containers would take %.1f MiB of memory, more "
                            "than --max-memory (%.1f MiB)", MIB(used), MIB(b->max));
}

int budget_take(struct budget *b, size_t list, size_t more, bf_error *err)
{
        if (!b->max) {
                __atomic_add_fetch(&b->used, more, __ATOMIC_RELAXED);
                return 0;
        }
        if (list > budget_list_max(b))
                return over_list(b, list, err);
        size_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);
        do {
                if (used + more > b->max)
                        return over_all(b, used + more, err);
        } while (!__atomic_compare_exchange_n(&b->used, &used, used + more, false, __ATOMIC_RELAXED,
                                              __ATOMIC_RELAXED));
        return 0;
}

void budget_give(struct budget *b, size_t bytes)
{
        __atomic_sub_fetch(&b->used, bytes, __ATOMIC_RELAXED);
}

int budget_check(struct budget *b, size_t list, size_t held, bf_error *err)
{
        if (!b->max || list <= held)
                return 0;
        if (list > budget_list_max(b))
                return over_list(b, list, err);
        size_t used = budget_used(b) + (list - held);
        return used > b->max ? over_all(b, used, err) : 0;
}

size_t lines_footprint(struct optline *const *lines, size_t n)
{
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
                bytes += optline_footprint(lines[i]);
        return bytes;
}
