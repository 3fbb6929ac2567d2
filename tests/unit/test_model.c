/* model: decoding with Go's encoding/json rules, encoding as json.Marshal,
 * deep copies, and the slice and map helpers. */
#include "check.h"

#include <json-c/json.h>

#include "files.h"
#include "model.h"
#include "model_macros.h"
#include "spec.h"
#include "utf8.h"
#include "util.h"

/* An arena per test, and helpers that decode into it. */
struct fixture {
        arena a;
        bf_error err;
};

static void fixture_init(struct fixture *f)
{
        arena_init(&f->a, 0);
        f->err = (bf_error){ 0 };
}

/* Decode JSON text into dst (which keeps what it held before, as Go merges). */
static int decode_into(struct fixture *f, const struct type *t, void *dst, const char *json)
{
        struct json_object *j = NULL;
        f->err = (bf_error){ 0 };
        int r = json_parse_document(json, strlen(json), &j, &f->err);
        if (r < 0)
                return r;
        r = model_decode(&f->a, t, dst, j, &f->err);
        json_object_put(j);
        if (r < 0 && f->err.code != -r)
                fprintf(stderr, "    return value %d and err.code %d differ\n", r, f->err.code);
        return r;
}

/* The encoding of v, in the fixture's arena. */
static const char *encode(struct fixture *f, const struct type *t, const void *v)
{
        buf b = { 0 };
        model_encode(&b, t, v);
        const char *s = b.oom || !b.p ? NULL : arena_strndup(&f->a, b.p, b.len);
        buf_free(&b);
        return s;
}

/* Decoding `in` into a zeroed spec gives `want` when encoded again. */
#define SPEC_ROUND(in, want) spec_round(__FILE__, __LINE__, (in), (want))

static void spec_round(const char *file, int line, const char *in, const char *want)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        int r = decode_into(&f, &type_spec, &s, in);
        if (CHECK_INTEQ_AT(file, line, r, 0))
                CHECK_STREQ_AT(file, line, encode(&f, &type_spec, &s), want);
        else
                fprintf(stderr, "    %s\n", f.err.msg);
        arena_done(&f.a);
}

/* Decoding `in` into a zeroed value of type t fails with message `msg`. */
#define DECODE_ERR(t, in, msg) decode_err(__FILE__, __LINE__, (t), (in), (msg))

static void decode_err(const char *file, int line, const struct type *t, const char *in, const char *msg)
{
        struct fixture f;
        fixture_init(&f);
        void *dst = arena_alloc(&f.a, t->size);
        int r = decode_into(&f, t, dst, in);
        CHECK_INTEQ_AT(file, line, r, -EINVAL);
        if (msg)
                CHECK_STREQ_AT(file, line, f.err.msg, msg);
        arena_done(&f.a);
}

/* ---- decoding ----------------------------------------------------------- */

TEST(a_document_may_be_a_bare_literal)
{
        /* json.Unmarshal accepts any JSON value; null decodes to nothing */
        static const char *const docs[] = { "null", "5", "-1", "1.5", "true", "\"x\"", " null ", "null\n" };
        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                struct json_object *j = (struct json_object *) 1;
                bf_error err = { 0 };
                if (!CHECK(json_parse_document(docs[i], strlen(docs[i]), &j, &err) == 0))
                        fprintf(stderr, "    %s: %s\n", docs[i], err.msg);
                else
                        CHECK((j == NULL) == (strstr(docs[i], "null") != NULL));
                json_object_put(j);
        }
        static const char *const bad[] = { "", " ", "nul", "nulll", "01", "-", "[1", "{} x", "null x", "{},", "\"x" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct json_object *j = NULL;
                bf_error err = { 0 };
                CHECK(json_parse_document(bad[i], strlen(bad[i]), &j, &err) == -EINVAL);
                CHECK(j == NULL);
        }
        DECODE_ERR(&type_spec, "5", "json: cannot unmarshal number into Go value of type specs.Spec");
        DECODE_ERR(&type_spec, "true", "json: cannot unmarshal bool into Go value of type specs.Spec");
}

TEST(unknown_keys_are_dropped)
{
        SPEC_ROUND("{\"ociVersion\":\"1.0.0\",\"unknown\":{\"x\":[1,2,{\"y\":null}]},\"process\":{\"cwd\":\"/\",\"bogus\":1,"
                   "\"user\":{\"uid\":1,\"name\":\"x\"}},\"linux\":{\"frobnicate\":true}}",
                   "{\"ociVersion\":\"1.0.0\",\"process\":{\"user\":{\"uid\":1,\"gid\":0},\"cwd\":\"/\"},\"linux\":{}}");
        /* an unknown key may hold any value, of any type */
        SPEC_ROUND("{\"x\":1e999,\"y\":-99999999999999999999999,\"z\":\"\\ud800\"}", "{\"ociVersion\":\"\"}");
}

TEST(keys_match_field_names_case_insensitively)
{
        SPEC_ROUND("{\"OCIVERSION\":\"1.1\",\"Process\":{\"CWD\":\"/w\",\"User\":{\"UID\":7,\"gId\":8}},\"HOSTNAME\":\"h\"}",
                   "{\"ociVersion\":\"1.1\",\"process\":{\"user\":{\"uid\":7,\"gid\":8},\"cwd\":\"/w\"},\"hostname\":\"h\"}");
        SPEC_ROUND("{\"linux\":{\"Resources\":{\"MEMORY\":{\"kernelTcp\":1,\"KERNEL\":2}},\"CGROUPSPATH\":\"/c\"}}",
                   "{\"ociVersion\":\"\",\"linux\":{\"resources\":{\"memory\":{\"kernel\":2,\"kernelTCP\":1}},"
                   "\"cgroupsPath\":\"/c\"}}");
        /* keys that are not a case variant are unknown */
        SPEC_ROUND("{\"oci_version\":\"x\",\"ociVersion \":\"y\",\"host-name\":\"z\"}", "{\"ociVersion\":\"\"}");
}

TEST(the_kelvin_sign_and_long_s_fold_like_k_and_s)
{
        /* Go folds U+212A to k and U+017F to s when matching keys */
        SPEC_ROUND("{\"linux\":{\"resources\":{\"memory\":{\"\\u212aernel\":5,\"\\u017fwap\":6}}}}",
                   "{\"ociVersion\":\"\",\"linux\":{\"resources\":{\"memory\":{\"swap\":6,\"kernel\":5}}}}");
        SPEC_ROUND("{\"\\u017fOLARIS\":{\"milestone\":\"m\"}}", "{\"ociVersion\":\"\",\"solaris\":{\"milestone\":\"m\"}}");
        /* other look-alikes do not fold */
        SPEC_ROUND("{\"hostnam\\u00e9\":\"x\",\"\\u0130\":1}", "{\"ociVersion\":\"\"}");
}

/* A struct with two fields whose names differ only in case. */
struct twins {
        const char *upper;
        const char *lower;
        uint32_t n;
};
static const struct field twins_fields[] = {
        FIELD(struct twins, upper, "Name", type_string),
        FIELD(struct twins, lower, "name", type_string),
        FIELD_OMIT(struct twins, n, "n", type_u32),
};
static STRUCT_TYPE(type_twins, "test.Twins", struct twins, twins_fields);

TEST(an_exact_key_match_wins_over_a_case_folded_one)
{
        struct fixture f;
        fixture_init(&f);
        struct twins t = { 0 };
        CHECK(decode_into(&f, &type_twins, &t, "{\"name\":\"lower\"}") == 0);
        CHECK(t.upper == NULL);
        CHECK_STREQ(t.lower, "lower");
        t = (struct twins){ 0 };
        CHECK(decode_into(&f, &type_twins, &t, "{\"Name\":\"upper\"}") == 0);
        CHECK_STREQ(t.upper, "upper");
        CHECK(t.lower == NULL);
        /* no exact match: the first field that folds */
        t = (struct twins){ 0 };
        CHECK(decode_into(&f, &type_twins, &t, "{\"NAME\":\"folded\"}") == 0);
        CHECK_STREQ(t.upper, "folded");
        CHECK(t.lower == NULL);
        CHECK_STREQ(encode(&f, &type_twins, &t), "{\"Name\":\"folded\",\"name\":\"\"}");
        /* both present: each goes to its own field */
        t = (struct twins){ 0 };
        CHECK(decode_into(&f, &type_twins, &t, "{\"name\":\"b\",\"Name\":\"a\",\"N\":3}") == 0);
        CHECK_STREQ(encode(&f, &type_twins, &t), "{\"Name\":\"a\",\"name\":\"b\",\"n\":3}");
        arena_done(&f.a);
}

TEST(later_keys_overwrite_earlier_case_variants)
{
        SPEC_ROUND("{\"hostname\":\"a\",\"HOSTNAME\":\"b\"}", "{\"ociVersion\":\"\",\"hostname\":\"b\"}");
        SPEC_ROUND("{\"HOSTNAME\":\"b\",\"hostname\":\"a\"}", "{\"ociVersion\":\"\",\"hostname\":\"a\"}");
}

TEST(null_clears_pointers_slices_and_maps)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK(decode_into(&f, &type_spec, &s,
                          "{\"process\":{\"cwd\":\"/x\",\"args\":[\"a\"],\"capabilities\":{\"bounding\":[\"C\"]}},"
                          "\"annotations\":{\"k\":\"v\"},\"mounts\":[{\"destination\":\"/m\"}],"
                          "\"windows\":{\"layerFolders\":[\"l\"],\"credentialSpec\":{\"a\":1}},\"root\":{\"path\":\"r\"}}") == 0);
        CHECK(decode_into(&f, &type_spec, &s,
                          "{\"process\":{\"args\":null,\"capabilities\":null},\"annotations\":null,\"mounts\":null,"
                          "\"windows\":{\"layerFolders\":null,\"credentialSpec\":null},\"root\":null}") == 0);
        CHECK(s.process != NULL);
        CHECK(s.process->capabilities == NULL);
        CHECK(s.process->args.v == NULL);
        CHECK(s.annotations.v == NULL);
        CHECK(s.mounts.v == NULL);
        CHECK(s.root == NULL);
        CHECK(s.windows->layer_folders.v == NULL);
        CHECK(s.windows->credential_spec == NULL);
        CHECK_STREQ(encode(&f, &type_spec, &s),
                    "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"cwd\":\"/x\"},"
                    "\"windows\":{\"layerFolders\":null}}");
        CHECK(decode_into(&f, &type_spec, &s, "{\"process\":null,\"windows\":null}") == 0);
        CHECK(s.process == NULL);
        CHECK(s.windows == NULL);
        arena_done(&f.a);
}

TEST(null_leaves_scalars_and_structs_alone)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK(decode_into(&f, &type_spec, &s,
                          "{\"ociVersion\":\"1\",\"hostname\":\"h\",\"process\":{\"terminal\":true,\"user\":{\"uid\":5},"
                          "\"cwd\":\"/c\"},\"linux\":{\"resources\":{\"pids\":{\"limit\":9}}}}") == 0);
        CHECK(decode_into(&f, &type_spec, &s,
                          "{\"ociVersion\":null,\"hostname\":null,\"process\":{\"terminal\":null,\"user\":null,"
                          "\"cwd\":null},\"linux\":{\"resources\":{\"pids\":{\"limit\":null}}}}") == 0);
        CHECK_STREQ(encode(&f, &type_spec, &s),
                    "{\"ociVersion\":\"1\",\"process\":{\"terminal\":true,\"user\":{\"uid\":5,\"gid\":0},\"cwd\":\"/c\"},"
                    "\"hostname\":\"h\",\"linux\":{\"resources\":{\"pids\":{\"limit\":9}}}}");
        /* a top-level null changes nothing */
        CHECK(decode_into(&f, &type_spec, &s, "null") == 0);
        CHECK_STREQ(s.oci_version, "1");
        arena_done(&f.a);
}

/* json.Unmarshal of null into a string leaves its zero value "": an element
 * of a fresh slice, or a new map value, is "" and never NULL. */
TEST(null_in_a_string_slice_or_map_is_the_empty_string)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK(decode_into(&f, &type_spec, &s,
                          "{\"process\":{\"args\":[null,\"a\",null],\"env\":[null],"
                          "\"capabilities\":{\"bounding\":[null],\"ambient\":[\"C\",null]}},"
                          "\"mounts\":[{\"destination\":null,\"options\":[null]}],\"annotations\":{\"k\":null},"
                          "\"linux\":{\"namespaces\":[{\"type\":null}],\"maskedPaths\":[null]}}") == 0);
        const str_slice *lists[] = { &s.process->args, &s.process->env, &s.process->capabilities->bounding,
                                     &s.process->capabilities->ambient, &s.mounts.v[0].options,
                                     &s.linux_->masked_paths };
        for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
                for (size_t k = 0; k < lists[i]->len; k++)
                        CHECK(lists[i]->v[k] != NULL);
        CHECK_STREQ(s.process->args.v[0], "");
        CHECK_STREQ(s.process->args.v[1], "a");
        CHECK_STREQ(s.mounts.v[0].destination, "");
        CHECK_STREQ(s.linux_->namespaces.v[0].type, "");
        CHECK_STREQ(s.annotations.v[0].value, "");
        CHECK_STREQ(encode(&f, &type_spec, &s),
                    "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"\",\"a\",\"\"],"
                    "\"env\":[\"\"],\"cwd\":\"\",\"capabilities\":{\"bounding\":[\"\"],\"ambient\":[\"C\",\"\"]}},"
                    "\"mounts\":[{\"destination\":\"\",\"options\":[\"\"]}],\"annotations\":{\"k\":\"\"},"
                    "\"linux\":{\"namespaces\":[{\"type\":\"\"}],\"maskedPaths\":[\"\"]}}");
        /* null into a string that has a value leaves it */
        CHECK(decode_into(&f, &type_spec, &s, "{\"process\":{\"cwd\":\"/c\"}}") == 0);
        CHECK(decode_into(&f, &type_spec, &s, "{\"process\":{\"cwd\":null}}") == 0);
        CHECK_STREQ(s.process->cwd, "/c");
        arena_done(&f.a);
}

TEST(decoding_merges_into_existing_structs_and_maps)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK(decode_into(&f, &type_spec, &s, "{\"process\":{\"cwd\":\"/x\"},\"annotations\":{\"a\":\"1\",\"c\":\"3\"}}") == 0);
        struct spec_process *p = s.process;
        CHECK(decode_into(&f, &type_spec, &s, "{\"process\":{\"user\":{\"uid\":5}},\"annotations\":{\"b\":\"2\",\"a\":\"9\"}}") == 0);
        CHECK(s.process == p);
        CHECK_STREQ(encode(&f, &type_spec, &s),
                    "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":5,\"gid\":0},\"cwd\":\"/x\"},"
                    "\"annotations\":{\"a\":\"9\",\"b\":\"2\",\"c\":\"3\"}}");
        arena_done(&f.a);
}

TEST(layer_folders_distinguishes_absent_null_and_empty)
{
        SPEC_ROUND("{\"windows\":{}}", "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null}}");
        SPEC_ROUND("{\"windows\":{\"layerFolders\":null}}", "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null}}");
        SPEC_ROUND("{\"windows\":{\"layerFolders\":[]}}", "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":[]}}");
        SPEC_ROUND("{\"windows\":{\"layerFolders\":[\"C:\\\\l\"]}}",
                   "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":[\"C:\\\\l\"]}}");
        /* an omitempty slice is dropped whether nil or empty */
        SPEC_ROUND("{\"windows\":{\"layerFolders\":[],\"devices\":[]},\"mounts\":[]}",
                   "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":[]}}");
}

TEST(omitempty_drops_empty_values_but_not_empty_structs_or_pointers)
{
        /* capabilities with every list empty or nil is {} */
        SPEC_ROUND("{\"process\":{\"capabilities\":{\"bounding\":[],\"effective\":null}}}",
                   "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"cwd\":\"\",\"capabilities\":{}}}");
        /* pointers to zero values are kept */
        SPEC_ROUND("{\"linux\":{\"resources\":{\"memory\":{\"disableOOMKiller\":false,\"swappiness\":0,\"limit\":0}}}}",
                   "{\"ociVersion\":\"\",\"linux\":{\"resources\":{\"memory\":{\"limit\":0,\"swappiness\":0,"
                   "\"disableOOMKiller\":false}}}}");
        /* zero scalars with omitempty go, those without stay */
        SPEC_ROUND("{\"process\":{\"terminal\":false,\"noNewPrivileges\":false,\"apparmorProfile\":\"\"},"
                   "\"root\":{\"path\":\"\",\"readonly\":false},\"linux\":{\"resources\":{\"pids\":{}}}}",
                   "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"cwd\":\"\"},\"root\":{\"path\":\"\"},"
                   "\"linux\":{\"resources\":{\"pids\":{\"limit\":0}}}}");
        /* struct-valued fields are never omitted */
        SPEC_ROUND("{\"vm\":{}}",
                   "{\"ociVersion\":\"\",\"vm\":{\"hypervisor\":{\"path\":\"\"},\"kernel\":{\"path\":\"\"},"
                   "\"image\":{\"path\":\"\",\"format\":\"\"}}}");
        SPEC_ROUND("{\"hooks\":{},\"solaris\":{},\"zos\":{}}",
                   "{\"ociVersion\":\"\",\"hooks\":{},\"solaris\":{},\"zos\":{}}");
}

TEST(the_zero_spec_encodes_to_the_oci_version_alone)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK_STREQ(encode(&f, &type_spec, &s), "{\"ociVersion\":\"\"}");
        arena_done(&f.a);
}

TEST(type_errors_use_go_messages)
{
        DECODE_ERR(&type_spec, "{\"ociVersion\":5}",
                   "json: cannot unmarshal number into Go struct field Spec.ociVersion of type string");
        DECODE_ERR(&type_spec, "{\"ociVersion\":true}",
                   "json: cannot unmarshal bool into Go struct field Spec.ociVersion of type string");
        DECODE_ERR(&type_spec, "{\"ociVersion\":[]}",
                   "json: cannot unmarshal array into Go struct field Spec.ociVersion of type string");
        DECODE_ERR(&type_spec, "{\"hostname\":{}}",
                   "json: cannot unmarshal object into Go struct field Spec.hostname of type string");
        DECODE_ERR(&type_spec, "{\"process\":5}",
                   "json: cannot unmarshal number into Go struct field Spec.process of type specs.Process");
        DECODE_ERR(&type_spec, "{\"mounts\":{}}",
                   "json: cannot unmarshal object into Go struct field Spec.mounts of type []specs.Mount");
        DECODE_ERR(&type_spec, "{\"annotations\":[]}",
                   "json: cannot unmarshal array into Go struct field Spec.annotations of type map[string]string");
        DECODE_ERR(&type_spec, "{\"process\":{\"terminal\":\"yes\"}}",
                   "json: cannot unmarshal string into Go struct field Process.process.terminal of type bool");
        DECODE_ERR(&type_spec, "{\"process\":{\"args\":\"x\"}}",
                   "json: cannot unmarshal string into Go struct field Process.process.args of type []string");
        DECODE_ERR(&type_spec, "[]", "json: cannot unmarshal array into Go value of type specs.Spec");
        DECODE_ERR(&type_spec, "\"x\"", "json: cannot unmarshal string into Go value of type specs.Spec");
}

TEST(nested_type_errors_name_the_innermost_struct_and_the_key_path)
{
        DECODE_ERR(&type_spec, "{\"process\":{\"user\":{\"uid\":\"0\"}}}",
                   "json: cannot unmarshal string into Go struct field User.process.user.uid of type uint32");
        DECODE_ERR(&type_spec, "{\"process\":{\"args\":[\"a\",1]}}",
                   "json: cannot unmarshal number into Go struct field Process.process.args of type string");
        DECODE_ERR(&type_spec, "{\"mounts\":[{\"destination\":\"/a\"},{\"options\":[true]}]}",
                   "json: cannot unmarshal bool into Go struct field Mount.mounts.options of type string");
        DECODE_ERR(&type_spec, "{\"annotations\":{\"a\":5}}",
                   "json: cannot unmarshal number into Go struct field Spec.annotations of type string");
        DECODE_ERR(&type_spec, "{\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1\"}}}}",
                   "json: cannot unmarshal string into Go struct field LinuxMemory.linux.resources.memory.limit of "
                   "type int64");
        DECODE_ERR(&type_spec, "{\"linux\":{\"resources\":{\"blockIO\":{\"weightDevice\":[{\"major\":\"8\"}]}}}}",
                   "json: cannot unmarshal string into Go struct field "
                   "LinuxWeightDevice.linux.resources.blockIO.weightDevice.major of type int64");
        DECODE_ERR(&type_spec, "{\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":1.5}]}}",
                   "json: cannot unmarshal number 1.5 into Go struct field Hook.hooks.prestart.timeout of type int");
        DECODE_ERR(&type_spec, "{\"process\":{\"consoleSize\":{\"height\":-1}}}",
                   "json: cannot unmarshal number -1 into Go struct field Box.process.consoleSize.height of type uint");
        DECODE_ERR(&type_spec, "{\"linux\":{\"devices\":[{\"path\":\"/d\",\"fileMode\":-1}]}}",
                   "json: cannot unmarshal number -1 into Go struct field LinuxDevice.linux.devices.fileMode of type "
                   "fs.FileMode");
        /* the key is printed with the field's own spelling */
        DECODE_ERR(&type_spec, "{\"PROCESS\":{\"USER\":{\"UID\":true}}}",
                   "json: cannot unmarshal bool into Go struct field User.process.user.uid of type uint32");
        /* a top-level slice or struct argument has no struct around it */
        DECODE_ERR(&type_mount_slice, "[1]", "json: cannot unmarshal number into Go value of type specs.Mount");
        DECODE_ERR(&type_blockio, "{\"weight\":65536}",
                   "json: cannot unmarshal number 65536 into Go struct field LinuxBlockIO.weight of type uint16");
}

TEST(numbers_out_of_range_or_not_integers_are_refused)
{
        DECODE_ERR(&type_spec, "{\"process\":{\"user\":{\"uid\":-1}}}",
                   "json: cannot unmarshal number -1 into Go struct field User.process.user.uid of type uint32");
        DECODE_ERR(&type_spec, "{\"process\":{\"user\":{\"uid\":4294967296}}}",
                   "json: cannot unmarshal number 4294967296 into Go struct field User.process.user.uid of type uint32");
        DECODE_ERR(&type_spec, "{\"process\":{\"user\":{\"uid\":1.5}}}",
                   "json: cannot unmarshal number 1.5 into Go struct field User.process.user.uid of type uint32");
        DECODE_ERR(&type_spec, "{\"process\":{\"user\":{\"uid\":1.0}}}",
                   "json: cannot unmarshal number 1.0 into Go struct field User.process.user.uid of type uint32");
        DECODE_ERR(&type_spec, "{\"process\":{\"user\":{\"uid\":1e2}}}",
                   "json: cannot unmarshal number 1e2 into Go struct field User.process.user.uid of type uint32");
        DECODE_ERR(&type_spec, "{\"linux\":{\"resources\":{\"pids\":{\"limit\":9223372036854775808}}}}",
                   "json: cannot unmarshal number 9223372036854775808 into Go struct field "
                   "LinuxPids.linux.resources.pids.limit of type int64");
        DECODE_ERR(&type_spec, "{\"process\":{\"rlimits\":[{\"hard\":-1}]}}",
                   "json: cannot unmarshal number -1 into Go struct field POSIXRlimit.process.rlimits.hard of type "
                   "uint64");
        DECODE_ERR(&type_spec, "{\"windows\":{\"resources\":{\"cpu\":{\"shares\":65536}}}}",
                   "json: cannot unmarshal number 65536 into Go struct field "
                   "WindowsCPUResources.windows.resources.cpu.shares of type uint16");
}

TEST(numbers_at_the_edges_of_their_range_are_accepted)
{
        SPEC_ROUND("{\"process\":{\"user\":{\"uid\":4294967295,\"gid\":0},\"rlimits\":[{\"type\":\"T\","
                   "\"hard\":18446744073709551615,\"soft\":9223372036854775808}],\"oomScoreAdj\":-9223372036854775808}}",
                   "{\"ociVersion\":\"\",\"process\":{\"user\":{\"uid\":4294967295,\"gid\":0},\"cwd\":\"\",\"rlimits\":"
                   "[{\"type\":\"T\",\"hard\":18446744073709551615,\"soft\":9223372036854775808}],"
                   "\"oomScoreAdj\":-9223372036854775808}}");
        SPEC_ROUND("{\"linux\":{\"resources\":{\"pids\":{\"limit\":9223372036854775807},"
                   "\"blockIO\":{\"weight\":65535}}}}",
                   "{\"ociVersion\":\"\",\"linux\":{\"resources\":{\"pids\":{\"limit\":9223372036854775807},"
                   "\"blockIO\":{\"weight\":65535}}}}");
        SPEC_ROUND("{\"linux\":{\"resources\":{\"pids\":{\"limit\":-0}}}}",
                   "{\"ociVersion\":\"\",\"linux\":{\"resources\":{\"pids\":{\"limit\":0}}}}");
}

TEST(strings_with_invalid_utf8_become_replacement_characters)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK(decode_into(&f, &type_spec, &s, "{\"hostname\":\"a\xff" "b\xe2\x82\",\"domainname\":\"\xc3\xa9\"}") == 0);
        CHECK_STREQ(s.hostname, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
        CHECK_STREQ(s.domainname, "\xc3\xa9");
        /* an escaped lone surrogate too */
        CHECK(decode_into(&f, &type_spec, &s, "{\"hostname\":\"\\udc00x\"}") == 0);
        CHECK_STREQ(s.hostname, "\xef\xbf\xbdx");
        arena_done(&f.a);
}

TEST(strings_with_nul_are_refused)
{
        DECODE_ERR(&type_spec, "{\"hostname\":\"a\\u0000b\"}", NULL);
        DECODE_ERR(&type_spec, "{\"process\":{\"env\":[\"A=\\u0000\"]}}", NULL);
}

TEST(encoded_strings_read_back_as_the_same_value)
{
        static const char *const values[] = {
                "plain", "", "quote\"backslash\\slash/", "ctl\x01\x1f\n\r\t\b\f", "del\x7f", "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80",
                "<html>&amp;", "\xe2\x80\xa8\xe2\x80\xa9",
        };
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                buf b = { 0 };
                json_put_string(&b, values[i]);
                struct json_object *j = NULL;
                bf_error err = { 0 };
                if (CHECK(json_parse_document(b.p, b.len, &j, &err) == 0) &&
                    CHECK(json_object_is_type(j, json_type_string)))
                        CHECK_STREQ(json_object_get_string(j), values[i]);
                json_object_put(j);
                buf_free(&b);
        }
        buf b = { 0 };
        json_put_string(&b, NULL);
        CHECK_STREQ(b.p, "\"\"");
        buf_free(&b);
}

TEST(map_keys_are_printed_sorted_bytewise)
{
        SPEC_ROUND("{\"annotations\":{\"b\":\"1\",\"a\":\"2\",\"C\":\"3\",\"a b\":\"4\",\"\\u00e9\":\"5\",\"\":\"6\"}}",
                   "{\"ociVersion\":\"\",\"annotations\":{\"\":\"6\",\"C\":\"3\",\"a\":\"2\",\"a b\":\"4\",\"b\":\"1\","
                   "\"\xc3\xa9\":\"5\"}}");
        SPEC_ROUND("{\"linux\":{\"sysctl\":{\"net.b\":\"1\",\"net.a\":\"2\"},\"resources\":{\"unified\":{\"z\":\"\",\"m\":\"x\"},"
                   "\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3},\"mlx5_0\":{}}}}}",
                   "{\"ociVersion\":\"\",\"linux\":{\"sysctl\":{\"net.a\":\"2\",\"net.b\":\"1\"},\"resources\":{"
                   "\"rdma\":{\"mlx5_0\":{},\"mlx5_1\":{\"hcaHandles\":3}},\"unified\":{\"m\":\"x\",\"z\":\"\"}}}}");
        /* an empty map is omitted (omitempty) */
        SPEC_ROUND("{\"annotations\":{}}", "{\"ociVersion\":\"\"}");
}

TEST(map_values_are_replaced_not_merged)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        CHECK(decode_into(&f, &type_spec, &s, "{\"linux\":{\"resources\":{\"rdma\":{\"m\":{\"hcaHandles\":1}}}}}") == 0);
        CHECK(decode_into(&f, &type_spec, &s, "{\"linux\":{\"resources\":{\"rdma\":{\"m\":{\"hcaObjects\":2}}}}}") == 0);
        CHECK_STREQ(encode(&f, &type_spec, &s),
                    "{\"ociVersion\":\"\",\"linux\":{\"resources\":{\"rdma\":{\"m\":{\"hcaObjects\":2}}}}}");
        arena_done(&f.a);
}

TEST(embedded_device_fields_are_flattened_in_order)
{
        struct fixture f;
        fixture_init(&f);
        struct spec_blockio b = { 0 };
        CHECK(decode_into(&f, &type_blockio, &b,
                          "{\"throttleReadBpsDevice\":[{\"rate\":100,\"minor\":1,\"major\":8}],"
                          "\"weightDevice\":[{\"leafWeight\":2,\"weight\":1,\"minor\":3,\"major\":8},{\"major\":9}],"
                          "\"leafWeight\":7,\"weight\":6}") == 0);
        CHECK_STREQ(encode(&f, &type_blockio, &b),
                    "{\"weight\":6,\"leafWeight\":7,\"weightDevice\":[{\"major\":8,\"minor\":3,\"weight\":1,\"leafWeight\":2},"
                    "{\"major\":9,\"minor\":0}],\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":1,\"rate\":100}]}");
        struct spec_blockio empty = { 0 };
        CHECK_STREQ(encode(&f, &type_blockio, &empty), "{}");
        arena_done(&f.a);
}

/* ---- interface{} values --------------------------------------------------- */

/* The re-encoding of a credentialSpec value. */
#define ANY_CHECK(json, want) any_check(__FILE__, __LINE__, (json), (want))

static void any_check(const char *file, int line, const char *json, const char *want)
{
        struct fixture f;
        fixture_init(&f);
        struct spec s = { 0 };
        char doc[4096];
        snprintf(doc, sizeof(doc), "{\"windows\":{\"credentialSpec\":%s}}", json);
        if (!CHECK_INTEQ_AT(file, line, decode_into(&f, &type_spec, &s, doc), 0)) {
                fprintf(stderr, "    %s\n", f.err.msg);
                arena_done(&f.a);
                return;
        }
        if (CHECK_AT(file, line, s.windows != NULL))
                CHECK_STREQ_AT(file, line, s.windows->credential_spec, want);
        arena_done(&f.a);
}

TEST(interface_values_are_reencoded_with_sorted_keys)
{
        ANY_CHECK("{\"b\":1,\"a\":[1.5,true,false,null,\"s\"],\"c\":{\"z\":{},\"y\":[],\"B\":\"x\"}}",
                  "{\"a\":[1.5,true,false,null,\"s\"],\"b\":1,\"c\":{\"B\":\"x\",\"y\":[],\"z\":{}}}");
        ANY_CHECK("\"str\"", "\"str\"");
        ANY_CHECK("true", "true");
        ANY_CHECK("false", "false");
        ANY_CHECK("[ ]", "[]");
        ANY_CHECK("{ }", "{}");
        ANY_CHECK("[[],[{}],[[null]]]", "[[],[{}],[[null]]]");
        ANY_CHECK("{\"\\u00e9\":\"\\u00e9\",\"e\":\"\\t\"}", "{\"e\":\"\\t\",\"\xc3\xa9\":\"\xc3\xa9\"}");
}

TEST(interface_numbers_are_printed_as_go_float64)
{
        ANY_CHECK("1", "1");
        ANY_CHECK("-1", "-1");
        ANY_CHECK("0", "0");
        ANY_CHECK("1.5", "1.5");
        ANY_CHECK("1.0", "1");
        ANY_CHECK("1E2", "100");
        ANY_CHECK("0.1e1", "1");
        ANY_CHECK("-0.0", "-0");
        ANY_CHECK("0.1", "0.1");
        ANY_CHECK("0.000001", "0.000001");
        ANY_CHECK("0.0000012345", "0.0000012345");
        ANY_CHECK("1e-7", "1e-7");
        ANY_CHECK("0.0000001", "1e-7");
        ANY_CHECK("1.5e-7", "1.5e-7");
        ANY_CHECK("-2.5e-10", "-2.5e-10");
        ANY_CHECK("1e-100", "1e-100");
        ANY_CHECK("1e20", "100000000000000000000");
        ANY_CHECK("1e21", "1e+21");
        ANY_CHECK("1.5e300", "1.5e+300");
        ANY_CHECK("123456789012345678", "123456789012345680");
        ANY_CHECK("9007199254740993", "9007199254740992");
        ANY_CHECK("18446744073709551615", "18446744073709552000");
        ANY_CHECK("-9223372036854775808", "-9223372036854776000");
        ANY_CHECK("0.30000000000000004", "0.30000000000000004");
        ANY_CHECK("3.141592653589793238", "3.141592653589793");
        ANY_CHECK("5e-324", "5e-324");
        ANY_CHECK("1.7976931348623157e308", "1.7976931348623157e+308");
        ANY_CHECK("[100, 1e6, 12345678.9]", "[100,1000000,12345678.9]");
}

TEST(interface_values_are_printed_verbatim_in_the_spec)
{
        SPEC_ROUND("{\"windows\":{\"credentialSpec\":{\"b\":[1e21],\"a\":0}}}",
                   "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null,\"credentialSpec\":{\"a\":0,\"b\":[1e+21]}}}");
        /* false, 0 and "" are not nil: omitempty keeps them */
        SPEC_ROUND("{\"windows\":{\"credentialSpec\":false}}",
                   "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null,\"credentialSpec\":false}}");
        SPEC_ROUND("{\"windows\":{\"credentialSpec\":\"\"}}",
                   "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null,\"credentialSpec\":\"\"}}");
        SPEC_ROUND("{\"windows\":{\"credentialSpec\":null}}", "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null}}");
}

TEST(interface_numbers_past_float64_are_refused_as_go_does)
{
        /* strconv.ParseFloat refuses what rounds past the largest float64, at
         * any depth of the value, and reads what is too small as 0. */
        DECODE_ERR(&type_spec, "{\"windows\":{\"credentialSpec\":1e400}}",
                   "json: cannot unmarshal number 1e400 into Go struct field Windows.windows.credentialSpec of type "
                   "float64");
        DECODE_ERR(&type_spec, "{\"windows\":{\"credentialSpec\":{\"a\":[1,-1.8e308]}}}",
                   "json: cannot unmarshal number -1.8e308 into Go struct field Windows.windows.credentialSpec of "
                   "type float64");
        SPEC_ROUND("{\"windows\":{\"credentialSpec\":[1e-400,-1e-400]}}",
                   "{\"ociVersion\":\"\",\"windows\":{\"layerFolders\":null,\"credentialSpec\":[0,-0]}}");
}

TEST(strings_carry_escaped_nul_bytes_to_the_json_output)
{
        /* utf8.h: C0 80 stands for NUL and C0 C0 for a byte C0. */
        buf b = { 0 };
        json_put_string(&b, "A=x\xc0\x80y and \xc0\xc0 and \xc0z");
        CHECK_STREQ(b.p, "\"A=x\\u0000y and \xef\xbf\xbd and \xef\xbf\xbdz\"");
        buf_free(&b);
        buf e = { 0 };
        nul_escape(&e, "a\0b\xc0\x80", 5);
        CHECK_MEMEQ(e.p, e.len, "a\xc0\x80" "b\xc0\xc0\x80", 7);
        buf u = { 0 };
        nul_unescape(&u, e.p, e.len);
        CHECK_MEMEQ(u.p, u.len, "a\0b\xc0\x80", 5);
        buf_free(&e);
        buf_free(&u);
}

TEST(go_float_formatting_matches_strconv_shortest)
{
        static const struct {
                double f;
                const char *want;
        } table[] = {
                { 1, "1" }, { -1, "-1" }, { 0.5, "0.5" }, { 100, "100" }, { 1e6, "1000000" }, { 1e20, "100000000000000000000" },
                { 1e21, "1e+21" }, { 1.5e21, "1.5e+21" }, { 1e-6, "0.000001" }, { 9.99e-7, "9.99e-7" }, { 1e-7, "1e-7" },
                { 1e-10, "1e-10" }, { 2.2250738585072014e-308, "2.2250738585072014e-308" }, { 0.1 + 0.2, "0.30000000000000004" },
                { 123456789.125, "123456789.125" }, { -0.0, "-0" }, { 0.0, "0" }, { 1e100, "1e+100" },
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                buf b = { 0 };
                json_put_go_float(&b, table[i].f);
                CHECK_STREQ(b.p, table[i].want);
                buf_free(&b);
        }
}

/* ---- copies ------------------------------------------------------------- */

static const char copy_doc[] =
        "{\"ociVersion\":\"1.1.0\",\"process\":{\"user\":{\"uid\":1,\"gid\":2,\"additionalGids\":[2,3]},\"args\":[\"sh\"],"
        "\"env\":[\"A=1\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_A\"],\"effective\":[]},"
        "\"consoleSize\":{\"height\":1,\"width\":2}},\"root\":{\"path\":\"rootfs\"},"
        "\"mounts\":[{\"destination\":\"/m\",\"options\":[\"ro\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":2}]}],"
        "\"annotations\":{\"k\":\"v\"},\"linux\":{\"resources\":{\"memory\":{\"limit\":5},"
        "\"rdma\":{\"r\":{\"hcaHandles\":1}}},\"namespaces\":[{\"type\":\"pid\"}]},"
        "\"windows\":{\"layerFolders\":[],\"credentialSpec\":{\"x\":1}}}";

TEST(model_copy_is_deep)
{
        struct fixture f;
        fixture_init(&f);
        struct spec src = { 0 };
        if (!CHECK(decode_into(&f, &type_spec, &src, copy_doc) == 0))
                return;
        const char *before = encode(&f, &type_spec, &src);

        arena a2;
        arena_init(&a2, 0);
        struct spec dst;
        memset(&dst, 0x5a, sizeof(dst));
        CHECK(model_copy(&a2, &type_spec, &dst, &src) == 0);
        CHECK_STREQ(encode(&f, &type_spec, &dst), before);
        CHECK(dst.process != src.process);
        CHECK(dst.process->capabilities != src.process->capabilities);
        CHECK(dst.mounts.v != src.mounts.v);
        CHECK(dst.mounts.v[0].options.v != src.mounts.v[0].options.v);
        CHECK(dst.linux_->resources->memory->limit != src.linux_->resources->memory->limit);

        /* change everything reachable in the copy */
        dst.oci_version = "changed";
        dst.process->user.uid = 99;
        dst.process->user.additional_gids.v[0] = 99;
        dst.process->args.v[0] = "changed";
        dst.process->capabilities->bounding.v[0] = "changed";
        dst.process->console_size->width = 99;
        dst.root->path = "changed";
        dst.mounts.v[0].options.v[0] = "changed";
        dst.mounts.v[0].uid_mappings.v[0].size = 99;
        dst.annotations.v[0].value = "changed";
        *dst.linux_->resources->memory->limit = 99;
        dst.linux_->resources->rdma.v[0].value.hca_handles = NULL;
        dst.linux_->namespaces.v[0].type = "changed";
        const char **slot = slice_push(&a2, &dst.process->env, sizeof(char *));
        if (CHECK(slot != NULL))
                *slot = "B=2";
        slot = slice_push(&a2, &dst.windows->layer_folders, sizeof(char *));
        if (CHECK(slot != NULL))
                *slot = "L";
        CHECK_STREQ(encode(&f, &type_spec, &src), before);
        CHECK(strcmp(encode(&f, &type_spec, &dst), before) != 0);
        arena_done(&a2);
        arena_done(&f.a);
}

TEST(model_copy_keeps_nil_and_empty_apart)
{
        struct fixture f;
        fixture_init(&f);
        struct spec src = { 0 };
        CHECK(decode_into(&f, &type_spec, &src,
                          "{\"process\":{\"capabilities\":{\"bounding\":[],\"effective\":null}},\"windows\":{\"layerFolders\":[]}}") == 0);
        struct spec dst;
        CHECK(model_copy(&f.a, &type_spec, &dst, &src) == 0);
        CHECK(dst.process->capabilities->bounding.v != NULL);
        CHECK_UINTEQ(dst.process->capabilities->bounding.len, 0);
        CHECK(dst.process->capabilities->effective.v == NULL);
        CHECK(dst.windows->layer_folders.v != NULL);
        CHECK_STREQ(encode(&f, &type_spec, &dst), encode(&f, &type_spec, &src));
        src.windows->layer_folders = (str_slice){ 0 };
        CHECK(model_copy(&f.a, &type_spec, &dst, &src) == 0);
        CHECK(dst.windows->layer_folders.v == NULL);
        arena_done(&f.a);
}

/* ---- slices and maps ---------------------------------------------------- */

TEST(slice_helpers_keep_go_semantics)
{
        arena a;
        arena_init(&a, 0);
        str_slice s = { 0 };
        for (int i = 0; i < 100; i++) {
                const char **slot = slice_push(&a, &s, sizeof(char *));
                if (!CHECK(slot != NULL))
                        break;
                *slot = arena_printf(&a, "%d", i);
        }
        CHECK_UINTEQ(s.len, 100);
        CHECK(s.cap >= s.len);
        CHECK_STREQ(s.v[0], "0");
        CHECK_STREQ(s.v[99], "99");
        slice_remove(&s, 0, sizeof(char *));
        slice_remove(&s, 50, sizeof(char *));
        CHECK_UINTEQ(s.len, 98);
        CHECK_STREQ(s.v[0], "1");
        CHECK_STREQ(s.v[50], "52");
        CHECK_STREQ(s.v[97], "99");

        str_slice e = { 0 };
        slice_make_empty(&e);
        CHECK(e.v != NULL);
        CHECK_UINTEQ(e.len, 0);
        /* pushing onto the shared empty slice never writes into it */
        const char **slot = slice_push(&a, &e, sizeof(char *));
        CHECK(slot != NULL && (void *) e.v != (void *) slice_empty);
        CHECK_UINTEQ(e.len, 1);

        static const char *const items[] = { "x", "y" };
        str_slice t = { 0 };
        CHECK(slice_set(&a, &t, items, 2, sizeof(char *)) == 0);
        CHECK(t.v != items);
        CHECK_UINTEQ(t.len, 2);
        CHECK_STREQ(t.v[1], "y");
        CHECK(slice_set(&a, &t, items, 0, sizeof(char *)) == 0);
        CHECK(t.v != NULL);
        CHECK_UINTEQ(t.len, 0);
        arena_done(&a);
}

TEST(map_put_keeps_entries_sorted_and_replaces_existing_keys)
{
        arena a;
        arena_init(&a, 0);
        str_map m = { 0 };
        static const char *const keys[] = { "m", "c", "x", "a", "q", "c" };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                const char **v = map_put(&a, &type_str_map, &m, keys[i]);
                if (CHECK(v != NULL)) {
                        CHECK(*v == NULL);
                        *v = arena_printf(&a, "%zu", i);
                }
        }
        if (CHECK_UINTEQ(m.len, 5)) {
                CHECK_STREQ(m.v[0].key, "a");
                CHECK_STREQ(m.v[1].key, "c");
                CHECK_STREQ(m.v[1].value, "5");
                CHECK_STREQ(m.v[4].key, "x");
        }
        const char **got = map_get(&type_str_map, &m, "q");
        if (CHECK(got != NULL))
                CHECK_STREQ(*got, "4");
        CHECK(map_get(&type_str_map, &m, "b") == NULL);
        CHECK(map_get(&type_str_map, &m, "") == NULL);
        str_map nil = { 0 };
        CHECK(map_get(&type_str_map, &nil, "a") == NULL);
        arena_done(&a);
}

/* ---- time values ---------------------------------------------------------- */

#include "image.h"

TEST(image_times_must_be_rfc3339)
{
        static const char *const good[] = {
                "2023-01-02T03:04:05Z", "2023-01-02T03:04:05.123456789Z", "2024-02-29T23:59:59+01:00",
                "2023-12-31T00:00:00-12:30", "0001-01-01T00:00:00Z",
        };
        static const char *const bad[] = {
                "2023-01-02", "2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z", "2023-01-02T24:00:00Z",
                "2023-01-02 03:04:05Z", "2023-01-02T03:04:05", "2023-01-02T03:04:05+0100", "yesterday",
                "2023-01-02T03:04:60Z",
        };
        char doc[256];
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct fixture f;
                fixture_init(&f);
                struct image img = { 0 };
                snprintf(doc, sizeof(doc), "{\"created\":\"%s\"}", good[i]);
                if (!CHECK(decode_into(&f, &type_image, &img, doc) == 0))
                        fprintf(stderr, "    %s: %s\n", good[i], f.err.msg);
                else if (CHECK(img.created != NULL))
                        CHECK_STREQ(*img.created, good[i]);
                arena_done(&f.a);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(doc, sizeof(doc), "{\"created\":\"%s\"}", bad[i]);
                DECODE_ERR(&type_image, doc, NULL);
        }
        DECODE_ERR(&type_image, "{\"created\":5}", NULL);
}

/* json_put_string's fast path copies eight bytes at a time: every special
 * byte must be caught wherever it falls, in a full chunk or in the tail. */
TEST(strings_are_escaped_wherever_the_special_byte_falls)
{
        static const char specials[] = { '"', '\\', '\n', '\t', 0x01, 0x1f };
        for (size_t len = 1; len <= 24; len++)
                for (size_t at = 0; at < len; at++)
                        for (size_t k = 0; k < sizeof(specials); k++) {
                                char s[32];
                                memset(s, 'a', len);
                                s[at] = specials[k];
                                s[len] = '\0';
                                buf b = { 0 };
                                json_put_string(&b, s);
                                /* the output parses back to the same string */
                                struct json_object *j = json_tokener_parse(b.p);
                                CHECK(j != NULL && json_object_get_type(j) == json_type_string);
                                if (j) {
                                        CHECK_STREQ(json_object_get_string(j), s);
                                        json_object_put(j);
                                }
                                CHECK((size_t) b.len > len + 2);
                                buf_free(&b);
                        }
}

TEST(strings_with_valid_utf8_are_copied_and_invalid_bytes_become_fffd)
{
        buf b = { 0 };
        json_put_string(&b, "caf\xc3\xa9 \xe2\x82\xac and more than eight bytes");
        CHECK_STREQ(b.p, "\"caf\xc3\xa9 \xe2\x82\xac and more than eight bytes\"");
        buf_free(&b);
        json_put_string(&b, "abcdefgh\xff" "ij");
        CHECK_STREQ(b.p, "\"abcdefgh\xef\xbf\xbd" "ij\"");
        buf_free(&b);
        json_put_string(&b, "");
        CHECK_STREQ(b.p, "\"\"");
        buf_free(&b);
        json_put_string(&b, NULL);
        CHECK_STREQ(b.p, "\"\"");
        buf_free(&b);
}

/* Go decodes keys before it sorts them: invalid UTF-8 in a key becomes U+FFFD
 * first, so the order printed is the order of the decoded keys. */
TEST(map_keys_with_invalid_utf8_are_decoded_before_they_are_sorted)
{
        /* printing and reading back must give the same bytes */
        const char *doc = "{\"annotations\":{\"b\":\"1\",\"\xff\":\"2\",\"a\xc3\":\"3\"},"
                          "\"windows\":{\"credentialSpec\":{\"z\xfe\":1,\"y\":2}}}";
        struct json_object *j = json_tokener_parse(doc);
        CHECK(j != NULL);
        arena a;
        arena_init(&a, 0);
        struct spec s = { 0 };
        bf_error err = { 0 };
        CHECK(model_decode(&a, &type_spec, &s, j, &err) == 0);
        json_object_put(j);
        buf once = { 0 };
        model_encode(&once, &type_spec, &s);
        CHECK_STREQ(once.p, "{\"ociVersion\":\"\",\"annotations\":{\"a\xef\xbf\xbd\":\"3\",\"b\":\"1\","
                            "\"\xef\xbf\xbd\":\"2\"},\"windows\":{\"layerFolders\":null,"
                            "\"credentialSpec\":{\"y\":2,\"z\xef\xbf\xbd\":1}}}");
        /* and again: stable */
        struct json_object *j2 = json_tokener_parse(once.p);
        struct spec s2 = { 0 };
        CHECK(model_decode(&a, &type_spec, &s2, j2, &err) == 0);
        json_object_put(j2);
        buf twice = { 0 };
        model_encode(&twice, &type_spec, &s2);
        CHECK_STREQ(twice.p, once.p);
        buf_free(&once);
        buf_free(&twice);
        arena_done(&a);
}
