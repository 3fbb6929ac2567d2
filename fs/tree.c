/* The tree of namespaces and containers, and when their memory can go. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

/* ---- the tree (callers hold fs->tree_lock) --------------------------------- */

struct namespace *ns_find(struct bfs *fs, const char *name)
{
        for (struct namespace *ns = fs->namespaces; ns; ns = ns->next)
                if (streq(ns->name, name))
                        return ns;
        return NULL;
}

/* A namespace's containers are a list sorted by id (for readdir) and a
 * hash table by id (for lookups), so that neither a lookup nor loading a
 * large namespace in order walks the list. */
static size_t id_hash(const char *id)
{
        size_t h = 14695981039346656037ULL;     /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *) id; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h;
}

struct container *container_find(struct namespace *ns, const char *id)
{
        if (!ns->nbuckets) {
                /* no table (out of memory when the first was made) */
                for (struct container *c = ns->containers; c; c = c->next)
                        if (streq(c->id, id))
                                return c;
                return NULL;
        }
        for (struct container *c = ns->buckets[id_hash(id) & (ns->nbuckets - 1)]; c; c = c->hash_next)
                if (streq(c->id, id))
                        return c;
        return NULL;
}

static void hash_add(struct namespace *ns, struct container *c)
{
        if (ns->count + 1 > ns->nbuckets) {
                size_t n = ns->nbuckets ? 2 * ns->nbuckets : 16;
                struct container **b = calloc(n, sizeof(*b));
                if (b) {
                        for (size_t i = 0; i < ns->nbuckets; i++)
                                for (struct container *x = ns->buckets[i], *next; x; x = next) {
                                        next = x->hash_next;
                                        x->hash_next = b[id_hash(x->id) & (n - 1)];
                                        b[id_hash(x->id) & (n - 1)] = x;
                                }
                        free(ns->buckets);
                        ns->buckets = b;
                        ns->nbuckets = n;
                }
        }
        /* Without a larger table, chains just get longer. */
        if (!ns->nbuckets)
                return;
        struct container **slot = &ns->buckets[id_hash(c->id) & (ns->nbuckets - 1)];
        c->hash_next = *slot;
        *slot = c;
        ns->count++;
}

static void hash_remove(struct namespace *ns, struct container *c)
{
        if (!ns->nbuckets)
                return;
        for (struct container **p = &ns->buckets[id_hash(c->id) & (ns->nbuckets - 1)]; *p; p = &(*p)->hash_next)
                if (*p == c) {
                        *p = c->hash_next;
                        c->hash_next = NULL;
                        ns->count--;
                        return;
                }
}

void ns_insert(struct bfs *fs, struct namespace *ns)
{
        struct namespace **p = &fs->namespaces;
        while (*p && strcmp((*p)->name, ns->name) < 0)
                p = &(*p)->next;
        ns->next = *p;
        *p = ns;
}

void ns_unlink(struct bfs *fs, struct namespace *ns)
{
        for (struct namespace **p = &fs->namespaces; *p; p = &(*p)->next)
                if (*p == ns) {
                        *p = ns->next;
                        return;
                }
}

void container_insert(struct namespace *ns, struct container *c)
{
        /* Loading inserts in order: after the last one, directly. */
        struct container **p = ns->last && strcmp(ns->last->id, c->id) < 0 ? &ns->last->next : &ns->containers;
        while (*p && strcmp((*p)->id, c->id) < 0)
                p = &(*p)->next;
        c->next = *p;
        *p = c;
        if (!c->next)
                ns->last = c;
        c->ns = ns;
        hash_add(ns, c);
}

void container_unlink(struct namespace *ns, struct container *c)
{
        struct container *prev = NULL;
        for (struct container **p = &ns->containers; *p; prev = *p, p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        if (ns->last == c)
                                ns->last = prev;
                        hash_remove(ns, c);
                        return;
                }
}

struct namespace *ns_new(const char *name)
{
        struct namespace *ns = calloc(1, sizeof(*ns));
        if (!ns || !(ns->name = strdup(name))) {
                free(ns);
                return NULL;
        }
        ns->node = (struct node){ .kind = NODE_NAMESPACE, .ns = ns };
        return ns;
}

void ns_free(struct namespace *ns)
{
        free(ns->buckets);
        free(ns->name);
        free(ns);
}

/* Free what is gone from the tree once the kernel holds no reference. */
void maybe_free_container(struct container *c)
{
        if (!c->removed || c->open_handles || c->dir.nlookup || c->rootfs.nlookup || c->pt_nodes)
                return;
        for (size_t i = 0; i < file_defs_count; i++)
                if (c->files[i].nlookup)
                        return;
        for (struct container **p = &c->fs->removed; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        container_free(c);
}

void maybe_free_ns(struct namespace *ns)
{
        if (ns->removed && !ns->node.nlookup)
                ns_free(ns);
}

void node_forget(struct node *n, uint64_t count)
{
        if (n->kind == NODE_PT) {
                struct container *c = n->c;
                pt_forget(n, count);    /* may free n */
                maybe_free_container(c);
                return;
        }
        n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
        if (n->kind == NODE_NAMESPACE)
                maybe_free_ns(n->ns);
        else if (n->c)
                maybe_free_container(n->c);
}


void container_put(struct bfs *fs, struct container *c)
{
        pthread_mutex_lock(&fs->tree_lock);
        c->open_handles--;
        maybe_free_container(c);
        pthread_mutex_unlock(&fs->tree_lock);
}
