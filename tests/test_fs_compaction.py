"""Lists written through control files stay short (docs/bundlefs.md section
3, "Compaction"): a control file's line replaces the earlier ones it makes
pointless, so automation that sets memory.limit every minute never reaches
the 100,000-line limit; the list left renders exactly what the whole history
renders; lines written to opts by hand are never dropped."""
import os
import random
import subprocess
import threading

import pytest

from support import copy_rootfs
from support.ctl import (
    append_opts,
    assert_config_fresh,
    error_text,
    opts_lines,
    read,
    render_for,
    wait_rootfs_mounted,
    write_value,
)
from support.mount import Daemon, lazy_unmount, make_container


@pytest.fixture
def tmpfs_daemon(bundlefs_bin, tmp_path):
    """A daemon whose state directory is a tmpfs: the durable appends of a
    hundred thousand writes cost nothing there."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,mode=0700", "tmpfs", str(state)], check=True)
    d = Daemon(bundlefs_bin, state, tmp_path / "mnt")
    try:
        d.start()
        yield d
    finally:
        try:
            d.cleanup()
        finally:
            lazy_unmount(tmp_path / "mnt")
            subprocess.run(["umount", "-l", str(state)], check=False)


@pytest.mark.time_limit(180)
def test_101000_writes_to_memory_limit_and_hostname_keep_opts_short(render_bin, tmpfs_daemon):
    ctr = make_container(tmpfs_daemon.mountpoint, "default", "c1")
    append_opts(ctr, "WithEnv BY_HAND=1\n")
    total, threads = 101_000, 4
    failures = []

    def writer(k):
        try:
            for i in range(k, total, threads):
                name, value = ("memory.limit", f"{i + 1}M") if i % 2 else ("hostname", f"h{i}")
                fd = os.open(ctr / name, os.O_WRONLY | os.O_TRUNC)
                try:
                    os.write(fd, value.encode())
                finally:
                    os.close(fd)
        except OSError as e:
            failures.append((i, e))

    workers = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, f"{len(failures)} writes failed, the first {failures[:3]}"
    lines = opts_lines(ctr)
    assert len(lines) < 100, f"opts holds {len(lines)} lines"
    assert lines[0] == "WithEnv BY_HAND=1"
    assert sorted(l.split()[0] for l in lines[1:]) == ["WithHostname", "WithMemoryLimit"]
    assert_config_fresh(render_bin, ctr)
    # The log was written anew along the way: it holds little more than the list.
    log = tmpfs_daemon.state / "namespaces" / "default" / "c1" / "log"
    assert log.stat().st_size < 5 << 20, f"the log is {log.stat().st_size} bytes"
    before = (read(ctr / "opts"), read(ctr / "config.json"))
    assert tmpfs_daemon.stop() == 0
    tmpfs_daemon.start()
    assert (read(ctr / "opts"), read(ctr / "config.json")) == before
    # and the next write still replaces its line
    write_value(ctr / "memory.limit", "7M")
    assert len(opts_lines(ctr)) == len(lines)


def test_lines_written_by_hand_are_never_dropped(render_bin, ctr):
    append_opts(ctr, "WithHostname hand-1\nWithMemoryLimit 1048576\n")
    write_value(ctr / "hostname", "a")
    append_opts(ctr, "WithHostname hand-2\n")
    write_value(ctr / "hostname", "b")
    write_value(ctr / "memory.limit", "2M")
    write_value(ctr / "hostname", "c")
    assert opts_lines(ctr) == ["WithHostname hand-1", "WithMemoryLimit 1048576", "WithHostname hand-2",
                               "WithMemoryLimit 2097152", "WithHostname c"]
    assert_config_fresh(render_bin, ctr)


def test_a_line_between_that_reads_what_a_line_set_keeps_it(render_bin, ctr):
    """WithAddedCapabilities reads the capability sets: the WithCapabilities
    before it stays (it shapes what the addition made). WithEnv reads only
    the environment: it does not hold back a hostname."""
    write_value(ctr / "caps", "CAP_CHOWN")
    write_value(ctr / "caps", "+CAP_KILL")
    write_value(ctr / "hostname", "a")
    write_value(ctr / "env", "A=1")
    write_value(ctr / "caps", "CAP_SYS_ADMIN")
    write_value(ctr / "hostname", "b")
    assert opts_lines(ctr) == ["WithCapabilities CAP_CHOWN", "WithAddedCapabilities CAP_KILL", "WithEnv A=1",
                               "WithCapabilities CAP_SYS_ADMIN", "WithHostname b"]
    assert_config_fresh(render_bin, ctr)


@pytest.fixture
def box(ctr, fixtures_copy):
    wait_rootfs_mounted(ctr)
    copy_rootfs(fixtures_copy / "rootfs", ctr / "rootfs")
    return ctr


def test_a_line_that_reads_files_is_replaced_only_by_the_same_line(render_bin, box):
    """WithUser reads the rootfs's etc/passwd: dropping `WithUser alice` for
    `WithUser bob` would render although alice vanished from passwd, where
    the whole history fails. The same line again fails exactly when it does."""
    write_value(box / "user", "alice")
    write_value(box / "user", "alice")
    assert opts_lines(box) == ["WithUser alice"]
    write_value(box / "user", "bob")
    assert opts_lines(box) == ["WithUser alice", "WithUser bob"]
    # a line between that changes what it reads (groups reads the user) keeps it
    write_value(box / "groups", "+audio")
    write_value(box / "user", "bob")
    assert opts_lines(box) == ["WithUser alice", "WithUser bob", "WithAppendAdditionalGroups audio", "WithUser bob"]
    assert_config_fresh(render_bin, box)


# --- the compacted list renders what the whole history renders ----------------------------

# Writes a user or an automation makes: (file, values), and lines by hand.
CONTROL_WRITES = [
    ("hostname", ["a", "b", "web-1"]), ("domainname", ["x.org", "y.org"]), ("cwd", ["/", "/srv", "/tmp"]),
    ("args", ["sh\n-c\ntrue", "sleep\n1"]), ("memory.limit", ["1M", "2G", "512K"]),
    ("memory.swap", ["1G", "-1"]), ("pids.max", ["10", "100"]), ("cpu.shares", ["512", "1024"]),
    ("cpu.cfs", ["1000 100000", "50000 100000"]), ("cpu.rt", ["1000 100000"]), ("cpuset.cpus", ["0", "0-1"]),
    ("cpuset.mems", ["0"]), ("caps", ["CAP_CHOWN", "CAP_KILL CAP_CHOWN", "+CAP_SYS_ADMIN", "-CAP_CHOWN", "all"]),
    ("caps.ambient", ["CAP_KILL", "none"]), ("env", ["A=1", "B=2\nA=3"]), ("annotations", ["a=1", "a=2\nb=1", "b=2"]),
    ("tty", ["1", "80x24", "100x30"]), ("rootfs.readonly", ["1"]), ("user", ["alice", "bob", "1000:1000"]),
    ("groups", ["+audio", "+video"]), ("namespaces", ["network /proc/1/ns/net", "host ipc", "user"]),
    ("mounts", ['[{"destination":"/d","type":"tmpfs","source":"tmpfs"}]', "-/d"]),
    ("devices", ["/dev/null rw"]),
]
BY_HAND = ["WithHostname hand-{i}", "WithEnv H{i}=1", "WithMemoryLimit {n}", "WithNoNewPrivileges",
           "WithAnnotations h{i}=x", "WithProcessCwd /hand{i}", "WithCPUShares {n}", "WithUser alice",
           "WithDefaultSpec"]


def shown(value: str) -> str:
    return value.rstrip("\n")


@pytest.mark.time_limit(180)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_compacted_list_renders_what_the_whole_history_renders(render_bin, box, seed):
    rng = random.Random(seed)
    history = []        # every line ever kept, in order: what the list would be without compaction
    hand = []
    for step in range(300):
        before = read(box / "opts")
        if rng.random() < 0.25:
            line = rng.choice(BY_HAND).format(i=step, n=rng.randrange(1, 1 << 30))
            try:
                append_opts(box, line + "\n")
            except OSError:
                assert read(box / "opts") == before
                continue
            history.append(opts_lines(box)[-1])
            hand.append(history[-1])
        else:
            name, values = rng.choice(CONTROL_WRITES)
            value = rng.choice(values)
            was = shown(read(box / name))
            try:
                write_value(box / name, value)
            except OSError:
                assert read(box / "opts") == before, error_text(box)
                continue
            if shown(value) == was:
                assert read(box / "opts") == before     # writing back what is shown: nothing
                continue
            history.append(opts_lines(box)[-1])
        if step % 50 == 49 or step == 299:
            lines = opts_lines(box)
            full = render_for(render_bin, box, history)
            assert full.ok, full.describe()
            assert read(box / "config.json") == full.stdout, \
                f"seed {seed} step {step}: the compacted list {lines} renders differently from the history {history}"
            assert_config_fresh(render_bin, box)
            # every line by hand is there, in order
            it = iter(lines)
            assert all(h in it for h in hand), f"a line by hand was dropped: {hand} vs {lines}"
    assert len(opts_lines(box)) < len(history)
