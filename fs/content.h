/* What a read of a file shows: immutable bytes, shared by every open file
 * and cache that holds them. A rendered config.json also carries what the
 * rendering read (core/deps.h) and the list version it was rendered from. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct content;
struct deps;

/* A copy of data; takes deps (may be NULL). NULL without memory (deps is
 * freed then). */
struct content *content_new(const char *data, size_t len, uint64_t version, struct deps *deps);
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
/* Memory the content takes. */
size_t content_footprint(const struct content *c);
