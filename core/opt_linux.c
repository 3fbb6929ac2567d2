/* Options on the linux section: namespaces, cgroups, resources, security. */
#include "goconv.h"
#include "opt_common.h"
#include "util.h"

int opt_host_namespace(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        namespace_slice *ns = &s->linux_->namespaces;
        for (size_t i = 0; i < ns->len; i++)
                if (model_str_eq(ns->v[i].type, l->args[0].str)) {
                        slice_remove(ns, i, sizeof(ns->v[0]));
                        return 0;
                }
        return 0;
}

int opt_linux_namespace(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        struct spec_namespace want = { .type = l->args[0].str, .path = l->nargs > 1 ? l->args[1].str : NULL };
        namespace_slice *ns = &s->linux_->namespaces;
        for (size_t i = 0; i < ns->len; i++)
                if (model_str_eq(ns->v[i].type, want.type)) {
                        ns->v[i] = want;
                        return 0;
                }
        struct spec_namespace *slot = slice_push(r->a, ns, sizeof(*slot));
        if (!slot)
                return r_nomem(r);
        *slot = want;
        return 0;
}

static int append_idmaps(struct render *r, idmap_slice *dst, const idmap_slice *add)
{
        for (size_t i = 0; i < add->len; i++) {
                struct spec_idmap *m = slice_push(r->a, dst, sizeof(*m));
                if (!m)
                        return r_nomem(r);
                *m = add->v[i];
        }
        return 0;
}

int opt_user_namespace(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        namespace_slice *ns = &s->linux_->namespaces;
        bool has_userns = false;
        for (size_t i = 0; i < ns->len && !has_userns; i++)
                has_userns = model_str_eq(ns->v[i].type, "user");
        if (!has_userns) {
                struct spec_namespace *slot = slice_push(r->a, ns, sizeof(*slot));
                if (!slot)
                        return r_nomem(r);
                *slot = (struct spec_namespace){ .type = "user" };
        }
        ret = append_idmaps(r, &s->linux_->uid_mappings, l->args[0].value);
        if (ret < 0)
                return ret;
        return append_idmaps(r, &s->linux_->gid_mappings, l->args[1].value);
}

int opt_cgroup(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        s->linux_->cgroups_path = l->args[0].str;
        return 0;
}

int opt_namespaced_cgroup(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        s->linux_->cgroups_path = cgroups_path_of(r);
        return s->linux_->cgroups_path ? 0 : r_nomem(r);
}

int opt_masked_paths(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        return args_to_slice(r, &s->linux_->masked_paths, l, 0, false);
}

int opt_readonly_paths(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        return args_to_slice(r, &s->linux_->readonly_paths, l, 0, false);
}

int opt_seccomp_unconfined(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_linux(r, s);
        if (ret < 0)
                return ret;
        s->linux_->seccomp = NULL;
        return 0;
}

int opt_memory_limit(struct render *r, struct spec *s, const struct optline *l)
{
        uint64_t limit = l->args[0].u;
        if (s->linux_) {
                int ret = set_resources(r, s);
                if (ret < 0)
                        return ret;
                struct spec_resources *res = s->linux_->resources;
                if (!res->memory && !(res->memory = R_NEW(r, struct spec_memory)))
                        return -r->err->code;
                /* int64(limit): values past 2^63-1 wrap to negative, as in Go */
                if (!(res->memory->limit = r_i64(r, (int64_t) limit)))
                        return -r->err->code;
        }
        if (s->windows) {
                struct spec_windows *w = s->windows;
                if (!w->resources && !(w->resources = R_NEW(r, struct spec_windows_resources)))
                        return -r->err->code;
                if (!w->resources->memory && !(w->resources->memory = R_NEW(r, struct spec_windows_memory)))
                        return -r->err->code;
                if (!(w->resources->memory->limit = r_u64(r, limit)))
                        return -r->err->code;
        }
        return 0;
}

/* setResources, then the linux resources that containerd dereferences. */
static struct spec_resources *linux_resources(struct render *r, struct spec *s)
{
        if (set_resources(r, s) < 0)
                return NULL;
        if (!s->linux_) {
                missing_section(r, "linux");
                return NULL;
        }
        return s->linux_->resources;
}

int opt_memory_swap(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_resources *res = linux_resources(r, s);
        if (!res)
                return -r->err->code;
        if (!res->memory && !(res->memory = R_NEW(r, struct spec_memory)))
                return -r->err->code;
        return (res->memory->swap = r_i64(r, l->args[0].i)) ? 0 : -r->err->code;
}

int opt_pids_limit(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_resources *res = linux_resources(r, s);
        if (!res)
                return -r->err->code;
        if (!res->pids && !(res->pids = R_NEW(r, struct spec_pids)))
                return -r->err->code;
        res->pids->limit = l->args[0].i;
        return 0;
}

int opt_blockio(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_resources *res = linux_resources(r, s);
        if (!res)
                return -r->err->code;
        struct spec_blockio *b = R_NEW(r, struct spec_blockio);
        if (!b || model_copy(r->a, &type_blockio, b, l->args[0].value) < 0)
                return r_nomem(r);
        res->blockio = b;
        return 0;
}

static struct spec_cpu *linux_cpu(struct render *r, struct spec *s)
{
        if (set_cpu(r, s) < 0)
                return NULL;
        if (!s->linux_) {
                missing_section(r, "linux");
                return NULL;
        }
        return s->linux_->resources->cpu;
}

int opt_cpu_shares(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_cpu *cpu = linux_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        return (cpu->shares = r_u64(r, l->args[0].u)) ? 0 : -r->err->code;
}

int opt_cpus(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_cpu *cpu = linux_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        cpu->cpus = l->args[0].str;
        return 0;
}

int opt_cpus_mems(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_cpu *cpu = linux_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        cpu->mems = l->args[0].str;
        return 0;
}

int opt_cpu_cfs(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_cpu *cpu = linux_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        if (!(cpu->quota = r_i64(r, l->args[0].i)) || !(cpu->period = r_u64(r, l->args[1].u)))
                return -r->err->code;
        return 0;
}

int opt_cpu_rt(struct render *r, struct spec *s, const struct optline *l)
{
        struct spec_cpu *cpu = linux_cpu(r, s);
        if (!cpu)
                return -r->err->code;
        if (!(cpu->realtime_runtime = r_i64(r, l->args[0].i)) || !(cpu->realtime_period = r_u64(r, l->args[1].u)))
                return -r->err->code;
        return 0;
}

int opt_rdt(struct render *r, struct spec *s, const struct optline *l)
{
        if (!s->linux_)
                return missing_section(r, "linux");
        struct spec_intel_rdt *rdt = R_NEW(r, struct spec_intel_rdt);
        if (!rdt)
                return -r->err->code;
        rdt->clos_id = l->args[0].str;
        rdt->l3_cache_schema = l->args[1].str;
        rdt->mem_bw_schema = l->args[2].str;
        s->linux_->intel_rdt = rdt;
        return 0;
}

/* WithPrivileged is containerd's Compose of these options, in this order. */
int opt_privileged(struct render *r, struct spec *s, const struct optline *l)
{
        static const char *const empty[] = { "" };
        int ret;
        if ((ret = opt_all_current_capabilities(r, s, l)) < 0)
                return ret;
        if ((ret = set_linux(r, s)) < 0)
                return ret;
        s->linux_->masked_paths = (str_slice){ 0 };      /* WithMaskedPaths(nil) */
        s->linux_->readonly_paths = (str_slice){ 0 };    /* WithReadonlyPaths(nil) */
        if ((ret = opt_writeable_sysfs(r, s, l)) < 0 || (ret = opt_writeable_cgroupfs(r, s, l)) < 0 ||
            (ret = apply_with_args(r, s, opt_selinux_label, empty, 1)) < 0 ||
            (ret = apply_with_args(r, s, opt_apparmor_profile, empty, 1)) < 0)
                return ret;
        return opt_seccomp_unconfined(r, s, l);
}
