/* OCI image configs (image-spec v1 Image), decoded as containerd does. */
#pragma once

#include <stdbool.h>

#include "spec.h"

struct set_entry {
        const char *key;
};
DEFINE_SLICE(set_map, struct set_entry);

struct image_config {
        const char *user;
        set_map exposed_ports;
        str_slice env;
        str_slice entrypoint;
        str_slice cmd;
        set_map volumes;
        const char *working_dir;
        str_map labels;
        const char *stop_signal;
        bool args_escaped;
};

struct image_rootfs {
        const char *type;
        str_slice diff_ids;
};

struct image_history {
        const char **created;
        const char *created_by;
        const char *author;
        const char *comment;
        bool empty_layer;
};
DEFINE_SLICE(history_slice, struct image_history);

struct image {
        const char **created;
        const char *author;
        const char *architecture;
        const char *variant;
        const char *os;
        const char *os_version;
        str_slice os_features;
        struct image_config config;
        struct image_rootfs rootfs;
        history_slice history;
};

extern const struct type type_image;
