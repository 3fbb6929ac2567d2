/* Kept renderings: each bundle's rendered config.json and the spec it keeps
 * for its next write, all bundles together within a budget (--cache-size),
 * the least recently used dropped first. A dropped rendering is rebuilt
 * when next needed: the cache never changes what a read shows. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct cache;
struct cache_slot;
struct content;

int cache_new(size_t max, struct cache **ret, bf_error *err);
void cache_free(struct cache *c);
void cache_set_max(struct cache *c, size_t max);

/* One owner's place in the cache. drop_kept frees the owner's kept spec
 * when it is evicted; it is called with the cache's lock held and must not
 * wait for a lock (it returns false when the spec is busy). */
struct cache_slot *cache_slot_new(struct cache *c, bool (*drop_kept)(void *owner), void *owner);
void cache_slot_free(struct cache_slot *s);

/* The owner's config.json rendered from list version `version`, if kept
 * (a reference). */
struct content *cache_get(struct cache_slot *s, uint64_t version);
/* Keep content as the owner's config.json, unless the owner's list has
 * moved past its version (current). */
void cache_put(struct cache_slot *s, struct content *content, uint64_t current);
/* The owner's kept spec takes bytes now (0: none kept); renderings of
 * versions before current go. */
void cache_kept(struct cache_slot *s, size_t bytes, uint64_t current);
