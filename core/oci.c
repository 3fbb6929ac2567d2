#include "oci.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deps.h"
#include "files.h"
#include "model_macros.h"
#include "spec.h"
#include "users.h"
#include "util.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* ---- the documents, decoded with Go's rules as containerd decodes them ---- */

struct oci_platform {
        const char *architecture;
        const char *os;
        const char *os_version;
        str_slice os_features;
        const char *variant;
};

struct oci_descriptor {
        const char *media_type;
        const char *digest;
        int64_t size;
        str_slice urls;
        str_map annotations;
        struct oci_platform *platform;
        const char *artifact_type;
};
DEFINE_SLICE(descriptor_slice, struct oci_descriptor);

struct oci_manifest {
        int64_t schema_version;
        const char *media_type;
        struct oci_descriptor config;
        descriptor_slice layers;
        str_map annotations;
};

struct oci_index {
        int64_t schema_version;
        const char *media_type;
        descriptor_slice manifests;
        str_map annotations;
};

/* images.validateMediaType's view of a manifest or index */
struct any_doc {
        const char *media_type;
        const char *config;
        str_slice layers, manifests, fs_layers;
};

struct oci_layout_file {
        const char *version;
};

static SLICE_TYPE(type_strings, "[]string", type_string);
static SLICE_TYPE(type_raw_slice, "[]json.RawMessage", type_any);

static const struct field platform_fields[] = {
        FIELD(struct oci_platform, architecture, "architecture", type_string),
        FIELD(struct oci_platform, os, "os", type_string),
        FIELD_OMIT(struct oci_platform, os_version, "os.version", type_string),
        FIELD_OMIT(struct oci_platform, os_features, "os.features", type_strings),
        FIELD_OMIT(struct oci_platform, variant, "variant", type_string),
};
static STRUCT_TYPE(type_platform, "v1.Platform", struct oci_platform, platform_fields);
static PTR_TYPE(type_platform_ptr, "*v1.Platform", type_platform);

static const struct field descriptor_fields[] = {
        FIELD_OMIT(struct oci_descriptor, media_type, "mediaType", type_string),
        FIELD(struct oci_descriptor, digest, "digest", type_string),
        FIELD(struct oci_descriptor, size, "size", type_i64),
        FIELD_OMIT(struct oci_descriptor, urls, "urls", type_strings),
        FIELD_OMIT(struct oci_descriptor, annotations, "annotations", type_str_map),
        FIELD_OMIT(struct oci_descriptor, platform, "platform", type_platform_ptr),
        FIELD_OMIT(struct oci_descriptor, artifact_type, "artifactType", type_string),
};
static STRUCT_TYPE(type_descriptor, "v1.Descriptor", struct oci_descriptor, descriptor_fields);
static SLICE_TYPE(type_descriptors, "[]v1.Descriptor", type_descriptor);

static const struct field manifest_fields[] = {
        FIELD(struct oci_manifest, schema_version, "schemaVersion", type_int),
        FIELD_OMIT(struct oci_manifest, media_type, "mediaType", type_string),
        FIELD(struct oci_manifest, config, "config", type_descriptor),
        FIELD(struct oci_manifest, layers, "layers", type_descriptors),
        FIELD_OMIT(struct oci_manifest, annotations, "annotations", type_str_map),
};
static STRUCT_TYPE(type_manifest, "v1.Manifest", struct oci_manifest, manifest_fields);

static const struct field index_fields[] = {
        FIELD(struct oci_index, schema_version, "schemaVersion", type_int),
        FIELD_OMIT(struct oci_index, media_type, "mediaType", type_string),
        FIELD(struct oci_index, manifests, "manifests", type_descriptors),
        FIELD_OMIT(struct oci_index, annotations, "annotations", type_str_map),
};
static STRUCT_TYPE(type_index, "v1.Index", struct oci_index, index_fields);

static const struct field any_doc_fields[] = {
        FIELD_OMIT(struct any_doc, media_type, "mediaType", type_string),
        FIELD_OMIT(struct any_doc, config, "config", type_any),
        FIELD_OMIT(struct any_doc, layers, "layers", type_raw_slice),
        FIELD_OMIT(struct any_doc, manifests, "manifests", type_raw_slice),
        FIELD_OMIT(struct any_doc, fs_layers, "fsLayers", type_raw_slice),
};
static STRUCT_TYPE(type_any_doc, "images.unknownDocument", struct any_doc, any_doc_fields);

static const struct field layout_fields[] = {
        FIELD(struct oci_layout_file, version, "imageLayoutVersion", type_string),
};
static STRUCT_TYPE(type_layout_file, "v1.ImageLayout", struct oci_layout_file, layout_fields);

/* ---- references ---------------------------------------------------------- */

bool oci_ref_is(const char *text)
{
        return text && !strncmp(text, OCI_REF_PREFIX, strlen(OCI_REF_PREFIX));
}

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* What the layouts' writers put in ref.name: a tag, or a whole reference
 * ("docker.io/library/busybox:1.36"). Matching is by equality, so the check
 * only keeps out what no writer produces: letters, digits and "._-:@+/",
 * starting and ending with a letter, digit or "_". */
static bool tag_edge(char c)
{
        return is_alnum(c) || c == '_';
}

static bool tag_valid(const char *t)
{
        size_t n = strlen(t);
        if (n == 0 || n > OCI_TAG_MAX || !tag_edge(t[0]) || !tag_edge(t[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(t[i]) && !strchr("._-:@+/", t[i]))
                        return false;
        return true;
}

int oci_ref_parse(arena *a, const char *text, struct oci_ref *ret, bf_error *err)
{
        *ret = (struct oci_ref){ 0 };
        if (!oci_ref_is(text))
                return bf_error_set(err, EINVAL, "image reference \"%.200s\": does not start with \"oci:\"", text);
        const char *s = text + strlen(OCI_REF_PREFIX);
        const char *colon = strchr(s, ':');
        size_t dl = colon ? (size_t) (colon - s) : strlen(s);
        bool tagged = true;
        if (s[0] != '/')
                return bf_error_set(err, EINVAL, "image reference \"%.200s\": layout directory \"%.*s\" is not absolute",
                                    text, (int) (dl > 200 ? 200 : dl), s);
        if (dl >= PATH_MAX)
                return bf_error_set(err, EINVAL, "image reference \"%.200s...\": layout directory longer than %d bytes",
                                    text, PATH_MAX - 1);
        if (colon && dl > 7 && s[dl - 7] == '@' &&
            (!strncmp(s + dl - 6, "sha256", 6) || !strncmp(s + dl - 6, "sha512", 6))) {
                /* oci:<dir>@<alg>:<hex> */
                int e = digest_parse(s + dl - 6, &ret->digest, err);
                if (e < 0)
                        return bf_error_prefix(err, "image reference \"%.200s\"", text);
                dl -= 7;
                tagged = false;
        } else if (colon) {
                if (!tag_valid(colon + 1))
                        return bf_error_set(err, EINVAL,
                                            "image reference \"%.200s\": invalid tag \"%.100s\" (at most %d of A-Z a-z 0-9 "
                                            "_ . - : @ + /, starting and ending with A-Z a-z 0-9 _)",
                                            text, colon + 1, OCI_TAG_MAX);
                ret->tag = arena_strdup(a, colon + 1);
        } else {
                ret->tag = OCI_TAG_DEFAULT;
        }
        if (dl > 1 && s[dl - 1] == '/')
                dl--;
        ret->dir = arena_strndup(a, s, dl);
        if (!ret->dir || (tagged && !ret->tag))
                return bf_error_set(err, ENOMEM, "out of memory");
        return 0;
}

/* ---- reading the layout -------------------------------------------------- */

struct oci_image {
        arena *a;
        int dirfd;                      /* O_PATH of the layout directory */
        const char *dir;
        struct deps *deps;
        struct render deps_render;      /* what deps_note_* take: only .deps is used */
        struct platform platform;       /* normalized */
        char platform_text[3 * PLATFORM_MAX];
        const char *manifest_digest;
        struct oci_manifest manifest;
        struct image config;
        /* filled by oci_image_layers */
        struct oci_layer *layers;
        size_t nlayers;
        bool layers_checked;
};

static bool is_manifest_type(const char *mt)
{
        return streq(mt, MT_OCI_MANIFEST) || streq(mt, MT_DOCKER_MANIFEST);
}

static bool is_index_type(const char *mt)
{
        return streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST);
}

static void note_file(struct oci_image *img, const char *rel, const struct stat *st)
{
        deps_note_in_root(&img->deps_render, img->dir, rel, st);
}

/* A file of the layout, opened for reading only if it is a regular file. It
 * is resolved inside the layout (open_in_root): a symbolic link in it may
 * lead elsewhere in the layout, never out of it. */
static int open_file(struct oci_image *img, const char *rel, int *ret_fd, struct stat *ret_st, bf_error *err)
{
        char name[PATH_MAX + 256];
        snprintf(name, sizeof(name), "%s/%s", img->dir, rel);
        int pfd = open_in_root(img->dirfd, rel);
        _cleanup_close_ int pathfd = pfd;
        if (pathfd < 0) {
                int e = -pfd;
                pathfd = -1;
                if (e == ENOENT)
                        note_file(img, rel, NULL);
                else
                        deps_note_volatile(&img->deps_render);
                return bf_error_set(err, bf_errno_class(e), "open %s: %s", name,
                                    e == ENOENT ? "no such file or directory" : strerror(e));
        }
        if (fstat(pathfd, ret_st) < 0) {
                int e = errno;
                deps_note_volatile(&img->deps_render);
                return bf_error_set(err, bf_errno_class(e), "stat %s: %s", name, strerror(e));
        }
        /* stat before reading: a change after this is seen by a later check */
        note_file(img, rel, ret_st);
        int e = fd_reopen_regular(pathfd, name, ret_fd, err);
        if (e < 0)
                deps_note_volatile(&img->deps_render);
        return e;
}

static int parse_json(const char *data, size_t n, const char *name, struct json_object **ret, bf_error *err)
{
        int e = json_parse_document(data, n, ret, err);
        return e < 0 ? bf_error_prefix(err, "%s", name) : 0;
}

static int decode(struct oci_image *img, const struct type *t, void *dst, const char *data, size_t n, const char *name,
                  bf_error *err)
{
        struct json_object *j;
        int e = parse_json(data, n, name, &j, err);
        if (e < 0)
                return e;
        e = model_decode(img->a, t, dst, j, err);
        json_object_put(j);
        return e < 0 ? bf_error_prefix(err, "%s", name) : 0;
}

static int read_small_file(struct oci_image *img, const char *rel, size_t max, char **ret, size_t *ret_len,
                           bf_error *err)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        int e = open_file(img, rel, &fd, &st, err);
        if (e < 0)
                return e;
        char name[PATH_MAX + 256];
        snprintf(name, sizeof(name), "%s/%s", img->dir, rel);
        e = fd_read_all(fd, name, max, ret, ret_len, err);
        if (e < 0)
                deps_note_volatile(&img->deps_render);
        return e;
}

/* blobs/<alg>/<hex> of a digest that parsed: nothing else can be named. */
static void blob_path(const struct digest *d, char *out, size_t size)
{
        char hex[2 * DIGEST_RAW_MAX + 1];
        digest_hex(d, hex);
        snprintf(out, size, "blobs/%s/%s", digest_alg_name(d->alg), hex);
}

static int descriptor_digest(const struct oci_descriptor *desc, struct digest *ret, bf_error *err)
{
        int e = digest_parse(desc->digest ? desc->digest : "", ret, err);
        return e < 0 ? bf_error_prefix(err, "descriptor") : 0;
}

/* A blob named by a descriptor, whole, checked against its size and digest. */
static int read_blob(struct oci_image *img, const struct oci_descriptor *desc, size_t max, char **ret,
                     size_t *ret_len, bf_error *err)
{
        struct digest want;
        int e = descriptor_digest(desc, &want, err);
        if (e < 0)
                return e;
        if (desc->size < 0)
                return bf_error_set(err, EINVAL, "blob %s: negative size %lld", desc->digest,
                                    (long long) desc->size);
        if ((uint64_t) desc->size > max)
                return bf_error_set(err, EFBIG, "blob %s: %lld bytes, more than the %zu bytes allowed", desc->digest,
                                    (long long) desc->size, max);
        char rel[128 + 2 * DIGEST_RAW_MAX];
        blob_path(&want, rel, sizeof(rel));
        _cleanup_close_ int fd = -1;
        struct stat st;
        if ((e = open_file(img, rel, &fd, &st, err)) < 0)
                return e == -ENOENT ? bf_error_prefix(err, "blob %s", desc->digest) : e;
        if (st.st_size != desc->size)
                return bf_error_set(err, EINVAL, "blob %s: %lld bytes, its descriptor says %lld", desc->digest,
                                    (long long) st.st_size, (long long) desc->size);
        char name[PATH_MAX + 256];
        snprintf(name, sizeof(name), "%s/%s", img->dir, rel);
        _cleanup_free_ char *data = NULL;
        size_t n;
        if ((e = fd_read_all(fd, name, (size_t) desc->size, &data, &n, err)) < 0) {
                deps_note_volatile(&img->deps_render);
                return e == -EFBIG ? bf_error_set(err, EINVAL, "blob %s: more bytes than its descriptor says",
                                                  desc->digest)
                                   : e;
        }
        if (n != (size_t) desc->size)
                return bf_error_set(err, EINVAL, "blob %s: %zu bytes, its descriptor says %lld", desc->digest, n,
                                    (long long) desc->size);
        struct hasher *h = hasher_new(want.alg);
        if (!h)
                return bf_error_set(err, ENOMEM, "out of memory");
        hasher_update(h, data, n);
        struct digest got;
        e = hasher_final(h, &got);
        hasher_free(h);
        if (e < 0)
                return bf_error_set(err, ENOMEM, "computing a digest failed");
        if (!digest_equal(&got, &want)) {
                char text[DIGEST_TEXT_MAX];
                digest_format(&got, text);
                return bf_error_set(err, EINVAL, "blob %s: content has digest %s: corrupted", desc->digest, text);
        }
        *ret = TAKE_PTR(data);
        *ret_len = n;
        return 0;
}

/* images.validateMediaType: a manifest that looks like an index (or the
 * reverse) is refused, and so is a schema 1 manifest. */
static int validate_media_type(struct oci_image *img, const char *data, size_t n, const struct oci_descriptor *desc,
                               bf_error *err)
{
        struct any_doc doc = { 0 };
        int e = decode(img, &type_any_doc, &doc, data, n, desc->digest, err);
        if (e < 0)
                return e;
        if (doc.fs_layers.len)
                return bf_error_set(err, EINVAL, "manifest %s: media-type: schema 1 not supported", desc->digest);
        const char *mt = doc.media_type;
        if (is_manifest_type(desc->media_type) &&
            (doc.manifests.len || streq(mt, MT_DOCKER_LIST) || streq(mt, MT_OCI_INDEX)))
                return bf_error_set(err, EINVAL, "manifest: invalid desc %s: media-type: expected manifest but found "
                                    "index (%s)", desc->digest, desc->media_type);
        bool has_config = doc.config && !streq(doc.config, "null");
        if (is_index_type(desc->media_type) &&
            (has_config || doc.layers.len || streq(mt, MT_DOCKER_MANIFEST) || streq(mt, MT_OCI_MANIFEST)))
                return bf_error_set(err, EINVAL, "manifest: invalid desc %s: media-type: expected index but found "
                                    "manifest (%s)", desc->digest, desc->media_type);
        return 0;
}

/* An index or a manifest: read, checked against its descriptor, decoded by
 * type t into ret (size bytes, zeroed first). */
static int read_json_blob(struct oci_image *img, const struct oci_descriptor *desc, const struct type *t,
                          void *ret, size_t size, bf_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        int e = read_blob(img, desc, OCI_INDEX_MAX, &data, &n, err);
        if (e < 0 || (e = validate_media_type(img, data, n, desc, err)) < 0)
                return e;
        memset(ret, 0, size);
        return decode(img, t, ret, data, n, desc->digest, err);
}

static int read_config_blob(struct oci_image *img, const struct oci_descriptor *desc, struct image *ret,
                            bf_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        int e = read_blob(img, desc, OCI_CONFIG_MAX, &data, &n, err);
        if (e < 0)
                return e;
        *ret = (struct image){ 0 };
        return decode(img, &type_image, ret, data, n, desc->digest, err);
}

static int read_layout(struct oci_image *img, bf_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        int e = read_small_file(img, "oci-layout", OCI_INDEX_MAX, &data, &n, err);
        if (e < 0)
                return e == -ENOENT ? bf_error_prefix(err, "not an OCI image layout") : e;
        struct oci_layout_file f = { 0 };
        char name[PATH_MAX + 64];
        snprintf(name, sizeof(name), "%s/oci-layout", img->dir);
        if ((e = decode(img, &type_layout_file, &f, data, n, name, err)) < 0)
                return e;
        if (!streq(f.version, "1.0.0"))
                return bf_error_set(err, EINVAL, "%s: image layout version \"%.40s\", not 1.0.0", name,
                                    f.version ? f.version : "");
        return 0;
}

static const char *ref_name(const struct oci_descriptor *d)
{
        const char **v = map_get(&type_str_map, &d->annotations, ANNOTATION_REF_NAME);
        return v ? *v : NULL;
}

/* A descriptor whose digest is want, in index or an index it lists. */
static int find_digest(struct oci_image *img, const struct oci_index *idx, const struct digest *want, unsigned depth,
                       const struct oci_descriptor **ret, bf_error *err)
{
        for (size_t i = 0; i < idx->manifests.len; i++) {
                struct digest d;
                if (digest_parse(idx->manifests.v[i].digest ? idx->manifests.v[i].digest : "", &d, NULL) == 0 &&
                    digest_equal(&d, want)) {
                        *ret = &idx->manifests.v[i];
                        return 0;
                }
        }
        if (depth >= OCI_NESTING_MAX)
                return -ENOENT;
        for (size_t i = 0; i < idx->manifests.len; i++) {
                const struct oci_descriptor *d = &idx->manifests.v[i];
                if (!is_index_type(d->media_type))
                        continue;
                struct oci_index *child = arena_alloc(img->a, sizeof(*child));
                if (!child)
                        return bf_error_set(err, ENOMEM, "out of memory");
                int e = read_json_blob(img, d, &type_index, child, sizeof(*child), err);
                if (e < 0)
                        return e;
                if ((e = find_digest(img, child, want, depth + 1, ret, err)) != -ENOENT)
                        return e;
        }
        return -ENOENT;
}

static int find_target(struct oci_image *img, const struct oci_ref *ref, const struct oci_index *top,
                       const struct oci_descriptor **ret, bf_error *err)
{
        if (!ref->tag) {
                int e = find_digest(img, top, &ref->digest, 1, ret, err);
                if (e == -ENOENT) {
                        char text[DIGEST_TEXT_MAX];
                        digest_format(&ref->digest, text);
                        return bf_error_set(err, ENOENT, "%s/index.json lists no manifest or index %s", img->dir,
                                            text);
                }
                return e;
        }
        const struct oci_descriptor *found = NULL;
        for (size_t i = 0; i < top->manifests.len; i++) {
                if (!streq(ref_name(&top->manifests.v[i]), ref->tag))
                        continue;
                if (found)
                        return bf_error_set(err, EINVAL, "%s/index.json: more than one manifest is tagged \"%s\"",
                                            img->dir, ref->tag);
                found = &top->manifests.v[i];
        }
        if (!found)
                return bf_error_set(err, ENOENT, "%s/index.json: no image tagged \"%s\"", img->dir, ref->tag);
        *ret = found;
        return 0;
}

static int64_t platform_rank(const struct oci_image *img, const struct oci_platform *p)
{
        struct platform c = { 0 };
        snprintf(c.os, sizeof(c.os), "%s", p->os ? p->os : "");
        snprintf(c.arch, sizeof(c.arch), "%s", p->architecture ? p->architecture : "");
        snprintf(c.variant, sizeof(c.variant), "%s", p->variant ? p->variant : "");
        return platform_only_rank(&img->platform, &c);
}

struct walk {
        const char *image_digest;       /* the target's: no platform check for it */
        bool was_index;
        bool found;
        const struct oci_descriptor *manifest_desc;
};

/* images.Manifest's walk with limit 1: an index keeps the children whose
 * platform matches (or that have none), sorted best first with those
 * without a platform last, and follows the first; a manifest other than the
 * target itself must match by its descriptor's platform or, lacking one, by
 * its config's os and architecture. */
static int walk(struct oci_image *img, const struct oci_descriptor *desc, unsigned depth, struct walk *w,
                bf_error *err)
{
        const char *mt = desc->media_type ? desc->media_type : "";
        if (is_manifest_type(mt)) {
                struct oci_manifest m;
                int e = read_json_blob(img, desc, &type_manifest, &m, sizeof(m), err);
                if (e < 0)
                        return e;
                if (!streq(desc->digest, w->image_digest)) {
                        if (desc->platform && platform_rank(img, desc->platform) < 0)
                                return 0;
                        if (!desc->platform) {
                                struct image cfg;
                                if ((e = read_config_blob(img, &m.config, &cfg, err)) < 0)
                                        return e;
                                struct oci_platform p = { .os = cfg.os, .architecture = cfg.architecture };
                                if (platform_rank(img, &p) < 0)
                                        return 0;
                        }
                }
                img->manifest = m;
                w->manifest_desc = desc;
                w->found = true;
                return 0;
        }
        if (is_index_type(mt)) {
                if (depth > OCI_NESTING_MAX)
                        return bf_error_set(err, EFBIG, "index %s: indexes nested more than %d deep", desc->digest,
                                            OCI_NESTING_MAX);
                struct oci_index idx;
                int e = read_json_blob(img, desc, &type_index, &idx, sizeof(idx), err);
                if (e < 0)
                        return e;
                w->was_index = true;
                /* stable: the first best match, those without a platform last */
                const struct oci_descriptor *best = NULL;
                int64_t best_rank = -1;
                for (size_t i = 0; i < idx.manifests.len; i++) {
                        const struct oci_descriptor *d = &idx.manifests.v[i];
                        int64_t r = d->platform ? platform_rank(img, d->platform) : INT64_MAX;
                        if (r < 0)
                                continue;
                        if (!best || r < best_rank) {
                                best = d;
                                best_rank = r;
                        }
                }
                return best ? walk(img, best, depth + 1, w, err) : 0;
        }
        return bf_error_set(err, EINVAL, "unexpected media type %s for %s", mt[0] ? mt : "\"\"", desc->digest);
}

int oci_image_open(arena *a, const char *ref_text, const struct platform *platform, struct deps *deps,
                   struct oci_image **ret, bf_error *err)
{
        struct oci_ref ref;
        int e = oci_ref_parse(a, ref_text, &ref, err);
        if (e < 0)
                return e;
        struct oci_image *img = arena_alloc(a, sizeof(*img));
        if (!img)
                return bf_error_set(err, ENOMEM, "out of memory");
        _cleanup_free_ char *data = NULL;
        img->a = a;
        img->dir = ref.dir;
        img->deps = deps;
        img->deps_render = (struct render){ .deps = deps };
        img->platform = *platform;
        platform_normalize(&img->platform);
        platform_format(&img->platform, img->platform_text, sizeof(img->platform_text));
        img->dirfd = open(ref.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (img->dirfd < 0) {
                int en = errno;
                /* the layout appearing later changes the rendering */
                if (en == ENOENT)
                        note_file(img, "index.json", NULL);
                else
                        deps_note_volatile(&img->deps_render);
                return bf_error_set(err, bf_errno_class(en), "open %s: %s", ref.dir,
                                    en == ENOENT ? "no such file or directory" : strerror(en));
        }
        if ((e = read_layout(img, err)) < 0)
                goto fail;
        size_t n;
        if ((e = read_small_file(img, "index.json", OCI_INDEX_MAX, &data, &n, err)) < 0)
                goto fail;
        struct oci_index top = { 0 };
        char name[PATH_MAX + 64];
        snprintf(name, sizeof(name), "%s/index.json", img->dir);
        if ((e = decode(img, &type_index, &top, data, n, name, err)) < 0)
                goto fail;
        const struct oci_descriptor *target;
        if ((e = find_target(img, &ref, &top, &target, err)) < 0)
                goto fail;
        struct walk w = { .image_digest = target->digest };
        if ((e = walk(img, target, 1, &w, err)) < 0)
                goto fail;
        if (!w.found) {
                if (w.was_index)
                        e = bf_error_set(err, ENOENT, "no match for platform %s in manifest %s", img->platform_text,
                                         target->digest);
                else
                        e = bf_error_set(err, ENOENT, "manifest %s: not found", target->digest);
                goto fail;
        }
        img->manifest_digest = w.manifest_desc->digest;
        const struct oci_descriptor *cd = &img->manifest.config;
        if (!streq(cd->media_type, MT_OCI_CONFIG) && !streq(cd->media_type, MT_DOCKER_CONFIG)) {
                e = bf_error_set(err, EINVAL, "unknown image config media type %s", cd->media_type ? cd->media_type : "");
                goto fail;
        }
        if ((e = read_config_blob(img, cd, &img->config, err)) < 0)
                goto fail;
        *ret = img;
        return 0;
fail:
        oci_image_close(img);
        return e;
}

void oci_image_close(struct oci_image *img)
{
        if (img && img->dirfd >= 0) {
                close(img->dirfd);
                img->dirfd = -1;
        }
}

const struct image *oci_image_config(const struct oci_image *img)
{
        return &img->config;
}

const char *oci_image_manifest_digest(const struct oci_image *img)
{
        return img->manifest_digest;
}

/* ---- layers --------------------------------------------------------------- */

static const struct {
        const char *media_type;
        enum oci_compression compression;
} layer_types[] = {
        { "application/vnd.oci.image.layer.v1.tar", OCI_UNCOMPRESSED },
        { "application/vnd.oci.image.layer.v1.tar+gzip", OCI_GZIP },
        { "application/vnd.oci.image.layer.v1.tar+zstd", OCI_ZSTD },
        { "application/vnd.oci.image.layer.nondistributable.v1.tar", OCI_UNCOMPRESSED },
        { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCI_GZIP },
        { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCI_ZSTD },
        { "application/vnd.docker.image.rootfs.diff.tar", OCI_UNCOMPRESSED },
        { "application/vnd.docker.image.rootfs.diff.tar.gzip", OCI_GZIP },
        { "application/vnd.docker.image.rootfs.foreign.diff.tar", OCI_UNCOMPRESSED },
        { "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", OCI_GZIP },
};

int oci_image_layers(const struct oci_image *cimg, const struct oci_layer **ret, size_t *ret_n, bf_error *err)
{
        struct oci_image *img = (struct oci_image *) cimg;
        if (img->layers_checked) {
                *ret = img->layers;
                *ret_n = img->nlayers;
                return 0;
        }
        const descriptor_slice *ls = &img->manifest.layers;
        const str_slice *diff_ids = &img->config.rootfs.diff_ids;
        if (ls->len != diff_ids->len)
                return bf_error_set(err, EINVAL, "manifest %s has %zu layers, its config %zu diff IDs",
                                    img->manifest_digest, ls->len, diff_ids->len);
        struct oci_layer *layers = ls->len ? arena_alloc(img->a, ls->len * sizeof(*layers)) : NULL;
        if (ls->len && !layers)
                return bf_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < ls->len; i++) {
                const struct oci_descriptor *d = &ls->v[i];
                struct oci_layer *l = &layers[i];
                size_t t;
                for (t = 0; t < ARRAY_SIZE(layer_types); t++)
                        if (streq(d->media_type, layer_types[t].media_type))
                                break;
                if (t == ARRAY_SIZE(layer_types))
                        return bf_error_set(err, EINVAL, "layer %zu (%s): unsupported media type %s", i + 1,
                                            d->digest ? d->digest : "", d->media_type ? d->media_type : "\"\"");
                l->media_type = d->media_type;
                l->compression = layer_types[t].compression;
                int e = descriptor_digest(d, &l->digest, err);
                if (e < 0)
                        return bf_error_prefix(err, "layer %zu", i + 1);
                if (d->size < 0)
                        return bf_error_set(err, EINVAL, "layer %zu (%s): negative size", i + 1, d->digest);
                l->size = (uint64_t) d->size;
                if ((e = digest_parse(diff_ids->v[i] ? diff_ids->v[i] : "", &l->diff_id, err)) < 0)
                        return bf_error_prefix(err, "config of %s: diff ID %zu", img->manifest_digest, i + 1);
        }
        img->layers = layers;
        img->nlayers = ls->len;
        img->layers_checked = true;
        *ret = layers;
        *ret_n = ls->len;
        return 0;
}

int oci_image_layer_open(const struct oci_image *cimg, const struct oci_layer *layer, int *ret_fd, bf_error *err)
{
        struct oci_image *img = (struct oci_image *) cimg;
        char rel[128 + 2 * DIGEST_RAW_MAX], text[DIGEST_TEXT_MAX];
        blob_path(&layer->digest, rel, sizeof(rel));
        digest_format(&layer->digest, text);
        _cleanup_close_ int fd = -1;
        struct stat st;
        int e = open_file(img, rel, &fd, &st, err);
        if (e < 0)
                return bf_error_prefix(err, "blob %s", text);
        if ((uint64_t) st.st_size != layer->size)
                return bf_error_set(err, EINVAL, "blob %s: %lld bytes, its descriptor says %llu", text,
                                    (long long) st.st_size, (unsigned long long) layer->size);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
