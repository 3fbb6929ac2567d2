/* Descriptors of image-spec's v1.Image, for decoding image configs. */
#include "image.h"

#include "model_macros.h"

static const struct type type_empty_struct = { .kind = T_STRUCT, .name = "struct {}", .size = 0 };
static MAP_TYPE(type_set_map, "map[string]struct {}", type_empty_struct, struct set_entry);
static MAP_TYPE(type_labels, "map[string]string", type_string, struct str_entry);
static SLICE_TYPE(type_strings, "[]string", type_string);
static NAMED_STRING(type_digest, "digest.Digest");
static SLICE_TYPE(type_digests, "[]digest.Digest", type_digest);
static PTR_TYPE(type_ptr_time, "*time.Time", type_time);

static const struct field config_fields[] = {
        FIELD_OMIT(struct image_config, user, "User", type_string),
        FIELD_OMIT(struct image_config, exposed_ports, "ExposedPorts", type_set_map),
        FIELD_OMIT(struct image_config, env, "Env", type_strings),
        FIELD_OMIT(struct image_config, entrypoint, "Entrypoint", type_strings),
        FIELD_OMIT(struct image_config, cmd, "Cmd", type_strings),
        FIELD_OMIT(struct image_config, volumes, "Volumes", type_set_map),
        FIELD_OMIT(struct image_config, working_dir, "WorkingDir", type_string),
        FIELD_OMIT(struct image_config, labels, "Labels", type_labels),
        FIELD_OMIT(struct image_config, stop_signal, "StopSignal", type_string),
        FIELD_OMIT(struct image_config, args_escaped, "ArgsEscaped", type_bool),
};
static STRUCT_TYPE(type_image_config, "v1.ImageConfig", struct image_config, config_fields);

static const struct field rootfs_fields[] = {
        FIELD(struct image_rootfs, type, "type", type_string),
        FIELD(struct image_rootfs, diff_ids, "diff_ids", type_digests),
};
static STRUCT_TYPE(type_image_rootfs, "v1.RootFS", struct image_rootfs, rootfs_fields);

static const struct field history_fields[] = {
        FIELD_OMIT(struct image_history, created, "created", type_ptr_time),
        FIELD_OMIT(struct image_history, created_by, "created_by", type_string),
        FIELD_OMIT(struct image_history, author, "author", type_string),
        FIELD_OMIT(struct image_history, comment, "comment", type_string),
        FIELD_OMIT(struct image_history, empty_layer, "empty_layer", type_bool),
};
static STRUCT_TYPE(type_image_history, "v1.History", struct image_history, history_fields);
static SLICE_TYPE(type_history_slice, "[]v1.History", type_image_history);

static const struct field image_fields[] = {
        FIELD_OMIT(struct image, created, "created", type_ptr_time),
        FIELD_OMIT(struct image, author, "author", type_string),
        FIELD(struct image, architecture, "architecture", type_string),
        FIELD_OMIT(struct image, variant, "variant", type_string),
        FIELD(struct image, os, "os", type_string),
        FIELD_OMIT(struct image, os_version, "os.version", type_string),
        FIELD_OMIT(struct image, os_features, "os.features", type_strings),
        FIELD_OMIT(struct image, config, "config", type_image_config),
        FIELD(struct image, rootfs, "rootfs", type_image_rootfs),
        FIELD_OMIT(struct image, history, "history", type_history_slice),
};
STRUCT_TYPE(type_image, "v1.Image", struct image, image_fields);
