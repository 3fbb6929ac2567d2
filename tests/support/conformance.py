"""The conformance cases: where they live, how to read them, how to set them up.

Everything here is independent of how a case is rendered (bundlefs-render or a
mounted tree), so the suites that run the cases share it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import stat
from decimal import Decimal
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
SHARED_CONFORMANCE = REPO.parent / "shared" / "conformance"
VENDORED_CONFORMANCE = REPO / "tests" / "conformance"

PLACEHOLDER = "@FIXTURES@"

DEFAULT_NAMESPACE = "default"
DEFAULT_ID = "c1"
DEFAULT_PLATFORM = "linux/amd64"

# The shared copy of the conformance data stores these symlinks as plain files
# holding their target; the vendored copy has real symlinks.
STORED_SYMLINKS = (
    "devlink",
    "devdir/zero-link",
    "rootfs-symlinks/etc/passwd",
    "rootfs-symlinks/etc/group",
)


def conformance_dir() -> pathlib.Path:
    """The conformance data: ../shared/conformance when it exists (the
    authority), else the copy vendored in tests/conformance."""
    if SHARED_CONFORMANCE.is_dir():
        return SHARED_CONFORMANCE
    return VENDORED_CONFORMANCE


def conformance_source() -> str:
    """One line saying which conformance data is in use, for reports."""
    where = conformance_dir()
    kind = "shared" if where == SHARED_CONFORMANCE else "vendored"
    return f"{where} ({kind})"


def case_files() -> list[pathlib.Path]:
    """Every case file, in name order."""
    return sorted((conformance_dir() / "cases").glob("*.json"))


@dataclasses.dataclass(frozen=True)
class Case:
    """One conformance case (see the conformance README, "Case format")."""

    path: pathlib.Path
    name: str
    namespace: str
    id: str
    platform: str
    bundle_rootfs: str | None
    host_dependent: bool
    ops: list[str]
    expect: Any  # the config.json containerd rendered; None for an error case
    error: str | None  # what containerd said when it refused the last line

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def is_error(self) -> bool:
        return self.error is not None

    @property
    def os(self) -> str:
        return self.platform.split("/")[0]


def load_case(path: pathlib.Path) -> Case:
    data = loads_strict(path.read_text(encoding="utf-8"))
    has_expect, has_error = "expect" in data, "error" in data
    if has_expect == has_error:
        raise ValueError(f"{path.name}: a case has exactly one of expect and error")
    ops = data["ops"]
    if any("\n" in op or "\r" in op for op in ops):
        raise ValueError(f"{path.name}: an op line holds a line break")
    return Case(
        path=path,
        name=data.get("name", path.stem),
        namespace=data.get("namespace", DEFAULT_NAMESPACE),
        id=data.get("id", DEFAULT_ID),
        platform=data.get("platform", DEFAULT_PLATFORM),
        bundle_rootfs=data.get("bundle_rootfs"),
        host_dependent=data.get("host_dependent", False) is True,
        ops=list(ops),
        expect=data.get("expect"),
        error=data.get("error"),
    )


def all_cases() -> list[Case]:
    return [load_case(p) for p in case_files()]


# --- fixtures and bundles -------------------------------------------------------


def _make_dirs_writable(top: pathlib.Path) -> None:
    for dirpath, _dirnames, _filenames in os.walk(top):
        mode = os.lstat(dirpath).st_mode
        os.chmod(dirpath, stat.S_IMODE(mode) | stat.S_IRWXU)


def copy_fixtures(dest: pathlib.Path) -> pathlib.Path:
    """Copy the conformance fixtures to dest/fixtures, symlinks as symlinks.

    The stored symlinks that the shared copy keeps as plain files holding
    their target become real symlinks again. Directories are made writable so
    the copy can be changed and removed. Returns the copy's path: the value of
    @FIXTURES@."""
    copy = dest / "fixtures"
    shutil.copytree(conformance_dir() / "fixtures", copy, symlinks=True)
    _make_dirs_writable(copy)
    for rel in STORED_SYMLINKS:
        link = copy / rel
        if link.is_symlink() or not link.is_file():
            continue
        target = link.read_text(encoding="utf-8").strip()
        link.unlink()
        link.symlink_to(target)
    return copy


def make_bundle(case: Case, fixtures: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    """Create the case's bundle under dest: a rootfs/ holding a copy of
    fixtures/<bundle_rootfs>/. (symlinks as symlinks), or empty."""
    bundle = dest / "bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    if case.bundle_rootfs is not None:
        copy_rootfs(fixtures / case.bundle_rootfs, rootfs)
    return bundle


def copy_rootfs(source: pathlib.Path, rootfs: pathlib.Path) -> None:
    """cp -a source/. rootfs/ : symlinks are copied as symlinks."""
    if not source.is_dir():
        raise FileNotFoundError(f"fixture rootfs {source} does not exist")
    shutil.copytree(source, rootfs, symlinks=True, dirs_exist_ok=True)
    _make_dirs_writable(rootfs)


def substitute(line: str, fixtures: pathlib.Path) -> str:
    """An op line with @FIXTURES@ replaced by the fixtures path."""
    return line.replace(PLACEHOLDER, str(fixtures))


def case_ops(case: Case, fixtures: pathlib.Path) -> list[str]:
    """The case's op lines, ready to apply."""
    return [substitute(op, fixtures) for op in case.ops]


# --- option lines ---------------------------------------------------------------


def split_op(line: str) -> tuple[str, list[Any]]:
    """Split an op line into its name and arguments (conformance README,
    "Option lines"): bare words stay strings, a token starting with a quote
    is a JSON string, one starting with { or [ is one JSON value."""
    decoder = json.JSONDecoder()
    tokens: list[Any] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        if line[i] in '"{[':
            value, i = decoder.raw_decode(line, i)
            tokens.append(value)
            continue
        j = i
        while j < n and line[j] not in " \t":
            j += 1
        tokens.append(line[i:j])
        i = j
    if not tokens or not isinstance(tokens[0], str):
        raise ValueError(f"op line without a name: {line!r}")
    return tokens[0], tokens[1:]


# --- JSON -----------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate JSON key {key!r}")
        obj[key] = value
    return obj


def loads_strict(text: str) -> Any:
    """Parse JSON output: duplicate keys are an error and numbers with a
    fraction or exponent are kept exactly (as Decimal)."""
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_float=Decimal)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "fraction"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def json_differences(actual: Any, expected: Any, where: str = "$") -> list[str]:
    """Every way actual differs from expected as JSON values: object key order
    does not matter; array order, types (integer, boolean, null, ...) and
    exact numbers do; an absent key differs from a null, {} or [] one."""
    got, want = _json_type(actual), _json_type(expected)
    if got != want:
        return [f"{where}: expected {want} {json_dump(expected)}, got {got} {json_dump(actual)}"]
    if want == "object":
        diffs = []
        for key in expected.keys() - actual.keys():
            diffs.append(f"{where}.{key}: missing (expected {json_dump(expected[key])})")
        for key in actual.keys() - expected.keys():
            diffs.append(f"{where}.{key}: unexpected key (value {json_dump(actual[key])})")
        for key in sorted(expected.keys() & actual.keys()):
            diffs += json_differences(actual[key], expected[key], f"{where}.{key}")
        return diffs
    if want == "array":
        if len(actual) != len(expected):
            return [f"{where}: expected {len(expected)} items {json_dump(expected)}, "
                    f"got {len(actual)} {json_dump(actual)}"]
        diffs = []
        for i, (a, e) in enumerate(zip(actual, expected)):
            diffs += json_differences(a, e, f"{where}[{i}]")
        return diffs
    if actual != expected:
        return [f"{where}: expected {json_dump(expected)}, got {json_dump(actual)}"]
    return []


def json_dump(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def replace_in_strings(value: Any, old: str, new: str) -> Any:
    """A copy of a JSON value with old replaced by new in every string (object
    keys included)."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [replace_in_strings(v, old, new) for v in value]
    if isinstance(value, dict):
        return {replace_in_strings(k, old, new): replace_in_strings(v, old, new)
                for k, v in value.items()}
    return value


def with_placeholder(config: Any, fixtures: pathlib.Path) -> Any:
    """A rendered config with the real fixtures path written as @FIXTURES@,
    ready to compare with a case's expect."""
    return replace_in_strings(config, str(fixtures), PLACEHOLDER)
