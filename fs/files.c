/* The files of a container directory: the filesystem's own, then every
 * control file of core/ctl.c. */
#include <pthread.h>
#include <stdlib.h>

#include "ctl.h"
#include "internal.h"
#include "util.h"

static const struct file_def own[] = {
        { .name = "config.json", .kind = FILE_CONFIG, .mode = 0444 },
        { .name = "opts", .kind = FILE_OPTS, .mode = 0644 },
        { .name = "platform", .kind = FILE_PLATFORM, .mode = 0644 },
        { .name = "error", .kind = FILE_ERROR, .mode = 0444 },
};

const struct file_def *file_defs;
size_t file_defs_count;

static pthread_once_t defs_once = PTHREAD_ONCE_INIT;

static void defs_make(void)
{
        size_t n = ARRAY_SIZE(own) + ctl_count();
        struct file_def *defs = calloc(n, sizeof(*defs));
        if (!defs)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(own); i++)
                defs[i] = own[i];
        for (size_t i = 0; i < ctl_count(); i++)
                defs[ARRAY_SIZE(own) + i] = (struct file_def){
                        .name = ctl_name(ctl_at(i)), .kind = FILE_CONTROL, .mode = 0644, .ctl = ctl_at(i),
                };
        file_defs = defs;
        file_defs_count = n;
}

int file_defs_init(bf_error *err)
{
        pthread_once(&defs_once, defs_make);
        return file_defs ? 0 : bf_error_set(err, ENOMEM, "out of memory");
}

const struct file_def *file_def_find(const char *name)
{
        for (size_t i = 0; i < file_defs_count; i++)
                if (streq(file_defs[i].name, name))
                        return &file_defs[i];
        return NULL;
}
