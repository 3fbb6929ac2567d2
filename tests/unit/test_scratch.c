/* fs/scratch: a scratch file's bytes and attributes, and their limits. */
#include "check.h"

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <string.h>

#include "scratch.h"

TEST(writes_at_offsets_read_back_with_holes_as_zeros)
{
        struct scratch_pool *pool;
        struct scratch *s;
        CHECK_INTEQ(scratch_pool_new(&pool, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 1000, 100, NULL, &s, NULL), 0);
        CHECK_INTEQ(scratch_write(s, 0, false, "abc", 3), 0);
        CHECK_INTEQ(scratch_write(s, 6, false, "x", 1), 0);
        CHECK_INTEQ(scratch_write(s, 0, true, "yz", 2), 0);     /* O_APPEND: at the end */
        char out[16];
        size_t n;
        scratch_read(s, 0, sizeof(out), out, &n);
        CHECK_MEMEQ(out, n, "abc\0\0\0xyz", 9);
        scratch_read(s, 8, 4, out, &n);
        CHECK_MEMEQ(out, n, "z", 1);
        scratch_read(s, 100, 4, out, &n);
        CHECK_UINTEQ(n, 0);
        struct stat st;
        scratch_stat(s, &st);
        CHECK_UINTEQ(st.st_size, 9);
        CHECK_UINTEQ(st.st_mode, S_IFREG | 0600);
        CHECK_UINTEQ(st.st_uid, 1000);
        CHECK_UINTEQ(st.st_gid, 100);
        char *all;
        CHECK_INTEQ(scratch_content(s, &all, &n), 0);
        CHECK_MEMEQ(all, n, "abc\0\0\0xyz", 9);
        free(all);
        scratch_unref(s);
        scratch_pool_free(pool);
}

TEST(setattr_changes_size_mode_owner_and_times)
{
        struct scratch_pool *pool;
        struct scratch *s;
        CHECK_INTEQ(scratch_pool_new(&pool, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, NULL, &s, NULL), 0);
        CHECK_INTEQ(scratch_write(s, 0, false, "abcdef", 6), 0);
        struct stat attr = { .st_size = 2, .st_mode = 0644, .st_uid = 7, .st_gid = 8,
                             .st_mtim = { .tv_sec = 1000000000 } };
        CHECK_INTEQ(scratch_setattr(s, &attr, FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
                                                       FUSE_SET_ATTR_GID | FUSE_SET_ATTR_MTIME), 0);
        struct stat st;
        scratch_stat(s, &st);
        CHECK_UINTEQ(st.st_size, 2);
        CHECK_UINTEQ(st.st_mode, S_IFREG | 0644);
        CHECK_UINTEQ(st.st_uid, 7);
        CHECK_UINTEQ(st.st_gid, 8);
        CHECK_INTEQ(st.st_mtim.tv_sec, 1000000000);
        /* grown again: zeros */
        attr.st_size = 4;
        CHECK_INTEQ(scratch_setattr(s, &attr, FUSE_SET_ATTR_SIZE), 0);
        char out[8];
        size_t n;
        scratch_read(s, 0, sizeof(out), out, &n);
        CHECK_MEMEQ(out, n, "ab\0\0", 4);
        scratch_unref(s);
        scratch_pool_free(pool);
}

TEST(a_symbolic_link_has_its_target_and_no_content)
{
        struct scratch_pool *pool;
        struct scratch *s;
        CHECK_INTEQ(scratch_pool_new(&pool, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, "user@host.42:1", &s, NULL), 0);
        CHECK_STREQ(scratch_link(s), "user@host.42:1");
        struct stat st;
        scratch_stat(s, &st);
        CHECK_UINTEQ(st.st_mode, S_IFLNK | 0777);
        CHECK_UINTEQ(st.st_size, strlen("user@host.42:1"));
        CHECK_INTEQ(scratch_write(s, 0, false, "x", 1), -EINVAL);
        scratch_unref(s);
        scratch_pool_free(pool);
}

TEST(a_file_holds_at_most_its_limit_and_all_files_theirs)
{
        struct scratch_pool *pool;
        struct scratch *a, *b, *c, *d, *e;
        CHECK_INTEQ(scratch_pool_new(&pool, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, NULL, &a, NULL), 0);
        CHECK_INTEQ(scratch_write(a, SCRATCH_FILE_MAX - 1, false, "x", 1), 0);
        CHECK_INTEQ(scratch_write(a, SCRATCH_FILE_MAX, false, "x", 1), -EFBIG);
        CHECK_INTEQ(scratch_write(a, 0, true, "x", 1), -EFBIG);
        struct stat big = { .st_size = SCRATCH_FILE_MAX + 1 };
        CHECK_INTEQ(scratch_setattr(a, &big, FUSE_SET_ATTR_SIZE), -EFBIG);
        /* four files of 16 MiB fill the 64 MiB */
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, NULL, &b, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, NULL, &c, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, NULL, &d, NULL), 0);
        CHECK_INTEQ(scratch_new(pool, 0600, 0, 0, NULL, &e, NULL), 0);
        struct stat full = { .st_size = SCRATCH_FILE_MAX };
        CHECK_INTEQ(scratch_setattr(b, &full, FUSE_SET_ATTR_SIZE), 0);
        CHECK_INTEQ(scratch_setattr(c, &full, FUSE_SET_ATTR_SIZE), 0);
        CHECK_INTEQ(scratch_setattr(d, &full, FUSE_SET_ATTR_SIZE), 0);
        CHECK_INTEQ(scratch_write(e, 0, false, "x", 1), -ENOSPC);
        /* bytes given back are there again */
        scratch_unref(d);
        CHECK_INTEQ(scratch_write(e, 0, false, "x", 1), 0);
        scratch_unref(a);
        scratch_unref(b);
        /* c and e are still held when the pool goes: it frees them */
        (void) c;
        (void) e;
        scratch_pool_free(pool);
}
