"""The bundlefs daemon (INTERFACE.md sections 1 and 4): its command line,
starting and stopping, the state directory it keeps and loads back, crashes
and torn logs, and what other processes see of a write."""
import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from support.mount import Daemon, make_container, mounts_under
from support.sanitizers import assert_no_sanitizer_report
from support.treeops import (
    append_line,
    container_log_path,
    fuse_mounts_at,
    mounts_at,
    read_bytes,
    read_text,
    replace_with,
    rootfs_state_path,
    same_file,
    wait_rootfs_mounted,
    write_errno,
)

NOBODY = 65534


# --- helpers --------------------------------------------------------------------------------


def assert_rootfs_bound(mnt, state, ns, cid):
    target = pathlib.Path(mnt) / ns / cid / "rootfs"
    here = mounts_at(target)
    assert len(here) == 1, f"expected one bind mount on {target}, found {here}"
    assert same_file(target, rootfs_state_path(state, ns, cid)), f"{target} is not the state's rootfs"


def run_refused_start(argv, mountpoint, timeout=15.0):
    """Start bundlefs with argv; it must exit by itself. Returns (status,
    stderr+stdout). If it is still running after timeout, it is stopped, its
    mount removed, and the test fails."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
        pytest.fail(f"{argv} kept running instead of refusing to start")
    out = out.decode(errors="replace")
    assert_no_sanitizer_report(out, f"{argv}")
    return proc.returncode, out


def wait_exit(proc, timeout=10.0):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def populate(mnt):
    """A tree with something of every kind the state keeps."""
    mnt = pathlib.Path(mnt)
    web = make_container(mnt, "default", "web")
    assert append_line(web / "opts", "WithHostname web") == 0
    assert append_line(web / "opts", 'WithEnv "GREETING=hello world" PATH=/bin') == 0
    assert append_line(web / "opts", 'WithMounts [{"destination":"/data","type":"bind","source":"/srv","options":["rbind"]}]') == 0
    (web / "rootfs" / "etc").mkdir()
    (web / "rootfs" / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nsvc:x:999:998::/:/bin/false\n")
    os.symlink("../etc/passwd", web / "rootfs" / "etc" / "passwd.link")
    assert append_line(web / "opts", "WithUser svc") == 0

    # A value written to a control file in two writes of one open file.
    fd = os.open(web / "env", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"A=1\n")
    os.write(fd, b"B=2\n")
    os.close(fd)

    win = make_container(mnt, "default", "win")
    assert write_errno(win / "platform", b"windows/amd64\n", os.O_WRONLY | os.O_TRUNC) == 0
    assert append_line(win / "opts", "WithWindowsCPUCount 4") == 0

    job = make_container(mnt, "batch", "job-42")
    assert append_line(job / "opts", "WithHostname first") == 0
    assert replace_with(job / "opts", b"WithHostname replaced\nWithProcessArgs /bin/true\n") == 0

    # (test_fs_tree.py checks rmdir and mv right after mkdir; here the
    # bind mount is waited for first.)
    gone = make_container(mnt, "batch", "gone")
    wait_rootfs_mounted(gone)
    os.rmdir(gone)
    old = make_container(mnt, "batch", "old-name")
    assert append_line(old / "opts", "WithDomainname renamed.example") == 0
    wait_rootfs_mounted(old)
    os.rename(old, mnt / "batch" / "new-name")
    (mnt / "empty-ns").mkdir()
    return {
        ("default", "web"), ("default", "win"), ("batch", "job-42"), ("batch", "new-name"),
    }


def snapshot_tree(mnt, containers):
    """What a user sees of the tree: names, and per container its opts,
    platform, config.json and rootfs listing."""
    mnt = pathlib.Path(mnt)
    out = {"namespaces": sorted(os.listdir(mnt))}
    for ns in out["namespaces"]:
        out[ns] = sorted(os.listdir(mnt / ns))
    for ns, cid in containers:
        cdir = mnt / ns / cid
        files = []
        for dirpath, dirnames, filenames in os.walk(cdir / "rootfs"):
            dirnames.sort()
            rel = os.path.relpath(dirpath, cdir / "rootfs")
            for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
                p = os.path.join(dirpath, name)
                files.append((os.path.join(rel, name),
                              ("link", os.readlink(p)) if os.path.islink(p) else ("file", open(p, "rb").read())))
        out[(ns, cid)] = {
            "opts": read_bytes(cdir / "opts"),
            "platform": read_bytes(cdir / "platform"),
            "config.json": read_bytes(cdir / "config.json"),
            "env": read_bytes(cdir / "env"),
            "rootfs": files,
        }
    return out


@pytest.fixture
def daemons(bundlefs_bin, tmp_path):
    """Make daemons on tmp_path/state and tmp_path/mnt (restarts included);
    every one is cleaned up at the end."""
    made = []

    def make(state=None, mountpoint=None, extra_args=()):
        d = Daemon(bundlefs_bin, state or tmp_path / "state", mountpoint or tmp_path / "mnt", extra_args)
        made.append(d)
        return d

    yield make
    for d in reversed(made):
        d.cleanup()


# --- command line -----------------------------------------------------------------------------


def test_help_exits_0_and_describes_the_command_line(bundlefs_bin):
    for flag in ("--help", "-h"):
        r = subprocess.run([str(bundlefs_bin), flag], capture_output=True, text=True, timeout=10)
        assert_no_sanitizer_report(r.stderr, f"bundlefs {flag}")
        assert r.returncode == 0, f"{flag}: exit {r.returncode}, {r.stderr!r}"
        text = r.stdout + r.stderr
        assert "bundlefs" in text and "MOUNTPOINT" in text.upper()
        assert "--state" in text and "-f" in text and "-o" in text


def test_version_exits_0_and_prints_a_version(bundlefs_bin):
    for flag in ("--version", "-V"):
        r = subprocess.run([str(bundlefs_bin), flag], capture_output=True, text=True, timeout=10)
        assert_no_sanitizer_report(r.stderr, f"bundlefs {flag}")
        assert r.returncode == 0, f"{flag}: exit {r.returncode}, {r.stderr!r}"
        text = (r.stdout + r.stderr).strip()
        assert text.startswith("bundlefs") and any(c.isdigit() for c in text), text


def test_without_a_mount_point_it_says_so_and_fails(bundlefs_bin, tmp_path):
    r = subprocess.run([str(bundlefs_bin), "-f", "--state", str(tmp_path / "state")],
                       capture_output=True, text=True, timeout=10)
    assert_no_sanitizer_report(r.stderr, "bundlefs without a mount point")
    assert r.returncode != 0
    assert "mount" in r.stderr.lower()


def test_as_non_root_it_says_it_must_run_as_root_and_exits(bundlefs_bin, tmp_path):
    # A mount point nobody can reach (tmp_path is under a 0700 directory,
    # where libfuse would refuse it first).
    top = tempfile.mkdtemp(prefix="bundlefs-nonroot-")
    try:
        os.chmod(top, 0o755)
        mnt = pathlib.Path(top) / "mnt"
        mnt.mkdir()
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                str(bundlefs_bin), "-f", "--state", str(tmp_path / "state"), str(mnt)]
        status, out = run_refused_start(argv, mnt)
        assert status != 0
        assert "must run as root" in out, f"the refusal does not say it must run as root: {out!r}"
        assert fuse_mounts_at(mnt) == []
        assert not (tmp_path / "state").exists()
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_mount_point_libfuse_cannot_resolve_is_refused(bundlefs_bin, tmp_path):
    # libfuse refuses it while parsing the command line (exit 2), freeing all.
    mnt = tmp_path / "no" / "such" / "mnt"
    status, out = run_refused_start([str(bundlefs_bin), "-f", "--state", str(tmp_path / "state"), str(mnt)], mnt)
    assert status == 2, f"exit {status}: {out!r}"
    assert "bad mount point" in out, out
    assert not (tmp_path / "state").exists()


def test_the_state_directory_is_created_with_mode_0700(daemons, tmp_path):
    state = tmp_path / "new" / "state"
    state.parent.mkdir()
    old = os.umask(0)
    try:
        d = daemons(state=state).start()
    finally:
        os.umask(old)
    st = os.stat(state)
    assert oct(st.st_mode & 0o7777) == oct(0o700)
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert d.stop() == 0


def test_an_existing_state_directory_with_mode_0700_is_used(daemons, tmp_path):
    state = tmp_path / "made-before"
    state.mkdir(mode=0o700)
    os.chmod(state, 0o700)
    d = daemons(state=state).start()
    make_container(d.mountpoint, "default", "c1")
    assert d.stop() == 0
    assert oct(os.stat(state).st_mode & 0o7777) == oct(0o700)


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o711, 0o701, 0o770, 0o707, 0o1777])
def test_an_existing_state_directory_open_to_others_is_refused_and_left_as_it_is(bundlefs_bin, tmp_path, mode):
    """Refused rather than repaired: the path may not be what was meant."""
    state, mnt = tmp_path / "state", tmp_path / "mnt"
    state.mkdir()
    os.chmod(state, mode)
    mnt.mkdir()
    status, out = run_refused_start([str(bundlefs_bin), "-f", "--state", str(state), str(mnt)], mnt)
    assert status != 0
    assert f"{mode:04o}" in out and "0700" in out, f"the refusal does not say what is wrong: {out!r}"
    assert fuse_mounts_at(mnt) == []
    assert os.stat(state).st_mode & 0o7777 == mode
    assert os.listdir(state) == []


def test_a_state_directory_of_another_user_is_refused(bundlefs_bin, tmp_path):
    """Its owner could swap its files for symlinks the daemon would follow."""
    state, mnt = tmp_path / "state", tmp_path / "mnt"
    state.mkdir(mode=0o700)
    os.chmod(state, 0o700)
    os.chown(state, NOBODY, NOBODY)
    mnt.mkdir()
    status, out = run_refused_start([str(bundlefs_bin), "-f", "--state", str(state), str(mnt)], mnt)
    assert status != 0
    assert str(NOBODY) in out, f"the refusal does not name the owner: {out!r}"
    assert fuse_mounts_at(mnt) == []
    assert os.listdir(state) == []


def test_debug_flag_prints_requests(daemons):
    d = daemons(extra_args=["-d"]).start()
    make_container(d.mountpoint, "default", "c1")
    assert d.stop() == 0
    log = d.log()
    assert "mkdir" in log.lower() or "MKDIR" in log, f"-d printed no requests: {log[:2000]!r}"


def test_fuse_options_are_passed_on(daemons):
    d = daemons().start()
    make_container(d.mountpoint, "default", "c1")
    assert d.stop() == 0
    d = daemons(extra_args=["-o", "ro"]).start()
    mnt = d.mountpoint
    assert os.listdir(mnt / "default") == ["c1"]
    with pytest.raises(OSError) as e:
        os.mkdir(mnt / "default" / "c2")
    assert e.value.errno == errno.EROFS
    assert append_line(mnt / "default" / "c1" / "opts", "WithHostname x") == errno.EROFS
    assert read_text(mnt / "default" / "c1" / "opts") == ""
    assert d.stop() == 0


def test_without_f_it_runs_in_the_background(bundlefs_bin, tmp_path):
    state, mnt = tmp_path / "state", tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run([str(bundlefs_bin), "--state", str(state), str(mnt)],
                       capture_output=True, text=True, timeout=15)
    pids = []
    try:
        assert r.returncode == 0, r.stderr
        assert len(fuse_mounts_at(mnt)) == 1, "the mount is not in place when the command returns"
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, str(state))]
        daemon = [p for p in pids if _stat_field(p, "comm") == "bundlefs"]
        assert len(daemon) == 1, f"expected one daemon process in the background, found {pids}"
        others = [p for p in pids if p not in daemon]
        assert [_stat_field(p, "comm") for p in others] == ["bundlefs-mount"], "only its mount helper runs beside it"
        assert _stat_field(others[0], "ppid") == str(daemon[0])
        make_container(mnt, "default", "c1")
        assert read_text(mnt / "default" / "c1" / "platform") == "linux/amd64\n"
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    assert not any(_alive(p) for p in pids)
    assert mounts_under(mnt) == []


def _cmdline_has(pid, text):
    try:
        return text in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return False


def _stat_field(pid, name):
    """A field of /proc/<pid>/stat: "comm" or "ppid"."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    comm_end = stat.rindex(")")
    if name == "comm":
        return stat[stat.index("(") + 1:comm_end]
    return stat[comm_end + 2:].split()[1]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


# --- stopping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_unmounts_everything_cleanly(daemons, sig):
    d = daemons().start()
    containers = populate(d.mountpoint)
    before = snapshot_tree(d.mountpoint, containers)
    for ns, cid in containers:
        assert_rootfs_bound(d.mountpoint, d.state, ns, cid)

    assert d.stop(sig) == 0, d.log()

    assert mounts_under(d.mountpoint) == [], "mounts left after the daemon stopped"
    assert os.listdir(d.mountpoint) == []
    # The state is intact: every log and every rootfs.
    for ns, cid in containers:
        assert container_log_path(d.state, ns, cid).is_file()
    web_rootfs = rootfs_state_path(d.state, "default", "web")
    assert (web_rootfs / "etc" / "passwd").read_text().startswith("root:")
    assert os.readlink(web_rootfs / "etc" / "passwd.link") == "../etc/passwd"
    # ...and a new daemon shows the same tree.
    d2 = daemons().start()
    assert snapshot_tree(d2.mountpoint, containers) == before


def test_a_process_inside_a_rootfs_keeps_it_when_the_daemon_stops(daemons):
    d = daemons().start()
    cdir = make_container(d.mountpoint, "default", "c1")
    (cdir / "rootfs" / "data").write_text("still here\n")
    inside = subprocess.Popen(["sleep", "60"], cwd=cdir / "rootfs")
    try:
        assert d.stop() == 0, d.log()
        assert mounts_under(d.mountpoint) == []
        # The process's root directory is the rootfs it was in, daemon or not.
        assert open(f"/proc/{inside.pid}/cwd/data").read() == "still here\n"
        with open(f"/proc/{inside.pid}/cwd/new", "w") as f:
            f.write("written after the stop\n")
        assert (rootfs_state_path(d.state, "default", "c1") / "new").read_text() == "written after the stop\n"
    finally:
        inside.kill()
        inside.wait()


def test_umount_lazy_makes_the_daemon_exit(daemons):
    d = daemons().start()
    make_container(d.mountpoint, "default", "c1")
    (d.mountpoint / "default" / "c1" / "rootfs" / "data").write_text("kept")
    r = subprocess.run(["umount", "-l", str(d.mountpoint)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    status = wait_exit(d.proc)
    assert status is not None, "the daemon kept running after umount -l"
    assert status == 0, d.log()
    assert mounts_under(d.mountpoint) == []
    assert (rootfs_state_path(d.state, "default", "c1") / "data").read_text() == "kept"


@pytest.mark.parametrize("command, with_container", [
    (["umount"], False),
    (["fusermount3", "-u"], False),
    (["umount"], True),
], ids=["umount-empty-tree", "fusermount3-u-empty-tree", "umount-with-a-container"])
def test_umount_and_fusermount3_u_unmount_the_tree(daemons, command, with_container):
    d = daemons().start()
    if with_container:
        make_container(d.mountpoint, "default", "c1")
        assert_rootfs_bound(d.mountpoint, d.state, "default", "c1")
    r = subprocess.run([*command, str(d.mountpoint)], capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(command)} failed: {r.stderr.strip()}"
    status = wait_exit(d.proc)
    assert status is not None, f"the daemon kept running after {' '.join(command)}"
    assert mounts_under(d.mountpoint) == []


def test_fusermount3_u_of_a_tree_with_containers_is_refused_as_busy(daemons):
    """fusermount3 -u asks the tree nothing before unmounting it, so the rootfs
    bind mounts below it make the kernel refuse (docs/bundlefs.md, section 5);
    nothing is lost, and fusermount3 -u -z unmounts it."""
    d = daemons().start()
    make_container(d.mountpoint, "default", "c1")
    assert_rootfs_bound(d.mountpoint, d.state, "default", "c1")
    (d.mountpoint / "default" / "c1" / "hostname").write_text("kept\n")
    r = subprocess.run(["fusermount3", "-u", str(d.mountpoint)], capture_output=True, text=True)
    assert r.returncode != 0 and "busy" in r.stderr.lower(), r.stderr
    assert d.proc.poll() is None
    assert (d.mountpoint / "default" / "c1" / "hostname").read_text() == "kept\n"
    r = subprocess.run(["fusermount3", "-u", "-z", str(d.mountpoint)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert wait_exit(d.proc) is not None
    assert mounts_under(d.mountpoint) == []


# --- restarting ---------------------------------------------------------------------------------


def test_a_restarted_daemon_loads_the_whole_tree_back(daemons):
    d = daemons().start()
    containers = populate(d.mountpoint)
    before = snapshot_tree(d.mountpoint, containers)
    assert before["namespaces"] == ["batch", "default", "empty-ns"]
    assert before["batch"] == ["job-42", "new-name"]
    assert d.stop() == 0

    d2 = daemons().start()
    after = snapshot_tree(d2.mountpoint, containers)
    assert after == before
    for ns, cid in containers:
        assert_rootfs_bound(d2.mountpoint, d2.state, ns, cid)
    web = d2.mountpoint / "default" / "web"
    assert read_text(web / "env").splitlines()[-2:] == ["A=1", "B=2"]
    assert read_text(d2.mountpoint / "batch" / "job-42" / "opts") == \
        "WithHostname replaced\nWithProcessArgs /bin/true\n"
    assert read_text(d2.mountpoint / "default" / "win" / "platform") == "windows/amd64\n"
    assert json.loads(read_text(d2.mountpoint / "batch" / "new-name" / "config.json"))["linux"]["cgroupsPath"] \
        == "/batch/new-name"
    # The loaded tree takes writes as before.
    assert append_line(web / "opts", "WithHostname again") == 0
    assert json.loads(read_text(web / "config.json"))["hostname"] == "again"


def test_after_kill_9_a_restart_cleans_up_the_dead_mount(daemons):
    d = daemons().start()
    containers = populate(d.mountpoint)
    before = snapshot_tree(d.mountpoint, containers)
    d.kill9()
    assert len(fuse_mounts_at(d.mountpoint)) == 1  # the dead daemon's mount is still there

    d2 = daemons().start()
    assert len(fuse_mounts_at(d2.mountpoint)) == 1, "stacked FUSE mounts on the mount point"
    assert len(mounts_at(d2.mountpoint)) == 1
    for ns, cid in containers:
        assert_rootfs_bound(d2.mountpoint, d2.state, ns, cid)
    assert len(mounts_under(d2.mountpoint)) == 1 + len(containers), mounts_under(d2.mountpoint)
    assert snapshot_tree(d2.mountpoint, containers) == before
    assert d2.stop() == 0
    assert mounts_under(d2.mountpoint) == []


def test_every_acknowledged_write_survives_kill_9(daemons):
    d = daemons().start()
    cdir = make_container(d.mountpoint, "default", "c1")
    lines = [f"WithEnv K{i}=value-{i}" for i in range(200)]
    for line in lines:
        assert append_line(cdir / "opts", line) == 0
    d.kill9()  # right after the last write returned

    d2 = daemons().start()
    assert read_text(d2.mountpoint / "default" / "c1" / "opts") == "".join(line + "\n" for line in lines)
    env = json.loads(read_text(d2.mountpoint / "default" / "c1" / "config.json"))["process"]["env"]
    assert env[-200:] == [f"K{i}=value-{i}" for i in range(200)]


def test_a_write_to_a_control_file_survives_kill_9(daemons):
    d = daemons().start()
    cdir = make_container(d.mountpoint, "default", "c1")
    assert write_errno(cdir / "hostname", b"durable\n", os.O_WRONLY | os.O_TRUNC) == 0
    fd = os.open(cdir / "args", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"/bin/sh\n")
    os.write(fd, b"-c\n")
    os.write(fd, b"echo hi\n")
    os.close(fd)
    assert write_errno(cdir / "platform", b"windows/amd64\n", os.O_WRONLY | os.O_TRUNC) == 0
    opts = read_bytes(cdir / "opts")
    config = read_bytes(cdir / "config.json")
    d.kill9()

    d2 = daemons().start()
    c2 = d2.mountpoint / "default" / "c1"
    assert read_bytes(c2 / "opts") == opts
    assert read_text(c2 / "platform") == "windows/amd64\n"
    assert read_bytes(c2 / "config.json") == config


TORN_TAILS = {
    # a record cut in the middle of its payload
    "half-record": b"A 27 3a1c55e2\nWithHostname torn-and-",
    # a record cut in its header line
    "half-header": b"A 2",
    # a whole record whose CRC does not match
    "bad-crc": b"A 18 00000000\nWithHostname torn\n",
}


@pytest.mark.parametrize("tail", TORN_TAILS, ids=list(TORN_TAILS))
def test_a_torn_record_at_the_end_of_a_log_is_dropped(daemons, tail):
    d = daemons().start()
    cdir = make_container(d.mountpoint, "default", "c1")
    for line in ("WithHostname whole", "WithEnv A=1", "WithProcessCwd /srv"):
        assert append_line(cdir / "opts", line) == 0
    opts = read_bytes(cdir / "opts")
    config = read_bytes(cdir / "config.json")
    assert d.stop() == 0

    with open(container_log_path(d.state, "default", "c1"), "ab") as f:
        f.write(TORN_TAILS[tail])

    d2 = daemons().start()
    c2 = d2.mountpoint / "default" / "c1"
    assert os.listdir(d2.mountpoint / "default") == ["c1"], d2.log()
    assert read_bytes(c2 / "opts") == opts
    assert read_bytes(c2 / "config.json") == config
    # The log goes on after the dropped record: a new write is kept, and
    # the next load shows it after the intact list.
    assert append_line(c2 / "opts", "WithDomainname after.example") == 0
    assert d2.stop() == 0
    d3 = daemons().start()
    assert read_bytes(d3.mountpoint / "default" / "c1" / "opts") == opts + b"WithDomainname after.example\n"


def test_a_state_directory_of_another_format_version_is_refused(bundlefs_bin, tmp_path):
    state, mnt = tmp_path / "state", tmp_path / "mnt"
    (state / "namespaces").mkdir(parents=True)
    os.chmod(state, 0o700)
    (state / "format").write_text("bundlefs-state 99\n")
    mnt.mkdir()
    status, out = run_refused_start([str(bundlefs_bin), "-f", "--state", str(state), str(mnt)], mnt)
    assert status != 0
    low = out.lower()
    assert "format" in low or "version" in low, f"the refusal does not say why: {out!r}"
    assert "99" in out, f"the refusal does not name the version it found: {out!r}"
    assert fuse_mounts_at(mnt) == []
    assert (state / "format").read_text() == "bundlefs-state 99\n"


def test_a_second_daemon_on_the_same_state_is_refused(daemons, bundlefs_bin, tmp_path):
    d = daemons().start()
    cdir = make_container(d.mountpoint, "default", "c1")
    assert append_line(cdir / "opts", "WithHostname first") == 0
    other = tmp_path / "other-mnt"
    other.mkdir()
    status, out = run_refused_start([str(bundlefs_bin), "-f", "--state", str(d.state), str(other)], other)
    assert status != 0
    assert out.strip(), "the second daemon exited without saying why"
    assert fuse_mounts_at(other) == []
    # The first one is unharmed.
    assert d.proc.poll() is None
    assert append_line(cdir / "opts", "WithDomainname still.example") == 0
    assert read_text(cdir / "opts") == "WithHostname first\nWithDomainname still.example\n"


def test_a_second_daemon_on_a_mounted_mount_point_is_refused(daemons, bundlefs_bin, tmp_path):
    d = daemons().start()
    make_container(d.mountpoint, "default", "c1")
    status, out = run_refused_start(
        [str(bundlefs_bin), "-f", "--state", str(tmp_path / "state2"), str(d.mountpoint)], d.mountpoint)
    assert status != 0
    assert out.strip()
    assert len(fuse_mounts_at(d.mountpoint)) == 1
    assert d.proc.poll() is None
    assert os.listdir(d.mountpoint / "default") == ["c1"]


# --- other processes ----------------------------------------------------------------------------


def test_a_read_after_a_write_sees_it_from_any_process(daemons):
    d = daemons().start()
    cdir = make_container(d.mountpoint, "default", "c1")
    for i in range(30):
        # Written by another process, read here.
        r = subprocess.run(["sh", "-c", f"echo WithHostname other-{i} >> '{cdir}/opts'"], capture_output=True)
        assert r.returncode == 0, r.stderr
        assert json.loads(read_text(cdir / "config.json"))["hostname"] == f"other-{i}"
        assert read_text(cdir / "hostname") == f"other-{i}\n"
        assert os.stat(cdir / "hostname").st_size == len(f"other-{i}\n")
        # Written here, read by another process.
        assert write_errno(cdir / "hostname", f"here-{i}\n".encode(), os.O_WRONLY | os.O_TRUNC) == 0
        out = subprocess.run(["cat", str(cdir / "config.json")], capture_output=True, check=True).stdout
        assert json.loads(out)["hostname"] == f"here-{i}"
        out = subprocess.run(["cat", str(cdir / "hostname")], capture_output=True, check=True).stdout
        assert out == f"here-{i}\n".encode()

