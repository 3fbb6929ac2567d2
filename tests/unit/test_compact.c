/* compact: the lines a control file's line makes pointless. The property:
 * over random option lists, whatever the compactor drops, the list left
 * renders the same config.json as the whole history, byte for byte; and it
 * fails to render exactly when the history does, once the files lines read
 * change. */
#include "check.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compact.h"
#include "optline.h"
#include "render.h"

static struct optline *line(const char *text)
{
        struct optline *l = NULL;
        bf_error err = { 0 };
        if (!CHECK_INTEQ(optline_parse(text, strlen(text), &l, &err), 0))
                fprintf(stderr, "    %s: %s\n", text, err.msg);
        return l;
}

/* A list with each line's number and provenance, and what a compactor did. */
struct list {
        struct optline *lines[512];
        uint64_t seqs[512];
        size_t n;
};

static void list_drop(struct list *l, uint64_t seq)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->seqs[i] == seq) {
                        optline_unref(l->lines[i]);
                        memmove(l->lines + i, l->lines + i + 1, (l->n - i - 1) * sizeof(l->lines[0]));
                        memmove(l->seqs + i, l->seqs + i + 1, (l->n - i - 1) * sizeof(l->seqs[0]));
                        l->n--;
                        return;
                }
        CHECK(!"the compactor dropped a line that is not in the list");
}

static void list_free(struct list *l)
{
        for (size_t i = 0; i < l->n; i++)
                optline_unref(l->lines[i]);
        l->n = 0;
}

/* config.json for lines, or NULL when it does not render. */
static char *render(const char *rootfs, struct optline *const *lines, size_t n)
{
        struct render_input in = {
                .platform = "linux/amd64", .namespace_ = "default", .id = "c1", .bundle_rootfs = rootfs,
                .lines = lines, .nlines = n,
        };
        buf out = { 0 };
        bf_error err = { 0 };
        if (spec_render(&in, &out, &err) < 0) {
                buf_free(&out);
                return NULL;
        }
        return buf_steal(&out, NULL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static const char passwd[] = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n";
static const char group[] = "root:x:0:\naudio:x:29:alice\n";

/* fmt with its "%d", if any, replaced by n. */
static void fill(char *out, size_t size, const char *fmt, int n)
{
        const char *at = strstr(fmt, "%d");
        if (!at) {
                snprintf(out, size, "%s", fmt);
                return;
        }
        snprintf(out, size, "%.*s%d%s", (int) (at - fmt), fmt, n, at + 2);
}

/* Lines a control file writes, and lines by hand (%d: a number). */
static const char *const control_lines[] = {
        "WithHostname a", "WithHostname b", "WithDomainname d", "WithProcessCwd /srv", "WithProcessCwd /",
        "WithProcessArgs sh -c true", "WithProcessArgs sleep %d", "WithMemoryLimit %d", "WithMemorySwap %d",
        "WithPidsLimit %d", "WithCPUShares %d", "WithCPUCFS %d 100000", "WithCPURT %d 100000", "WithCPUs 0-%d",
        "WithCPUsMems 0", "WithCapabilities CAP_CHOWN", "WithCapabilities CAP_KILL CAP_CHOWN",
        "WithAllKnownCapabilities", "WithAddedCapabilities CAP_SYS_ADMIN", "WithDroppedCapabilities CAP_CHOWN",
        "WithAmbientCapabilities CAP_KILL", "WithAmbientCapabilities", "WithEnv A=%d", "WithEnv B=1 A=2",
        "WithAnnotations a=%d", "WithAnnotations a=1 b=%d", "WithAnnotations b=3", "WithTTY", "WithTTYSize %d 24",
        "WithRootFSReadonly", "WithUser alice", "WithUser bob", "WithUser 1000:1000",
        "WithAppendAdditionalGroups audio", "WithLinuxNamespace network /proc/1/ns/net", "WithHostNamespace ipc",
        "WithMounts [{\"destination\":\"/d%d\",\"type\":\"tmpfs\"}]", "WithoutMounts /d1",
};
static const char *const hand_lines[] = {
        "WithHostname hand", "WithEnv H=%d", "WithMemoryLimit %d", "WithNoNewPrivileges", "WithDefaultSpec",
        "WithSpecFromBytes {\"ociVersion\":\"1.0.2\",\"process\":{\"cwd\":\"/\"},\"linux\":{}}", "WithUser alice",
        "WithDevShmSize %d", "WithCgroup /x%d", "WithPrivileged", "WithRootFSPath rootfs",
};

TEST(random_lists_render_the_same_whole_and_compacted)
{
        char dir[] = "/tmp/bundlefs-compact-XXXXXX";
        if (!CHECK(mkdtemp(dir) != NULL))
                return;
        char etc[64];
        snprintf(etc, sizeof(etc), "%s/etc", dir);
        CHECK_INTEQ(mkdir(etc, 0755), 0);
        write_file(etc, "passwd", passwd);
        write_file(etc, "group", group);
        srandom(7);
        size_t dropped = 0, checked = 0;
        for (int round = 0; round < 60; round++) {
                struct list whole = { 0 }, kept = { 0 };
                struct compactor c;
                compactor_init(&c);
                uint64_t seq = 0;
                for (int step = 0; step < 80; step++) {
                        bool by_control = random() % 4 != 0;
                        const char *fmt = by_control ? control_lines[random() % ARRAY_SIZE(control_lines)] :
                                                       hand_lines[random() % ARRAY_SIZE(hand_lines)];
                        char text[256];
                        fill(text, sizeof(text), fmt, (int) (random() % 4) + 1);
                        struct optline *l = line(text);
                        if (!l)
                                continue;
                        /* The daemon keeps only lines with which the list renders. */
                        whole.lines[whole.n] = l;
                        char *full = render(dir, whole.lines, whole.n + 1);
                        if (!full) {
                                optline_unref(l);
                                continue;
                        }
                        whole.seqs[whole.n++] = seq;
                        kept.lines[kept.n] = optline_ref(l);
                        kept.seqs[kept.n++] = seq;
                        uint64_t drop;
                        if (compactor_add(&c, l, seq, by_control, &drop)) {
                                list_drop(&kept, drop);
                                dropped++;
                        }
                        seq++;
                        char *compacted = render(dir, kept.lines, kept.n);
                        if (!CHECK(compacted && streq(full, compacted)))
                                fprintf(stderr, "    round %d step %d: %s\n", round, step, text);
                        checked++;
                        free(full);
                        free(compacted);
                }
                /* The files lines read change: both fail, or both render the same. */
                write_file(etc, "passwd", "root:x:0:0::/root:/bin/sh\n");
                char *full = render(dir, whole.lines, whole.n), *compacted = render(dir, kept.lines, kept.n);
                CHECK((full == NULL) == (compacted == NULL));
                CHECK(!full || streq(full, compacted));
                free(full);
                free(compacted);
                write_file(etc, "passwd", passwd);
                list_free(&whole);
                list_free(&kept);
        }
        CHECK(dropped > 500);   /* the property was put to the test */
        CHECK(checked > 3000);
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INTEQ(system(cmd), 0);
}

TEST(a_control_line_replaces_the_earlier_one_of_its_group_only_when_nothing_between_reads_it)
{
        struct compactor c;
        compactor_init(&c);
        struct optline *a = line("WithMemoryLimit 1"), *env = line("WithEnv A=1"), *b = line("WithMemoryLimit 2"),
                       *added = line("WithAddedCapabilities CAP_KILL"), *caps1 = line("WithCapabilities CAP_CHOWN"),
                       *caps2 = line("WithCapabilities CAP_KILL"), *unknown = line("WithPrivileged"),
                       *d = line("WithMemoryLimit 3");
        uint64_t drop = 99;
        CHECK(!compactor_add(&c, a, 0, true, &drop));
        CHECK(!compactor_add(&c, env, 1, true, &drop));
        CHECK(compactor_add(&c, b, 2, true, &drop));    /* WithEnv reads only the environment */
        CHECK_UINTEQ(drop, 0);
        CHECK(!compactor_add(&c, caps1, 3, true, &drop));
        CHECK(!compactor_add(&c, added, 4, true, &drop));       /* reads the capability sets */
        CHECK(!compactor_add(&c, caps2, 5, true, &drop));
        CHECK(!compactor_add(&c, unknown, 6, false, &drop));    /* unmodelled: reads everything */
        CHECK(!compactor_add(&c, d, 7, true, &drop));
        /* by hand: never a line to drop */
        struct compactor h;
        compactor_init(&h);
        CHECK(!compactor_add(&h, a, 0, false, &drop));
        CHECK(!compactor_add(&h, b, 1, true, &drop));
        CHECK(compactor_add(&h, d, 2, true, &drop));
        CHECK_UINTEQ(drop, 1);
        compactor_forget(&h, 2);
        CHECK(!compactor_add(&h, b, 3, true, &drop));
        struct optline *all[] = { a, env, b, added, caps1, caps2, unknown, d };
        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                optline_unref(all[i]);
}

TEST(a_line_that_reads_files_is_replaced_only_by_the_same_line_reading_the_same_root)
{
        struct compactor c;
        compactor_init(&c);
        struct optline *alice = line("WithUser alice"), *alice2 = line("WithUser alice"), *bob = line("WithUser bob"),
                       *root = line("WithRootFSReadonly"), *host = line("WithHostname h");
        uint64_t drop = 99;
        CHECK(!compactor_add(&c, alice, 0, true, &drop));
        CHECK(!compactor_add(&c, host, 1, true, &drop));
        CHECK(compactor_add(&c, alice2, 2, true, &drop));
        CHECK_UINTEQ(drop, 0);
        CHECK(!compactor_add(&c, bob, 3, true, &drop));
        CHECK(!compactor_add(&c, root, 4, true, &drop));        /* makes the root: the look-up may differ */
        CHECK(!compactor_add(&c, bob, 5, true, &drop));
        struct optline *all[] = { alice, alice2, bob, root, host };
        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                optline_unref(all[i]);
}
