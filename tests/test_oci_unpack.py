"""Unpacking an image's layers into a root filesystem (core/unpack.c),
through tests/tools/unpack-image: layer formats, whiteouts, links, special
files, metadata, digests, limits, and writes that try to leave the root.
Runs as root (ownership, device nodes, security.capability). The layouts are
written by the tests (support/ocilayout.py)."""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import pathlib
import stat
import subprocess

import pytest

from conftest import build_dir
from support import ocilayout as oci
from support.sanitizers import assert_no_sanitizer_report

# A file capability granting cap_net_bind_service (VFS_CAP_REVISION_2, effective).
CAP_NET_BIND = bytes.fromhex("01000002" "00040000" "00000000" "00000000" "00000000")


@dataclasses.dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    @property
    def errno_name(self) -> str:
        # "unpack-image: ENOTEMPTY: message"
        parts = self.stderr.split(": ", 2)
        return parts[1] if len(parts) > 2 else ""


@pytest.fixture(scope="session")
def tool() -> pathlib.Path:
    path = build_dir() / "tests" / "unpack-image"
    assert path.exists(), f"{path} is not built"
    assert os.geteuid() == 0, "unpacking sets owners and makes device nodes: run as root"
    return path


def unpack(tool, ref: str, rootfs: pathlib.Path, *args: str, without_openat2: bool = False) -> Outcome:
    argv = [str(tool), "--no-sync", *args, ref, str(rootfs)]
    if without_openat2:
        argv = [str(build_dir() / "tests" / "without-openat2"), *argv]
    wrap = os.environ.get("BUNDLEFS_RENDER_WRAP", "").split()
    p = subprocess.run([*wrap, *argv], capture_output=True, text=True, timeout=300, check=False)
    assert_no_sanitizer_report(p.stderr, f"unpack-image {ref}")
    return Outcome(p.returncode, p.stdout, p.stderr)


def unpacked(tool, layout: oci.Layout, rootfs: pathlib.Path, tag: str = "v1", *args: str, **kw) -> pathlib.Path:
    rootfs.mkdir(exist_ok=True)
    out = unpack(tool, layout.ref(tag), rootfs, *args, **kw)
    assert out.returncode == 0, out.stderr
    return rootfs


def refused(tool, layout: oci.Layout, rootfs: pathlib.Path, want: str, *args: str, tag: str = "v1",
            **kw) -> str:
    """The unpack fails with errno `want` and leaves the root empty; the message."""
    rootfs.mkdir(exist_ok=True)
    out = unpack(tool, layout.ref(tag), rootfs, *args, **kw)
    assert out.returncode == 1 and out.errno_name == want, out.stderr
    assert os.listdir(rootfs) == [], f"a refused unpack left {os.listdir(rootfs)}"
    return out.stderr


def tree(root: pathlib.Path) -> dict[str, str]:
    """Every path below root: its type and, for files, content; links, targets."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = pathlib.Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "-> " + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            elif stat.S_ISREG(st.st_mode):
                out[rel] = p.read_bytes().decode("utf-8", "replace")
            else:
                out[rel] = oct(stat.S_IFMT(st.st_mode))
    return out


def one_image(layout: oci.Layout, *layers, tag: str = "v1", **kw) -> dict:
    m = layout.image(layers=list(layers), **kw)
    layout.tag(m, tag)
    return m


@pytest.fixture
def layout(tmp_path) -> oci.Layout:
    return oci.Layout(tmp_path / "layout")


# ---- formats and the image's platform -------------------------------------------

@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_layers_of_each_compression_are_unpacked_in_order(tool, layout, tmp_path, compression):
    one_image(layout,
              layout.layer([oci.directory("etc"), oci.file("etc/os-release", "ID=base\n"),
                            oci.file("bin/tool", "v1")], compression),
              layout.layer([oci.file("bin/tool", "v2"), oci.file("etc/extra", "x")], compression))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    assert tree(root) == {"etc": "dir", "bin": "dir", "etc/os-release": "ID=base\n",
                          "bin/tool": "v2", "etc/extra": "x"}


def test_docker_media_types_are_unpacked(tool, layout, tmp_path):
    desc, diff = layout.layer([oci.file("hello", "docker")], "gzip", media_type=oci.DOCKER_LAYER_GZIP)
    one_image(layout, (desc, diff), docker=True)
    assert tree(unpacked(tool, layout, tmp_path / "rootfs")) == {"hello": "docker"}


def test_the_compression_is_read_from_the_stream_not_the_media_type(tool, layout, tmp_path):
    # containerd decompresses whatever the stream is; so does the unpacker
    desc, diff = layout.layer([oci.file("hello", "zstd inside")], "zstd", media_type=oci.OCI_LAYER + "+gzip")
    one_image(layout, (desc, diff))
    assert tree(unpacked(tool, layout, tmp_path / "rootfs")) == {"hello": "zstd inside"}


def test_the_layers_of_the_platforms_manifest_are_unpacked(tool, layout, tmp_path):
    def for_arch(arch, variant=None):
        return layout.image(layers=[layout.layer([oci.file("arch", f"{arch}{variant or ''}")])],
                            arch=arch, variant=variant)
    layout.tag(layout.index([for_arch("arm64"), for_arch("amd64"), for_arch("arm", "v7")]), "v1")
    for platform, want in [("linux/amd64", "amd64"), ("linux/arm64", "arm64"), ("linux/arm/v7", "armv7"),
                           ("linux/arm/v8", "armv7")]:
        root = unpacked(tool, layout, tmp_path / f"rootfs-{want}-{platform.replace('/', '-')}", "v1",
                        "--platform", platform)
        assert (root / "arch").read_text() == want, platform
    out = unpack(tool, layout.ref("v1"), tmp_path, "--platform", "linux/s390x")
    assert out.errno_name == "ENOENT" and "no match for platform linux/s390x" in out.stderr


def test_an_image_without_layers_leaves_the_root_empty(tool, layout, tmp_path):
    one_image(layout)
    assert os.listdir(unpacked(tool, layout, tmp_path / "rootfs")) == []


# ---- whiteouts -------------------------------------------------------------------------

def test_a_whiteout_deletes_a_file_or_a_tree_of_a_lower_layer(tool, layout, tmp_path):
    one_image(layout,
              layout.layer([oci.file("etc/keep", "k"), oci.file("etc/gone", "g"),
                            oci.file("var/cache/a/b", "b"), oci.file("var/cache/c", "c")]),
              layout.layer([oci.whiteout("etc/gone"), oci.whiteout("var/cache"), oci.whiteout("never/there")]))
    assert tree(unpacked(tool, layout, tmp_path / "rootfs")) == {
        "etc": "dir", "etc/keep": "k", "var": "dir", "never": "dir"}


def test_an_opaque_directory_hides_the_lower_layers_content_only(tool, layout, tmp_path):
    one_image(layout,
              layout.layer([oci.file("app/old", "o"), oci.file("app/sub/old", "o"), oci.file("other/x", "x")]),
              # this layer's own entries before and after the marker stay; lower ones go, also below
              # a directory this layer keeps
              layout.layer([oci.directory("app/sub"), oci.file("app/sub/new", "n1"), oci.opaque("app"),
                            oci.file("app/new", "n2")]))
    assert tree(unpacked(tool, layout, tmp_path / "rootfs")) == {
        "app": "dir", "app/sub": "dir", "app/sub/new": "n1", "app/new": "n2", "other": "dir", "other/x": "x"}


def test_whiteout_names_that_climb_are_refused(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.file("a/f", "f")]), layout.layer([oci.file("a/.wh..", "")]))
    assert "invalid whiteout name" in refused(tool, layout, tmp_path / "rootfs", "EINVAL")


# ---- links and special files ------------------------------------------------------------

def test_hard_links_across_directories_share_one_inode(tool, layout, tmp_path):
    one_image(layout,
              layout.layer([oci.file("usr/bin/busybox", "bb", mode=0o755),
                            oci.hardlink("bin/sh", "usr/bin/busybox", mode=0o755),
                            oci.hardlink("sbin/init", "/usr/bin/busybox", mode=0o755)]),
              layout.layer([oci.hardlink("opt/later", "bin/sh", mode=0o755)]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    inodes = {(root / p).stat().st_ino for p in ("usr/bin/busybox", "bin/sh", "sbin/init", "opt/later")}
    assert len(inodes) == 1
    assert (root / "bin/sh").stat().st_nlink == 4
    assert (root / "sbin/init").read_text() == "bb"


def test_a_hard_link_to_a_missing_file_or_a_directory_is_refused(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.file("a", "a"), oci.hardlink("b", "nowhere")]))
    assert "hard link b to nowhere" in refused(tool, layout, tmp_path / "r1", "EINVAL")
    one_image(layout, layout.layer([oci.directory("d"), oci.hardlink("b", "d")]), tag="dir")
    assert "hard link b to d" in refused(tool, layout, tmp_path / "r2", "EINVAL", tag="dir")


def test_symlinks_fifos_and_device_nodes_are_made(tool, layout, tmp_path):
    one_image(layout, layout.layer([
        oci.symlink("bin", "usr/bin"), oci.symlink("abs", "/etc/passwd"),
        oci.fifo("run/fifo", mode=0o620), oci.chardev("dev/null", 1, 3), oci.blockdev("dev/loop9", 7, 9),
    ]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    assert os.readlink(root / "bin") == "usr/bin" and os.readlink(root / "abs") == "/etc/passwd"
    st = (root / "run/fifo").lstat()
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o620
    st = (root / "dev/null").lstat()
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o666
    st = (root / "dev/loop9").lstat()
    assert stat.S_ISBLK(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (7, 9)


def test_a_later_layer_replaces_a_directory_by_a_file_and_a_file_by_a_directory(tool, layout, tmp_path):
    one_image(layout,
              layout.layer([oci.file("d/x", "x"), oci.file("f", "f"), oci.symlink("l", "d")]),
              layout.layer([oci.file("d", "now a file"), oci.directory("f"), oci.file("f/y", "y"),
                            oci.file("l", "not through the link")]))
    assert tree(unpacked(tool, layout, tmp_path / "rootfs")) == {
        "d": "now a file", "f": "dir", "f/y": "y", "l": "not through the link"}


def test_a_link_replaced_by_a_file_is_no_way_through_any_more(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.directory("real"), oci.symlink("l", "real"), oci.file("l/a", "a"),
                                    oci.file("l", "a file now"), oci.file("l/b", "b")]))
    assert "parent directory l: not a directory" in refused(tool, layout, tmp_path / "rootfs", "EINVAL")
    one_image(layout, layout.layer([oci.directory("real"), oci.symlink("l", "real"), oci.file("l/a", "a")]),
              layout.layer([oci.whiteout("l"), oci.directory("l"), oci.file("l/b", "b")]), tag="wh")
    root = unpacked(tool, layout, tmp_path / "r2", "wh")
    assert tree(root) == {"real": "dir", "real/a": "a", "l": "dir", "l/b": "b"}


# ---- metadata -------------------------------------------------------------------------------

def test_owners_modes_and_times_are_kept(tool, layout, tmp_path):
    one_image(layout, layout.layer([
        oci.directory("home/u", mode=0o750, uid=1000, gid=1001, mtime=1_500_000_000),
        oci.file("home/u/setuid", "s", mode=0o4755, uid=1000, gid=1001, mtime=1_400_000_000),
        oci.file("home/u/private", "p", mode=0o600, uid=1000, gid=1001),
        oci.symlink("home/u/link", "private", uid=1000, gid=1001, mtime=1_300_000_000),
        oci.directory("tmp", mode=0o1777),
        oci.file("old", "before 1970", mtime=-5),
    ]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    st = (root / "home/u").lstat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o750, 1000, 1001, 1_500_000_000)
    st = (root / "home/u/setuid").lstat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o4755, 1000, 1001, 1_400_000_000)
    st = (root / "home/u/link").lstat()
    assert (st.st_uid, st.st_gid, int(st.st_mtime)) == (1000, 1001, 1_300_000_000)
    assert stat.S_IMODE((root / "tmp").lstat().st_mode) == 0o1777
    assert (root / "old").lstat().st_mtime == 0            # containerd's boundTime


def test_directories_made_as_parents_are_0755_root_owned(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.file("a/b/c/file", "f", uid=7, gid=7)]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    for d in ("a", "a/b", "a/b/c"):
        st = (root / d).lstat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0), d


def test_extended_attributes_and_file_capabilities_are_kept(tool, layout, tmp_path):
    one_image(layout, layout.layer([
        # owned by a user: the capability is set after chown, which would clear it
        oci.file("usr/bin/ping", "p", mode=0o755, uid=1000, gid=1000,
                 xattrs={"security.capability": CAP_NET_BIND, "user.origin": b"image"}),
        oci.directory("data", xattrs={"user.kind": b"\x00binary\xff"}),
        oci.file("t", "t", xattrs={"trusted.secret": b"never"}),
    ]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    assert os.getxattr(root / "usr/bin/ping", "security.capability") == CAP_NET_BIND
    assert os.getxattr(root / "usr/bin/ping", "user.origin") == b"image"
    assert (root / "usr/bin/ping").stat().st_uid == 1000
    assert os.getxattr(root / "data", "user.kind") == b"\x00binary\xff"
    assert "trusted.secret" not in os.listxattr(root / "t")


def test_long_names_and_non_ascii_names_are_kept(tool, layout, tmp_path):
    deep = "/".join(["d" * 200] * 15) + "/" + "f" * 255
    one_image(layout, layout.layer([oci.file(deep, "deep"), oci.file("caf\u00e9/na\u00efve", "utf-8")]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    assert (root / deep).read_text() == "deep"
    assert (root / "caf\u00e9" / "na\u00efve").read_text() == "utf-8"


# ---- refusals: nothing is left --------------------------------------------------------------

def test_a_root_that_is_not_empty_is_refused_untouched(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.file("etc/passwd", "image")]))
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("mine")
    out = unpack(tool, layout.ref("v1"), root)
    assert out.errno_name == "ENOTEMPTY" and "not empty" in out.stderr, out.stderr
    assert tree(root) == {"etc": "dir", "etc/passwd": "mine"}


def test_a_corrupted_layer_is_refused_and_nothing_is_left(tool, layout, tmp_path):
    good = layout.layer([oci.file("first", "layer one")])
    bad_desc, bad_diff = layout.layer([oci.file("second/file", "layer two " * 100)], "none")
    one_image(layout, good, (bad_desc, bad_diff))
    path = layout.blob_path(bad_desc["digest"])
    data = bytearray(path.read_bytes())
    i = data.index(b"layer two")
    data[i] = ord("L")                     # the same size, and still a valid tar
    path.write_bytes(bytes(data))
    msg = refused(tool, layout, tmp_path / "rootfs", "EINVAL")
    assert f"layer 2: blob {bad_desc['digest']}: content has digest sha256:" in msg, msg


def test_a_layer_whose_tar_is_not_its_diff_id_is_refused(tool, layout, tmp_path):
    desc, _ = layout.layer([oci.file("f", "f")])
    one_image(layout, (desc, oci.sha256(b"something else")))
    assert "layer 1: diff ID sha256:" in refused(tool, layout, tmp_path / "rootfs", "EINVAL")


def test_a_truncated_layer_is_refused(tool, layout, tmp_path):
    desc, diff = layout.layer([oci.file(f"f{i}", os.urandom(2000).hex()) for i in range(50)])
    one_image(layout, (desc, diff))
    path = layout.blob_path(desc["digest"])
    path.write_bytes(path.read_bytes()[: desc["size"] // 2])
    msg = refused(tool, layout, tmp_path / "rootfs", "EINVAL")
    assert f"bytes, its descriptor says {desc['size']}" in msg, msg


def test_a_layer_with_an_unsupported_media_type_is_refused_before_anything_is_written(tool, layout, tmp_path):
    desc, diff = layout.layer([oci.file("f", "f")], media_type=oci.OCI_LAYER + "+gzip+encrypted")
    one_image(layout, (desc, diff))
    assert "unsupported media type" in refused(tool, layout, tmp_path / "rootfs", "EINVAL")


def test_a_tar_that_ends_inside_the_last_files_padding_is_complete(tool, layout, tmp_path):
    # some writers stop right after the last file's data (Go's archive/tar,
    # which containerd and umoci read with, takes that for the end)
    raw = oci.tar_bytes([oci.directory("etc"), oci.file("etc/greeting", "hello\n")])
    data_end = raw.index(b"hello\n") + len("hello\n")
    for cut, name in [(data_end, "no-padding"), (data_end + 506, "no-end-blocks")]:
        one_image(layout, layout.raw_layer(raw[:cut]), tag=name)
        root = unpacked(tool, layout, tmp_path / name, name)
        assert tree(root) == {"etc": "dir", "etc/greeting": "hello\n"}
    # cut inside the data, it is truncated
    one_image(layout, layout.raw_layer(raw[:data_end - 1]), tag="cut")
    assert "etc/greeting" in refused(tool, layout, tmp_path / "cut", "EINVAL", tag="cut")


def test_garbage_instead_of_a_tar_is_refused(tool, layout, tmp_path):
    one_image(layout, layout.raw_layer(b"this is not a tar archive at all" * 40, "gzip"))
    refused(tool, layout, tmp_path / "rootfs", "EINVAL")


def test_a_missing_layer_blob_is_not_found(tool, layout, tmp_path):
    desc, diff = layout.layer([oci.file("f", "f")])
    one_image(layout, layout.layer([oci.file("g", "g")]), (desc, diff))
    layout.blob_path(desc["digest"]).unlink()
    assert "no such file or directory" in refused(tool, layout, tmp_path / "rootfs", "ENOENT")


def test_progress_counts_layers_entries_and_tar_bytes(tool, layout, tmp_path):
    entries = [[oci.file(f"a{i}", "x" * 3000) for i in range(40)], [oci.directory("d"), oci.file("d/f", "f")]]
    layers = [layout.layer(e) for e in entries]
    one_image(layout, *layers)
    root = tmp_path / "rootfs"
    root.mkdir()
    out = unpack(tool, layout.ref("v1"), root)
    assert out.returncode == 0, out.stderr
    tar_bytes = sum(len(oci.tar_bytes(e)) for e in entries)
    assert out.stdout.splitlines()[1] == f"layers 2 entries 42 bytes {tar_bytes}"


def test_a_cancelled_unpack_stops_and_leaves_nothing(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.file(f"d{i // 100}/f{i}", os.urandom(4096).hex()) for i in range(3000)]))
    root = tmp_path / "rootfs"
    root.mkdir()
    out = unpack(tool, layout.ref("v1"), root, "--cancel-at-bytes", str(1 << 20))
    assert out.returncode == 1 and out.errno_name == "ECANCELED", out.stderr
    assert os.listdir(root) == []


# ---- limits ------------------------------------------------------------------------------------

def test_limits_on_layers_bytes_and_entries(tool, layout, tmp_path):
    one_image(layout, *[layout.layer([oci.file(f"f{i}", "x" * 1000)]) for i in range(3)])
    assert "has 3 layers, more than 2" in refused(tool, layout, tmp_path / "r1", "EFBIG", "--max-layers", "2")
    assert "more than 5000 bytes of tar" in refused(tool, layout, tmp_path / "r2", "EFBIG", "--max-bytes", "5000")
    assert "more than 2 entries" in refused(tool, layout, tmp_path / "r3", "EFBIG", "--max-entries", "2")
    unpacked(tool, layout, tmp_path / "r4", "v1", "--max-layers", "3", "--max-entries", "3")


def test_names_over_the_path_limits_are_refused(tool, layout, tmp_path):
    one_image(layout, layout.layer([oci.file("a/" + "n" * 256, "x")]))
    assert "longer than 255 bytes" in refused(tool, layout, tmp_path / "r1", "ENAMETOOLONG")
    one_image(layout, layout.layer([oci.file("/".join(["d" * 100] * 41), "x")]), tag="long")
    assert "longer than 4095 bytes" in refused(tool, layout, tmp_path / "r2", "ENAMETOOLONG", tag="long")
    one_image(layout, layout.layer([oci.symlink("l", "t" * 4096)]), tag="link")
    assert "target longer than 4095" in refused(tool, layout, tmp_path / "r3", "ENAMETOOLONG", tag="link")


# ---- nothing is ever written outside the root -----------------------------------------------------

@pytest.fixture
def outside(tmp_path) -> pathlib.Path:
    """A host directory the tricks aim at, with a file in it."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim").write_text("untouched")
    return d


def assert_outside_untouched(outside: pathlib.Path) -> None:
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_text() == "untouched"


@pytest.mark.parametrize("without_openat2", [False, True], ids=["openat2-available", "openat2-ENOSYS"])
def test_dot_dot_and_absolute_names_stay_inside(tool, layout, tmp_path, outside, without_openat2):
    climb = "../" * 20 + str(outside.relative_to("/"))
    one_image(layout, layout.layer([
        oci.file("../escape", "e"), oci.file(climb + "/victim", "overwritten?"),
        oci.file(str(outside) + "/abs", "absolute"), oci.file("a/../../b", "b"),
    ]))
    root = unpacked(tool, layout, tmp_path / "rootfs", without_openat2=without_openat2)
    assert_outside_untouched(outside)
    assert (root / "escape").read_text() == "e"
    inside = root / str(outside.relative_to("/"))
    assert (inside / "victim").read_text() == "overwritten?" and (inside / "abs").read_text() == "absolute"
    assert (root / "b").read_text() == "b"


@pytest.mark.parametrize("without_openat2", [False, True], ids=["openat2-available", "openat2-ENOSYS"])
def test_symlinks_planted_by_a_layer_never_lead_a_write_outside(tool, layout, tmp_path, outside, without_openat2):
    one_image(layout,
              layout.layer([oci.symlink("abs", str(outside)), oci.symlink("rel", "../../../../../../" + str(outside)),
                            oci.symlink("hop", "abs"), oci.symlink("victim-link", str(outside / "victim"))]),
              layout.layer([oci.file("abs/pwned", "1"), oci.file("rel/pwned2", "2"), oci.file("hop/pwned3", "3"),
                            oci.file("victim-link", "replaced, not followed"),
                            oci.hardlink("hard", "abs/victim-missing-inside") if False else oci.file("x", "x")]))
    root = unpacked(tool, layout, tmp_path / "rootfs", without_openat2=without_openat2)
    assert_outside_untouched(outside)
    inside = root / str(outside.relative_to("/"))
    assert sorted(os.listdir(inside)) == ["pwned", "pwned2", "pwned3"]
    assert (root / "victim-link").read_text() == "replaced, not followed"


def test_symlink_then_write_in_one_layer_stays_inside(tool, layout, tmp_path, outside):
    one_image(layout, layout.layer([oci.symlink("etc", str(outside)), oci.file("etc/victim", "inside")]))
    root = unpacked(tool, layout, tmp_path / "rootfs")
    assert_outside_untouched(outside)
    assert (root / str(outside.relative_to("/")) / "victim").read_text() == "inside"


def test_hard_links_and_whiteouts_through_planted_symlinks_stay_inside(tool, layout, tmp_path, outside):
    one_image(layout,
              layout.layer([oci.symlink("abs", str(outside))]),
              layout.layer([oci.whiteout("abs/victim"), oci.opaque("abs")]))
    unpacked(tool, layout, tmp_path / "rootfs")
    assert_outside_untouched(outside)
    one_image(layout,
              layout.layer([oci.symlink("abs", str(outside))]),
              layout.layer([oci.hardlink("stolen", "abs/victim")]), tag="link")
    assert "hard link stolen to abs/victim" in refused(tool, layout, tmp_path / "r2", "EINVAL", tag="link")
    assert_outside_untouched(outside)
    assert (outside / "victim").stat().st_nlink == 1


def test_emptying_after_a_failure_never_follows_links_out(tool, layout, tmp_path, outside):
    desc, diff = layout.layer([oci.file("late", "l")])
    one_image(layout,
              layout.layer([oci.symlink("abs", str(outside)), oci.symlink("dir-link", str(outside)),
                            oci.file("d/sub/f", "f"), oci.hardlink("d/h", "d/sub/f")]),
              (desc, oci.sha256(b"not the diff id")))
    refused(tool, layout, tmp_path / "rootfs", "EINVAL")
    assert_outside_untouched(outside)


def test_a_failure_deep_in_a_tree_empties_it_all(tool, layout, tmp_path):
    deep = "/".join(["d"] * 150)                  # deeper than a removal descends at once
    desc, _ = layout.layer([oci.file("late", "l")])
    one_image(layout, layout.layer([oci.file(deep + "/f", "f"), oci.file("top", "t")]),
              (desc, oci.sha256(b"wrong")))
    refused(tool, layout, tmp_path / "rootfs", "EINVAL")


# ---- end to end without the mounted tree: unpack, render, runc run ---------------------------------

def test_an_unpacked_busybox_image_runs_with_runc(tool, layout, tmp_path, render_bin):
    import shutil
    import uuid
    from support.render import render_cli
    runc_bin = shutil.which("runc")
    assert runc_bin, "runc is needed (scripts/deps)"
    want = oci.busybox_image(layout, "v1")
    platform = f"linux/{oci.host_arch()}"
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    out = unpack(tool, layout.ref("v1"), bundle / "rootfs", "--platform", platform)
    assert out.returncode == 0, out.stderr
    r = render_cli(render_bin, ["WithDefaultSpec", f"WithImageConfig {layout.ref('v1')}", "WithRootFSPath rootfs"],
                   namespace="default", id="img", platform=platform, bundle=bundle)
    assert r.ok, r.describe()
    (bundle / "config.json").write_text(r.stdout)
    cid = f"bfs-img-{uuid.uuid4().hex[:8]}"
    try:
        res = subprocess.run([runc_bin, "run", "--bundle", str(bundle), cid], capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run([runc_bin, "delete", "-f", cid], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout == want
