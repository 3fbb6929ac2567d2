"""Confinement and permissions, through a mounted tree: user and group
look-ups never leave the root they read from (with openat2, and with the
resolution by hand bundlefs uses on kernels without it), option lines that
name host paths are kept to the mount's owner, and what other users may do.
(The state directory's owner and mode are checked in test_fs_daemon.py.)"""
import errno
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import build_dir
from support.ctl import CONTROL_FILES, config, error_text, read, state_of
from support.mount import Daemon, make_container
from support.treeops import CAP_DAC_OVERRIDE, errno_as, run_as

NOBODY = 65534

# Only the host knows these: a look-up that finds them has left the rootfs.
HOST_USER, HOST_UID, HOST_GID = "hostonlyuser", 4242, 4243
HOST_GROUP, HOST_GROUP_GID = "hostonlygroup", 4244
HOST_IDS = (HOST_UID, HOST_GID, HOST_GROUP_GID, 4245, 4246)

ROOTFS_PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
ROOTFS_GROUP = "root:x:0:\nalice:x:1000:\n"

ACCOUNTS_FILE_MAX = 16 << 20


def without_openat2() -> pathlib.Path:
    path = build_dir() / "tests" / "without-openat2"
    assert path.exists(), f"{path} is not built"
    return path


def seccomp_filters(pid="self") -> int:
    """How many seccomp filters the process runs under."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp_filters:"):
                return int(line.split()[1])
    raise AssertionError(f"no Seccomp_filters line in /proc/{pid}/status")


@pytest.fixture(params=["openat2", "walk"])
def lookup_daemon(request, bundlefs_bin, tmp_path):
    """A daemon whose look-ups resolve with openat2(RESOLVE_IN_ROOT), or,
    with openat2 failing ENOSYS as on kernels before 5.6, by hand."""
    wrap = [without_openat2()] if request.param == "walk" else []
    d = Daemon(bundlefs_bin, tmp_path / "state", tmp_path / "mnt", wrap=wrap)
    try:
        d.start()
        assert seccomp_filters(d.pid) == seccomp_filters() + len(wrap), "the daemon does not run as meant"
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def host_accounts(tmp_path) -> pathlib.Path:
    """A host directory with a passwd and a group only the host has."""
    d = tmp_path / "host-etc"
    d.mkdir()
    (d / "passwd").write_text(f"root:x:0:0::/root:/bin/sh\n{HOST_USER}:x:{HOST_UID}:{HOST_GID}::/:/bin/sh\n"
                              "alice:x:4245:4246::/:/bin/sh\n")
    (d / "group").write_text(f"root:x:0:\n{HOST_GROUP}:x:{HOST_GROUP_GID}:{HOST_USER},alice,root\n")
    return d


def climb(start: pathlib.Path, target: pathlib.Path) -> str:
    """A relative symlink target that, from directory start, climbs past the
    root of the host and comes down to target."""
    return "../" * (len(start.parts) + 4) + str(target).lstrip("/")


def guarded_write(path, data: str, flags: int) -> int:
    """open, one write(2), close, in a child process that must finish: 0 or
    the errno of the call that failed. A look-up that opened a FIFO would
    block; the guard turns that into a failure instead of a hung run."""
    code = ("import os, sys\n"
            "try:\n"
            "    fd = os.open(sys.argv[1], int(sys.argv[2]))\n"
            "    try:\n"
            "        os.write(fd, sys.stdin.buffer.read())\n"
            "    finally:\n"
            "        os.close(fd)\n"
            "except OSError as e:\n"
            "    sys.exit(e.errno)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(path), str(flags)], input=data.encode(),
                              capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"writing {data!r} to {path} did not return: the look-up blocked")
    assert not proc.stderr, proc.stderr
    return proc.returncode


# --- look-ups stay inside the root --------------------------------------------------


def _symlink_out(etc, name, host):
    os.symlink(host / name, etc / name)


def _climb_out(etc, name, host):
    os.symlink(climb(etc, host / name), etc / name)
    assert os.path.realpath(etc / name) == str(host / name), "the link does not lead to the host's file"


def _etc_out(etc, name, host):
    os.rename(etc, etc.with_name("etc.real"))
    os.symlink(host, etc)


def _etc_climb_out(etc, name, host):
    os.rename(etc, etc.with_name("etc.real"))
    os.symlink(climb(etc.parent, host), etc)
    assert os.path.realpath(etc) == str(host)


def _loop(etc, name, host):
    os.symlink(f"{name}.other", etc / name)
    os.symlink(name, etc / f"{name}.other")


def _fifo(etc, name, host):
    os.mkfifo(etc / name)


def _directory(etc, name, host):
    (etc / name).mkdir()
    (etc / name / name).write_text((host / name).read_text())


def _too_big(etc, name, host):
    with open(etc / name, "w") as f:
        f.write((host / name).read_text())
        f.truncate(ACCOUNTS_FILE_MAX + 1)


def _dev_zero(etc, name, host):
    os.symlink("/dev/zero", etc / name)


def _dev_zero_climbing(etc, name, host):
    os.symlink(climb(etc, pathlib.Path("/dev/zero")), etc / name)


def _device_node(etc, name, host):
    (etc.parent / "dev").mkdir()
    os.mknod(etc.parent / "dev" / "zero", 0o666 | 0o020000, os.makedev(1, 5))
    os.symlink("/dev/zero", etc / name)


# (how /etc/<name> is made, what the look-up meets): "outside" a file the
# root does not have (ENOENT, as containerd's "no such file"), "bad" one that
# is not a regular file (EINVAL), "too big" one over 16 MiB (EFBIG).
LAYOUTS = {
    "absolute-symlink-out": (_symlink_out, "outside"),
    "relative-symlink-climbing-out": (_climb_out, "outside"),
    "etc-absolute-symlink-out": (_etc_out, "outside"),
    "etc-relative-symlink-climbing-out": (_etc_climb_out, "outside"),
    "dev-zero-absolute-symlink": (_dev_zero, "outside"),
    "dev-zero-relative-symlink-climbing": (_dev_zero_climbing, "outside"),
    "symlink-loop": (_loop, "bad"),
    "fifo": (_fifo, "bad"),
    "directory": (_directory, "bad"),
    "device-node": (_device_node, "bad"),
    "over-16-MiB": (_too_big, "too big"),
}
KIND_ERRNO = {"outside": errno.ENOENT, "bad": errno.EINVAL, "too big": errno.EFBIG}

APPEND = os.O_WRONLY | os.O_APPEND
VALUE = os.O_WRONLY | os.O_TRUNC


def _uid_alone(cfg):
    user = cfg["process"]["user"]
    assert (user["uid"], user["gid"]) == (HOST_UID, 0), f"WithUserID {HOST_UID} gave {user}"


def _no_host_gids(cfg):
    gids = cfg["process"]["user"].get("additionalGids") or []
    assert HOST_GROUP_GID not in gids, f"additionalGids {gids} came from the host's group file"


# Writes whose look-up reads the file: (file, value, flags, check when the
# file is missing and containerd goes on without it, else None).
WRITES = {
    "passwd": [
        ("user", HOST_USER, VALUE, None),
        ("opts", f"WithUsername {HOST_USER}\n", APPEND, None),
        ("opts", f"WithUser {HOST_USER}\n", APPEND, None),
        # a uid without an entry is used with gid 0 (containerd's WithUserID)
        ("opts", f"WithUserID {HOST_UID}\n", APPEND, _uid_alone),
    ],
    "group": [
        ("user", f"root:{HOST_GROUP}", VALUE, None),
        ("groups", f"+{HOST_GROUP}", VALUE, None),
        ("opts", f"WithAppendAdditionalGroups {HOST_GROUP}\n", APPEND, None),
        # no group file: no additional groups (containerd's WithAdditionalGIDs)
        ("groups", "from root", VALUE, _no_host_gids),
        ("opts", "WithAdditionalGIDs alice\n", APPEND, _no_host_gids),
    ],
}


def populate(rootfs: pathlib.Path) -> pathlib.Path:
    etc = rootfs / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(ROOTFS_PASSWD)
    (etc / "group").write_text(ROOTFS_GROUP)
    return etc


def assert_nothing_from_the_host(ctr):
    text = error_text(ctr)
    for n in HOST_IDS:
        assert str(n) not in text, f"error tells of the host's accounts: {text!r}"
    try:
        cfg = config(ctr)
    except OSError as e:
        assert e.errno == errno.EIO
        return
    user = cfg.get("process", {}).get("user", {})
    assert user.get("gid") not in HOST_IDS and not set(user.get("additionalGids") or []) & set(HOST_IDS), \
        f"config.json holds ids from the host's accounts: {user}"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("target", ["passwd", "group"])
def test_lookups_never_leave_the_rootfs(lookup_daemon, host_accounts, target, layout):
    ctr = make_container(lookup_daemon.mountpoint)
    etc = populate(ctr / "rootfs")
    (etc / target).unlink()
    make, kind = LAYOUTS[layout]
    make(etc, target, host_accounts)
    want = KIND_ERRNO[kind]
    for name, value, flags, when_missing in WRITES[target]:
        before = state_of(ctr)
        got = guarded_write(ctr / name, value, flags)
        what = f"{name} <- {value.strip()!r}"
        if kind == "outside" and when_missing:
            assert got == 0, f"{what}: {errno.errorcode.get(got, got)} ({error_text(ctr)!r})"
            when_missing(config(ctr))
        else:
            assert got == want, (f"{what}: expected {errno.errorcode[want]}, got "
                                 f"{errno.errorcode.get(got, got)} ({error_text(ctr)!r})")
            assert state_of(ctr) == before, f"{what} was refused but changed the container"
            err = error_text(ctr)
            assert err.endswith("\n") and err.count("\n") == 1, f"error holds {err!r}"
        assert_nothing_from_the_host(ctr)


def test_the_host_accounts_are_found_when_they_are_in_the_rootfs(lookup_daemon, host_accounts):
    """The writes above do find these names and ids when the files are the
    root's own, through a symlink inside the root too: the refusals come
    from confinement alone."""
    ctr = make_container(lookup_daemon.mountpoint)
    etc = populate(ctr / "rootfs")
    accounts = ctr / "rootfs" / "srv" / "accounts"
    accounts.mkdir(parents=True)
    for name in ("passwd", "group"):
        (accounts / name).write_text((host_accounts / name).read_text())
        (etc / name).unlink()
    os.symlink("/srv/accounts/passwd", etc / "passwd")
    os.symlink("../../../../../srv/accounts/group", etc / "group")  # stops at the root
    assert guarded_write(ctr / "user", HOST_USER, VALUE) == 0, error_text(ctr)
    assert read(ctr / "user") == f"{HOST_UID}:{HOST_GID}\n"
    assert guarded_write(ctr / "groups", f"+{HOST_GROUP}", VALUE) == 0, error_text(ctr)
    assert HOST_GROUP_GID in config(ctr)["process"]["user"]["additionalGids"]


def test_a_passwd_swapped_for_a_symlink_out_stops_rendering_and_shows_nothing_of_the_host(
        lookup_daemon, host_accounts):
    ctr = make_container(lookup_daemon.mountpoint)
    etc = populate(ctr / "rootfs")
    assert guarded_write(ctr / "user", "alice", VALUE) == 0, error_text(ctr)
    assert read(ctr / "user") == "1000:1000\n"
    # the host knows an alice too, as 4245:4246
    (etc / "passwd").unlink()
    os.symlink(host_accounts / "passwd", etc / "passwd")
    with pytest.raises(OSError) as e:
        read(ctr / "config.json")
    assert e.value.errno == errno.EIO
    assert "no such file" in error_text(ctr) or "no users found" in error_text(ctr), error_text(ctr)
    assert_nothing_from_the_host(ctr)
    (etc / "passwd").unlink()
    (etc / "passwd").write_text(ROOTFS_PASSWD)
    assert config(ctr)["process"]["user"]["uid"] == 1000


# --- host paths are the owner's ------------------------------------------------------


@pytest.fixture
def host_files(tmp_path) -> dict:
    d = tmp_path / "host-files"
    d.mkdir()
    (d / "env").write_text("FROM_HOST_FILE=1\n")
    (d / "spec.json").write_text('{"ociVersion": "1.1.0", "process": {"env": ["FROM=spec"], "cwd": "/"}}')
    (d / "image.json").write_text('{"architecture": "amd64", "os": "linux", "config": {"User": "1000:44", '
                                  '"Cmd": ["/bin/true"]}, "rootfs": {"type": "layers", "diff_ids": []}}')
    return {"env": d / "env", "spec": d / "spec.json", "image": d / "image.json", "missing": d / "missing"}


# (file, value): writes that name host paths.
HOST_PATH_VALUES = [
    ("opts", "WithEnvFile {env}"),
    ("opts", "WithEnvFile {missing}"),   # refused as such: the refusal does not probe the path
    ("opts", "WithSpecFromFile {spec}"),
    ("opts", "WithImageConfig {image}"),
    ("opts", "WithImageConfigArgs {image} sh"),
    ("opts", 'WithDevices /dev/null "" rwm'),
    ("opts", "WithLinuxDevice /dev/null rwm"),
    ("opts", "WithLinuxDeviceFollowSymlinks /dev/null rwm"),
    ("opts", "WithRootFSPath /"),
    ("opts", 'WithSpecFromBytes {"root":{"path":"/"}}'),
    ("opts", "WithHostname fine\nWithEnvFile {env}"),
    ("image", "{image}"),
    ("devices", "/dev/null rwm"),
    ("devices", "/dev/null:/dev/other r"),
    ("devices", "subsystem=mem"),
    ("rootfs.path", "/srv/root"),
]
# opts appended to and replaced; a control file takes one value however opened.
HOST_PATH_WRITES = [(name, value, flags) for name, value in HOST_PATH_VALUES
                    for flags in ((APPEND, VALUE) if name == "opts" else (VALUE,))]


def _as_other_with_dac_override(fn):
    return errno_as(NOBODY, NOBODY, fn, caps=[CAP_DAC_OVERRIDE])


def _writer(path, data: bytes, flags: int):
    def write():
        fd = os.open(path, flags)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    return write


@pytest.mark.parametrize("name,value,flags", HOST_PATH_WRITES,
                         ids=[f"{n}{'>>' if f == APPEND else '>'}{v[:40]}" for n, v, f in HOST_PATH_WRITES])
def test_only_the_owner_names_host_paths(daemon, host_files, name, value, flags):
    """A caller other than the mount's owner that gets past the mode bits
    (here holding CAP_DAC_OVERRIDE) is refused lines that make the daemon
    read host paths: EPERM, nothing changed, one line in error. The owner's
    same write is accepted."""
    ctr = make_container(daemon.mountpoint)
    (ctr / "opts").write_text("WithHostname before\n")
    for key, path in host_files.items():
        value = value.replace("{" + key + "}", str(path))
    data = (value + "\n").encode()
    before = state_of(ctr)
    got = _as_other_with_dac_override(_writer(ctr / name, data, flags))
    assert got == errno.EPERM, f"{name} <- {data!r}: {errno.errorcode.get(got, got)} ({error_text(ctr)!r})"
    assert state_of(ctr) == before
    err = error_text(ctr)
    assert err.count("\n") == 1 and "host paths" in err and f"uid {NOBODY}" in err, err
    assert "no such file" not in err
    if str(host_files["missing"]) not in value:
        assert errno_as(0, 0, _writer(ctr / name, data, flags)) == 0, error_text(ctr)
        assert state_of(ctr) != before
        assert error_text(ctr) == ""


def test_other_writes_from_a_caller_past_the_mode_bits_are_kept(daemon):
    """The daemon leaves every other write to the kernel's checks: a caller
    holding CAP_DAC_OVERRIDE may write plain options and make containers."""
    mnt = daemon.mountpoint
    ctr = make_container(mnt)
    for name, data, flags in (("opts", b"WithHostname theirs\n", APPEND), ("env", b"A=1\n", VALUE),
                              ("caps", b"CAP_KILL\n", VALUE), ("platform", b"linux/arm64\n", VALUE),
                              ("opts", b"WithDomainname example.org\n", VALUE)):
        got = _as_other_with_dac_override(_writer(ctr / name, data, flags))
        assert got == 0, f"{name} <- {data!r}: {errno.errorcode.get(got, got)} ({error_text(ctr)!r})"
    assert read(ctr / "opts") == "WithDomainname example.org\n"
    assert read(ctr / "platform") == "linux/arm64\n"
    assert _as_other_with_dac_override(lambda: os.mkdir(mnt / "default" / "theirs")) == 0
    assert "theirs" in os.listdir(mnt / "default")


# --- other users ----------------------------------------------------------------------


def test_a_plain_user_reads_and_lists_everything_and_changes_nothing(public_daemon, host_files):
    mnt = public_daemon.mountpoint
    ctr = make_container(mnt, "default", "c1")
    make_container(mnt, "default", "c2")
    (mnt / "spare").mkdir()
    (ctr / "opts").write_text("WithHostname mine\nWithEnv A=1\nWithCapabilities CAP_KILL\n")
    files = sorted(os.listdir(ctr))
    seen_by_root = {name: read(ctr / name) for name in files if name != "rootfs"}

    def look():
        return {"top": sorted(os.listdir(mnt)), "ns": sorted(os.listdir(mnt / "default")),
                "ctr": sorted(os.listdir(ctr)),
                "files": {name: open(ctr / name).read() for name in files if name != "rootfs"}}

    seen = run_as(NOBODY, NOBODY, look)
    assert seen["top"] == ["default", "spare"] and seen["ns"] == ["c1", "c2"] and seen["ctr"] == files
    assert seen["files"] == seen_by_root

    before = state_of(ctr)
    env = str(host_files["env"])
    refused = []
    for name in ["opts", "platform"] + list(CONTROL_FILES):
        for data, flags in ((b"x\n", VALUE), (b"WithHostname theirs\n", APPEND), (f"WithEnvFile {env}\n".encode(),
                                                                                  APPEND)):
            got = errno_as(NOBODY, NOBODY, _writer(ctr / name, data, flags))
            if got != errno.EACCES:
                refused.append(f"{name} <- {data!r}: {errno.errorcode.get(got, 'accepted')}")
    assert not refused, "expected EACCES:\n  " + "\n  ".join(refused)

    tree_ops = {
        "mkdir namespace": lambda: os.mkdir(mnt / "theirs"),
        "mkdir container": lambda: os.mkdir(mnt / "default" / "theirs"),
        "rmdir container": lambda: os.rmdir(mnt / "default" / "c2"),
        "rmdir namespace": lambda: os.rmdir(mnt / "spare"),
        "rename container": lambda: os.rename(mnt / "default" / "c2", mnt / "default" / "c3"),
        "rename namespace": lambda: os.rename(mnt / "spare", mnt / "spare2"),
        "unlink a file": lambda: os.unlink(ctr / "hostname"),
    }
    for what, fn in tree_ops.items():
        got = errno_as(NOBODY, NOBODY, fn)
        assert got in (errno.EACCES, errno.EPERM), f"{what} as uid {NOBODY}: {errno.errorcode.get(got, 'done')}"
    assert sorted(os.listdir(mnt)) == ["default", "spare"]
    assert sorted(os.listdir(mnt / "default")) == ["c1", "c2"]
    assert state_of(ctr) == before
    assert error_text(ctr) == ""
