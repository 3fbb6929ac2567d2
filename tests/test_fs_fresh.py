"""Freshness (INTERFACE.md section 4): config.json and the control files are
always a fresh rendering of the list against the current rootfs and host
files, sizes reported by stat match what a read returns, a read that starts
after a write returned sees it from any process, and concurrent writers
lose nothing."""
import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

from support import copy_rootfs
from support.ctl import (
    CONTAINER_FILES,
    append_opts,
    assert_config_fresh,
    config,
    error_text,
    opts_lines,
    read,
    read_bytes,
    sh,
    wait_rootfs_mounted,
    write_value,
)


@pytest.fixture
def box(ctr, fixtures_copy):
    """default/c1 with the conformance fixtures rootfs (alice 1000:1000, ...)."""
    wait_rootfs_mounted(ctr)
    copy_rootfs(fixtures_copy / "rootfs", ctr / "rootfs")
    return ctr


def read_errno(path):
    """The errno reading path fails with, or None if it reads."""
    try:
        read_bytes(path)
    except OSError as e:
        return e.errno
    return None


def assert_not_rendering(ctr, *names):
    """Reading config.json (and the given control files) fails with EIO, and
    error says why in one line."""
    for name in ("config.json",) + names:
        assert read_errno(ctr / name) == errno.EIO, f"{name} read while the list does not render"
    err = error_text(ctr)
    assert err.endswith("\n") and err.count("\n") == 1 and err.strip(), f"error holds {err!r}"
    return err


def assert_sizes_match(ctr):
    """st_size of every file of the container is the length a read returns."""
    bad = []
    for name in CONTAINER_FILES:
        path = ctr / name
        size = os.stat(path).st_size
        data = read_bytes(path)
        if size != len(data):
            bad.append(f"{name}: st_size {size}, read {len(data)} bytes")
    assert not bad, "sizes disagree with contents:\n  " + "\n  ".join(bad)


# --- the rootfs's /etc/passwd ----------------------------------------------------------


def test_user_follows_edits_of_passwd(render_bin, box):
    passwd = box / "rootfs" / "etc" / "passwd"
    original = passwd.read_text()
    write_value(box / "user", "alice")
    user = config(box)["process"]["user"]
    assert (user["uid"], user["gid"]) == (1000, 1000)

    passwd.write_text(original.replace("alice:x:1000:1000:", "alice:x:15000:1000:"))
    user = config(box)["process"]["user"]
    assert (user["uid"], user["gid"]) == (15000, 1000)
    assert read(box / "user") == "15000:1000\n"
    assert_config_fresh(render_bin, box)
    assert_sizes_match(box)

    # A same-size edit right after: still seen (no cache keyed on size or mtime).
    passwd.write_text(original.replace("alice:x:1000:1000:", "alice:x:16000:1000:"))
    assert config(box)["process"]["user"]["uid"] == 16000
    assert read(box / "user") == "16000:1000\n"
    assert opts_lines(box) == ["WithUser alice"]


def test_a_user_removed_from_passwd_makes_config_unreadable_until_restored(render_bin, box):
    passwd = box / "rootfs" / "etc" / "passwd"
    original = passwd.read_text()
    write_value(box / "user", "alice")
    good = read(box / "config.json")

    passwd.write_text("".join(l for l in original.splitlines(True) if not l.startswith("alice:")))
    assert_not_rendering(box, "user", "caps", "env")
    # The list itself is still there, and stat still works.
    assert opts_lines(box) == ["WithUser alice"]
    assert os.stat(box / "config.json").st_size >= 0

    passwd.write_text(original)
    assert read(box / "config.json") == good
    assert error_text(box) == ""
    assert read(box / "user") == "1000:1000\n"
    assert_sizes_match(box)


def test_a_missing_passwd_makes_config_unreadable_until_restored(box):
    passwd = box / "rootfs" / "etc" / "passwd"
    write_value(box / "user", "bob:video")
    good = read(box / "config.json")
    passwd.rename(passwd.with_name("passwd.away"))
    assert_not_rendering(box, "user")
    passwd.with_name("passwd.away").rename(passwd)
    assert read(box / "config.json") == good
    assert error_text(box) == ""


def test_a_refused_write_error_is_not_cleared_by_a_read(box):
    # `error` from a refused write stays until the next accepted write, even
    # though config.json reads fine in between.
    with pytest.raises(OSError):
        write_value(box / "user", "nosuchuser")
    err = error_text(box)
    assert err.strip()
    read(box / "config.json")
    assert error_text(box) == err


# --- env files and image configs ----------------------------------------------------------


def test_env_file_edits_show_up_without_a_write(render_bin, ctr, tmp_path):
    envfile = tmp_path / "app.env"
    envfile.write_text("A=1\nB=2\n")
    append_opts(ctr, f"WithEnvFile {envfile}\n")
    assert config(ctr)["process"]["env"] == ["A=1", "B=2"]

    envfile.write_text("A=9\nB=2\nC=3\n")
    assert config(ctr)["process"]["env"] == ["A=9", "B=2", "C=3"]
    assert read(ctr / "env") == "A=9\nB=2\nC=3\n"
    # Same size, same second.
    envfile.write_text("A=8\nB=2\nC=3\n")
    assert config(ctr)["process"]["env"] == ["A=8", "B=2", "C=3"]
    assert_config_fresh(render_bin, ctr)
    assert_sizes_match(ctr)

    envfile.unlink()
    assert_not_rendering(ctr, "env")
    envfile.write_text("A=1\n")
    assert config(ctr)["process"]["env"] == ["A=1"]
    assert error_text(ctr) == ""


def test_image_config_edits_show_up_without_a_write(render_bin, box, fixtures_copy, tmp_path):
    image = tmp_path / "image.json"
    shutil.copy(fixtures_copy / "images" / "user-name.json", image)
    write_value(box / "image", str(image))
    assert config(box)["process"]["args"] == ["/bin/bash", "-l"]

    data = json.loads(image.read_text())
    data["config"]["Cmd"] = ["/usr/bin/top", "-b"]
    data["config"]["User"] = "bob"
    image.write_text(json.dumps(data))
    cfg = config(box)
    assert cfg["process"]["args"] == ["/usr/bin/top", "-b"]
    assert cfg["process"]["user"]["uid"] == 1001
    assert read(box / "args") == "/usr/bin/top\n-b\n"
    assert read(box / "user") == "1001:1001\n"
    assert_config_fresh(render_bin, box)
    assert_sizes_match(box)

    image.write_text("{ not json")
    assert_not_rendering(box, "args")
    image.write_text(json.dumps(data))
    assert config(box)["process"]["args"] == ["/usr/bin/top", "-b"]
    assert error_text(box) == ""


# --- sizes -----------------------------------------------------------------------------


def test_sizes_match_contents_before_and_after_changes(render_bin, box, tmp_path):
    assert_sizes_match(box)
    write_value(box / "env", "A=1\nB=x y")
    write_value(box / "args", "/bin/sh\n-c\nexit 0")
    write_value(box / "caps", "+CAP_SYS_ADMIN")
    write_value(box / "user", "alice")
    write_value(box / "memory.limit", "1G")
    write_value(box / "devices", "/dev/null rwm")
    write_value(box / "mounts", "-/run")
    assert_sizes_match(box)
    with pytest.raises(OSError):
        write_value(box / "caps", "CAP_BOGUS")
    assert error_text(box)
    assert_sizes_match(box)
    sh("truncate -s 0 opts", cwd=box)
    write_value(box / "platform", "windows/amd64")
    write_value(box / "memory.limit", "2G")
    assert_sizes_match(box)


def test_tools_that_trust_st_size_get_the_whole_file(box, tmp_path):
    write_value(box / "user", "alice")
    write_value(box / "env", "GREETING=hello world")
    passwd = box / "rootfs" / "etc" / "passwd"
    passwd.write_text(passwd.read_text().replace("alice:x:1000:", "alice:x:123456:"))
    for name in ("config.json", "user", "opts", "caps", "mounts"):
        want = read_bytes(box / name)
        size = os.stat(box / name).st_size
        assert size == len(want), f"{name}: st_size {size}, content {len(want)} bytes"
        # head -c st_size and a sized read(2) get everything.
        got = subprocess.run(["head", "-c", str(size), str(box / name)], capture_output=True, check=True).stdout
        assert got == want, name
        fd = os.open(box / name, os.O_RDONLY)
        try:
            assert os.read(fd, size) == want
            assert os.read(fd, 4096) == b""
        finally:
            os.close(fd)
    assert json.loads(read(box / "config.json"))["process"]["user"]["uid"] == 123456


# --- visibility across processes ------------------------------------------------------------


def test_a_read_after_a_write_sees_it_from_another_process(ctr):
    for i in range(30):
        write_value(ctr / "hostname", f"host{i}")
        out = subprocess.run(["cat", str(ctr / "hostname"), str(ctr / "config.json"), str(ctr / "opts")],
                             capture_output=True, text=True, check=True).stdout
        assert out.startswith(f"host{i}\n"), out[:100]
        assert f'"hostname":"host{i}"' in out
        assert out.endswith(f"WithHostname host{i}\n")


def test_a_write_by_another_process_is_seen_by_the_next_read(ctr):
    for i in range(30):
        sh(f"printf 'V{i}=x\\n' > env && printf 'WithDomainname d{i}\\n' >> opts", cwd=ctr)
        assert f"V{i}=x\n" in read(ctr / "env")
        assert config(ctr)["domainname"] == f"d{i}"
        assert os.stat(ctr / "domainname").st_size == len(f"d{i}\n")


WRITER = r"""
import os, sys
path, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
for i in range(n):
    line = f"WithAnnotations w{w}-l{i}={'x' * (i % 13)}\n".encode()
    assert os.write(fd, line) == len(line)
os.close(fd)
"""


def test_concurrent_appenders_lose_nothing_and_never_interleave(render_bin, ctr):
    writers, per = 8, 50
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(ctr / "opts"), str(w), str(per)])
             for w in range(writers)]
    for p in procs:
        assert p.wait(120) == 0
    got = opts_lines(ctr)
    want = {f"WithAnnotations w{w}-l{i}={'x' * (i % 13)}" for w in range(writers) for i in range(per)}
    assert len(got) == writers * per
    assert set(got) == want, f"torn or foreign lines: {sorted(set(got) - want)[:5]}"
    for w in range(writers):
        mine = [l for l in got if l.startswith(f"WithAnnotations w{w}-")]
        assert mine == [f"WithAnnotations w{w}-l{i}={'x' * (i % 13)}" for i in range(per)], \
            f"writer {w}'s lines are out of order"
    cfg = assert_config_fresh(render_bin, ctr)
    assert len(cfg["annotations"]) == writers * per
    assert error_text(ctr) == ""


CTL_WRITER = r"""
import os, sys
ctr, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    fd = os.open(os.path.join(ctr, "env"), os.O_WRONLY | os.O_TRUNC)
    v = f"W{w}_{i}=v{i}\n".encode()
    assert os.write(fd, v) == len(v)
    os.close(fd)
"""


def test_concurrent_control_file_writers_lose_nothing(render_bin, ctr):
    writers, per = 8, 20
    procs = [subprocess.Popen([sys.executable, "-c", CTL_WRITER, str(ctr), str(w), str(per)])
             for w in range(writers)]
    for p in procs:
        assert p.wait(120) == 0
    got = opts_lines(ctr)
    assert sorted(got) == sorted(f"WithEnv W{w}_{i}=v{i}" for w in range(writers) for i in range(per))
    env = read(ctr / "env").splitlines()
    assert sorted(env) == sorted(f"W{w}_{i}=v{i}" for w in range(writers) for i in range(per))
    assert_config_fresh(render_bin, ctr)


# --- the rootfs right after mkdir --------------------------------------------------------


@pytest.mark.parametrize("first_op", ["mkdir", "symlink", "create", "cp -a"])
def test_the_rootfs_is_usable_as_soon_as_mkdir_returns(mnt, fixtures_copy, first_op):
    """`mkdir c && mkdir c/rootfs/etc`: the first operation in a new
    container's rootfs, right after mkdir returned, works (INTERFACE.md
    section 1: cp -a and tar -x of a root filesystem work)."""
    (mnt / "default").mkdir()
    failures, tries = [], 50
    for i in range(tries):
        c = mnt / "default" / f"c{i}"
        os.mkdir(c)
        try:
            if first_op == "mkdir":
                os.mkdir(c / "rootfs" / "etc")
            elif first_op == "symlink":
                os.symlink("busybox", c / "rootfs" / "sh")
            elif first_op == "create":
                with open(c / "rootfs" / "file", "w") as f:
                    f.write("x\n")
            else:
                subprocess.run(["cp", "-a", f"{fixtures_copy / 'rootfs'}/.", str(c / "rootfs")],
                               check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            failures.append(f"c{i}: {getattr(e, 'stderr', b'') or e}")
    assert not failures, f"{len(failures)} of {tries} new containers refused a first {first_op} in rootfs: {failures[:3]}"


def test_readers_see_whole_renderings_while_writers_append(ctr):
    """config.json read during concurrent appends is always one whole
    rendering: it parses, and its annotations are a prefix of the writes."""
    import threading
    from support import loads_strict
    stop = threading.Event()
    problems = []
    reads = [0]

    def reader():
        while not stop.is_set():
            try:
                cfg = loads_strict(read(ctr / "config.json"))
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                problems.append(repr(e))
                return
            reads[0] += 1
            n = len(cfg.get("annotations") or {})
            if set((cfg.get("annotations") or {}).keys()) != {f"k{i}" for i in range(n)}:
                problems.append(f"annotations {sorted(cfg['annotations'])[:5]}... are not k0..k{n - 1}")
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(150):
            append_opts(ctr, f"WithAnnotations k{i}=v{i}\n")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not problems, problems[:3]
    assert reads[0] > 0
    assert len(config(ctr)["annotations"]) == 150
