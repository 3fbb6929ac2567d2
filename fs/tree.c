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

struct container *container_find(struct namespace *ns, const char *id)
{
        for (struct container *c = ns->containers; c; c = c->next)
                if (streq(c->id, id))
                        return c;
        return NULL;
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
        struct container **p = &ns->containers;
        while (*p && strcmp((*p)->id, c->id) < 0)
                p = &(*p)->next;
        c->next = *p;
        *p = c;
        c->ns = ns;
}

void container_unlink(struct namespace *ns, struct container *c)
{
        for (struct container **p = &ns->containers; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
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
