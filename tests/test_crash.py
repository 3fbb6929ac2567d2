"""Crash consistency (INTERFACE.md section 4): the daemon is killed with
SIGKILL while several processes write option lines and control files, make,
rename and remove containers and namespaces; a new daemon on the same state
directory must show every acknowledged change, in the order it was
acknowledged, nothing torn and nothing never written. A change still in
flight when the daemon died (at most one per writer) may or may not be there.

Each writer is a forked process that appends to a journal of its own, outside
the tree, "try <item>" before and "ack <item>" after each operation returned
successfully; it stops at its first error (the dead mount answers ENOTCONN).
"""
from __future__ import annotations

import errno
import json
import multiprocessing
import os
import pathlib
import random
import shutil
import subprocess
import time

import pytest

from support.mount import Daemon

# errnos an operation on the tree of a killed daemon fails with
DEAD_MOUNT = (errno.ENOTCONN, errno.ECONNABORTED)
JOIN_TIMEOUT = 20.0
ROUNDS = [(seed, delay) for seed, delay in enumerate((0.02, 0.08, 0.15, 0.25, 0.4))]
ITEMS_MAX = 400     # a writer stops after this many operations if the kill is late


# --- writers ------------------------------------------------------------------------------


class Journal:
    """One writer's record of what it tried and what was acknowledged."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def writer(self):
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def entries(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        return [tuple(line.split(" ", 1)) for line in self.path.read_text().splitlines()]

    def acked(self) -> list[str]:
        return [item for kind, item in self.entries() if kind == "ack"]

    def in_flight(self) -> str | None:
        """The item tried last but not acknowledged, if any."""
        entries = [e for e in self.entries() if e[0] in ("try", "ack")]
        if entries and entries[-1][0] == "try":
            return entries[-1][1]
        return None

    def errors(self) -> list[str]:
        return [item for kind, item in self.entries() if kind == "err"]


def _run_writer(journal_path, operations):
    """The body of a writer process: each operation is (item, fn); fn() must
    return normally for the item to be acknowledged."""
    fd = Journal(journal_path).writer()
    for item, fn in operations:
        os.write(fd, f"try {item}\n".encode())
        try:
            fn()
        except OSError as e:
            os.write(fd, f"err {e.errno}\n".encode())
            break
        os.write(fd, f"ack {item}\n".encode())
    os.close(fd)


def one_write(path, data: bytes, flags: int):
    """open, one write(2), close. The write is acknowledged once write(2)
    returned; a close failing after that (the daemon died) changes nothing."""
    fd = os.open(path, flags)
    try:
        n = os.write(fd, data)
        assert n == len(data)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


def start_writers(tmp_path, jobs) -> tuple[list, list[Journal]]:
    """jobs: a list of (name, operations factory). Each runs in a forked process."""
    ctx = multiprocessing.get_context("fork")
    procs, journals = [], []
    for name, make_operations in jobs:
        journal = Journal(tmp_path / f"journal-{name}")
        p = ctx.Process(target=_run_writer, args=(journal.path, make_operations()), daemon=True)
        p.start()
        procs.append(p)
        journals.append(journal)
    return procs, journals


def wait_for_first_acks(journals, timeout=10.0):
    """Every writer has something acknowledged, so the kill lands mid-stream."""
    deadline = time.monotonic() + timeout
    while not all(j.acked() for j in journals):
        assert time.monotonic() < deadline, "writers made no progress"
        time.sleep(0.005)


def join_all(procs):
    for p in procs:
        p.join(JOIN_TIMEOUT)
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert not hung, f"writers {hung} still blocked after the daemon died"


def assert_errors_only_from_the_kill(journals):
    """A writer stops at its first error, so an error is that of the
    operation in flight. Besides the dead mount's errnos, that one may get
    EIO: the kernel ends a request with EIO when the daemon's thread dies
    while it copies the request in or its reply out (fs/fuse/dev.c), before
    the connection is seen as aborted."""
    for j in journals:
        errors = j.errors()
        assert len(errors) <= 1, f"{j.path.name}: went on after an error: {errors}"
        for e in errors:
            assert int(e) in DEAD_MOUNT + (errno.EIO,), \
                f"{j.path.name}: failed with {errno.errorcode.get(int(e), e)} before the kill"
            assert j.in_flight() is not None, f"{j.path.name}: an error with no operation in flight"


def crash(daemon, procs, journals, seed, delay):
    """Wait until every writer is under way, let them run a little (random
    within delay), SIGKILL the daemon, wait for the writers, start a new
    daemon on the same state."""
    wait_for_first_acks(journals)
    time.sleep(random.Random(seed).uniform(0, delay))
    daemon.kill9()
    join_all(procs)
    assert_errors_only_from_the_kill(journals)
    return daemon.start()


def read_text(path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def config_of(cdir):
    return json.loads(read_text(cdir / "config.json"))


def env_of(cfg) -> dict[str, str]:
    return dict(e.split("=", 1) for e in cfg["process"]["env"])


@pytest.fixture
def crash_daemon(bundlefs_bin, tmp_path):
    d = Daemon(bundlefs_bin, tmp_path / "state", tmp_path / "mnt").start()
    yield d
    d.cleanup()


# --- option lines and control files ---------------------------------------------------------

APPEND = os.O_WRONLY | os.O_APPEND
TRUNC = os.O_WRONLY | os.O_TRUNC

# writer name -> (container, how it writes); two opts writers share c0 with a
# hostname writer, so one container's log takes interleaved writes.
WRITERS = {
    "w0": ("c0", "opts"),
    "w1": ("c0", "opts"),
    "w2": ("c0", "hostname"),
    "w3": ("c1", "opts"),
    "w4": ("c1", "env"),
    "w5": ("c2", "hostname"),
}


def line_of(writer: str, how: str, i: int) -> str:
    """The option line write i of a writer keeps in opts."""
    if how == "opts":
        return f"WithEnv {writer}K{i}={i}"
    if how == "env":
        return f"WithEnv {writer}E={i}"
    return f"WithHostname {writer}-{i}"


def prefix_of(writer: str, how: str) -> str:
    """What the lines of one writer, and only of that writer, start with."""
    return {"opts": f"WithEnv {writer}K", "env": f"WithEnv {writer}E=", "hostname": f"WithHostname {writer}-"}[how]


def data_of(writer: str, how: str, i: int) -> bytes:
    if how == "opts":
        return (line_of(writer, how, i) + "\n").encode()
    if how == "env":
        return f"{writer}E={i}\n".encode()
    return f"{writer}-{i}\n".encode()


def option_writer(cdir, writer, how):
    path = cdir / ("opts" if how == "opts" else how)
    flags = APPEND if how == "opts" else TRUNC

    def operations():
        for i in range(ITEMS_MAX):
            yield str(i), (lambda i=i: one_write(path, data_of(writer, how, i), flags))
    return operations


@pytest.mark.parametrize("seed,delay", ROUNDS, ids=[f"round{s}" for s, _ in ROUNDS])
def test_kill_9_while_writing_options_loses_no_acknowledged_write(crash_daemon, tmp_path, seed, delay):
    mnt = crash_daemon.mountpoint
    (mnt / "crash").mkdir()
    containers = sorted({c for c, _ in WRITERS.values()})
    for cid in containers:
        (mnt / "crash" / cid).mkdir()
    jobs = [(w, option_writer(mnt / "crash" / cid, w, how)) for w, (cid, how) in WRITERS.items()]
    procs, journals = start_writers(tmp_path, jobs)
    d = crash(crash_daemon, procs, journals, seed, delay)

    kept = {}
    for cid in containers:
        cdir = d.mountpoint / "crash" / cid
        lines = read_text(cdir / "opts").splitlines()
        kept[cid] = (lines, config_of(cdir))
    for (w, (cid, how)), journal in zip(WRITERS.items(), journals):
        lines, cfg = kept[cid]
        acked = [int(i) for i in journal.acked()]
        assert acked == list(range(len(acked))), f"{w}: acknowledged out of order: {acked}"
        ours = [line for line in lines if line.startswith(prefix_of(w, how))]
        if how == "hostname":
            # each hostname's line replaces the one before (compaction): the last stays
            assert len(ours) <= 1, f"{w}: {ours[:5]}... were not compacted"
            present = int(ours[0].rsplit("-", 1)[1]) + 1 if ours else 0
        else:
            present = len(ours)
            # every acknowledged write, in order; at most the one in flight after it
            assert ours == [line_of(w, how, i) for i in range(present)], f"{w}: {ours[:5]}... is not in order"
        assert len(acked) <= present <= len(acked) + (1 if journal.in_flight() is not None else 0), \
            f"{w}: {present} lines kept, {len(acked)} acknowledged"
        # config.json reflects them
        if how == "opts":
            keys = sorted(k for k in env_of(cfg) if k.startswith(f"{w}K"))
            assert keys == sorted(f"{w}K{i}" for i in range(present))
        elif how == "env":
            assert env_of(cfg)[f"{w}E"] == str(present - 1)
        else:
            assert cfg["hostname"] == f"{w}-{present - 1}"
    # nothing torn, nothing never written
    every = {line_of(w, how, i) for w, (_, how) in WRITERS.items() for i in range(ITEMS_MAX)}
    for cid, (lines, _) in kept.items():
        strangers = [line for line in lines if line not in every]
        assert not strangers, f"{cid}: lines never written: {strangers[:3]}"

    # and it goes on: a new write is kept after the old ones
    c0 = d.mountpoint / "crash" / "c0"
    one_write(c0 / "opts", b"WithDomainname after.example\n", APPEND)
    assert read_text(c0 / "opts").splitlines() == kept["c0"][0] + ["WithDomainname after.example"]
    assert config_of(c0)["domainname"] == "after.example"


# --- mkdir, rename, rm -rf ------------------------------------------------------------------


def listing(mnt) -> dict[str, list[str]]:
    """namespace -> sorted container ids."""
    return {ns: sorted(os.listdir(mnt / ns)) for ns in sorted(os.listdir(mnt))}


def assert_container_whole(cdir, opts_lines=None):
    """The container serves: opts (as given), a config.json that renders, a rootfs."""
    lines = read_text(cdir / "opts").splitlines()
    if opts_lines is not None:
        assert lines == opts_lines, f"{cdir}: opts {lines} instead of {opts_lines}"
    cfg = config_of(cdir)
    assert cfg["root"]["path"] == "rootfs"
    assert os.path.isdir(cdir / "rootfs")
    return cfg


def assert_serves_normally(mnt, namespaces):
    """Make, write, rename and remove in every namespace, then remove them
    all: nothing left by the crash gets in the way."""
    for ns in namespaces:
        cdir = mnt / ns / "after-crash"
        cdir.mkdir()
        one_write(cdir / "opts", b"WithHostname after\n", APPEND)
        assert config_of(cdir)["hostname"] == "after"
        os.rename(cdir, mnt / ns / "after-crash-2")
        assert read_text(mnt / ns / "after-crash-2" / "opts") == "WithHostname after\n"
    for ns in namespaces:
        for cid in os.listdir(mnt / ns):
            r = subprocess.run(["rm", "-rf", str(mnt / ns / cid)], capture_output=True, text=True)
            assert not (mnt / ns / cid).exists(), f"rm -rf {ns}/{cid}: {r.stderr}"
        os.rmdir(mnt / ns)
    assert os.listdir(mnt) == []


def mkdir_writer(mnt, w):
    """Namespaces n<w>-<k>, each with containers c<w>-<k>-<i>."""
    def operations():
        for k in range(ITEMS_MAX // 8):
            yield f"n{w}-{k}", (lambda k=k: os.mkdir(mnt / f"n{w}-{k}"))
            for i in range(6):
                yield f"n{w}-{k}/c{w}-{k}-{i}", (lambda k=k, i=i: os.mkdir(mnt / f"n{w}-{k}" / f"c{w}-{k}-{i}"))
    return operations


@pytest.mark.parametrize("seed,delay", ROUNDS[:3], ids=[f"round{s}" for s, _ in ROUNDS[:3]])
def test_kill_9_during_mkdir_keeps_every_acknowledged_one_whole(crash_daemon, tmp_path, seed, delay):
    mnt = crash_daemon.mountpoint
    jobs = [(f"m{w}", mkdir_writer(mnt, w)) for w in range(4)]
    procs, journals = start_writers(tmp_path, jobs)
    d = crash(crash_daemon, procs, journals, seed, delay)

    tree = listing(d.mountpoint)
    present = set(tree) | {f"{ns}/{cid}" for ns, ids in tree.items() for cid in ids}
    acked = {item for j in journals for item in j.acked()}
    maybe = {j.in_flight() for j in journals} - {None}
    assert acked <= present, f"acknowledged but lost: {sorted(acked - present)}"
    assert present <= acked | maybe, f"never acknowledged: {sorted(present - acked - maybe)}"
    for ns, ids in tree.items():
        for cid in ids:
            assert_container_whole(d.mountpoint / ns / cid, [])
    assert_serves_normally(d.mountpoint, list(tree))


# A container's life from its first steps: mkdir makes a directory and its
# rootfs only, the first write makes its log (durable through the journal,
# the log's directory entry not synced yet), then it moves and is written
# again, and one in four is removed. Items are "<step> <k>".
YOUNG_STEPS = ("mkdir", "write1", "rename", "write2", "rmdir")


def young_name(k: int, step: str) -> str:
    return f"c{k}m" if step in ("rename", "write2") else f"c{k}"


def young_writer(mnt, w):
    ns = mnt / f"y{w}"

    def operations():
        for k in range(ITEMS_MAX // 5):
            c, moved = ns / f"c{k}", ns / f"c{k}m"
            yield f"mkdir {k}", (lambda c=c: os.mkdir(c))
            yield f"write1 {k}", (lambda c=c, k=k: one_write(c / "opts", f"WithHostname c{k}\n".encode(), APPEND))
            yield f"rename {k}", (lambda c=c, moved=moved: os.rename(c, moved))
            yield f"write2 {k}", (lambda moved=moved: one_write(moved / "opts", b"WithDomainname two.example\n", APPEND))
            if k % 4 == 3:
                yield f"rmdir {k}", (lambda moved=moved: os.rmdir(moved))
    return operations


def young_state(k: int, steps) -> tuple:
    """(name, lines) of container k after steps, or (None, ()) when gone."""
    name, lines = None, ()
    for step in steps:
        if step == "mkdir":
            name = f"c{k}"
        elif step == "write1":
            lines += (f"WithHostname c{k}",)
        elif step == "rename":
            name = f"c{k}m"
        elif step == "write2":
            lines += ("WithDomainname two.example",)
        elif step == "rmdir":
            name, lines = None, ()
    return name, lines


@pytest.mark.parametrize("seed,delay", ROUNDS[:3], ids=[f"round{s}" for s, _ in ROUNDS[:3]])
def test_kill_9_during_mkdir_first_writes_renames_and_removals_keeps_each_container_whole(crash_daemon, tmp_path,
                                                                                          seed, delay):
    mnt = crash_daemon.mountpoint
    for w in range(4):
        (mnt / f"y{w}").mkdir()
    jobs = [(f"y{w}", young_writer(mnt, w)) for w in range(4)]
    procs, journals = start_writers(tmp_path, jobs)
    d = crash(crash_daemon, procs, journals, seed, delay)

    tree = listing(d.mountpoint)
    for w, journal in enumerate(journals):
        done: dict[int, list[str]] = {}
        for item in journal.acked():
            step, k = item.split(" ")
            done.setdefault(int(k), []).append(step)
        flying = journal.in_flight()
        flying_k = int(flying.split(" ")[1]) if flying else None
        found = {}
        for cid in tree[f"y{w}"]:
            k = int(cid[1:].rstrip("m"))
            assert k not in found, f"y{w}: container {k} both as {found[k][0]} and {cid}"
            found[k] = (cid, tuple(read_text(d.mountpoint / f"y{w}" / cid / "opts").splitlines()))
            assert_container_whole(d.mountpoint / f"y{w}" / cid)
        for k in sorted(set(done) | set(found) | ({flying_k} if flying else set())):
            allowed = {young_state(k, done.get(k, []))}
            if k == flying_k:
                allowed.add(young_state(k, done.get(k, []) + [flying.split(" ")[0]]))
            state = found.get(k, (None, ()))
            assert state in allowed, f"y{w}: container {k} is {state}, expected one of {allowed}"
    assert_serves_normally(d.mountpoint, list(tree))


def rename_setup(mnt, w, n):
    """Writer w's containers r<w>-<i> in namespace ra<w>, each with opts that
    say who it is; and a namespace rn<w>-0 of its own with two containers."""
    (mnt / f"ra{w}").mkdir()
    (mnt / f"rb{w}").mkdir()
    identities = {}
    for i in range(n):
        cdir = mnt / f"ra{w}" / f"r{w}-{i}"
        cdir.mkdir()
        lines = [f"WithHostname r{w}-{i}", f"WithEnv ID=r{w}-{i}"]
        one_write(cdir / "opts", "".join(line + "\n" for line in lines).encode(), APPEND)
        identities[f"r{w}-{i}"] = (f"ra{w}/r{w}-{i}", lines)
    (mnt / f"rn{w}-0").mkdir()
    for i in range(2):
        cdir = mnt / f"rn{w}-0" / f"s{w}-{i}"
        cdir.mkdir()
        lines = [f"WithHostname s{w}-{i}"]
        one_write(cdir / "opts", (lines[0] + "\n").encode(), APPEND)
        identities[f"s{w}-{i}"] = (f"rn{w}-0/s{w}-{i}", lines)
    return identities


def rename_writer(mnt, w, n):
    """Move each container ra<w> <-> rb<w> under a new name each time, and
    rename the namespace rn<w>-<k> every few moves. Items are
    "<identity> <from> <to>" (for a namespace: "ns <from> <to>")."""
    def operations():
        where = {f"r{w}-{i}": (f"ra{w}", f"r{w}-{i}") for i in range(n)}
        ns_name = f"rn{w}-0"
        for step in range(ITEMS_MAX):
            ident = f"r{w}-{step % n}"
            ns, cid = where[ident]
            to = (f"rb{w}" if ns == f"ra{w}" else f"ra{w}", f"{ident}.{step}")
            where[ident] = to
            yield (f"{ident} {ns}/{cid} {to[0]}/{to[1]}",
                   (lambda a=mnt / ns / cid, b=mnt / to[0] / to[1]: os.rename(a, b)))
            if step % 3 == 2:
                new = f"rn{w}-{step + 1}"
                yield f"ns {ns_name} {new}", (lambda a=mnt / ns_name, b=mnt / new: os.rename(a, b))
                ns_name = new
    return operations


@pytest.mark.parametrize("seed,delay", ROUNDS[:3], ids=[f"round{s}" for s, _ in ROUNDS[:3]])
def test_kill_9_during_rename_leaves_each_container_in_one_place(crash_daemon, tmp_path, seed, delay):
    mnt = crash_daemon.mountpoint
    n = 4
    identities = {}
    for w in range(4):
        identities.update(rename_setup(mnt, w, n))
    jobs = [(f"r{w}", rename_writer(mnt, w, n)) for w in range(4)]
    procs, journals = start_writers(tmp_path, jobs)
    d = crash(crash_daemon, procs, journals, seed, delay)

    # where each one may be: after its last acknowledged move, or after the
    # one in flight
    where = {ident: {path} for ident, (path, _) in identities.items()}
    ns_names = {w: {f"rn{w}-0"} for w in range(4)}
    for w, journal in enumerate(journals):
        for item in journal.acked():
            ident, _, to = item.split(" ")
            if ident == "ns":
                ns_names[w] = {to}
            else:
                where[ident] = {to}
        flying = journal.in_flight()
        if flying:
            ident, _, to = flying.split(" ")
            if ident == "ns":
                ns_names[w] |= {to}
            else:
                where[ident] |= {to}
        for i in range(2):
            where[f"s{w}-{i}"] = {f"{ns}/s{w}-{i}" for ns in ns_names[w]}

    tree = listing(d.mountpoint)
    found = {}
    for ns, ids in tree.items():
        for cid in ids:
            cdir = d.mountpoint / ns / cid
            cfg = assert_container_whole(cdir)
            ident = cfg["hostname"]
            assert ident not in found, f"{ident} both at {found[ident]} and {ns}/{cid}"
            found[ident] = f"{ns}/{cid}"
            assert read_text(cdir / "opts").splitlines() == identities[ident][1]
            assert found[ident] in where[ident], f"{ident} at {ns}/{cid}, expected one of {where[ident]}"
    assert sorted(found) == sorted(identities), f"lost: {sorted(set(identities) - set(found))}"
    for w in range(4):
        here = [ns for ns in tree if ns.startswith(f"rn{w}-")]
        assert len(here) == 1 and here[0] in ns_names[w], f"namespace of writer {w}: {here}, expected {ns_names[w]}"
    assert_serves_normally(d.mountpoint, list(tree))


def gone(path) -> bool:
    """True when path does not exist; an error other than ENOENT (the dead
    mount's) is raised, not taken for absence."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    return False


def rm_writer(mnt, w, n):
    """rm -rf each of writer w's containers in turn (even writers use rm(1),
    odd ones shutil.rmtree)."""
    def remove(path):
        if w % 2 == 0:
            r = subprocess.run(["rm", "-rf", str(path)], capture_output=True, text=True)
            if not gone(path):
                raise OSError(errno.ENOTCONN if "connect" in r.stderr.lower() else errno.EIO, r.stderr.strip())
        else:
            shutil.rmtree(path)

    def operations():
        for i in range(n):
            yield f"x{w}/d{i}", (lambda i=i: remove(mnt / f"x{w}" / f"d{i}"))
    return operations


@pytest.mark.parametrize("seed,delay", ROUNDS[:3], ids=[f"round{s}" for s, _ in ROUNDS[:3]])
def test_kill_9_during_rm_rf_removes_each_container_wholly_or_not_at_all(crash_daemon, tmp_path, seed, delay):
    mnt = crash_daemon.mountpoint
    n = 12
    for w in range(4):
        (mnt / f"x{w}").mkdir()
        for i in range(n):
            cdir = mnt / f"x{w}" / f"d{i}"
            cdir.mkdir()
            one_write(cdir / "opts", f"WithHostname d{i}\n".encode(), APPEND)
            (cdir / "rootfs" / "etc").mkdir()
            (cdir / "rootfs" / "etc" / "hostname").write_text(f"d{i}\n")
    jobs = [(f"x{w}", rm_writer(mnt, w, n)) for w in range(4)]
    procs, journals = start_writers(tmp_path, jobs)
    d = crash(crash_daemon, procs, journals, seed, delay)

    tree = listing(d.mountpoint)
    assert sorted(tree) == [f"x{w}" for w in range(4)]
    for w, journal in enumerate(journals):
        acked = set(journal.acked())
        flying = journal.in_flight()
        for i in range(n):
            item = f"x{w}/d{i}"
            present = f"d{i}" in tree[f"x{w}"]
            if item in acked:
                assert not present, f"{item} was removed, yet is back"
                continue
            if item != flying:
                assert present, f"{item} is lost, it was never removed"
            if present:
                cdir = d.mountpoint / f"x{w}" / f"d{i}"
                assert_container_whole(cdir, [f"WithHostname d{i}"])
                if item != flying:  # rm -rf empties a rootfs file by file
                    assert read_text(cdir / "rootfs" / "etc" / "hostname") == f"d{i}\n"
    # names of removed containers can be used again
    for w in range(4):
        for item in journals[w].acked():
            cdir = d.mountpoint / item
            cdir.mkdir()
            assert_container_whole(cdir, [])
    assert_serves_normally(d.mountpoint, list(tree))


# --- the daemon always exits ---------------------------------------------------------------


def test_kill_9_while_rootfs_mounts_are_being_made_always_lets_the_daemon_exit(crash_daemon):
    """The first use of a container after a start bind-mounts its rootfs, a
    walk through the tree itself: `ls -l` of a namespace asks for every
    one. SIGKILL landing at any moment of that must let the daemon (and its
    mount helper) exit at once, with nobody aborting its connection (kill9
    fails otherwise)."""
    from support.mount import mounts_under

    d = crash_daemon
    (d.mountpoint / "many").mkdir()
    for i in range(150):
        (d.mountpoint / "many" / f"c{i}").mkdir()
    busy = 0
    rng = random.Random(7)
    for _ in range(30):
        d.kill9()
        d.start()
        ls = subprocess.Popen(["ls", "-l", str(d.mountpoint / "many")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        # Kill once the mounts have begun, at a random moment of them.
        deadline = time.monotonic() + 5
        while len(mounts_under(d.mountpoint)) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.02))
        mounted = len(mounts_under(d.mountpoint)) - 1
        busy += 0 < mounted < 150
        d.kill9()
        ls.wait(10)
    assert busy >= 5, f"the kill landed while mounts were being made in only {busy} of 30 starts"
    d.start()
    assert len(os.listdir(d.mountpoint / "many")) == 150
