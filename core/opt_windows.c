/* Options on the windows section. */
#include "opt_common.h"
#include "util.h"

int opt_windows_hyperv(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_windows(r, s);
        if (ret < 0)
                return ret;
        if (!s->windows->hyperv && !(s->windows->hyperv = R_NEW(r, struct spec_windows_hyperv)))
                return -r->err->code;
        return 0;
}

static struct spec_windows_cpu *windows_cpu(struct render *r, struct spec *s)
{
        if (set_cpu_windows(r, s) < 0)
                return NULL;
        if (!s->windows) {
                missing_section(r, "windows");
                return NULL;
        }
        return s->windows->resources->cpu;
}

int opt_windows_cpu_count(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_windows_cpu *cpu = windows_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        return (cpu->count = r_u64(r, l->args[0].u)) ? 0 : -r->err->code;
}

static uint16_t *r_u16(struct render *r, uint16_t v)
{
        uint16_t *p = R_NEW(r, uint16_t);
        if (p)
                *p = v;
        return p;
}

int opt_windows_cpu_shares(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_windows_cpu *cpu = windows_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        return (cpu->shares = r_u16(r, (uint16_t) l->args[0].u)) ? 0 : -r->err->code;
}

int opt_windows_cpu_maximum(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_windows_cpu *cpu = windows_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        return (cpu->maximum = r_u16(r, (uint16_t) l->args[0].u)) ? 0 : -r->err->code;
}

int opt_windows_device(struct render *r, struct spec *s, const struct optline *l)
{
        const char *id_type = l->args[0].str, *id = l->args[1].str;
        if (!id_type[0])
                return bf_error_set(r->err, EINVAL, "missing idType");
        int ret = set_windows(r, s);
        if (ret < 0)
                return ret;
        struct spec_windows_device *d = slice_push(r->a, &s->windows->devices, sizeof(*d));
        if (!d)
                return r_nomem(r);
        *d = (struct spec_windows_device){ .id = id, .id_type = id_type };
        return 0;
}

int opt_windows_ignore_flushes_during_boot(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_windows(r, s);
        if (ret < 0)
                return ret;
        s->windows->ignore_flushes_during_boot = true;
        return 0;
}

static struct spec_windows_network *windows_network(struct render *r, struct spec *s)
{
        if (set_windows(r, s) < 0)
                return NULL;
        if (!s->windows->network && !(s->windows->network = R_NEW(r, struct spec_windows_network)))
                return NULL;
        return s->windows->network;
}

int opt_windows_allow_unqualified_dns_query(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        struct spec_windows_network *n = windows_network(r, s);
        if (!n)
                return -r->err->code;
        n->allow_unqualified_dns_query = true;
        return 0;
}

int opt_windows_network_namespace(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_windows_network *n = windows_network(r, s);
        if (!n)
                return -r->err->code;
        n->network_namespace = l->args[0].str;
        return 0;
}
