"""What open files cost the daemon (docs/bundlefs.md sections 2 and 6):
open files share rendered content instead of holding a copy each, and what
one user's open files hold is bounded (EMFILE beyond). Measured through the
mount, from an unprivileged uid, with the daemon's resident memory."""
import errno
import json
import os
import subprocess
import sys

import pytest

from support.ctl import read, write_value
from support.mount import make_container

NOBODY = 65534
MIB = 1 << 20
PINS_OPEN_MAX = 16384
PINS_BYTES_MAX = 64 * MIB

# A program run as nobody that opens, reads and closes files of the tree on
# command: one JSON command a line on stdin, one JSON answer a line on stdout.
AS_USER = r"""
import json, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd["do"] == "open":
            n = 0
            for _ in range(cmd.get("times", 1)):
                fd = os.open(cmd["path"], os.O_RDONLY)
                held.append(fd)
                os.read(fd, 1)
                n += 1
            answer = {"ok": n}
        elif cmd["do"] == "close":
            for _ in range(cmd["count"]):
                os.close(held.pop(0))
            answer = {"ok": len(held)}
        elif cmd["do"] == "rss":
            with open(f"/proc/{cmd['pid']}/status") as f:
                answer = {"ok": next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))}
    except OSError as e:
        answer = {"errno": e.errno, "done": n if cmd["do"] == "open" else 0}
    print(json.dumps(answer), flush=True)
"""


class User:
    """A process of another uid holding files of the tree open."""

    def __init__(self, uid=NOBODY):
        self.proc = subprocess.Popen([sys.executable, "-c", AS_USER], user=uid, group=uid, extra_groups=[],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def open(self, path, times=1):
        return self.ask(do="open", path=str(path), times=times)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def rss(pid) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def asan_quarantine(daemon) -> int:
    """AddressSanitizer keeps freed memory in a quarantine (256 MiB by
    default) before reusing it, so a sanitizer build's resident memory
    grows by up to that much with any churn of allocations."""
    with open(daemon.binary, "rb") as f:
        return 256 * MIB if b"__asan_init" in f.read() else 0


def big_list(ctr, size=MIB - 64 * 1024):
    """A list of about size bytes (annotations, so config.json and the
    annotations file are that large too)."""
    line_len = 1000
    lines = [f"WithAnnotations k{i:05d}=" + "v" * (line_len - 24) for i in range(size // line_len)]
    text = "".join(line + "\n" for line in lines).encode()
    fd = os.open(ctr / "opts", os.O_WRONLY | os.O_TRUNC)
    try:
        assert os.write(fd, text) == len(text)
    finally:
        os.close(fd)
    return len(text)


@pytest.fixture
def public_ctr(public_daemon):
    return make_container(public_daemon.mountpoint, "default", "c1")


@pytest.mark.time_limit(120)
def test_open_files_share_what_they_show(public_daemon, public_ctr):
    """1,200 open files of three files of about 1 MiB each, held by nobody,
    cost the daemon a few MiB, not 1.2 GiB: each file's bytes are held once."""
    ctr = public_ctr
    size = big_list(ctr)
    for name in ("config.json", "opts", "annotations"):
        assert len(read(ctr / name)) > size * 0.9
    before = rss(public_daemon.pid)
    user = User()
    try:
        for name in ("config.json", "opts", "annotations"):
            assert user.open(ctr / name, times=400) == {"ok": 400}
        during = user.ask(do="rss", pid=public_daemon.pid)["ok"]
    finally:
        user.close()
    grown = during - before
    print(f"daemon VmRSS {before / MIB:.1f} MiB before, {during / MIB:.1f} MiB with 1,200 files of "
          f"{size / MIB:.2f} MiB open")
    # a copy per open file would be 1.2 GiB
    assert grown < 48 * MIB + asan_quarantine(public_daemon), \
        f"the daemon grew by {grown / MIB:.0f} MiB for 1,200 open files"


@pytest.mark.time_limit(120)
def test_what_one_user_holds_open_is_bounded(public_daemon, public_ctr):
    """Each version of a 1 MiB list nobody holds open is 1 MiB more: past
    64 MiB the next open fails with EMFILE; closing some lets it open again,
    and another user (root) is not held back."""
    ctr = public_ctr
    size = big_list(ctr)
    user = User()
    try:
        held = 0
        for i in range(PINS_BYTES_MAX // size + 2):
            answer = user.open(ctr / "opts")
            if "errno" in answer:
                break
            held += 1
            with open(ctr / "opts", "a") as f:
                f.write(f"WithHostname v{i}\n")
        assert answer == {"errno": errno.EMFILE, "done": 0}, answer
        assert PINS_BYTES_MAX // (size + 30 * held) - 1 <= held <= PINS_BYTES_MAX // size
        # the same bytes as one it holds cost nothing more
        write_value(ctr / "hostname", "v-last")
        assert read(ctr / "opts")
        with open(ctr / "opts", "rb") as f:
            assert len(f.read()) > size
        assert user.ask(do="close", count=8) == {"ok": held - 8}
        assert user.open(ctr / "opts") == {"ok": 1}
    finally:
        user.close()
    assert len(read(ctr / "opts")) > size


@pytest.mark.time_limit(120)
def test_how_many_files_one_user_holds_open_is_bounded(public_daemon, public_ctr):
    user = User()
    try:
        assert user.open(public_ctr / "hostname", times=PINS_OPEN_MAX) == {"ok": PINS_OPEN_MAX}
        assert user.open(public_ctr / "hostname") == {"errno": errno.EMFILE, "done": 0}
        # root is not bound
        fds = [os.open(public_ctr / "hostname", os.O_RDONLY) for _ in range(100)]
        for fd in fds:
            os.close(fd)
        assert user.ask(do="close", count=1) == {"ok": PINS_OPEN_MAX - 1}
        assert user.open(public_ctr / "cwd") == {"ok": 1}
    finally:
        user.close()


def test_a_null_in_a_mount_s_options_keeps_the_daemon_alive_for_everyone(public_daemon, public_ctr):
    """The owner appends a mount whose options hold a JSON null; another
    user reads `mounts`, lists the container, tries rm -rf; a restart loads
    the list again. The daemon serves throughout (the null is ``)."""
    ctr = public_ctr
    with open(ctr / "opts", "a") as f:
        f.write('WithMounts [{"destination":"/x","options":[null]}]\n')
    nobody = dict(user=NOBODY, group=NOBODY, extra_groups=[], capture_output=True, text=True)
    cat = subprocess.run(["cat", str(ctr / "mounts")], **nobody)
    assert cat.returncode == 0 and cat.stdout.splitlines()[-1] == "/x - - ", cat
    ls = subprocess.run(["ls", "-l", str(ctr)], **nobody)
    assert ls.returncode == 0 and "mounts" in ls.stdout, ls
    rm = subprocess.run(["rm", "-rf", str(ctr)], **nobody)
    assert rm.returncode != 0 and "Permission denied" in rm.stderr, rm
    assert public_daemon.proc.poll() is None, "the daemon died"
    assert public_daemon.stop() == 0
    public_daemon.start()
    assert read(ctr / "mounts").splitlines()[-1] == "/x - - "
    assert '"options":[""]' in read(ctr / "config.json")
    cat = subprocess.run(["cat", str(ctr / "mounts")], **nobody)
    assert cat.returncode == 0, cat


def test_null_strings_in_args_env_and_capabilities_keep_every_file_readable_by_anyone(public_daemon, public_ctr):
    """A whole spec with null strings in process.args, process.env and each
    capability set (WithSpecFromBytes reads null as ""): every file of the
    container reads, for nobody as for root, and the daemon lives on."""
    ctr = public_ctr
    caps = ["CAP_CHOWN", None]
    spec = {"ociVersion": "1.1.0-rc.1", "root": {"path": "rootfs"},
            "process": {"cwd": "/", "args": ["sh", None], "env": [None, "A=1"],
                        "capabilities": {k: caps for k in ("bounding", "effective", "permitted", "inheritable",
                                                           "ambient")}},
            "mounts": [{"destination": "/y", "type": None, "source": None, "options": [None, "ro"]}],
            "linux": {}}
    with open(ctr / "opts", "a") as f:
        f.write("WithSpecFromBytes " + json.dumps(spec, separators=(",", ":")) + "\n")
    names = sorted(n for n in os.listdir(ctr) if not (ctr / n).is_dir())
    assert "config.json" in names and "caps" in names and "mounts" in names
    script = ("import os, sys\n"
              "for name in sys.argv[2:]:\n"
              "    p = os.path.join(sys.argv[1], name)\n"
              "    os.stat(p)\n"
              "    with open(p, 'rb') as f:\n"
              "        f.read()\n")
    for who in (dict(user=NOBODY, group=NOBODY, extra_groups=[]), {}):
        run = subprocess.run([sys.executable, "-c", script, str(ctr), *names], capture_output=True, text=True,
                             **who)
        assert run.returncode == 0, run.stderr
        assert public_daemon.proc.poll() is None, "the daemon died"
    cfg = json.loads(read(ctr / "config.json"))
    assert cfg["process"]["args"] == ["sh", ""]
    assert cfg["process"]["env"] == ["", "A=1"]
    assert cfg["process"]["capabilities"]["bounding"] == ["CAP_CHOWN", ""]
    assert read(ctr / "args") == "sh\n\n"
