"""Faults: the daemon runs out of descriptors, disk or memory, or finds its
state damaged. Each test makes its fault itself (prlimit on the running
daemon, a small tmpfs for the state directory, --max-memory, a memory
cgroup or an address-space limit, a damaged log) and checks what a client
sees, what is kept, and that the daemon recovers by itself once the fault
is gone (docs/bundlefs.md, "Faults")."""
from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import subprocess
import threading
import time

import pytest

from support.mount import Daemon, make_container
from support.treeops import append_line, read_bytes, replace_with, write_errno

REPLACE = os.O_WRONLY | os.O_TRUNC
MiB = 1 << 20
JOURNAL_SIZE = 8 * MiB


@pytest.fixture
def daemons(bundlefs_bin, tmp_path):
    """Make daemons serving tmp_path/mnt (from tmp_path/state unless told);
    every one is cleaned up at the end."""
    made = []

    def make(state=None, extra_args=(), wrap=()):
        d = Daemon(bundlefs_bin, state or tmp_path / "state", tmp_path / "mnt", extra_args, wrap)
        made.append(d)
        return d

    yield make
    for d in reversed(made):
        d.cleanup()


def errno_of(fn, *args) -> int:
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def read_errno(path) -> int:
    return errno_of(read_bytes, path)


def name(code: int) -> str:
    return errno.errorcode.get(code, str(code)) if code else "success"


def assert_error_says(cdir, daemon, *words):
    """`error` says why, in words a user reads, and never names the
    daemon's state directory (`error` is world-readable)."""
    text = (cdir / "error").read_text()
    for w in words:
        assert w in text, f"{cdir}/error: {text!r} does not say {w!r}"
    assert str(daemon.state) not in text and "/namespaces/" not in text, f"{cdir}/error names a private path: {text!r}"


def tree_of(mnt) -> dict:
    """namespace -> {container -> its opts}."""
    return {ns: {cid: read_bytes(mnt / ns / cid / "opts") for cid in sorted(os.listdir(mnt / ns))}
            for ns in sorted(os.listdir(mnt))}


def lines_of(cdir) -> list[str]:
    return read_bytes(cdir / "opts").decode().splitlines()


# --- descriptors --------------------------------------------------------------------------------


def nofile_limit(pid) -> tuple[int, int]:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError(f"no open-file limit for {pid}")


@contextlib.contextmanager
def descriptors_left(pid, spare: int):
    """The daemon may open `spare` more files: its soft open-file limit is
    set just above what it holds (prlimit), and put back afterwards."""
    soft, hard = nofile_limit(pid)
    n = len(os.listdir(f"/proc/{pid}/fd")) + spare
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={n}:{hard}"], check=True)
    try:
        yield
    finally:
        subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={soft}:{hard}"], check=True)


TREE_OPS = ("mkdir", "rmdir", "rename", "rename-across", "mkdir-ns", "rmdir-ns", "rename-ns")


@pytest.mark.parametrize("op", TREE_OPS)
def test_a_tree_operation_out_of_descriptors_is_all_or_nothing(daemons, op):
    """With 0 to 3 descriptors left (each step of an operation may need one),
    an operation either happens whole or fails with EMFILE changing nothing,
    on disk as in the tree: every container served takes writes, and a
    restart shows the same tree."""
    d = daemons().start()
    mnt = d.mountpoint
    (mnt / "ns").mkdir()
    (mnt / "other").mkdir()
    outcomes = []
    for spare in range(4):
        k = f"k{spare}"
        if op in ("rmdir", "rename", "rename-across"):
            c = make_container(mnt, "ns", k)
            assert append_line(c / "opts", f"WithHostname {k}") == 0
        elif op == "rmdir-ns":
            (mnt / k).mkdir()
        elif op == "rename-ns":
            c = make_container(mnt, k, "c")
            assert append_line(c / "opts", f"WithHostname {k}") == 0
        action = {
            "mkdir": lambda: os.mkdir(mnt / "ns" / k),
            "rmdir": lambda: os.rmdir(mnt / "ns" / k),
            "rename": lambda: os.rename(mnt / "ns" / k, mnt / "ns" / f"{k}-moved"),
            "rename-across": lambda: os.rename(mnt / "ns" / k, mnt / "other" / k),
            "mkdir-ns": lambda: os.mkdir(mnt / k),
            "rmdir-ns": lambda: os.rmdir(mnt / k),
            "rename-ns": lambda: os.rename(mnt / k, mnt / f"{k}-moved"),
        }[op]
        before = tree_of(mnt)
        with descriptors_left(d.pid, spare):
            failure = errno_of(action)
        after = tree_of(mnt)
        if failure:
            assert failure in (errno.EMFILE, errno.ENFILE), \
                f"{op} with {spare} descriptors left failed with {name(failure)}"
            assert after == before, f"{op} failed with {name(failure)} and changed the tree"
        else:
            assert after != before, f"{op} succeeded and changed nothing"
        outcomes.append(failure)
    # Every container served takes writes, and they are kept.
    for ns, containers in tree_of(mnt).items():
        for cid in containers:
            assert append_line(mnt / ns / cid / "opts", "WithDomainname kept.example") == 0, f"{ns}/{cid}"
    served = tree_of(mnt)
    d.stop()
    d.start()
    assert tree_of(mnt) == served, f"{op}: the tree changed across a restart (outcomes {outcomes})"
    # A name a failed mkdir left free can be used.
    if op in ("mkdir", "mkdir-ns"):
        for spare, failure in enumerate(outcomes):
            if failure:
                os.mkdir(mnt / "ns" / f"k{spare}" if op == "mkdir" else mnt / f"k{spare}")


def test_start_under_a_low_descriptor_limit_serves_every_container(daemons):
    """More containers than the daemon may open files: it starts, serves
    and takes writes to every one (logs are opened when written, and the
    loader closes each once read)."""
    d = daemons().start()
    mnt = d.mountpoint
    cs = [make_container(mnt, f"ns{i % 3}", f"c{i}") for i in range(120)]
    for i, c in enumerate(cs):
        assert append_line(c / "opts", f"WithHostname h{i}") == 0
    d.stop()
    d.wrap = ["prlimit", "--nofile=40:40"]
    d.start()
    assert nofile_limit(d.pid) == (40, 40)
    for i, c in enumerate(cs):
        assert lines_of(c) == [f"WithHostname h{i}"], c
        assert append_line(c / "opts", "WithDomainname low.example") == 0, (c / "error").read_text()
    assert len(os.listdir(f"/proc/{d.pid}/fd")) <= 40
    d.stop()
    d.wrap = []
    d.start()
    for i, c in enumerate(cs):
        assert lines_of(c) == [f"WithHostname h{i}", "WithDomainname low.example"], c


def test_a_user_lookup_out_of_descriptors_fails_with_emfile_and_says_so(daemons):
    d = daemons().start()
    c = make_container(d.mountpoint, "ns", "c")
    (c / "rootfs" / "etc").mkdir()
    (c / "rootfs" / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nsvc:x:1000:1000::/:/bin/false\n")
    assert write_errno(c / "user", b"svc\n", REPLACE) == 0
    with descriptors_left(d.pid, 0):
        e = write_errno(c / "user", b"root\n", REPLACE)
    assert e == errno.EMFILE, f"a look-up out of descriptors failed with {name(e)}"
    assert_error_says(c, d, "Too many open files", "ns/c/rootfs")
    assert lines_of(c) == ["WithUser svc"]
    assert write_errno(c / "user", b"root\n", REPLACE) == 0
    assert lines_of(c) == ["WithUser svc", "WithUser root"]


# --- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs to be a state directory (the journal takes 8 of it)."""
    where = tmp_path / "small"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "bundlefs-test", str(where)], check=True)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk, leave: int = 0) -> pathlib.Path:
    """Fill the file system up to its last byte, then give back `leave`
    bytes; returns the file that takes the space."""
    path = disk / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (MiB, 64 << 10, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    if leave:
        os.truncate(path, max(0, os.path.getsize(path) - leave))
    return path


def test_a_full_disk_refuses_writes_with_enospc_and_they_work_again_once_space_returns(daemons, small_disk):
    d = daemons(state=small_disk).start()
    mnt = d.mountpoint
    cs = [make_container(mnt, "ns", f"c{i}") for i in range(4)]
    acked = {c: [f"WithHostname h{i}"] for i, c in enumerate(cs)}
    for c in cs:
        assert append_line(c / "opts", acked[c][0]) == 0
    filler = fill(small_disk)
    refused = []
    for k in range(24):
        for c in cs:
            line = f"WithEnv K{k}={'x' * 700}"
            e = append_line(c / "opts", line)
            assert e in (0, errno.ENOSPC), f"{c.name}: a write on a full disk failed with {name(e)}"
            if e:
                refused.append(line)
                assert_error_says(c, d, "no space left")
            else:
                acked[c].append(line)
    assert refused, "the disk never filled up"
    for c in cs:
        assert lines_of(c) == acked[c]
    # Space comes back: writes work again, with no restart.
    filler.unlink()
    for c in cs:
        assert append_line(c / "opts", "WithDomainname after.example") == 0, (c / "error").read_text()
        acked[c].append("WithDomainname after.example")
    d.kill9()
    d.start()
    for c in cs:
        assert lines_of(c) == acked[c]
        assert read_errno(c / "config.json") == 0


def test_a_refused_replace_of_opts_on_a_full_disk_leaves_nothing_behind(daemons, small_disk):
    d = daemons(state=small_disk).start()
    c = make_container(d.mountpoint, "ns", "c")
    assert append_line(c / "opts", "WithHostname kept") == 0
    filler = fill(small_disk)
    new = ("WithEnv BIG=" + "y" * 60000 + "\n").encode()
    e = replace_with(c / "opts", new)
    assert e == errno.ENOSPC, f"a replace on a full disk failed with {name(e)}"
    assert sorted(os.listdir(small_disk / "namespaces" / "ns" / "c")) == ["log", "rootfs"]
    assert lines_of(c) == ["WithHostname kept"]
    assert_error_says(c, d, "no space left")
    filler.unlink()
    assert replace_with(c / "opts", new) == 0
    d.stop()
    d.start()
    assert read_bytes(c / "opts") == new


def test_a_refused_first_write_on_a_full_disk_leaves_no_log(daemons, small_disk):
    d = daemons(state=small_disk).start()
    c = make_container(d.mountpoint, "ns", "c")
    filler = fill(small_disk)
    e = append_line(c / "opts", "WithHostname refused")
    assert e == errno.ENOSPC, f"a first write on a full disk failed with {name(e)}"
    assert os.listdir(small_disk / "namespaces" / "ns" / "c") == ["rootfs"]
    assert lines_of(c) == []
    filler.unlink()
    assert append_line(c / "opts", "WithHostname kept") == 0
    d.kill9()
    d.start()
    assert lines_of(c) == ["WithHostname kept"]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_writers_on_a_full_disk_never_bring_back_a_refused_write(daemons, small_disk, round_):
    """Eight writers fill the disk together: each write is kept or refused
    with ENOSPC, and after a crash and a restart exactly the kept ones are
    there, in order."""
    d = daemons(state=small_disk).start()
    mnt = d.mountpoint
    cs = [make_container(mnt, "ns", f"w{i}") for i in range(8)]
    for c in cs:
        assert append_line(c / "opts", "WithHostname first") == 0
    filler = fill(small_disk, leave=(192 + 64 * round_) << 10)
    acked = {c: ["WithHostname first"] for c in cs}
    refused = {c: [] for c in cs}
    unexpected = []

    def writer(i, c):
        for n in range(400):
            line = f"WithEnv W{i}N{n}={'z' * 1500}"
            e = append_line(c / "opts", line)
            if e == 0:
                acked[c].append(line)
            elif e == errno.ENOSPC:
                refused[c].append(line)
                if len(refused[c]) == 4:
                    return
            else:
                unexpected.append(f"{c.name}: {name(e)}: {(c / 'error').read_text().strip()}")
                return

    threads = [threading.Thread(target=writer, args=(i, c)) for i, c in enumerate(cs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not unexpected, unexpected
    assert any(refused.values()), "the disk never filled up"
    d.kill9()
    filler.unlink()
    d.start()
    for c in cs:
        lines = lines_of(c)
        back = set(lines) & set(refused[c])
        assert not back, f"{c.name}: refused writes came back after a restart: {sorted(back)[:3]}"
        assert lines == acked[c], f"{c.name}: {len(lines)} lines after the restart, {len(acked[c])} acknowledged"


def test_the_journal_is_allocated_once_and_written_in_place(daemons):
    d = daemons().start()
    journal = d.state / "journal"
    before = os.stat(journal)
    assert before.st_size == JOURNAL_SIZE
    assert before.st_blocks * 512 >= JOURNAL_SIZE, "the journal's blocks are not allocated"
    c = make_container(d.mountpoint, "ns", "c")
    for i in range(300):
        assert append_line(c / "opts", f"WithEnv K{i}={'v' * 200}") == 0
    after = os.stat(journal)
    assert (after.st_ino, after.st_size, after.st_blocks) == (before.st_ino, before.st_size, before.st_blocks)


# --- memory -------------------------------------------------------------------------------------


def big_line(tag) -> str:
    """An option line of about 512 KiB (a write the kernel hands over in one
    piece, wherever its buffer lies)."""
    return f"WithEnv {tag}=" + "x" * (MiB // 2 - 64)


def fill_lists(mnt, ns, start, containers):
    """Write big lines to containers <ns>/m<start>... in turn until one is
    refused with ENOMEM (all lists full); a container whose own list is
    full (EFBIG) makes way for the next. Returns {container: lines kept}
    and the last container."""
    kept = {}
    for i in range(start, start + containers):
        c = make_container(mnt, ns, f"m{i}")
        kept[c] = []
        for n in range(64):
            e = append_line(c / "opts", big_line(f"M{i}N{n}"))
            if e == errno.EFBIG:
                break
            if e == errno.ENOMEM:
                return kept, c
            assert e == 0, f"{c}: {name(e)}: {(c / 'error').read_text()}"
            kept[c].append(n)
        assert kept[c], f"{c}: not one big line fits in a list"
    raise AssertionError(f"{containers} containers of full lists and no ENOMEM")


def test_writes_past_max_memory_are_refused_and_the_daemon_serves_on(daemons):
    d = daemons(extra_args=["--max-memory", "16M"]).start()
    mnt = d.mountpoint
    kept, last = fill_lists(mnt, "ns", 0, 16)
    assert_error_says(last, d, "--max-memory")
    first = next(iter(kept))
    assert append_line(first / "opts", big_line("ONE-MORE")) == errno.EFBIG
    assert_error_says(first, d, "--max-memory", "a quarter")
    assert d.proc.poll() is None
    for c in kept:
        assert read_errno(c / "config.json") == 0
    # A replace that frees memory is taken, and makes room for another.
    assert replace_with(first / "opts", b"WithHostname small\n") == 0
    assert append_line(last / "opts", big_line("ROOM")) == 0
    served = tree_of(mnt)
    d.stop()
    d.start()
    assert tree_of(mnt) == served


def build_has_asan(binary) -> bool:
    with open(binary, "rb") as f:
        return b"AddressSanitizer" in f.read()


def asan_quarantine_small() -> list[str]:
    """An ASan build keeps freed memory in quarantine (256 MiB): far less,
    for a daemon in a memory cgroup."""
    options = os.environ.get("ASAN_OPTIONS", "")
    return ["env", f"ASAN_OPTIONS={options}{':' if options else ''}quarantine_size_mb=8"]


@contextlib.contextmanager
def memory_cgroup(limit: int):
    """A memory cgroup (v2, or v1's memory controller) of limit bytes, swap
    included. Yields the command prefix that runs a program in it, and a
    function counting the OOM kills in it."""
    name = f"bundlefs-test-{os.getpid()}-{time.monotonic_ns()}"
    v2 = pathlib.Path("/sys/fs/cgroup")
    controllers = v2 / "cgroup.controllers"
    if controllers.exists() and "memory" in controllers.read_text().split():
        with contextlib.suppress(OSError):
            (v2 / "cgroup.subtree_control").write_text("+memory")
        cg = v2 / name
        cg.mkdir()
        (cg / "memory.max").write_text(str(limit))
        if (cg / "memory.swap.max").exists():
            (cg / "memory.swap.max").write_text("0")

        def kills():
            events = dict(line.split() for line in (cg / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0))
    else:
        cg = pathlib.Path("/sys/fs/cgroup/memory") / name
        cg.mkdir()
        (cg / "memory.limit_in_bytes").write_text(str(limit))
        if (cg / "memory.memsw.limit_in_bytes").exists():
            (cg / "memory.memsw.limit_in_bytes").write_text(str(limit))

        def kills():
            events = dict(line.split() for line in (cg / "memory.oom_control").read_text().splitlines())
            return int(events.get("oom_kill", 0))
    try:
        yield ["sh", "-c", f'echo $$ > {cg / "cgroup.procs"} && exec "$@"', "sh"], kills
    finally:
        for _ in range(100):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.05)


@pytest.mark.time_limit(180)
def test_in_a_memory_cgroup_lists_are_bounded_and_the_daemon_is_never_killed(daemons, bundlefs_bin):
    """The issue's case: lines of 1 MiB in a 200 MiB cgroup got the daemon
    OOM-killed, and killed again at every start. --max-memory defaults to a
    quarter of what the cgroup allows: writes past it are refused, reads
    go on, and the daemon starts again in the same cgroup."""
    with memory_cgroup(200 * MiB) as (wrap, oom_kills):
        d = daemons(wrap=wrap + asan_quarantine_small()).start()
        mnt = d.mountpoint
        kept, last = fill_lists(mnt, "ns", 0, 64)
        assert_error_says(last, d, "--max-memory")
        for c in kept:
            assert read_errno(c / "config.json") == 0
        assert d.proc.poll() is None and oom_kills() == 0
        served = tree_of(mnt)
        d.stop()
        d.start()
        assert tree_of(mnt) == served
        for c in kept:
            assert read_errno(c / "config.json") == 0
        assert d.proc.poll() is None and oom_kills() == 0
        d.stop()


def test_a_list_over_max_memory_at_start_is_served_with_eio_and_its_container_stays_usable(daemons):
    d = daemons().start()
    mnt = d.mountpoint
    big = make_container(mnt, "ns", "big")
    for n in range(3):
        assert append_line(big / "opts", big_line(f"N{n}")) == 0
    small = make_container(mnt, "ns", "small")
    assert append_line(small / "opts", "WithHostname small") == 0
    whole = read_bytes(big / "opts")
    d.stop()
    d.extra_args = ["--max-memory", "4M"]
    d.start()
    assert sorted(os.listdir(mnt / "ns")) == ["big", "small"]
    for f in ("config.json", "opts", "hostname", "platform", "env"):
        assert read_errno(big / f) == errno.EIO, f
    assert_error_says(big, d, "--max-memory")
    assert append_line(big / "opts", "WithHostname refused") == errno.EIO
    assert errno_of(os.mkdir, big) == errno.EEXIST
    assert lines_of(small) == ["WithHostname small"]
    # Served again whole once the limit allows it.
    d.stop()
    d.extra_args = []
    d.start()
    assert read_bytes(big / "opts") == whole
    # Still usable when it is not: renamed, and removed.
    d.stop()
    d.extra_args = ["--max-memory", "4M"]
    d.start()
    os.rename(big, mnt / "ns" / "big2")
    assert_error_says(mnt / "ns" / "big2", d, "--max-memory")
    os.rmdir(mnt / "ns" / "big2")
    d.stop()
    d.start()
    assert os.listdir(mnt / "ns") == ["small"]


def test_a_damaged_log_is_served_with_eio_and_the_container_can_be_removed(daemons):
    d = daemons().start()
    mnt = d.mountpoint
    c = make_container(mnt, "ns", "c")
    assert append_line(c / "opts", "WithHostname h") == 0
    # Restarted once, so that the journal no longer holds the log's first
    # write (it would make the log again).
    d.stop()
    d.start()
    d.stop()
    (d.state / "namespaces" / "ns" / "c" / "log").write_bytes(b"this is no option log\n")
    d.start()
    assert os.listdir(mnt / "ns") == ["c"]
    assert read_errno(c / "config.json") == errno.EIO
    assert_error_says(c, d, "damaged")
    assert errno_of(os.mkdir, c) == errno.EEXIST
    os.rmdir(c)
    d.stop()
    d.start()
    assert os.listdir(mnt / "ns") == []


def vm_peak(pid) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmPeak")


@pytest.mark.time_limit(120)
def test_out_of_memory_while_loading_serves_the_container_with_eio(daemons, bundlefs_bin):
    """Under an address-space limit (prlimit --as) that its list does not
    fit in, a container is served with EIO and `error` saying why; the
    others load, and its name stays taken. (A sanitizer build cannot run
    under such a limit: there --max-memory refuses the list instead, which
    takes the same path.)"""
    d = daemons(extra_args=["--max-memory", "0"]).start()
    mnt = d.mountpoint
    big = make_container(mnt, "ns", "big")
    for n in range(64):
        assert append_line(big / "opts", big_line(f"N{n}")) == 0
    small = make_container(mnt, "ns", "small")
    assert append_line(small / "opts", "WithHostname small") == 0
    d.stop()

    def serve_a_little():
        assert sorted(os.listdir(mnt / "ns")) == ["big", "small"]
        assert read_errno(small / "config.json") == 0
        read_errno(big / "config.json")
        (big / "error").read_text()

    if build_has_asan(bundlefs_bin):
        d.extra_args = ["--max-memory", "16M"]
    else:
        # What the daemon takes without the big list (its log set aside),
        # serving as below: the limit leaves 12 MiB more, not 32.
        log = d.state / "namespaces" / "ns" / "big" / "log"
        log.rename(log.with_name("log.aside"))
        d.wrap = ["env", "MALLOC_ARENA_MAX=1"]
        d.start()
        serve_a_little()
        peak = vm_peak(d.pid)
        d.stop()
        log.with_name("log.aside").rename(log)
        d.wrap = ["prlimit", f"--as={peak + 12 * MiB}", "env", "MALLOC_ARENA_MAX=1"]
    d.start()
    serve_a_little()
    assert read_errno(big / "config.json") == errno.EIO
    assert_error_says(big, d, "memory")
    assert lines_of(small) == ["WithHostname small"]
    assert errno_of(os.mkdir, big) == errno.EEXIST
    d.stop()
    d.wrap = []
    d.extra_args = ["--max-memory", "0"]
    d.start()
    assert len(lines_of(big)) == 64
