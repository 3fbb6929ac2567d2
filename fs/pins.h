/* What each user's open files hold, bounded per uid. An open file holds
 * the bytes its reads show (content.h), shared with every other open file
 * showing the same; so what a uid pins is counted once per distinct bytes,
 * however many of its open files share them. A uid other than the mount's
 * owner and root may have PINS_OPEN_MAX open files of the tree's own files
 * at once, holding PINS_BYTES_MAX bytes in all (beyond that only when they
 * hold nothing else, so any one file can be read): past either, EMFILE. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

#define PINS_OPEN_MAX 16384
#define PINS_BYTES_MAX ((size_t) 64 << 20)

struct content;
struct pins;

int pins_new(struct pins **ret, bf_error *err);
void pins_free(struct pins *p);

/* uid opens a file (EMFILE past PINS_OPEN_MAX), and closes it. */
int pins_open(struct pins *p, uid_t uid, bf_error *err);
void pins_close(struct pins *p, uid_t uid);
/* One of uid's open files now holds `hold` instead of `drop` (either may be
 * NULL). EMFILE (and nothing changes) past PINS_BYTES_MAX. */
int pins_swap(struct pins *p, uid_t uid, const struct content *hold, const struct content *drop, bf_error *err);
