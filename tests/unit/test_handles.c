/* fs/handles: files named by file handles, opened again wherever they went
 * (run as root: open_by_handle_at takes CAP_DAC_READ_SEARCH). */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handles.h"

struct tmp {
        char dir[64];
        char path[3][128];
};

static bool tmp_make(struct tmp *t)
{
        snprintf(t->dir, sizeof(t->dir), "/tmp/test_handles.XXXXXX");
        if (!CHECK(mkdtemp(t->dir) != NULL))
                return false;
        for (int i = 0; i < 3; i++)
                snprintf(t->path[i], sizeof(t->path[i]), "%s/%d", t->dir, i);
        return true;
}

static void tmp_remove(struct tmp *t)
{
        for (int i = 0; i < 3; i++) {
                unlink(t->path[i]);
                rmdir(t->path[i]);
        }
        rmdir(t->dir);
}

/* The handle of path (not following a final symbolic link). */
static struct fhandle *handle_of_path(struct handles *hs, const char *path)
{
        int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (!CHECK(fd >= 0))
                return NULL;
        struct fhandle *h = NULL;
        CHECK_INTEQ(fhandle_of(hs, fd, &h), 0);
        close(fd);
        return h;
}

TEST(a_file_is_opened_again_from_its_handle_after_a_rename)
{
        struct tmp t;
        struct handles *hs;
        if (!tmp_make(&t) || !CHECK_INTEQ(handles_new(&hs, NULL), 0))
                return;
        FILE *f = fopen(t.path[0], "w");
        CHECK(f && fputs("kept\n", f) >= 0 && fclose(f) == 0);
        struct fhandle *h = handle_of_path(hs, t.path[0]);
        CHECK(rename(t.path[0], t.path[1]) == 0);
        int fd = h ? fhandle_open(hs, h, O_RDONLY) : -1;
        char buf[16] = { 0 };
        CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 5);
        CHECK_STREQ(buf, "kept\n");
        if (fd >= 0)
                close(fd);
        fhandle_free(h);
        handles_free(hs);
        tmp_remove(&t);
}

TEST(a_handle_names_the_file_not_its_name)
{
        struct tmp t;
        struct handles *hs;
        if (!tmp_make(&t) || !CHECK_INTEQ(handles_new(&hs, NULL), 0))
                return;
        close(open(t.path[0], O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        struct fhandle *h = handle_of_path(hs, t.path[0]);
        CHECK(unlink(t.path[0]) == 0);
        close(open(t.path[0], O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        struct stat now, got;
        CHECK(stat(t.path[0], &now) == 0);
        /* The removed file itself while the kernel still has it, or ESTALE. */
        int fd = h ? fhandle_open(hs, h, O_PATH) : -1;
        CHECK(fd == -ESTALE || (fd >= 0 && fstat(fd, &got) == 0 && got.st_ino != now.st_ino && got.st_nlink == 0));
        if (fd >= 0)
                close(fd);
        fhandle_free(h);
        handles_free(hs);
        tmp_remove(&t);
}

TEST(a_directory_and_a_symbolic_link_are_themselves)
{
        struct tmp t;
        struct handles *hs;
        if (!tmp_make(&t) || !CHECK_INTEQ(handles_new(&hs, NULL), 0))
                return;
        CHECK(mkdir(t.path[0], 0755) == 0);
        CHECK(symlink(t.path[0], t.path[1]) == 0);
        struct fhandle *dir = handle_of_path(hs, t.path[0]), *link = handle_of_path(hs, t.path[1]);
        struct stat want, got;
        CHECK(stat(t.path[0], &want) == 0);
        int fd = dir ? fhandle_open(hs, dir, O_RDONLY | O_DIRECTORY) : -1;
        CHECK(fd >= 0 && fstat(fd, &got) == 0 && got.st_ino == want.st_ino && S_ISDIR(got.st_mode));
        if (fd >= 0)
                close(fd);
        fd = link ? fhandle_open(hs, link, O_PATH) : -1;
        CHECK(fd >= 0 && fstatat(fd, "", &got, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(got.st_mode));
        if (fd >= 0)
                close(fd);
        fhandle_free(dir);
        fhandle_free(link);
        handles_free(hs);
        tmp_remove(&t);
}

TEST(a_filesystem_without_handles_says_so)
{
        struct handles *hs;
        if (!CHECK_INTEQ(handles_new(&hs, NULL), 0))
                return;
        int fd = open("/proc/self/status", O_PATH | O_CLOEXEC);
        struct fhandle *h = NULL;
        CHECK(fd >= 0);
        CHECK_INTEQ(fhandle_of(hs, fd, &h), -EOPNOTSUPP);
        CHECK(h == NULL);
        close(fd);
        handles_free(hs);
}
