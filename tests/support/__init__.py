"""Helpers shared by the pytest suites: the conformance cases and fixtures,
the host-derived fields of host_dependent cases, rendering with
bundlefs-render, and the runtime-spec schema.

Suites import from here: `from support import ...`. tests/ is on sys.path
because pytest's default (prepend) import mode inserts the directory of
tests/conftest.py, which is not a package.
"""
from .conformance import (
    Case,
    PLACEHOLDER,
    STORED_SYMLINKS,
    all_cases,
    case_files,
    case_ops,
    conformance_dir,
    conformance_source,
    copy_fixtures,
    copy_rootfs,
    json_differences,
    load_case,
    loads_strict,
    make_bundle,
    replace_in_strings,
    split_op,
    substitute,
    with_placeholder,
)
from .hostfacts import (
    CAPABILITY_NAMES,
    HostFacts,
    capability_names,
    capeff_of,
    capeff_of_new_process,
    device_from_path,
    expect_on_this_host,
    host_devices,
)
from .render import RenderResult, render_case_cli, render_cli
from .runner import (
    assert_config_matches,
    assert_refused,
    assert_rendered,
    expected_config,
    run_case_with_cli,
)
from .schema import config_validator, schema_dir, schema_errors
