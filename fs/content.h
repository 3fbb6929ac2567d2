/* What a read of a file shows: immutable bytes, shared by every open file
 * and cache that holds them. A rendered file (config.json, a control file)
 * also carries what the rendering read (core/deps.h) and the list version
 * it was rendered from.
 *
 * Bytes are shared beyond one rendering: each file of each container has a
 * shelf that knows the latest bytes made for it while anyone still holds
 * them, and a new rendering with the same bytes takes those instead of a
 * copy. So a thousand open files of one config.json hold one copy of it,
 * whether or not the cache kept it, and a rendering made afresh (a file
 * it read changed, or the cache dropped it) costs no memory when nothing
 * in it changed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct content;
struct content_shelf;
struct deps;

/* A copy of data; takes deps (may be NULL). NULL without memory (deps is
 * freed then). */
struct content *content_new(const char *data, size_t len, uint64_t version, struct deps *deps);
/* The same, sharing the bytes shelf holds when they are equal to data (or
 * when shelf holds bytes of this version and data is NULL); shelf then
 * knows the new bytes. With data NULL and nothing shared: NULL, and errno
 * is 0 (the caller makes the bytes); NULL with errno ENOMEM: no memory
 * (deps is freed then). */
struct content *content_new_shared(struct content_shelf *shelf, const char *data, size_t len, uint64_t version,
                                   struct deps *deps);
struct content *content_ref(struct content *c);
void content_unref(struct content *c);

const char *content_data(const struct content *c);
size_t content_len(const struct content *c);
uint64_t content_version(const struct content *c);
/* Is nothing the rendering read changed since? (true without deps) */
bool content_current(const struct content *c);
/* When the inputs the rendering read last changed (deps.h); zero without
 * deps. */
struct timespec content_inputs_changed(const struct content *c);
/* Memory the content takes (its bytes counted whole, even when shared). */
size_t content_footprint(const struct content *c);
/* Do a and b show the same bytes (one shared copy)? */
bool content_same_bytes(const struct content *a, const struct content *b);
/* A key for the bytes a content shows: equal for contents sharing them. */
const void *content_bytes_key(const struct content *c);

/* Shelves for n files; each holds no reference (bytes go when their last
 * holder lets go). NULL without memory. */
struct content_shelf *content_shelves_new(size_t n);
struct content_shelf *content_shelf_at(struct content_shelf *shelves, size_t i);
/* The shelves go; bytes still held elsewhere forget them. */
void content_shelves_free(struct content_shelf *shelves, size_t n);
