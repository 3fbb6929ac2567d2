/* Open files and their writes (openfile.h). */
#include "openfile.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "content.h"
#include "ctl.h"
#include "files.h"
#include "lock.h"
#include "optline.h"
#include "options.h"
#include "optlist.h"
#include "platform.h"
#include "rootfs_image.h"
#include "tree.h"
#include "utf8.h"
#include "util.h"

struct openfiles {
        uid_t owner;
        mutex lock;
        struct openfile *all GUARDED_BY(lock);
};

struct openfile {
        struct openfiles *set;
        struct container *c;
        struct bundle *b;
        const struct file_def *f;
        uid_t opener;
        bool host_paths_allowed;        /* opened by the mount's owner or root */
        bool readable;
        struct content *content;        /* what reads show */
        struct openfile *prev, *next GUARDED_BY(set->lock);

        /* One write at a time (a process may write from several threads). */
        mutex lock;
        /* opts */
        bool replace GUARDED_BY(lock);          /* opened with O_TRUNC: the writes build a new list */
        bool refused GUARDED_BY(lock);          /* a write was refused: close keeps the old list */
        bool dirty GUARDED_BY(lock);            /* staged lines not committed yet */
        struct optlist *before GUARDED_BY(lock);        /* the list a first commit replaced */
        struct optline **staged GUARDED_BY(lock);
        size_t nstaged, cap GUARDED_BY(lock);
        buf partial GUARDED_BY(lock);           /* an unfinished last line */
        /* a control file */
        buf value GUARDED_BY(lock);             /* what this open file was given so far */
        struct value_state vs GUARDED_BY(lock);
};

int openfiles_new(uid_t owner, struct openfiles **ret, bf_error *err)
{
        struct openfiles *set = calloc(1, sizeof(*set));
        if (!set)
                return bf_error_oom(err);
        set->owner = owner;
        mutex_init(&set->lock);
        *ret = set;
        return 0;
}

static void openfile_free(struct openfile *of) NO_LOCK_ANALYSIS
{
        content_unref(of->content);
        buf_free(&of->partial);
        buf_free(&of->value);
        optline_free_all(of->staged, of->nstaged);
        optlist_unref(of->before);
        mutex_destroy(&of->lock);
        free(of);
}

void openfiles_free(struct openfiles *set) NO_LOCK_ANALYSIS
{
        if (!set)
                return;
        while (set->all) {
                struct openfile *of = set->all;
                set->all = of->next;
                container_put(of->c);
                openfile_free(of);
        }
        mutex_destroy(&set->lock);
        free(set);
}

int openfile_open(struct openfiles *set, struct container *c, const struct file_def *f, int flags, uid_t opener,
                  struct openfile **ret, bf_error *err)
{
        int acc = flags & O_ACCMODE;
        bool writing = acc != O_RDONLY;
        if (writing && !(f->mode & 0200))
                return bf_error_set(err, EACCES, "%s is read-only", f->name);
        struct openfile *of = calloc(1, sizeof(*of));
        if (!of)
                return bf_error_oom(err);
        *of = (struct openfile){
                .set = set,
                .c = c,
                .b = container_bundle(c),
                .f = f,
                /* As for any file, a write acts with the rights of the one who opened it. */
                .opener = opener,
                .host_paths_allowed = opener == set->owner || opener == 0,
                .readable = acc != O_WRONLY,
                .replace = f->kind == FILE_OPTS && writing && (flags & O_TRUNC),
        };
        mutex_init(&of->lock);
        of->dirty = of->replace;
        if (f->kind == FILE_ROOTFS_IMAGE || of->readable) {
                int r = f->kind == FILE_ROOTFS_IMAGE ?
                                rootfs_image_open(c, writing, of->readable ? &of->content : NULL, err) :
                                bundle_read(of->b, f, &of->content, err);
                if (r < 0) {
                        openfile_free(of);
                        return r;
                }
        }
        if (!container_get(c)) {
                openfile_free(of);
                return bf_error_set(err, ENOENT, "the container was removed");
        }
        mutex_lock(&set->lock);
        of->next = set->all;
        if (of->next)
                of->next->prev = of;
        set->all = of;
        mutex_unlock(&set->lock);
        *ret = of;
        return 0;
}

uid_t openfile_opener(const struct openfile *of)
{
        return of->opener;
}

int openfile_read(struct openfile *of, off_t off, size_t size, struct content **ret, size_t *ret_start,
                  size_t *ret_len)
{
        if (!of->readable)
                return -EBADF;
        size_t len = content_len(of->content);
        size_t start = off < 0 || (size_t) off >= len ? len : (size_t) off;
        *ret = content_ref(of->content);
        *ret_start = start;
        *ret_len = len - start < size ? len - start : size;
        return 0;
}

void openfile_release(struct openfile *of)
{
        struct openfiles *set = of->set;
        mutex_lock(&set->lock);
        if (of->prev)
                of->prev->next = of->next;
        else
                set->all = of->next;
        if (of->next)
                of->next->prev = of->prev;
        mutex_unlock(&set->lock);
        container_put(of->c);
        openfile_free(of);
}

/* ---- who may write what ------------------------------------------------------- */

/* Lines that name host paths (optline_uses_host_paths) are kept to the
 * mount's owner and root: rendering reads those paths with the daemon's
 * credentials and in its mount namespace, beyond the kernel's checks of the
 * caller (which, holding CAP_DAC_OVERRIDE, may write any file of the tree).
 * Checked before anything looks at the paths, so a refusal tells nothing
 * about them. */
static int refuse_host_paths(const struct openfile *of, struct optline *const *lines, size_t n, bf_error *err)
{
        if (of->host_paths_allowed)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (!optline_uses_host_paths(lines[i]))
                        continue;
                int r = bf_error_set(err, EPERM, "%s: only the mount's owner (uid %u) or root may name host paths, "
                                     "not uid %u", optline_option_name(lines[i]), (unsigned) of->set->owner,
                                     (unsigned) of->opener);
                if (n > 1)
                        bf_error_prefix(err, "line %zu", i + 1);
                return r;
        }
        return 0;
}

/* A refusal: `error` says why, and the errno goes back. */
static int refuse(struct openfile *of, int r, const bf_error *err)
{
        bundle_refuse(of->b, err);
        return r;
}

static void optlines_freep(struct optline ***lines)
{
        free(*lines);
}

/* ---- opts: appending ------------------------------------------------------------ */

/* Lines of opts text, parsed here once, checked and kept. */
static int append_text(struct openfile *of, const char *text, size_t len, bf_error *err)
{
        _cleanup_(optlines_freep) struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(text, len, &lines, &n, err);
        if (r < 0)
                return refuse(of, r, err);
        r = refuse_host_paths(of, lines, n, err);
        if (r == 0)
                r = bundle_commit(of->b, &(struct change){ .kind = CHANGE_APPEND, .lines = lines, .n = n }, err);
        else
                r = refuse(of, r, err);
        for (size_t i = 0; i < n; i++)
                optline_unref(lines[i]);
        return r;
}

/* The kernel hands a write over in pieces of at most 1 MiB, cut where the
 * writer's buffer crosses 256 pages: a piece that ends within a line and is
 * that large is continued by the next one. */
#define PAGE_SPLIT_MIN (OPTS_WRITE_MAX - 4095)

static int write_append(struct openfile *of, const char *data, size_t size, bf_error *err) REQUIRES(of->lock)
{
        bool cut = size >= PAGE_SPLIT_MIN && data[size - 1] != '\n';
        /* A piece of exactly 1 MiB that ends within a line, with nothing
         * before it, is the start of a write over the limit. */
        if (size > OPTS_WRITE_MAX || (cut && size == OPTS_WRITE_MAX && !of->partial.len))
                return refuse(of, bf_error_set(err, EFBIG, "a write to opts carries at most %d bytes",
                                               OPTS_WRITE_MAX), err);
        buf text = { 0 };
        buf_put(&text, of->partial.p ? of->partial.p : "", of->partial.len);
        buf_put(&text, data, size);
        size_t keep = text.len;
        if (cut) {
                /* hold the unfinished line for the next piece (or the close) */
                while (keep && text.p[keep - 1] != '\n')
                        keep--;
        }
        int r = 0;
        if (text.oom)
                r = bf_error_oom(err);
        else if (text.len - keep > OPTLINE_MAX)
                r = refuse(of, bf_error_set(err, EFBIG, "an option line is longer than %d bytes", OPTLINE_MAX), err);
        else if (keep)
                r = append_text(of, text.p, keep, err);
        /* A refused write takes the start of its line (held from an earlier
         * piece of the same write) with it: close must not keep a torn line. */
        of->partial.len = 0;
        if (r == 0)
                buf_put(&of->partial, text.p + keep, text.len - keep);
        buf_free(&text);
        return r;
}

/* ---- opts: replacing -------------------------------------------------------------- */

/* Room for n more staged lines. */
static int staged_reserve(struct openfile *of, size_t n, bf_error *err) REQUIRES(of->lock)
{
        if (of->nstaged + n <= of->cap)
                return 0;
        size_t cap = of->cap ? of->cap : 16;
        while (cap < of->nstaged + n)
                cap *= 2;
        struct optline **s = realloc(of->staged, cap * sizeof(*s));
        if (!s)
                return bf_error_oom(err);
        of->staged = s;
        of->cap = cap;
        return 0;
}

/* Complete lines are checked against the staged list as they arrive. */
static int stage_lines(struct openfile *of, const char *text, size_t len, bf_error *err) REQUIRES(of->lock)
{
        _cleanup_(optlines_freep) struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(text, len, &lines, &n, err);
        if (r < 0)
                return r;
        r = refuse_host_paths(of, lines, n, err);
        if (r == 0 && n)
                r = bundle_check(of->b, of->staged, of->nstaged, lines, n, err);
        if (r == 0)
                r = staged_reserve(of, n, err);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        optline_unref(lines[i]);
                return r;
        }
        memcpy(of->staged + of->nstaged, lines, n * sizeof(*lines));
        of->nstaged += n;
        return 0;
}

/* A replace commits at every close (flush), so that close reports a
 * failure and a read right after it sees the new list. But a shell's
 * `cmd > opts` closes a copy of the descriptor before cmd writes, which
 * commits the list staged so far (empty). A write refused after such a
 * commit puts back the list the commit replaced: close keeps the old list. */
static int replace_refused(struct openfile *of, int r, const bf_error *why) REQUIRES(of->lock)
{
        of->refused = true;
        if (of->before) {
                bf_error err = { 0 };
                struct change back = { .kind = CHANGE_REPLACE, .lines = optlist_lines(of->before),
                                       .n = optlist_len(of->before) };
                (void) bundle_commit(of->b, &back, &err);
                optlist_unref(TAKE_PTR(of->before));
        }
        return refuse(of, r, why);
}

static int write_replace(struct openfile *of, const char *data, size_t size, bf_error *err) REQUIRES(of->lock)
{
        /* as for appends: a first piece of exactly 1 MiB ending within a line
         * starts a write over the limit */
        if (size == OPTS_WRITE_MAX && data[size - 1] != '\n' && !of->partial.len)
                return bf_error_set(err, EFBIG, "a write to opts carries at most %d bytes", OPTS_WRITE_MAX);
        if (of->partial.len + size > OPTS_WRITE_MAX)
                return bf_error_set(err, EFBIG, "an option line is longer than %d bytes", OPTS_WRITE_MAX);
        const char *last_nl = NULL;
        for (size_t i = size; i-- > 0;)
                if (data[i] == '\n') {
                        last_nl = data + i;
                        break;
                }
        if (!last_nl) {
                buf_put(&of->partial, data, size);
                return of->partial.oom ? bf_error_oom(err) : 0;
        }
        size_t head = (size_t) (last_nl - data) + 1;
        buf text = { 0 };
        buf_put(&text, of->partial.p ? of->partial.p : "", of->partial.len);
        buf_put(&text, data, head);
        int r = text.oom ? bf_error_oom(err) : stage_lines(of, text.p, text.len, err);
        buf_free(&text);
        if (r < 0)
                return r;
        of->partial.len = 0;
        buf_put(&of->partial, data + head, size - head);
        of->dirty = true;
        return 0;
}

/* Commit the staged list (at close). */
static int replace_commit(struct openfile *of, bf_error *err) REQUIRES(of->lock)
{
        if (!of->dirty || of->refused)
                return 0;
        if (of->partial.len) {
                int r = stage_lines(of, of->partial.p, of->partial.len, err);
                of->partial.len = 0;
                if (r < 0)
                        return replace_refused(of, r, err);
        }
        /* the list before the first commit, to put back if a later write is refused */
        struct optlist *before = of->before ? NULL : bundle_list(of->b);
        int r = bundle_commit(of->b, &(struct change){ .kind = CHANGE_REPLACE, .lines = of->staged,
                                                       .n = of->nstaged }, err);
        if (r < 0) {
                optlist_unref(before);
                return replace_refused(of, r, err);
        }
        if (before)
                of->before = before;
        of->dirty = false;
        return 0;
}

/* ---- control files and platform ------------------------------------------------------ */

/* One open file writes one value, whether in one write(2) or line by line
 * as a shell does: each write extends it, and the option line it makes
 * replaces the one kept before. */
static int write_control(struct openfile *of, const char *data, size_t size, bf_error *err) REQUIRES(of->lock)
{
        if (of->value.len + size > CONTROL_VALUE_MAX)
                return refuse(of, bf_error_set(err, EFBIG, "a value is at most %d bytes", CONTROL_VALUE_MAX), err);
        _cleanup_(buf_free) buf value = { 0 };
        buf_put(&value, of->value.p ? of->value.p : "", of->value.len);
        buf_put(&value, data, size);
        if (value.oom)
                return bf_error_oom(err);
        _cleanup_(optlines_freep) struct optline **lines = NULL;
        size_t n = 0;
        int r = ctl_parse(of->f->ctl, value.p, value.len, &lines, &n, err);
        if (r < 0)
                return refuse(of, r, err);
        r = refuse_host_paths(of, lines, n, err);
        if (r < 0) {
                bf_error_prefix(err, "%s", of->f->name);
                r = refuse(of, r, err);
        } else {
                r = bundle_commit(of->b, &(struct change){ .kind = CHANGE_VALUE, .lines = lines, .n = n,
                                                           .value = &of->vs }, err);
        }
        for (size_t i = 0; i < n; i++)
                optline_unref(lines[i]);
        if (r == 0) {
                buf_free(&of->value);
                of->value = value;
                value = (buf){ 0 };
        }
        return r;
}

/* A platform as written ("linux/arm64\n"), normalised. */
static int platform_value(const char *data, size_t size, char *ret, size_t ret_size, bf_error *err)
{
        if (memchr(data, '\0', size))
                return bf_error_set(err, EINVAL, "a value may not contain a NUL byte");
        if (!utf8_valid(data, size))
                return bf_error_set(err, EINVAL, "a value must be valid UTF-8");
        while (size && (data[size - 1] == '\n' || data[size - 1] == ' ' || data[size - 1] == '\t'))
                size--;
        if (size == 0)
                return bf_error_set(err, EINVAL, "empty platform");
        if (size > PLATFORM_MAX - 1)
                return bf_error_set(err, EFBIG, "platform longer than %d bytes", PLATFORM_MAX - 1);
        char text[PLATFORM_MAX + 1];
        memcpy(text, data, size);
        text[size] = '\0';
        struct platform p;
        int r = platform_parse(text, &p, err);
        if (r < 0)
                return r;
        platform_format(&p, ret, ret_size);
        return 0;
}

static int write_platform(struct openfile *of, const char *data, size_t size, bf_error *err)
{
        char platform[3 * PLATFORM_MAX];
        int r = platform_value(data, size, platform, sizeof(platform), err);
        if (r < 0)
                return refuse(of, r, err);
        return bundle_commit(of->b, &(struct change){ .kind = CHANGE_PLATFORM, .platform = platform }, err);
}

/* ---- the entry points ------------------------------------------------------------------- */

int openfile_write(struct openfile *of, const char *data, size_t size, bf_error *err)
{
        if (container_removed(of->c))
                return bf_error_set(err, ENOENT, "the container was removed");
        int r = -EACCES;
        mutex_lock(&of->lock);
        switch (of->f->kind) {
        case FILE_OPTS:
                if (!of->replace) {
                        r = write_append(of, data, size, err);
                        break;
                }
                r = of->refused ? bf_error_set(err, EINVAL, "an earlier write to this open file was refused") :
                                  write_replace(of, data, size, err);
                if (r < 0)
                        r = replace_refused(of, r, err);
                break;
        case FILE_PLATFORM:
                r = write_platform(of, data, size, err);
                break;
        case FILE_CONTROL:
                r = write_control(of, data, size, err);
                break;
        case FILE_CONFIG:
        case FILE_ERROR:
        case FILE_ROOTFS_IMAGE:         /* rootfs_image_write, answered later */
                break;
        }
        mutex_unlock(&of->lock);
        return r;
}

int openfile_flush(struct openfile *of, bf_error *err)
{
        int r = 0;
        mutex_lock(&of->lock);
        if (of->f->kind == FILE_OPTS && !of->replace && of->partial.len) {
                /* the end of a write cut by the kernel, with no final newline */
                r = append_text(of, of->partial.p, of->partial.len, err);
                of->partial.len = 0;
        } else if (of->replace) {
                r = replace_commit(of, err);
        }
        mutex_unlock(&of->lock);
        return r;
}

int openfile_truncate(struct container *c, const struct file_def *f, struct openfile *of, off_t size,
                      bf_error *err)
{
        if (size != 0 && of && f->kind == FILE_CONTROL) {
                /* rsync --inplace cuts the file to what it wrote: the value
                 * this open file was given is all there is. */
                mutex_lock(&of->lock);
                bool whole = (size_t) size == of->value.len;
                mutex_unlock(&of->lock);
                return whole ? 0 : -EINVAL;
        }
        if (size != 0)
                return -EINVAL;
        if (f->kind == FILE_CONFIG || f->kind == FILE_ERROR)
                return -EACCES;
        /* A shell's > opens control files with O_TRUNC before writing:
         * nothing to do but for opts, which truncate(opts, 0) empties. */
        if (f->kind != FILE_OPTS)
                return 0;
        if (of) {
                mutex_lock(&of->lock);
                bool replacing = of->replace;
                mutex_unlock(&of->lock);
                if (replacing)
                        return 0;
        }
        return bundle_commit(container_bundle(c), &(struct change){ .kind = CHANGE_REPLACE }, err);
}

/* ---- a whole content at once ----------------------------------------------------------- */

/* A new list, parsed and checked as a whole. */
static int commit_list(struct openfile *of, const char *data, size_t len, bf_error *err)
{
        _cleanup_(optlines_freep) struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(data, len, &lines, &n, err);
        if (r < 0)
                return refuse(of, r, err);
        r = refuse_host_paths(of, lines, n, err);
        if (r == 0)
                r = bundle_commit(of->b, &(struct change){ .kind = CHANGE_REPLACE, .lines = lines, .n = n }, err);
        else
                r = refuse(of, r, err);
        for (size_t i = 0; i < n; i++)
                optline_unref(lines[i]);
        return r;
}

int openfile_commit_whole(struct openfiles *set, struct container *c, const struct file_def *f, uid_t opener,
                          const char *data, size_t len, bf_error *err) NO_LOCK_ANALYSIS
{
        if (!(f->mode & 0200))
                return bf_error_set(err, EACCES, "%s is read-only", f->name);
        if (!container_get(c))
                return bf_error_set(err, ENOENT, "the container was removed");
        /* An open file of its own, never listed: the checks are a write's. */
        struct openfile of = {
                .set = set,
                .c = c,
                .b = container_bundle(c),
                .f = f,
                .opener = opener,
                .host_paths_allowed = opener == set->owner || opener == 0,
        };
        mutex_init(&of.lock);
        mutex_lock(&of.lock);
        int r = f->kind == FILE_OPTS ? commit_list(&of, data, len, err) :
                f->kind == FILE_PLATFORM ? write_platform(&of, data, len, err) :
                                           write_control(&of, data, len, err);
        mutex_unlock(&of.lock);
        buf_free(&of.value);
        mutex_destroy(&of.lock);
        container_put(c);
        return r;
}
