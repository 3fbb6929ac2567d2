/* render_bench: how many config.json renderings per second one thread does.
 *
 * Each case is an option file (parsed once with optline_parse) rendered again
 * and again with spec_render (namespace "default", id "web", platform
 * linux/amd64, no bundle rootfs), as bundlefs renders config.json on a read.
 * The same run measures a floor: copying the same number of output bytes into
 * a fresh buf and freeing it, the cost no renderer can avoid. See README.md. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_common.h"
#include "buf.h"
#include "error.h"
#include "files.h"
#include "optline.h"
#include "render.h"

#ifndef BENCH_SOURCE_ROOT
#define BENCH_SOURCE_ROOT "."
#endif

/* containerd v1.7.7's own rates (oci.GenerateSpec + json.Marshal, one
 * process, 2-core VM), from /work/shared/bench/README.md ("Render reference
 * figures", measured 2026-11-27). The goal is at least 3x these. */
#define CONTAINERD_DEFAULT_SPECS_PER_S 105700.0 /* default spec, no options: 9.5 us, 2,114 bytes */
#define CONTAINERD_DEFAULT_BYTES 2114
#define CONTAINERD_LIST12_SPECS_PER_S 83700.0 /* list12.opts: 11.9 us, 2,002 bytes */
#define CONTAINERD_LIST12_BYTES 2002
#define GOAL_FACTOR 3.0

#define MAX_ROUNDS 64

struct bench_case {
        const char *label;
        const char *path;               /* NULL: the default spec (no lines) */
        struct optline **lines;
        size_t nlines;
        double ref_rate;                /* containerd's specs/s, 0 when unknown */
        size_t ref_bytes;
        size_t out_bytes;
};

struct options {
        double seconds;                 /* timed wall time per case and measure */
        double warmup;                  /* untimed wall time before each measure */
        int rounds;                     /* the timed time is split in rounds; the median is reported */
        long long iterations;           /* > 0: fixed count, no timing (for callgrind) */
        bool no_floor;
        bool tsv;                       /* one tab-separated line per case, nothing else */
        const char *platform;
        const char *namespace_;
        const char *id;
};

static double cpu_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Keep the compiler from dropping work whose result is unused. */
static inline void escape(const void *p)
{
        __asm__ volatile("" : : "g"(p) : "memory");
}

static const char *base_name(const char *path)
{
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

static int load_lines(struct bench_case *c)
{
        c->lines = NULL;
        c->nlines = 0;
        if (!c->path)
                return 0;
        char *text = NULL;
        size_t len = 0;
        bf_error err = { 0 };
        if (file_read_all(c->path, FILE_READ_MAX, &text, &len, &err) < 0 ||
            optline_parse_text(text, len, &c->lines, &c->nlines, &err) < 0) {
                fprintf(stderr, "render_bench: %s: %s\n", c->path, err.msg);
                free(text);
                return -1;
        }
        free(text);
        return 0;
}

static void free_lines(struct bench_case *c)
{
        for (size_t i = 0; i < c->nlines; i++)
                optline_unref(c->lines[i]);
        free(c->lines);
        c->lines = NULL;
        c->nlines = 0;
}

static struct render_input input_for(const struct options *o, const struct bench_case *c)
{
        return (struct render_input){
                .platform = o->platform,
                .namespace_ = o->namespace_,
                .id = o->id,
                .bundle_rootfs = NULL,
                .lines = c->lines,
                .nlines = c->nlines,
        };
}

/* One rendering, exactly as a reader of config.json gets it. */
static inline int render_once(const struct render_input *in, size_t *ret_len)
{
        buf out = { 0 };
        bf_error err = { 0 };
        int r = spec_render(in, &out, &err);
        escape(out.p);
        *ret_len = out.len;
        buf_free(&out);
        return r;
}

/* The floor: the output bytes copied into a fresh buf, then freed. */
static inline void floor_once(const char *src, size_t n)
{
        if (n > ((size_t) 1 << 30))     /* bounds n for GCC's -Wstringop-overflow at -O3 */
                abort();
        buf out = { 0 };
        buf_put(&out, src, n);
        escape(out.p);
        buf_free(&out);
}

struct measure {
        double rate;            /* median over rounds, operations per second */
        double rate_min, rate_max;
        double cpu_ratio;       /* thread CPU time / wall time (1.0 = never descheduled) */
        long long ops;
};

enum what { RENDER, FLOOR };

/* Run for `seconds` of wall time, checking the clock every `batch` calls. */
static long long run_for(enum what w, const struct render_input *in, const char *src, size_t n, double seconds,
                         double *ret_elapsed)
{
        const int batch = 32;
        long long ops = 0;
        double t0 = bench_now(), t;
        do {
                for (int i = 0; i < batch; i++) {
                        if (w == RENDER) {
                                size_t len;
                                if (render_once(in, &len) < 0) {
                                        fprintf(stderr, "render_bench: rendering failed while timing\n");
                                        exit(1);
                                }
                        } else {
                                floor_once(src, n);
                        }
                }
                ops += batch;
                t = bench_now();
        } while (t - t0 < seconds);
        *ret_elapsed = t - t0;
        return ops;
}

static struct measure measure(const struct options *o, enum what w, const struct render_input *in, const char *src,
                              size_t n)
{
        double rates[MAX_ROUNDS];
        double elapsed, cpu = 0, wall = 0;
        struct measure m = { 0 };
        run_for(w, in, src, n, o->warmup, &elapsed);
        for (int r = 0; r < o->rounds; r++) {
                double c0 = cpu_s();
                long long ops = run_for(w, in, src, n, o->seconds / o->rounds, &elapsed);
                cpu += cpu_s() - c0;
                wall += elapsed;
                rates[r] = (double) ops / elapsed;
                m.ops += ops;
        }
        qsort(rates, (size_t) o->rounds, sizeof(rates[0]), bench_cmp_double);
        m.rate = o->rounds % 2 ? rates[o->rounds / 2] : (rates[o->rounds / 2 - 1] + rates[o->rounds / 2]) / 2;
        m.rate_min = rates[0];
        m.rate_max = rates[o->rounds - 1];
        m.cpu_ratio = wall > 0 ? cpu / wall : 0;
        return m;
}

static void print_count(double v)
{
        /* thousands separators, as in the reference README */
        char digits[32];
        snprintf(digits, sizeof(digits), "%.0f", v);
        size_t len = strlen(digits);
        char out[48];
        size_t j = 0;
        for (size_t i = 0; i < len; i++) {
                if (i && (len - i) % 3 == 0)
                        out[j++] = ',';
                out[j++] = digits[i];
        }
        out[j] = '\0';
        printf("%s", out);
}

static int bench_case(const struct options *o, struct bench_case *c)
{
        struct render_input in = input_for(o, c);

        /* One checked rendering first: it must succeed, and its bytes are the floor's source. */
        buf first = { 0 };
        bf_error err = { 0 };
        if (spec_render(&in, &first, &err) < 0) {
                fprintf(stderr, "render_bench: %s: rendering failed: %s\n", c->label, err.msg);
                buf_free(&first);
                return -1;
        }
        c->out_bytes = first.len;

        if (o->tsv && o->iterations == 0) {
                /* label, specs/s, containerd's specs/s (0: none), output bytes: for bench_table */
                struct measure m = measure(o, RENDER, &in, NULL, 0);
                printf("%s\t%.0f\t%.0f\t%zu\n", c->label, m.rate, c->ref_rate, c->out_bytes);
                buf_free(&first);
                return 0;
        }

        char *shown = c->path ? realpath(c->path, NULL) : NULL;
        printf("%s (%s, %zu option line%s)\n", c->label, shown ? shown : c->path ? c->path : "no options",
               c->nlines, c->nlines == 1 ? "" : "s");
        free(shown);
        printf("  output            %zu bytes", c->out_bytes);
        /* The reference counts json.Marshal's bytes; config.json adds a newline. */
        if (c->ref_bytes && c->ref_bytes + 1 == c->out_bytes)
                printf(" (containerd's json.Marshal: %zu, plus the newline)", c->ref_bytes);
        else if (c->ref_bytes)
                printf(" (MISMATCH: containerd's json.Marshal gives %zu bytes, plus a newline)", c->ref_bytes);
        printf("\n");

        if (o->iterations > 0) {
                double t0 = bench_now();
                for (long long i = 0; i < o->iterations; i++) {
                        size_t len;
                        if (render_once(&in, &len) < 0) {
                                fprintf(stderr, "render_bench: rendering failed\n");
                                buf_free(&first);
                                return -1;
                        }
                }
                double t = bench_now() - t0;
                printf("  render            %lld iterations in %.3f s (%.2f us/spec; untimed mode, for callgrind)\n",
                       o->iterations, t, t * 1e6 / (double) o->iterations);
                buf_free(&first);
                return 0;
        }

        struct measure mr = measure(o, RENDER, &in, NULL, 0);
        printf("  render            ");
        print_count(mr.rate);
        printf(" specs/s   %7.3f us/spec   (rounds %.0f..%.0f/s, %lld specs, cpu/wall %.2f)\n", 1e6 / mr.rate,
               mr.rate_min, mr.rate_max, mr.ops, mr.cpu_ratio);
        if (!o->no_floor) {
                struct measure mf = measure(o, FLOOR, NULL, first.p, first.len);
                printf("  floor (copy+free) ");
                print_count(mf.rate);
                printf(" ops/s     %7.3f us/op     (render costs %.1fx the floor)\n", 1e6 / mf.rate,
                       mf.rate / mr.rate);
        }
        if (c->ref_rate > 0) {
                double x = mr.rate / c->ref_rate;
                printf("  vs containerd     %.2fx of ", x);
                print_count(c->ref_rate);
                printf(" specs/s (%.1f us)   goal %.0fx = ", 1e6 / c->ref_rate, GOAL_FACTOR);
                print_count(c->ref_rate * GOAL_FACTOR);
                printf(" specs/s: %s\n", x >= GOAL_FACTOR ? "MET" : "NOT MET");
        } else {
                printf("  vs containerd     no reference figure for this file\n");
        }
        buf_free(&first);
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: render_bench [OPTIONS] [OPTS-FILE...]\n"
                "Render config.json repeatedly on one thread and print specs/s.\n"
                "With no OPTS-FILE: the default spec (no options) and list12.opts.\n"
                "\n"
                "  -d, --default          bench the default spec (no option lines); alone, only that\n"
                "  -t, --seconds S        timed wall time per measure (default 2)\n"
                "  -w, --warmup S         untimed warm-up before each measure (default 0.3)\n"
                "  -r, --rounds N         split the timed time in N rounds, report the median (default 5)\n"
                "  -n, --iterations N     render N times per case, no timing or floor (for callgrind;\n"
                "                         --callgrind N is the same)\n"
                "      --no-floor         skip the memcpy+free floor measure\n"
                "      --tsv              print only one line per case: label, specs/s, containerd's\n"
                "                         specs/s (0 when none), output bytes, tab-separated\n"
                "  -p, --platform P       platform (default linux/amd64)\n"
                "  -h, --help\n");
}

int main(int argc, char **argv)
{
        struct options o = {
                .seconds = 2.0,
                .warmup = 0.3,
                .rounds = 5,
                .platform = "linux/amd64",
                .namespace_ = "default",
                .id = "web",
        };
        bool want_default = false;
        enum { OPT_NO_FLOOR = 0x100, OPT_TSV };
        static const struct option longopts[] = {
                { "default", no_argument, NULL, 'd' },
                { "seconds", required_argument, NULL, 't' },
                { "warmup", required_argument, NULL, 'w' },
                { "rounds", required_argument, NULL, 'r' },
                { "iterations", required_argument, NULL, 'n' },
                { "callgrind", required_argument, NULL, 'n' },
                { "no-floor", no_argument, NULL, OPT_NO_FLOOR },
                { "tsv", no_argument, NULL, OPT_TSV },
                { "platform", required_argument, NULL, 'p' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int ch;
        while ((ch = getopt_long(argc, argv, "dt:w:r:n:p:h", longopts, NULL)) >= 0) {
                char *end = NULL;
                switch (ch) {
                case 'd': want_default = true; break;
                case 't': o.seconds = strtod(optarg, &end); break;
                case 'w': o.warmup = strtod(optarg, &end); break;
                case 'r': o.rounds = (int) strtol(optarg, &end, 10); break;
                case 'n': o.iterations = strtoll(optarg, &end, 10); break;
                case OPT_NO_FLOOR: o.no_floor = true; break;
                case OPT_TSV: o.tsv = true; break;
                case 'p': o.platform = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
                if (end && (*end || end == optarg)) {
                        fprintf(stderr, "render_bench: invalid number \"%s\"\n", optarg);
                        return 2;
                }
        }
        if (o.seconds <= 0 || o.warmup < 0 || o.rounds < 1 || o.rounds > MAX_ROUNDS || o.iterations < 0) {
                fprintf(stderr, "render_bench: --seconds > 0, --warmup >= 0, 1 <= --rounds <= %d, --iterations >= 0\n",
                        MAX_ROUNDS);
                return 2;
        }

        size_t ncases = 0;
        struct bench_case *cases = calloc((size_t) argc + 2, sizeof(*cases));
        if (!cases)
                return 1;
        /* No arguments: both reference cases. --default alone: just the default spec. */
        bool no_files = optind == argc;
        if (no_files || want_default)
                cases[ncases++] = (struct bench_case){ .label = "default spec", .path = NULL };
        if (no_files && !want_default) {
                const char *l12 = bench_find_list12();
                if (!l12) {
                        fprintf(stderr, "render_bench: list12.opts not found beside %s\n", BENCH_SOURCE_ROOT);
                        free(cases);
                        return 1;
                }
                cases[ncases++] = (struct bench_case){ .label = "list12", .path = l12 };
        }
        for (int i = optind; i < argc; i++)
                cases[ncases++] = (struct bench_case){ .label = base_name(argv[i]), .path = argv[i] };
        for (size_t i = 0; i < ncases; i++) {
                struct bench_case *c = &cases[i];
                bool default_platform = strcmp(o.platform, "linux/amd64") == 0;
                if (!c->path && default_platform) {
                        c->ref_rate = CONTAINERD_DEFAULT_SPECS_PER_S;
                        c->ref_bytes = CONTAINERD_DEFAULT_BYTES;
                } else if (c->path && default_platform && strcmp(base_name(c->path), "list12.opts") == 0) {
                        c->ref_rate = CONTAINERD_LIST12_SPECS_PER_S;
                        c->ref_bytes = CONTAINERD_LIST12_BYTES;
                }
        }

        if (o.iterations > 0)
                printf("render_bench: %lld iterations per case, platform %s, namespace %s, id %s\n", o.iterations,
                       o.platform, o.namespace_, o.id);
        else if (!o.tsv)
                printf("render_bench: %.2f s per measure in %d rounds (median), %.2f s warm-up, 1 thread, "
                       "platform %s, namespace %s, id %s\n",
                       o.seconds, o.rounds, o.warmup, o.platform, o.namespace_, o.id);

        int status = 0;
        for (size_t i = 0; i < ncases && status == 0; i++) {
                if (load_lines(&cases[i]) < 0 || bench_case(&o, &cases[i]) < 0)
                        status = 1;
                free_lines(&cases[i]);
        }
        free(cases);
        return status;
}
