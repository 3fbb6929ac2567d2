/* unpack_bench: unpacking an image beside its floor, tar -x of the same
 * layers into a plain directory on the same disk, measured in the same run.
 *
 * It writes an OCI image layout of about 100 MiB of tar (three gzip layers:
 * many small files in many directories, a few large files, and a layer of
 * changes with whiteouts and links; text-like content that compresses about
 * 3:1) with libarchive, then, round after round with the order rotating:
 *   - unpack: oci_image_open + unpack_image into an empty directory, durable
 *     at the end (syncfs), and the same with UNPACK_NO_SYNC;
 *   - tar -x: GNU tar extracting each layer blob in order into an empty
 *     directory (gzip in a process of its own, as tar runs it), and the same
 *     followed by syncfs;
 *   - the digest check alone: SHA-256 of every blob (libcrypto);
 *   - umoci unpack, when umoci is installed;
 *   - with --bundlefs PATH: through a mounted tree, `echo REF > rootfs.image`
 *     of a new container (open, write, close: the write returns once the
 *     unpack is durable), beside the durable unpack above. The daemon runs
 *     on a state directory in the work directory, in a private mount
 *     namespace.
 * The file system is synced before each measure; the trees are removed at
 * the end (see measure()). Medians are reported; --tsv prints one line per row for
 * bench_table: label, seconds, floor label, floor seconds. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "bench_common.h"
#include "files.h"
#include "digest.h"
#include "oci.h"
#include "platform.h"
#include "unpack.h"

#define MIB (1024.0 * 1024.0)

/* ---- the image ------------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static const char *const words[] = {
        "container", "image", "layer", "bundle", "runtime", "spec", "mount", "rootfs", "config", "process",
        "namespace", "cgroup", "device", "capability", "seccomp", "hostname", "user", "group", "env", "path",
        "lib", "usr", "bin", "share", "doc", "locale", "zoneinfo", "python", "module", "return", "static",
        "const", "struct", "include", "define", "function", "value", "error", "0x7f", "42", "{", "}", ";",
};

/* Text-like bytes with some noise: gzip gets about 3:1, as on real images. */
static void fill(char *p, size_t n)
{
        size_t i = 0;
        while (i < n) {
                uint64_t r = next_rand();
                if ((r & 3) == 0) {
                        /* noise: a few random characters */
                        for (int k = 0; k < 6 && i < n; k++, r >>= 7)
                                p[i++] = (char) (33 + (r >> 8) % 90);
                        continue;
                }
                const char *w = words[(r >> 16) % (sizeof(words) / sizeof(words[0]))];
                for (; *w && i < n; w++)
                        p[i++] = *w;
                if (i < n)
                        p[i++] = (r >> 40) % 9 ? ' ' : '\n';
        }
}

struct layer_out {
        char digest[DIGEST_TEXT_MAX], diff_id[DIGEST_TEXT_MAX];
        uint64_t size, tar_size;
        char *path;
        long files;
};

struct hashing_sink {
        struct hasher *blob;
        int fd;
        uint64_t size;
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *bytes, size_t n)
{
        (void) a;
        struct hashing_sink *s = data;
        hasher_update(s->blob, bytes, n);
        s->size += n;
        for (size_t off = 0; off < n;) {
                ssize_t w = write(s->fd, (const char *) bytes + off, n - off);
                if (w < 0)
                        bench_die("write: %s", strerror(errno));
                off += (size_t) w;
        }
        return (la_ssize_t) n;
}

/* The uncompressed tar is hashed by writing it a second time, uncompressed,
 * to a hasher (the diff ID). */
static la_ssize_t diff_write(struct archive *a, void *data, const void *bytes, size_t n)
{
        (void) a;
        hasher_update(data, bytes, n);
        return (la_ssize_t) n;
}

struct writer {
        struct archive *gz, *plain;
        char *buf;
        size_t buf_size;
        long files;
};

static void add(struct writer *w, const char *name, mode_t type, size_t size, const char *link)
{
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_mtime(e, 1600000000, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        if (type == AE_IFLNK)
                archive_entry_set_symlink(e, link);
        if (type == AE_IFREG && link)
                archive_entry_set_hardlink(e, link);
        archive_entry_set_size(e, type == AE_IFREG && !link ? (la_int64_t) size : 0);
        struct archive *as[2] = { w->gz, w->plain };
        if (type == AE_IFREG && !link) {
                if (size > w->buf_size) {
                        w->buf = realloc(w->buf, size);
                        w->buf_size = size;
                        if (!w->buf)
                                bench_die("out of memory");
                }
                fill(w->buf, size);
        }
        for (int i = 0; i < 2; i++) {
                if (archive_write_header(as[i], e) != ARCHIVE_OK)
                        bench_die("tar header %s: %s", name, archive_error_string(as[i]));
                if (type == AE_IFREG && !link && archive_write_data(as[i], w->buf, size) != (la_ssize_t) size)
                        bench_die("tar data %s: %s", name, archive_error_string(as[i]));
        }
        archive_entry_free(e);
        w->files++;
}

typedef void (*layer_fn)(struct writer *w, double scale);

static void layer_small(struct writer *w, double scale)
{
        /* many small files (0.25-8 KiB) in many directories: ~50 MiB of tar */
        int files = (int) (10000 * scale);
        char name[256];
        for (int i = 0; i < files; i++) {
                if (i % 20 == 0) {
                        snprintf(name, sizeof(name), "usr/lib/pkg%03d/sub%03d", i / 400, i / 20);
                        if (i % 400 == 0) {
                                char parent[128];
                                snprintf(parent, sizeof(parent), "usr/lib/pkg%03d", i / 400);
                                add(w, parent, AE_IFDIR, 0, NULL);
                        }
                        add(w, name, AE_IFDIR, 0, NULL);
                }
                snprintf(name, sizeof(name), "usr/lib/pkg%03d/sub%03d/file%05d.py", i / 400, i / 20, i);
                add(w, name, AE_IFREG, 256 + next_rand() % (8 * 1024 - 256), NULL);
        }
}

static void layer_large(struct writer *w, double scale)
{
        /* a few large files: 4 x 10 MiB */
        add(w, "opt", AE_IFDIR, 0, NULL);
        char name[64];
        for (int i = 0; i < 4; i++) {
                snprintf(name, sizeof(name), "opt/big%d.bin", i);
                add(w, name, AE_IFREG, (size_t) (10 * MIB * scale), NULL);
        }
}

static void layer_changes(struct writer *w, double scale)
{
        /* changes: new small files, whiteouts, links: ~10 MiB of tar */
        int files = (int) (2000 * scale);
        char name[256], target[256];
        add(w, "etc", AE_IFDIR, 0, NULL);
        for (int i = 0; i < files; i++) {
                if (i % 50 == 0) {
                        snprintf(name, sizeof(name), "etc/conf%03d", i / 50);
                        add(w, name, AE_IFDIR, 0, NULL);
                }
                snprintf(name, sizeof(name), "etc/conf%03d/f%05d.conf", i / 50, i);
                add(w, name, AE_IFREG, 256 + next_rand() % 8000, NULL);
                if (i % 10 == 0) {
                        snprintf(target, sizeof(target), "f%05d.conf", i);
                        snprintf(name, sizeof(name), "etc/conf%03d/link%05d", i / 50, i);
                        add(w, name, AE_IFLNK, 0, target);
                        snprintf(target, sizeof(target), "etc/conf%03d/f%05d.conf", i / 50, i);
                        snprintf(name, sizeof(name), "etc/conf%03d/hard%05d", i / 50, i);
                        add(w, name, AE_IFREG, 0, target);
                }
                if (i % 25 == 0) {
                        snprintf(name, sizeof(name), "usr/lib/pkg%03d/sub%03d/.wh.file%05d.py", (i * 3) / 400,
                                 (i * 3) / 20, i * 3);
                        add(w, name, AE_IFREG, 0, NULL);
                }
        }
}

static void write_layer(const char *blobs, layer_fn fn, double scale, struct layer_out *out)
{
        char *tmp = bench_asprintf("%s/tmp-layer", blobs);
        struct hashing_sink sink = { .blob = hasher_new(DIGEST_SHA256) };
        struct hasher *diff = hasher_new(DIGEST_SHA256);
        sink.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (sink.fd < 0 || !sink.blob || !diff)
                bench_die("%s: %s", tmp, strerror(errno));
        struct writer w = { .gz = archive_write_new(), .plain = archive_write_new() };
        archive_write_set_format_pax_restricted(w.gz);
        archive_write_add_filter_gzip(w.gz);
        archive_write_set_options(w.gz, "gzip:compression-level=6");
        archive_write_set_bytes_in_last_block(w.gz, 1);
        archive_write_set_format_pax_restricted(w.plain);
        archive_write_set_bytes_in_last_block(w.plain, 1);
        if (archive_write_open(w.gz, &sink, NULL, sink_write, NULL) != ARCHIVE_OK ||
            archive_write_open(w.plain, diff, NULL, diff_write, NULL) != ARCHIVE_OK)
                bench_die("archive_write_open failed");
        fn(&w, scale);
        archive_write_close(w.gz);
        archive_write_close(w.plain);
        out->tar_size = (uint64_t) archive_filter_bytes(w.plain, -1);
        archive_write_free(w.gz);
        archive_write_free(w.plain);
        free(w.buf);
        close(sink.fd);
        struct digest d;
        if (hasher_final(sink.blob, &d) < 0)
                bench_die("digest");
        digest_format(&d, out->digest);
        if (hasher_final(diff, &d) < 0)
                bench_die("digest");
        digest_format(&d, out->diff_id);
        hasher_free(sink.blob);
        hasher_free(diff);
        out->size = sink.size;
        out->files = w.files;
        out->path = bench_asprintf("%s/sha256/%s", blobs, out->digest + 7);
        if (rename(tmp, out->path) < 0)
                bench_die("rename: %s", strerror(errno));
        free(tmp);
}

static void write_blob(const char *blobs, const char *text, char *ret_digest, size_t *ret_size)
{
        struct hasher *h = hasher_new(DIGEST_SHA256);
        hasher_update(h, text, strlen(text));
        struct digest d;
        if (!h || hasher_final(h, &d) < 0)
                bench_die("digest");
        hasher_free(h);
        digest_format(&d, ret_digest);
        char *path = bench_asprintf("%s/sha256/%s", blobs, ret_digest + 7);
        FILE *f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                bench_die("%s: %s", path, strerror(errno));
        free(path);
        *ret_size = strlen(text);
}

#define NLAYERS 3

static void write_layout(const char *dir, double scale, struct layer_out *layers)
{
        char *blobs = bench_asprintf("%s/blobs", dir), *sha = bench_asprintf("%s/blobs/sha256", dir);
        if (mkdir(dir, 0755) < 0 || mkdir(blobs, 0755) < 0 || mkdir(sha, 0755) < 0)
                bench_die("mkdir %s: %s", dir, strerror(errno));
        static const layer_fn fns[NLAYERS] = { layer_small, layer_large, layer_changes };
        for (int i = 0; i < NLAYERS; i++)
                write_layer(blobs, fns[i], scale, &layers[i]);
        char cfg_digest[DIGEST_TEXT_MAX], man_digest[DIGEST_TEXT_MAX];
        size_t cfg_size, man_size;
        char *cfg = bench_asprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                              "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\",\"%s\"]}}",
                              layers[0].diff_id, layers[1].diff_id, layers[2].diff_id);
        write_blob(blobs, cfg, cfg_digest, &cfg_size);
        char *layer_json[NLAYERS];
        for (int i = 0; i < NLAYERS; i++)
                layer_json[i] = bench_asprintf("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                                          "\"digest\":\"%s\",\"size\":%llu}",
                                          layers[i].digest, (unsigned long long) layers[i].size);
        char *man = bench_asprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                              "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                              "\"digest\":\"%s\",\"size\":%zu},\"layers\":[%s,%s,%s]}",
                              cfg_digest, cfg_size, layer_json[0], layer_json[1], layer_json[2]);
        write_blob(blobs, man, man_digest, &man_size);
        char *index = bench_asprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                                "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
                                "\"annotations\":{\"org.opencontainers.image.ref.name\":\"bench\"}}]}",
                                man_digest, man_size);
        char *ipath = bench_asprintf("%s/index.json", dir), *lpath = bench_asprintf("%s/oci-layout", dir);
        FILE *f = fopen(ipath, "we"), *g = fopen(lpath, "we");
        if (!f || !g || fputs(index, f) < 0 || fputs("{\"imageLayoutVersion\":\"1.0.0\"}", g) < 0 ||
            fclose(f) != 0 || fclose(g) != 0)
                bench_die("writing %s: %s", dir, strerror(errno));
        for (int i = 0; i < NLAYERS; i++)
                free(layer_json[i]);
        free(cfg), free(man), free(index), free(ipath), free(lpath), free(blobs), free(sha);
}

/* ---- the measures ------------------------------------------------------------------- */

static void sync_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || syncfs(fd) < 0)
                bench_die("syncfs %s: %s", path, strerror(errno));
        close(fd);
}

static int run(char *const argv[], bool quiet)
{
        pid_t pid = fork();
        if (pid < 0)
                bench_die("fork: %s", strerror(errno));
        if (pid == 0) {
                if (quiet) {
                        int null = open("/dev/null", O_WRONLY);
                        dup2(null, 1);
                        dup2(null, 2);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0)
                bench_die("waitpid: %s", strerror(errno));
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

struct bench {
        const char *work;
        char *layout, *ref;
        struct layer_out layers[NLAYERS];
        bool have_umoci;
        struct bench_daemon bfs;        /* pid 0: no tree measured */
        int rounds;
        int seq;
};

enum measure { M_UNPACK, M_UNPACK_NOSYNC, M_TAR, M_TAR_SYNC, M_DIGEST, M_UMOCI, M_TREE, NMEASURES };

static const char *const measure_names[NMEASURES] = {
        "unpack (durable: syncfs)", "unpack, no syncfs", "tar -x", "tar -x + syncfs", "digest check (sha256)",
        "umoci unpack", "rootfs.image (the tree)",
};

static double measure_unpack(struct bench *b, const char *dir, bool sync)
{
        if (mkdir(dir, 0755) < 0)
                bench_die("mkdir %s: %s", dir, strerror(errno));
        int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct platform p;
        bf_error err = { 0 };
        platform_parse("linux/amd64", &p, &err);
        double t0 = bench_now();
        arena a;
        arena_init(&a, 0);
        struct oci_image *img;
        if (oci_image_open(&a, b->ref, &p, NULL, &img, &err) < 0)
                bench_die("%s", err.msg);
        struct unpack_options opt = { .flags = sync ? 0 : UNPACK_NO_SYNC };
        if (unpack_image(img, fd, &opt, &err) < 0)
                bench_die("unpack: %s", err.msg);
        oci_image_close(img);
        arena_done(&a);
        double t = bench_now() - t0;
        close(fd);
        return t;
}

static double measure_tar(struct bench *b, const char *dir, bool sync)
{
        if (mkdir(dir, 0755) < 0)
                bench_die("mkdir %s: %s", dir, strerror(errno));
        double t0 = bench_now();
        for (int i = 0; i < NLAYERS; i++) {
                /* GNU tar: whiteout files are left as files, so it does a little less */
                char *argv[] = { "tar", "-xzf", b->layers[i].path, "-C", (char *) dir, NULL };
                if (run(argv, false) != 0)
                        bench_die("tar -x of %s failed", b->layers[i].path);
        }
        if (sync)
                sync_dir(dir);
        return bench_now() - t0;
}

static double measure_digest(struct bench *b)
{
        static char chunk[1 << 20];
        double t0 = bench_now();
        for (int i = 0; i < NLAYERS; i++) {
                struct hasher *h = hasher_new(DIGEST_SHA256);
                int fd = open(b->layers[i].path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || !h)
                        bench_die("%s: %s", b->layers[i].path, strerror(errno));
                ssize_t n;
                while ((n = read(fd, chunk, sizeof(chunk))) > 0)
                        hasher_update(h, chunk, (size_t) n);
                close(fd);
                struct digest d;
                char text[DIGEST_TEXT_MAX];
                if (hasher_final(h, &d) < 0)
                        bench_die("digest");
                digest_format(&d, text);
                if (strcmp(text, b->layers[i].digest))
                        bench_die("digest of layer %d changed", i);
                hasher_free(h);
        }
        return bench_now() - t0;
}

static double measure_umoci(struct bench *b, const char *dir)
{
        char *image = bench_asprintf("%s:bench", b->layout);
        char *argv[] = { "umoci", "unpack", "--image", image, (char *) dir, NULL };
        double t0 = bench_now();
        if (run(argv, true) != 0)
                bench_die("umoci unpack failed (run it by hand: umoci unpack --image %s %s)", image, dir);
        double t = bench_now() - t0;
        free(image);
        return t;
}

/* echo REF > <mnt>/bench/cN/rootfs.image: the write returns once the
 * unpack into the new container's rootfs is durable. */
static double measure_tree(struct bench *b)
{
        char *ctr = bench_asprintf("%s/bench/c%d", b->bfs.mnt, b->seq);
        char *file = bench_asprintf("%s/rootfs.image", ctr);
        char *value = bench_asprintf("%s\n", b->ref);
        if (mkdir(ctr, 0755) < 0)
                bench_die("mkdir %s: %s", ctr, strerror(errno));
        double t0 = bench_now();
        int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0 || fd_write_all(fd, value, strlen(value)) < 0 || close(fd) < 0)
                bench_die("echo %s > %s: %s", b->ref, file, strerror(errno));
        double t = bench_now() - t0;
        free(ctr), free(file), free(value);
        return t;
}

static void tree_start(struct bench *b, const char *bundlefs)
{
        /* Private mounts: the tree and its bind mounts are nobody else's,
         * and go with the last process in the namespace. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                bench_die("a private mount namespace: %s", strerror(errno));
        char *state = bench_asprintf("%s/state", b->work);
        b->bfs = (struct bench_daemon){ .name = "bundlefs", .mnt = bench_asprintf("%s/mnt", b->work),
                                        .log = bench_asprintf("%s/bundlefs.log", b->work) };
        bench_make_dir(b->bfs.mnt);
        char *argv[] = { (char *) bundlefs, "-f", "--state", state, b->bfs.mnt, NULL };
        bench_daemon_start(&b->bfs, argv, NULL, 30);
        char *ns = bench_asprintf("%s/bench", b->bfs.mnt);
        if (mkdir(ns, 0755) < 0)
                bench_die("mkdir %s: %s", ns, strerror(errno));
        free(ns), free(state);
}

static void tree_stop(void *arg)
{
        struct bench *b = arg;
        bench_daemon_stop(&b->bfs, 30);
}

static double measure(struct bench *b, enum measure m)
{
        char *dir = bench_asprintf("%s/out-%d", b->work, b->seq++);
        double t = 0;
        switch (m) {
        case M_UNPACK: t = measure_unpack(b, dir, true); break;
        case M_UNPACK_NOSYNC: t = measure_unpack(b, dir, false); break;
        case M_TAR: t = measure_tar(b, dir, false); break;
        case M_TAR_SYNC: t = measure_tar(b, dir, true); break;
        case M_DIGEST: t = measure_digest(b); break;
        case M_UMOCI: t = measure_umoci(b, dir); break;
        case M_TREE: t = measure_tree(b); break;
        default: break;
        }
        /* Trees are removed only at the end: ext4 scans past recently deleted
         * inodes (for a minute or more) when it allocates new ones, which
         * would make every measure after a removal slower by chance. */
        sync_dir(b->work);
        free(dir);
        return t;
}

static void usage(FILE *f)
{
        fputs("Usage: unpack_bench [--dir DIR] [--rounds N] [--scale X] [--quick] [--tsv] [--bundlefs PATH]\n"
              "  --dir DIR    work directory's parent (default /var/tmp: a disk, as the state directory)\n"
              "  --rounds N   rounds of every measure (default 5; --quick: 2)\n"
              "  --scale X    image size factor (default 1: about 100 MiB of tar)\n"
              "  --tsv        machine-readable rows for bench_table\n"
              "  --bundlefs PATH  also unpack through a tree this bundlefs serves (rootfs.image)\n"
              "  --write-layout DIR  only write the image as a layout at DIR (--scale before it), then exit\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "dir", required_argument, NULL, 'd' }, { "rounds", required_argument, NULL, 'r' },
                { "scale", required_argument, NULL, 's' }, { "quick", no_argument, NULL, 'q' },
                { "tsv", no_argument, NULL, 't' }, { "write-layout", required_argument, NULL, 'w' },
                { "bundlefs", required_argument, NULL, 'b' },
                { "help", no_argument, NULL, 'h' }, { 0 },
        };
        const char *parent = "/var/tmp", *bundlefs = NULL;
        int rounds = 5;
        double scale = 1.0;
        bool tsv = false, quick = false;
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case 'd': parent = optarg; break;
                case 'r': rounds = atoi(optarg); break;
                case 's': scale = atof(optarg); break;
                case 'q': quick = true; break;
                case 't': tsv = true; break;
                case 'b': bundlefs = optarg; break;
                case 'w': {
                        /* only write the image (to profile the unpack by hand) */
                        struct layer_out layers[NLAYERS];
                        write_layout(optarg, scale, layers);
                        printf("oci:%s:bench\n", optarg);
                        return 0;
                }
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (quick)
                rounds = 2;
        if (rounds < 1 || rounds > 100 || scale <= 0 || scale > 20) {
                usage(stderr);
                return 2;
        }
        bench_init("unpack_bench");
        if (geteuid() != 0)
                bench_die("run as root (the unpack sets owners, as tar -x does as root)");
        struct bench b = { .rounds = rounds };
        char *tmpl = bench_asprintf("%s/unpack_bench.XXXXXX", parent);
        if (!mkdtemp(tmpl))
                bench_die("mkdtemp %s: %s", tmpl, strerror(errno));
        b.work = tmpl;
        b.layout = bench_asprintf("%s/layout", b.work);
        b.ref = bench_asprintf("oci:%s:bench", b.layout);
        b.have_umoci = system("umoci --version >/dev/null 2>&1") == 0;
        FILE *log = tsv ? stderr : stdout;
        fprintf(log, "unpack_bench: writing the image in %s ...\n", b.layout);
        fflush(log);
        write_layout(b.layout, scale, b.layers);
        uint64_t tar_total = 0, blob_total = 0;
        long files = 0;
        for (int i = 0; i < NLAYERS; i++) {
                tar_total += b.layers[i].tar_size;
                blob_total += b.layers[i].size;
                files += b.layers[i].files;
        }
        fprintf(log, "  %d layers, %.1f MiB of tar (%.1f MiB gzip), %ld entries; %d rounds; umoci %s\n", NLAYERS,
                (double) tar_total / MIB, (double) blob_total / MIB, files, rounds,
                b.have_umoci ? "installed" : "not installed");
        if (bundlefs) {
                tree_start(&b, bundlefs);
                bench_at_die(tree_stop, &b);
        }
        sync_dir(b.work);
        /* warm the page cache with the blobs, as for every measure after */
        measure_digest(&b);

        double samples[NMEASURES][100];
        int n = 0;
        for (int r = 0; r < rounds; r++, n++) {
                for (int k = 0; k < NMEASURES; k++) {
                        enum measure m = (enum measure) ((k + r) % NMEASURES);
                        if ((m == M_UMOCI && !b.have_umoci) || (m == M_TREE && !bundlefs))
                                continue;
                        samples[m][r] = measure(&b, m);
                }
                fprintf(log, "  round %d/%d done\n", r + 1, rounds);
                fflush(log);
        }
        double med[NMEASURES];
        for (int m = 0; m < NMEASURES; m++)
                med[m] = (m == M_UMOCI && !b.have_umoci) || (m == M_TREE && !bundlefs) ?
                                 -1 : bench_median(samples[m], (size_t) n);

        double floor_nosync = med[M_TAR] + med[M_DIGEST], floor_sync = med[M_TAR_SYNC] + med[M_DIGEST];
        if (tsv) {
                printf("unpack, no syncfs\t%.6f\ttar -x + digest check\t%.6f\n", med[M_UNPACK_NOSYNC], floor_nosync);
                printf("unpack (durable)\t%.6f\ttar -x + syncfs + digest check\t%.6f\n", med[M_UNPACK], floor_sync);
                if (b.have_umoci)
                        printf("umoci unpack\t%.6f\ttar -x + digest check\t%.6f\n", med[M_UMOCI], floor_nosync);
                if (bundlefs)
                        printf("echo REF > rootfs.image\t%.6f\tunpack (durable)\t%.6f\n", med[M_TREE], med[M_UNPACK]);
                printf("info\t%.1f MiB tar, %.1f MiB gzip, %ld entries\t-\t0\n", (double) tar_total / MIB,
                       (double) blob_total / MIB, files);
        } else {
                printf("\n%-28s %10s\n", "measure (median)", "seconds");
                for (int m = 0; m < NMEASURES; m++)
                        if (med[m] >= 0)
                                printf("%-28s %10.3f\n", measure_names[m], med[m]);
                printf("\nunpack, no syncfs / (tar -x + digest check):            %.2fx (target <= 1.2x)\n",
                       med[M_UNPACK_NOSYNC] / floor_nosync);
                printf("unpack (durable) / (tar -x + syncfs + digest check):    %.2fx (target <= 1.2x)\n",
                       med[M_UNPACK] / floor_sync);
                if (b.have_umoci)
                        printf("umoci unpack / (tar -x + digest check):                 %.2fx\n",
                               med[M_UMOCI] / floor_nosync);
                if (bundlefs)
                        printf("rootfs.image (the tree) / unpack (durable):             %.2fx (target <= 1.2x)\n",
                               med[M_TREE] / med[M_UNPACK]);
        }
        if (bundlefs) {
                bench_at_die(NULL, NULL);
                tree_stop(&b);
        }
        fprintf(log, "removing %s ...\n", b.work);
        bench_remove_tree(b.work);
        free(b.layout), free(b.ref), free(tmpl);
        return 0;
}
