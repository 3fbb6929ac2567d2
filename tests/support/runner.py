"""Running a conformance case and judging what came out.

The steps are separate so a suite that applies the ops another way (a mounted
bundlefs tree) can reuse them: make_bundle() / case_ops() to set up,
expected_config() and assert_config_matches() to judge an `expect` case,
assert_refused() to judge a refusal. run_case_with_cli() strings them together
for bundlefs-render.
"""
from __future__ import annotations

import pathlib
from typing import Any

from .conformance import Case, case_ops, json_differences, make_bundle, with_placeholder
from .hostfacts import HostFacts, capeff_of_new_process, expect_on_this_host
from .render import RenderResult, render_case_cli


def expected_config(case: Case, fixtures: pathlib.Path, facts: HostFacts | None) -> Any:
    """The config.json the case expects on this machine (@FIXTURES@ kept as
    a placeholder). facts is needed only for a host_dependent case."""
    if case.is_error:
        raise ValueError(f"{case.file_name} is an error case")
    if case.host_dependent:
        if facts is None:
            raise ValueError(f"{case.file_name} is host_dependent: pass this machine's HostFacts")
        return expect_on_this_host(case, facts, fixtures)
    return case.expect


def assert_config_matches(config: Any, case: Case, fixtures: pathlib.Path,
                          facts: HostFacts | None = None) -> None:
    """config (a rendered config.json, parsed) equals what the case expects,
    as JSON values, once the real fixtures path is written @FIXTURES@."""
    actual = with_placeholder(config, fixtures)
    diffs = json_differences(actual, expected_config(case, fixtures, facts))
    assert not diffs, (f"{case.file_name}: config.json differs from expect "
                       f"({len(diffs)} differences):\n  " + "\n  ".join(diffs[:40]))


def assert_refused(result: RenderResult, what: str = "") -> None:
    """bundlefs-render refused: exit 1, nothing on stdout, one line on stderr."""
    assert result.returncode == 1, f"{what}: expected a refusal (exit 1), got {result.describe()}"
    assert result.stdout == "", f"{what}: a refusal printed a config: {result.describe()}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip() and result.stderr.endswith("\n"), \
        f"{what}: a refusal says why in exactly one line on stderr, got {result.stderr!r}"


def assert_rendered(result: RenderResult, what: str = "") -> Any:
    """bundlefs-render accepted the lines: exit 0, nothing on stderr, and a
    JSON object on stdout, which is returned."""
    assert result.ok, f"{what}: expected the lines to render, got {result.describe()}"
    assert result.stderr == "", f"{what}: rendered but wrote to stderr: {result.stderr!r}"
    config = result.config()
    assert isinstance(config, dict), f"{what}: config.json is not a JSON object"
    return config


def run_case_with_cli(render_bin: pathlib.Path, case: Case, fixtures: pathlib.Path,
                      workdir: pathlib.Path) -> None:
    """Run one conformance case through bundlefs-render and assert its outcome.

    expect: every line renders and config.json equals expect (host-derived
    fields computed for this machine). error: the lines render without the
    last one, and with it they are refused."""
    bundle = make_bundle(case, fixtures, workdir)
    ops = case_ops(case, fixtures)
    name = case.file_name
    if case.is_error:
        assert ops, f"{name}: an error case needs a line to refuse"
        assert_refused(render_case_cli(render_bin, case, ops, bundle),
                       f"{name} (containerd: {case.error})")
        assert_rendered(render_case_cli(render_bin, case, ops[:-1], bundle),
                        f"{name} without its last line")
        return
    config = assert_rendered(render_case_cli(render_bin, case, ops, bundle), name)
    facts = HostFacts.of_this_machine(capeff_of_new_process()) if case.host_dependent else None
    assert_config_matches(config, case, fixtures, facts)
