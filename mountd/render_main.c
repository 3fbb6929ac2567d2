/* bundlefs-render: option lines on stdin, config.json on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "identifiers.h"
#include "optline.h"
#include "platform.h"
#include "render.h"
#include "util.h"

static void usage(FILE *f)
{
        fputs("Usage: bundlefs-render [--namespace N] [--id ID] [--platform P] [--bundle DIR]\n"
              "Read option lines on stdin and print the config.json containerd v1.7.7 would render.\n"
              "\n"
              "  --namespace N   containerd namespace (default: default)\n"
              "  --id ID         container id (default: c1)\n"
              "  --platform P    os/arch[/variant] (default: this host's)\n"
              "  --bundle DIR    bundle whose rootfs/ serves user look-ups when root.path is relative\n"
              "  --help, --version\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option long_opts[] = {
                { "namespace", required_argument, NULL, 'n' },
                { "id", required_argument, NULL, 'i' },
                { "platform", required_argument, NULL, 'p' },
                { "bundle", required_argument, NULL, 'b' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        const char *ns = "default", *id = "c1", *platform = platform_host(), *bundle = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
                switch (c) {
                case 'n': ns = optarg; break;
                case 'i': id = optarg; break;
                case 'p': platform = optarg; break;
                case 'b': bundle = optarg; break;
                case 'h': usage(stdout); return 0;
                case 'V': printf("bundlefs-render %s\n", BUNDLEFS_VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
        /* containerd refuses a namespace that is not an identifier before it
         * looks at any option. */
        bf_error err = { 0 };
        if (namespace_required(ns, &err) < 0) {
                fprintf(stderr, "bundlefs-render: %s\n", err.msg);
                return 1;
        }

        _cleanup_free_ char *rootfs = NULL;
        if (bundle && asprintf(&rootfs, "%s/rootfs", bundle) < 0)
                return 1;

        /* All of stdin, then its lines */
        char *text = NULL;
        size_t text_len = 0;
        FILE *mem = open_memstream(&text, &text_len);
        char chunk[65536];
        size_t got;
        while (mem && (got = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                fwrite(chunk, 1, got, mem);
        if (!mem || fclose(mem) != 0 || ferror(stdin)) {
                fprintf(stderr, "bundlefs-render: reading stdin failed\n");
                free(text);
                return 1;
        }
        /* Messages number the lines of stdin, blank and comment lines counted. */
        struct optline **lines = NULL;
        _cleanup_free_ size_t *numbers = NULL;
        size_t n = 0;
        int status = 0;
        if (optline_parse_numbered(text, text_len, &lines, &numbers, &n, &err) < 0) {
                fprintf(stderr, "bundlefs-render: %s\n", err.msg);
                free(text);
                return 1;
        }
        free(text);

        struct render_input in = {
                .platform = platform,
                .namespace_ = ns,
                .id = id,
                .bundle_rootfs = rootfs,
                .lines = lines,
                .nlines = n,
                .line_numbers = numbers,
        };
        buf out = { 0 };
        if (spec_render(&in, &out, &err) < 0) {
                fprintf(stderr, "bundlefs-render: %s\n", err.msg);
                status = 1;
        } else {
                fwrite(out.p, 1, out.len, stdout);
                if (fflush(stdout) != 0)
                        status = 1;
        }
        buf_free(&out);
        optline_free_all(lines, n);
        return status;
}
