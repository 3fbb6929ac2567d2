"""Reading and writing a mounted container's files the way a user would, and
judging what came out: config.json against a fresh bundlefs-render of the
same option list, control-file views against config.json, refusals.

Every write here is ONE write(2) on a fresh open file unless said otherwise,
so a test knows exactly what the daemon received.
"""
from __future__ import annotations

import errno as errno_mod
import mmap
import os
import pathlib
import subprocess
from typing import Any

from .conformance import json_differences, loads_strict
from .render import render_cli

CONTROL_FILES = (
    "annotations", "args", "caps", "caps.ambient", "cpu.cfs", "cpu.rt", "cpu.shares",
    "cpuset.cpus", "cpuset.mems", "cwd", "devices", "domainname", "env", "groups",
    "hostname", "image", "memory.limit", "memory.swap", "mounts", "namespaces",
    "pids.max", "privileged", "rootfs.path", "rootfs.readonly", "tty", "user",
)
# rootfs.image unpacks an image into the rootfs: no option, so no control file.
CONTAINER_FILES = ("config.json", "opts", "platform", "error") + CONTROL_FILES + ("rootfs.image",)

# Files marked rt in INTERFACE.md section 3.
ROUND_TRIP_FILES = (
    "caps", "caps.ambient", "env", "args", "cwd", "hostname", "domainname",
    "memory.limit", "memory.swap", "pids.max", "cpu.shares", "cpu.cfs", "cpu.rt",
    "cpuset.cpus", "cpuset.mems", "annotations",
)

CONTROL_VALUE_MAX = 64 * 1024
OPTS_WRITE_MAX = 1024 * 1024


def _bytes(data) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read(path) -> str:
    return read_bytes(path).decode("utf-8")


def write_once(path, data, flags: int = os.O_WRONLY | os.O_TRUNC) -> int:
    """open + one write(2) + close; OSError from the write or the close
    propagates (the file is closed either way)."""
    fd = os.open(path, flags)
    try:
        n = os.write(fd, _bytes(data))
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    os.close(fd)
    return n


def write_value(path, data) -> None:
    """Write a control-file value as `printf ... > file` with one write(2)."""
    data = _bytes(data)
    n = write_once(path, data)
    assert n == len(data), f"short write to {path}: {n} of {len(data)} bytes"


def append_opts(ctr: pathlib.Path, text) -> None:
    """`>> opts`: one write(2) with O_APPEND."""
    data = _bytes(text)
    n = write_once(ctr / "opts", data, os.O_WRONLY | os.O_APPEND)
    assert n == len(data), f"short write to opts: {n} of {len(data)} bytes"


def write_from_unaligned_buffer(path, data: bytes, flags: int, offset: int = 4007) -> int:
    """One write(2) whose buffer starts `offset` bytes into a page, as any
    program's heap buffer may. The kernel hands FUSE at most 256 pages per
    request, so such a write may reach the daemon in pieces that do not end
    on a line; with 24-byte lines and offset 4007 the first piece of a write
    of about 1 MiB ends 17 bytes into a line ("WithHostname h000")."""
    m = mmap.mmap(-1, len(data) + 2 * mmap.PAGESIZE)
    try:
        m[offset:offset + len(data)] = data
        fd = os.open(path, flags)
        try:
            with memoryview(m) as view:
                return os.write(fd, view[offset:offset + len(data)])
        finally:
            os.close(fd)
    finally:
        m.close()


def opts_lines(ctr: pathlib.Path) -> list[str]:
    return read(ctr / "opts").splitlines()


def error_text(ctr: pathlib.Path) -> str:
    return read(ctr / "error")


def state_of(ctr: pathlib.Path) -> tuple[bytes, bytes]:
    """(opts, config.json) as bytes."""
    return read_bytes(ctr / "opts"), read_bytes(ctr / "config.json")


def config(ctr: pathlib.Path) -> Any:
    return loads_strict(read(ctr / "config.json"))


def platform_of(ctr: pathlib.Path) -> str:
    return read(ctr / "platform").strip()


def render_for(render_bin, ctr: pathlib.Path, lines: list[str] | None = None,
               platform: str | None = None):
    """bundlefs-render of the container's list (or the given lines), for its
    namespace, id and platform, with --bundle the container directory."""
    if lines is None:
        lines = opts_lines(ctr)
    return render_cli(render_bin, lines, namespace=ctr.parent.name, id=ctr.name,
                      platform=platform or platform_of(ctr), bundle=ctr)


def assert_config_fresh(render_bin, ctr: pathlib.Path) -> Any:
    """config.json is byte for byte what bundlefs-render gives for the same
    option list; returns it parsed."""
    res = render_for(render_bin, ctr)
    assert res.ok, f"bundlefs-render refused the container's own list: {res.describe()}"
    got = read(ctr / "config.json")
    if got != res.stdout:
        diffs = json_differences(loads_strict(got), loads_strict(res.stdout))
        raise AssertionError("config.json differs from bundlefs-render of the same opts:\n  "
                             + "\n  ".join(diffs[:40] or ["(same JSON value, different bytes)"]))
    return loads_strict(got)


def assert_refused(ctr: pathlib.Path, name: str, data, want_errno: int,
                   flags: int = os.O_WRONLY | os.O_TRUNC) -> str:
    """Writing data to ctr/name fails with want_errno, opts and config.json
    stay byte-identical, and `error` holds exactly one line. Returns it."""
    before = state_of(ctr)
    try:
        write_once(ctr / name, data, flags)
    except OSError as e:
        assert e.errno == want_errno, (
            f"{name} <- {_bytes(data)[:80]!r}: expected {errno_mod.errorcode[want_errno]}, "
            f"got {errno_mod.errorcode.get(e.errno, e.errno)} ({error_text(ctr)!r})")
    else:
        raise AssertionError(f"{name} <- {_bytes(data)[:80]!r} was accepted; expected "
                             f"{errno_mod.errorcode[want_errno]}; opts now {read(ctr / 'opts')[-300:]!r}")
    after = state_of(ctr)
    assert after[0] == before[0], f"a refused write to {name} changed opts: {before[0]!r} -> {after[0]!r}"
    assert after[1] == before[1], f"a refused write to {name} changed config.json"
    err = error_text(ctr)
    assert err.endswith("\n") and err.count("\n") == 1 and err.strip(), \
        f"after a refused write to {name}, error holds {err!r}, not exactly one line"
    return err


def sh(cmd: str, cwd=None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a bash command line (as a user would type it)."""
    proc = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"`{cmd}` failed ({proc.returncode}): {proc.stderr}"
    return proc


# --- what each control file shows, computed from config.json ------------------------


def _lines(items) -> str:
    return "".join(f"{x}\n" for x in items)


def _scalar(value) -> str:
    return f"{value}\n" if value not in (None, "") else ""


def expected_view(name: str, cfg: dict) -> str:
    """The text INTERFACE.md section 3 says a read of control file `name` shows
    for this (Linux) config.json. Not defined for image and privileged (they
    are not a function of config.json alone)."""
    proc = cfg.get("process") or {}
    caps = proc.get("capabilities") or {}
    linux = cfg.get("linux") or {}
    res = linux.get("resources") or {}
    cpu = res.get("cpu") or {}
    mem = res.get("memory") or {}
    root = cfg.get("root") or {}
    if name == "annotations":
        return _lines(f"{k}={v}" for k, v in (cfg.get("annotations") or {}).items())
    if name == "args":
        return _lines(proc.get("args") or [])
    if name == "caps":
        return _lines(caps.get("bounding") or [])
    if name == "caps.ambient":
        return _lines(caps.get("ambient") or [])
    if name in ("cpu.cfs", "cpu.rt"):
        first, second = ("quota", "period") if name == "cpu.cfs" else ("realtimeRuntime", "realtimePeriod")
        if cpu.get(first) is None:
            return "max\n"
        return f"{cpu[first]}" + (f" {cpu[second]}" if cpu.get(second) is not None else "") + "\n"
    if name == "cpu.shares":
        return _scalar(cpu.get("shares"))
    if name == "cpuset.cpus":
        return _scalar(cpu.get("cpus"))
    if name == "cpuset.mems":
        return _scalar(cpu.get("mems"))
    if name == "cwd":
        return _scalar(proc.get("cwd"))
    if name == "devices":
        out = []
        for d in linux.get("devices") or []:
            mode = f"{d['fileMode']:04o}" if d.get("fileMode") is not None else "-"
            out.append(f"{d.get('path', '')} {d.get('type', '')} {d.get('major', 0)}:{d.get('minor', 0)} {mode}")
        return _lines(out)
    if name == "domainname":
        return _scalar(cfg.get("domainname"))
    if name == "hostname":
        return _scalar(cfg.get("hostname"))
    if name == "env":
        return _lines(proc.get("env") or [])
    if name == "groups":
        return _lines((proc.get("user") or {}).get("additionalGids") or [])
    if name in ("memory.limit", "memory.swap"):
        v = mem.get("limit" if name == "memory.limit" else "swap")
        return "max\n" if v is None else f"{v}\n"
    if name == "pids.max":
        pids = res.get("pids")
        return "max\n" if pids is None else f"{pids.get('limit', 0)}\n"
    if name == "mounts":
        out = []
        for m in cfg.get("mounts") or []:
            opts = ",".join(m.get("options") or []) or "-"
            out.append(f"{m.get('destination') or '-'} {m.get('type') or '-'} {m.get('source') or '-'} {opts}")
        return _lines(out)
    if name == "namespaces":
        return _lines(n["type"] + (f" {n['path']}" if n.get("path") else "")
                      for n in linux.get("namespaces") or [])
    if name == "rootfs.path":
        return _scalar(root.get("path"))
    if name == "rootfs.readonly":
        return "1\n" if root.get("readonly") else "0\n"
    if name == "tty":
        return "1\n" if proc.get("terminal") else "0\n"
    if name == "user":
        user = proc.get("user") or {}
        return f"{user.get('uid', 0)}:{user.get('gid', 0)}\n" if proc else ""
    raise KeyError(name)


VIEWS_FROM_CONFIG = tuple(n for n in CONTROL_FILES if n not in ("image", "privileged"))


def assert_views_match_config(ctr: pathlib.Path) -> None:
    """Every control file (but image and privileged) reads as config.json says."""
    cfg = config(ctr)
    bad = []
    for name in VIEWS_FROM_CONFIG:
        got, want = read(ctr / name), expected_view(name, cfg)
        if got != want:
            bad.append(f"{name}: read {got!r}, config.json says {want!r}")
    assert not bad, "control files disagree with config.json:\n  " + "\n  ".join(bad)


def rootfs_mounted(ctr: pathlib.Path) -> bool:
    """Is something mounted right on ctr/rootfs (the daemon's bind mount)?"""
    real = os.path.realpath(ctr / "rootfs")
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == real for line in f)


def wait_rootfs_mounted(ctr: pathlib.Path, timeout: float = 10.0) -> None:
    """Wait until the daemon's bind mount is on ctr/rootfs. Suites that are
    not about the mount use this before filling a rootfs, so that a race
    in mounting (tested on its own) does not make them flaky."""
    import time
    deadline = time.monotonic() + timeout
    while not rootfs_mounted(ctr):
        assert time.monotonic() < deadline, f"{ctr}/rootfs was not bind-mounted within {timeout}s"
        time.sleep(0.01)
