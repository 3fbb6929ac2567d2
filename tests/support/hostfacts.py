"""The host-derived fields of the host_dependent conformance cases.

INTERFACE.md section 5: a case marked host_dependent is compared exactly,
except for the fields containerd filled from the machine it ran on, which the
test computes from the machine it runs on:

- the capability lists WithAllCurrentCapabilities (and WithPrivileged, which
  applies it) set: the effective set of the process that rendered, named as
  containerd's pkg/cap does (bits 0..40; higher bits are dropped);
- the linux.devices WithHostDevices appends: containerd's walk of /dev
  (oci/utils_unix.go, getDevices and DeviceFromPath), redone here in Python.

expect_on_this_host() turns a case's expect into the expectation for this
machine: the reference machine's values of exactly those fields are replaced by
this machine's, everything else is left as the case has it.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import pathlib
import stat
import subprocess
from typing import Any

from .conformance import Case, split_op, substitute

# containerd v1.7.7 pkg/cap: capability names by bit number (0..40).
CAPABILITY_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

# Options that take their capability lists from the host's current set.
HOST_CAPABILITY_OPS = ("WithAllCurrentCapabilities", "WithPrivileged")
# Options that replace the whole spec.
SPEC_RESET_OPS = ("WithDefaultSpec", "WithDefaultSpecForPlatform",
                  "WithSpecFromBytes", "WithSpecFromFile")
CAPABILITY_SETS = ("bounding", "effective", "permitted")


# --- capabilities ---------------------------------------------------------------


def _capeff_from_status(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split(":", 1)[1].strip(), 16)
    raise ValueError("no CapEff line in /proc/<pid>/status")


def capeff_of(pid: int | str = "self") -> int:
    """The effective capability mask of a process (/proc/<pid>/status CapEff)."""
    return _capeff_from_status(pathlib.Path(f"/proc/{pid}/status").read_text())


def capeff_of_new_process() -> int:
    """The effective capability mask a program started by this process holds
    (read by a child, since execve may change the set): what
    bundlefs-render, started the same way, holds."""
    out = subprocess.run(["cat", "/proc/self/status"], check=True,
                         capture_output=True, text=True).stdout
    return _capeff_from_status(out)


def capability_names(capeff: int) -> list[str]:
    """containerd's cap.Current() for an effective mask: the names of the set
    bits 0..40 in bit order; higher bits are dropped."""
    return [name for bit, name in enumerate(CAPABILITY_NAMES) if capeff & (1 << bit)]


# --- devices --------------------------------------------------------------------

S_IFMT = 0o170000  # the file-type bits of st_mode
SKIPPED_DEV_DIRS = ("pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev")


def device_from_path(path: str) -> dict[str, Any] | None:
    """containerd's DeviceFromPath: lstat the path; a block, character or
    fifo node gives a device; anything else is "not a device node" (None).
    A missing path raises FileNotFoundError."""
    st = os.lstat(path)
    if stat.S_ISBLK(st.st_mode):
        kind = "b"
    elif stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISFIFO(st.st_mode):
        kind = "p"
    else:
        return None
    return {
        "path": path,
        "type": kind,
        "major": os.major(st.st_rdev),
        "minor": os.minor(st.st_rdev),
        # Go: os.FileMode(mode &^ S_IFMT): permission, setuid, setgid, sticky bits.
        "fileMode": st.st_mode & ~S_IFMT,
        "uid": st.st_uid,
        "gid": st.st_gid,
    }


def host_devices(path: str = "/dev", container_path: str = "") -> list[dict[str, Any]]:
    """containerd's getDevices(path, containerPath); HostDevices() is
    host_devices("/dev")."""
    if not os.path.isdir(path):  # os.Stat follows symlinks
        os.stat(path)  # a missing path is an error, as in Go
        device = device_from_path(path)
        if device is None:
            raise OSError(f"{path}: not a device node")
        if container_path:
            device["path"] = container_path
        return [device]

    # os.ReadDir: sorted by name (bytes); an entry is a directory only if it
    # is one itself, not a symlink to one.
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: os.fsencode(e.name))
    out = []
    for entry in entries:
        full = os.path.join(path, entry.name)
        if entry.is_dir(follow_symlinks=False):
            if entry.name in SKIPPED_DEV_DIRS:
                continue
            sub_container = os.path.join(container_path, entry.name) if container_path else ""
            out += host_devices(full, sub_container)
        elif entry.name == "console":
            continue
        else:
            try:
                device = device_from_path(full)
            except FileNotFoundError:
                continue
            if device is None or device["type"] == "p":
                continue
            if container_path:
                device["path"] = os.path.join(container_path, entry.name)
            out.append(device)
    return out


# --- the expectation on this machine -------------------------------------------


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What the host-derived fields hold on this machine."""

    capabilities: list[str]  # the renderer's current capability set, as names
    devices: list[dict[str, Any]]  # containerd's walk of /dev

    @classmethod
    def of_this_machine(cls, capeff: int) -> "HostFacts":
        """Facts for a renderer whose effective capability mask is capeff
        (capeff_of(pid) for a running daemon, capeff_of_new_process() for
        bundlefs-render)."""
        return cls(capabilities=capability_names(capeff), devices=host_devices("/dev"))


def uses_host_capabilities(ops: list[tuple[str, list[Any]]]) -> bool:
    return any(name in HOST_CAPABILITY_OPS for name, _ in ops)


def uses_host_devices(ops: list[tuple[str, list[Any]]]) -> bool:
    return any(name == "WithHostDevices" for name, _ in ops)


def host_capability_sets(ops: list[tuple[str, list[Any]]], current: list[str]) -> list[str] | None:
    """The bounding/effective/permitted list after the ops when it derives from
    the host's current set (containerd sets the three to the same list and
    WithAdded/WithDroppedCapabilities change them alike); None when a later op
    replaced them with something that is not host-derived."""
    sets: list[str] | None = None
    for name, args in ops:
        if name in HOST_CAPABILITY_OPS:
            sets = list(current)
        elif name in ("WithCapabilities", "WithAllKnownCapabilities") or name in SPEC_RESET_OPS:
            sets = None
        elif sets is not None and name == "WithAddedCapabilities":
            for cap in args:
                if cap not in sets:
                    sets.append(cap)
        elif sets is not None and name == "WithDroppedCapabilities":
            sets = [cap for cap in sets if cap not in args]
    return sets


def _replace_host_capabilities(expect: Any, ops: list[tuple[str, list[Any]]], current: list[str]) -> None:
    sets = host_capability_sets(ops, current)
    if sets is None:
        return
    caps = expect["process"]["capabilities"]
    reference = [caps.get(key) for key in CAPABILITY_SETS]
    if any(r != reference[0] for r in reference):
        raise ValueError("the case's bounding, effective and permitted differ, "
                         "so they are not (only) the host's current set")
    for key in CAPABILITY_SETS:
        if sets:
            caps[key] = list(sets)
        else:
            caps.pop(key, None)  # Go's omitempty: an empty list is left out


HOST = "host"  # a run of linux.devices entries appended by WithHostDevices


def _spec_device_count(name: str, args: list[Any]) -> int:
    """How many linux.devices a spec-replacing option leaves."""
    if name == "WithSpecFromBytes":
        spec = args[0]
    elif name == "WithSpecFromFile":
        spec = json.loads(pathlib.Path(args[0]).read_text())
    else:
        return 0  # the default specs have no linux.devices
    return len(((spec or {}).get("linux") or {}).get("devices") or [])


def device_segments(ops: list[tuple[str, list[Any]]]) -> list[int | str]:
    """linux.devices after the ops, as runs in order: HOST for the entries a
    WithHostDevices appended, a count for entries any other option put there."""
    segments: list[int | str] = []
    for name, args in ops:
        if name in SPEC_RESET_OPS:
            segments = [_spec_device_count(name, args)]
        elif name == "WithHostDevices":
            segments.append(HOST)
        elif name == "WithLinuxDevices":
            segments.append(len(args[0] or []))
        elif name in ("WithLinuxDevice", "WithLinuxDeviceFollowSymlinks"):
            segments.append(1)
        elif name == "WithDevices":
            if os.path.isdir(args[0]):
                raise NotImplementedError("WithDevices of a directory in a host_dependent case: "
                                          "its entry count is host-dependent too")
            segments.append(1)
    return segments


def _replace_host_devices(expect: Any, ops: list[tuple[str, list[Any]]], walk: list[dict[str, Any]]) -> None:
    segments = device_segments(ops)
    hosts = segments.count(HOST)
    if hosts == 0:
        return
    reference = expect["linux"].get("devices", [])
    fixed = sum(s for s in segments if s != HOST)
    per_walk, rest = divmod(len(reference) - fixed, hosts)
    if per_walk < 0 or rest:
        raise ValueError(f"the case's {len(reference)} linux.devices do not split into "
                         f"{fixed} from options and {hosts} walks of /dev")
    devices, i = [], 0
    for segment in segments:
        if segment == HOST:
            devices += copy.deepcopy(walk)
            i += per_walk
        else:
            devices += reference[i:i + segment]
            i += segment
    if devices:
        expect["linux"]["devices"] = devices
    else:
        expect["linux"].pop("devices", None)  # Go's omitempty


def expect_on_this_host(case: Case, facts: HostFacts, fixtures: pathlib.Path) -> Any:
    """The case's expect with its host-derived fields computed for this
    machine (unchanged for a case that is not host_dependent)."""
    expect = copy.deepcopy(case.expect)
    if not case.host_dependent:
        return expect
    ops = [split_op(substitute(op, fixtures)) for op in case.ops]
    if not (uses_host_capabilities(ops) or uses_host_devices(ops)):
        raise ValueError(f"{case.file_name} is host_dependent but uses neither the host's "
                         "capabilities nor its devices")
    _replace_host_capabilities(expect, ops, facts.capabilities)
    _replace_host_devices(expect, ops, facts.devices)
    return expect
