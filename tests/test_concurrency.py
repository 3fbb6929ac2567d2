"""Concurrency through the mount: threads and processes writing the same and
different containers, readers of config.json while they write, and
containers renamed and removed while others use them. Writes on one
container are ordered, so every read shows some prefix of each writer's
writes; nothing hangs (every join has a timeout), the daemon survives, and no
acknowledged write is lost."""
from __future__ import annotations

import errno
import json
import multiprocessing
import os
import subprocess
import threading

from support.mount import make_container

JOIN_TIMEOUT = 60.0
WRITES = 100
APPEND = os.O_WRONLY | os.O_APPEND
TRUNC = os.O_WRONLY | os.O_TRUNC
# errnos an operation on a container renamed or removed under it may give
GONE = (errno.ENOENT, errno.ESTALE, errno.ENOTEMPTY, errno.EBUSY)


def one_write(path, data: bytes, flags: int):
    fd = os.open(path, flags)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)


def read_text(path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def opts_writer(cdir, name, n=WRITES):
    for i in range(n):
        one_write(cdir / "opts", f"WithEnv {name}K{i}={i}\n".encode(), APPEND)


def env_writer(cdir, name, n=WRITES):
    for i in range(n):
        one_write(cdir / "env", f"{name}E={i}\n".encode(), TRUNC)


def _process_main(cdir, name, how, status):
    try:
        (opts_writer if how == "opts" else env_writer)(cdir, name)
        status.put((name, "ok"))
    except BaseException as e:  # noqa: BLE001 - reported to the test
        status.put((name, repr(e)))


class Runner:
    """Threads whose exceptions are kept for the test to see."""

    def __init__(self):
        self.threads, self.failures = [], []

    def start(self, fn, *args):
        def body():
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001
                self.failures.append(f"{fn.__name__}{args[1:]}: {e!r}")
        t = threading.Thread(target=body, daemon=True)
        t.start()
        self.threads.append(t)

    def join(self):
        for t in self.threads:
            t.join(JOIN_TIMEOUT)
        assert not [t for t in self.threads if t.is_alive()], "a thread hung"
        assert not self.failures, self.failures


def prefix_of_writes(env: dict, name: str) -> int:
    """How many of writer name's K-writes the env shows; they must be K0..Kn-1."""
    got = sorted(int(k[len(name) + 1:]) for k in env if k.startswith(f"{name}K"))
    assert got == list(range(len(got))), f"{name}: a gap in {got}"
    return len(got)


def test_writers_readers_and_renames_at_once(daemon, tmp_path):
    mnt = daemon.mountpoint
    shared = make_container(mnt, "default", "shared")
    own = [make_container(mnt, "default", f"own{i}") for i in range(2)]
    writers = [f"t{i}" for i in range(3)] + [f"p{i}" for i in range(2)]
    stop = threading.Event()

    def reader(cdir, _name):
        reads, last = 0, {}
        while not stop.is_set() or reads == 0:
            cfg = json.loads(read_text(cdir / "config.json"))    # never torn
            # no env before the first write lands: containerd's default spec has none
            env = dict(e.split("=", 1) for e in cfg["process"].get("env", []))
            for w in writers:
                n = prefix_of_writes(env, w)
                # one reader's reads follow each other: never fewer writes
                assert n >= last.get(w, 0), f"{w}: {n} writes after {last[w]}"
                last[w] = n
            reads += 1

    def churn(_mnt, _name):
        """Make, write, rename and remove containers that others use."""
        for i in range(15):
            c = mnt / "default" / f"tmp{i}"
            c.mkdir()
            one_write(c / "opts", b"WithHostname tmp\n", APPEND)
            os.rename(c, mnt / "default" / f"tmp{i}-r")
            r = subprocess.run(["rm", "-rf", str(mnt / "default" / f"tmp{i}-r")], capture_output=True, text=True)
            assert not (mnt / "default" / f"tmp{i}-r").exists(), r.stderr

    def user(_mnt, _name):
        """Write and read whatever tmp container is there: success or a
        sensible errno, nothing else."""
        for _ in range(200):
            for name in os.listdir(mnt / "default"):
                if not name.startswith("tmp"):
                    continue
                c = mnt / "default" / name
                for op in (lambda: one_write(c / "env", b"U=1\n", TRUNC),
                           lambda: json.loads(read_text(c / "config.json")),
                           lambda: read_text(c / "opts")):
                    try:
                        op()
                    except OSError as e:
                        assert e.errno in GONE, f"{name}: {errno.errorcode.get(e.errno)}"

    runner = Runner()
    ctx = multiprocessing.get_context("fork")
    status = ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(shared, w, "opts", status), daemon=True)
             for w in writers if w.startswith("p")]
    for p in procs:
        p.start()
    for w in writers:
        if w.startswith("t"):
            runner.start(opts_writer, shared, w)
    runner.start(env_writer, shared, "e0")
    for i, c in enumerate(own):
        runner.start(opts_writer, c, "t0")
        runner.start(env_writer, c, f"o{i}")
    readers = Runner()
    for _ in range(2):
        readers.start(reader, shared, "shared")
    readers.start(reader, own[0], "own0")
    runner.start(churn, mnt, "churn")
    runner.start(user, mnt, "user")

    runner.join()
    for p in procs:
        p.join(JOIN_TIMEOUT)
    assert not [p for p in procs if p.is_alive()], "a writer process hung"
    results = sorted(status.get(timeout=5) for _ in procs)
    assert results == [(w, "ok") for w in writers if w.startswith("p")]
    stop.set()
    readers.join()

    assert daemon.proc.poll() is None, "the daemon died"
    # no write lost: one line per acknowledged write, each writer's in order
    lines = read_text(shared / "opts").splitlines()
    assert len(lines) == len(writers) * WRITES + WRITES
    for w in writers:
        ours = [line for line in lines if line.startswith(f"WithEnv {w}K")]
        assert ours == [f"WithEnv {w}K{i}={i}" for i in range(WRITES)]
    assert [line for line in lines if line.startswith("WithEnv e0E=")] == \
        [f"WithEnv e0E={i}" for i in range(WRITES)]
    env = dict(e.split("=", 1) for e in json.loads(read_text(shared / "config.json"))["process"]["env"])
    assert env["e0E"] == str(WRITES - 1)
    for w in writers:
        assert prefix_of_writes(env, w) == WRITES
    for i, c in enumerate(own):
        assert len(read_text(c / "opts").splitlines()) == 2 * WRITES
    assert sorted(os.listdir(mnt / "default")) == ["own0", "own1", "shared"]


def test_mkdirs_in_many_namespaces_at_once_beside_namespace_renames_and_removals(daemon):
    """mkdirs in different namespaces run at once (the kernel makes one
    directory's entries one at a time, the daemon lets its tree go while a
    mkdir's directory and journal record are made). A namespace being
    renamed or removed meanwhile waits for them or says ENOTEMPTY: every
    mkdir that returned is there, under the namespace's name of the end,
    and again after a restart."""
    mnt = daemon.mountpoint
    spaces = [f"ns{k}" for k in range(4)]
    for ns in spaces:
        (mnt / ns).mkdir()
    made = {ns: [] for ns in spaces}
    stop = threading.Event()
    where = {"ns0": "ns0"}     # ns0's name now: the renamer moves it to and fro

    def creator(_mnt, ns):
        for i in range(60):
            # ns0 is renamed under its creator: a mkdir then finds no ns0
            name = where.get(ns, ns)
            try:
                (mnt / name / f"c{i}").mkdir()
            except FileNotFoundError:
                assert ns == "ns0", f"{ns}/c{i}: ENOENT"
                continue
            made[ns].append(f"c{i}")

    def renamer(_mnt, _name):
        n = 0
        while not stop.is_set() or n == 0:
            new = "ns0-b" if where["ns0"] == "ns0" else "ns0"
            os.rename(mnt / where["ns0"], mnt / new)
            where["ns0"] = new
            n += 1

    (mnt / "gone").mkdir()
    gone_made = []

    def gone_creator(_mnt, _name):
        for i in range(60):
            try:
                (mnt / "gone" / f"c{i}").mkdir()
            except FileNotFoundError:
                return      # removed before any mkdir in it returned
            gone_made.append(f"c{i}")

    def remover(_mnt, _name):
        """rmdir of a namespace while mkdirs in it are under way: it goes
        only while none was made, else ENOTEMPTY."""
        while not stop.is_set():
            try:
                os.rmdir(mnt / "gone")
                return
            except OSError as e:
                assert e.errno == errno.ENOTEMPTY, e

    creators = Runner()
    for ns in spaces:
        creators.start(creator, mnt, ns)
    creators.start(gone_creator, mnt, "gone")
    others = Runner()
    others.start(renamer, mnt, "renamer")
    others.start(remover, mnt, "remover")
    creators.join()
    stop.set()
    others.join()
    if (mnt / "gone").exists():
        assert sorted(os.listdir(mnt / "gone")) == sorted(gone_made)
    else:
        assert gone_made == [], "a namespace was removed after a mkdir in it returned"

    def listed():
        return {ns: sorted(os.listdir(mnt / where.get(ns, ns))) for ns in spaces}

    want = {ns: sorted(names) for ns, names in made.items()}
    assert all(len(want[ns]) == 60 for ns in spaces[1:])
    assert listed() == want
    daemon.stop()
    daemon.start()
    assert listed() == want
    assert daemon.proc.poll() is None
