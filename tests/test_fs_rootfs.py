"""The rootfs bind mounts, and a rootfs served through FUSE (docs/bundlefs.md
section 1, "rootfs", and section 6): a start mounts nothing and each rootfs
is mounted at its first use, before anything walks into it; nothing a user
other than root does takes a mount off; and what the daemon keeps for a
rootfs is bounded, in descriptors and in what other users can make it keep."""
import ctypes
import errno
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from support.mount import Daemon, make_container, mounts_under
from support.treeops import errno_as, mounts_at, rootfs_state_path, run_as, same_file

NOBODY = 65534
PR_SET_NAME = 15
PT_NODES_PER_UID = 16384        # fs/passthrough.h


def fd_count(pid) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def bind_mounts(mnt) -> list:
    """The rootfs bind mounts below the tree (the tree's own mount left out)."""
    return [m for m in mounts_under(mnt) if m != os.path.realpath(mnt)]


@pytest.fixture
def public_dir():
    """A 0755 directory in /tmp, for trees other users must reach (pytest's
    tmp_path lies under a 0700 directory)."""
    top = tempfile.mkdtemp(prefix="bundlefs-rootfs-")
    os.chmod(top, 0o755)
    yield pathlib.Path(top)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def start_daemon(bundlefs_bin, tmp_path):
    """Daemons on tmp_path/state, each stopped (and its mounts gone) at the end."""
    started = []

    def start(mountpoint=None, wrap=()):
        d = Daemon(bundlefs_bin, tmp_path / "state", mountpoint or tmp_path / "mnt", wrap=wrap)
        started.append(d)
        return d.start()

    yield start
    for d in started:
        d.cleanup()


def served_through_fuse(cdir):
    """Take the rootfs bind mount off by hand, as a process that entered the
    directory before the mount sees it: the rootfs is served through FUSE
    (the daemon still counts it as mounted, so it leaves it so)."""
    target = os.path.realpath(cdir / "rootfs")
    subprocess.run(["umount", "-l", target], check=True)
    assert not mounts_at(target)


# --- mounts at first use ----------------------------------------------------------------


def test_a_start_mounts_nothing_and_the_first_use_of_a_rootfs_walks_into_its_mount(start_daemon):
    d = start_daemon()
    for cid in ("a", "b", "c"):
        cdir = make_container(d.mountpoint, "default", cid)
        (cdir / "rootfs" / "etc").mkdir()
        (cdir / "rootfs" / "etc" / "hostname").write_text(f"{cid}\n")
    d.stop()
    d.start()
    assert bind_mounts(d.mountpoint) == [], "a start mounted rootfs nobody used"

    ns = d.mountpoint / "default"
    # A path through the rootfs: the open itself lands in the mount, not in FUSE.
    fd = os.open(ns / "a" / "rootfs" / "etc" / "hostname", os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"a\n"
        st = os.fstat(fd)
    finally:
        os.close(fd)
    real = rootfs_state_path(d.state, "default", "a") / "etc" / "hostname"
    assert (st.st_dev, st.st_ino) == (os.stat(real).st_dev, os.stat(real).st_ino)
    # The rootfs itself: its first stat is the state directory's.
    assert same_file(ns / "b" / "rootfs", rootfs_state_path(d.state, "default", "b"))
    assert sorted(os.path.basename(m) for m in map(os.path.dirname, bind_mounts(d.mountpoint))) == ["a", "b"]
    # Reading config.json waits for the mount its look-up asked for.
    (ns / "c" / "config.json").read_bytes()
    assert mounts_at(ns / "c" / "rootfs")


def test_the_first_stat_of_each_rootfs_after_a_start_is_its_mount_and_makes_it(start_daemon):
    """mkdir makes no rootfs in the state directory; the first use makes it
    and mounts it. A stat right after a start waits for that mount, or walks
    again into it when it was made while the stat was on its way, for every
    one of many containers used one after the other."""
    d = start_daemon()
    ns = d.mountpoint / "default"
    ns.mkdir()
    count = 200
    for i in range(count):
        (ns / f"c{i}").mkdir()
    assert not rootfs_state_path(d.state, "default", "c0").exists(), "mkdir made the rootfs"
    d.stop()
    d.start()
    not_mounted = [f"c{i}" for i in reversed(range(count))
                   if not same_file(ns / f"c{i}" / "rootfs", rootfs_state_path(d.state, "default", f"c{i}"))]
    assert not_mounted == [], "first stats served through FUSE, not by the mount"
    assert len(bind_mounts(d.mountpoint)) == count


def test_mkdir_mounts_nothing_and_a_new_container_is_listed_used_and_run_from_its_mount(start_daemon):
    """A mkdir's reply gives the kernel the new directory without a look-up:
    listing it, opening its config.json and walking into its rootfs right
    away each find what they need (the rootfs made at that first use)."""
    d = start_daemon()
    ns = d.mountpoint / "default"
    ns.mkdir()
    for cid in ("a", "b", "c"):
        (ns / cid).mkdir()
    assert bind_mounts(d.mountpoint) == [], "mkdir mounted a rootfs nobody used"
    # Listing a container nothing looked up yet.
    assert "rootfs" in os.listdir(ns / "a") and "config.json" in os.listdir(ns / "a")
    # A runtime opens config.json first: the open waits for the mount.
    (ns / "b" / "config.json").read_bytes()
    assert mounts_at(ns / "b" / "rootfs")
    # A path into the rootfs lands in the mount.
    (ns / "c" / "rootfs" / "etc").mkdir()
    assert same_file(ns / "c" / "rootfs" / "etc", rootfs_state_path(d.state, "default", "c") / "etc")
    assert d.proc.poll() is None


def test_rm_rf_right_after_a_start_removes_a_container_with_data(start_daemon):
    """rm -rf meets a mount being made by its own first look-up: the mount
    is stopped or taken off, and rm goes on through FUSE."""
    d = start_daemon()
    for cid in ("a", "b"):
        cdir = make_container(d.mountpoint, "default", cid)
        (cdir / "rootfs" / "data").mkdir()
        (cdir / "rootfs" / "data" / "f").write_text("x\n")
    d.stop()
    d.start()
    for cid in ("a", "b"):
        r = subprocess.run(["rm", "-rf", str(d.mountpoint / "default" / cid)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert not (d.mountpoint / "default" / cid).exists()
        assert not rootfs_state_path(d.state, "default", cid).exists()
    assert bind_mounts(d.mountpoint) == []


# --- umount(8) ------------------------------------------------------------------------------


@pytest.mark.parametrize("uid", [NOBODY, 0], ids=["nobody", "root-not-running-umount"])
def test_a_process_only_named_umount_takes_no_mount_off(start_daemon, public_dir, uid):
    """The daemon takes the bind mounts off for umount(8) run by root, which
    asks statfs of the tree first (tests/test_fs_daemon.py has it unmount a
    tree with containers). A process that merely calls itself umount
    (PR_SET_NAME) gets its statfs and nothing else, however often it asks."""
    d = start_daemon(public_dir / "mnt")
    cdir = make_container(d.mountpoint, "default", "c1")
    mnt = str(d.mountpoint)

    def statfs_named_umount():
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(PR_SET_NAME, b"umount", 0, 0, 0) == 0
        for _ in range(3):
            os.statvfs(mnt)
            fd = os.open(mnt, os.O_PATH)    # what umount(8) does
            try:
                os.fstatvfs(fd)
            finally:
                os.close(fd)
        with open("/proc/self/comm") as f:
            return f.read()

    assert run_as(uid, uid, statfs_named_umount) == "umount\n"
    assert mounts_at(cdir / "rootfs"), "a statfs took the rootfs bind mount off"


# --- descriptors ------------------------------------------------------------------------------


def test_files_other_users_make_through_fuse_hold_no_descriptor_of_the_daemon(start_daemon, public_dir):
    """A world-writable rootfs served through FUSE: another user makes and
    stats far more files than the daemon may open, and root's mkdir works
    on, the daemon holding no more descriptors than before."""
    d = start_daemon(public_dir / "mnt", wrap=["prlimit", "--nofile=256", "--"])
    cdir = make_container(d.mountpoint, "default", "c1")
    os.chmod(cdir / "rootfs", 0o1777)
    served_through_fuse(cdir)
    before = fd_count(d.pid)
    files = 1000
    top = cdir / "rootfs" / "many"

    def make_and_stat():
        os.mkdir(top)
        for i in range(files):
            with open(top / f"f{i}", "w") as f:
                f.write("x")
        return sum(os.stat(top / f"f{i}").st_size for i in range(files))

    assert run_as(NOBODY, NOBODY, make_and_stat) == files
    assert len(os.listdir(rootfs_state_path(d.state, "default", "c1") / "many")) == files
    assert fd_count(d.pid) <= before + 2, "the daemon keeps descriptors for files below a rootfs"
    (d.mountpoint / "default" / "c2").mkdir()
    assert (d.mountpoint / "default" / "c2" / "config.json").read_bytes()


def test_one_user_makes_the_daemon_keep_at_most_its_share_of_files_below_rootfs(start_daemon, public_dir):
    """Every file the kernel looked up below a rootfs served through FUSE is
    kept until the kernel forgets it. A user other than root may make it
    keep PT_NODES_PER_UID in all; beyond, look-ups fail with ENFILE for that
    user only."""
    d = start_daemon(public_dir / "mnt")
    cdir = make_container(d.mountpoint, "default", "c1")
    in_state = rootfs_state_path(d.state, "default", "c1") / "many"
    in_state.mkdir()
    os.chmod(in_state.parent, 0o755)
    total = PT_NODES_PER_UID + 10
    for i in range(total):
        os.close(os.open(in_state / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o644))
    served_through_fuse(cdir)
    top = str(cdir / "rootfs" / "many")

    def stat_all():
        for i in range(total):
            try:
                os.lstat(f"{top}/f{i}")
            except OSError as e:
                return [i, e.errno]
        return [total, 0]

    # The directory "many" is one of the user's nodes, then come the files.
    assert run_as(NOBODY, NOBODY, stat_all) == [PT_NODES_PER_UID - 1, errno.ENFILE]
    assert errno_as(NOBODY, NOBODY, lambda: os.lstat(f"{top}/f{total - 1}")) == errno.ENFILE
    # Root is not limited, and neither is what the user already holds.
    assert os.lstat(f"{top}/f{total - 1}").st_size == 0
    assert errno_as(NOBODY, NOBODY, lambda: os.lstat(f"{top}/f0")) == 0
    assert errno_as(NOBODY, NOBODY, lambda: os.lstat(f"{top}/f{total - 1}")) == 0



def test_a_stop_with_directories_and_files_still_open_frees_what_they_held(start_daemon):
    """The kernel sends no release for what is still open when the session
    ends: the daemon frees those listings, descriptors and open files itself
    (the sanitizer build fails the stop on any leak)."""
    d = start_daemon()
    cdir = make_container(d.mountpoint, "default", "c1")
    (rootfs_state_path(d.state, "default", "c1") / "etc").mkdir()
    (rootfs_state_path(d.state, "default", "c1") / "etc" / "hostname").write_text("x\n")
    served_through_fuse(cdir)
    held = [os.open(d.mountpoint, os.O_RDONLY | os.O_DIRECTORY),
            os.open(cdir, os.O_RDONLY | os.O_DIRECTORY),
            os.open(cdir / "rootfs" / "etc", os.O_RDONLY | os.O_DIRECTORY),
            os.open(cdir / "rootfs" / "etc" / "hostname", os.O_RDONLY),
            os.open(cdir / "config.json", os.O_RDONLY)]
    try:
        assert os.listdir(held[1])
        assert os.read(held[3], 10) == b"x\n"
        assert d.stop() == 0, d.log()
    finally:
        for fd in held:
            try:
                os.close(fd)
            except OSError as e:    # the flush of a file of a tree gone
                assert e.errno == errno.ENOTCONN
