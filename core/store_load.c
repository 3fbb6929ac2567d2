#include "store_private.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "identifiers.h"
#include "optline.h"
#include "record.h"
#include "util.h"

/* ---- loading ------------------------------------------------------------- */

/* What the whole load may take, and has taken so far. */
struct budget {
        size_t list_max, total_max;     /* 0: no limit */
        size_t total;
};

struct loaded {
        char *platform;
        /* Every line added to the list, numbered by its index; NULL once
         * dropped (by a T or C record). */
        struct optline **lines;
        bool *control;          /* added by a C record: written through a control file */
        size_t n, cap;
        size_t live;            /* lines not dropped */
        size_t footprint;       /* what they hold */
        struct budget *budget;
        int over;               /* a limit was passed (EFBIG, ENOMEM): records are checked, lines not kept */
        char reason[160];
};

static void lines_free(struct loaded *l)
{
        for (size_t i = 0; i < l->n; i++)
                optline_unref(l->lines[i]);
        free(TAKE_PTR(l->lines));
        free(TAKE_PTR(l->control));
        l->n = l->cap = l->live = 0;
        if (l->budget)
                l->budget->total -= l->footprint;
        l->footprint = 0;
}

static void loaded_free(struct loaded *l)
{
        free(TAKE_PTR(l->platform));
        lines_free(l);
}

/* The list no longer fits: its lines go, its records are still checked. */
static void loaded_over(struct loaded *l, int code)
{
        struct budget *b = l->budget;
        if (code == EFBIG)
                snprintf(l->reason, sizeof(l->reason), "its option list would take more than %zu MiB of memory, "
                         "the limit of one list (a quarter of --max-memory)", b->list_max >> 20);
        else
                snprintf(l->reason, sizeof(l->reason), "the option lists would take more than %zu MiB of memory "
                         "in all (--max-memory)", b->total_max >> 20);
        lines_free(l);
        l->over = code;
}

static int loaded_add_lines(struct loaded *l, const char *p, size_t len, bool control, bf_error *err)
{
        if (l->over)
                return 0;
        struct optline **lines;
        size_t n;
        int r = optline_parse_text(p, len, &lines, &n, err);
        if (r < 0)
                return r;
        if (l->n + n > l->cap) {
                size_t cap = l->cap ? l->cap : 16;
                while (cap < l->n + n)
                        cap *= 2;
                struct optline **grown = realloc(l->lines, cap * sizeof(*grown));
                bool *cgrown = grown ? realloc(l->control, cap * sizeof(*cgrown)) : NULL;
                if (grown)
                        l->lines = grown;
                if (!cgrown) {
                        optline_free_all(lines, n);
                        return bf_error_oom(err);
                }
                l->control = cgrown;
                l->cap = cap;
        }
        size_t more = 0;
        for (size_t i = 0; i < n; i++) {
                more += optline_footprint(lines[i]);
                l->lines[l->n + i] = lines[i];
                l->control[l->n + i] = control;
        }
        l->n += n;
        l->live += n;
        free(lines);
        l->footprint += more;
        struct budget *b = l->budget;
        if (!b)
                return 0;
        b->total += more;
        if (b->list_max && l->footprint > b->list_max)
                loaded_over(l, EFBIG);
        else if (b->total_max && b->total > b->total_max)
                loaded_over(l, ENOMEM);
        return 0;
}

static void loaded_drop(struct loaded *l, size_t i)
{
        size_t f = optline_footprint(l->lines[i]);
        l->footprint -= f;
        if (l->budget)
                l->budget->total -= f;
        optline_unref(TAKE_PTR(l->lines[i]));
        l->live--;
}

/* Apply one log record to what was loaded so far. Past a limit (l->over)
 * the lines are gone: a record is checked for its form alone. */
static int loaded_apply(struct loaded *out, char type, const char *p, size_t len, bf_error *err)
{
        if (type == 'P') {
                free(out->platform);
                out->platform = strndup(p, len);
                return out->platform ? 0 : bf_error_oom(err);
        }
        if (type == 'A')
                return loaded_add_lines(out, p, len, false, err);
        const char *nl = memchr(p, '\n', len);
        size_t hl = nl ? (size_t) (nl - p) + 1 : 0;
        if (type == 'T') {
                size_t keep = 0;
                if (!nl || record_parse_size(p, nl, &keep) != nl || (!out->over && keep > out->live))
                        return bf_error_set(err, EINVAL, "a damaged record (T)");
                size_t kept = 0;
                for (size_t i = 0; !out->over && i < out->n; i++)
                        if (out->lines[i] && kept++ >= keep)
                                loaded_drop(out, i);
                return loaded_add_lines(out, p + hl, len - hl, false, err);
        }
        if (type == 'C') {
                /* "<count> <number>...\n": the lines dropped, then the lines added */
                size_t count = 0, seq;
                const char *q = nl ? record_parse_size(p, nl, &count) : NULL;
                for (size_t i = 0; q && i < count; i++) {
                        if (q == nl || *q != ' ' || !(q = record_parse_size(q + 1, nl, &seq)))
                                q = NULL;
                        else if (out->over)
                                continue;
                        else if (seq >= out->n || !out->lines[seq])
                                q = NULL;
                        else
                                loaded_drop(out, seq);
                }
                if (!q || q != nl)
                        return bf_error_set(err, EINVAL, "a damaged record (C)");
                return loaded_add_lines(out, p + hl, len - hl, true, err);
        }
        return bf_error_set(err, EINVAL, "a record of unknown type '%c'", type);
}

/* The lines left, numbered afresh from 0 as a log written anew numbers
 * them. */
static void loaded_renumber(struct loaded *l)
{
        size_t k = 0;
        for (size_t i = 0; i < l->n; i++)
                if (l->lines[i]) {
                        l->lines[k] = l->lines[i];
                        l->control[k++] = l->control[i];
                }
        l->n = k;
}

/* The lines left, in canonical form, in runs by who wrote them (for a log
 * written anew); runs point into text. */
static int loaded_runs(const struct loaded *l, buf *text, struct store_run **ret, size_t *ret_n, bf_error *err)
{
        struct store_run *runs = malloc((l->live + 1) * sizeof(*runs));
        if (!runs)
                return bf_error_oom(err);
        size_t n = 0;
        for (size_t i = 0; i < l->n; i++) {
                if (!l->lines[i])
                        continue;
                size_t at = text->len;
                optline_print(text, l->lines[i]);
                buf_putc(text, '\n');
                if (n && runs[n - 1].by_control == l->control[i])
                        runs[n - 1].len += text->len - at;
                else
                        runs[n++] = (struct store_run){ .by_control = l->control[i], .len = text->len - at };
        }
        if (text->oom) {
                free(runs);
                return bf_error_oom(err);
        }
        /* The text is whole now: point the runs into it. */
        for (size_t i = 0, at = 0; i < n; at += runs[i].len, i++)
                runs[i].text = text->p + at;
        *ret = runs;
        *ret_n = n;
        return 0;
}

/* The lines left, with their numbers and provenance, for the visitor (the
 * store frees whatever it leaves). */
static int loaded_finish(struct loaded *l, struct store_container *c, bf_error *err)
{
        size_t n = l->live;
        c->lines = malloc((n + 1) * sizeof(*c->lines));
        c->seqs = malloc((n + 1) * sizeof(*c->seqs));
        c->by_control = malloc((n + 1) * sizeof(*c->by_control));
        if (!c->lines || !c->seqs || !c->by_control) {
                free(TAKE_PTR(c->lines));
                free(TAKE_PTR(c->seqs));
                free(TAKE_PTR(c->by_control));
                return bf_error_oom(err);
        }
        size_t k = 0;
        for (size_t i = 0; i < l->n; i++)
                if (l->lines[i]) {
                        c->lines[k] = TAKE_PTR(l->lines[i]);
                        c->seqs[k] = i;
                        c->by_control[k++] = l->control[i];
                }
        c->nlines = k;
        c->next_seq = l->n;
        c->footprint = l->footprint;
        c->platform = TAKE_PTR(l->platform);
        l->live = 0;
        return 0;
}

/* The records of data[pos..n) applied; where the good ones end. Records
 * past a bad one are not trusted. */
static int records_apply(struct loaded *out, const char *data, size_t n, size_t pos, size_t *ret_valid, bf_error *err)
{
        struct record rec;
        for (; pos < n && record_parse(data, n, pos, 0, &rec); pos = rec.next) {
                int r = loaded_apply(out, rec.type, rec.payload, rec.len, err);
                if (r < 0)
                        return r;
        }
        *ret_valid = pos;
        return 0;
}

/* The header of a log: its id (0 for format 1) and where its records start. */
static bool log_header(const char *data, size_t n, uint64_t *ret_id, size_t *ret_pos)
{
        size_t v1 = strlen(LOG_HEADER_V1), v2 = strlen(LOG_HEADER_V2_PREFIX);
        const char *idend;
        if (n >= v1 && memcmp(data, LOG_HEADER_V1, v1) == 0) {
                *ret_id = 0;
                *ret_pos = v1;
                return true;
        }
        if (n > v2 && memcmp(data, LOG_HEADER_V2_PREFIX, v2) == 0 &&
            (idend = record_parse_hex(data + v2, data + n, 16, ret_id)) && idend < data + n && *idend == '\n' && *ret_id) {
                *ret_pos = (size_t) (idend - data) + 1;
                return true;
        }
        return false;
}

/* A container being loaded. */
struct loading {
        char *ns;
        char *id;               /* NULL: the namespace itself */
        struct loaded l;
        bool has_log;
        bool rewrite;           /* replayed holds the whole log, made again from the journal */
        struct store_log log;   /* id 0: none, or unreadable */
        buf replayed;           /* journal records its log lacked, to write back */
        int error;              /* the list could not be loaded */
        char reason[BF_ERROR_MAX];
};

static void loading_free(struct loading *ld)
{
        free(ld->ns);
        free(ld->id);
        loaded_free(&ld->l);
        buf_free(&ld->replayed);
}

static void warnf(void (*warn)(void *, const char *), void *userdata, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void warnf(void (*warn)(void *, const char *), void *userdata, const char *fmt, ...)
{
        if (!warn)
                return;
        char msg[BF_ERROR_MAX + 256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        warn(userdata, msg);
}

struct mapping {
        void *p;
        size_t n;
};

static void mapping_done(struct mapping *m)
{
        if (m->p)
                munmap(m->p, m->n);
}

/* A file mapped for reading: its pages are the page cache's, not the
 * daemon's memory, however large the file. */
static int map_file(int fd, const char *name, size_t max, struct mapping *ret, bf_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return store_sys_error(err, "reading", name);
        if ((size_t) st.st_size > max)
                return bf_error_set(err, EFBIG, "%s is larger than %zu MiB", name, max >> 20);
        *ret = (struct mapping){ .n = (size_t) st.st_size };
        if (!ret->n)
                return 0;
        ret->p = mmap(NULL, ret->n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (ret->p == MAP_FAILED) {
                ret->p = NULL;
                return store_sys_error(err, "reading", name);
        }
        return 0;
}

/* Load one container's log into ld (which names it already). A log that
 * cannot be loaded is ld->error, with the reason; the container exists all
 * the same. */
static int load_log(struct store *s, struct loading *ld, void (*warn)(void *, const char *), void *userdata,
                    bf_error *err)
{
        struct cpaths p;
        int r = store_cpaths_of(&p, ld->ns, ld->id, err);
        if (r < 0)
                return r;
        const char *dir = p.dir, *rel = p.log;
        unlinkat(s->nsfd, p.log_new, 0);        /* a replacement that never finished */

        _cleanup_close_ int fd = store_open_at(s, s->nsfd, rel, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0 && errno == ENOENT)
                return 0;               /* never written: an empty list */
        if (fd < 0)
                return store_sys_error(err, "opening the option log of", dir);
        _cleanup_(mapping_done) struct mapping m = { 0 };
        r = map_file(fd, "the option log", STORE_LOG_MAX, &m, err);
        if (r < 0)
                return r;
        if (m.n == 0) {
                /* A first write refused after the log was made. */
                unlinkat(s->nsfd, rel, 0);
                return 0;
        }
        ld->has_log = true;
        size_t pos;
        uint64_t id;
        if (!log_header(m.p, m.n, &id, &pos))
                return bf_error_set(err, EINVAL, "its option log is damaged (no bundlefs-log header)");
        ld->log.id = id;
        size_t valid;
        r = records_apply(&ld->l, m.p, m.n, pos, &valid, err);
        if (r < 0)
                return r;
        if (!ld->l.platform)
                return bf_error_set(err, EINVAL, "its option log has no platform record");
        ld->log.size = valid;
        if (valid < m.n) {
                /* The tail was never acknowledged, or the journal has it: cut it
                 * before appending again. */
                if (ftruncate(fd, (off_t) valid) < 0 || fdatasync(fd) < 0)
                        return store_sys_error(err, "truncating the option log of", dir);
                warnf(warn, userdata, "%s: dropped %zu bytes of an unfinished write from the log", dir, m.n - valid);
        }
        if (ld->log.id || ld->l.over)
                return 0;
        /* A format-1 log: give it an id, so the journal can name it. */
        _cleanup_(buf_free) buf text = { 0 };
        _cleanup_free_ struct store_run *runs = NULL;
        size_t nruns = 0;
        r = loaded_runs(&ld->l, &text, &runs, &nruns, err);
        if (r < 0)
                return r;
        struct store_log nl = { .fd = -1 };
        r = store_log_write_new(s, &p, ld->l.platform, runs, nruns, &nl, err);
        if (r < 0)
                return r;
        close(nl.fd);
        ld->log = (struct store_log){ .fd = -1, .size = nl.size, .id = nl.id };
        loaded_renumber(&ld->l);        /* as the new log numbers them */
        return 0;
}

static int load_container(struct store *s, const char *ns, const char *id, struct loading *ret, struct budget *budget,
                          void (*warn)(void *, const char *), void *userdata, bf_error *err)
{
        *ret = (struct loading){ .ns = strdup(ns), .id = strdup(id), .log = { .fd = -1 } };
        if (!ret->ns || !ret->id)
                return bf_error_oom(err);
        ret->l.budget = budget;
        bf_error lerr = { 0 };
        if (load_log(s, ret, warn, userdata, &lerr) < 0) {
                ret->error = lerr.code ? lerr.code : EIO;
                snprintf(ret->reason, sizeof(ret->reason), "%s", lerr.msg);
                lines_free(&ret->l);
        }
        return 0;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Directory entries that are identifiers, sorted; leftovers of unfinished
 * creations and removals are removed. */
static int list_dir(int dirfd, const char *what, char ***ret, size_t *ret_n, bf_error *err)
{
        int fd = dup(dirfd);
        if (fd < 0)
                return store_sys_error(err, "listing", what);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return store_sys_error(err, "listing", what);
        }
        rewinddir(d);
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                if (store_is_leftover(de->d_name))
                        store_remove_leftover(fd, de->d_name);
                if (!identifier_valid(de->d_name))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **grown = realloc(names, cap * sizeof(*grown));
                        if (!grown) {
                                r = bf_error_oom(err);
                                break;
                        }
                        names = grown;
                }
                if (!(names[n] = strdup(de->d_name)))
                        r = bf_error_oom(err);
                else
                        n++;
        }
        closedir(d);
        if (r < 0) {
                free_names(names, n);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* Everything loaded: namespaces and their containers, in order. */
struct load {
        struct store *s;
        struct loading *all;
        size_t n, cap;
        struct budget budget;
        void (*warn)(void *, const char *);
        void *userdata;
};

static struct loading *load_add(struct load *ld, bf_error *err)
{
        if (ld->n == ld->cap) {
                size_t cap = ld->cap ? 2 * ld->cap : 64;
                struct loading *grown = realloc(ld->all, cap * sizeof(*grown));
                if (!grown) {
                        bf_error_oom(err);
                        return NULL;
                }
                ld->all = grown;
                ld->cap = cap;
        }
        return &ld->all[ld->n];
}

static int load_namespace(struct load *ld, const char *ns, bf_error *err)
{
        struct loading *slot = load_add(ld, err);
        if (!slot)
                return -ENOMEM;
        *slot = (struct loading){ .ns = strdup(ns), .log = { .fd = -1 } };
        if (!slot->ns)
                return bf_error_oom(err);
        ld->n++;
        _cleanup_close_ int nsdir = store_open_at(ld->s, ld->s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (nsdir < 0)
                return store_sys_error(err, "opening namespace", ns);
        char **ids = NULL;
        size_t nids = 0;
        int r = list_dir(nsdir, ns, &ids, &nids, err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < nids && r == 0; k++) {
                if (!(slot = load_add(ld, err)))
                        r = -ENOMEM;
                else if ((r = load_container(ld->s, ns, ids[k], slot, &ld->budget, ld->warn, ld->userdata, err)) == 0)
                        ld->n++;
                else
                        loading_free(slot);
        }
        free_names(ids, nids);
        return r;
}

/* ---- replaying the journal --------------------------------------------------- */

static int by_log_id(const void *a, const void *b)
{
        uint64_t x = (*(struct loading *const *) a)->log.id, y = (*(struct loading *const *) b)->log.id;
        return x < y ? -1 : x > y;
}

static struct loading *find_by_id(struct loading **index, size_t n, uint64_t id)
{
        struct loading key = { .log = { .id = id } }, *kp = &key;
        struct loading **found = bsearch(&kp, index, n, sizeof(*index), by_log_id);
        return found ? *found : NULL;
}

static struct loading *find_by_name(struct load *ld, const char *ns, size_t nslen, const char *id, size_t idlen)
{
        /* all[] is sorted by namespace, then id, each namespace first. */
        size_t lo = 0, hi = ld->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                struct loading *x = &ld->all[mid];
                int c = strncmp(x->ns, ns, nslen);
                if (c == 0 && x->ns[nslen])
                        c = 1;
                if (c == 0)
                        c = !x->id ? -1 : strncmp(x->id, id, idlen) ? strncmp(x->id, id, idlen) : x->id[idlen] ? 1 : 0;
                if (c == 0)
                        return x;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* A log created by a first write, lost with its directory's unsynced
 * entry (or its data): made again from the journal's copy. A log that is
 * there but short gets the tail it lacks; one whose container has another
 * log now (replaced since) is left alone. */
static int replay_new_log(struct load *ld, struct loading **index, size_t nindex, const char *p, size_t len,
                          bf_error *err)
{
        const char *nl = memchr(p, '\n', len), *q, *slash;
        uint64_t id;
        if (!nl || !(q = record_parse_hex(p, nl, 16, &id)) || q == nl || *q != ' ' ||
            !(slash = memchr(q, '/', (size_t) (nl - q))))
                return 0;
        const char *content = nl + 1;
        size_t clen = len - (size_t) (content - p), from;
        uint64_t hid;
        size_t pos;
        if (!log_header(content, clen, &hid, &pos) || hid != id)
                return 0;
        struct loading *c = find_by_id(index, nindex, id);
        if (c) {
                if (c->log.size >= clen || c->replayed.len)
                        return 0;       /* the log has it */
                from = c->log.size;
        } else {
                c = find_by_name(ld, q + 1, (size_t) (slash - q - 1), slash + 1, (size_t) (nl - slash - 1));
                if (!c || !c->id || c->log.id)
                        return 0;
                loaded_free(&c->l);
                c->l = (struct loaded){ .budget = &ld->budget };
                c->error = 0;
                c->has_log = true;
                c->rewrite = true;
                c->log = (struct store_log){ .fd = -1, .id = id };
                from = 0;
        }
        size_t valid;
        bf_error aerr = { 0 };
        if (records_apply(&c->l, content, clen, from ? from : pos, &valid, &aerr) < 0) {
                c->error = aerr.code ? aerr.code : EIO;
                snprintf(c->reason, sizeof(c->reason), "%s", aerr.msg);
                lines_free(&c->l);
        }
        buf_put(&c->replayed, content + from, clen - from);
        c->log.size = clen;
        return c->replayed.oom ? bf_error_oom(err) : 0;
}

/* Write back what each log lacked: one write per log. */
static int replay_write(struct load *ld, bf_error *err)
{
        for (size_t i = 0; i < ld->n; i++) {
                struct loading *c = &ld->all[i];
                if (!c->replayed.len)
                        continue;
                char rel[REL_PATH_MAX];
                int r = store_rel_path(rel, c->ns, c->id, LOG_NAME, err);
                if (r < 0)
                        return r;
                /* A log made again is written whole; others get their tail. */
                int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (c->rewrite ? O_TRUNC : O_APPEND);
                _cleanup_close_ int fd = store_open_at(ld->s, ld->s->nsfd, rel, flags, 0600);
                if (fd < 0 || fd_write_all(fd, c->replayed.p, c->replayed.len) < 0)
                        return store_sys_error(err, "writing back the option log of", rel);
                buf_free(&c->replayed);
        }
        return 0;
}

/* Replay a journal's records (seed: its epoch's CRC seed; 0 for format 1,
 * which has appends only). */
static int journal_replay(struct load *ld, const char *data, size_t size, size_t start, uint32_t seed, bf_error *err)
{
        /* Young logs before the last "settled" mark are durable where they are. */
        size_t settled = start, end = start, replayed = 0;
        struct record rec;
        for (size_t pos = start; pos < size && record_parse(data, size, pos, seed, &rec); pos = rec.next) {
                if (rec.type == JOURNAL_SETTLED)
                        settled = rec.next;
                end = rec.next;
        }
        _cleanup_free_ struct loading **index = calloc(ld->n + 1, sizeof(*index));
        if (!index)
                return bf_error_oom(err);
        size_t ni = 0;
        for (size_t i = 0; i < ld->n; i++)
                if (ld->all[i].id && ld->all[i].log.id)
                        index[ni++] = &ld->all[i];
        qsort(index, ni, sizeof(*index), by_log_id);
        /* Logs made again first: appends to them follow. */
        for (size_t pos = settled; pos < end && record_parse(data, size, pos, seed, &rec); pos = rec.next) {
                if (rec.type != JOURNAL_NEW_LOG)
                        continue;
                int r = replay_new_log(ld, index, ni, rec.payload, rec.len, err);
                if (r < 0)
                        return r;
                replayed++;
        }
        ni = 0;
        for (size_t i = 0; i < ld->n; i++)
                if (ld->all[i].id && ld->all[i].log.id)
                        index[ni++] = &ld->all[i];
        qsort(index, ni, sizeof(*index), by_log_id);
        for (size_t pos = start; pos < end && record_parse(data, size, pos, seed, &rec); pos = rec.next) {
                if (rec.type != JOURNAL_APPEND)
                        continue;
                /* "<log id> <offset>\n", then the log's record. */
                const char *p = rec.payload, *nl = memchr(p, '\n', rec.len), *q;
                uint64_t id;
                size_t offset;
                if (!nl || !(q = record_parse_hex(p, nl, 16, &id)) || q == nl || *q != ' ' || record_parse_size(q + 1, nl, &offset) != nl)
                        continue;
                const char *lrec = nl + 1;
                size_t lrec_len = rec.len - (size_t) (lrec - p);
                struct loading *c = find_by_id(index, ni, id);
                if (!c)
                        continue;       /* its container was removed, or its list replaced */
                if (c->log.size > offset)
                        continue;       /* the log has it */
                if (c->log.size < offset) {
                        warnf(ld->warn, ld->userdata, "%s/%s: a journal record past the end of the log, skipped", c->ns,
                              c->id);
                        continue;
                }
                struct record lr;
                if (!record_parse(lrec, lrec_len, 0, 0, &lr) || lr.next != lrec_len)
                        continue;
                bf_error aerr = { 0 };
                if (!c->error && loaded_apply(&c->l, lr.type, lr.payload, lr.len, &aerr) < 0) {
                        c->error = aerr.code ? aerr.code : EIO;
                        snprintf(c->reason, sizeof(c->reason), "%s", aerr.msg);
                        lines_free(&c->l);
                }
                buf_put(&c->replayed, lrec, lrec_len);
                if (c->replayed.oom)
                        return bf_error_oom(err);
                c->log.size += lrec_len;
                replayed++;
        }
        if (replayed)
                warnf(ld->warn, ld->userdata, "wrote %zu records back from the journal", replayed);
        return replay_write(ld, err);
}

/* Containers made by mkdir since the last "settled" mark whose entries a
 * crash lost with their namespace's unsynced directory: made again, empty,
 * as mkdir left them (their rootfs comes at their first use), before the
 * namespaces are read. Journals of format 1 have no such records. */
static int journal_remake_dirs(struct load *ld, bf_error *err)
{
        struct store *s = ld->s;
        _cleanup_close_ int fd = store_open_at(s, s->dirfd, JOURNAL_NAME, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
                return errno == ENOENT ? 0 : store_sys_error(err, "opening", "the journal");
        _cleanup_(mapping_done) struct mapping m = { 0 };
        int r = map_file(fd, "the journal", STORE_LOG_MAX, &m, err);
        if (r < 0)
                return r;
        const char *data = m.p;
        size_t hp = strlen(JOURNAL_HEADER_PREFIX);
        uint64_t epoch;
        if (m.n < JOURNAL_HEADER_LEN || memcmp(data, JOURNAL_HEADER_PREFIX, hp) != 0 ||
            record_parse_hex(data + hp, data + m.n, 16, &epoch) != data + JOURNAL_HEADER_LEN - 1)
                return 0;
        uint32_t seed = journal_epoch_seed(epoch);
        size_t settled = JOURNAL_HEADER_LEN, end = settled, remade = 0;
        struct record rec;
        for (size_t pos = settled; pos < m.n && record_parse(data, m.n, pos, seed, &rec); pos = rec.next) {
                if (rec.type == JOURNAL_SETTLED)
                        settled = rec.next;
                end = rec.next;
        }
        for (size_t pos = settled; pos < end && record_parse(data, m.n, pos, seed, &rec); pos = rec.next) {
                if (rec.type != JOURNAL_NEW_DIR || rec.len >= REL_PATH_MAX)
                        continue;
                char name[REL_PATH_MAX];
                memcpy(name, rec.payload, rec.len);
                name[rec.len] = '\0';
                char *slash = strchr(name, '/');
                if (!slash)
                        continue;
                *slash = '\0';
                if (!identifier_valid(name) || !identifier_valid(slash + 1))
                        continue;
                *slash = '/';
                if (mkdirat(s->nsfd, name, 0755) < 0) {
                        if (errno != EEXIST && errno != ENOENT)    /* ENOENT: its namespace went (it was empty) */
                                return store_sys_error(err, "making again container", name);
                        continue;
                }
                remade++;
        }
        if (remade)
                warnf(ld->warn, ld->userdata, "made %zu containers again from the journal", remade);
        return 0;
}

/* Read the journal, replay it, and start it afresh: a new epoch, or a new
 * file when there was none, or one of another format or size. */
static int journal_load(struct load *ld, bf_error *err)
{
        struct store *s = ld->s;
        struct journal *j = &s->journal;
        _cleanup_close_ int fd = store_open_at(s, s->dirfd, JOURNAL_NAME, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0 && errno != ENOENT)
                return store_sys_error(err, "opening", "the journal");
        unlinkat(s->dirfd, JOURNAL_NEW_NAME, 0);
        bool fresh = true;
        if (fd >= 0) {
                _cleanup_(mapping_done) struct mapping m = { 0 };
                int r = map_file(fd, "the journal", STORE_LOG_MAX, &m, err);
                if (r < 0)
                        return r;
                const char *data = m.p;
                size_t hv1 = strlen(JOURNAL_HEADER_V1), hp = strlen(JOURNAL_HEADER_PREFIX);
                uint64_t epoch;
                r = 0;
                if (m.n >= hv1 && memcmp(data, JOURNAL_HEADER_V1, hv1) == 0) {
                        r = journal_replay(ld, data, m.n, hv1, 0, err);
                } else if (m.n >= JOURNAL_HEADER_LEN && memcmp(data, JOURNAL_HEADER_PREFIX, hp) == 0 &&
                           record_parse_hex(data + hp, data + m.n, 16, &epoch) == data + JOURNAL_HEADER_LEN - 1 &&
                           data[JOURNAL_HEADER_LEN - 1] == '\n') {
                        r = journal_replay(ld, data, m.n, JOURNAL_HEADER_LEN, journal_epoch_seed(epoch), err);
                        fresh = m.n != STORE_JOURNAL_SIZE;
                } else if (m.n) {
                        /* Only the header of a new epoch can be torn, right after a
                         * syncfs: nothing in the file is needed. */
                        warnf(ld->warn, ld->userdata, "the journal's header is damaged: its records were not replayed");
                }
                if (r < 0)
                        return r;
                if (!fresh)
                        j->fd = TAKE_FD(fd);
        }
        uint64_t epoch = 0;
        int r = fresh ? (syncfs(s->dirfd) < 0 ? store_sys_error(err, "syncing", "the state directory") :
                                                journal_create(s, &epoch, err)) :
                        journal_new_epoch(s, &epoch, err);
        if (r < 0)
                return r;
        j->epoch = epoch;
        j->size = JOURNAL_HEADER_LEN;
        return 0;
}

static void load_done(struct load *ld)
{
        for (size_t i = 0; i < ld->n; i++) {
                ld->all[i].l.budget = NULL;
                loading_free(&ld->all[i]);
        }
        free(ld->all);
        store_reserve_refill(ld->s);
}

/* Every namespace and container, the journal replayed into them. */
static int load_all(struct load *ld, bf_error *err)
{
        char **nss = NULL;
        size_t nns = 0;
        int r = journal_remake_dirs(ld, err);
        if (r < 0)
                return r;
        r = list_dir(ld->s->nsfd, "the namespaces", &nss, &nns, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nns && r == 0; i++)
                r = load_namespace(ld, nss[i], err);
        free_names(nss, nns);
        if (r < 0)
                return r;
        r = journal_load(ld, err);
        if (r < 0)
                return r;
        return ld->s->format == STORE_FORMAT_VERSION ? 0 : store_format_write(ld->s, STORE_FORMAT_VERSION, err);
}

/* Hand one loaded container (or namespace) to the visitor; the store
 * frees what it leaves. */
static int visit_one(struct load *ld, struct loading *c, store_visit_fn visit, void *userdata, bf_error *err)
{
        struct store_container sc = {
                .ns = c->ns,
                .id = c->id,
                .log = { .fd = -1, .size = c->log.size, .id = c->log.id },
        };
        bf_error ferr = { 0 };
        if (c->id && !c->error && !c->l.over && loaded_finish(&c->l, &sc, &ferr) < 0) {
                c->error = ENOMEM;
                snprintf(c->reason, sizeof(c->reason), "%s", ferr.msg);
        }
        sc.error = c->error ? c->error : c->l.over;
        sc.reason = c->error ? c->reason : c->l.reason;
        int v = visit(userdata, &sc);
        free(sc.platform);
        optline_free_all(sc.lines, sc.nlines);
        free(sc.seqs);
        free(sc.by_control);
        if (v < 0 && !c->id)
                return bf_error_set(err, -v, "namespace %s: %s", c->ns, strerror(-v));
        if (v < 0)
                warnf(ld->warn, ld->userdata, "%s/%s: not served (left on disk): %s", c->ns, c->id, strerror(-v));
        return 0;
}

int store_load(struct store *s, const struct store_limits *limits, store_visit_fn visit, void *userdata,
               void (*warn)(void *, const char *), bf_error *err)
{
        _cleanup_(load_done) struct load ld = {
                .s = s,
                .warn = warn,
                .userdata = userdata,
                .budget = { .list_max = limits ? limits->list_max : 0, .total_max = limits ? limits->total_max : 0 },
        };
        int r = load_all(&ld, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ld.n; i++) {
                r = visit_one(&ld, &ld.all[i], visit, userdata, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
