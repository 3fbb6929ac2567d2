/* OCI image layouts (the directories `skopeo copy ... oci:DIR:TAG`, umoci,
 * buildah and `docker buildx --output type=oci` write): a reference
 * `oci:<dir>[:<tag>|@<digest>]` resolved through index.json, nested indexes
 * and the platform to one manifest, its config and its layers, as
 * containerd's images.Manifest and images.Config do. Every blob read is
 * checked against its descriptor's digest and size. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "digest.h"
#include "error.h"
#include "image.h"
#include "platform.h"

#define OCI_REF_PREFIX "oci:"
#define OCI_TAG_DEFAULT "latest"
#define OCI_TAG_MAX 512
/* index.json, an image index or a manifest */
#define OCI_INDEX_MAX ((size_t) 4 << 20)
/* an image config: as a loose config file */
#define OCI_CONFIG_MAX ((size_t) 16 << 20)
/* indexes below index.json, one inside the other */
#define OCI_NESTING_MAX 8

struct oci_ref {
        const char *dir;                /* absolute; holds no ':' */
        const char *tag;                /* NULL when a digest names the image */
        struct digest digest;           /* when tag is NULL */
};

/* Does this argument name an image layout rather than a file? */
bool oci_ref_is(const char *text);
/* Parse "oci:<dir>", "oci:<dir>:<tag>" or "oci:<dir>@<alg>:<hex>": the dir
 * absolute (it ends at the first ':'), the tag as the OCI image layout's
 * ref.name grammar allows, at most OCI_TAG_MAX bytes, "latest" when absent.
 * EINVAL otherwise. Strings live in a. */
int oci_ref_parse(arena *a, const char *text, struct oci_ref *ret, bf_error *err);

enum oci_compression {
        OCI_UNCOMPRESSED,
        OCI_GZIP,
        OCI_ZSTD,
};

struct oci_layer {
        const char *media_type;
        struct digest digest;           /* of the blob as stored */
        uint64_t size;                  /* of the blob as stored */
        enum oci_compression compression;       /* by its media type */
        struct digest diff_id;          /* of the uncompressed tar, from the config */
};

struct deps;
struct oci_image;

/* Resolve ref for platform (matched as platforms.Only(platform) does) to a
 * manifest and read its config. deps (NULL: none) records every file read
 * (oci-layout, index.json, each blob) for a cached rendering. The result
 * lives in a and holds an open descriptor of the layout: oci_image_close. */
int oci_image_open(arena *a, const char *ref, const struct platform *platform, struct deps *deps,
                   struct oci_image **ret, bf_error *err);
void oci_image_close(struct oci_image *img);

const struct image *oci_image_config(const struct oci_image *img);
/* The digest of the manifest chosen, as text. */
const char *oci_image_manifest_digest(const struct oci_image *img);

/* The manifest's layers, checked for unpacking: media types it can unpack
 * (OCI and Docker tar layers, uncompressed, gzip or zstd; nothing
 * encrypted), digests, and as many diff IDs in the config. EINVAL otherwise. */
int oci_image_layers(const struct oci_image *img, const struct oci_layer **ret, size_t *ret_n, bf_error *err);
/* A read-only descriptor of a layer's blob, checked to be a regular file of
 * the layer's size (its content is checked by whoever reads it). */
int oci_image_layer_open(const struct oci_image *img, const struct oci_layer *layer, int *ret_fd, bf_error *err);
