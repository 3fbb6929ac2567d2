/* User and group options, with containerd's look-ups in the rootfs. */
#include <stdio.h>

#include "goconv.h"
#include "opt_common.h"
#include "users.h"
#include "util.h"

/* What the look-up callbacks of containerd see: an open root and its name. */
struct lookup {
        int fd;
        const char *name;
};

static int lookup_begin(struct render *r, const struct spec *s, struct lookup *lk)
{
        lk->fd = -1;
        return lookup_root_open(r, s, &lk->fd, &lk->name);
}

static void lookup_end(struct lookup *lk)
{
        if (lk->fd >= 0)
                close(lk->fd);
        lk->fd = -1;
}

#define _cleanup_lookup_ _cleanup_(lookup_end)

/* UserFromPath with a filter on name (by_name) or uid. */
static int user_from_path(struct render *r, const struct lookup *lk, const char *name, int64_t uid,
                          struct pw_user *ret)
{
        user_slice users;
        int e = passwd_read(r, lk->fd, lk->name, &users);
        if (e < 0)
                return e;
        for (size_t i = 0; i < users.len; i++)
                if (name ? span_is(users.v[i].name, name) : users.v[i].uid == uid) {
                        *ret = users.v[i];
                        return 0;
                }
        return bf_error_set(r->err, ENOENT, "no users found");
}

/* GIDFromPath with a filter on the group name: the first match. */
static int gid_from_path(struct render *r, const struct lookup *lk, const char *name, uint32_t *ret)
{
        group_slice groups;
        int e = group_read(r, lk->fd, lk->name, &groups);
        if (e < 0)
                return e;
        for (size_t i = 0; i < groups.len; i++)
                if (span_is(groups.v[i].name, name)) {
                        *ret = (uint32_t) groups.v[i].gid;
                        return 0;
                }
        return bf_error_set(r->err, ENOENT, "no groups found");
}

static int with_user_id(struct render *r, struct spec *s, uint32_t uid)
{
        int e = set_process(r, s);
        if (e < 0)
                return e;
        s->process->user.additional_gids = (u32_slice){ 0 };
        struct lookup lk _cleanup_lookup_ = { .fd = -1 };
        if ((e = lookup_begin(r, s, &lk)) < 0)
                return e;
        struct pw_user u = { 0 };
        e = user_from_path(r, &lk, NULL, (int64_t) uid, &u);
        if (e == -ENOENT) {
                /* no passwd file, or no such uid: the uid with gid 0 */
                bf_error_clear(r->err);
                s->process->user.uid = uid;
                s->process->user.gid = 0;
        } else if (e < 0) {
                return e;
        } else {
                s->process->user.uid = (uint32_t) u.uid;
                s->process->user.gid = (uint32_t) u.gid;
        }
        return ensure_additional_gids(r, s);
}

static int with_username(struct render *r, struct spec *s, const char *name)
{
        int e = set_process(r, s);
        if (e < 0)
                return e;
        s->process->user.additional_gids = (u32_slice){ 0 };
        if (s->linux_) {
                struct lookup lk _cleanup_lookup_ = { .fd = -1 };
                struct pw_user u = { 0 };
                if ((e = lookup_begin(r, s, &lk)) < 0 || (e = user_from_path(r, &lk, name, 0, &u)) < 0)
                        return e;
                s->process->user.uid = (uint32_t) u.uid;
                s->process->user.gid = (uint32_t) u.gid;
        } else if (s->windows) {
                s->process->user.username = name;
        } else {
                return bf_error_set(r->err, EINVAL, "spec does not contain Linux or Windows section");
        }
        return ensure_additional_gids(r, s);
}

static int with_user(struct render *r, struct spec *s, const char *userstr)
{
        int e = set_process(r, s);
        if (e < 0)
                return e;
        s->process->user.additional_gids = (u32_slice){ 0 };
        /* LCOW: the user string is kept for the guest to resolve */
        if (s->windows && s->linux_) {
                s->process->user.username = userstr;
                return ensure_additional_gids(r, s);
        }
        const char *colon = strchr(userstr, ':');
        if (!colon) {
                bool ok;
                int64_t v = go_atoi(userstr, strlen(userstr), &ok);
                return ok ? with_user_id(r, s, (uint32_t) v) : with_username(r, s, userstr);
        }
        if (strchr(colon + 1, ':'))
                return bf_error_set(r->err, EINVAL, "invalid USER value %s", userstr);

        const char *user_part = userstr, *group_part = colon + 1;
        size_t user_len = (size_t) (colon - userstr);
        bool uid_ok, gid_ok;
        int64_t uid_v = go_atoi(user_part, user_len, &uid_ok);
        int64_t gid_v = go_atoi(group_part, strlen(group_part), &gid_ok);
        uint32_t uid = uid_ok ? (uint32_t) uid_v : 0, gid = gid_ok ? (uint32_t) gid_v : 0;
        /* A part that is not a number is a name to look up; an empty one
         * (":1000", "1000:") names nothing and stays 0, as in containerd. */
        bool by_name = !uid_ok && user_len > 0, by_group = !gid_ok && group_part[0] != '\0';
        if (!by_name && !by_group) {
                s->process->user.uid = uid;
                s->process->user.gid = gid;
                return ensure_additional_gids(r, s);
        }
        struct lookup lk _cleanup_lookup_ = { .fd = -1 };
        if ((e = lookup_begin(r, s, &lk)) < 0)
                return e;
        if (by_name) {
                char *name = arena_strndup(r->a, user_part, user_len);
                struct pw_user u = { 0 };
                if (!name)
                        return r_nomem(r);
                if ((e = user_from_path(r, &lk, name, 0, &u)) < 0)
                        return e;
                uid = (uint32_t) u.uid;
        }
        if (by_group && (e = gid_from_path(r, &lk, group_part, &gid)) < 0)
                return e;
        s->process->user.uid = uid;
        s->process->user.gid = gid;
        return ensure_additional_gids(r, s);
}

int opt_user(struct render *r, struct spec *s, const struct optline *l)
{
        return with_user(r, s, l->args[0].str);
}

int opt_uid_gid(struct render *r, struct spec *s, const struct optline *l)
{
        int e = set_process(r, s);
        if (e < 0)
                return e;
        s->process->user.additional_gids = (u32_slice){ 0 };
        s->process->user.uid = (uint32_t) l->args[0].u;
        s->process->user.gid = (uint32_t) l->args[1].u;
        return ensure_additional_gids(r, s);
}

int opt_user_id(struct render *r, struct spec *s, const struct optline *l)
{
        return with_user_id(r, s, (uint32_t) l->args[0].u);
}

int opt_username(struct render *r, struct spec *s, const struct optline *l)
{
        return with_username(r, s, l->args[0].str);
}

static int with_additional_gids(struct render *r, struct spec *s, const char *userstr)
{
        if (s->windows)
                return 0;
        int e = set_process(r, s);
        if (e < 0)
                return e;
        s->process->user.additional_gids = (u32_slice){ 0 };
        struct lookup lk _cleanup_lookup_ = { .fd = -1 };
        if ((e = lookup_begin(r, s, &lk)) < 0)
                return e;
        /* A name from passwd may hold NUL bytes: compared as bytes. */
        struct span username = { userstr, strlen(userstr) };
        bool ok;
        int64_t uid = go_atoi(userstr, strlen(userstr), &ok);
        if (ok) {
                struct pw_user u = { 0 };
                e = user_from_path(r, &lk, NULL, uid, &u);
                if (e == -ENOENT) {
                        bf_error_clear(r->err);
                        return ensure_additional_gids(r, s);
                }
                if (e < 0)
                        return e;
                username = u.name;
        }
        group_slice groups;
        e = group_read(r, lk.fd, lk.name, &groups);
        if (e == -ENOENT) {
                bf_error_clear(r->err);
                return ensure_additional_gids(r, s);
        }
        if (e < 0)
                return e;
        u32_slice gids = { 0 };
        slice_make_empty(&gids);
        for (size_t i = 0; i < groups.len; i++) {
                const struct gr_group *g = &groups.v[i];
                if (span_eq(g->name, username))
                        continue;       /* supplementary groups only */
                for (size_t j = 0; j < g->members.len; j++)
                        if (span_eq(g->members.v[j], username)) {
                                uint32_t *slot = slice_push(r->a, &gids, sizeof(*slot));
                                if (!slot)
                                        return r_nomem(r);
                                *slot = (uint32_t) g->gid;
                                break;
                        }
        }
        s->process->user.additional_gids = gids;
        return ensure_additional_gids(r, s);
}

int opt_additional_gids(struct render *r, struct spec *s, const struct optline *l)
{
        return with_additional_gids(r, s, l->args[0].str);
}

int opt_append_additional_groups(struct render *r, struct spec *s, const struct optline *l)
{
        if (s->windows)
                return 0;
        int e = set_process(r, s);
        if (e < 0)
                return e;
        struct lookup lk _cleanup_lookup_ = { .fd = -1 };
        if ((e = lookup_begin(r, s, &lk)) < 0)
                return e;
        group_slice groups;
        if ((e = group_read(r, lk.fd, lk.name, &groups)) < 0)
                return e;
        u32_slice *gids = &s->process->user.additional_gids;
        for (size_t i = 0; i < l->nargs; i++) {
                const char *name = l->args[i].str;
                uint64_t v;
                uint32_t gid;
                if (go_parse_uint(name, strlen(name), 32, &v)) {
                        gid = (uint32_t) v;
                } else {
                        /* Go keeps groups in a map by name: the last duplicate wins. */
                        const struct gr_group *found = NULL;
                        for (size_t j = 0; j < groups.len; j++)
                                if (span_is(groups.v[j].name, name))
                                        found = &groups.v[j];
                        if (!found)
                                return bf_error_set(r->err, ENOENT, "unable to find group %s", name);
                        gid = (uint32_t) found->gid;
                }
                /* Never write into an array another list may share. */
                u32_slice n = { 0 };
                n.v = r_alloc(r, (gids->len + 1) * sizeof(uint32_t));
                if (!n.v)
                        return -r->err->code;
                if (gids->len)
                        memcpy(n.v, gids->v, gids->len * sizeof(uint32_t));
                n.v[gids->len] = gid;
                n.len = n.cap = gids->len + 1;
                *gids = n;
        }
        return ensure_additional_gids(r, s);
}
