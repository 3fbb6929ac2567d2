/* Capability options. */
#include "caps.h"
#include "opt_common.h"
#include "util.h"

static int with_capabilities(struct render *r, struct spec *s, str_slice caps)
{
        int ret = set_capabilities(r, s);
        if (ret < 0)
                return ret;
        /* The three sets share one list, as in containerd. */
        s->process->capabilities->bounding = caps;
        s->process->capabilities->effective = caps;
        s->process->capabilities->permitted = caps;
        return 0;
}

int opt_capabilities(struct render *r, struct spec *s, const struct optline *l)
{
        str_slice caps;
        int ret = args_to_slice(r, &caps, l, 0, false);
        return ret < 0 ? ret : with_capabilities(r, s, caps);
}

static bool contains(const str_slice *list, const char *c)
{
        for (size_t i = 0; i < list->len; i++)
                if (streq(list->v[i], c))
                        return true;
        return false;
}

int opt_added_capabilities(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_capabilities(r, s);
        if (ret < 0)
                return ret;
        struct spec_caps *c = s->process->capabilities;
        str_slice *lists[] = { &c->bounding, &c->effective, &c->permitted };
        for (size_t i = 0; i < l->nargs; i++)
                for (size_t j = 0; j < ARRAY_SIZE(lists); j++)
                        if (!contains(lists[j], l->args[i].str)) {
                                /* Never append into an array another list shares. */
                                str_slice fresh = { 0 };
                                for (size_t k = 0; k < lists[j]->len; k++)
                                        if (push_str(r, &fresh, lists[j]->v[k]) < 0)
                                                return -r->err->code;
                                if (push_str(r, &fresh, l->args[i].str) < 0)
                                        return -r->err->code;
                                *lists[j] = fresh;
                        }
        return 0;
}

/* removeCap: a new list without c; nil when nothing is left. */
static int remove_cap(struct render *r, str_slice *list, const char *c)
{
        str_slice out = { 0 };
        for (size_t i = 0; i < list->len; i++)
                if (!streq(list->v[i], c) && push_str(r, &out, list->v[i]) < 0)
                        return -r->err->code;
        *list = out;
        return 0;
}

int opt_dropped_capabilities(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_capabilities(r, s);
        if (ret < 0)
                return ret;
        struct spec_caps *c = s->process->capabilities;
        for (size_t i = 0; i < l->nargs; i++)
                if ((ret = remove_cap(r, &c->bounding, l->args[i].str)) < 0 ||
                    (ret = remove_cap(r, &c->effective, l->args[i].str)) < 0 ||
                    (ret = remove_cap(r, &c->permitted, l->args[i].str)) < 0)
                        return ret;
        return 0;
}

int opt_ambient_capabilities(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_capabilities(r, s);
        if (ret < 0)
                return ret;
        str_slice caps;
        if ((ret = args_to_slice(r, &caps, l, 0, false)) < 0)
                return ret;
        s->process->capabilities->inheritable = caps;
        s->process->capabilities->ambient = caps;
        return 0;
}

int opt_all_known_capabilities(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        str_slice caps = { 0 };
        for (unsigned i = 0; i < CAPS_KNOWN; i++)
                if (push_str(r, &caps, caps_name(i)) < 0)
                        return -r->err->code;
        return with_capabilities(r, s, caps);
}

int opt_all_current_capabilities(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        const char *names[CAPS_KNOWN];
        size_t n;
        /* This process's own capability set: fixed for its lifetime (nothing
         * here changes it), so not an input a cached rendering depends on. */
        int ret = caps_current(names, &n, r->err);
        if (ret < 0)
                return ret;
        str_slice caps = { 0 };
        for (size_t i = 0; i < n; i++)
                if (push_str(r, &caps, names[i]) < 0)
                        return -r->err->code;
        return with_capabilities(r, s, caps);
}
