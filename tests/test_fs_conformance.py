"""Every conformance case through a mounted bundlefs tree.

For each case (tests/conformance/README.md, "Running a case"): mkdir the
container, set its platform, copy the case's rootfs fixture into <id>/rootfs
(the bind-mounted real directory), then append each op line to `opts` with one
O_APPEND write(2) per line. An `expect` case: every write succeeds and
config.json equals the expected spec (host-derived fields computed from the
daemon's own capabilities and this machine's /dev). An `error` case: the last
write is refused with the errno of INTERFACE.md section 2's table, changes
nothing (config.json and opts read the same as before it) and leaves one line
in `error`.

One daemon serves the whole module; each test removes its container at the
end so the next case with the same namespace and id starts clean.
"""
import os

import pytest

from support import (
    HostFacts,
    assert_config_matches,
    capeff_of,
    case_files,
    case_ops,
    copy_rootfs,
    load_case,
    loads_strict,
)
from support.mount import Daemon
from support.treeops import (
    append_line,
    errno_name,
    read_bytes,
    read_text,
    refusal_errno,
    replace_with,
    rm_rf,
    write_errno,
)

CASE_FILES = case_files()
HOST_PLATFORM = "linux/amd64"

# Cases with many lines, JSON values and quoted strings: `cat opts > saved;
# cat saved > opts` must give back the same list and the same config.json.
ROUND_TRIP_CASES = (
    "008-spec-from-bytes-minimal.json",
    "017-env-quoted-values.json",
    "149-combo-nonroot-image.json",
    "150-combo-batch-job.json",
    "151-combo-windows-server.json",
    "153-combo-rootless-userns.json",
    "157-combo-dev-workstation.json",
)


@pytest.fixture(scope="module")
def tree(bundlefs_bin, tmp_path_factory):
    """One daemon for the module: <tmp>/state served at <tmp>/mnt."""
    base = tmp_path_factory.mktemp("fs-conformance")
    d = Daemon(bundlefs_bin, base / "state", base / "mnt").start()
    yield d
    d.cleanup()


def make_case_container(mnt, case, fixtures):
    """The case's container, platform and rootfs, ready for its ops."""
    ns_dir = mnt / case.namespace
    if not ns_dir.is_dir():
        ns_dir.mkdir()
    cdir = ns_dir / case.id
    assert not os.path.lexists(cdir), f"{cdir} is left over from an earlier case"
    cdir.mkdir()
    if case.platform != HOST_PLATFORM:
        code = write_errno(cdir / "platform", (case.platform + "\n").encode(), os.O_WRONLY | os.O_TRUNC)
        assert code == 0, (f"{case.file_name}: writing {case.platform!r} to platform failed with "
                           f"{errno_name(code)}; error says {read_text(cdir / 'error')!r}")
    assert read_text(cdir / "platform") == case.platform + "\n"
    if case.bundle_rootfs is not None:
        copy_rootfs(fixtures / case.bundle_rootfs, cdir / "rootfs")
    return cdir


def apply_accepted(cdir, case, ops):
    """Append each line; every one must be accepted."""
    for i, line in enumerate(ops):
        code = append_line(cdir / "opts", line)
        assert code == 0, (f"{case.file_name}: line {i + 1} {line!r} was refused with "
                           f"{errno_name(code)}; error says {read_text(cdir / 'error')!r}")


def remove_case_container(cdir):
    """rm -rf the container. GNU rm gives up on the parent once rmdir of the
    rootfs mount point fails with EBUSY, so a container rm left behind (with
    its rootfs emptied) is removed by rmdir; test_fs_tree.py checks rm -rf
    alone. Then the container must be gone."""
    rm_rf(cdir)
    if os.path.lexists(cdir):
        os.rmdir(cdir)
    assert not os.path.lexists(cdir), f"{cdir} is still there after removal"


def host_facts(case, daemon):
    return HostFacts.of_this_machine(capeff_of(daemon.pid)) if case.host_dependent else None


def run_expect_case(cdir, case, fixtures, daemon):
    ops = case_ops(case, fixtures)
    apply_accepted(cdir, case, ops)
    assert read_text(cdir / "error") == "", "error is not empty after accepted writes"
    text = read_text(cdir / "config.json")
    assert_config_matches(loads_strict(text), case, fixtures, host_facts(case, daemon))


def run_error_case(cdir, case, fixtures):
    ops = case_ops(case, fixtures)
    assert ops, f"{case.file_name}: an error case needs a line to refuse"
    apply_accepted(cdir, case, ops[:-1])
    config_before = read_bytes(cdir / "config.json")
    opts_before = read_bytes(cdir / "opts")
    assert read_text(cdir / "error") == "", "error is not empty after accepted writes"

    code = append_line(cdir / "opts", ops[-1])
    want = refusal_errno(case.error)
    error_text = read_text(cdir / "error")
    assert code == want, (f"{case.file_name}: the last line {ops[-1]!r} gave {errno_name(code)}, "
                          f"want {errno_name(want)} (containerd: {case.error}); error says {error_text!r}")
    assert read_bytes(cdir / "config.json") == config_before, "a refused write changed config.json"
    assert read_bytes(cdir / "opts") == opts_before, "a refused write changed opts"
    lines = error_text.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"error must hold exactly one line saying why, got {error_text!r}"


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.name for p in CASE_FILES])
def test_case_through_the_mounted_tree(tree, fixtures_copy, case_file):
    case = load_case(case_file)
    cdir = make_case_container(tree.mountpoint, case, fixtures_copy)
    try:
        if case.is_error:
            run_error_case(cdir, case, fixtures_copy)
        else:
            run_expect_case(cdir, case, fixtures_copy, tree)
    finally:
        remove_case_container(cdir)


@pytest.mark.parametrize("name", ROUND_TRIP_CASES)
def test_opts_saved_and_written_back_round_trips(tree, fixtures_copy, name):
    case = load_case(next(p for p in CASE_FILES if p.name == name))
    assert not case.is_error
    cdir = make_case_container(tree.mountpoint, case, fixtures_copy)
    try:
        ops = case_ops(case, fixtures_copy)
        apply_accepted(cdir, case, ops)
        saved = read_bytes(cdir / "opts")                    # cat opts > saved
        config = read_bytes(cdir / "config.json")
        assert saved.decode().count("\n") == len(ops), f"opts does not hold one line per option: {saved!r}"

        code = replace_with(cdir / "opts", saved)            # cat saved > opts
        assert code == 0, (f"writing the saved list back failed with {errno_name(code)}; "
                           f"error says {read_text(cdir / 'error')!r}")
        assert read_bytes(cdir / "opts") == saved, "cat opts > saved; cat saved > opts changed the list"
        assert read_bytes(cdir / "config.json") == config, "writing the saved list back changed config.json"
        assert read_text(cdir / "error") == ""
    finally:
        remove_case_container(cdir)

