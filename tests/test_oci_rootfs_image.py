"""rootfs.image through a mounted tree: `echo oci:DIR:TAG > rootfs.image`
unpacks the image's layers into the container's empty rootfs, and the write
returns once that is done and durable. End to end with runc; the refusals
(ENOTEMPTY, EPERM, bad references, a corrupted blob) leave an empty rootfs
and a reason in `error`; while an unpack runs the container is busy and the
rest of the tree stays quick; a signal to the writer, a stopping daemon or a
crash leaves the rootfs empty. The layouts are written by the tests
(support/ocilayout.py)."""
from __future__ import annotations

import errno
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from support import ocilayout as oci
from support.ctl import config, error_text, opts_lines, read, write_value
from support.mount import make_container
from support.treeops import CAP_DAC_OVERRIDE, errno_as

NOBODY = 65534
MARK = "trusted.bundlefs.image"

# A writer of its own: the tests act while its write(2) waits for the unpack.
WRITER = """
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
try:
    os.write(fd, sys.argv[2].encode() + b"\\n")
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


class Writer:
    """`echo REF > rootfs.image` in a process of its own."""

    def __init__(self, ctr: pathlib.Path, ref: str):
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(ctr / "rootfs.image"), ref],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(self, timeout: float = 30) -> str:
        """"ok", or the errno name the write failed with."""
        out, err = self.proc.communicate(timeout=timeout)
        return out.strip() or err.strip()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=30)


@pytest.fixture
def layout(tmp_path) -> oci.Layout:
    return oci.Layout(tmp_path / "layout")


@pytest.fixture
def small(layout) -> str:
    """A reference to a small two-layer image for this machine's platform."""
    layout.tag(layout.image(layers=[
        layout.layer([oci.directory("etc"), oci.file("etc/os-release", "ID=small\n"), oci.file("bin/tool", "v1")]),
        layout.layer([oci.file("bin/tool", "v2"), oci.symlink("bin/alias", "tool")], "zstd"),
    ], arch=oci.host_arch()), "small")
    return layout.ref("small")


@pytest.fixture
def slow(layout) -> str:
    """A reference to an image whose unpack runs for a minute or more."""
    layout.tag(layout.image(layers=[layout.slow_layer()], arch=oci.host_arch()), "slow")
    return layout.ref("slow")


def state_rootfs(daemon, ctr: pathlib.Path) -> pathlib.Path:
    return daemon.state / "namespaces" / ctr.parent.name / ctr.name / "rootfs"


def unpacking(ctr: pathlib.Path, at_least_mib: int = 0, timeout: float = 20) -> str:
    """Wait until rootfs.image shows the unpack under way; what it shows."""
    deadline = time.monotonic() + timeout
    while True:
        shown = read(ctr / "rootfs.image")
        m = re.fullmatch(r"unpacking oci:\S+: layer 1 of 1, (\d+) MiB\n", shown)
        if m and int(m.group(1)) >= at_least_mib:
            return shown
        assert time.monotonic() < deadline, f"no unpack under way: rootfs.image shows {shown!r}"
        time.sleep(0.02)


def errno_of(fn, *args) -> int:
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def assert_left_empty(daemon, ctr: pathlib.Path, why: str) -> None:
    """A refused or failed unpack: nothing in the rootfs, nothing read back,
    one line in `error`."""
    assert os.listdir(ctr / "rootfs") == []
    assert os.listdir(state_rootfs(daemon, ctr)) == []
    assert MARK not in os.listxattr(state_rootfs(daemon, ctr))
    assert read(ctr / "rootfs.image") == ""
    err = error_text(ctr)
    assert err.startswith("rootfs.image: ") and err.count("\n") == 1 and why in err, err


# ---- unpacking --------------------------------------------------------------------------------

@pytest.mark.parametrize("files,user", [(("image", "rootfs.image"), "1234:4321"),
                                        (("rootfs.image", "image"), "app")])
def test_an_unpacked_busybox_image_runs_with_runc(ctr, layout, files, user):
    """The issue's end to end: an image layout of busybox, `echo oci:DIR:v1 >
    image`, `echo oci:DIR:v1 > rootfs.image`, and runc runs the image's
    Entrypoint and Cmd as its user, in its working directory, on its layers.
    A user named by the config (not numbers) is looked up in the rootfs's
    etc/passwd, so then the rootfs comes first, as in containerd."""
    runc = shutil.which("runc")
    assert runc, "runc is needed (scripts/deps)"
    want = oci.busybox_image(layout, "v1", user=user)
    ref = layout.ref("v1")
    subprocess.run(["sh", "-c", f"echo {ref} > {files[0]} && echo {ref} > {files[1]}"], cwd=ctr, check=True)
    assert read(ctr / "rootfs.image") == ref + "\n"
    assert error_text(ctr) == ""
    assert opts_lines(ctr) == [f"WithImageConfig {ref}"]
    assert config(ctr)["process"]["user"]["uid"] == 1234
    assert (ctr / "rootfs" / "etc" / "motd").read_text() == "from layer two\n"
    cid = f"bfs-img-{uuid.uuid4().hex[:8]}"
    try:
        res = subprocess.run([runc, "run", "--bundle", str(ctr), cid], capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run([runc, "delete", "-f", cid], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout == want


def test_the_unpack_is_durable_and_no_option(daemon, ctr, small):
    """What rootfs.image read back survives a restart; it is no option line,
    so opts, config.json and a round trip of opts leave it alone."""
    before = read(ctr / "config.json")
    write_value(ctr / "rootfs.image", small + "\n")
    assert (ctr / "rootfs" / "bin" / "tool").read_text() == "v2"
    assert os.readlink(ctr / "rootfs" / "bin" / "alias") == "tool"
    assert opts_lines(ctr) == [] and read(ctr / "config.json") == before
    write_value(ctr / "opts", read(ctr / "opts"))
    assert daemon.stop() == 0
    daemon.start()
    assert read(ctr / "rootfs.image") == small + "\n"
    assert os.stat(ctr / "rootfs.image").st_size == len(small) + 1
    assert (ctr / "rootfs" / "etc" / "os-release").read_text() == "ID=small\n"


def test_the_containers_platform_picks_the_image(ctr, layout):
    """As for the image config: an index's entry for the container's platform."""
    layout.tag(layout.index([
        layout.image(layers=[layout.layer([oci.file("arch", arch)])], arch=arch) for arch in ("amd64", "arm64")
    ]), "multi")
    write_value(ctr / "platform", "linux/arm64")
    write_value(ctr / "rootfs.image", layout.ref("multi"))
    assert (ctr / "rootfs" / "arch").read_text() == "arm64"


def test_a_rootfs_that_is_not_empty_is_refused_untouched(ctr, small, layout):
    """Data is never overwritten: ENOTEMPTY, also once an image is there."""
    (ctr / "rootfs" / "mine").write_text("keep me")
    assert errno_of(write_value, ctr / "rootfs.image", small) == errno.ENOTEMPTY
    assert os.listdir(ctr / "rootfs") == ["mine"] and (ctr / "rootfs" / "mine").read_text() == "keep me"
    assert read(ctr / "rootfs.image") == ""
    assert "not empty" in error_text(ctr)
    os.unlink(ctr / "rootfs" / "mine")
    write_value(ctr / "rootfs.image", small)
    assert error_text(ctr) == ""
    layout.tag(layout.image(layers=[layout.layer([oci.file("other", "x")])]), "other")
    assert errno_of(write_value, ctr / "rootfs.image", layout.ref("other")) == errno.ENOTEMPTY
    assert read(ctr / "rootfs.image") == small + "\n"
    assert not (ctr / "rootfs" / "other").exists()


# Malformed values and the limits are test_bad_input.py's; here, what each
# refusal leaves and says.
REFUSED_VALUES = [
    ("/srv/images/busybox", errno.EINVAL, "expected an image layout reference"),
    ("oci:relative/dir:v1", errno.EINVAL, "is not absolute"),
    ("oci:/" + "d" * 4100 + ":v1", errno.ENAMETOOLONG, "a reference is at most 4096 bytes"),
    ("oci:{layout}:missing", errno.ENOENT, 'no image tagged "missing"'),
    ("oci:{layout}/nowhere:v1", errno.ENOENT, "nowhere"),
]


def test_references_that_do_not_resolve_are_refused(daemon, ctr, small, layout):
    for value, want, why in REFUSED_VALUES:
        value = value.replace("{layout}", str(layout.path))
        got = errno_of(write_value, ctr / "rootfs.image", value)
        assert got == want, f"{value[:60]!r}: {errno.errorcode.get(got, got)} ({error_text(ctr)!r})"
        assert_left_empty(daemon, ctr, why)


def test_only_the_owner_or_root_may_unpack(public_daemon, small):
    """The reference names a host directory, read with the daemon's rights:
    a caller past the mode bits (CAP_DAC_OVERRIDE) is refused EPERM, as for
    host paths in option lines; without it the kernel says EACCES."""
    daemon = public_daemon
    ctr = make_container(daemon.mountpoint)
    def write():
        fd = os.open(ctr / "rootfs.image", os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, small.encode())
        finally:
            os.close(fd)
    assert errno_as(NOBODY, NOBODY, write, caps=[CAP_DAC_OVERRIDE]) == errno.EPERM
    assert_left_empty(daemon, ctr, f"only the mount's owner (uid 0) or root may name host paths, not uid {NOBODY}")
    assert errno_as(NOBODY, NOBODY, write) == errno.EACCES
    assert errno_as(0, 0, write) == 0
    assert read(ctr / "rootfs.image") == small + "\n"


def test_a_corrupted_blob_leaves_an_empty_rootfs_and_a_reason(daemon, ctr, layout):
    """The layer is extracted as it is read; its digest, checked at its end,
    does not match: everything it made goes."""
    desc, diff = layout.layer([oci.directory("etc")] + [oci.file(f"etc/f{i}", f"file {i}\n" * 50) for i in range(200)],
                              "none")
    layout.tag(layout.image(layers=[(desc, diff)], arch=oci.host_arch()), "v1")
    blob = layout.blob_path(desc["digest"])
    data = bytearray(blob.read_bytes())
    at = data.index(b"file 199")
    data[at:at + 4] = b"FILE"
    blob.write_bytes(bytes(data))
    assert errno_of(write_value, ctr / "rootfs.image", layout.ref("v1")) == errno.EINVAL
    assert_left_empty(daemon, ctr, "corrupted")


# ---- while an unpack runs ---------------------------------------------------------------------

def test_a_container_being_unpacked_into_is_busy(daemon, ctr, slow, small):
    """A second write to rootfs.image, rmdir and rename of the container or of
    its namespace: EBUSY, while rootfs.image shows the progress. A signal to
    the writer cancels the unpack: the rootfs is left empty, and the
    container is free again."""
    writer = Writer(ctr, slow)
    unpacking(ctr, at_least_mib=1)
    assert errno_of(write_value, ctr / "rootfs.image", small) == errno.EBUSY
    assert "being unpacked" in error_text(ctr)
    assert errno_of(os.rmdir, ctr) == errno.EBUSY
    assert errno_of(os.rename, ctr, ctr.parent / "renamed") == errno.EBUSY
    assert errno_of(os.rename, ctr.parent, ctr.parent.parent / "renamed") == errno.EBUSY
    assert re.fullmatch(r"unpacking " + re.escape(slow) + r": layer 1 of 1, \d+ MiB\n", read(ctr / "rootfs.image"))
    writer.kill()
    assert_left_empty(daemon, ctr, "interrupted")
    os.rename(ctr, ctr.parent / "renamed")
    os.rmdir(ctr.parent / "renamed")


def test_other_containers_stay_quick_while_an_unpack_runs(daemon, ctr, slow):
    """Writes, reads, mkdir and rootfs I/O of other containers go on while an
    unpack runs (it holds no lock of the tree and no thread serving it): each
    completes well within a generous bound."""
    mnt = daemon.mountpoint
    other = make_container(mnt, "default", "other")
    writer = Writer(ctr, slow)
    unpacking(ctr, at_least_mib=1)
    slowest = 0.0
    for i in range(40):
        start = time.monotonic()
        write_value(other / "hostname", f"h{i}\n")
        assert config(other)["hostname"] == f"h{i}"
        (other / "rootfs" / f"f{i}").write_text("x")
        assert read(ctr / "hostname") == ""
        slowest = max(slowest, time.monotonic() - start)
    start = time.monotonic()
    make_container(mnt, "other-ns", "third")
    slowest = max(slowest, time.monotonic() - start)
    unpacking(ctr)      # still under way: all of the above ran beside it
    writer.kill()
    assert slowest < 2.0, f"an operation on another container took {slowest:.3f} s during an unpack"
    assert_left_empty(daemon, ctr, "interrupted")


def test_stopping_the_daemon_cancels_an_unpack_and_empties_the_rootfs(daemon, ctr, slow):
    """SIGTERM: the unpack stops, its rootfs is emptied, the write fails with
    ECANCELED, and the daemon exits 0; started again, nothing is left."""
    writer = Writer(ctr, slow)
    unpacking(ctr, at_least_mib=1)
    start = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - start < 10
    assert writer.result() == "ECANCELED"
    assert os.listdir(state_rootfs(daemon, ctr)) == []
    assert MARK not in os.listxattr(state_rootfs(daemon, ctr))
    daemon.start()
    assert read(ctr / "rootfs.image") == ""
    assert os.listdir(ctr / "rootfs") == []


def test_an_unpack_a_crash_cut_short_is_undone_at_the_next_start(daemon, ctr, slow, small):
    """kill -9 in the middle: the mark written before the unpack began is
    still there, so the next start empties the rootfs before anyone sees it."""
    writer = Writer(ctr, slow)
    unpacking(ctr, at_least_mib=1)
    daemon.kill9()
    assert writer.result() in ("ECONNABORTED", "ENOTCONN")
    assert os.listdir(state_rootfs(daemon, ctr)) != []
    assert os.getxattr(state_rootfs(daemon, ctr), MARK).decode() == "unpacking " + slow
    daemon.start()
    assert os.listdir(ctr / "rootfs") == []
    assert MARK not in os.listxattr(state_rootfs(daemon, ctr))
    assert read(ctr / "rootfs.image") == ""
    assert f"default/c1: the unpack of {slow} was cut short: its rootfs was emptied" in daemon.log()
    write_value(ctr / "rootfs.image", small)
    assert read(ctr / "rootfs.image") == small + "\n"
