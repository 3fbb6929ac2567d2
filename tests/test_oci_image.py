"""WithImageConfig and WithImageConfigArgs with an OCI image layout reference
(`oci:<dir>[:<tag>|@<digest>]`), through bundlefs-render: tags and digests
resolved through index.json, an image index resolved for the container's
platform as containerd's platforms.Only orders them, the config applied as a
loose config file is, and every blob checked against its digest and size.
The layouts are written by the tests (support/ocilayout.py)."""
from __future__ import annotations

import json
import pathlib
import time

import pytest

from support import ocilayout as oci
from support.render import render_cli

CONFIG = {
    "User": "0:0",
    "Env": ["PATH=/usr/bin:/bin", "GREETING=hello"],
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ["echo from the image"],
    "WorkingDir": "/work",
}


@pytest.fixture
def bundle(tmp_path) -> pathlib.Path:
    """A bundle with an empty rootfs (user look-ups find no files)."""
    (tmp_path / "bundle" / "rootfs").mkdir(parents=True)
    return tmp_path / "bundle"


def render(render_bin, bundle, lines, platform="linux/amd64"):
    return render_cli(render_bin, lines, namespace="default", id="c1", platform=platform, bundle=bundle)


def process(result):
    assert result.ok, result.describe()
    return result.config()["process"]


def marked(layout: oci.Layout, name: str, **kw) -> dict:
    """An image whose config says which one it is (env MARK=name)."""
    return layout.image(config={"Env": [f"MARK={name}"], "Cmd": ["run"]}, **kw)


def mark_of(result) -> str:
    env = process(result)["env"]
    marks = [e.split("=", 1)[1] for e in env if e.startswith("MARK=")]
    assert len(marks) == 1, env
    return marks[0]


# ---- the config is applied as a loose file is -------------------------------------

def test_a_tagged_image_renders_as_its_config_file_does(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image(config=CONFIG), "v1")
    loose = tmp_path / "config.json"
    loose.write_bytes(layout.blob_path(json.loads(
        layout.blob_path(layout.tags[0]["digest"]).read_text())["config"]["digest"]).read_bytes())

    from_layout = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    from_file = render(render_bin, bundle, [f"WithImageConfig {loose}"])
    assert from_layout.ok and from_file.ok, (from_layout.describe(), from_file.describe())
    assert from_layout.config() == from_file.config()
    p = from_layout.config()["process"]
    assert p["args"] == ["/bin/sh", "-c", "echo from the image"]
    assert "GREETING=hello" in p["env"] and p["cwd"] == "/work"


def test_with_image_config_args_replaces_the_cmd(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image(config=CONFIG), "v1")
    p = process(render(render_bin, bundle, [f"WithImageConfigArgs oci:{layout.path}:v1 'ls -l'".replace("'", '"')]))
    assert p["args"] == ["/bin/sh", "-c", "ls -l"]


def test_the_tag_defaults_to_latest(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(marked(layout, "old"), "v1")
    layout.tag(marked(layout, "newest"), "latest")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}"])) == "newest"
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "old"


def test_a_tag_may_be_a_full_reference(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(marked(layout, "full"), "docker.io/library/busybox:1.36")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:docker.io/library/busybox:1.36"])
    assert mark_of(r) == "full"


def test_docker_schema2_manifests_lists_and_configs_are_read(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    amd = marked(layout, "docker-amd64", docker=True)
    arm = marked(layout, "docker-arm64", arch="arm64", docker=True)
    layout.tag(layout.index([arm, amd], docker=True), "v1")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "docker-amd64"


# ---- platforms ---------------------------------------------------------------------

@pytest.fixture
def multi(tmp_path) -> oci.Layout:
    """An index for many platforms, listed worst first so order alone picks nothing."""
    layout = oci.Layout(tmp_path / "multi")
    manifests = [
        marked(layout, "windows", os_="windows"),
        marked(layout, "arm-v5", arch="arm", variant="v5"),
        marked(layout, "arm-v7", arch="arm", variant="v7"),
        marked(layout, "386", arch="386"),
        marked(layout, "amd64-v2", arch="amd64", variant="v2"),
        marked(layout, "amd64", arch="amd64"),
        marked(layout, "s390x", arch="s390x"),
    ]
    layout.tag(layout.index(manifests), "v1")
    return layout


@pytest.mark.parametrize("platform,chosen", [
    ("linux/amd64", "amd64"),               # itself, not 386 listed before it
    ("linux/amd64/v3", "amd64-v2"),         # v3, then v2, v1, then 386
    ("linux/amd64/v2", "amd64-v2"),
    ("linux/386", "386"),
    ("linux/arm/v7", "arm-v7"),             # v7 before v5, though listed after it
    ("linux/arm/v6", "arm-v5"),             # no v6: v5
    ("linux/arm64", "arm-v7"),              # no arm64 nor arm/v8: arm/v7
    ("linux/arm64/v8", "arm-v7"),
    ("windows/amd64", "windows"),
    ("linux/s390x", "s390x"),
])
def test_an_index_gives_the_best_manifest_for_the_platform(render_bin, bundle, multi, platform, chosen):
    r = render(render_bin, bundle, [f"WithImageConfig oci:{multi.path}:v1"], platform=platform)
    assert mark_of(r) == chosen


@pytest.mark.parametrize("platform", ["linux/arm/v5", "linux/ppc64le", "linux/mips64"])
def test_no_manifest_for_the_platform_is_refused(render_bin, bundle, tmp_path, platform):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.index([marked(layout, "amd64"), marked(layout, "arm-v7", arch="arm", variant="v7")]), "v1")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"], platform=platform)
    assert r.returncode == 1
    assert f"no match for platform {platform} in manifest sha256:" in r.stderr, r.stderr


def test_platforms_of_the_index_are_normalized(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    odd = marked(layout, "x86_64", platform_in_descriptor=False)
    odd["platform"] = {"os": "Linux", "architecture": "x86_64"}
    layout.tag(layout.index([marked(layout, "arm64", arch="aarch64"), odd]), "v1")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "x86_64"
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"],
                          platform="linux/arm64")) == "arm64"


def test_a_manifest_without_a_platform_comes_last_and_its_config_must_match(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    bare_amd = marked(layout, "bare-amd64", platform_in_descriptor=False)
    arm = marked(layout, "arm64", arch="arm64")
    layout.tag(layout.index([bare_amd, arm]), "v1")
    # arm64 has a platform: it comes before the one without
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"],
                          platform="linux/arm64")) == "arm64"
    # for amd64 only the bare one is left, and its config says amd64
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "bare-amd64"
    # its config says amd64, so it is no match for s390x
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"], platform="linux/s390x")
    assert r.returncode == 1 and "no match for platform linux/s390x" in r.stderr, r.stderr


def test_a_tag_naming_a_manifest_is_used_whatever_the_platform(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(marked(layout, "arm64-only", arch="arm64"), "v1")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "arm64-only"


def test_nested_indexes_are_followed(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    inner = layout.index([marked(layout, "arm64", arch="arm64"), marked(layout, "amd64")])
    outer = layout.index([inner])
    layout.tag(layout.index([outer]), "v1")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "amd64"


def test_indexes_nested_too_deep_are_refused(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    d = marked(layout, "amd64")
    for _ in range(10):
        d = layout.index([d])
    layout.tag(d, "v1")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "nested more than 8 deep" in r.stderr, r.stderr


# ---- digests -----------------------------------------------------------------------

def test_a_digest_names_an_index_or_a_manifest_inside_one(render_bin, bundle, multi):
    top = multi.tags[0]["digest"]
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{multi.path}@{top}"])) == "amd64"
    # a platform's own manifest, pinned: used whatever the container's platform
    index = json.loads(multi.blob_path(top).read_text())
    arm = next(m for m in index["manifests"] if m["platform"].get("variant") == "v5")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{multi.path}@{arm['digest']}"])) == "arm-v5"


def test_a_digest_the_layout_does_not_list_is_not_found(render_bin, bundle, multi):
    r = render(render_bin, bundle, [f"WithImageConfig oci:{multi.path}@sha256:{'0' * 64}"])
    assert r.returncode == 1 and "lists no manifest or index sha256:000" in r.stderr, r.stderr


def test_sha512_blobs_are_checked_too(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    cfg = layout.blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["MARK=512"]},
                                  "rootfs": {"type": "layers", "diff_ids": []}}).encode(), oci.OCI_CONFIG,
                      alg="sha512")
    manifest = layout.blob(json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": cfg,
                                       "layers": []}).encode(), oci.OCI_MANIFEST, alg="sha512")
    layout.tag(manifest, "v1")
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "512"
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}@{manifest['digest']}"])) == "512"


# ---- refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("ref,message", [
    ("oci:relative/dir:v1", "is not absolute"),
    ("oci::v1", "is not absolute"),
    ("oci:/l:", "invalid tag"),
    ("oci:/l:-v1", "invalid tag"),
    ("oci:/l:v1.", "invalid tag"),
    ("oci:/l:a b", None),                       # two arguments: WithImageConfig takes one
    ("oci:/l@sha256:abc", "needs 64 hex digits"),
    (f"oci:/l@sha256:{'A' * 64}", "not lowercase hex"),
    (f"oci:/l@md5:{'0' * 32}", None),           # no such algorithm: "md5:..." reads as a tag of "/l@md5"
])
def test_malformed_references_are_refused_before_anything_is_read(render_bin, bundle, ref, message):
    r = render(render_bin, bundle, [f"WithImageConfig {ref}"])
    assert r.returncode == 1, r.describe()
    if message:
        assert "invalid option line" in r.stderr and message in r.stderr, r.stderr


def test_a_missing_tag_is_not_found(render_bin, bundle, multi):
    r = render(render_bin, bundle, [f"WithImageConfig oci:{multi.path}:v2"])
    assert r.returncode == 1 and f'{multi.path}/index.json: no image tagged "v2"' in r.stderr, r.stderr


def test_a_tag_on_two_manifests_is_refused(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(marked(layout, "a"), "v1")
    layout.tag(marked(layout, "b"), "v1")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and 'more than one manifest is tagged "v1"' in r.stderr, r.stderr


def test_a_directory_that_is_not_a_layout_is_refused(render_bin, bundle, tmp_path):
    (tmp_path / "plain").mkdir()
    r = render(render_bin, bundle, [f"WithImageConfig oci:{tmp_path}/plain:v1"])
    assert r.returncode == 1 and "not an OCI image layout" in r.stderr and "oci-layout" in r.stderr, r.stderr
    r = render(render_bin, bundle, [f"WithImageConfig oci:{tmp_path}/absent:v1"])
    assert r.returncode == 1 and f"open {tmp_path}/absent: no such file or directory" in r.stderr, r.stderr


def test_a_corrupted_config_blob_is_refused(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    m = layout.image(config=CONFIG)
    layout.tag(m, "v1")
    cfg = json.loads(layout.blob_path(m["digest"]).read_text())["config"]
    path = layout.blob_path(cfg["digest"])
    data = bytearray(path.read_bytes())
    data[data.index(b"hello")] = ord("j")        # same size, other content
    path.write_bytes(bytes(data))
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and f"blob {cfg['digest']}: content has digest sha256:" in r.stderr, r.stderr
    assert "corrupted" in r.stderr


def test_a_blob_of_another_size_is_refused(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    m = layout.image(config=CONFIG)
    layout.tag(m, "v1")
    with open(layout.blob_path(m["digest"]), "ab") as f:
        f.write(b" ")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and f"blob {m['digest']}: {m['size'] + 1} bytes, its descriptor says {m['size']}" in r.stderr


def test_a_missing_blob_is_not_found(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    m = layout.image(config=CONFIG)
    layout.tag(m, "v1")
    layout.blob_path(m["digest"]).unlink()
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "no such file or directory" in r.stderr and m["digest"] in r.stderr, r.stderr


def test_a_blob_that_is_not_a_regular_file_is_never_opened(render_bin, bundle, tmp_path):
    import os
    layout = oci.Layout(tmp_path / "layout")
    m = layout.image(config=CONFIG)
    layout.tag(m, "v1")
    path = layout.blob_path(m["digest"])
    path.unlink()
    os.mkfifo(path)        # opening it for reading would block
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"], )
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr


def test_a_manifest_that_is_an_index_is_refused(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    index = layout.index([marked(layout, "amd64")])
    lying = dict(index, mediaType=oci.OCI_MANIFEST)
    layout.tag(lying, "v1")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "expected manifest but found index" in r.stderr, r.stderr


def test_an_unknown_config_media_type_is_refused(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    cfg = layout.json_blob({"architecture": "amd64", "os": "linux"}, "application/vnd.example.config+json")
    layout.tag(layout.json_blob({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": cfg, "layers": []},
                                oci.OCI_MANIFEST), "v1")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "unknown image config media type application/vnd.example.config+json" in r.stderr


def test_an_oversized_index_blob_is_refused_unread(render_bin, bundle, tmp_path):
    layout = oci.Layout(tmp_path / "layout")
    d = layout.index([marked(layout, "amd64")])
    layout.tag(dict(d, size=(4 << 20) + 1), "v1")
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "more than the 4194304 bytes allowed" in r.stderr, r.stderr


# ---- through a mounted tree: the `image` file, and cached renderings -------------

def test_the_image_file_takes_a_reference(render_bin, ctr, tmp_path):
    from support.ctl import assert_config_fresh, read, write_value
    layout = oci.Layout(tmp_path / "layout")
    layout.tag(layout.image(config=CONFIG), "v1")
    write_value(ctr / "image", f"oci:{layout.path}:v1")
    assert read(ctr / "image") == f"oci:{layout.path}:v1\n"
    assert read(ctr / "opts").splitlines()[-1] == f"WithImageConfig oci:{layout.path}:v1"
    cfg = assert_config_fresh(render_bin, ctr)
    assert cfg["process"]["args"] == ["/bin/sh", "-c", "echo from the image"]


def test_the_image_file_refuses_what_does_not_resolve(ctr, tmp_path):
    import errno
    from support.ctl import assert_refused
    layout = oci.Layout(tmp_path / "layout")
    m = layout.image(config=CONFIG)
    layout.tag(m, "v1")
    assert "is not absolute" in assert_refused(ctr, "image", "oci:layout:v1", errno.EINVAL)
    assert 'no image tagged "v2"' in assert_refused(ctr, "image", f"oci:{layout.path}:v2", errno.ENOENT)
    cfg = json.loads(layout.blob_path(m["digest"]).read_text())["config"]
    layout.blob_path(cfg["digest"]).write_bytes(b"{}" + b" " * (cfg["size"] - 2))
    assert "corrupted" in assert_refused(ctr, "image", f"oci:{layout.path}:v1", errno.EINVAL)


def test_a_cached_rendering_sees_a_tag_moved_in_index_json(render_bin, ctr, tmp_path):
    from support.ctl import assert_config_fresh, write_value
    layout = oci.Layout(tmp_path / "layout")
    first, second = marked(layout, "first"), marked(layout, "second")
    layout.tag(first, "v1")
    time.sleep(0.2)         # older than the racy margin: the rendering can be kept (deps.h)
    write_value(ctr / "image", f"oci:{layout.path}:v1")
    assert "MARK=first" in assert_config_fresh(render_bin, ctr)["process"]["env"]
    assert "MARK=first" in assert_config_fresh(render_bin, ctr)["process"]["env"]
    # the tag moves to another manifest: index.json is rewritten, nothing else
    layout.tags = []
    layout.tag(second, "v1")
    assert "MARK=second" in assert_config_fresh(render_bin, ctr)["process"]["env"]
    # the tag goes away: the rendering fails until it is back
    layout.tags = []
    layout.tag(second, "v2")
    with pytest.raises(OSError):
        (ctr / "config.json").read_bytes()
    layout.tags = []
    layout.tag(first, "v1")
    assert "MARK=first" in assert_config_fresh(render_bin, ctr)["process"]["env"]


def test_the_image_file_refuses_references_over_the_limits(ctr, tmp_path):
    import errno
    from support.ctl import assert_refused
    layout = oci.Layout(tmp_path / "layout")
    m = marked(layout, "amd64")
    layout.tag(m, "v1")
    assert "invalid tag" in assert_refused(ctr, "image", f"oci:{layout.path}:{'t' * 513}", errno.EINVAL)
    assert "no image tagged" in assert_refused(ctr, "image", f"oci:{layout.path}:{'t' * 512}", errno.ENOENT)
    layout.tags = []
    layout.tag(dict(layout.index([m]), size=(4 << 20) + 1), "big")
    assert "more than the 4194304 bytes allowed" in assert_refused(ctr, "image", f"oci:{layout.path}:big",
                                                                    errno.EFBIG)
    d = m
    for _ in range(9):
        d = layout.index([d])
    layout.tag(d, "deep")
    assert "nested more than 8 deep" in assert_refused(ctr, "image", f"oci:{layout.path}:deep", errno.EFBIG)
    d = m
    for _ in range(8):
        d = layout.index([d])
    layout.tag(d, "deep-enough")
    from support.ctl import write_value
    write_value(ctr / "image", f"oci:{layout.path}:deep-enough")


def test_links_in_the_layout_stay_inside_it(render_bin, bundle, tmp_path):
    import os
    import shutil
    layout = oci.Layout(tmp_path / "layout")
    m = marked(layout, "linked")
    layout.tag(m, "v1")
    cfg = json.loads(layout.blob_path(m["digest"]).read_text())["config"]
    blob = layout.blob_path(cfg["digest"])
    # a blob kept elsewhere in the layout, linked (relative or absolute: both
    # resolve inside the layout)
    (layout.path / "store").mkdir()
    shutil.move(blob, layout.path / "store" / blob.name)
    os.symlink(f"../../store/{blob.name}", blob)
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "linked"
    blob.unlink()
    os.symlink(f"/store/{blob.name}", blob)
    assert mark_of(render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])) == "linked"
    # a link to the same bytes outside the layout leads nowhere
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(layout.path / "store" / blob.name, outside / blob.name)
    blob.unlink()
    os.symlink(str(outside / blob.name), blob)
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "no such file or directory" in r.stderr, r.stderr
    blob.unlink()
    os.symlink("../" * 10 + str(outside / blob.name).lstrip("/"), blob)
    r = render(render_bin, bundle, [f"WithImageConfig oci:{layout.path}:v1"])
    assert r.returncode == 1 and "no such file or directory" in r.stderr, r.stderr
