"""Shared pytest fixtures: where the built programs and the conformance data are."""
import os
import pathlib
import shutil
import signal
import tempfile
import threading

import pytest

from support import conformance_source, copy_fixtures, schema_dir

REPO = pathlib.Path(__file__).resolve().parent.parent


def build_dir() -> pathlib.Path:
    """The meson build directory under test (BUNDLEFS_BUILD, else ./build)."""
    return pathlib.Path(os.environ.get("BUNDLEFS_BUILD", REPO / "build")).resolve()


def pytest_report_header(config):
    return [
        f"bundlefs build: {build_dir()}",
        f"bundlefs conformance data: {conformance_source()}",
        f"bundlefs runtime-spec schema: {schema_dir()}",
    ]


# Every test has a time limit (@pytest.mark.time_limit(seconds) changes it).
TIME_LIMIT = 240


class TimeLimitExceeded(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): this test's time limit (default %d s)" % TIME_LIMIT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test whose time limit passed fails, whatever it made of being
    interrupted (an exception raised by a signal handler can land anywhere)."""
    outcome = yield
    report = outcome.get_result()
    expired = getattr(item, "time_limit_expired", None)
    if expired and report.when in ("call", "teardown") and not getattr(item, "time_limit_reported", False):
        item.time_limit_reported = True
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: {expired}"


@pytest.fixture(autouse=True)
def time_limit(request):
    """A hang becomes one clear failure, and the run goes on. When the time
    limit passes, the bundlefs trees of this run are aborted, so whatever waits on
    them, in any process, fails with ENOTCONN; then the test is interrupted.
    Trees a test leaves mounted with no Daemon running are aborted and
    unmounted, and fail it. Only this run's trees are looked at: other runs
    may be mounting theirs on the same machine."""
    from support.mount import RUNNING, abort_connection, bundlefs_mounts, lazy_unmount

    base = str(request.config._tmp_path_factory.getbasetemp()) + "/"

    def ours():
        return {mp: minor for mp, minor in bundlefs_mounts().items() if mp.startswith(base) or mp in RUNNING}

    marker = request.node.get_closest_marker("time_limit")
    limit = marker.args[0] if marker else TIME_LIMIT
    before = set(ours())
    expired = threading.Event()
    main = threading.main_thread().ident

    def expire():
        request.node.time_limit_expired = f"the test ran longer than its {limit} s limit: the trees it mounted were aborted"
        expired.set()
        # The signal ends a wait the daemon has not picked up yet; aborting
        # the trees ends the others.
        signal.pthread_kill(main, signal.SIGALRM)
        for mountpoint, minor in ours().items():
            abort_connection(minor)

    def interrupt(signum, frame):
        raise TimeLimitExceeded(f"the test ran longer than its {limit} s limit")

    previous = signal.signal(signal.SIGALRM, interrupt)
    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGALRM, previous)
    # Trees of daemons still running (a module's shared tree) are their
    # fixtures' to stop.
    left = {mp: minor for mp, minor in ours().items() if mp not in before and mp not in RUNNING}
    for mountpoint, minor in left.items():
        abort_connection(minor)
        lazy_unmount(mountpoint)
    assert not left, f"the test left bundlefs trees mounted (aborted and unmounted now): {sorted(left)}"


@pytest.fixture(scope="session")
def render_bin() -> pathlib.Path:
    path = build_dir() / "mountd" / "bundlefs-render"
    assert path.exists(), f"{path} is not built; run meson/ninja first"
    return path


@pytest.fixture(scope="session")
def fixtures_copy(tmp_path_factory) -> pathlib.Path:
    """A private copy of the conformance fixtures, symlinks as symlinks: the
    value of @FIXTURES@ for the whole session."""
    return copy_fixtures(tmp_path_factory.mktemp("conformance"))


@pytest.fixture(scope="session")
def bundlefs_bin() -> pathlib.Path:
    path = build_dir() / "mountd" / "bundlefs"
    assert path.exists(), f"{path} is not built; run meson/ninja first"
    assert os.geteuid() == 0, "the mounted-tree tests run as root (bundlefs bind-mounts rootfs directories)"
    return path


@pytest.fixture
def daemon(bundlefs_bin, tmp_path):
    """A running bundlefs on a fresh state directory: tmp_path/state served at
    tmp_path/mnt. Stopped (and any mount removed) at the end."""
    from support.mount import Daemon

    d = Daemon(bundlefs_bin, tmp_path / "state", tmp_path / "mnt").start()
    yield d
    d.cleanup()


@pytest.fixture
def mnt(daemon) -> pathlib.Path:
    return daemon.mountpoint


@pytest.fixture
def ctr(mnt) -> pathlib.Path:
    """The container default/c1 of a fresh tree."""
    from support.mount import make_container

    return make_container(mnt, "default", "c1")


@pytest.fixture
def public_daemon(bundlefs_bin, tmp_path):
    """A daemon whose mount point other users can reach (pytest's tmp_path
    lies under a 0700 directory): mounted on a 0755 directory in /tmp."""
    from support.mount import Daemon

    top = tempfile.mkdtemp(prefix="bundlefs-public-")
    os.chmod(top, 0o755)
    os.mkdir(os.path.join(top, "mnt"), 0o755)
    d = Daemon(bundlefs_bin, tmp_path / "state", os.path.join(top, "mnt"))
    try:
        d.start()
        yield d
    finally:
        d.cleanup()
        shutil.rmtree(top, ignore_errors=True)
