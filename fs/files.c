/* The files of a container directory (files.h). */
#include "files.h"

#include <pthread.h>
#include <stdlib.h>

#include "ctl.h"
#include "util.h"

static const struct file_def own[] = {
        { .name = "config.json", .kind = FILE_CONFIG, .mode = 0444 },
        { .name = "opts", .kind = FILE_OPTS, .mode = 0644 },
        { .name = "platform", .kind = FILE_PLATFORM, .mode = 0644 },
        { .name = "error", .kind = FILE_ERROR, .mode = 0444 },
};

/* Last, so that the control files keep their inode numbers. */
static const struct file_def last[] = {
        { .name = "rootfs.image", .kind = FILE_ROOTFS_IMAGE, .mode = 0644 },
};

static struct file_def *defs;
static size_t ndefs;
static pthread_once_t defs_once = PTHREAD_ONCE_INIT;

static void defs_make(void)
{
        size_t n = ARRAY_SIZE(own) + ctl_count() + ARRAY_SIZE(last);
        if (n > FILES_MAX)
                return;
        struct file_def *d = calloc(n, sizeof(*d));
        if (!d)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(own); i++)
                d[i] = own[i];
        for (size_t i = 0; i < ctl_count(); i++)
                d[ARRAY_SIZE(own) + i] = (struct file_def){
                        .name = ctl_name(ctl_at(i)), .kind = FILE_CONTROL, .mode = 0644, .ctl = ctl_at(i),
                };
        for (size_t i = 0; i < ARRAY_SIZE(last); i++)
                d[ARRAY_SIZE(own) + ctl_count() + i] = last[i];
        defs = d;
        ndefs = n;
}

int files_init(bf_error *err)
{
        pthread_once(&defs_once, defs_make);
        return defs ? 0 : bf_error_oom(err);
}

size_t files_count(void)
{
        return ndefs;
}

const struct file_def *file_at(size_t i)
{
        return &defs[i];
}

const struct file_def *file_find(const char *name)
{
        for (size_t i = 0; i < ndefs; i++)
                if (streq(defs[i].name, name))
                        return &defs[i];
        return NULL;
}

size_t file_index(const struct file_def *f)
{
        return (size_t) (f - defs);
}
