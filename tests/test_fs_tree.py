"""The tree of a mounted bundlefs (INTERFACE.md section 1): namespaces and
containers made and removed with mkdir, rmdir, mv and rm; the files of a
container, their modes and owners; the rootfs bind mount; who may read and
write what."""
import errno
import json
import os
import stat

import pytest

from support.mount import make_container
from support.treeops import (
    errno_as,
    mounts_at,
    read_bytes,
    read_text,
    rm_rf,
    rootfs_state_path,
    run_as,
    same_file,
    wait_rootfs_mounted,
)

NOBODY = 65534

VIRTUAL_FILES = {"config.json", "opts", "platform", "error"}
# INTERFACE.md section 3's table: the control files every container has.
CONTROL_FILES = {
    "caps", "caps.ambient", "devices", "user", "groups", "env", "args", "cwd",
    "hostname", "domainname", "memory.limit", "memory.swap", "pids.max",
    "cpu.shares", "cpu.cfs", "cpu.rt", "cpuset.cpus", "cpuset.mems",
    "namespaces", "mounts", "annotations", "tty", "rootfs.path",
    "rootfs.readonly", "privileged", "image",
}
READ_ONLY_FILES = {"config.json", "error"}

INVALID_NAMES = ["-a", "a-", "a..b", "a b", "\u00e4", ".a", "a.", "a_", "_a", "a--b", "a\tb", "x" * 77]
VALID_NAMES = ["a", "A", "0", "default", "k8s.io", "a-b_c.d", "web-1", "a.b-c_D9", "x" * 76]


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def cgroups_path(cdir):
    return json.loads(read_text(cdir / "config.json"))["linux"]["cgroupsPath"]


def assert_rootfs_bound(mnt, state, ns, cid):
    """<mnt>/<ns>/<id>/rootfs is one bind mount of <state>/namespaces/<ns>/<id>/rootfs."""
    target = mnt / ns / cid / "rootfs"
    source = rootfs_state_path(state, ns, cid)
    here = mounts_at(target)
    assert len(here) == 1, f"expected one mount on {target}, found {here}"
    assert here[0]["root"].endswith(f"/namespaces/{ns}/{cid}/rootfs"), \
        f"the mount on {target} is of {here[0]['root']}, not of the state's rootfs"
    assert not here[0]["fstype"].startswith("fuse"), f"{target} is not a bind mount: {here[0]}"
    assert same_file(target, source), f"{target} is not {source}"


# --- creating namespaces and containers -----------------------------------------------


@pytest.mark.parametrize("name", VALID_NAMES, ids=lambda n: n if len(n) < 20 else f"{len(n)}-chars")
def test_mkdir_with_a_valid_name_makes_a_namespace_and_a_container(daemon, name):
    mnt = daemon.mountpoint
    (mnt / name).mkdir()
    assert (mnt / name).is_dir() and name in os.listdir(mnt)
    (mnt / name / name).mkdir()
    assert name in os.listdir(mnt / name)
    assert (mnt / name / name / "config.json").is_file()
    assert (daemon.state / "namespaces" / name / name / "rootfs").is_dir()


@pytest.mark.parametrize("name", INVALID_NAMES, ids=repr)
def test_mkdir_with_an_invalid_name_fails_with_einval(daemon, name):
    mnt = daemon.mountpoint
    (mnt / "default").mkdir()
    assert errno_of(os.mkdir, mnt / name) == errno.EINVAL
    assert errno_of(os.mkdir, mnt / "default" / name) == errno.EINVAL
    assert os.listdir(mnt) == ["default"]
    assert os.listdir(mnt / "default") == []
    assert os.listdir(daemon.state / "namespaces") == ["default"]


def test_a_name_of_76_characters_works_and_77_does_not(daemon):
    mnt = daemon.mountpoint
    ok, too_long = "n" * 75 + "1", "n" * 76 + "1"
    (mnt / ok).mkdir()
    (mnt / ok / ok).mkdir()
    assert os.listdir(mnt / ok) == [ok]
    assert errno_of(os.mkdir, mnt / too_long) == errno.EINVAL
    assert errno_of(os.mkdir, mnt / ok / too_long) == errno.EINVAL


def test_mkdir_of_an_existing_namespace_or_container_fails_with_eexist(daemon):
    mnt = daemon.mountpoint
    cdir = make_container(mnt, "default", "c1")
    (cdir / "opts").write_text("WithHostname keep\n")
    assert errno_of(os.mkdir, mnt / "default") == errno.EEXIST
    assert errno_of(os.mkdir, cdir) == errno.EEXIST
    assert read_text(cdir / "opts") == "WithHostname keep\n"


def test_only_directories_can_be_created_at_the_top_two_levels(daemon):
    mnt = daemon.mountpoint
    (mnt / "default").mkdir()
    for parent in (mnt, mnt / "default"):
        assert errno_of(os.open, parent / "file", os.O_WRONLY | os.O_CREAT, 0o644) == errno.EPERM
        assert errno_of(os.symlink, "/tmp", parent / "link") == errno.EPERM
        assert errno_of(os.mkfifo, parent / "fifo") == errno.EPERM
    assert os.listdir(mnt) == ["default"]
    assert os.listdir(mnt / "default") == []


def test_only_scratch_files_can_be_created_inside_a_container(daemon):
    """Files and symbolic links made in a container are scratch files
    (test_tools.py); directories, devices and hard links are refused."""
    cdir = make_container(daemon.mountpoint)
    before = sorted(os.listdir(cdir))
    assert errno_of(os.mkdir, cdir / "newdir") == errno.EPERM
    assert errno_of(os.mkfifo, cdir / "fifo") == errno.EPERM
    assert errno_of(os.link, cdir / "opts", cdir / "hardlink") == errno.EPERM
    assert sorted(os.listdir(cdir)) == before
    os.close(os.open(cdir / "newfile", os.O_WRONLY | os.O_CREAT, 0o644))
    os.symlink("opts", cdir / "link")
    assert sorted(os.listdir(cdir)) == sorted(before + ["newfile", "link"])


# --- the files of a container ---------------------------------------------------------


def test_a_container_lists_its_files_rootfs_and_the_control_files(daemon):
    cdir = make_container(daemon.mountpoint)
    names = os.listdir(cdir)
    assert len(names) == len(set(names)), f"duplicate entries: {sorted(names)}"
    listed = set(names)
    missing = (VIRTUAL_FILES | CONTROL_FILES | {"rootfs"}) - listed
    assert not missing, f"missing from the container: {sorted(missing)}"
    # Anything beyond those is a control file: a regular 0644 file.
    for extra in listed - VIRTUAL_FILES - CONTROL_FILES - {"rootfs"}:
        st = os.lstat(cdir / extra)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644, \
            f"{extra} is listed but is not a control file"
    # Every listed name can be looked up, and nothing else exists.
    for name in names:
        os.lstat(cdir / name)
    assert errno_of(os.lstat, cdir / "no-such-file") == errno.ENOENT


def test_readdir_of_the_root_and_a_namespace_lists_exactly_what_was_made(daemon):
    mnt = daemon.mountpoint
    for ns in ("default", "k8s.io"):
        (mnt / ns).mkdir()
    for cid in ("c1", "web-1", "b"):
        (mnt / "default" / cid).mkdir()
    assert sorted(os.listdir(mnt)) == ["default", "k8s.io"]
    assert sorted(os.listdir(mnt / "default")) == ["b", "c1", "web-1"]
    assert os.listdir(mnt / "k8s.io") == []


def test_a_namespace_lists_its_containers_sorted_by_id_whatever_order_they_were_made_in(daemon):
    ns = daemon.mountpoint / "default"
    ns.mkdir()
    made = ["c2", "c10", "b", "c1", "a-1"]
    for cid in made[:3]:
        (ns / cid).mkdir()
    assert os.listdir(ns) == ["b", "c10", "c2"]
    for cid in made[3:]:
        (ns / cid).mkdir()
    os.rename(ns / "c10", ns / "0")
    os.rmdir(ns / "c1")
    want = ["0", "a-1", "b", "c2"]
    assert os.listdir(ns) == want
    daemon.stop()
    daemon.start()
    assert os.listdir(ns) == want


def test_files_have_their_modes_and_belong_to_the_mounting_user(daemon):
    cdir = make_container(daemon.mountpoint)
    for name in os.listdir(cdir):
        st = os.lstat(cdir / name)
        assert (st.st_uid, st.st_gid) == (0, 0), f"{name} is owned by {st.st_uid}:{st.st_gid}"
        if name == "rootfs":
            assert stat.S_ISDIR(st.st_mode)
            continue
        assert stat.S_ISREG(st.st_mode), f"{name} is not a regular file"
        want = 0o444 if name in READ_ONLY_FILES else 0o644
        assert stat.S_IMODE(st.st_mode) == want, f"{name} has mode {stat.S_IMODE(st.st_mode):o}, want {want:o}"
    for d in (daemon.mountpoint, daemon.mountpoint / "default", cdir):
        st = os.stat(d)
        assert stat.S_ISDIR(st.st_mode) and (st.st_uid, st.st_gid) == (0, 0)


def test_the_size_of_a_file_is_what_a_read_gives(daemon):
    cdir = make_container(daemon.mountpoint)
    (cdir / "opts").write_text("WithHostname sized\n")
    for name in ("config.json", "opts", "platform", "hostname", "caps", "error"):
        assert os.stat(cdir / name).st_size == len(read_bytes(cdir / name)), name


# --- rootfs -----------------------------------------------------------------------------


def test_rootfs_is_a_bind_mount_of_the_state_directory(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    cdir = make_container(mnt, "default", "c1")
    assert_rootfs_bound(mnt, state, "default", "c1")
    # Through the mount into the state directory...
    (cdir / "rootfs" / "etc").mkdir()
    (cdir / "rootfs" / "etc" / "hostname").write_text("through the tree\n")
    in_state = rootfs_state_path(state, "default", "c1")
    assert (in_state / "etc" / "hostname").read_text() == "through the tree\n"
    # ... and the other way round.
    (in_state / "from-state").write_text("from the state dir\n")
    assert (cdir / "rootfs" / "from-state").read_text() == "from the state dir\n"
    os.symlink("etc/hostname", cdir / "rootfs" / "link")
    assert os.readlink(in_state / "link") == "etc/hostname"
    assert sorted(os.listdir(cdir / "rootfs")) == ["etc", "from-state", "link"]


# --- renaming ---------------------------------------------------------------------------


def test_mv_renames_a_container_and_its_cgroups_path_rootfs_and_bind_mount_follow(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    a = make_container(mnt, "default", "a")
    (a / "opts").write_text("WithHostname renamed\n")
    (a / "rootfs" / "data").write_text("payload\n")
    assert cgroups_path(a) == "/default/a"

    os.rename(a, mnt / "default" / "b")

    b = mnt / "default" / "b"
    assert sorted(os.listdir(mnt / "default")) == ["b"]
    assert cgroups_path(b) == "/default/b"
    assert read_text(b / "opts") == "WithHostname renamed\n"
    assert json.loads(read_text(b / "config.json"))["hostname"] == "renamed"
    assert (b / "rootfs" / "data").read_text() == "payload\n"
    assert not (state / "namespaces" / "default" / "a").exists()
    assert_rootfs_bound(mnt, state, "default", "b")
    assert mounts_at(mnt / "default" / "a" / "rootfs") == []
    # The renamed container's rootfs is still the live bind mount.
    (b / "rootfs" / "after").write_text("x")
    assert (rootfs_state_path(state, "default", "b") / "after").read_text() == "x"


def test_mv_moves_a_container_to_another_namespace(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    a = make_container(mnt, "default", "a")
    (mnt / "other").mkdir()
    (a / "rootfs" / "data").write_text("payload\n")
    (a / "opts").write_text("WithHostname moved\n")

    os.rename(a, mnt / "other" / "a")

    moved = mnt / "other" / "a"
    assert os.listdir(mnt / "default") == []
    assert os.listdir(mnt / "other") == ["a"]
    assert cgroups_path(moved) == "/other/a"
    assert read_text(moved / "opts") == "WithHostname moved\n"
    assert (moved / "rootfs" / "data").read_text() == "payload\n"
    assert_rootfs_bound(mnt, state, "other", "a")
    assert not (state / "namespaces" / "default" / "a").exists()


def test_renaming_onto_an_existing_container_fails_and_keeps_both(daemon):
    mnt = daemon.mountpoint
    a = make_container(mnt, "default", "a")
    b = make_container(mnt, "default", "b")
    (a / "opts").write_text("WithHostname a\n")
    (b / "opts").write_text("WithHostname b\n")
    (a / "rootfs" / "in-a").write_text("a")
    assert errno_of(os.rename, a, b) != 0
    assert sorted(os.listdir(mnt / "default")) == ["a", "b"]
    assert read_text(a / "opts") == "WithHostname a\n"
    assert read_text(b / "opts") == "WithHostname b\n"
    assert os.listdir(a / "rootfs") == ["in-a"]
    assert os.listdir(b / "rootfs") == []
    assert cgroups_path(a) == "/default/a" and cgroups_path(b) == "/default/b"


# --- removing ---------------------------------------------------------------------------


def test_rmdir_of_a_container_with_data_in_rootfs_fails_with_enotempty_and_deletes_nothing(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    cdir = make_container(mnt, "default", "c1")
    (cdir / "opts").write_text("WithHostname kept\n")
    (cdir / "rootfs" / "data").write_text("precious\n")
    assert errno_of(os.rmdir, cdir) == errno.ENOTEMPTY
    assert os.listdir(mnt / "default") == ["c1"]
    assert (cdir / "rootfs" / "data").read_text() == "precious\n"
    assert (rootfs_state_path(state, "default", "c1") / "data").read_text() == "precious\n"
    assert read_text(cdir / "opts") == "WithHostname kept\n"
    assert_rootfs_bound(mnt, state, "default", "c1")


def test_rmdir_of_a_container_with_an_empty_rootfs_removes_it_and_its_state(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    cdir = make_container(mnt, "default", "c1")
    (cdir / "opts").write_text("WithHostname gone\n")
    wait_rootfs_mounted(cdir)  # rmdir right after mkdir: test_rmdir_right_after_mkdir_...
    os.rmdir(cdir)
    assert os.listdir(mnt / "default") == []
    assert not os.path.lexists(cdir)
    assert not (state / "namespaces" / "default" / "c1").exists()
    assert mounts_at(cdir / "rootfs") == []
    # The name is free again, for a fresh container.
    cdir.mkdir()
    assert read_text(cdir / "opts") == ""


def test_rmdir_of_a_namespace_holding_containers_fails_with_enotempty(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    wait_rootfs_mounted(make_container(mnt, "default", "c1"))
    assert errno_of(os.rmdir, mnt / "default") == errno.ENOTEMPTY
    assert os.listdir(mnt / "default") == ["c1"]
    os.rmdir(mnt / "default" / "c1")
    os.rmdir(mnt / "default")
    assert os.listdir(mnt) == []
    assert not (state / "namespaces" / "default").exists()


def test_rmdir_right_after_mkdir_removes_the_container(daemon):
    mnt = daemon.mountpoint
    (mnt / "default").mkdir()
    for i in range(20):
        cdir = mnt / "default" / f"c{i}"
        cdir.mkdir()
        code = errno_of(os.rmdir, cdir)
        assert code == 0, f"rmdir of a fresh, empty container {cdir.name} failed: {errno.errorcode[code]}"
        assert not os.path.lexists(cdir)
    assert os.listdir(mnt / "default") == []
    assert os.listdir(daemon.state / "namespaces" / "default") == []


def test_mv_right_after_mkdir_renames_the_container(daemon):
    mnt = daemon.mountpoint
    (mnt / "default").mkdir()
    for i in range(20):
        cdir = mnt / "default" / f"new{i}"
        cdir.mkdir()
        code = errno_of(os.rename, cdir, mnt / "default" / f"renamed{i}")
        assert code == 0, f"mv of a fresh container {cdir.name} failed: {errno.errorcode[code]}"
    assert sorted(os.listdir(mnt / "default")) == sorted(f"renamed{i}" for i in range(20))
    for i in range(20):
        assert cgroups_path(mnt / "default" / f"renamed{i}") == f"/default/renamed{i}"
        wait_rootfs_mounted(mnt / "default" / f"renamed{i}")
        assert_rootfs_bound(mnt, daemon.state, "default", f"renamed{i}")


@pytest.mark.parametrize("name", ["config.json", "opts", "platform", "error", "hostname", "caps", "env"])
def test_unlinking_a_virtual_file_succeeds_and_changes_nothing(daemon, name):
    cdir = make_container(daemon.mountpoint)
    (cdir / "opts").write_text("WithHostname still\nWithEnv A=1\n")
    before = read_bytes(cdir / name)
    config = read_bytes(cdir / "config.json")
    os.unlink(cdir / name)
    assert name in os.listdir(cdir)
    assert read_bytes(cdir / name) == before
    assert read_bytes(cdir / "config.json") == config
    assert read_text(cdir / "opts") == "WithHostname still\nWithEnv A=1\n"


def test_rm_rf_of_a_container_with_data_removes_it(daemon):
    mnt, state = daemon.mountpoint, daemon.state
    cdir = make_container(mnt, "default", "c1")
    (cdir / "opts").write_text("WithHostname doomed\n")
    (cdir / "rootfs" / "etc").mkdir()
    (cdir / "rootfs" / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("/etc/passwd", cdir / "rootfs" / "link")
    result = rm_rf(cdir)  # may exit 1 reporting EBUSY for the rootfs mount point
    assert not os.path.lexists(cdir), (f"rm -rf left the container (rm said {result.stderr.strip()!r}); "
                                       f"its rootfs now holds {sorted(os.listdir(cdir / 'rootfs'))}")
    assert os.listdir(mnt / "default") == []
    assert not (state / "namespaces" / "default" / "c1").exists()
    assert mounts_at(cdir / "rootfs") == []


# --- other users ------------------------------------------------------------------------


def test_another_user_reads_specs_but_cannot_write_them(public_daemon):
    mnt = public_daemon.mountpoint
    cdir = make_container(mnt, "default", "c1")
    (cdir / "opts").write_text("WithHostname mine\n")
    config = read_bytes(cdir / "config.json")

    def read_all():
        return {name: open(cdir / name, "rb").read().decode() for name in
                ("config.json", "opts", "hostname", "caps", "platform", "error")}

    seen = run_as(NOBODY, NOBODY, read_all)
    assert seen["config.json"].encode() == config
    assert seen["hostname"] == "mine\n"
    assert seen["opts"] == "WithHostname mine\n"

    for name, value in (("hostname", b"theirs\n"), ("opts", b"WithHostname theirs\n"),
                        ("caps", b"CAP_SYS_ADMIN\n"), ("platform", b"windows/amd64\n")):
        def write():
            fd = os.open(cdir / name, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, value)
            finally:
                os.close(fd)
        code = errno_as(NOBODY, NOBODY, write)
        assert code == errno.EACCES, \
            f"writing {name} as uid {NOBODY}: {os.strerror(code) if code else 'allowed'}"
    assert errno_as(NOBODY, NOBODY, lambda: os.mkdir(mnt / "default" / "theirs")) == errno.EACCES
    assert errno_as(NOBODY, NOBODY, lambda: os.mkdir(mnt / "theirs")) == errno.EACCES
    assert read_bytes(cdir / "config.json") == config
    assert read_text(cdir / "opts") == "WithHostname mine\n"


def test_another_user_creates_files_in_rootfs_only_when_its_permissions_allow(public_daemon):
    mnt, state = public_daemon.mountpoint, public_daemon.state
    cdir = make_container(mnt, "default", "c1")
    rootfs = cdir / "rootfs"

    def create(name):
        def fn():
            with open(rootfs / name, "w") as f:
                f.write("by nobody\n")
        return fn

    os.chmod(rootfs, 0o755)
    assert errno_as(NOBODY, NOBODY, create("denied")) == errno.EACCES
    assert not (rootfs / "denied").exists()

    os.chmod(rootfs, 0o1777)  # through the bind mount: the state directory's rootfs
    in_state = rootfs_state_path(state, "default", "c1")
    assert stat.S_IMODE(os.stat(in_state).st_mode) == 0o1777
    assert errno_as(NOBODY, NOBODY, create("allowed")) == 0
    st = os.stat(in_state / "allowed")
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)
    assert (in_state / "allowed").read_text() == "by nobody\n"
