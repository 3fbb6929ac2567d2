"""Shared pytest fixtures: where the built programs and the conformance data are."""
import os
import pathlib
import shutil
import tempfile

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
