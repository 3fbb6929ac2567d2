"""Hostile and malformed input through the mounted tree, and the limits on
every input whose size a user chooses (docs/bundlefs.md, "Limits").

Every refused write must fail with the errno of INTERFACE.md section 2, leave
exactly one non-empty line in the container's `error`, and change nothing:
opts, config.json, platform, every control file's content and every file of
the daemon's state directory (rootfs contents and the lock file aside) are
compared byte for byte before and after. A good write must then succeed, so
the daemon still serves. Control files are taken from the daemon's own
listing of a container directory, so a new one cannot be left out.

One daemon and a few containers serve the whole module, to keep it fast."""
from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import tempfile

import pytest

from support import copy_rootfs
from support import ocilayout as oci
from support.ctl import (
    CONTROL_VALUE_MAX,
    OPTS_WRITE_MAX,
    read_bytes,
    wait_rootfs_mounted,
    write_from_unaligned_buffer,
)
from support.mount import Daemon, make_container
from support.treeops import errno_name, write_errno

E, N, D, F = errno.EINVAL, errno.ENOENT, errno.ENODEV, errno.EFBIG
APPEND = os.O_WRONLY | os.O_APPEND
REPLACE = os.O_WRONLY | os.O_TRUNC
MIB = 1024 * 1024

# Limits of docs/bundlefs.md, section "Limits".
OPTS_LINES_MAX = 100_000
OPTLINE_ARGS_MAX = 100_000
FILE_READ_MAX = 16 * MIB
JSON_DEPTH_MAX = 64
DEVICES_DEPTH_MAX = 64
DEVICES_MAX = 100_000
NAME_MAX = 76
PLATFORM_MAX = 255

# rootfs.image takes an image reference, not an option: its rows are below.
NOT_CONTROL = {"config.json", "opts", "platform", "error", "rootfs", "rootfs.image"}
BASE_LIST = b"WithHostname base\nWithEnv X=1\nWithUser alice\n"


# --- the daemon, its containers, and what "unchanged" means --------------------------


@pytest.fixture(scope="module")
def tree(bundlefs_bin, fixtures_copy, tmp_path_factory):
    """One daemon for the module: (daemon, mountpoint, fixtures)."""
    top = tmp_path_factory.mktemp("badinput")
    d = Daemon(bundlefs_bin, top / "state", top / "mnt").start()
    try:
        yield d, d.mountpoint, fixtures_copy
    finally:
        d.cleanup()


def new_container(tree, cid: str) -> pathlib.Path:
    d, mnt, fixtures = tree
    ctr = make_container(mnt, "bad", cid)
    wait_rootfs_mounted(ctr)
    copy_rootfs(fixtures / "rootfs", ctr / "rootfs")
    return ctr


@pytest.fixture(scope="module")
def box(tree) -> pathlib.Path:
    """bad/box: the fixtures rootfs (alice, bob, audio, ...) and a short list."""
    ctr = new_container(tree, "box")
    assert write_errno(ctr / "opts", BASE_LIST, REPLACE) == 0
    return ctr


def control_files(ctr: pathlib.Path) -> list[str]:
    """The control files the daemon lists in a container directory."""
    names = sorted(set(os.listdir(ctr)) - NOT_CONTROL)
    assert len(names) >= 20, f"too few control files listed: {names}"
    return names


def state_hash(state: pathlib.Path) -> dict[str, str]:
    """A digest of every file and directory under the state directory, except
    the contents of rootfs directories and lock files."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(state):
        rel = os.path.relpath(dirpath, state)
        if os.path.basename(dirpath) == "rootfs":
            dirnames[:] = []
            out[rel] = "rootfs"
            continue
        out[rel] = "dir"
        for f in filenames:
            if f == "lock" or f.endswith(".lock"):
                continue
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.join(rel, f)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def read_or_errno(path) -> bytes | int:
    try:
        return read_bytes(path)
    except OSError as e:
        return e.errno


def snapshot(tree, ctr: pathlib.Path) -> dict:
    """Everything a refused write must leave as it was."""
    d, _, _ = tree
    snap = {name: read_or_errno(ctr / name) for name in ["opts", "config.json", "platform"] + control_files(ctr)}
    snap["<state>"] = state_hash(d.state)
    return snap


def assert_unchanged(before: dict, after: dict, what: str) -> None:
    changed = [k for k in before if before[k] != after.get(k)]
    assert not changed, f"{what} was refused but changed {changed}: " + \
        "; ".join(f"{k}: {str(before[k])[:120]} -> {str(after.get(k))[:120]}" for k in changed[:3])


def assert_one_line_error(ctr: pathlib.Path, what: str) -> str:
    err = read_bytes(ctr / "error").decode("utf-8")
    assert err.endswith("\n") and err.count("\n") == 1 and err.strip(), \
        f"after {what} was refused, error holds {err!r}, not exactly one non-empty line"
    return err


def assert_still_serving(ctr: pathlib.Path) -> None:
    """A good write is accepted (and clears error), so the daemon still serves."""
    assert write_errno(ctr / "opts", BASE_LIST, REPLACE) == 0
    assert read_bytes(ctr / "opts") == BASE_LIST
    assert read_bytes(ctr / "error") == b""


def refused(tree, ctr, name: str, data: bytes, want: int, flags: int = REPLACE, write=None) -> str:
    """data written to ctr/name is refused with want and changes nothing;
    returns the line in error."""
    what = f"{name} <- {data[:60]!r}{'...' if len(data) > 60 else ''} ({len(data)} bytes)"
    before = snapshot(tree, ctr)
    got = write(ctr / name, data, flags) if write else write_errno(ctr / name, data, flags)
    assert got == want, f"{what}: expected {errno_name(want)}, got {errno_name(got) if got else 'success'}; " \
                        f"error: {read_bytes(ctr / 'error')!r}"
    err = assert_one_line_error(ctr, what)
    assert_unchanged(before, snapshot(tree, ctr), what)
    return err


def accepted(ctr, name: str, data: bytes, flags: int = REPLACE) -> None:
    got = write_errno(ctr / name, data, flags)
    assert got == 0, f"{name} <- {data[:60]!r} ({len(data)} bytes) was refused with {errno_name(got)}: " \
                     f"{read_bytes(ctr / 'error')!r}"


# --- control files ----------------------------------------------------------------------

# Malformed, out-of-range and ambiguous values, per control file. Every file the
# daemon lists must have rows here. (What a file shows, `max` or `0` here, is
# taken back as a no-op: test_fs_roundtrip.py.)
CONTROL_BAD = {
    "annotations": [(b"novalue", E), (b"=x", E), (b"a=1\nnovalue", E), (b"a=1\n\n", E)],
    "args": [(b"\xed\xa0\x80", E)],
    "caps": [(b"CAP_BOGUS", E), (b"CAP_CHOWN\nCAP_BOGUS", E), (b"+CAP_KILL -CAP_CHOWN", E),
             (b"all none", E), (b"-", E), (b"CAP_" + b"A" * 100, E), (b"40", E),
             # libcap reads a name from the start of its text: the rest must not be dropped
             (b"CAP_CHOWN;reboot", E), (b"+chown;reboot", E)],
    "caps.ambient": [(b"CAP_BOGUS", E), (b"-CAP_KILL", E), (b"none CAP_KILL", E), (b"kill;reboot", E)],
    "cpu.cfs": [(b"100", E), (b"1 2 3", E), (b"-", E), (b"1e3 100", E), (b"1000 -100", E),
                (b"9223372036854775808 100", E), (b"1000\n100000", E)],
    "cpu.rt": [(b"1000 18446744073709551616", E), (b"0x10 100", E)],
    "cpu.shares": [(b"-1", E), (b"18446744073709551616", E), (b"1 2", E), (b"+5", E), (b"5K", E),
                   (b"1" * 30, E)],
    "cpuset.cpus": [(b"1-", E), (b"-1", E), (b"0,,1", E), (b"0 1", E), (b"0-1-2", E), (b"\xd9\xa1", E)],
    "cpuset.mems": [(b",0", E), (b"a", E), (b"0\n1", E)],
    "cwd": [(b"/a\n/b", E)],
    "devices": [(b"/dev/null rwx", E), (b"/dev/null rw rw", E), (b"null rw", E), (b"/dev/null:x rw", E),
                (b"/no/such/device", N), (b"/etc/passwd", D), (b"host default", E), (b"=input", E),
                (b"subsystem=", E), (b"subsystem=no-such-subsystem-here", N), (b"/dev/null\n/dev/zero", E)],
    "domainname": [(b"a\nb", E)],
    "env": [(b"NOEQUALS", E), (b"=x", E), (b"A=1\nB", E), (b"A=1\n\nB=2", E)],
    "groups": [(b"audio", E), (b"+", E), (b"from", E), (b"from alice bob", E), (b"+nosuchgroup", N),
               (b"+4294967296", N)],
    "hostname": [(b"a\nb", E), (b"a\r\nb", E)],
    "image": [(b"relative.json", E), (b"/no/such/image.json", N), (b"/dev/null", E), (b"/", E),
              (b"/a\n/b", E)],
    "memory.limit": [(b"-1", E), (b"1.5G", E), (b"1GB", E), (b"K", E), (b"18446744073709551616", E),
                     (b"16777216T", E), (b"1 G", E), (b"0x10", E), (b"\xef\xbc\x91", E)],
    "memory.swap": [(b"-2", E), (b"9223372036854775808", E), (b"8388608T", E), (b"--1", E)],
    "mounts": [(b"[{", E), (b"/run", E), (b'[{"destination": 1}]', E), (b"-run", E), (b"-", E),
               (b'{"destination": "/x"}', E), (b"[" * (JSON_DEPTH_MAX + 1) + b"]" * (JSON_DEPTH_MAX + 1), E),
               (b'[{"destination": "\\u0000"}]', E), (b"[] []", E)],
    "namespaces": [(b"bogus", E), (b"host", E), (b"network rel/path", E), (b"host bogus", E),
                   (b"network /a /b", E), (b"pid\nipc", E)],
    "pids.max": [(b"abc", E), (b"9223372036854775808", E), (b"1.5", E), (b"1 2", E)],
    "privileged": [(b"yes", E), (b"11", E), (b"1 1", E)],
    "rootfs.path": [(b"/a\n/b", E)],
    "rootfs.readonly": [(b"true", E), (b"1\n1", E)],
    "tty": [(b"2", E), (b"80x", E), (b"x24", E), (b"80x24x1", E), (b"-80x24", E),
            (b"99999999999999999999x1", E)],
    "user": [(b"nosuchuser", N), (b"alice:nosuchgroup", N), (b"a b", E), (b"a\nb", E), (b"a:b:c", E)],
}

# Every control file: an empty value, binary, not UTF-8, over the 64 KiB limit, over 1 MiB.
GENERIC_BAD = [
    ("empty", b"\n", E),
    ("blank-crlf", b"\r\n", E),
    ("nul", b"1\x00", E),
    ("nul-inside", b"ab\x00cd", E),
    ("nul-only", b"\x00", E),
    ("not-utf8", b"\xff\xfe", E),
    ("overlong-utf8", b"\xc0\xaf", E),
    ("surrogate", b"\xed\xb0\x80", E),
    ("over-64k", b"a" * (CONTROL_VALUE_MAX + 1), F),
    ("over-64k-lines", b"a=1\n" * (CONTROL_VALUE_MAX // 4 + 1), F),
    ("over-1m", b"1" * (MIB + 1), F),
]

# A value each file accepts, written after a refusal.
GOOD = {
    "annotations": b"a=1", "args": b"true", "caps": b"CAP_KILL", "caps.ambient": b"CAP_KILL",
    "cpu.cfs": b"1000 100000", "cpu.rt": b"1000 100000", "cpu.shares": b"512", "cpuset.cpus": b"0",
    "cpuset.mems": b"0", "cwd": b"/srv", "devices": b"/dev/null rwm", "domainname": b"example.org",
    "env": b"A=1", "groups": b"+4000", "hostname": b"box", "image": None,
    "memory.limit": b"1G", "memory.swap": b"1G", "mounts": b"-/run", "namespaces": b"host network",
    "pids.max": b"100", "privileged": b"1", "rootfs.path": b"/srv/root", "rootfs.readonly": b"1",
    "tty": b"1", "user": b"bob",
}


def test_every_listed_control_file_has_bad_input_rows(box):
    listed = control_files(box)
    missing = [name for name in listed if not CONTROL_BAD.get(name)]
    assert not missing, f"control files without bad-input rows: {missing}"
    unknown = sorted(set(CONTROL_BAD) - set(listed))
    assert not unknown, f"rows for files the daemon does not list: {unknown}"
    assert set(GOOD) == set(listed)


CONTROL_CASES = [(name, data, want) for name, rows in CONTROL_BAD.items() for data, want in rows]


@pytest.mark.parametrize("name,data,want", CONTROL_CASES,
                         ids=[f"{n}:{d[:20]!r}" for n, d, _ in CONTROL_CASES])
def test_bad_control_value_is_refused_and_changes_nothing(tree, box, name, data, want):
    refused(tree, box, name, data, want)
    assert_still_serving(box)


@pytest.mark.parametrize("kind,data,want", GENERIC_BAD, ids=[k for k, _, _ in GENERIC_BAD])
def test_bad_value_of_every_control_file_is_refused_and_changes_nothing(tree, box, kind, data, want):
    for name in control_files(box):
        refused(tree, box, name, data, want)
    assert_still_serving(box)


def test_a_good_value_after_a_refusal_is_accepted_in_every_control_file(tree, box):
    d, mnt, fixtures = tree
    good = dict(GOOD, image=f"{fixtures}/images/user-uid-gid.json".encode())
    for name in control_files(box):
        refused(tree, box, name, b"\x00", E)
        accepted(box, name, good[name])
        assert read_bytes(box / "error") == b"", f"error not cleared by a good write to {name}"
        assert_still_serving(box)


# rootfs.image: references that are refused before anything is read, and the
# limits of a value (docs/bundlefs.md, section 8).
ROOTFS_IMAGE_BAD = [(data, want) for _, data, want in GENERIC_BAD] + [
    (b"/srv/images/busybox", E), (b"oci:relative:v1", E), (b"oci:/a:bad tag", E), (b"oci:/a@sha256:abc", E),
    (b"oci:/a:v1\noci:/b:v1", E), (b"oci:/a:v1\r\r\n", E), (b"oci:/" + b"d" * 4100, errno.ENAMETOOLONG),
    (b"oci:/no/such/layout:v1", N),
]


def test_bad_rootfs_image_values_are_refused_and_change_nothing(tree, tmp_path):
    ctr = make_container(tree[1], "bad", "unpack")
    for data, want in ROOTFS_IMAGE_BAD:
        refused(tree, ctr, "rootfs.image", data, want)
        assert os.listdir(ctr / "rootfs") == [] and read_bytes(ctr / "rootfs.image") == b""
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image(layers=[layout.layer([oci.file("hello", "world")])], arch=oci.host_arch()), "v1")
    accepted(ctr, "rootfs.image", layout.ref("v1").encode())
    assert read_bytes(ctr / "error") == b"" and (ctr / "rootfs" / "hello").read_text() == "world"


def test_a_control_value_of_exactly_64k_is_accepted(tree, box):
    value = b"h" * (CONTROL_VALUE_MAX - 1) + b"\n"
    accepted(box, "hostname", value)
    assert read_bytes(box / "hostname") == value
    refused(tree, box, "hostname", b"h" * CONTROL_VALUE_MAX + b"\n", F)
    # The limit is on what one open file receives, over all its writes.
    fd = os.open(box / "args", REPLACE)
    try:
        assert os.write(fd, b"a\n" * (CONTROL_VALUE_MAX // 4)) == CONTROL_VALUE_MAX // 2
        assert os.write(fd, b"b\n" * (CONTROL_VALUE_MAX // 4)) == CONTROL_VALUE_MAX // 2
        with pytest.raises(OSError) as e:
            os.write(fd, b"c")
        assert e.value.errno == F
    finally:
        os.close(fd)
    assert read_bytes(box / "args") == b"a\n" * (CONTROL_VALUE_MAX // 4) + b"b\n" * (CONTROL_VALUE_MAX // 4)
    assert_one_line_error(box, "a third write to args")
    assert_still_serving(box)


# --- platform -----------------------------------------------------------------------------

PLATFORM_BAD = [
    (b"\n", E), (b"linux/amd64\x00", E), (b"linux/\x00amd64", E), (b"linux/amd64\x00/garbage", E),
    (b"\xff\xfe", E), (b"linux/amd64/v2/x", E), (b"linux//amd64", E), (b"/amd64", E), (b"linux/am d64", E),
    (b"linux/amd64\nlinux/arm64", E), (b"lin\\ux/amd64", E), (b"bogusos", E),
    (b"linux/" + b"a" * PLATFORM_MAX, F), (b"l" * (MIB + 1), F),
]


@pytest.mark.parametrize("data,want", PLATFORM_BAD, ids=[repr(d[:24]) for d, _ in PLATFORM_BAD])
def test_bad_platform_is_refused_and_changes_nothing(tree, box, data, want):
    refused(tree, box, "platform", data, want)
    assert_still_serving(box)


def test_a_platform_of_exactly_255_bytes_is_accepted(tree):
    ctr = new_container(tree, "plat")
    value = b"linux/" + b"a" * (PLATFORM_MAX - 6)
    assert len(value) == PLATFORM_MAX
    accepted(ctr, "platform", value + b"\n")
    assert read_bytes(ctr / "platform") == value + b"\n"
    refused(tree, ctr, "platform", value + b"a\n", F)


# --- opts ---------------------------------------------------------------------------------

OPTS_BAD = [
    (b"WithBogus\n", E), (b"withhostname x\n", E), (b"WithHostname\n", E), (b"WithHostname a b\n", E),
    (b'WithHostname "a\n', E), (b'WithHostname "a"b\n', E), (b"WithHostname a\x00b\n", E),
    (b"WithHostname \xff\n", E), (b"WithHostname \xc0\x80\n", E), (b"WithHostname \xed\xa0\x80\n", E),
    (b'WithHostname "a\\u0000b"\n', E), (b"\xef\xbb\xbfWithHostname a\n", E),
    (b"WithHostname\x0ba\n", E),
    (b"WithMounts [\n", E), (b'WithMounts {"a":1}\n', E), (b"WithMounts []]\n", E), (b"WithMounts [] x\n", E),
    (b"WithMounts " + b"[" * (JSON_DEPTH_MAX + 1) + b"]" * (JSON_DEPTH_MAX + 1) + b"\n", E),
    (b'WithSpecFromBytes {"ociVersion": NaN}\n', E), (b"WithSpecFromBytes {\"a\":1,}\n", E),
    (b"WithMemoryLimit -1\n", E), (b"WithMemoryLimit 18446744073709551616\n", E), (b"WithMemoryLimit 1K\n", E),
    (b"WithMemoryLimit +1\n", E), (b"WithMemoryLimit 0x10\n", E), (b'WithMemoryLimit ""\n', E),
    (b"WithPidsLimit 9223372036854775808\n", E), (b"WithPidsLimit --1\n", E), (b"WithTTYSize 1\n", E),
    (b"WithUserID 4294967296\n", E),
    (b"WithEnvFile relative/path\n", E), (b"WithEnvFile /no/such/file\n", N), (b"WithEnvFile /dev/null\n", E),
    (b"WithEnvFile /\n", E), (b"WithSpecFromFile /no/such\n", N), (b"WithImageConfig /no/such\n", N),
    (b'WithDevices /etc/passwd "" rwm\n', D), (b'WithDevices /no/such "" rwm\n', N),
    (b'WithDevices /dev/null "" rwx\n', E), (b"WithDevices dev/null /dev/null rwm\n", E),
    (b"WithUser nosuchuser\n", N), (b"WithUsername nosuchuser\n", N),
    (b"WithHostname ok\nWithBogus\n", E),           # all lines of a write kept, or none
    (b"WithHostname ok\nWithHostname a\x00\n", E),
    (b"WithHostname " + b"x" * 100 + b"\n" + b"WithMemoryLimit 1x\n", E),
]


@pytest.mark.parametrize("flags", [APPEND, REPLACE], ids=["append", "replace"])
@pytest.mark.parametrize("data,want", OPTS_BAD, ids=[repr(d[:28]) for d, _ in OPTS_BAD])
def test_bad_opts_write_is_refused_and_changes_nothing(tree, box, data, want, flags):
    refused(tree, box, "opts", data, want, flags)
    assert_still_serving(box)


def test_bad_last_line_without_newline_is_refused_with_its_list(tree, box):
    refused(tree, box, "opts", b"WithHostname ok\nWithBogus", E, REPLACE)
    assert_still_serving(box)


def test_bad_unfinished_last_line_of_an_append_is_refused_at_the_close(tree, box):
    """An append keeps each write's whole lines when the write returns; a
    line the writes leave unfinished waits for the close, which refuses it
    and keeps nothing of it."""
    refused(tree, box, "opts", b"WithBogus", E, APPEND)
    before = read_bytes(box / "opts")
    assert write_errno(box / "opts", b"WithHostname ok\nWithBogus", APPEND) == E
    assert read_bytes(box / "opts") == before + b"WithHostname ok\n"
    assert_one_line_error(box, "an unfinished line refused at the close")
    assert_still_serving(box)


def aligned_write(path, data: bytes, flags: int) -> int:
    """One write(2) from a page-aligned buffer; 0 or the errno."""
    try:
        n = write_from_unaligned_buffer(path, data, flags, 0)
    except OSError as e:
        return e.errno
    return 0 if n == len(data) else errno.EIO


@pytest.mark.parametrize("flags", [APPEND, REPLACE], ids=["append", "replace"])
def test_an_option_line_over_1mib_is_refused_with_efbig(tree, box, flags):
    line = b"WithHostname " + b"x" * MIB + b"\n"
    refused(tree, box, "opts", line, F, flags, write=aligned_write)
    assert_still_serving(box)


@pytest.mark.parametrize("flags", [APPEND, REPLACE], ids=["append", "replace"])
def test_no_part_of_a_line_over_1mib_is_kept_whatever_the_buffer(tree, box, flags):
    """From an unaligned buffer the kernel may hand over the first ~1 MiB
    (accepted as the start of an unfinished line) before the rest is
    refused: the write then reports fewer bytes, and nothing of the line is
    kept, at the write or at the close."""
    before = snapshot(tree, box)
    line = b"WithHostname " + b"x" * (MIB + 1000) + b"\n"
    try:
        n = write_from_unaligned_buffer(box / "opts", line, flags, 4007)
    except OSError as e:
        assert e.errno == F
    else:
        assert n < len(line)
    assert_unchanged(before, snapshot(tree, box), "a line over 1 MiB")
    assert_one_line_error(box, "a line over 1 MiB")
    assert_still_serving(box)


def test_a_write_of_exactly_1mib_is_accepted(tree, box):
    line = b"WithHostname " + b"x" * (MIB - 14) + b"\n"
    assert len(line) == OPTS_WRITE_MAX
    assert aligned_write(box / "opts", line, APPEND) == 0
    assert read_bytes(box / "opts") == BASE_LIST + line
    assert_still_serving(box)


def test_arguments_of_one_option_line_are_limited(tree, box):
    at = b"WithProcessArgs" + b" a" * OPTLINE_ARGS_MAX + b"\n"
    accepted(box, "opts", at, APPEND)
    assert read_bytes(box / "args") == b"a\n" * OPTLINE_ARGS_MAX
    assert_still_serving(box)
    refused(tree, box, "opts", b"WithProcessArgs" + b" a" * (OPTLINE_ARGS_MAX + 1) + b"\n", F, APPEND)
    refused(tree, box, "opts", b"WithEnv" + b" a=1" * (OPTLINE_ARGS_MAX + 1) + b"\n", F, REPLACE)
    assert_still_serving(box)


def test_an_option_list_holds_at_most_100000_lines(tree):
    ctr = new_container(tree, "long")
    lines = b"".join(b"WithHostname h%06d\n" % i for i in range(OPTS_LINES_MAX))
    fd = os.open(ctr / "opts", REPLACE)
    try:
        for i in range(0, len(lines), 512 * 1024):
            os.write(fd, lines[i:i + 512 * 1024])
    finally:
        os.close(fd)
    assert read_bytes(ctr / "hostname") == b"h%06d\n" % (OPTS_LINES_MAX - 1)
    refused(tree, ctr, "opts", b"WithHostname one-more\n", F, APPEND)
    refused(tree, ctr, "hostname", b"one-more", F)
    assert write_errno(ctr / "opts", b"WithHostname short\n", REPLACE) == 0


def test_many_environment_variables_render_quickly(tree):
    """replaceOrAppendEnvValues looks keys up in a map: thousands of
    variables in several lines do not take quadratic time."""
    ctr = new_container(tree, "env")
    n = 100_000
    for prefix in (b"A", b"B", b"A"):
        line = b"WithEnv" + b"".join(b" %s%d=v" % (prefix, i) for i in range(n)) + b"\n"
        accepted(ctr, "opts", line, APPEND)
    env = read_bytes(ctr / "env").splitlines()
    assert len(env) == 2 * n
    assert env[0] == b"A0=v" and env[-1] == b"B%d=v" % (n - 1)


def test_many_annotations_render_quickly(tree):
    """Keys in descending order, the worst case for a sorted insert."""
    ctr = new_container(tree, "ann")
    n = 60_000
    for prefix in (b"b", b"a"):
        line = b"WithAnnotations" + b"".join(b" %s%06d=v" % (prefix, n - i) for i in range(n)) + b"\n"
        accepted(ctr, "opts", line, APPEND)
    ann = read_bytes(ctr / "annotations").splitlines()
    assert len(ann) == 2 * n
    assert ann[0] == b"a000001=v" and ann[-1] == b"b%06d=v" % n


# --- files read by options: host files and the rootfs's /etc/passwd and /etc/group ----------


def padded(head: bytes, size: int) -> bytes:
    """JSON head followed by blanks to exactly size bytes."""
    assert len(head) <= size
    return head + b" " * (size - len(head))


def env_file(size: int) -> bytes:
    """An env file of exactly size bytes, lines well under bufio.Scanner's 64 KiB."""
    line = b"K=" + b"v" * 60_000 + b"\n"
    body = line * (size // len(line))
    return body + b"Z=" + b"z" * (size - len(body) - 3) + b"\n"


HOST_FILES = [
    ("WithEnvFile", env_file),
    ("WithSpecFromFile", lambda size: padded(b'{"ociVersion": "1.1.0"}', size)),
    ("WithImageConfig", lambda size: padded(b'{"architecture": "amd64", "os": "linux", "config": {}}', size)),
]


@pytest.mark.parametrize("option,make", HOST_FILES, ids=[o for o, _ in HOST_FILES])
def test_a_host_file_read_by_an_option_is_at_most_16mib(tree, box, tmp_path, option, make):
    path = tmp_path / "input"
    path.write_bytes(make(FILE_READ_MAX))
    line = f"{option} {path}\n".encode()
    accepted(box, "opts", line, APPEND)
    assert_still_serving(box)
    path.write_bytes(make(FILE_READ_MAX + 1))
    refused(tree, box, "opts", line, F, APPEND)
    assert_still_serving(box)


@pytest.mark.parametrize("name,value", [("passwd", b"user alice"), ("group", b"groups +audio")])
def test_a_rootfs_account_file_is_at_most_16mib(tree, name, value):
    ctr = new_container(tree, f"acct-{name}")
    path = ctr / "rootfs" / "etc" / name
    original = path.read_bytes()
    # comment lines pad the file; passwd keeps them as users, both parsers skip them for look-ups
    pad = (b"#" + b"x" * 1000 + b"\n") * ((FILE_READ_MAX - len(original)) // 1002)
    data = original + pad
    data += b"#" * (FILE_READ_MAX - len(data) - 1) + b"\n" if FILE_READ_MAX - len(data) > 1 else b""
    data = data[:FILE_READ_MAX]
    path.write_bytes(data)
    assert len(data) == FILE_READ_MAX
    file, v = value.split(b" ", 1)
    accepted(ctr, file.decode(), v)
    assert_still_serving(ctr)
    path.write_bytes(data + b"\n")
    refused(tree, ctr, file.decode(), v, F)


def test_a_device_directory_deeper_than_64_levels_is_refused(tree, box, tmp_path):
    top = tmp_path / "devs"
    deep = top.joinpath(*["d"] * DEVICES_DEPTH_MAX)
    deep.mkdir(parents=True)
    os.mknod(deep / "null", 0o666 | 0o020000, os.makedev(1, 3))
    accepted(box, "devices", f"{top} rwm".encode())
    assert f"{deep}/null c 1:3".encode() in read_bytes(box / "devices")
    assert_still_serving(box)
    deeper = deep / "d"
    deeper.mkdir()
    os.rename(deep / "null", deeper / "null")
    refused(tree, box, "devices", f"{top} rwm".encode(), F)
    refused(tree, box, "opts", f'WithDevices {top} "" rwm\n'.encode(), F, APPEND)
    assert_still_serving(box)


def test_a_device_directory_of_more_than_100000_devices_is_refused(tree, box):
    # in memory (/dev/shm): a hundred thousand nodes on disk take long to make
    with tempfile.TemporaryDirectory(dir="/dev/shm") as top:
        for i in range(DEVICES_MAX + 1):
            os.mknod(f"{top}/n{i}", 0o666 | 0o020000, os.makedev(1, 3))
        refused(tree, box, "devices", f"{top} rwm".encode(), F)
    assert_still_serving(box)


def test_json_nesting_is_at_most_64_levels(tree, box):
    """At 64 levels the parser takes the value (containerd then refuses an
    array for a mount); at 65 the parser refuses it."""
    def nested(n):
        return b"WithMounts " + b"[" * n + b"]" * n + b"\n"
    at = refused(tree, box, "opts", nested(JSON_DEPTH_MAX), E, APPEND)
    assert "nesting" not in at and "specs.Mount" in at, at
    over = refused(tree, box, "opts", nested(JSON_DEPTH_MAX + 1), E, APPEND)
    assert "nesting too deep" in over, over


# --- names of namespaces and containers -------------------------------------------------------

BAD_NAMES = [
    ("77 characters", "a" * (NAME_MAX + 1), E),
    ("255 characters", "a" * 255, E),
    ("256 characters", "a" * 256, E), ("1000 characters", "a" * 1000, E),
    ("leading dot", ".a", E), ("leading dash", "-a", E), ("leading underscore", "_a", E),
    ("trailing dot", "a.", E), ("trailing dash", "a-", E), ("two separators", "a..b", E),
    ("dot dash", "a.-b", E), ("backslash", "a\\b", E), ("colon", "a:b", E), ("space", "a b", E),
    ("leading space", " a", E), ("newline", "a\nb", E), ("tab", "a\tb", E), ("non-ASCII", "caf\u00e9", E),
    ("fullwidth digit", "\uff11", E), ("control char", "a\x01b", E), ("DEL", "a\x7fb", E),
    ("only a dot", "...", E), ("only a dash", "-", E), ("only space", " ", E), ("at sign", "a@b", E),
    ("plus", "a+b", E), ("percent", "a%2fb", E), ("star", "*", E), ("quote", "a'b", E),
    ("dotdot", "..", errno.EEXIST), ("dot", ".", errno.EEXIST),  # the kernel's own entries
]


@pytest.mark.parametrize("level", ["namespace", "container"])
@pytest.mark.parametrize("label,name,want", BAD_NAMES, ids=[lbl for lbl, _, _ in BAD_NAMES])
def test_bad_name_is_refused_by_mkdir_and_rename(tree, box, level, label, name, want):
    d, mnt, _ = tree
    parent = mnt if level == "namespace" else mnt / "bad"
    before = (sorted(os.listdir(parent)), state_hash(d.state))
    with pytest.raises(OSError) as e:
        os.mkdir(os.path.join(os.fsencode(parent), os.fsencode(name)))
    assert e.value.errno == want, f"mkdir {name!r}: {errno_name(e.value.errno)}, expected {errno_name(want)}"
    if level == "container" and want == E:
        with pytest.raises(OSError) as e:
            os.rename(box, parent / name)
        assert e.value.errno == E, f"rename to {name!r}: {errno_name(e.value.errno)}"
    assert (sorted(os.listdir(parent)), state_hash(d.state)) == before
    assert read_bytes(box / "opts") == BASE_LIST


@pytest.mark.parametrize("level", ["namespace", "container"])
def test_a_name_of_exactly_76_characters_is_accepted(tree, level):
    d, mnt, _ = tree
    name = "a" * (NAME_MAX - 2) + ".b"
    path = mnt / name if level == "namespace" else mnt / "bad" / name
    os.mkdir(path)
    try:
        assert name in os.listdir(path.parent)
        if level == "container":
            assert write_errno(path / "hostname", b"h", REPLACE) == 0
            assert read_bytes(path / "opts") == b"WithHostname h\n"
    finally:
        os.rmdir(path)
    with pytest.raises(OSError) as e:
        os.mkdir(path.parent / (name + "c"))
    assert e.value.errno == E


# --- the number of containers ---------------------------------------------------------------


def test_containers_are_not_bounded_by_the_open_file_limit(bundlefs_bin, tmp_path):
    """No descriptor is held per container: a rootfs holds none, a log is
    made at the first write and kept open only while descriptors are left.
    The daemon raises its soft open-file limit to the hard one (64 -> 200
    here); 300 containers are made and written, and served again after a
    restart under the same limit."""
    wrapper = tmp_path / "bundlefs-nofile"
    wrapper.write_text(f'#!/bin/sh\nexec prlimit --nofile=64:200 {bundlefs_bin} "$@"\n')
    wrapper.chmod(0o755)
    d = Daemon(wrapper, tmp_path / "state", tmp_path / "mnt").start()
    try:
        mnt = d.mountpoint
        os.mkdir(mnt / "ns")
        for i in range(300):
            os.mkdir(mnt / "ns" / f"c{i}")
            assert write_errno(mnt / "ns" / f"c{i}" / "hostname", f"h{i}".encode(), REPLACE) == 0, i
        assert len(os.listdir(f"/proc/{d.pid}/fd")) <= 200
        d.stop()
        d.start()
        assert len(os.listdir(mnt / "ns")) == 300
        for i in (0, 150, 299):
            assert read_bytes(mnt / "ns" / f"c{i}" / "opts") == f"WithHostname h{i}\n".encode()
            assert write_errno(mnt / "ns" / f"c{i}" / "hostname", b"again", REPLACE) == 0
    finally:
        d.cleanup()
