"""Everyday tools on a mounted tree, as on a real filesystem (docs/bundlefs.md,
"Tools"): attributes that move only when the content can have changed,
inode numbers that outlive a restart, scratch files made in a container and
renamed onto its files (temp file + rename), unlink and an exclusive create
after it, chmod/chown to the current values. The real programs run
non-interactively: sed, perl, rsync, emacs, tar, install, mv, git, cp, make,
find; Python's tempfile, and the exact system calls of Go's os.CreateTemp +
os.Rename and of Ansible's atomic_move, from Python."""
import errno
import json
import os
import pathlib
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from support.ctl import CONTAINER_FILES
from support.mount import make_container
from support.treeops import read_bytes, read_text


def run(*argv, cwd=None, env=None, ok=True):
    """Run a program; with ok, it must exit 0 (its output says why not)."""
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert p.returncode == 0, f"{argv}: exit {p.returncode}\n{p.stdout}{p.stderr}"
    return p


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def opts_of(ctr) -> list:
    return read_text(ctr / "opts").splitlines()


def names_in(ctr) -> set:
    return set(os.listdir(ctr))


def scratch_names(ctr) -> set:
    """What a container directory holds beside its own files."""
    return names_in(ctr) - set(CONTAINER_FILES) - {"rootfs"}


def times(path):
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_ctime_ns)


def settle():
    """Let the coarse clock of file times move on, so that a change shows."""
    time.sleep(0.03)


def attrs_of_tree(mnt):
    """Every name of the tree outside rootfs: (st_ino, mtime, ctime, size, mode)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(mnt):
        if "rootfs" in dirnames:
            dirnames.remove("rootfs")
        for name in [".", *filenames]:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.normpath(os.path.join(dirpath, name))] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns,
                                                                   st.st_size, st.st_mode)
    return out


# --- attributes ------------------------------------------------------------------------


def test_stat_shows_the_same_attributes_each_time(ctr):
    (ctr / "opts").write_text("WithHostname steady\nWithEnv A=1\n")
    first = attrs_of_tree(ctr.parent.parent)
    time.sleep(0.3)
    assert attrs_of_tree(ctr.parent.parent) == first
    for name in os.listdir(ctr):
        st = os.lstat(ctr / name)
        if stat.S_ISREG(st.st_mode):
            assert st.st_blocks == (st.st_size + 511) // 512, name
            assert st.st_atime_ns == st.st_mtime_ns == st.st_ctime_ns, name


def test_times_move_only_when_the_content_can_have_changed(ctr):
    (ctr / "hostname").write_text("one")
    settle()
    before = {name: times(ctr / name) for name in ("opts", "config.json", "hostname", "env", "platform", "error")}
    before_dir = times(ctr)
    (ctr / "hostname").write_text("two")
    after = {name: times(ctr / name) for name in before}
    assert after["opts"] > before["opts"] and after["config.json"] > before["config.json"]
    assert after["hostname"] > before["hostname"] and after["env"] > before["env"]  # any line can change any value
    assert after["platform"] == before["platform"] and after["error"] == before["error"]
    # a directory changes with its entries, not with its files' content
    time.sleep(1.1)  # past the second the kernel keeps a directory's attributes
    assert times(ctr) == before_dir
    (ctr / "scratch").write_text("")
    assert times(ctr) > before_dir
    settle()
    before = after
    (ctr / "platform").write_text("linux/arm64")
    after = {name: times(ctr / name) for name in before}
    assert after["platform"] > before["platform"] and after["config.json"] > before["config.json"]
    assert after["opts"] == before["opts"]
    settle()
    before = after
    with pytest.raises(OSError):
        (ctr / "memory.limit").write_text("lots")
    after = {name: times(ctr / name) for name in before}
    assert after["error"] > before["error"], "a refusal rewrote error: its mtime moves"
    assert {n: after[n] for n in after if n != "error"} == {n: before[n] for n in before if n != "error"}


def test_config_json_moves_when_a_file_it_was_rendered_from_changes(ctr, tmp_path):
    envfile = tmp_path / "env.list"
    envfile.write_text("A=1\n")
    etc = ctr / "rootfs" / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
    (ctr / "opts").write_text(f"WithEnvFile {envfile}\nWithUser alice\n")
    settle()
    read_bytes(ctr / "config.json")
    before = times(ctr / "config.json")
    opts_before = times(ctr / "opts")
    time.sleep(0.1)
    envfile.write_text("A=2\n")
    after = times(ctr / "config.json")
    assert after > before and after[0] >= envfile.stat().st_ctime_ns
    assert times(ctr / "hostname") == after, "a control file shows what its spec's rendering read"
    assert times(ctr / "opts") == opts_before
    assert json.loads(read_text(ctr / "config.json"))["process"]["env"][-1] == "A=2"
    # a file of the rootfs the rendering read (etc/passwd for WithUser)
    settle()
    before = times(ctr / "config.json")
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n")
    assert times(ctr / "config.json") > before
    assert json.loads(read_text(ctr / "config.json"))["process"]["user"]["uid"] == 1001
    # and stays put while nothing changes
    stable = times(ctr / "config.json")
    time.sleep(0.1)
    assert times(ctr / "config.json") == stable


def test_inode_numbers_are_small_distinct_and_outlive_a_restart(daemon):
    ctr = make_container(daemon.mountpoint, "default", "c1")
    make_container(daemon.mountpoint, "k8s.io", "c2")
    (ctr / "opts").write_text("WithHostname kept\n")
    (ctr / "rootfs" / "file").write_text("data")
    before = attrs_of_tree(daemon.mountpoint)
    numbers = [a[0] for a in before.values()]
    assert len(set(numbers)) == len(numbers), "two names share an inode number"
    assert max(numbers) < 1 << 48, "inode numbers are small, never addresses"
    # what readdir shows is what stat shows
    for dirpath in (daemon.mountpoint, daemon.mountpoint / "default", ctr):
        with os.scandir(dirpath) as entries:
            for e in entries:
                if e.name != "rootfs":
                    assert e.inode() == os.lstat(e.path).st_ino, e.path
    daemon.stop()
    daemon.start()
    after = attrs_of_tree(daemon.mountpoint)
    assert after.keys() == before.keys()
    for path, attrs in before.items():
        if path.endswith(("/error", "/platform")):
            # a restart empties error, and the log does not say when the
            # platform last changed: both take the log's time
            assert after[path][0] == attrs[0], path
        else:
            assert after[path] == attrs, path


def test_directory_link_counts_are_their_subdirectories_plus_two(daemon):
    mnt = daemon.mountpoint
    ctr = make_container(mnt, "default", "c1")
    make_container(mnt, "default", "c2")
    (mnt / "empty").mkdir()
    assert os.stat(mnt).st_nlink == 2 + 2
    assert os.stat(mnt / "default").st_nlink == 2 + 2
    assert os.stat(mnt / "empty").st_nlink == 2
    assert os.stat(ctr).st_nlink == 2 + 1  # rootfs
    os.rmdir(mnt / "default" / "c2")
    assert os.stat(mnt / "default").st_nlink == 2 + 1


def test_a_container_made_again_under_a_name_is_a_new_one(daemon):
    mnt = daemon.mountpoint
    ctr = make_container(mnt, "default", "c1")
    (ctr / "hostname").write_text("old")
    fd = os.open(ctr / "hostname", os.O_RDONLY)
    os.rmdir(ctr)
    ctr = make_container(mnt, "default", "c1")
    assert read_text(ctr / "hostname") == ""
    assert os.read(fd, 100) == b"old\n", "the old container's open file reads what it opened"
    os.close(fd)


def test_chmod_and_chown_to_the_current_values_succeed_others_are_refused(ctr):
    for name, mode in (("hostname", 0o644), ("opts", 0o644), ("config.json", 0o444), ("error", 0o444)):
        before = times(ctr / name)
        os.chmod(ctr / name, mode)
        os.chown(ctr / name, 0, 0)
        os.utime(ctr / name, (1_000_000_000, 1_000_000_000))
        assert times(ctr / name) == before, "times follow the content; utimes is accepted and changes nothing"
        assert errno_of(os.chmod, ctr / name, 0o600) == errno.EPERM
        assert errno_of(os.chown, ctr / name, 1, 1) == errno.EPERM
        assert stat.S_IMODE(os.stat(ctr / name).st_mode) == mode
    for d in (ctr, ctr.parent, ctr.parent.parent):
        os.chmod(d, 0o755)
        os.chown(d, 0, 0)
        os.utime(d)
        assert errno_of(os.chmod, d, 0o700) == errno.EPERM


# --- scratch files ---------------------------------------------------------------------


def test_a_file_made_in_a_container_is_a_private_scratch_file(ctr):
    config = read_bytes(ctr / "config.json")
    opts = read_bytes(ctr / "opts")
    with open(ctr / "notes.txt", "w") as f:
        f.write("a scratch file\n")
    st = os.stat(ctr / "notes.txt")
    assert stat.S_ISREG(st.st_mode) and st.st_size == 15 and (st.st_uid, st.st_gid) == (0, 0)
    assert "notes.txt" in os.listdir(ctr)
    with open(ctr / "notes.txt", "r+b") as f:
        f.seek(20)
        f.write(b"!")
    assert read_bytes(ctr / "notes.txt") == b"a scratch file\n\0\0\0\0\0!"
    os.truncate(ctr / "notes.txt", 2)
    os.chmod(ctr / "notes.txt", 0o600)
    os.utime(ctr / "notes.txt", (1_000_000_000, 1_000_000_000))
    st = os.stat(ctr / "notes.txt")
    assert (st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime) == (2, 0o600, 1_000_000_000)
    os.symlink("hostname", ctr / ".#lock")
    assert os.readlink(ctr / ".#lock") == "hostname"
    assert read_bytes(ctr / "config.json") == config and read_bytes(ctr / "opts") == opts, "never rendered"
    os.unlink(ctr / "notes.txt")
    os.unlink(ctr / ".#lock")
    assert not {"notes.txt", ".#lock"} & names_in(ctr)
    assert errno_of(os.mkdir, ctr / "dir") == errno.EPERM
    assert errno_of(os.mkfifo, ctr / "fifo") == errno.EPERM


def test_renaming_a_scratch_file_onto_a_control_file_commits_one_value(ctr):
    (ctr / "tmp1").write_text("renamed\n")
    os.rename(ctr / "tmp1", ctr / "hostname")
    assert read_text(ctr / "hostname") == "renamed\n"
    assert opts_of(ctr) == ["WithHostname renamed"]
    assert "tmp1" not in names_in(ctr)
    (ctr / "tmp2").write_text("A=1\nB=2\n")
    os.rename(ctr / "tmp2", ctr / "env")
    assert opts_of(ctr) == ["WithHostname renamed", "WithEnv A=1 B=2"]
    (ctr / "tmp3").write_text("linux/arm64\n")
    os.rename(ctr / "tmp3", ctr / "platform")
    assert read_text(ctr / "platform") == "linux/arm64\n"


def test_renaming_a_scratch_file_onto_opts_replaces_the_list(ctr):
    (ctr / "opts").write_text("WithHostname before\nWithEnv A=1\n")
    (ctr / "new-opts").write_text("WithHostname after\n")
    os.rename(ctr / "new-opts", ctr / "opts")
    assert opts_of(ctr) == ["WithHostname after"]
    assert json.loads(read_text(ctr / "config.json"))["hostname"] == "after"


def test_a_refused_value_leaves_the_old_one_and_the_scratch_file(ctr):
    (ctr / "memory.limit").write_text("1G")
    (ctr / "tmp").write_text("lots\n")
    assert errno_of(os.rename, ctr / "tmp", ctr / "memory.limit") == errno.EINVAL
    assert read_text(ctr / "memory.limit") == "1073741824\n"
    assert read_text(ctr / "tmp") == "lots\n"
    assert "memory.limit" in read_text(ctr / "error")
    (ctr / "bad-opts").write_text("WithHostname ok\nWithNoSuchOption\n")
    assert errno_of(os.rename, ctr / "bad-opts", ctr / "opts") == errno.EINVAL
    assert opts_of(ctr) == ["WithMemoryLimit 1073741824"]


def test_renaming_onto_config_json_or_error_is_refused(ctr):
    (ctr / "tmp").write_text("{}\n")
    config = read_bytes(ctr / "config.json")
    for name in ("config.json", "error"):
        assert errno_of(os.rename, ctr / "tmp", ctr / name) == errno.EACCES
    assert read_bytes(ctr / "config.json") == config
    assert read_text(ctr / "tmp") == "{}\n"


def test_renaming_onto_rootfs_image_has_mv_copy(ctr):
    """An unpack is a write answered once it is done: EXDEV, so mv copies."""
    (ctr / "tmp").write_text("oci:/nonexistent\n")
    assert errno_of(os.rename, ctr / "tmp", ctr / "rootfs.image") == errno.EXDEV
    assert read_text(ctr / "rootfs.image") == ""
    assert read_text(ctr / "tmp") == "oci:/nonexistent\n"


def test_renaming_what_a_file_shows_already_changes_nothing(ctr):
    (ctr / "hostname").write_text("same")
    settle()
    before = times(ctr / "opts")
    (ctr / "tmp").write_text(read_text(ctr / "hostname"))
    os.rename(ctr / "tmp", ctr / "hostname")
    (ctr / "tmp").write_text(read_text(ctr / "devices"))  # not writable as read, but unchanged
    os.rename(ctr / "tmp", ctr / "devices")
    assert opts_of(ctr) == ["WithHostname same"]
    assert times(ctr / "opts") == before


def test_scratch_files_have_limits(ctr):
    big = 16 << 20
    fd = os.open(ctr / "big", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, b"x", big - 1)
        assert errno_of(os.pwrite, fd, b"y", big) == errno.EFBIG
    finally:
        os.close(fd)
    assert os.stat(ctr / "big").st_size == big
    os.unlink(ctr / "big")
    made = []
    for i in range(64):
        (ctr / f"s{i}").write_text("")
        made.append(f"s{i}")
    assert errno_of(os.open, ctr / "one-more", os.O_WRONLY | os.O_CREAT, 0o600) == errno.ENOSPC
    for name in made:
        os.unlink(ctr / name)
    (ctr / "one-more").write_text("room again")


def test_scratch_files_do_not_survive_a_restart(daemon):
    ctr = make_container(daemon.mountpoint)
    (ctr / "left-behind").write_text("gone after a restart")
    daemon.stop()
    daemon.start()
    assert "left-behind" not in names_in(ctr)
    assert read_text(ctr / "opts") == ""


def test_a_container_holding_scratch_files_is_not_empty(ctr):
    (ctr / "tmp").write_text("")
    assert errno_of(os.rmdir, ctr) == errno.ENOTEMPTY
    run("rm", "-rf", ctr, ok=False)
    assert not ctr.exists()


def test_a_containers_own_files_cannot_move(ctr):
    assert errno_of(os.rename, ctr / "hostname", ctr / "hostname.bak") == errno.EXDEV
    assert errno_of(os.rename, ctr / "hostname", ctr / "domainname") == errno.EXDEV
    (ctr / "a").write_text("")
    os.rename(ctr / "a", ctr / "b")
    assert "b" in names_in(ctr) and "a" not in names_in(ctr)
    other = make_container(ctr.parent.parent, "default", "c2")
    assert errno_of(os.rename, ctr / "b", other / "hostname") == errno.EXDEV


# --- unlink, and making a file anew ------------------------------------------------------


def test_a_removed_file_stays_listed_and_keeps_its_value(ctr):
    (ctr / "hostname").write_text("kept")
    os.unlink(ctr / "hostname")
    assert "hostname" in names_in(ctr)
    assert read_text(ctr / "hostname") == "kept\n"
    assert opts_of(ctr) == ["WithHostname kept"]


def python(code: str, ok=True):
    """Run code in a process of its own (not the one that made the container)."""
    return run("/usr/bin/python3", "-c", "import errno, os\n" + code, ok=ok)


def test_an_exclusive_create_after_unlink_makes_the_file_anew(ctr):
    (ctr / "opts").write_text("WithHostname old\nWithEnv A=1\n")
    opts, hostname = str(ctr / "opts"), str(ctr / "hostname")
    python(f"""
excl = os.O_WRONLY | os.O_CREAT | os.O_EXCL
try:
    os.open({opts!r}, excl)
    raise SystemExit("an exclusive create of an existing file succeeded")
except FileExistsError:
    pass
os.unlink({opts!r})
fd = os.open({opts!r}, excl, 0o644)
os.write(fd, b"WithHostname new\\n")
os.close(fd)
try:
    os.open({opts!r}, excl)
    raise SystemExit("made anew twice")
except FileExistsError:
    pass
os.unlink({hostname!r})
""")
    assert opts_of(ctr) == ["WithHostname new"], "made anew, opts starts empty"
    # only the process that removed it
    other = python(f"os.open({hostname!r}, os.O_WRONLY | os.O_CREAT | os.O_EXCL)", ok=False)
    assert other.returncode == 1 and "FileExistsError" in other.stderr
    shell = run("bash", "-c", f"set -o noclobber; echo x > {hostname}", ok=False)
    assert shell.returncode != 0 and "cannot overwrite" in shell.stderr


def test_the_process_that_made_a_container_creates_its_files_anew_once(ctr):
    fd = os.open(ctr / "hostname", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"fresh")
    os.close(fd)
    assert read_text(ctr / "hostname") == "fresh\n"
    assert errno_of(os.open, ctr / "hostname", os.O_WRONLY | os.O_CREAT | os.O_EXCL) == errno.EEXIST


# --- the tools --------------------------------------------------------------------------


def test_sed_i(ctr):
    (ctr / "hostname").write_text("box")
    run("sed", "-i", "s/box/sedbox/", ctr / "hostname")
    assert read_text(ctr / "hostname") == "sedbox\n"
    run("sed", "-i", "$ a WithEnv A=1", ctr / "opts")
    # the new hostname's line replaces the old one (compaction, docs section 3)
    assert opts_of(ctr) == ["WithHostname sedbox", "WithEnv A=1"]
    (ctr / "memory.limit").write_text("1G")
    refused = run("sed", "-i", "s/.*/lots/", ctr / "memory.limit", ok=False)
    assert refused.returncode == 4 and "cannot rename" in refused.stderr
    assert read_text(ctr / "memory.limit") == "1073741824\n"
    assert "memory.limit" in read_text(ctr / "error")
    assert scratch_names(ctr) == set(), "sed removed its temporary file"


def test_perl_pi(ctr):
    (ctr / "env").write_text("A=1\nB=2\n")
    p = run("perl", "-pi", "-e", "s/B=2/B=3/", ctr / "env")
    assert p.stderr == ""
    assert read_text(ctr / "env") == "A=1\nB=3\n"


def test_rsync_with_and_without_inplace(ctr, tmp_path):
    src = tmp_path / "hostname"
    src.write_text("rsynced\n")
    run("rsync", src, ctr / "hostname")
    assert read_text(ctr / "hostname") == "rsynced\n"
    src.write_text("in-place\n")
    run("rsync", "--inplace", src, ctr / "hostname")
    assert read_text(ctr / "hostname") == "in-place\n"
    assert scratch_names(ctr) == set()


def test_rsync_a_restores_values(ctr, tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir(mode=0o755)
    os.chmod(saved, 0o755)
    (saved / "hostname").write_text("restored\n")
    (saved / "env").write_text("A=1\n")
    (saved / "domainname").write_text("example.org\n")
    for f in saved.iterdir():
        os.chmod(f, 0o644)
    run("rsync", "-a", f"{saved}/", f"{ctr}/")
    assert read_text(ctr / "hostname") == "restored\n" and read_text(ctr / "env") == "A=1\n"
    assert read_text(ctr / "domainname") == "example.org\n"
    again = run("rsync", "-a", "--itemize-changes", f"{saved}/", f"{ctr}/")
    assert read_text(ctr / "hostname") == "restored\n", again.stdout
    assert scratch_names(ctr) == set()


def test_python_mkstemp_and_os_replace(ctr):
    fd, tmp = tempfile.mkstemp(dir=ctr)
    os.write(fd, b"mkstemp\n")
    os.close(fd)
    os.replace(tmp, ctr / "hostname")
    assert read_text(ctr / "hostname") == "mkstemp\n"
    assert not os.path.exists(tmp)


def test_go_create_temp_and_rename(ctr):
    """os.CreateTemp(dir, "hostname.*") then os.Rename, as Go's os package
    makes them: openat(O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600), write, close;
    lstat of the target (a directory there is refused), rename. (golang-go
    is ~400 MB to install, too much for the test run.)"""
    tmp = ctr / f"hostname.{os.getpid()}{time.monotonic_ns() % 1000000000}"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.write(fd, b"gopher\n")
    os.close(fd)
    assert not stat.S_ISDIR(os.lstat(ctr / "hostname").st_mode)
    os.rename(tmp, ctr / "hostname")
    assert read_text(ctr / "hostname") == "gopher\n"


def test_emacs_batch_saves(ctr, tmp_path):
    """emacs keeps a backup `name~` of what it first read, as on any file
    system (by default it makes none for files under /tmp, so the test asks
    for one wherever the tree is mounted)."""
    (ctr / "hostname").write_text("emacsbox")
    env = dict(os.environ, HOME=str(tmp_path))
    run("emacs", "--batch", "--eval", "(setq backup-enable-predicate (lambda (_name) t))", ctr / "hostname", "--eval",
        '(progn (goto-char (point-min)) (while (search-forward "emacsbox" nil t) (replace-match "edited"))'
        ' (sleep-for 0.2) (save-buffer) (goto-char (point-min)) (while (search-forward "edited" nil t)'
        ' (replace-match "again")) (save-buffer))', env=env)
    assert read_text(ctr / "hostname") == "again\n"
    assert scratch_names(ctr) == {"hostname~"}, "emacs removed its lock and kept its backup"
    assert read_text(ctr / "hostname~") == "emacsbox\n"


def test_ansible_copy_pattern(ctr, tmp_path):
    """module_utils.basic.AnsibleModule.atomic_move, as the copy module calls
    it: the new content is in Ansible's own temporary directory, on another
    file system, so the rename fails with EXDEV and the content goes through
    a temporary file of the target's directory."""
    src = tmp_path / "AnsiballZ-src"
    src.write_text("ansible\n")
    dest = ctr / "hostname"
    dest_stat = os.stat(dest)
    os.chown(src, dest_stat.st_uid, dest_stat.st_gid)
    shutil.copystat(dest, src)
    os.utime(src, times=(time.time(), time.time()))
    assert errno_of(os.rename, src, dest) == errno.EXDEV
    tmp_fd, tmp_name = tempfile.mkstemp(prefix=".ansible_tmp", dir=ctr, suffix="hostname")
    os.close(tmp_fd)
    shutil.move(src, tmp_name, copy_function=shutil.copy)
    tmp_stat = os.stat(tmp_name)
    if (tmp_stat.st_uid, tmp_stat.st_gid) != (dest_stat.st_uid, dest_stat.st_gid):
        os.chown(tmp_name, dest_stat.st_uid, dest_stat.st_gid)
    os.utime(tmp_name, times=(time.time(), time.time()))
    os.rename(tmp_name, dest)
    assert not os.path.exists(tmp_name)
    assert read_text(dest) == "ansible\n"


def test_tar_c_of_a_container(ctr, tmp_path):
    (ctr / "opts").write_text("WithHostname tarred\n")
    (ctr / "rootfs" / "etc").mkdir()
    (ctr / "rootfs" / "etc" / "hostname").write_text("in the rootfs\n")
    run("tar", "-cf", tmp_path / "c.tar", "-C", ctr.parent, ctr.name)
    run("tar", "-xf", tmp_path / "c.tar", "-C", tmp_path)
    assert (tmp_path / "c1" / "config.json").read_bytes() == read_bytes(ctr / "config.json")
    assert (tmp_path / "c1" / "hostname").read_text() == "tarred\n"
    assert (tmp_path / "c1" / "rootfs" / "etc" / "hostname").read_text() == "in the rootfs\n"


def test_tar_x_into_a_container_and_into_a_new_one(ctr, tmp_path):
    saved = tmp_path / "c1"
    saved.mkdir()
    (saved / "hostname").write_text("from tar\n")
    (saved / "env").write_text("A=1\n")
    for f in (saved, *saved.iterdir()):
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    run("tar", "-cf", tmp_path / "v.tar", "-C", tmp_path, "c1")
    (ctr / "hostname").write_text("before")
    run("tar", "-xf", tmp_path / "v.tar", "-C", ctr.parent)
    assert read_text(ctr / "hostname") == "from tar\n" and read_text(ctr / "env") == "A=1\n"
    run("tar", "-xf", tmp_path / "v.tar", "-C", ctr.parent, "--transform", "s,^c1,c2,")
    assert read_text(ctr.parent / "c2" / "hostname") == "from tar\n"
    assert read_text(ctr.parent / "c2" / "env") == "A=1\n"
    assert len(opts_of(ctr.parent / "c2")) == 2


def test_install(ctr, tmp_path):
    src = tmp_path / "hostname"
    src.write_text("installed\n")
    run("install", "-m644", src, ctr / "hostname")
    assert read_text(ctr / "hostname") == "installed\n"
    refused = run("install", "-m755", src, ctr / "hostname", ok=False)
    assert refused.returncode == 1 and "permissions" in refused.stderr


def test_mv_across_file_systems(ctr, tmp_path):
    src = tmp_path / "hostname"
    src.write_text("moved\n")
    run("mv", src, ctr / "hostname")
    assert read_text(ctr / "hostname") == "moved\n"
    assert not src.exists()


def test_git_checkout(ctr, tmp_path):
    env = dict(os.environ, GIT_DIR=str(tmp_path / "repo.git"), GIT_WORK_TREE=str(ctr),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org")
    run("git", "init", "-q", env=env)
    (ctr / "hostname").write_text("committed")
    run("git", "add", "hostname", env=env)
    run("git", "commit", "-qm", "hostname", env=env)
    (ctr / "hostname").write_text("changed")
    assert run("git", "status", "--short", "hostname", env=env).stdout.strip() == "M hostname"
    run("git", "checkout", "--", "hostname", env=env)
    assert read_text(ctr / "hostname") == "committed\n"
    assert run("git", "status", "--short", "hostname", env=env).stdout == ""


def test_cp_p_and_cp_r(ctr, tmp_path):
    src = tmp_path / "hostname"
    src.write_text("copied\n")
    os.chmod(src, 0o644)
    run("cp", "-p", src, ctr / "hostname")
    assert read_text(ctr / "hostname") == "copied\n"
    # a directory of values, copied as a new container
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "hostname").write_text("clone\n")
    (saved / "env").write_text("A=1\n")
    run("cp", "-r", saved, ctr.parent / "c2")
    assert read_text(ctr.parent / "c2" / "hostname") == "clone\n"
    assert read_text(ctr.parent / "c2" / "env") == "A=1\n"
    # and a container out of the tree
    run("cp", "-r", ctr, tmp_path / "out")
    assert (tmp_path / "out" / "config.json").read_bytes() == read_bytes(ctr / "config.json")


def test_make_rebuilds_from_config_json_only_when_it_changed(ctr, tmp_path):
    (tmp_path / "Makefile").write_text(f"spec.json: {ctr}/config.json\n\tcp $< $@\n")
    run("make", "-C", tmp_path)
    settle()
    assert "is up to date" in run("make", "-C", tmp_path).stdout
    time.sleep(0.5)
    assert "is up to date" in run("make", "-C", tmp_path).stdout
    (ctr / "hostname").write_text("rebuilt")
    assert "cp " in run("make", "-C", tmp_path).stdout
    assert json.loads((tmp_path / "spec.json").read_text())["hostname"] == "rebuilt"


def test_find_newer_lists_what_changed(ctr, tmp_path):
    (ctr / "opts").write_text("WithHostname a\n")
    settle()
    ref = tmp_path / "ref"
    ref.write_text("")
    settle()
    (ctr / "hostname").write_text("b")
    found = set(run("find", ctr, "-maxdepth", "1", "-newer", ref).stdout.split())
    assert {str(ctr / n) for n in ("opts", "config.json", "hostname")} <= found
    assert not {str(ctr / n) for n in ("platform", "error")} & found
