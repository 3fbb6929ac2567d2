"""Running the bundlefs daemon for a test: a private state directory and
mount point, start, stop with a signal, kill -9, restart."""
import ctypes
import errno
import os
import pathlib
import signal
import subprocess
import time

from .sanitizers import assert_no_sanitizer_report

MNT_DETACH = 2

# Mount points of the Daemons running now (the tests' time limit aborts them).
RUNNING = set()


def real_path(path) -> str:
    """realpath(3) of path's directory, then its name: never a look-up on
    path itself, which may be a dead mount that would not answer."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def fuse_connection_of(path):
    """The FUSE connection (fusectl's number: the device's minor) mounted
    right on path, per /proc/self/mountinfo, or None."""
    real = real_path(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == real and fields[sep + 1].startswith("fuse"):
                return fields[2].split(":")[1]
    return None


def fuse_mounted_on(path) -> bool:
    """Is a FUSE filesystem mounted right on path?"""
    return fuse_connection_of(path) is not None


def mounts_under(path) -> list:
    """Mount points at or below path."""
    real = real_path(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp == real or mp.startswith(real + "/"):
                out.append(mp)
    return out


FUSECTL = "/sys/fs/fuse/connections"


def ensure_fusectl():
    """Mount fusectl on /sys/fs/fuse/connections where it is not (a fresh
    machine may not have it). Returns True if it was mounted here."""
    with open("/proc/self/mountinfo") as f:
        if any(line.split()[4] == FUSECTL for line in f):
            return False
    subprocess.run(["mount", "-t", "fusectl", "none", FUSECTL], check=True, capture_output=True)
    return True


def abort_connection(minor):
    """Abort FUSE connection `minor` (fusectl): every request waiting on it
    fails with ENOTCONN, so whatever waits on a hung tree wakes up."""
    ensure_fusectl()
    try:
        with open(f"{FUSECTL}/{minor}/abort", "w") as a:
            a.write("1")
    except FileNotFoundError:
        pass  # the connection is gone already


def abort_fuse_connection(path):
    """Abort the FUSE connection mounted on path, if any."""
    minor = fuse_connection_of(path)
    if minor is not None:
        abort_connection(minor)


def bundlefs_mounts() -> dict:
    """Every bundlefs tree mounted now: mount point -> connection number."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "fuse.bundlefs":
                out[fields[4]] = fields[2].split(":")[1]
    return out


def _zombie(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def lazy_unmount(path):
    libc = ctypes.CDLL(None, use_errno=True)
    while fuse_mounted_on(path):
        if libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
            break


class Daemon:
    """One bundlefs process serving `mountpoint` from `state`."""

    def __init__(self, binary, state, mountpoint, extra_args=(), wrap=()):
        self.binary = pathlib.Path(binary)
        self.wrap = [str(w) for w in wrap]  # a program (and arguments) the daemon runs under
        self.state = pathlib.Path(state)
        self.mountpoint = pathlib.Path(mountpoint)
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = self.state.parent / f"{self.state.name}.log"

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=10.0):
        """Start the daemon and wait until the tree answers. After a kill -9
        the dead mount is still on the mount point, answering ENOTCONN, until
        the new daemon has cleaned it up and mounted again."""
        try:
            self.mountpoint.mkdir(parents=True)
        except FileExistsError:
            pass  # there, perhaps under a dead mount
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.wrap, str(self.binary), "-f", "--state", str(self.state), *self.extra_args, str(self.mountpoint)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        RUNNING.add(real_path(self.mountpoint))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bundlefs exited with {self.proc.returncode}: {self.log()}")
            if fuse_mounted_on(self.mountpoint):
                try:
                    os.listdir(self.mountpoint)
                    return self
                except OSError as e:
                    if e.errno not in (errno.ENOTCONN, errno.ECONNABORTED):
                        raise
            time.sleep(0.02)
        raise AssertionError(f"bundlefs did not serve {self.mountpoint} within {timeout}s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15.0) -> int:
        """Signal the daemon and wait for it; returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        self.proc.send_signal(signal.SIGCONT)  # a test may have stopped it
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"bundlefs did not stop on {sig!r}: {self.log()}")

    def helpers(self) -> list:
        """The daemon's child processes (its mount helper)."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def kill9(self):
        """SIGKILL the daemon: it and its mount helper must be gone within
        seconds, with nobody's help (no thread of the daemon ever waits on
        its own tree). If not, abort its connection so that the run goes on,
        and fail."""
        if not self.proc or self.proc.poll() is not None:
            return
        helpers = self.helpers()
        self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            abort_fuse_connection(self.mountpoint)
            self.proc.wait(10)
            raise AssertionError(f"bundlefs {self.pid} did not exit within 10 s of SIGKILL")
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{p}") and not _zombie(p) for p in helpers):
            assert time.monotonic() < deadline, f"the mount helper of bundlefs {self.pid} outlived it"
            time.sleep(0.01)

    def cleanup(self):
        """Whatever happened, leave no process and no mount behind; then fail
        if a sanitizer reported an error in any run of this daemon."""
        try:
            if self.proc and self.proc.poll() is None:
                try:
                    self.stop()
                except AssertionError:
                    pass
            self.kill9()
        finally:
            lazy_unmount(self.mountpoint)
            RUNNING.discard(real_path(self.mountpoint))
        assert_no_sanitizer_report(self.log(), f"bundlefs serving {self.mountpoint}")


def make_container(mountpoint, ns="default", cid="c1", timeout=10.0) -> pathlib.Path:
    """mkdir <mnt>/<ns>/<id>, then wait until its rootfs bind mount is in place
    (the daemon makes it just after mkdir returns; until then the rootfs is
    served through FUSE, which works but is not what these tests look at)."""
    mnt = pathlib.Path(mountpoint)
    (mnt / ns).mkdir(exist_ok=True)
    path = mnt / ns / cid
    path.mkdir()
    target = os.path.realpath(path / "rootfs")
    deadline = time.monotonic() + timeout
    while target not in mounts_under(target):
        assert time.monotonic() < deadline, f"{target} was not bind-mounted within {timeout}s"
        time.sleep(0.01)
    return path


def remove_container(path):
    """rm -rf of a container: empty its rootfs, then rmdir it."""
    subprocess.run(["rm", "-rf", str(path)], capture_output=True)
    assert not os.path.exists(path), f"{path} still exists"
