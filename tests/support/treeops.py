"""File operations on a mounted bundlefs tree, as a user does them.

Used by the suites that work through the mount (test_fs_conformance.py,
test_fs_tree.py, test_fs_daemon.py): one O_APPEND write per option line, the
errno a refused write must give (INTERFACE.md section 2), running a piece of
code as another user, and reading /proc/self/mountinfo.
"""
from __future__ import annotations

import errno
import json
import os
import pathlib
import subprocess
import traceback
from typing import Any, Callable


# --- writes and reads -------------------------------------------------------------


def write_errno(path, data: bytes, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """open(path, flags) and one write(2) of data, then close. Returns 0 when
    the whole of data was written and close succeeded, else the errno of the
    call that failed."""
    try:
        fd = os.open(path, flags)
    except OSError as e:
        return e.errno
    try:
        n = os.write(fd, data)
        if n != len(data):
            return errno.EIO  # a short write: not what the contract allows
    except OSError as e:
        try:
            os.close(fd)
        except OSError:
            pass
        return e.errno
    try:
        os.close(fd)
    except OSError as e:
        return e.errno
    return 0


def append_line(path, line: str) -> int:
    """Append one option line to an opts file with one O_APPEND write; the
    errno of a refusal, 0 when accepted."""
    return write_errno(path, (line + "\n").encode("utf-8"))


def replace_with(path, data: bytes) -> int:
    """`cat saved > opts`: open O_WRONLY|O_TRUNC, one write, close."""
    return write_errno(path, data, os.O_WRONLY | os.O_TRUNC)


def read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_text(path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code)) if code else "success"


# --- INTERFACE.md section 2: the errno of a refusal --------------------------------

ENOENT_REASONS = ("no users found", "no groups found", "unable to find group",
                  "no such file or directory")


def refusal_errno(containerd_error: str) -> int:
    """The errno a refused write must return, from the text containerd gave
    for the same refusal (a conformance case's `error`)."""
    text = containerd_error.strip()
    if text.startswith("invalid option line") or text.startswith("panic:"):
        return errno.EINVAL
    if "not a device node" in text:
        return errno.ENODEV
    if any(reason in text for reason in ENOENT_REASONS):
        return errno.ENOENT
    return errno.EINVAL


# --- running code as another user -------------------------------------------------


CAP_DAC_OVERRIDE = 1
_PR_SET_KEEPCAPS = 8
_CAPABILITY_VERSION_3 = 0x20080522


def _keep_only_caps(caps) -> None:
    """capset(2): the calling process keeps exactly these capabilities,
    permitted and effective (after a setresuid that kept its permitted set)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    mask = 0
    for cap in caps:
        mask |= 1 << cap
    data = (Data * 2)()
    for i in range(2):
        word = (mask >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = word
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.capset(ctypes.byref(Header(_CAPABILITY_VERSION_3, 0)), data) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"capset: {os.strerror(e)}")


def run_as(uid: int, gid: int, fn: Callable[[], Any], caps=()) -> Any:
    """Run fn() in a forked child with the given real/effective/saved uid and
    gid and no supplementary groups, holding only the capabilities in caps
    (numbers such as CAP_DAC_OVERRIDE; none by default); returns what fn
    returned (JSON-able). An OSError fn raises comes back as {"errno": n};
    other exceptions are raised again here with the child's traceback."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        status = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            if caps:
                import ctypes
                if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS)")
            os.setresuid(uid, uid, uid)
            if caps:
                _keep_only_caps(caps)
            try:
                result = {"value": fn()}
            except OSError as e:
                result = {"errno": e.errno}
            payload = json.dumps(result).encode()
        except BaseException:  # noqa: BLE001 - report anything to the parent
            payload = json.dumps({"exception": traceback.format_exc()}).encode()
            status = 1
        try:
            os.write(w, payload)
            os.close(w)
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    result = json.loads(b"".join(chunks) or b'{"exception": "the child said nothing"}')
    if "exception" in result:
        raise AssertionError(f"code run as uid {uid} failed:\n{result['exception']}")
    if "errno" in result:
        raise OSError(result["errno"], os.strerror(result["errno"]))
    return result["value"]


def errno_as(uid: int, gid: int, fn: Callable[[], Any], caps=()) -> int:
    """0 when fn() succeeds as uid:gid (holding caps), else the errno it failed with."""
    try:
        run_as(uid, gid, fn, caps)
    except OSError as e:
        return e.errno
    return 0


# --- mounts -----------------------------------------------------------------------


def mountinfo() -> list[dict[str, str]]:
    """/proc/self/mountinfo, one dict per mount: root (the path inside its
    filesystem), mountpoint, fstype, source."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out.append({
                "root": _unescape(fields[3]),
                "mountpoint": _unescape(fields[4]),
                "fstype": fields[sep + 1],
                "source": fields[sep + 2],
            })
    return out


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    return field.encode().decode("unicode_escape") if "\\" in field else field


def mounts_at(path) -> list[dict[str, str]]:
    """Every mount whose mount point is exactly path (stacked ones included)."""
    real = os.path.realpath(path)
    return [m for m in mountinfo() if m["mountpoint"] == real]


def fuse_mounts_at(path) -> list[dict[str, str]]:
    return [m for m in mounts_at(path) if m["fstype"].startswith("fuse")]


def same_file(a, b) -> bool:
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def rootfs_state_path(state: pathlib.Path, ns: str, cid: str) -> pathlib.Path:
    return pathlib.Path(state) / "namespaces" / ns / cid / "rootfs"


def container_log_path(state: pathlib.Path, ns: str, cid: str) -> pathlib.Path:
    return pathlib.Path(state) / "namespaces" / ns / cid / "log"


def rm_rf(path) -> subprocess.CompletedProcess:
    """rm -rf path; its status is returned, not checked (rm reports EBUSY for
    a rootfs mount point, as on any mount point)."""
    return subprocess.run(["rm", "-rf", str(path)], capture_output=True, text=True)


def wait_rootfs_mounted(cdir, timeout: float = 10.0) -> None:
    """Wait until <cdir>/rootfs is a mount point (the daemon bind-mounts a
    new container's rootfs just after mkdir returns)."""
    import time
    target = os.path.join(os.path.realpath(cdir), "rootfs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m["mountpoint"] == target for m in mountinfo()):
            return
        time.sleep(0.01)
    raise AssertionError(f"{target} was not bind-mounted within {timeout}s")
