"""The test harness itself: no test can hang the run, even on a machine
where fusectl is not mounted yet."""
import errno
import os
import pathlib
import signal
import subprocess
import sys
import time

from harness.hung_tree import stopped
from support.mount import FUSECTL, abort_fuse_connection, make_container

HERE = pathlib.Path(__file__).resolve().parent


def unmount_fusectl():
    """Leave the machine as a fresh one is: fusectl not mounted."""
    with open("/proc/self/mountinfo") as f:
        if any(line.split()[4] == FUSECTL for line in f):
            subprocess.run(["umount", FUSECTL], check=True)
    assert os.listdir(FUSECTL) == []


def test_a_hung_tree_is_aborted_even_where_fusectl_was_not_mounted(daemon):
    make_container(daemon.mountpoint, "default", "c1")
    os.kill(daemon.pid, signal.SIGSTOP)
    while not stopped(daemon.pid):
        time.sleep(0.01)
    try:
        waiter = subprocess.Popen([sys.executable, "-c", f"""
import errno, os, sys
try:
    os.stat({str(daemon.mountpoint / "default" / "nobody-answers")!r})
except OSError as e:
    sys.exit(e.errno)
"""])
        time.sleep(0.5)
        assert waiter.poll() is None, "the look-up should wait for the stopped daemon"
        unmount_fusectl()
        abort_fuse_connection(daemon.mountpoint)
        assert waiter.wait(10) in (errno.ENOTCONN, errno.ECONNABORTED)
        assert os.listdir(FUSECTL), "fusectl was mounted to abort the connection"
    finally:
        os.kill(daemon.pid, signal.SIGCONT)


def test_a_test_that_hangs_fails_within_its_time_limit(tmp_path):
    unmount_fusectl()
    start = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(HERE),
         "--basetemp", str(tmp_path / "inner"), str(HERE / "harness" / "hung_tree.py")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    took = time.monotonic() - start
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed in" in r.stdout, r.stdout
    assert "the test ran longer than its 3 s limit: the trees it mounted were aborted" in r.stdout, r.stdout
    assert took < 60, f"the hung test took {took:.0f} s to fail"
