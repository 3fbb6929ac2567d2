"""Rendering option lines with the bundlefs-render command."""
from __future__ import annotations

import dataclasses
import pathlib
import os
import subprocess
from typing import Any

from .conformance import Case, loads_strict
from .sanitizers import assert_no_sanitizer_report


@dataclasses.dataclass(frozen=True)
class RenderResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def config(self) -> Any:
        """The rendered config.json, parsed strictly."""
        return loads_strict(self.stdout)

    def describe(self) -> str:
        return f"exit {self.returncode}, stderr {self.stderr!r}, stdout {self.stdout[:300]!r}"


def render_cli(render_bin: pathlib.Path, lines: list[str], *, namespace: str, id: str,
               platform: str, bundle: pathlib.Path | None = None,
               timeout: float = 60) -> RenderResult:
    """Run bundlefs-render with the option lines on stdin."""
    argv = [str(render_bin), "--namespace", namespace, "--id", id, "--platform", platform]
    if bundle is not None:
        argv += ["--bundle", str(bundle)]
    stdin = "".join(line + "\n" for line in lines)
    # BUNDLEFS_RENDER_WRAP runs it under a tool, e.g. valgrind (scripts/test does).
    wrap = os.environ.get("BUNDLEFS_RENDER_WRAP", "").split()
    proc = subprocess.run([*wrap, *argv], input=stdin.encode("utf-8"), capture_output=True,
                          timeout=timeout, check=False)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert_no_sanitizer_report(stderr, f"bundlefs-render of {lines!r:.300}")
    return RenderResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), stderr)


def render_case_cli(render_bin: pathlib.Path, case: Case, lines: list[str],
                    bundle: pathlib.Path) -> RenderResult:
    """Render lines (all or some of a case's ops, already substituted) for the
    case's container."""
    return render_cli(render_bin, lines, namespace=case.namespace, id=case.id,
                      platform=case.platform, bundle=bundle)
