/* The memory option lists may hold, all containers together (--max-memory),
 * and one container's list (a quarter of that). Lines are counted by what
 * they hold (optline_footprint); a change that would pass a limit is
 * refused before anything is kept. */
#pragma once

#include <stddef.h>

#include "error.h"

struct budget;
struct optline;

/* max 0: no limit. */
int budget_new(size_t max, struct budget **ret, bf_error *err);
void budget_free(struct budget *b);
size_t budget_max(const struct budget *b);
size_t budget_list_max(const struct budget *b);
size_t budget_used(const struct budget *b);

/* A list is to hold `list` bytes, `more` of them new: take them, or refuse
 * with EFBIG (the list's limit) or ENOMEM (all lists') and say why. */
int budget_take(struct budget *b, size_t list, size_t more, bf_error *err);
void budget_give(struct budget *b, size_t bytes);
/* Would a list of `list` bytes, replacing one of `held`, fit? (Nothing taken.) */
int budget_check(struct budget *b, size_t list, size_t held, bf_error *err);

/* Bytes lines[0..n) hold. */
size_t lines_footprint(struct optline *const *lines, size_t n);
