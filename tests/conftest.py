"""Shared pytest fixtures: where the built programs and the conformance data are."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def build_dir() -> pathlib.Path:
    """The meson build directory under test (BUNDLEFS_BUILD, else ./build)."""
    return pathlib.Path(os.environ.get("BUNDLEFS_BUILD", REPO / "build")).resolve()


@pytest.fixture(scope="session")
def render_bin() -> pathlib.Path:
    path = build_dir() / "mountd" / "bundlefs-render"
    assert path.exists(), f"{path} is not built; run meson/ninja first"
    return path
