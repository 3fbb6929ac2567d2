/* optline: tokenizer, argument checks and the canonical text of option lines. */
#include "check.h"

#include "buf.h"
#include "optline.h"
#include "options.h"
#include "spec.h"

#include "optline_text.h"

/* Parse a NUL-terminated line; on failure the error is in *err. */
static struct optline *parse(const char *line, bf_error *err)
{
        struct optline *l = NULL;
        *err = (bf_error){ 0 };
        int r = optline_parse(line, strlen(line), &l, err);
        if (r < 0) {
                if (err->code != -r)
                        fprintf(stderr, "    return value %d and err.code %d differ\n", r, err->code);
                return NULL;
        }
        return l;
}

#define PARSE_OK(line) parse_ok(__FILE__, __LINE__, (line))

static struct optline *parse_ok(const char *file, int line, const char *text)
{
        bf_error err;
        struct optline *l = parse(text, &err);
        if (!CHECK_AT(file, line, l != NULL))
                fprintf(stderr, "    line: %s\n    error: %s\n", text, err.msg);
        return l;
}

/* The line is refused with the given errno and, unless msg is NULL, message. */
#define PARSE_ERR(line, code, msg) parse_err_len(__FILE__, __LINE__, (line), strlen(line), (code), (msg))
#define PARSE_ERR_LEN(line, len, code, msg) parse_err_len(__FILE__, __LINE__, (line), (len), (code), (msg))

static void parse_err_len(const char *file, int line, const char *text, size_t len, int code, const char *msg)
{
        struct optline *l = NULL;
        bf_error err = { 0 };
        int r = optline_parse(text, len, &l, &err);
        if (!CHECK_INTEQ_AT(file, line, r, -code)) {
                fprintf(stderr, "    line: %.*s\n", (int) (len > 200 ? 200 : len), text);
                optline_unref(l);
                return;
        }
        CHECK_AT(file, line, l == NULL);
        CHECK_INTEQ_AT(file, line, err.code, code);
        if (msg)
                CHECK_STREQ_AT(file, line, err.msg, msg);
        else if (code == EINVAL)
                CHECK_AT(file, line, strncmp(err.msg, "invalid option line: ", 21) == 0);
}

/* The line parses, its canonical text is `want`, and the canonical text
 * parses back to itself. */
#define CANON(line, want) canon(__FILE__, __LINE__, (line), (want))

static void canon(const char *file, int line, const char *text, const char *want)
{
        struct optline *l = parse_ok(file, line, text);
        if (!l)
                return;
        CHECK_STREQ_AT(file, line, text_of(l), want);
        CHECK_UINTEQ_AT(file, line, l->text_len, strlen(text_of(l)));
        bf_error err;
        struct optline *again = parse(text_of(l), &err);
        if (CHECK_AT(file, line, again != NULL))
                CHECK_STREQ_AT(file, line, text_of(again), text_of(l));
        else
                fprintf(stderr, "    canonical text refused: %s\n", err.msg);
        optline_unref(again);
        optline_unref(l);
}

/* ---- tokens ------------------------------------------------------------- */

TEST(bare_words_are_taken_as_they_are)
{
        struct optline *l = PARSE_OK("WithHostname box");
        if (l) {
                CHECK_STREQ(l->opt->name, "WithHostname");
                CHECK_UINTEQ(l->nargs, 1);
                CHECK_STREQ(l->args[0].str, "box");
                CHECK(l->args[0].json == NULL);
                CHECK_STREQ(text_of(l), "WithHostname box");
        }
        optline_unref(l);
        CANON("WithHostname a\"b\"", "WithHostname a\"b\"");
        CANON("WithHostname a\\b", "WithHostname a\\b");
        CANON("WithHostname #x", "WithHostname #x");
        CANON("WithHostname a{b}[c]", "WithHostname a{b}[c]");
        CANON("WithHostname h\xc3\xa9llo", "WithHostname h\xc3\xa9llo");
}

TEST(spaces_and_tabs_separate_tokens_in_any_number)
{
        CANON("WithHostname\tbox", "WithHostname box");
        CANON("  WithHostname \t  box \t ", "WithHostname box");
        CANON("WithProcessArgs\t\ta\t b \tc", "WithProcessArgs a b c");
        struct optline *l = PARSE_OK("WithProcessArgs\ta  \tb");
        if (l && CHECK_UINTEQ(l->nargs, 2)) {
                CHECK_STREQ(l->args[0].str, "a");
                CHECK_STREQ(l->args[1].str, "b");
        }
        optline_unref(l);
}

TEST(other_white_space_is_part_of_a_bare_word)
{
        /* only space and tab separate; a vertical tab or NBSP is data */
        struct optline *l = PARSE_OK("WithHostname a\vb");
        if (l) {
                CHECK_STREQ(l->args[0].str, "a\vb");
                CHECK_STREQ(text_of(l), "WithHostname \"a\\u000bb\"");
        }
        optline_unref(l);
        l = PARSE_OK("WithHostname a\xc2\xa0" "b");
        if (l)
                CHECK_STREQ(l->args[0].str, "a\xc2\xa0" "b");
        optline_unref(l);
}

TEST(json_strings_are_decoded)
{
        struct optline *l = PARSE_OK("WithProcessArgs \"a b\" \"tab\\there\" \"q\\\"uote\" \"\\u00e9\" \"back\\\\slash\"");
        if (l && CHECK_UINTEQ(l->nargs, 5)) {
                CHECK_STREQ(l->args[0].str, "a b");
                CHECK_STREQ(l->args[1].str, "tab\there");
                CHECK_STREQ(l->args[2].str, "q\"uote");
                CHECK_STREQ(l->args[3].str, "\xc3\xa9");
                CHECK_STREQ(l->args[4].str, "back\\slash");
                CHECK(l->args[0].json == NULL);
        }
        optline_unref(l);
        l = PARSE_OK("WithProcessArgs \"\\ud83d\\ude00\" \"\\/\"");
        if (l && CHECK_UINTEQ(l->nargs, 2)) {
                CHECK_STREQ(l->args[0].str, "\xf0\x9f\x98\x80");
                CHECK_STREQ(l->args[1].str, "/");
        }
        optline_unref(l);
}

TEST(an_empty_json_string_is_an_empty_argument)
{
        struct optline *l = PARSE_OK("WithHostname \"\"");
        if (l) {
                CHECK_STREQ(l->args[0].str, "");
                CHECK_STREQ(text_of(l), "WithHostname \"\"");
        }
        optline_unref(l);
        l = PARSE_OK("WithProcessArgs \"\" \"\" x");
        if (l && CHECK_UINTEQ(l->nargs, 3)) {
                CHECK_STREQ(l->args[0].str, "");
                CHECK_STREQ(l->args[1].str, "");
                CHECK_STREQ(text_of(l), "WithProcessArgs \"\" \"\" x");
        }
        optline_unref(l);
}

TEST(strings_are_quoted_only_where_needed)
{
        CANON("WithHostname \"box\"", "WithHostname box");
        CANON("WithHostname \"\\u0062ox\"", "WithHostname box");
        CANON("WithHostname \"a b\"", "WithHostname \"a b\"");
        CANON("WithHostname \"a\\tb\"", "WithHostname \"a\\tb\"");
        CANON("WithHostname \"a\\nb\"", "WithHostname \"a\\nb\"");
        CANON("WithHostname \"a\\\"b\"", "WithHostname a\"b");
        CANON("WithHostname \"\\\"x\"", "WithHostname \"\\\"x\"");
        CANON("WithHostname \"{x\"", "WithHostname \"{x\"");
        CANON("WithHostname \"[x\"", "WithHostname \"[x\"");
        CANON("WithHostname \"x{\"", "WithHostname x{");
        CANON("WithHostname \"a\\\\b\"", "WithHostname a\\b");
        CANON("WithHostname \"/usr/bin\"", "WithHostname /usr/bin");
        CANON("WithHostname \"caf\\u00e9\"", "WithHostname caf\xc3\xa9");
        CANON("WithHostname \"x\\u007f\"", "WithHostname \"x\x7f\"");
        CANON("WithHostname \"#\"", "WithHostname #");
        CANON("WithHostname \"a\\rb\"", "WithHostname \"a\\rb\"");
}

TEST(put_string_quotes_what_would_not_read_back_as_one_word)
{
        static const char *const table[][2] = {
                { "x", "x" }, { "", "\"\"" }, { "a b", "\"a b\"" }, { "a\tb", "\"a\\tb\"" },
                { "\"", "\"\\\"\"" }, { "{", "\"{\"" }, { "[]", "\"[]\"" }, { "a]", "a]" },
                { "=", "=" }, { "K=V", "K=V" }, { "K=a b", "\"K=a b\"" }, { "\x01", "\"\\u0001\"" },
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                buf b = { 0 };
                buf_puts(&b, ">");
                optline_put_string(&b, table[i][0]);
                CHECK_STREQ(b.p + 1, table[i][1]);
                CHECK(b.p[0] == '>');
                buf_free(&b);
        }
}

TEST(json_values_run_to_the_matching_bracket_ignoring_brackets_in_strings)
{
        struct optline *l = PARSE_OK("WithMounts [{\"destination\":\"/a]}\",\"type\":\"bind\",\"options\":[\"x}\",\"[y\"]}]");
        if (l && CHECK_UINTEQ(l->nargs, 1)) {
                CHECK(l->args[0].str == NULL);
                CHECK_STREQ(l->args[0].json,
                            "[{\"destination\":\"/a]}\",\"type\":\"bind\",\"options\":[\"x}\",\"[y\"]}]");
                const mount_slice *m = l->args[0].value;
                if (CHECK(m != NULL) && CHECK_UINTEQ(m->len, 1)) {
                        CHECK_STREQ(m->v[0].destination, "/a]}");
                        CHECK_STREQ(m->v[0].type, "bind");
                        if (CHECK_UINTEQ(m->v[0].options.len, 2))
                                CHECK_STREQ(m->v[0].options.v[1], "[y");
                }
        }
        optline_unref(l);
        /* an escaped quote inside a string does not end it */
        CANON("WithMounts [{\"destination\":\"/a\\\"]\"}]", "WithMounts [{\"destination\":\"/a\\\"]\"}]");
}

TEST(json_values_are_reserialised_compactly)
{
        CANON("WithMounts [ { \"destination\" : \"/a b\" ,\t\"type\" : \"bind\" } ]",
              "WithMounts [{\"destination\":\"/a b\",\"type\":\"bind\"}]");
        CANON("WithMounts []", "WithMounts []");
        CANON("WithMounts [ ]", "WithMounts []");
        CANON("WithBlockIO {}", "WithBlockIO {}");
        CANON("WithBlockIO { \"weight\" : 10 }", "WithBlockIO {\"weight\":10}");
        CANON("WithMounts [{\"destination\":\"/a/b\"}]", "WithMounts [{\"destination\":\"/a/b\"}]");
        CANON("WithMounts [{\"destination\":\"\\u00e9\\n\"}]", "WithMounts [{\"destination\":\"\xc3\xa9\\n\"}]");
        CANON("WithUserNamespace [{\"containerID\":0,\"hostID\":1000,\"size\":65536}]\t[ ]",
              "WithUserNamespace [{\"containerID\":0,\"hostID\":1000,\"size\":65536}] []");
        /* unknown keys are kept in the text (they are dropped when decoded) */
        CANON("WithBlockIO {\"weight\":10, \"x-unknown\": [1, {\"a\": null}]}",
              "WithBlockIO {\"weight\":10,\"x-unknown\":[1,{\"a\":null}]}");
        CANON("WithSpecFromBytes {}", "WithSpecFromBytes {}");
}

TEST(json_arguments_are_decoded_into_their_model_type)
{
        struct optline *l = PARSE_OK("WithUserNamespace [{\"containerID\":0,\"hostID\":1000,\"size\":65536}] "
                                     "[{\"containerID\":1,\"hostID\":2,\"size\":3},{\"containerID\":4,\"hostID\":5,\"size\":6}]");
        if (l && CHECK_UINTEQ(l->nargs, 2)) {
                const idmap_slice *u = l->args[0].value, *g = l->args[1].value;
                if (CHECK_UINTEQ(u->len, 1)) {
                        CHECK_UINTEQ(u->v[0].host_id, 1000);
                        CHECK_UINTEQ(u->v[0].size, 65536);
                }
                if (CHECK_UINTEQ(g->len, 2))
                        CHECK_UINTEQ(g->v[1].size, 6);
        }
        optline_unref(l);
        l = PARSE_OK("WithBlockIO {\"weight\":10,\"leafWeight\":20}");
        if (l) {
                const struct spec_blockio *b = l->args[0].value;
                if (CHECK(b->weight != NULL))
                        CHECK_UINTEQ(*b->weight, 10);
                if (CHECK(b->leaf_weight != NULL))
                        CHECK_UINTEQ(*b->leaf_weight, 20);
        }
        optline_unref(l);
}

TEST(a_token_glued_to_the_next_is_malformed)
{
        PARSE_ERR("WithHostname \"a\"b", EINVAL,
                  "invalid option line: expected a space or tab after the token ending at byte 16");
        PARSE_ERR("WithHostname \"a\"\"b\"", EINVAL, NULL);
        PARSE_ERR("WithMounts []x", EINVAL,
                  "invalid option line: expected a space or tab after the token ending at byte 13");
        PARSE_ERR("WithMounts [][]", EINVAL, NULL);
        PARSE_ERR("WithUserNamespace [][]", EINVAL, NULL);
        /* a bare word may contain quotes and brackets after its first byte */
        CANON("WithHostname a\"b\"c[]{}", "WithHostname a\"b\"c[]{}");
}

TEST(unterminated_strings_and_values_are_malformed)
{
        PARSE_ERR("WithHostname \"abc", EINVAL, "invalid option line: unterminated JSON string at byte 14");
        PARSE_ERR("WithHostname \"abc\\\"", EINVAL, "invalid option line: unterminated JSON string at byte 14");
        PARSE_ERR("WithHostname \"", EINVAL, NULL);
        PARSE_ERR("WithMounts [{\"destination\":\"/a\"}", EINVAL,
                  "invalid option line: unterminated JSON value at byte 12");
        PARSE_ERR("WithMounts [{\"destination\":\"]}]", EINVAL, NULL);
        PARSE_ERR("WithMounts [", EINVAL, NULL);
        PARSE_ERR("WithBlockIO {", EINVAL, NULL);
}

TEST(json_that_does_not_parse_is_malformed)
{
        PARSE_ERR("WithMounts [1,]", EINVAL, NULL);
        PARSE_ERR("WithMounts [{\"destination\":'a'}]", EINVAL, NULL);
        PARSE_ERR("WithMounts [{destination:\"a\"}]", EINVAL, NULL);
        PARSE_ERR("WithMounts [01]", EINVAL, NULL);
        PARSE_ERR("WithMounts [}", EINVAL, NULL);
        PARSE_ERR("WithBlockIO {\"weight\":1]", EINVAL, NULL);
        PARSE_ERR("WithHostname \"a\\qb\"", EINVAL, NULL);
        /* nesting deeper than json-c's limit */
        buf b = { 0 };
        buf_puts(&b, "WithMounts ");
        for (int i = 0; i < 100; i++)
                buf_putc(&b, '[');
        for (int i = 0; i < 100; i++)
                buf_putc(&b, ']');
        PARSE_ERR(b.p, EINVAL, NULL);
        buf_free(&b);
}

TEST(json_arguments_of_the_wrong_shape_are_malformed)
{
        PARSE_ERR("WithMounts {}", EINVAL, "invalid option line: WithMounts: argument 1: expected a JSON array");
        PARSE_ERR("WithMounts x", EINVAL, "invalid option line: WithMounts: argument 1: expected a JSON array");
        PARSE_ERR("WithMounts \"[]\"", EINVAL, NULL);
        PARSE_ERR("WithBlockIO []", EINVAL, "invalid option line: WithBlockIO: argument 1: expected a JSON object");
        PARSE_ERR("WithSpecFromBytes []", EINVAL, NULL);
        PARSE_ERR("WithHostname {}", EINVAL,
                  "invalid option line: WithHostname: argument 1: expected a string, not a JSON object");
        PARSE_ERR("WithProcessArgs a []", EINVAL,
                  "invalid option line: WithProcessArgs: argument 2: expected a string, not a JSON array");
        PARSE_ERR("WithMounts [1]", EINVAL,
                  "invalid option line: WithMounts: argument 1: json: cannot unmarshal number into Go value of "
                  "type specs.Mount");
        PARSE_ERR("WithMounts [{\"destination\":5}]", EINVAL,
                  "invalid option line: WithMounts: argument 1: json: cannot unmarshal number into Go struct "
                  "field Mount.destination of type string");
        PARSE_ERR("WithUserNamespace [{\"size\":-1}] []", EINVAL,
                  "invalid option line: WithUserNamespace: argument 1: json: cannot unmarshal number -1 into Go "
                  "struct field LinuxIDMapping.size of type uint32");
        PARSE_ERR("WithBlockIO {\"weight\":1.0}", EINVAL,
                  "invalid option line: WithBlockIO: argument 1: json: cannot unmarshal number 1.0 into Go struct "
                  "field LinuxBlockIO.weight of type uint16");
        PARSE_ERR("WithSpecFromBytes {\"ociVersion\":5}", EINVAL,
                  "invalid option line: WithSpecFromBytes: decoding spec config file failed, current supported OCI "
                  "runtime-spec : v1.1.0-rc.1: json: cannot unmarshal number into Go struct field Spec.ociVersion "
                  "of type string");
}

TEST(the_option_name_must_be_a_known_bare_word)
{
        PARSE_ERR("WithFrobnicate", EINVAL, "invalid option line: unknown option \"WithFrobnicate\"");
        PARSE_ERR("withhostname box", EINVAL, "invalid option line: unknown option \"withhostname\"");
        PARSE_ERR("WithHostnam box", EINVAL, NULL);
        PARSE_ERR("WithHostnameX box", EINVAL, NULL);
        PARSE_ERR("WithMounts[] x", EINVAL, "invalid option line: unknown option \"WithMounts[]\"");
        PARSE_ERR("\"WithHostname\" box", EINVAL, NULL);
        PARSE_ERR("[] box", EINVAL, NULL);
        /* a very long unknown name is cut in the message */
        char name[1000];
        memset(name, 'W', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        bf_error err;
        CHECK(parse(name, &err) == NULL);
        CHECK(strlen(err.msg) < 300);
}

/* The option list of tests/conformance/README.md: name, fewest and most
 * arguments (-1: any number more). */
static const struct {
        const char *name;
        int min, max;
} documented[] = {
        { "WithDefaultSpec", 0, 0 }, { "WithDefaultPathEnv", 0, 0 }, { "WithTTY", 0, 0 },
        { "WithNewPrivileges", 0, 0 }, { "WithNoNewPrivileges", 0, 0 }, { "WithRootFSReadonly", 0, 0 },
        { "WithHostHostsFile", 0, 0 }, { "WithHostResolvconf", 0, 0 }, { "WithHostLocaltime", 0, 0 },
        { "WithNamespacedCgroup", 0, 0 }, { "WithAllKnownCapabilities", 0, 0 },
        { "WithAllCurrentCapabilities", 0, 0 }, { "WithWriteableSysfs", 0, 0 }, { "WithWriteableCgroupfs", 0, 0 },
        { "WithSeccompUnconfined", 0, 0 }, { "WithParentCgroupDevices", 0, 0 }, { "WithAllDevicesAllowed", 0, 0 },
        { "WithDefaultUnixDevices", 0, 0 }, { "WithPrivileged", 0, 0 }, { "WithWindowsHyperV", 0, 0 },
        { "WithoutRunMount", 0, 0 }, { "WithHostDevices", 0, 0 }, { "WithWindowsIgnoreFlushesDuringBoot", 0, 0 },
        { "WithWindowNetworksAllowUnqualifiedDNSQuery", 0, 0 },
        { "WithDefaultSpecForPlatform", 1, 1 }, { "WithSpecFromBytes", 1, 1 }, { "WithSpecFromFile", 1, 1 },
        { "WithEnvFile", 1, 1 }, { "WithProcessCwd", 1, 1 }, { "WithHostname", 1, 1 }, { "WithDomainname", 1, 1 },
        { "WithMounts", 1, 1 }, { "WithHostNamespace", 1, 1 }, { "WithImageConfig", 1, 1 },
        { "WithRootFSPath", 1, 1 }, { "WithCgroup", 1, 1 }, { "WithUser", 1, 1 }, { "WithUserID", 1, 1 },
        { "WithUsername", 1, 1 }, { "WithAdditionalGIDs", 1, 1 }, { "WithSelinuxLabel", 1, 1 },
        { "WithApparmorProfile", 1, 1 }, { "WithMemoryLimit", 1, 1 }, { "WithMemorySwap", 1, 1 },
        { "WithPidsLimit", 1, 1 }, { "WithDevShmSize", 1, 1 }, { "WithLinuxDevices", 1, 1 },
        { "WithBlockIO", 1, 1 }, { "WithCPUShares", 1, 1 }, { "WithCPUs", 1, 1 }, { "WithCPUsMems", 1, 1 },
        { "WithWindowsCPUCount", 1, 1 }, { "WithWindowsCPUShares", 1, 1 }, { "WithWindowsCPUMaximum", 1, 1 },
        { "WithWindowsNetworkNamespace", 1, 1 },
        { "WithTTYSize", 2, 2 }, { "WithUserNamespace", 2, 2 }, { "WithUIDGID", 2, 2 }, { "WithLinuxDevice", 2, 2 },
        { "WithLinuxDeviceFollowSymlinks", 2, 2 }, { "WithCPUCFS", 2, 2 }, { "WithCPURT", 2, 2 },
        { "WithWindowsDevice", 2, 2 },
        { "WithLinuxNamespace", 1, 2 },
        { "WithDevices", 3, 3 }, { "WithRdt", 3, 3 },
        { "WithEnv", 0, -1 }, { "WithProcessArgs", 0, -1 }, { "WithoutMounts", 0, -1 },
        { "WithAppendAdditionalGroups", 0, -1 }, { "WithCapabilities", 0, -1 }, { "WithAddedCapabilities", 0, -1 },
        { "WithDroppedCapabilities", 0, -1 }, { "WithAmbientCapabilities", 0, -1 }, { "WithMaskedPaths", 0, -1 },
        { "WithReadonlyPaths", 0, -1 }, { "WithAnnotations", 0, -1 },
        { "WithImageConfigArgs", 1, -1 },
};

TEST(every_documented_option_exists_with_its_argument_count)
{
        size_t n = 0;
        option_list(&n);
        CHECK_UINTEQ(n, sizeof(documented) / sizeof(documented[0]));
        for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
                const struct option *o = option_find(documented[i].name, strlen(documented[i].name));
                if (!CHECK(o != NULL)) {
                        fprintf(stderr, "    missing: %s\n", documented[i].name);
                        continue;
                }
                CHECK_STREQ(o->name, documented[i].name);
                CHECK(o->apply != NULL);
                CHECK_INTEQ(o->min_args, documented[i].min);
                CHECK_INTEQ(o->max_args, documented[i].max < 0 ? ARGS_VARIADIC : documented[i].max);
        }
}

TEST(every_option_in_the_table_is_found_by_its_name)
{
        size_t n = 0;
        const struct option *opts = option_list(&n);
        for (size_t i = 0; i < n; i++) {
                CHECK(option_find(opts[i].name, strlen(opts[i].name)) == &opts[i]);
                if (i)
                        CHECK(strcmp(opts[i - 1].name, opts[i].name) < 0);
        }
        CHECK(option_find("WithHostname", 4) == NULL);
        CHECK(option_find("WithHostnameX", 13) == NULL);
        CHECK(option_find("WithHostnameX", 12) != NULL);
}

TEST(blank_and_comment_lines_are_not_options)
{
        CHECK(optline_is_blank("", 0));
        CHECK(optline_is_blank("   ", 3));
        CHECK(optline_is_blank("\t \t", 3));
        CHECK(optline_is_blank("\r", 1));
        CHECK(optline_is_blank("# WithHostname x", 16));
        CHECK(optline_is_blank("  \t# x", 6));
        CHECK(optline_is_blank("#", 1));
        CHECK(!optline_is_blank("WithTTY", 7));
        CHECK(!optline_is_blank("  WithTTY # x", 13));
        CHECK(!optline_is_blank("x#", 2));
        /* only the given length counts */
        CHECK(optline_is_blank("   WithTTY", 3));
        PARSE_ERR("", EINVAL, "invalid option line: empty line");
        PARSE_ERR(" \t ", EINVAL, "invalid option line: empty line");
}

TEST(argument_counts_follow_the_signature)
{
        PARSE_ERR("WithHostname", EINVAL, "invalid option line: WithHostname: wrong number of arguments (0)");
        PARSE_ERR("WithHostname a b", EINVAL, "invalid option line: WithHostname: wrong number of arguments (2)");
        PARSE_ERR("WithTTY x", EINVAL, "invalid option line: WithTTY: wrong number of arguments (1)");
        PARSE_ERR("WithLinuxNamespace", EINVAL, NULL);
        PARSE_ERR("WithLinuxNamespace a b c", EINVAL, NULL);
        PARSE_ERR("WithImageConfigArgs", EINVAL, NULL);
        PARSE_ERR("WithRdt a b", EINVAL, NULL);
        PARSE_ERR("WithTTYSize 80", EINVAL, NULL);
        CANON("WithTTY", "WithTTY");
        CANON("WithLinuxNamespace pid", "WithLinuxNamespace pid");
        CANON("WithLinuxNamespace pid /proc/1/ns/pid", "WithLinuxNamespace pid /proc/1/ns/pid");
        CANON("WithImageConfigArgs /img.json", "WithImageConfigArgs /img.json");
        CANON("WithImageConfigArgs /img.json a b c d e f g h i j", "WithImageConfigArgs /img.json a b c d e f g h i j");
        CANON("WithRdt a b c", "WithRdt a b c");
        CANON("WithRdt \"\" \"\" \"\"", "WithRdt \"\" \"\" \"\"");
}

TEST(variadic_options_take_zero_or_more_arguments)
{
        struct optline *l = PARSE_OK("WithEnv");
        if (l) {
                CHECK_UINTEQ(l->nargs, 0);
                CHECK(l->args == NULL);
                CHECK_STREQ(text_of(l), "WithEnv");
        }
        optline_unref(l);
        buf b = { 0 };
        buf_puts(&b, "WithProcessArgs");
        for (int i = 0; i < 1000; i++)
                buf_printf(&b, " a%d", i);
        l = PARSE_OK(b.p);
        if (l && CHECK_UINTEQ(l->nargs, 1000))
                CHECK_STREQ(l->args[999].str, "a999");
        if (l)
                CHECK_STREQ(text_of(l), b.p);
        optline_unref(l);
        buf_free(&b);
        CANON("WithCapabilities", "WithCapabilities");
        CANON("WithEnv A=1 B \"C=x y\" =", "WithEnv A=1 B \"C=x y\" =");
}

/* ---- numbers ------------------------------------------------------------ */

#define NUM_U(line, want)                                                       \
        do {                                                                    \
                struct optline *l_ = PARSE_OK(line);                            \
                if (l_)                                                         \
                        CHECK_UINTEQ(l_->args[l_->nargs - 1].u, want);          \
                optline_unref(l_);                                              \
        } while (0)

#define NUM_I(line, want)                                                       \
        do {                                                                    \
                struct optline *l_ = PARSE_OK(line);                            \
                if (l_)                                                         \
                        CHECK_INTEQ(l_->args[l_->nargs - 1].i, want);           \
                optline_unref(l_);                                              \
        } while (0)

TEST(unsigned_numbers_fit_their_kind)
{
        NUM_U("WithWindowsCPUShares 0", 0);
        NUM_U("WithWindowsCPUShares 65535", 65535);
        NUM_U("WithWindowsCPUMaximum 10000", 10000);
        NUM_U("WithUserID 4294967295", UINT32_MAX);
        NUM_U("WithUIDGID 1 4294967295", UINT32_MAX);
        NUM_U("WithMemoryLimit 18446744073709551615", UINT64_MAX);
        NUM_U("WithCPUShares 1024", 1024);
        NUM_U("WithCPUCFS -1 100000", 100000);
        PARSE_ERR("WithWindowsCPUShares 65536", EINVAL,
                  "invalid option line: WithWindowsCPUShares: argument 1: number 65536 out of range (uint16)");
        PARSE_ERR("WithUserID 4294967296", EINVAL,
                  "invalid option line: WithUserID: argument 1: number 4294967296 out of range (uint32)");
        PARSE_ERR("WithUIDGID 4294967296 0", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit 18446744073709551616", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit 99999999999999999999999", EINVAL, NULL);
        PARSE_ERR("WithWindowsCPUCount 18446744073709551616", EINVAL, NULL);
}

TEST(minus_one_is_not_an_unsigned_number)
{
        PARSE_ERR("WithUIDGID 0 -1", EINVAL, "invalid option line: WithUIDGID: argument 2: invalid number \"-1\"");
        PARSE_ERR("WithUserID -1", EINVAL, "invalid option line: WithUserID: argument 1: invalid number \"-1\"");
        PARSE_ERR("WithMemoryLimit -1", EINVAL, NULL);
        PARSE_ERR("WithWindowsCPUShares -0", EINVAL, NULL);
        PARSE_ERR("WithCPUCFS 1 -1", EINVAL, NULL);
}

TEST(signed_numbers_fit_int64)
{
        NUM_I("WithMemorySwap 0", 0);
        NUM_I("WithMemorySwap -1", -1);
        NUM_I("WithMemorySwap -0", 0);
        NUM_I("WithMemorySwap 9223372036854775807", INT64_MAX);
        NUM_I("WithMemorySwap -9223372036854775808", INT64_MIN);
        NUM_I("WithPidsLimit 100", 100);
        NUM_I("WithDevShmSize -5", -5);
        NUM_I("WithTTYSize 80 -1", -1);
        NUM_I("WithCPURT -9223372036854775808 1", 1);
        PARSE_ERR("WithMemorySwap 9223372036854775808", EINVAL,
                  "invalid option line: WithMemorySwap: argument 1: number 9223372036854775808 out of range (int64)");
        PARSE_ERR("WithMemorySwap -9223372036854775809", EINVAL,
                  "invalid option line: WithMemorySwap: argument 1: number -9223372036854775809 out of range (int64)");
        PARSE_ERR("WithMemorySwap 99999999999999999999999", EINVAL, NULL);
        PARSE_ERR("WithMemorySwap -", EINVAL, "invalid option line: WithMemorySwap: argument 1: invalid number \"-\"");
        PARSE_ERR("WithMemorySwap --1", EINVAL, NULL);
        PARSE_ERR("WithTTYSize 80x24 1", EINVAL, NULL);
}

TEST(numbers_are_plain_decimal_digits)
{
        PARSE_ERR("WithMemoryLimit 512M", EINVAL,
                  "invalid option line: WithMemoryLimit: argument 1: invalid number \"512M\"");
        PARSE_ERR("WithMemoryLimit +5", EINVAL, "invalid option line: WithMemoryLimit: argument 1: invalid number \"+5\"");
        PARSE_ERR("WithMemorySwap +5", EINVAL, "invalid option line: WithMemorySwap: argument 1: invalid number \"+5\"");
        PARSE_ERR("WithMemoryLimit 0x10", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit 1e3", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit 1.0", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit 1_000", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit \"\"", EINVAL, "invalid option line: WithMemoryLimit: argument 1: invalid number \"\"");
        PARSE_ERR("WithMemoryLimit \" 5\"", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit \"5 \"", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit [5]", EINVAL, NULL);
        PARSE_ERR("WithMemoryLimit \xd9\xa3", EINVAL, NULL);
}

TEST(leading_zeros_and_quoted_numbers_are_decimal)
{
        NUM_U("WithUserID 007", 7);
        NUM_U("WithUserID 0000000000000000000000000001", 1);
        NUM_U("WithUserID \"42\"", 42);
        NUM_I("WithMemorySwap -007", -7);
        NUM_I("WithMemorySwap \"-3\"", -3);
        /* the canonical text is stable */
        CANON("WithUserID \"42\"", "WithUserID 42");
        CANON("WithUserID 007", "WithUserID 007");
}

/* ---- strings with a meaning --------------------------------------------- */

TEST(host_paths_must_be_absolute)
{
        PARSE_ERR("WithEnvFile env.txt", EINVAL,
                  "invalid option line: WithEnvFile: argument 1: host path \"env.txt\" is not absolute");
        PARSE_ERR("WithSpecFromFile ./spec.json", EINVAL, NULL);
        PARSE_ERR("WithImageConfig ../img.json", EINVAL, NULL);
        PARSE_ERR("WithImageConfigArgs img.json a", EINVAL, NULL);
        PARSE_ERR("WithLinuxDevice dev/null rwm", EINVAL, NULL);
        PARSE_ERR("WithLinuxDeviceFollowSymlinks ~/dev rwm", EINVAL, NULL);
        PARSE_ERR("WithDevices dev \"\" rwm", EINVAL, NULL);
        PARSE_ERR("WithEnvFile \"\"", EINVAL, NULL);
        CANON("WithEnvFile /etc/env", "WithEnvFile /etc/env");
        CANON("WithEnvFile \"/a b/env\"", "WithEnvFile \"/a b/env\"");
        /* only host paths are checked: other arguments may be relative */
        CANON("WithImageConfigArgs /img.json rel ./x", "WithImageConfigArgs /img.json rel ./x");
        CANON("WithDevices /dev/null \"\" rwm", "WithDevices /dev/null \"\" rwm");
        CANON("WithDevices /dev/null dev/x rwm", "WithDevices /dev/null dev/x rwm");
        CANON("WithRootFSPath rootfs", "WithRootFSPath rootfs");
        CANON("WithProcessCwd rel", "WithProcessCwd rel");
}

/* Does the line name host paths rendering reads (checked before a line from
 * a caller other than the mount's owner is kept)? */
static bool uses_host_paths(const char *text)
{
        bf_error err;
        struct optline *l = parse(text, &err);
        if (!CHECK(l != NULL)) {
                fprintf(stderr, "    line: %s\n    error: %s\n", text, err.msg);
                return false;
        }
        bool uses = optline_uses_host_paths(l);
        optline_unref(l);
        return uses;
}

TEST(every_option_with_a_host_path_argument_reads_host_files)
{
        size_t n = 0;
        const struct option *opts = option_list(&n);
        size_t flagged = 0;
        for (size_t i = 0; i < n; i++) {
                bool host_arg = false;
                for (size_t a = 0; a < ARGS_MAX; a++)
                        host_arg |= opts[i].args[a] == ARG_HOST_PATH || opts[i].args[a] == ARG_IMAGE_REF;
                bool reads = opts[i].flags & OPTION_READS_HOST_FILES;
                if (!CHECK(host_arg == reads))
                        fprintf(stderr, "    %s: host path argument %d, reads host files %d\n", opts[i].name,
                                host_arg, reads);
                flagged += reads;
        }
        /* WithDevices, WithEnvFile, WithImageConfig[Args], WithLinuxDevice[FollowSymlinks], WithSpecFromFile */
        CHECK_UINTEQ(flagged, 7);
}

TEST(lines_naming_host_paths_are_told_apart)
{
        CHECK(uses_host_paths("WithEnvFile /etc/environment"));
        CHECK(uses_host_paths("WithSpecFromFile /srv/spec.json"));
        CHECK(uses_host_paths("WithImageConfig /srv/image.json"));
        CHECK(uses_host_paths("WithImageConfigArgs /srv/image.json sh"));
        CHECK(uses_host_paths("WithDevices /dev/null \"\" rwm"));
        CHECK(uses_host_paths("WithLinuxDevice /dev/null rwm"));
        CHECK(uses_host_paths("WithLinuxDeviceFollowSymlinks /dev/null rwm"));
        /* an absolute root is a host directory that look-ups read */
        CHECK(uses_host_paths("WithRootFSPath /"));
        CHECK(uses_host_paths("WithRootFSPath /srv/root"));
        CHECK(uses_host_paths("WithSpecFromBytes {\"root\":{\"path\":\"/srv/root\"}}"));
        /* a relative root is the container's own rootfs */
        CHECK(!uses_host_paths("WithRootFSPath rootfs"));
        CHECK(!uses_host_paths("WithRootFSPath \"\""));
        CHECK(!uses_host_paths("WithSpecFromBytes {\"root\":{\"path\":\"rootfs\"}}"));
        CHECK(!uses_host_paths("WithSpecFromBytes {\"ociVersion\":\"1.1.0\"}"));
        CHECK(!uses_host_paths("WithSpecFromBytes {\"root\":null}"));
        /* paths that end up in the spec but are not read */
        CHECK(!uses_host_paths("WithLinuxNamespace network /proc/1/ns/net"));
        CHECK(!uses_host_paths("WithMounts [{\"destination\":\"/x\",\"source\":\"/etc\",\"type\":\"bind\"}]"));
        CHECK(!uses_host_paths("WithHostResolvconf"));
        CHECK(!uses_host_paths("WithHostDevices"));
        CHECK(!uses_host_paths("WithUser alice"));
        CHECK(!uses_host_paths("WithHostname box"));
}

TEST(options_that_replace_the_spec_or_apply_an_image_are_flagged)
{
        static const char *const replaces[] = { "WithDefaultSpec", "WithDefaultSpecForPlatform", "WithSpecFromBytes",
                                                "WithSpecFromFile" };
        static const char *const image[] = { "WithImageConfig", "WithImageConfigArgs" };
        size_t n = 0;
        const struct option *all = option_list(&n);
        size_t nreplaces = 0, nimage = 0;
        for (size_t i = 0; i < n; i++) {
                bool want_replaces = false, want_image = false;
                for (size_t j = 0; j < sizeof(replaces) / sizeof(replaces[0]); j++)
                        want_replaces = want_replaces || strcmp(all[i].name, replaces[j]) == 0;
                for (size_t j = 0; j < sizeof(image) / sizeof(image[0]); j++)
                        want_image = want_image || strcmp(all[i].name, image[j]) == 0;
                if (!CHECK(!!(all[i].flags & OPTION_REPLACES_SPEC) == want_replaces) ||
                    !CHECK(!!(all[i].flags & OPTION_APPLIES_IMAGE) == want_image))
                        fprintf(stderr, "    option %s\n", all[i].name);
                nreplaces += want_replaces;
                nimage += want_image;
        }
        CHECK_UINTEQ(nreplaces, 4);
        CHECK_UINTEQ(nimage, 2);
        struct optline *l = PARSE_OK("WithImageConfigArgs /img.json a");
        if (l) {
                CHECK(optline_has_flags(l, OPTION_APPLIES_IMAGE));
                CHECK(optline_has_flags(l, OPTION_APPLIES_IMAGE | OPTION_READS_HOST_FILES));
                CHECK(!optline_has_flags(l, OPTION_REPLACES_SPEC));
        }
        optline_unref(l);
}

TEST(device_permissions_are_a_subset_of_rwm)
{
        static const char *const good[] = { "rwm", "r", "w", "m", "mwr", "rw", "wm", "\"\"" };
        static const char *const bad[] = { "rr", "rwmr", "x", "RWM", "rwx", "r w", "\" r\"" };
        char line[64];
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                snprintf(line, sizeof(line), "WithLinuxDevice /dev/null %s", good[i]);
                struct optline *l = PARSE_OK(line);
                optline_unref(l);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(line, sizeof(line), "WithDevices /dev/null /x %s", bad[i]);
                PARSE_ERR(line, EINVAL, NULL);
        }
        PARSE_ERR("WithLinuxDevice /dev/null rwx", EINVAL,
                  "invalid option line: WithLinuxDevice: argument 2: invalid device permissions \"rwx\" (a subset of "
                  "rwm)");
}

TEST(annotations_need_key_equals_value)
{
        struct optline *l = PARSE_OK("WithAnnotations a=b c= =v \"k=v w\" x=y=z");
        if (l && CHECK_UINTEQ(l->nargs, 5))
                CHECK_STREQ(l->args[4].str, "x=y=z");
        optline_unref(l);
        PARSE_ERR("WithAnnotations a", EINVAL,
                  "invalid option line: WithAnnotations: argument 1: expected key=value, got \"a\"");
        PARSE_ERR("WithAnnotations a=1 b", EINVAL,
                  "invalid option line: WithAnnotations: argument 2: expected key=value, got \"b\"");
        PARSE_ERR("WithAnnotations \"\"", EINVAL, NULL);
        /* env entries need no '=': a bare key unsets */
        CANON("WithEnv KEY", "WithEnv KEY");
}

/* ---- bytes -------------------------------------------------------------- */

TEST(invalid_utf8_is_refused)
{
        PARSE_ERR("WithHostname \xff", EINVAL, "invalid option line: line is not valid UTF-8");
        PARSE_ERR("WithHostname \xc0\xaf", EINVAL, NULL);          /* overlong '/' */
        PARSE_ERR("WithHostname \xed\xa0\x80", EINVAL, NULL);      /* surrogate */
        PARSE_ERR("WithHostname \xe2\x82", EINVAL, NULL);          /* truncated */
        PARSE_ERR("WithHostname \xf4\x90\x80\x80", EINVAL, NULL);  /* past U+10FFFF */
        PARSE_ERR("WithHostname \"\xff\"", EINVAL, NULL);
        /* an escaped lone surrogate decodes to U+FFFD, as Go does */
        struct optline *l = PARSE_OK("WithHostname \"\\ud800\"");
        if (l)
                CHECK_STREQ(l->args[0].str, "\xef\xbf\xbd");
        optline_unref(l);
}

TEST(nul_bytes_are_refused)
{
        PARSE_ERR_LEN("WithHostname a\0b", 16, EINVAL, "invalid option line: line contains a NUL byte");
        PARSE_ERR_LEN("WithTTY\0", 8, EINVAL, NULL);
        PARSE_ERR("WithHostname \"a\\u0000b\"", EINVAL,
                  "invalid option line: WithHostname: argument 1: a string may not contain NUL");
        PARSE_ERR("WithMounts [{\"destination\":\"\\u0000\"}]", EINVAL, NULL);
}

TEST(one_carriage_return_at_the_end_is_dropped)
{
        CANON("WithHostname box\r", "WithHostname box");
        CANON("WithTTY\r", "WithTTY");
        CANON("WithHostname \"a b\"\r", "WithHostname \"a b\"");
        CANON("WithMounts []\r", "WithMounts []");
        /* a CR elsewhere is data */
        struct optline *l = PARSE_OK("WithHostname a\rb");
        if (l) {
                CHECK_STREQ(l->args[0].str, "a\rb");
                CHECK_STREQ(text_of(l), "WithHostname \"a\\rb\"");
        }
        optline_unref(l);
        PARSE_ERR("WithHostname a\nWithTTY", EINVAL, "invalid option line: one line expected");
        PARSE_ERR("WithTTY\n", EINVAL, NULL);
}

TEST(lines_over_one_mib_are_too_big)
{
        size_t max = OPTLINE_MAX;
        char *line = malloc(max + 2);
        memcpy(line, "WithHostname ", 13);
        memset(line + 13, 'a', max + 1 - 13);
        line[max + 1] = '\0';
        PARSE_ERR_LEN(line, max + 1, EFBIG, NULL);
        /* exactly the limit is fine */
        struct optline *l = NULL;
        bf_error err = { 0 };
        CHECK(optline_parse(line, max, &l, &err) == 0);
        if (l) {
                CHECK_UINTEQ(l->text_len, max);
                CHECK_UINTEQ(strlen(l->args[0].str), max - 13);
        }
        optline_unref(l);
        /* the size is checked before anything else */
        line[20] = '\0';
        PARSE_ERR_LEN(line, max + 1, EFBIG, NULL);
        free(line);
}

/* ---- canonical text ----------------------------------------------------- */

TEST(canonical_text_round_trips_for_many_lines)
{
        static const char *const lines[] = {
                "WithDefaultSpec",
                "WithDefaultSpecForPlatform linux/arm64/v8",
                "WithSpecFromBytes {\"ociVersion\":\"1.0.0\",\"process\":{\"args\":[\"sh\",\"-c\",\"echo \\\"hi\\\"\"]}}",
                "WithSpecFromFile /tmp/spec.json",
                "WithEnv A=1 \"B=two words\" C= D \"E=tab\\tx\" F=\xc3\xa9",
                "WithEnvFile /tmp/env",
                "WithProcessArgs sh -c \"echo hello; exit 0\" \"\" \"{not json\" x]",
                "WithProcessCwd \"/work dir\"",
                "WithTTYSize -1 -1",
                "WithHostname \"\"",
                "WithDomainname example.org",
                "WithMounts [{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/data\",\"options\":[\"rbind\",\"ro\"]}]",
                "WithoutMounts /run /dev/shm/ \"/a b\"",
                "WithHostNamespace network",
                "WithLinuxNamespace network /var/run/netns/x",
                "WithImageConfigArgs /img/config.json -- --flag \"with space\"",
                "WithRootFSPath /",
                "WithUserNamespace [{\"containerID\":0,\"hostID\":100000,\"size\":65536}] [{\"containerID\":0,\"hostID\":100000,\"size\":65536}]",
                "WithCgroup /sys/fs/cgroup/x",
                "WithUser 1000:1000",
                "WithUIDGID 0 0",
                "WithUsername \"with space\"",
                "WithAdditionalGIDs alice",
                "WithAppendAdditionalGroups wheel 44 \"\"",
                "WithCapabilities CAP_NET_ADMIN net_raw",
                "WithMaskedPaths",
                "WithReadonlyPaths /proc \"/a b\"",
                "WithSelinuxLabel system_u:system_r:container_t:s0",
                "WithMemoryLimit 536870912",
                "WithMemorySwap -1",
                "WithPidsLimit 0",
                "WithDevShmSize 65536",
                "WithAnnotations a=b \"c=d e\" f=",
                "WithLinuxDevices [{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,\"fileMode\":438,\"uid\":0,\"gid\":0}]",
                "WithLinuxDevice /dev/null rwm",
                "WithDevices /dev \"\" rw",
                "WithBlockIO {\"weight\":500,\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":100}]}",
                "WithCPUShares 512",
                "WithCPUs 0-3,5",
                "WithCPUsMems 0",
                "WithCPUCFS -1 100000",
                "WithCPURT 950000 1000000",
                "WithRdt clos L3:0=f \"\"",
                "WithWindowsCPUCount 2",
                "WithWindowsCPUShares 5000",
                "WithWindowsCPUMaximum 10000",
                "WithWindowsDevice class 5B45201D-F2F2-4F3B-85BB-30FF1F953599",
                "WithWindowsNetworkNamespace ns",
                "WithPrivileged",
        };
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                /* canonical lines read back as themselves */
                CANON(lines[i], lines[i]);
        }
}

TEST(canonical_text_is_a_fixed_point_after_one_pass)
{
        static const char *const lines[] = {
                "  WithEnv\t\"A=1\"   B=\"2\"\t\"C\" \r",
                "WithMounts\t[ {\"destination\" :\"/x\", \"options\":[ \"a\" , \"b\" ] } ]",
                "WithProcessArgs \"\\u0041\\u00e9\\u4e2d\" \"\\t\" \"\\\\\" \"\\/\"",
                "WithHostname\t\"\\\"quoted\\\"\"",
                "WithSpecFromBytes { \"process\" : { \"env\" : [ \"A=\\u003c\\u003e\" ] } }",
                "WithBlockIO {\"weight\": 1e0}",
        };
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                bf_error err;
                struct optline *l = parse(lines[i], &err);
                if (i == 5) {
                        /* a float for a uint16 is refused */
                        CHECK(l == NULL);
                        continue;
                }
                if (!CHECK(l != NULL)) {
                        fprintf(stderr, "    %s: %s\n", lines[i], err.msg);
                        continue;
                }
                CANON(text_of(l), text_of(l));
                CHECK(strcmp(text_of(l), lines[i]) != 0);
                optline_unref(l);
        }
}

TEST(references_keep_a_line_alive)
{
        struct optline *l = PARSE_OK("WithHostname box");
        if (!l)
                return;
        CHECK_INTEQ(l->refs.n, 1);
        CHECK(optline_ref(l) == l);
        CHECK_INTEQ(l->refs.n, 2);
        optline_unref(l);
        CHECK_INTEQ(l->refs.n, 1);
        CHECK_STREQ(text_of(l), "WithHostname box");
        optline_unref(l);
        CHECK(optline_ref(NULL) == NULL);
        optline_unref(NULL);
}

/* ---- lines built from typed arguments ------------------------------------- */

/* optline_build(name, args) succeeds with canonical text `want`, which
 * parses back to the same text. */
#define BUILD(name, want, ...) build_check(__FILE__, __LINE__, (name), (want), (const char *const[]){ __VA_ARGS__ }, \
                                           sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static struct optline *build_check(const char *file, int line, const char *name, const char *want,
                                   const char *const *args, size_t nargs)
{
        struct optline *l = NULL;
        bf_error err = { 0 };
        if (!CHECK_INTEQ_AT(file, line, optline_build(name, args, nargs, &l, &err), 0)) {
                fprintf(stderr, "    error: %s\n", err.msg);
                return NULL;
        }
        CHECK_STREQ_AT(file, line, text_of(l), want);
        CHECK_UINTEQ_AT(file, line, l->nargs, nargs);
        struct optline *again = parse(text_of(l), &err);
        if (CHECK_AT(file, line, again != NULL))
                CHECK_STREQ_AT(file, line, text_of(again), text_of(l));
        optline_unref(again);
        return l;
}

/* optline_build refuses with code and, unless NULL, message. */
#define BUILD_ERR(name, code, msg, ...) \
        build_err(__FILE__, __LINE__, (name), (code), (msg), (const char *const[]){ __VA_ARGS__ }, \
                  sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static void build_err(const char *file, int line, const char *name, int code, const char *msg,
                      const char *const *args, size_t nargs)
{
        struct optline *l = NULL;
        bf_error err = { 0 };
        CHECK_INTEQ_AT(file, line, optline_build(name, args, nargs, &l, &err), -code);
        CHECK_AT(file, line, l == NULL);
        CHECK_INTEQ_AT(file, line, err.code, code);
        if (msg)
                CHECK_STREQ_AT(file, line, err.msg, msg);
        optline_unref(l);
}

TEST(a_built_line_converts_its_arguments_as_a_parsed_one)
{
        struct optline *l = BUILD("WithMemoryLimit", "WithMemoryLimit 536870912", "536870912");
        if (l)
                CHECK_UINTEQ(l->args[0].u, 536870912);
        optline_unref(l);
        l = BUILD("WithCPUCFS", "WithCPUCFS -1 100000", "-1", "100000");
        if (l) {
                CHECK_INTEQ(l->args[0].i, -1);
                CHECK_UINTEQ(l->args[1].u, 100000);
        }
        optline_unref(l);
        l = BUILD("WithDevices", "WithDevices /dev/null \"\" rw", "/dev/null", "", "rw");
        if (l)
                CHECK_STREQ(l->args[1].str, "");
        optline_unref(l);
        /* no arguments */
        l = NULL;
        bf_error err = { 0 };
        CHECK_INTEQ(optline_build("WithPrivileged", NULL, 0, &l, &err), 0);
        if (l)
                CHECK_STREQ(text_of(l), "WithPrivileged");
        optline_unref(l);
}

TEST(a_built_line_takes_strings_as_they_are)
{
        /* never decoded or split: what would be JSON or several tokens in a line */
        struct optline *l = BUILD("WithProcessArgs", "WithProcessArgs \"echo hi\" \"\\\"q\\\"\" \"[1]\" \"{}\" a\\b",
                                  "echo hi", "\"q\"", "[1]", "{}", "a\\b");
        if (l && CHECK_UINTEQ(l->nargs, 5)) {
                CHECK_STREQ(l->args[0].str, "echo hi");
                CHECK_STREQ(l->args[1].str, "\"q\"");
                CHECK_STREQ(l->args[2].str, "[1]");
                CHECK_STREQ(l->args[3].str, "{}");
                CHECK_STREQ(l->args[4].str, "a\\b");
        }
        optline_unref(l);
        l = BUILD("WithHostname", "WithHostname \"tab\\there\\r\"", "tab\there\r");
        optline_unref(l);
        l = BUILD("WithEnv", "WithEnv A=1 \"B=x y\" C", "A=1", "B=x y", "C");
        optline_unref(l);
}

TEST(a_built_line_decodes_json_text_for_json_arguments)
{
        struct optline *l = BUILD("WithMounts", "WithMounts [{\"destination\":\"/data\",\"options\":[\"ro\"]}]",
                                  "[ {\"destination\": \"/data\",\n \"options\": [\"ro\"]} ]  ");
        if (l) {
                const mount_slice *m = l->args[0].value;
                CHECK(l->args[0].str == NULL);
                if (CHECK_UINTEQ(m->len, 1)) {
                        CHECK_STREQ(m->v[0].destination, "/data");
                        CHECK_UINTEQ(m->v[0].options.len, 1);
                }
        }
        optline_unref(l);
        l = BUILD("WithSpecFromBytes", "WithSpecFromBytes {\"ociVersion\":\"1.0.0\"}", "{\"ociVersion\": \"1.0.0\"}");
        if (l)
                CHECK_STREQ(((const struct spec *) l->args[0].value)->oci_version, "1.0.0");
        optline_unref(l);
}

TEST(a_built_line_is_checked_as_a_parsed_one)
{
        BUILD_ERR("WithPidsLimit", EINVAL,
                  "invalid option line: WithPidsLimit: argument 1: number 9223372036854775808 out of range (int64)",
                  "9223372036854775808");
        BUILD_ERR("WithMemoryLimit", EINVAL, "invalid option line: WithMemoryLimit: argument 1: invalid number \"-1\"",
                  "-1");
        BUILD_ERR("WithMemoryLimit", EINVAL, "invalid option line: WithMemoryLimit: argument 1: invalid number \" 1\"",
                  " 1");
        BUILD_ERR("WithImageConfig", EINVAL,
                  "invalid option line: WithImageConfig: argument 1: host path \"image.json\" is not absolute",
                  "image.json");
        BUILD_ERR("WithDevices", EINVAL,
                  "invalid option line: WithDevices: argument 3: invalid device permissions \"rwx\" (a subset of rwm)",
                  "/dev/null", "", "rwx");
        BUILD_ERR("WithAnnotations", EINVAL, "invalid option line: WithAnnotations: argument 1: expected key=value, "
                  "got \"novalue\"", "novalue");
        BUILD_ERR("WithHostname", EINVAL, "invalid option line: WithHostname: wrong number of arguments (2)", "a", "b");
        BUILD_ERR("WithBogus", EINVAL, "invalid option line: unknown option \"WithBogus\"", "x");
        BUILD_ERR("WithHostname", EINVAL, "invalid option line: WithHostname: argument 1: string is not valid UTF-8",
                  "\xff");
}

TEST(json_text_for_a_built_line_is_one_value_of_the_right_shape)
{
        BUILD_ERR("WithMounts", EINVAL, "invalid option line: WithMounts: argument 1: expected a JSON array", "x");
        BUILD_ERR("WithMounts", EINVAL, "invalid option line: WithMounts: argument 1: expected a JSON array", "");
        BUILD_ERR("WithMounts", EINVAL, "invalid option line: WithMounts: argument 1: expected a JSON array",
                  " []");
        BUILD_ERR("WithMounts", EINVAL, "invalid option line: WithMounts: argument 1: expected a JSON array", "{}");
        BUILD_ERR("WithSpecFromBytes", EINVAL, "invalid option line: WithSpecFromBytes: argument 1: expected a JSON "
                  "object", "[]");
        /* one value: nothing but blanks after it */
        BUILD_ERR("WithMounts", EINVAL, NULL, "[] []");
        BUILD_ERR("WithMounts", EINVAL, NULL, "[]]");
        BUILD_ERR("WithMounts", EINVAL, NULL, "[{");
        BUILD_ERR("WithMounts", EINVAL,
                  "invalid option line: WithMounts: argument 1: json: cannot unmarshal number into Go struct field "
                  "Mount.destination of type string", "[{\"destination\":5}]");
}

TEST(a_built_line_has_the_limits_of_a_parsed_one)
{
        size_t n = OPTLINE_ARGS_MAX + 1;
        const char **args = malloc(n * sizeof(*args));
        for (size_t i = 0; i < n; i++)
                args[i] = "a";
        struct optline *l = NULL;
        bf_error err = { 0 };
        CHECK_INTEQ(optline_build("WithProcessArgs", args, n, &l, &err), -EFBIG);
        CHECK_INTEQ(optline_build("WithProcessArgs", args, n - 1, &l, &err), 0);
        optline_unref(l);
        free(args);
        /* quoting can take the text past the limit its arguments are within */
        char *s = malloc(OPTLINE_MAX / 2 + 1);
        memset(s, ' ', OPTLINE_MAX / 2);
        s[OPTLINE_MAX / 2] = '\0';
        const char *two[] = { s, s };
        l = NULL;
        CHECK_INTEQ(optline_build("WithProcessArgs", two, 2, &l, &err), -EFBIG);
        CHECK(l == NULL);
        free(s);
}
