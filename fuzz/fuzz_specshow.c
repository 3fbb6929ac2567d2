/* libFuzzer target: specs built through the JSON paths, then every control
 * file's read and config.json of the result.
 *
 * The first byte picks the path (modulo 4), the rest is JSON text:
 *
 *   0  WithSpecFromBytes JSON      a whole spec
 *   1  WithMounts JSON             after the default spec
 *   2  WithLinuxDevices JSON       after the default spec
 *   3  WithSpecFromFile PATH       the JSON as a spec file (written outside
 *                                  the sandbox into a private directory)
 *
 * The line is made with optline_build (the JSON is one argument, nothing is
 * tokenized). When it is accepted and the list renders (linux/amd64), every
 * control file's ctl_show succeeds (or fails with EINVAL or ENOMEM and a
 * message) and prints NUL-free lines ending in a newline, whatever values the
 * model holds (a JSON null inside an array of strings, say), and spec_encode
 * gives one JSON object followed by a newline.
 *
 * FUZZ_VERBOSE=1 prints what each input becomes. */
#define FUZZ_TARGET "fuzz_specshow"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "ctl.h"
#include "optline.h"
#include "render.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096];
static char spec_file[4096 + 16];
static int verbose;

static void remove_dir(void)
{
        unlink(spec_file);
        rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void) argc;
        (void) argv;
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/fuzz-specshow-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
                perror("fuzz_specshow: mkdtemp");
                exit(1);
        }
        snprintf(spec_file, sizeof(spec_file), "%s/config.json", dir);
        atexit(remove_dir);
        verbose = getenv("FUZZ_VERBOSE") != NULL;
        return 0;
}

/* The spec file's content, written before the sandbox is entered. */
static void write_spec_file(const char *json, size_t n)
{
        int fd = open(spec_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, json, n) != (ssize_t) n) {
                perror("fuzz_specshow: writing the spec file");
                abort();
        }
        close(fd);
}

static void show_all(const struct spec *spec, struct optline *const *lines, size_t n)
{
        struct ctl_view v = { .spec = spec, .lines = lines, .nlines = n };
        for (size_t i = 0; i < ctl_count(); i++) {
                const struct ctl *c = ctl_at(i);
                buf out = { 0 };
                bf_error err = { 0 };
                int r = ctl_show(c, &v, &out, &err);
                check_error(ctl_name(c), r, &err, EINVAL, ENOMEM, 0);
                if (r == 0 && out.len && (out.p[out.len - 1] != '\n' || strlen(out.p) != out.len))
                        FAIL("%s: show prints something other than NUL-free lines: \"%s\"", ctl_name(c), out.p);
                if (verbose && r == 0) {
                        fuzz_sandbox_leave();
                        fprintf(stderr, "  %s: %s", ctl_name(c), out.p ? out.p : "\n");
                        fuzz_sandbox_enter();
                }
                buf_free(&out);
        }
        buf json = { 0 };
        spec_encode(spec, &json);
        if (!json.oom)
                check_config_json("spec_encode", &json);
        buf_free(&json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const options[] = { "WithSpecFromBytes", "WithMounts", "WithLinuxDevices",
                                               "WithSpecFromFile" };
        if (size == 0)
                return 0;
        unsigned mode = data[0] % 4;
        /* an argument is a C string */
        char *json = malloc(size);
        if (!json)
                return 0;
        memcpy(json, data + 1, size - 1);
        json[size - 1] = '\0';
        if (memchr(data + 1, '\0', size - 1)) {
                free(json);
                return 0;
        }
        if (mode == 3)
                write_spec_file(json, size - 1);
        const char *arg = mode == 3 ? spec_file : json;

        fuzz_sandbox_enter();
        struct optline *line = NULL;
        bf_error err = { 0 };
        int r = optline_build(options[mode], &arg, 1, &line, &err);
        check_error("optline_build", r, &err, EINVAL, EFBIG, ENOMEM, 0);
        if (r == 0) {
                struct render_input in = {
                        .platform = "linux/amd64",
                        .namespace_ = "default",
                        .id = "web",
                        .lines = &line,
                        .nlines = 1,
                };
                arena a;
                arena_init(&a, RENDER_ARENA_LIMIT);
                struct spec spec;
                r = spec_build(&a, &in, &spec, NULL, &err);
                check_error("spec_build", r, &err, EINVAL, ENOENT, ENODEV, EFBIG, ENOMEM, 0);
                if (verbose) {
                        fuzz_sandbox_leave();
                        fprintf(stderr, "%s: %s\n", text_of(line), r < 0 ? err.msg : "renders");
                        fuzz_sandbox_enter();
                }
                if (r == 0)
                        show_all(&spec, &line, 1);
                arena_done(&a);
        } else if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "%s: %s\n", options[mode], err.msg);
                fuzz_sandbox_enter();
        }
        fuzz_sandbox_leave();
        optline_unref(line);
        free(json);
        return 0;
}
