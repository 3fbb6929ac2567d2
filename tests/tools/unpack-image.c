/* unpack-image [options] REF ROOTFS: resolve an OCI image layout reference
 * (oci.h) for a platform and unpack its layers into the directory ROOTFS
 * (unpack.h), so the tests can exercise the unpacker without a mounted tree.
 * On failure it prints "unpack-image: ERRNO: message" (ERRNO by name) and
 * exits 1; on success it prints the manifest's digest, then the progress
 * counters: "layers L entries E bytes B". --cancel-at-bytes N cancels the
 * unpack from another thread once the progress shows N tar bytes read. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "oci.h"
#include "platform.h"
#include "unpack.h"

static void usage(FILE *f)
{
        fputs("Usage: unpack-image [--platform P] [--no-sync] [--max-layers N] [--max-bytes N] [--max-entries N]\n"
              "                    [--cancel-at-bytes N] REF ROOTFS\n",
              f);
}

static int failed(const bf_error *err)
{
        const char *name = strerrorname_np(err->code);
        fprintf(stderr, "unpack-image: %s: %s\n", name ? name : "?", err->msg);
        return 1;
}

struct canceller {
        struct unpack_progress *progress;
        atomic_bool *cancel;
        atomic_bool *finished;
        uint64_t at_bytes;
};

static void *cancel_thread(void *p)
{
        struct canceller *c = p;
        while (!atomic_load(c->finished)) {
                if (atomic_load(&c->progress->bytes) >= c->at_bytes) {
                        atomic_store(c->cancel, true);
                        break;
                }
                usleep(200);
        }
        return NULL;
}

static bool number(const char *s, uint64_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        *ret = v;
        return !errno && end != s && !*end;
}

int main(int argc, char **argv)
{
        static const struct option long_opts[] = {
                { "platform", required_argument, NULL, 'p' },
                { "no-sync", no_argument, NULL, 's' },
                { "max-layers", required_argument, NULL, 'L' },
                { "max-bytes", required_argument, NULL, 'B' },
                { "max-entries", required_argument, NULL, 'E' },
                { "cancel-at-bytes", required_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        const char *platform = platform_host();
        struct unpack_limits limits = { UNPACK_LAYERS_MAX, UNPACK_BYTES_MAX, UNPACK_ENTRIES_MAX };
        struct unpack_progress progress = { 0 };
        atomic_bool cancel = false, finished = false;
        struct unpack_options opt = { .limits = &limits, .progress = &progress, .cancel = &cancel };
        uint64_t cancel_at = 0;
        bool cancelling = false;
        int c;
        while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
                bool ok = true;
                switch (c) {
                case 'p': platform = optarg; break;
                case 's': opt.flags |= UNPACK_NO_SYNC; break;
                case 'L': ok = number(optarg, &limits.layers); break;
                case 'B': ok = number(optarg, &limits.bytes); break;
                case 'E': ok = number(optarg, &limits.entries); break;
                case 'C': ok = number(optarg, &cancel_at), cancelling = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
                if (!ok) {
                        fprintf(stderr, "unpack-image: invalid number \"%s\"\n", optarg);
                        return 2;
                }
        }
        if (argc - optind != 2) {
                usage(stderr);
                return 2;
        }
        bf_error err = { 0 };
        struct platform p;
        if (platform_parse(platform, &p, &err) < 0)
                return failed(&err);
        int rootfd = open(argv[optind + 1], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                fprintf(stderr, "unpack-image: %s: %s\n", argv[optind + 1], strerror(errno));
                return 1;
        }
        arena a;
        arena_init(&a, 0);
        struct oci_image *img;
        int status = 0;
        if (oci_image_open(&a, argv[optind], &p, NULL, &img, &err) < 0) {
                status = failed(&err);
        } else {
                struct canceller cl = { &progress, &cancel, &finished, cancel_at };
                pthread_t t;
                if (cancelling && pthread_create(&t, NULL, cancel_thread, &cl) != 0)
                        cancelling = false;
                int r = unpack_image(img, rootfd, &opt, &err);
                atomic_store(&finished, true);
                if (cancelling)
                        pthread_join(t, NULL);
                if (r < 0)
                        status = failed(&err);
                else
                        printf("%s\nlayers %llu entries %llu bytes %llu\n", oci_image_manifest_digest(img),
                               (unsigned long long) atomic_load(&progress.layers),
                               (unsigned long long) atomic_load(&progress.entries),
                               (unsigned long long) atomic_load(&progress.bytes));
                oci_image_close(img);
        }
        arena_done(&a);
        close(rootfd);
        return status;
}
