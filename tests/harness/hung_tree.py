"""Run by tests/test_harness.py in a pytest of its own: a test that hangs on
a tree whose daemon stopped answering. Its time limit must turn the hang
into a failure within seconds, not leave the run waiting."""
import os
import signal
import time

import pytest


def stopped(pid) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


@pytest.mark.time_limit(3)
def test_hangs_on_a_stopped_daemon(daemon):
    os.kill(daemon.pid, signal.SIGSTOP)
    while not stopped(daemon.pid):
        time.sleep(0.01)
    os.stat(daemon.mountpoint / "nobody-answers")    # waits for the daemon
