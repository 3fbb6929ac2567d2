"""End to end: runc runs bundles straight from a mounted bundlefs tree
(`runc run --bundle <mnt>/<ns>/<id>`), with the process, user, environment
and hostname set through control files, and a detached container keeps
running (and keeps its root) after the daemon stops."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from support.ctl import config, error_text, opts_lines, rootfs_mounted, wait_rootfs_mounted, write_value
from support.mount import fuse_mounted_on, make_container, mounts_under
from support.treeops import rootfs_state_path

RUNC = shutil.which("runc")
BUSYBOX = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)
APPLETS = ("sh", "echo", "id", "hostname", "pwd", "sleep", "cat", "ls", "env", "true")


def test_runc_and_static_busybox_are_installed():
    """scripts/deps installs runc and busybox-static; the suite needs both."""
    assert RUNC, "runc is not on PATH (scripts/deps installs it)"
    assert BUSYBOX, "busybox is not installed (scripts/deps installs busybox-static)"
    assert not elf_interpreter(BUSYBOX), f"{BUSYBOX} is dynamically linked; the rootfs has no libc"


def elf_interpreter(path) -> bool:
    """Does the ELF file ask for a program interpreter (PT_INTERP), i.e. is
    it dynamically linked? (64-bit little-endian ELF.)"""
    import struct
    with open(path, "rb") as f:
        head = f.read(64)
        assert head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1, f"{path}: not a 64-bit LE ELF file"
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(struct.unpack_from("<I", table, i * phentsize)[0] == 3 for i in range(phnum))


def runc(*args, timeout=60, **kw) -> subprocess.CompletedProcess:
    if "stdout" not in kw:
        kw["capture_output"] = True
    return subprocess.run([RUNC, *args], text=True, timeout=timeout, **kw)


def unique_id(prefix="bfs") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def busybox_rootfs(ctr: pathlib.Path) -> None:
    """A minimal root filesystem: a static busybox at /bin/busybox, applet
    symlinks, and the directories a process expects."""
    wait_rootfs_mounted(ctr)
    root = ctr / "rootfs"
    for d in ("bin", "tmp", "etc", "proc", "sys", "dev", "work"):
        (root / d).mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for a in APPLETS:
        (root / "bin" / a).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321:app:/work:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:4321:\n")


@pytest.fixture
def bundle(ctr):
    assert RUNC and BUSYBOX, "runc and busybox-static are needed (scripts/deps)"
    busybox_rootfs(ctr)
    return ctr


@pytest.fixture
def runc_ids():
    """Container ids this test used: always deleted at the end."""
    ids = []
    yield ids
    for cid in ids:
        runc("kill", cid, "KILL")
        runc("delete", "-f", cid)


def runc_detached(*args, log: pathlib.Path) -> tuple[int, str]:
    """runc run -d / runc create: the container inherits runc's stdio, so
    give it no pipe to hold open; what runc says goes to a file."""
    with open(log, "w+") as err:
        proc = subprocess.run([RUNC, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err, timeout=60)
        err.seek(0)
        return proc.returncode, err.read()


def run(bundle, runc_ids, timeout=60) -> subprocess.CompletedProcess:
    cid = unique_id()
    runc_ids.append(cid)
    return runc("run", "--bundle", str(bundle), cid, timeout=timeout, stdin=subprocess.DEVNULL)


def test_runc_runs_the_args_written_to_the_args_file(bundle, runc_ids):
    write_value(bundle / "args", "/bin/busybox\necho\nhello from bundlefs\n")
    assert opts_lines(bundle) == ['WithProcessArgs /bin/busybox echo "hello from bundlefs"']
    res = run(bundle, runc_ids)
    assert res.returncode == 0, f"runc run failed: {res.stderr}"
    assert res.stdout == "hello from bundlefs\n"


def test_runc_reports_the_process_exit_status(bundle, runc_ids):
    write_value(bundle / "args", "/bin/sh\n-c\nexit 7")
    res = run(bundle, runc_ids)
    assert res.returncode == 7, res.stderr


def test_env_cwd_and_user_take_effect(bundle, runc_ids):
    write_value(bundle / "args", "/bin/busybox\nsh\n-c\necho $FOO; pwd; id -u; id -g\n")
    write_value(bundle / "env", "FOO=bar baz\nPATH=/bin")
    write_value(bundle / "cwd", "/work")
    write_value(bundle / "user", "app")
    assert error_text(bundle) == ""
    assert config(bundle)["process"]["user"]["uid"] == 1234
    res = run(bundle, runc_ids)
    assert res.returncode == 0, f"runc run failed: {res.stderr}"
    assert res.stdout.splitlines() == ["bar baz", "/work", "1234", "4321"]


def test_numeric_user_and_group(bundle, runc_ids):
    write_value(bundle / "args", "/bin/id\n")
    write_value(bundle / "user", "4000:5000")
    res = run(bundle, runc_ids)
    assert res.returncode == 0, res.stderr
    assert "uid=4000" in res.stdout and "gid=5000" in res.stdout


def test_hostname_set_through_the_hostname_file_is_seen_inside(bundle, runc_ids):
    write_value(bundle / "hostname", "bundlefs-box")
    write_value(bundle / "args", "/bin/hostname")
    res = run(bundle, runc_ids)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "bundlefs-box\n"


def test_capabilities_set_through_caps_are_what_the_process_gets(bundle, runc_ids):
    write_value(bundle / "caps", "CAP_CHOWN CAP_KILL")
    write_value(bundle / "args", "/bin/cat\n/proc/self/status")
    res = run(bundle, runc_ids)
    assert res.returncode == 0, res.stderr
    capbnd = next(l for l in res.stdout.splitlines() if l.startswith("CapBnd:"))
    assert int(capbnd.split()[1], 16) == (1 << 0) | (1 << 5)  # CAP_CHOWN 0, CAP_KILL 5


def test_a_readonly_rootfs_is_read_only_inside(bundle, runc_ids):
    write_value(bundle / "rootfs.readonly", "1")
    write_value(bundle / "args", "/bin/sh\n-c\necho x > /tmp/f && echo writable || echo read-only")
    res = run(bundle, runc_ids)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "read-only"


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_detached_container_outlives_the_daemon(daemon, bundle, runc_ids, tmp_path):
    write_value(bundle / "args", "/bin/sleep\n300")
    write_value(bundle / "hostname", "survivor")
    cid = unique_id("bfs-detached")
    runc_ids.append(cid)
    rc, err = runc_detached("run", "-d", "--bundle", str(bundle), cid, log=tmp_path / "runc.log")
    assert rc == 0, f"runc run -d failed: {err}"
    state = json.loads(runc("state", cid).stdout)
    assert state["status"] == "running"
    pid = state["pid"]

    # Stop the daemon: it unmounts cleanly...
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    wait_for(lambda: not fuse_mounted_on(daemon.mountpoint), what="the unmount")

    # ...and the container runs on, its root intact.
    state = json.loads(runc("state", cid).stdout)
    assert state["status"] == "running", state
    root = pathlib.Path(f"/proc/{pid}/root")
    assert (root / "bin" / "busybox").is_file()
    assert (root / "bin" / "busybox").read_bytes() == pathlib.Path(BUSYBOX).read_bytes()
    inside = subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-r", "-w", "/bin/busybox", "sh", "-c",
                             "hostname; ls /bin/sleep && echo root-works"],
                            capture_output=True, text=True, timeout=30)
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.splitlines() == ["survivor", "/bin/sleep", "root-works"]

    kill = runc("kill", cid, "KILL")
    assert kill.returncode == 0, kill.stderr
    wait_for(lambda: json.loads(runc("state", cid).stdout or "{}").get("status") == "stopped",
             what="the container to stop")
    delete = runc("delete", cid)
    assert delete.returncode == 0, delete.stderr
    assert runc("state", cid).returncode != 0


def test_create_then_start(bundle, runc_ids, tmp_path):
    write_value(bundle / "args", "/bin/sh\n-c\necho started > /tmp/marker; sleep 300")
    cid = unique_id("bfs-create")
    runc_ids.append(cid)
    rc, err = runc_detached("create", "--bundle", str(bundle), cid, log=tmp_path / "runc.log")
    assert rc == 0, f"runc create failed: {err}"
    assert json.loads(runc("state", cid).stdout)["status"] == "created"
    res = runc("start", cid)
    assert res.returncode == 0, res.stderr
    state = json.loads(runc("state", cid).stdout)
    assert state["status"] == "running"
    marker = pathlib.Path(f"/proc/{state['pid']}/root/tmp/marker")
    wait_for(marker.exists, what="the container's marker file")
    assert marker.read_text() == "started\n"
    # The container's /tmp is the bundle's rootfs: seen through the mount too.
    assert (bundle / "rootfs" / "tmp" / "marker").read_text() == "started\n"


def test_runc_runs_a_container_whose_rootfs_was_not_mounted_yet(daemon, bundle, runc_ids):
    """A start mounts no rootfs. runc's look-up of the bundle asks for the
    mount and its open of config.json waits for it, so the root runc takes
    is the bind mount of the state directory's rootfs, not the tree's view
    of it through FUSE (which would die with the daemon)."""
    write_value(bundle / "args", "/bin/sh\n-c\necho inside > /marker; cat /proc/self/mountinfo")
    assert daemon.stop() == 0
    daemon.start()
    time.sleep(0.2)
    assert len(mounts_under(daemon.mountpoint)) == 1, "a start mounted a rootfs"    # the tree's own
    res = run(bundle, runc_ids)
    assert res.returncode == 0, res.stderr
    root = [line.split() for line in res.stdout.splitlines() if line.split()[4] == "/"][-1]
    assert root[root.index("-") + 1] != "fuse.bundlefs", f"runc's root is served through FUSE: {root}"
    assert root[3].endswith("/namespaces/default/c1/rootfs"), root
    assert (rootfs_state_path(daemon.state, "default", "c1") / "marker").read_text() == "inside\n"
    assert rootfs_mounted(bundle)
