/* Open files and their writes (openfile.h). */
#include "openfile.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "content.h"
#include "ctl.h"
#include "files.h"
#include "holders.h"
#include "lock.h"
#include "optline.h"
#include "options.h"
#include "optlist.h"
#include "pins.h"
#include "platform.h"
#include "rootfs_image.h"
#include "tree.h"
#include "utf8.h"
#include "util.h"

struct openfiles {
        uid_t owner;
        struct pins *pins;
        struct holders *holders;        /* set once mounted (openfiles_start) */
        mutex lock;
        struct openfile *all GUARDED_BY(lock);
};

struct openfile {
        struct openfiles *set;
        struct container *c;
        struct bundle *b;
        const struct file_def *f;
        uint64_t ino;
        uid_t opener;
        bool host_paths_allowed;        /* opened by the mount's owner or root */
        bool counted;                   /* what it holds counts in the opener's pins */
        bool readable;
        struct openfile *prev, *next GUARDED_BY(set->lock);

        /* What reads show. */
        mutex read_lock;
        struct content *content GUARDED_BY(read_lock);
        bool read_once GUARDED_BY(read_lock);

        /* One write at a time (a process may write from several threads). */
        mutex lock;
        size_t written GUARDED_BY(lock);        /* bytes taken (opts: since the open or the replace began) */
        /* opts */
        bool replace GUARDED_BY(lock);          /* the writes build a new list */
        bool refused GUARDED_BY(lock);          /* a write was refused: close keeps the old list */
        bool dirty GUARDED_BY(lock);            /* replace: staged lines not committed yet */
        bool wrote GUARDED_BY(lock);            /* replace: bytes taken since the last commit */
        struct optlist *before GUARDED_BY(lock);        /* the list a first commit replaced */
        /* The lines this open file wrote: the new list (replace), or those
         * it appended (which a truncate to what it wrote turns into one). */
        struct optline **staged GUARDED_BY(lock);
        size_t nstaged, cap GUARDED_BY(lock);
        bool forgot GUARDED_BY(lock);           /* appended more lines than a list holds: not remembered */
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
        int r = pins_new(&set->pins, err);
        if (r < 0) {
                openfiles_free(set);
                return r;
        }
        *ret = set;
        return 0;
}

int openfiles_start(struct openfiles *set, const char *mountpoint, bf_error *err)
{
        return holders_new(mountpoint, &set->holders, err);
}

static void staged_clear(struct openfile *of) NO_LOCK_ANALYSIS
{
        for (size_t i = 0; i < of->nstaged; i++)
                optline_unref(of->staged[i]);
        of->nstaged = 0;
}

static void openfile_free(struct openfile *of) NO_LOCK_ANALYSIS
{
        if (of->counted) {
                pins_swap(of->set->pins, of->opener, NULL, of->content, &(bf_error){ 0 });
                pins_close(of->set->pins, of->opener);
        }
        content_unref(of->content);
        buf_free(&of->partial);
        buf_free(&of->value);
        staged_clear(of);
        free(of->staged);
        optlist_unref(of->before);
        mutex_destroy(&of->lock);
        mutex_destroy(&of->read_lock);
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
        pins_free(set->pins);
        holders_free(set->holders);
        mutex_destroy(&set->lock);
        free(set);
}

int openfile_open(struct openfiles *set, struct container *c, const struct file_def *f, uint64_t ino, int flags,
                  uid_t opener, struct openfile **ret, bf_error *err)
{
        int acc = flags & O_ACCMODE;
        bool writing = acc != O_RDONLY;
        if (writing && !(f->mode & 0200))
                return bf_error_set(err, EACCES, "%s is read-only", f->name);
        bool counted = opener != set->owner && opener != 0;
        int r = counted ? pins_open(set->pins, opener, err) : 0;
        if (r < 0)
                return r;
        struct openfile *of = calloc(1, sizeof(*of));
        if (!of) {
                if (counted)
                        pins_close(set->pins, opener);
                return bf_error_oom(err);
        }
        *of = (struct openfile){
                .set = set,
                .c = c,
                .b = container_bundle(c),
                .f = f,
                .ino = ino,
                /* As for any file, a write acts with the rights of the one who opened it. */
                .opener = opener,
                .host_paths_allowed = opener == set->owner || opener == 0,
                .counted = counted,
                .readable = acc != O_WRONLY,
                .replace = f->kind == FILE_OPTS && writing && (flags & O_TRUNC),
        };
        mutex_init(&of->lock);
        mutex_init(&of->read_lock);
        of->dirty = of->replace;
        if (f->kind == FILE_ROOTFS_IMAGE || of->readable) {
                r = f->kind == FILE_ROOTFS_IMAGE ?
                            rootfs_image_open(c, writing, of->readable ? &of->content : NULL, err) :
                            bundle_read(of->b, f, &of->content, err);
                if (r == 0 && counted && of->content)
                        r = pins_swap(set->pins, opener, of->content, NULL, err);
                if (r < 0) {
                        if (counted)
                                content_unref(TAKE_PTR(of->content));   /* not counted */
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

/* ---- reading ------------------------------------------------------------------ */

/* Hold now instead of what the open file holds: within the opener's bound. */
static int hold(struct openfile *of, struct content *now, bf_error *err)
{
        mutex_lock(&of->read_lock);
        struct content *was = of->content;
        int r = of->counted ? pins_swap(of->set->pins, of->opener, now, was, err) : 0;
        if (r == 0)
                of->content = content_ref(now);
        mutex_unlock(&of->read_lock);
        if (r == 0)
                content_unref(was);
        return r;
}

/* Does now continue was (was's bytes are its start)? */
static bool continues(const struct content *now, const struct content *was)
{
        size_t len = content_len(was);
        return content_len(now) > len && memcmp(content_data(now), content_data(was), len) == 0;
}

/* Is c what a read of the open file's file shows now? (rootfs.image's
 * progress is made afresh at each look) */
static bool shows_now(struct openfile *of, const struct content *c, bool check_inputs)
{
        if (of->f->kind == FILE_ROOTFS_IMAGE)
                return false;
        return bundle_shows(of->b, of->f, c, check_inputs);
}

int openfile_read(struct openfile *of, off_t off, size_t size, struct content **ret, size_t *ret_start,
                  size_t *ret_len, bf_error *err)
{
        if (!of->readable)
                return -EBADF;
        mutex_lock(&of->read_lock);
        struct content *c = content_ref(of->content);
        bool first = !of->read_once;
        of->read_once = true;
        mutex_unlock(&of->read_lock);
        /* A read at offset 0 shows the current content, as procfs does, and
         * so does one at the end once the list moved on by appending
         * (tail -f): a reader reading on from its offset never mixes two
         * contents. The first read follows the open: only a new list
         * version counts. */
        bool at_start = off <= 0;
        if ((at_start || (size_t) off >= content_len(c)) && !shows_now(of, c, at_start && !first)) {
                struct content *now = NULL;
                int r = of->f->kind == FILE_ROOTFS_IMAGE ? rootfs_image_open(of->c, false, &now, err) :
                                                           bundle_read(of->b, of->f, &now, err);
                /* Past the end, only an append is shown (the end stays the
                 * end otherwise), and a failure leaves the end as it was. */
                if (r == 0 && (at_start || continues(now, c)))
                        r = hold(of, now, err);
                else if (r == 0)
                        r = 1;
                if (r == 0) {
                        content_unref(c);
                        c = now;
                } else {
                        content_unref(now);
                        if (r < 0 && at_start) {
                                content_unref(c);
                                return r;
                        }
                }
        }
        size_t len = content_len(c);
        size_t start = off < 0 || (size_t) off >= len ? len : (size_t) off;
        *ret = c;
        *ret_start = start;
        *ret_len = len - start < size ? len - start : size;
        return 0;
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

/* ---- opts: how a write splits into lines ------------------------------------------ */

/* The kernel hands a write over in pieces of at most 1 MiB (OPTS_WRITE_MAX
 * is the session's max_write), cut where the writer's buffer crosses 256
 * pages: only the first piece of a write can end within a line and be
 * this large (a last piece ends where the write does). */
#define PAGE_SPLIT_MIN (OPTS_WRITE_MAX - 4095)

/* How a piece of a write to opts splits: its first *ret_head bytes end the
 * lines handled now (after the unfinished line the open file holds), the
 * rest of the *ret_count bytes it takes waits as the unfinished line. */
static int opts_piece(struct openfile *of, const char *data, size_t size, size_t *ret_head, size_t *ret_count,
                      bf_error *err) REQUIRES(of->lock)
{
        if (size > OPTS_WRITE_MAX)
                return bf_error_set(err, EFBIG, "a write to opts carries at most %d bytes", OPTS_WRITE_MAX);
        if (data[size - 1] == '\n') {
                *ret_head = *ret_count = size;
                return 0;
        }
        /* A piece of exactly 1 MiB, ending within a line, with nothing
         * before it: the start of a write over the limit. */
        if (size == OPTS_WRITE_MAX && !of->partial.len)
                return bf_error_set(err, EFBIG, "a write to opts carries at most %d bytes", OPTS_WRITE_MAX);
        const char *nl = memrchr(data, '\n', size);
        size_t head = nl ? (size_t) (nl - data) + 1 : 0;
        if (size >= PAGE_SPLIT_MIN) {
                /* The kernel cut the writer's buffer within a line: keep the
                 * whole lines and answer a short count, so the writer sends
                 * the rest again from the line's start. A piece this long
                 * with no line end is part of a line too long to take so. */
                if (!nl)
                        return bf_error_set(err, EFBIG, "an option line written in one write(2) is at most %d bytes",
                                            PAGE_SPLIT_MIN - 1);
                *ret_head = *ret_count = head;
                return 0;
        }
        size_t tail = size - head + (head ? 0 : of->partial.len);
        if (tail > OPTLINE_MAX)
                return bf_error_set(err, EFBIG, "an option line is longer than %d bytes", OPTLINE_MAX);
        *ret_head = head;
        *ret_count = size;
        return 0;
}

/* Whole lines of a piece, handled by `lines` (append or stage), with the
 * unfinished line before them; what follows them waits. */
static int opts_write(struct openfile *of, const char *data, size_t size, size_t *ret_count,
                      int (*lines)(struct openfile *of, const char *text, size_t len, bf_error *err), bf_error *err)
        REQUIRES(of->lock)
{
        size_t head = 0, count = 0;
        int r = opts_piece(of, data, size, &head, &count, err);
        _cleanup_(buf_free) buf text = { 0 };
        if (r == 0 && head) {
                buf_put(&text, of->partial.p ? of->partial.p : "", of->partial.len);
                buf_put(&text, data, head);
                r = text.oom ? bf_error_oom(err) : lines(of, text.p, text.len, err);
        }
        if (r < 0) {
                /* the unfinished line goes with a refusal: nothing may keep it torn */
                of->partial.len = 0;
                return r;
        }
        if (head)
                of->partial.len = 0;
        buf_put(&of->partial, data + head, count - head);
        if (of->partial.oom) {
                of->partial.len = 0;
                return bf_error_oom(err);
        }
        of->written += count;
        *ret_count = count;
        return 0;
}

/* ---- opts: appending ------------------------------------------------------------ */

/* Lines of opts text, parsed here once, checked and kept; the open file
 * remembers them (a truncate to what it wrote makes them the list). */
static int append_text(struct openfile *of, const char *text, size_t len, bf_error *err) REQUIRES(of->lock)
{
        _cleanup_(optlines_freep) struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(text, len, &lines, &n, err);
        if (r < 0)
                return refuse(of, r, err);
        r = refuse_host_paths(of, lines, n, err);
        if (r < 0)
                r = refuse(of, r, err);
        else
                r = bundle_commit(of->b, &(struct change){ .kind = CHANGE_APPEND, .lines = lines, .n = n }, err);
        if (r == 0 && !of->forgot && of->nstaged + n > OPTS_LINES_MAX) {
                staged_clear(of);
                of->forgot = true;
        }
        if (r == 0 && n && !of->forgot && staged_reserve(of, n, &(bf_error){ 0 }) == 0) {
                memcpy(of->staged + of->nstaged, lines, n * sizeof(*lines));
                of->nstaged += n;
        } else {
                for (size_t i = 0; i < n; i++)
                        optline_unref(lines[i]);
        }
        return r;
}

/* The unfinished last line, at the last close: a line without its newline. */
static int append_tail(struct openfile *of, bf_error *err) REQUIRES(of->lock)
{
        if (!of->partial.len)
                return 0;
        int r = append_text(of, of->partial.p, of->partial.len, err);
        of->partial.len = 0;
        return r;
}

/* ---- opts: replacing -------------------------------------------------------------- */

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
        if (n)
                memcpy(of->staged + of->nstaged, lines, n * sizeof(*lines));
        of->nstaged += n;
        return 0;
}

/* A replace commits at the last close, so that it reports a failure and a
 * read right after it sees the new list; a close that was not the last
 * (holders.h) leaves it for later. Should a commit come too early (a
 * descriptor held where holders.h does not look) and a later write be
 * refused, the list the commit replaced is put back: close keeps the old
 * list. */
static int replace_refused(struct openfile *of, int r, const bf_error *why) REQUIRES(of->lock)
{
        of->refused = true;
        if (of->before && (optlist_lines(of->before) || !optlist_len(of->before))) {
                bf_error err = { 0 };
                struct change back = { .kind = CHANGE_REPLACE, .lines = optlist_lines(of->before),
                                       .n = optlist_len(of->before) };
                (void) bundle_commit(of->b, &back, &err);
                optlist_unref(TAKE_PTR(of->before));
        }
        return refuse(of, r, why);
}

static int write_replace(struct openfile *of, const char *data, size_t size, size_t *ret_count, bf_error *err)
        REQUIRES(of->lock)
{
        if (of->refused)
                return bf_error_set(err, EINVAL, "an earlier write to this open file was refused");
        int r = opts_write(of, data, size, ret_count, stage_lines, err);
        if (r < 0)
                return replace_refused(of, r, err);
        of->dirty = of->wrote = true;
        return 0;
}

/* Commit the staged list. */
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
        of->dirty = of->wrote = false;
        return 0;
}

/* The open file starts a new list now: empty, or what it wrote so far. */
static void replace_begin(struct openfile *of, bool keep_written) REQUIRES(of->lock)
{
        if (!keep_written) {
                staged_clear(of);
                of->partial.len = 0;
                of->written = 0;
        }
        of->replace = of->dirty = true;
        of->refused = of->wrote = false;
}

/* ---- control files and platform ------------------------------------------------------ */

/* The value a read shows, without its final newline. */
static int shown_value(struct openfile *of, struct content **ret, size_t *ret_len, bf_error *err)
{
        int r = bundle_read(of->b, of->f, ret, err);
        if (r < 0)
                return r;
        size_t len = content_len(*ret);
        if (len && content_data(*ret)[len - 1] == '\n')
                len--;
        *ret_len = len;
        return 0;
}

/* Is value (as written: a final LF or CRLF is not part of it) exactly what
 * the file shows now? Writing back what was read changes nothing, even
 * where the value shown cannot be written (`max`, `0`, several namespaces,
 * the mounts table). */
static bool shows_already(struct openfile *of, const char *value, size_t len)
{
        if (len && value[len - 1] == '\n')
                len--;
        if (len && value[len - 1] == '\r')
                len--;
        if (len == 0)
                return false;   /* an empty value is refused as ever */
        struct content *c = NULL;
        size_t shown;
        bf_error err = { 0 };
        bool same = shown_value(of, &c, &shown, &err) == 0 && shown == len &&
                    memcmp(content_data(c), value, len) == 0;
        content_unref(c);
        return same;
}

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
        int r = 0;
        if (!of->vs.kept && shows_already(of, value.p, value.len)) {
                bundle_accepted(of->b);    /* nothing to keep; `error` is cleared */
        } else {
                _cleanup_(optlines_freep) struct optline **lines = NULL;
                size_t n = 0;
                r = ctl_parse(of->f->ctl, value.p, value.len, &lines, &n, err);
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
        }
        if (r == 0) {
                buf_free(&of->value);
                of->value = value;
                value = (buf){ 0 };
                of->written += size;
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

static int write_platform(struct openfile *of, const char *data, size_t size, bf_error *err) REQUIRES(of->lock)
{
        char platform[3 * PLATFORM_MAX];
        int r = platform_value(data, size, platform, sizeof(platform), err);
        if (r < 0)
                return refuse(of, r, err);
        r = bundle_commit(of->b, &(struct change){ .kind = CHANGE_PLATFORM, .platform = platform }, err);
        if (r == 0)
                of->written += size;
        return r;
}

/* ---- the entry points ------------------------------------------------------------------- */

static int write_locked(struct openfile *of, const char *data, size_t size, size_t *ret_count, bf_error *err)
        REQUIRES(of->lock)
{
        *ret_count = size;
        switch (of->f->kind) {
        case FILE_OPTS:
                if (of->replace)
                        return write_replace(of, data, size, ret_count, err);
                return opts_write(of, data, size, ret_count, append_text, err);
        case FILE_PLATFORM:
                return write_platform(of, data, size, err);
        case FILE_CONTROL:
                return write_control(of, data, size, err);
        case FILE_CONFIG:
        case FILE_ERROR:
        case FILE_ROOTFS_IMAGE:         /* rootfs_image_write, answered later */
                break;
        }
        return -EACCES;
}

int openfile_write(struct openfile *of, const char *data, size_t size, size_t *ret_count, bf_error *err)
{
        if (container_removed(of->c))
                return bf_error_set(err, ENOENT, "the container was removed");
        if (size == 0) {
                *ret_count = 0;
                return 0;
        }
        mutex_lock(&of->lock);
        int r = write_locked(of, data, size, ret_count, err);
        if (r < 0 && of->f->kind == FILE_OPTS && !of->replace && (r == -EFBIG || r == -ENOMEM))
                bundle_refuse(of->b, err);      /* refusals before any line was looked at */
        mutex_unlock(&of->lock);
        return r;
}

/* What the last close of an opts open file does: commit the replace, or
 * keep the unfinished last line. */
static int opts_close(struct openfile *of, bf_error *err) REQUIRES(of->lock)
{
        return of->replace ? replace_commit(of, err) : append_tail(of, err);
}

int openfile_flush(struct openfile *of, pid_t pid, bf_error *err)
{
        if (of->f->kind != FILE_OPTS)
                return 0;
        int r = 0;
        mutex_lock(&of->lock);
        bool pending = of->replace ? of->dirty && !of->refused : of->partial.len > 0;
        if (pending) {
                int held = holders_near(of->set->holders, pid, of->ino);
                /* Who holds it cannot be told (a process of another pid
                 * namespace): a close after writes is taken for the last. */
                bool last = held == 0 || (held < 0 && (!of->replace || of->wrote));
                if (last)
                        r = opts_close(of, err);
        }
        mutex_unlock(&of->lock);
        return r;
}

void openfile_release(struct openfile *of)
{
        if (of->f->kind == FILE_OPTS) {
                /* No close committed it (another descriptor seemed to stay):
                 * now or never. A refusal is in `error`. */
                mutex_lock(&of->lock);
                (void) opts_close(of, &(bf_error){ 0 });
                mutex_unlock(&of->lock);
        }
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

/* ftruncate(2) of opts through an open file: to 0, it starts a new list
 * (vim opens without O_TRUNC and truncates); to what the open file wrote,
 * it makes what it wrote the new list (nothing changes for a replace:
 * rsync --inplace truncates to the length it wrote). */
static int truncate_opts(struct openfile *of, off_t size, bf_error *err) REQUIRES(of->lock)
{
        if (size == 0) {
                replace_begin(of, false);
                return 0;
        }
        if ((size_t) size == of->written && !(of->forgot && !of->replace)) {
                if (!of->replace)
                        replace_begin(of, true);
                return 0;
        }
        if (!of->replace) {
                /* to the size it has: nothing changes (truncate -s of the same size) */
                struct optlist *l = bundle_list(of->b);
                bool same = (size_t) size == optlist_bytes(l);
                optlist_unref(l);
                if (same)
                        return 0;
        }
        return bf_error_set(err, EINVAL, "opts can be truncated to 0 or to what this open file wrote (%zu bytes)",
                            of->written);
}

int openfile_truncate(struct container *c, const struct file_def *f, struct openfile *of, off_t size,
                      bf_error *err)
{
        if (size < 0)
                return -EINVAL;
        if (f->kind == FILE_CONFIG || f->kind == FILE_ERROR)
                return -EACCES;
        int r = 0;
        if (of) {
                mutex_lock(&of->lock);
                if (f->kind == FILE_OPTS)
                        r = truncate_opts(of, size, err);
                else if (size != 0 && (size_t) size != of->written)
                        r = -EINVAL;
                mutex_unlock(&of->lock);
                return r;
        }
        if (f->kind != FILE_OPTS) {
                /* A shell's > opens control files with O_TRUNC before
                 * writing: a truncate changes nothing. */
                return size == 0 ? 0 : -EINVAL;
        }
        if (size != 0) {
                struct optlist *l = bundle_list(container_bundle(c));
                bool same = (size_t) size == optlist_bytes(l);
                optlist_unref(l);
                return same ? 0 : -EINVAL;
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
