"""bundlefs-render's own contract, beside the conformance cases: what it
refuses before reading any option, and how its messages number the lines of
stdin."""
import pytest

from support import assert_refused, assert_rendered, render_cli

LINUX = "linux/amd64"


def render(render_bin, lines, namespace="default", platform=LINUX):
    return render_cli(render_bin, lines, namespace=namespace, id="c1", platform=platform)


@pytest.mark.parametrize("namespace,why", [
    ("a/b", "must match"),
    ("", "namespace is required"),
    ("x" * 77, "greater than maximum length (76 characters)"),
    ("-a", "must match"),
    ("a..b", "must match"),
    ("a\nb", "must match"),
], ids=["slash", "empty", "77-characters", "leading-dash", "two-dots", "newline"])
@pytest.mark.parametrize("platform", [LINUX, "windows/amd64"])
def test_a_namespace_that_is_not_an_identifier_is_refused_before_any_option(render_bin, namespace, why, platform):
    # containerd validates the namespace before it applies an option: a
    # malformed line after it is never reached.
    for lines in (["WithHostname h"], ["WithBogus"]):
        res = render(render_bin, lines, namespace=namespace, platform=platform)
        assert_refused(res, f"--namespace {namespace!r}")
        assert "namespace" in res.stderr and why in res.stderr, res.stderr
        assert "line" not in res.stderr, res.stderr


@pytest.mark.parametrize("namespace", ["x" * 76, "k8s.io", "a-b_c.d", "0"])
def test_a_namespace_that_is_an_identifier_renders(render_bin, namespace):
    config = assert_rendered(render(render_bin, ["WithNamespacedCgroup"], namespace=namespace))
    assert config["linux"]["cgroupsPath"] == f"/{namespace}/c1"


STDIN = ["# a comment", "", "WithHostname h", "   ", "WithProcessCwd /srv"]


def test_a_malformed_line_is_named_by_its_line_of_stdin(render_bin):
    res = render(render_bin, STDIN + ["WithMemoryLimit x"])
    assert_refused(res, "a malformed sixth line")
    assert res.stderr.startswith("bundlefs-render: line 6: invalid option line: WithMemoryLimit"), res.stderr


def test_a_refused_line_is_named_by_its_line_of_stdin(render_bin):
    # darwin's default spec has no linux section: WithMemorySwap is refused
    # when it is applied, not when it is parsed.
    res = render(render_bin, STDIN + ["WithMemorySwap 1"], platform="darwin/amd64")
    assert_refused(res, "a refused sixth line")
    assert res.stderr.startswith("bundlefs-render: line 6: WithMemorySwap: "), res.stderr


def test_a_lone_line_is_line_1_whether_malformed_or_refused(render_bin):
    res = render(render_bin, ["WithMemoryLimit x"])
    assert_refused(res, "a malformed lone line")
    assert res.stderr.startswith("bundlefs-render: line 1: invalid option line: "), res.stderr
    res = render(render_bin, ["WithMemorySwap 1"], platform="darwin/amd64")
    assert_refused(res, "a refused lone line")
    assert res.stderr.startswith("bundlefs-render: line 1: WithMemorySwap: "), res.stderr
