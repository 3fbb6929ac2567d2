"""The conformance cases, rendered with bundlefs-render.

One test per case file (../shared/conformance when it exists, else the copy in
tests/conformance; the pytest header says which). Each case gets its own
bundle whose rootfs/ is a copy of the case's bundle_rootfs fixture, and
@FIXTURES@ stands for a session-wide copy of the fixtures directory.

- An `expect` case renders and its config.json equals expect as JSON values:
  key order aside, everything counts (array order, types, exact numbers,
  absent vs null vs {} / []).
- An `error` case is refused at its last line: all its lines together are
  refused (exit 1, one line on stderr) while all but the last render.

Cases marked host_dependent record what containerd took from the machine it
ran on. INTERFACE.md section 5 says to compare them exactly except for those
host-derived fields, which the test computes from the machine it runs on, and
never to skip them. So for those cases support.hostfacts computes:

- the capability lists WithAllCurrentCapabilities / WithPrivileged fill: the
  effective set of the rendering process, as containerd's pkg/cap names it;
- the linux.devices WithHostDevices appends: containerd's walk of /dev
  (oci/utils_unix.go) redone in Python;

and everything else in the case is still compared as recorded.
"""
import os

import pytest

from support import (
    CAPABILITY_NAMES,
    STORED_SYMLINKS,
    all_cases,
    capability_names,
    conformance_dir,
    copy_fixtures,
    run_case_with_cli,
)
from support.hostfacts import CAPABILITY_SETS, HOST_CAPABILITY_OPS

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.file_name for c in CASES])
def test_case(case, render_bin, fixtures_copy, tmp_path):
    run_case_with_cli(render_bin, case, fixtures_copy, tmp_path)


def test_there_are_cases_of_both_kinds():
    assert any(c.is_error for c in CASES) and any(not c.is_error for c in CASES), \
        f"no cases found in {conformance_dir()}"


def test_fixture_copy_has_real_symlinks(fixtures_copy):
    source = conformance_dir() / "fixtures"
    for rel in STORED_SYMLINKS:
        link = fixtures_copy / rel
        assert link.is_symlink(), f"{rel} should be a symlink in the fixtures copy"
        original = source / rel
        target = os.readlink(original) if original.is_symlink() else original.read_text().strip()
        assert os.readlink(link) == target


def test_fixture_copy_is_private_and_writable(tmp_path):
    copy = copy_fixtures(tmp_path)
    assert copy != conformance_dir() / "fixtures"
    (copy / "rootfs" / "etc" / "scratch").write_text("x")
    assert not (conformance_dir() / "fixtures" / "rootfs" / "etc" / "scratch").exists()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.host_dependent and not c.is_error
             and any(op.split()[0] in HOST_CAPABILITY_OPS for op in c.ops)],
    ids=lambda c: c.file_name)
def test_recorded_host_capabilities_look_like_cap_current(case):
    """The capability lists a host_dependent case recorded are what
    containerd's cap.Current() gives (known names in bit order), which is the
    form the test computes for this machine."""
    caps = case.expect["process"]["capabilities"]
    for key in CAPABILITY_SETS:
        recorded = caps.get(key, [])
        mask = sum(1 << CAPABILITY_NAMES.index(name) for name in recorded)
        assert recorded == capability_names(mask), f"{key} is not in cap.Current() form"
