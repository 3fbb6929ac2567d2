/* Which earlier option lines a new line makes pointless (compact.h). Each
 * modelled option says which parts of the spec it may write and which it
 * reads (a section's existence, where it branches on it, counts as a
 * read; creating a missing section, as containerd's set* functions do, is
 * a write). The models follow the option functions of opt_*.c; an option
 * without a model reads and writes everything. */
#include "compact.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "optline.h"
#include "options.h"
#include "util.h"

/* Parts of the spec. */
enum part {
        HOSTNAME,
        DOMAINNAME,
        CWD,
        ARGS,           /* process.args and commandLine */
        CONSOLE,
        TERMINAL,
        ENV,
        USER,
        NO_NEW_PRIVS,
        CAPS,           /* bounding, effective, permitted */
        CAPS_AMBIENT,   /* ambient, inheritable */
        MEM_LIMIT,
        MEM_SWAP,
        PIDS,
        CPU_SHARES,
        CPU_CFS,
        CPU_RT,
        CPUS,
        MEMS,
        ROOT_PATH,
        ROOT_RO,
        ANNOTATIONS,
        MOUNTS,
        NAMESPACES,
        /* sections: their existence */
        HAS_PROCESS,
        HAS_CAPS,
        HAS_CONSOLE,
        HAS_ROOT,
        HAS_LINUX,
        HAS_RESOURCES,
        HAS_MEMORY,
        HAS_PIDS,
        HAS_CPU,
        HAS_WINDOWS,
        HAS_WIN_RESOURCES,
        HAS_WIN_MEMORY,
        HAS_ANNOTATIONS,
};

#define P(x) (UINT64_C(1) << (x))
#define EVERYTHING UINT64_MAX

enum drop {
        KEEP,           /* never dropped */
        ANY,            /* dropped by any later line of its group */
        SAME,           /* reads files: dropped only by the same line */
        KEYS,           /* dropped by a line of its group setting every key it sets */
};

enum group {
        G_NONE,
        G_HOSTNAME,
        G_DOMAINNAME,
        G_CWD,
        G_ARGS,
        G_CONSOLE,
        G_CAPS,
        G_CAPS_AMBIENT,
        G_MEM_LIMIT,
        G_MEM_SWAP,
        G_PIDS,
        G_CPU_SHARES,
        G_CPU_CFS,
        G_CPU_RT,
        G_CPUS,
        G_MEMS,
        G_ROOT_PATH,
        G_ROOT_RO,
        G_USER,
        G_ANNOTATIONS,
        G_COUNT,
};

_Static_assert(G_COUNT <= COMPACT_GROUPS, "COMPACT_GROUPS is too small");

struct model {
        const char *option;
        enum group group;
        enum drop drop;
        uint64_t writes;
        uint64_t reads;
};

#define LINUX_RES P(HAS_RESOURCES)
#define CPU_PARTS (P(HAS_RESOURCES) | P(HAS_CPU))

static const struct model models[] = {
        /* Lines a later one may drop. */
        { "WithHostname", G_HOSTNAME, ANY, P(HOSTNAME), 0 },
        { "WithDomainname", G_DOMAINNAME, ANY, P(DOMAINNAME), 0 },
        { "WithProcessCwd", G_CWD, ANY, P(CWD) | P(HAS_PROCESS), 0 },
        { "WithProcessArgs", G_ARGS, ANY, P(ARGS) | P(HAS_PROCESS), 0 },
        { "WithTTYSize", G_CONSOLE, ANY, P(CONSOLE) | P(HAS_CONSOLE) | P(HAS_PROCESS), 0 },
        { "WithCapabilities", G_CAPS, ANY, P(CAPS) | P(HAS_CAPS) | P(HAS_PROCESS), 0 },
        { "WithAllKnownCapabilities", G_CAPS, ANY, P(CAPS) | P(HAS_CAPS) | P(HAS_PROCESS), 0 },
        { "WithAllCurrentCapabilities", G_CAPS, ANY, P(CAPS) | P(HAS_CAPS) | P(HAS_PROCESS), 0 },
        { "WithAmbientCapabilities", G_CAPS_AMBIENT, ANY, P(CAPS_AMBIENT) | P(HAS_CAPS) | P(HAS_PROCESS), 0 },
        { "WithMemoryLimit", G_MEM_LIMIT, ANY,
          P(MEM_LIMIT) | LINUX_RES | P(HAS_MEMORY) | P(HAS_WIN_RESOURCES) | P(HAS_WIN_MEMORY),
          P(HAS_LINUX) | P(HAS_WINDOWS) },
        { "WithMemorySwap", G_MEM_SWAP, ANY, P(MEM_SWAP) | LINUX_RES | P(HAS_MEMORY), P(HAS_LINUX) },
        { "WithPidsLimit", G_PIDS, ANY, P(PIDS) | LINUX_RES | P(HAS_PIDS), P(HAS_LINUX) },
        { "WithCPUShares", G_CPU_SHARES, ANY, P(CPU_SHARES) | CPU_PARTS, P(HAS_LINUX) },
        { "WithCPUCFS", G_CPU_CFS, ANY, P(CPU_CFS) | CPU_PARTS, P(HAS_LINUX) },
        { "WithCPURT", G_CPU_RT, ANY, P(CPU_RT) | CPU_PARTS, P(HAS_LINUX) },
        { "WithCPUs", G_CPUS, ANY, P(CPUS) | CPU_PARTS, P(HAS_LINUX) },
        { "WithCPUsMems", G_MEMS, ANY, P(MEMS) | CPU_PARTS, P(HAS_LINUX) },
        { "WithRootFSPath", G_ROOT_PATH, ANY, P(ROOT_PATH) | P(HAS_ROOT), 0 },
        { "WithRootFSReadonly", G_ROOT_RO, ANY, P(ROOT_RO) | P(HAS_ROOT), 0 },
        /* Reads etc/passwd and etc/group in root.path or the rootfs. */
        { "WithUser", G_USER, SAME, P(USER) | P(HAS_PROCESS),
          P(HAS_LINUX) | P(HAS_WINDOWS) | P(ROOT_PATH) | P(HAS_ROOT) },
        /* A map: keys set later replace the same keys. */
        { "WithAnnotations", G_ANNOTATIONS, KEYS, P(ANNOTATIONS) | P(HAS_ANNOTATIONS), 0 },

        /* Lines kept, with what they read. */
        { "WithEnv", G_NONE, KEEP, P(ENV) | P(HAS_PROCESS), P(ENV) },
        { "WithTTY", G_NONE, KEEP, P(TERMINAL) | P(ENV) | P(HAS_PROCESS), P(ENV) | P(HAS_LINUX) },
        { "WithMounts", G_NONE, KEEP, P(MOUNTS), P(MOUNTS) },
        { "WithoutMounts", G_NONE, KEEP, P(MOUNTS), P(MOUNTS) },
        { "WithLinuxNamespace", G_NONE, KEEP, P(NAMESPACES) | P(HAS_LINUX), P(NAMESPACES) },
        { "WithHostNamespace", G_NONE, KEEP, P(NAMESPACES) | P(HAS_LINUX), P(NAMESPACES) },
        { "WithAddedCapabilities", G_NONE, KEEP, P(CAPS) | P(HAS_CAPS) | P(HAS_PROCESS), P(CAPS) },
        { "WithDroppedCapabilities", G_NONE, KEEP, P(CAPS) | P(HAS_CAPS) | P(HAS_PROCESS), P(CAPS) },
        { "WithNoNewPrivileges", G_NONE, KEEP, P(NO_NEW_PRIVS) | P(HAS_PROCESS), 0 },
        { "WithNewPrivileges", G_NONE, KEEP, P(NO_NEW_PRIVS) | P(HAS_PROCESS), 0 },
        /* A whole new spec, from the arguments (or a file) alone. */
        { "WithDefaultSpec", G_NONE, KEEP, EVERYTHING, 0 },
        { "WithDefaultSpecForPlatform", G_NONE, KEEP, EVERYTHING, 0 },
        { "WithSpecFromBytes", G_NONE, KEEP, EVERYTHING, 0 },
        { "WithSpecFromFile", G_NONE, KEEP, EVERYTHING, 0 },
};

static const struct model unknown = { NULL, G_NONE, KEEP, EVERYTHING, EVERYTHING };

/* The model of each option of the table (options.h), by its index. */
static const struct model **by_option;
static size_t noptions;
static const struct option *option_base;
static pthread_once_t models_once = PTHREAD_ONCE_INIT;

static void models_index(void)
{
        option_base = option_list(&noptions);
        const struct model **v = calloc(noptions ? noptions : 1, sizeof(*v));
        if (!v)
                return;
        for (size_t i = 0; i < noptions; i++) {
                v[i] = &unknown;
                for (size_t k = 0; k < ARRAY_SIZE(models); k++)
                        if (streq(models[k].option, option_base[i].name))
                                v[i] = &models[k];
        }
        by_option = v;
}

static const struct model *model_of(const struct optline *l)
{
        pthread_once(&models_once, models_index);
        size_t i = (size_t) (l->opt - option_base);
        return by_option && i < noptions ? by_option[i] : &unknown;
}

bool compact_droppable(const struct optline *l)
{
        return model_of(l)->drop != KEEP;
}

void compactor_init(struct compactor *c)
{
        *c = (struct compactor){ 0 };
}

/* Does every key=value argument of `earlier` set a key `later` sets too? */
static bool keys_covered(const struct optline *earlier, const struct optline *later)
{
        for (size_t i = 0; i < earlier->nargs; i++) {
                const char *kv = earlier->args[i].str;
                size_t klen = strcspn(kv, "=");
                bool found = false;
                for (size_t j = 0; j < later->nargs && !found; j++) {
                        const char *o = later->args[j].str;
                        found = strncmp(o, kv, klen) == 0 && o[klen] == '=';
                }
                if (!found)
                        return false;
        }
        return true;
}

/* Does `later` (of the group) make `earlier` pointless? */
static bool supersedes(const struct model *m, const struct optline *earlier, const struct optline *later)
{
        switch (m->drop) {
        case ANY:
                return true;
        case SAME:
                return optline_same(earlier, later);
        case KEYS:
                return keys_covered(earlier, later);
        case KEEP:
                break;
        }
        return false;
}

bool compactor_add(struct compactor *c, const struct optline *l, uint64_t seq, bool by_control, uint64_t *ret_drop)
{
        const struct model *m = model_of(l);
        bool candidate = by_control && m->drop != KEEP && m->group != G_NONE;
        bool dropped = false;
        if (candidate && c->seq1[m->group] && supersedes(m, c->line[m->group], l)) {
                *ret_drop = c->seq1[m->group] - 1;
                c->seq1[m->group] = 0;
                dropped = true;
        }
        /* The line observes what earlier lines set: those can no longer go.
         * One that reads files must also keep reading the same things. */
        for (unsigned g = 1; g < G_COUNT; g++) {
                if (!c->seq1[g])
                        continue;
                const struct model *cm = model_of(c->line[g]);
                if ((m->reads & cm->writes) || (cm->drop == SAME && (m->writes & cm->reads)))
                        c->seq1[g] = 0;
        }
        if (candidate) {
                c->seq1[m->group] = seq + 1;
                c->line[m->group] = l;
        }
        return dropped;
}

void compactor_forget(struct compactor *c, uint64_t seq)
{
        for (unsigned g = 1; g < G_COUNT; g++)
                if (c->seq1[g] == seq + 1)
                        c->seq1[g] = 0;
}
