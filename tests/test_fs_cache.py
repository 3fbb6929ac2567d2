"""Cached and incremental rendering (docs/bundlefs.md, "Rendering and the
cache"): config.json is cached, and a write applies its lines to the spec
built for the list before it. Both must be invisible: after every change,
config.json equals bundlefs-render of the same list against the same files."""
import errno
import os
import pathlib

import pytest

from support import copy_rootfs
from support.ctl import append_opts, assert_config_fresh, config, read, wait_rootfs_mounted, write_value
from support.mount import Daemon, make_container

# A mix of options: look-ups in the rootfs, lists that grow, values that are
# replaced, sections created on first use.
MIXED = [
    "WithHostname h0",
    "WithEnv A=1 PATH=/bin",
    "WithUsername alice",
    "WithAnnotations a=1",
    'WithMounts [{"destination":"/data","type":"bind","source":"/srv","options":["rbind"]}]',
    "WithAddedCapabilities CAP_NET_ADMIN",
    "WithMemoryLimit 1048576",
    "WithEnv B=2",
    "WithUser bob:alice",
    "WithAppendAdditionalGroups 100",
    "WithPidsLimit 10",
    "WithDroppedCapabilities CAP_KILL",
    "WithHostname h1",
    "WithoutMounts /data",
    "WithProcessArgs /bin/sh -c true",
    "WithAdditionalGIDs alice",
    "WithEnv A=3",
    "WithNamespacedCgroup",
]


@pytest.fixture
def box(ctr, fixtures_copy):
    wait_rootfs_mounted(ctr)
    copy_rootfs(fixtures_copy / "rootfs", ctr / "rootfs")
    return ctr


def test_every_append_renders_as_a_replay_of_the_list(render_bin, box):
    for line in MIXED:
        append_opts(box, line + "\n")
        assert_config_fresh(render_bin, box)


def test_control_file_writes_render_as_a_replay_of_the_list(render_bin, box):
    for name, value in [("hostname", "a"), ("env", "X=1"), ("user", "alice"), ("memory.limit", "64M"),
                        ("caps", "+CAP_SYS_ADMIN"), ("env", "X=2"), ("user", "1001:100"), ("hostname", "b")]:
        write_value(box / name, value)
        assert_config_fresh(render_bin, box)


def test_a_refused_append_leaves_the_next_rendering_right(render_bin, box):
    append_opts(box, "WithHostname kept\nWithUsername alice\n")
    config(box)
    with pytest.raises(OSError) as e:
        append_opts(box, "WithEnv C=3\nWithUsername nosuchuser\n")
    assert e.value.errno == errno.ENOENT
    cfg = assert_config_fresh(render_bin, box)
    assert "C=3" not in cfg["process"].get("env", [])
    append_opts(box, "WithEnv D=4\n")
    cfg = assert_config_fresh(render_bin, box)
    assert "D=4" in cfg["process"]["env"] and "C=3" not in cfg["process"]["env"]


def test_passwd_rewritten_at_once_with_the_same_size_is_seen(render_bin, box):
    """Two edits within one tick of the file-time clock keep mtime, ctime and
    size: the cache must not trust such a recent stat."""
    append_opts(box, "WithUsername alice\n")
    passwd = box / "rootfs" / "etc" / "passwd"
    text = passwd.read_text()
    assert config(box)["process"]["user"]["uid"] == 1000
    for uid in ("1003", "1004", "1005"):
        passwd.write_text(text.replace("alice:x:1000:", f"alice:x:{uid}:"))
        assert config(box)["process"]["user"]["uid"] == int(uid)
        # and a write right after extends a spec built from the edited file
        append_opts(box, f"WithHostname h{uid}\n")
        assert_config_fresh(render_bin, box)


def test_a_renamed_container_renders_with_its_new_name(render_bin, mnt, box):
    append_opts(box, "WithNamespacedCgroup\n")
    assert config(box)["linux"]["cgroupsPath"] == "/default/c1"
    os.rename(box, mnt / "default" / "c2")
    moved = mnt / "default" / "c2"
    assert config(moved)["linux"]["cgroupsPath"] == "/default/c2"
    append_opts(moved, "WithHostname after\n")
    assert_config_fresh(render_bin, moved)
    os.mkdir(mnt / "other")
    os.rename(mnt / "other", mnt / "ns2")
    os.rename(moved, mnt / "ns2" / "c2")
    assert config(mnt / "ns2" / "c2")["linux"]["cgroupsPath"] == "/ns2/c2"
    os.rename(mnt / "ns2", mnt / "ns3")
    assert config(mnt / "ns3" / "c2")["linux"]["cgroupsPath"] == "/ns3/c2"


def test_a_replaced_list_and_a_new_platform_render_fresh(render_bin, box):
    append_opts(box, "WithHostname a\nWithEnv A=1\n")
    config(box)
    write_value(box / "opts", "WithHostname b\n")
    cfg = assert_config_fresh(render_bin, box)
    assert cfg["hostname"] == "b" and "A=1" not in cfg["process"].get("env", [])
    append_opts(box, "WithEnv B=2\n")
    assert_config_fresh(render_bin, box)
    write_value(box / "platform", "linux/arm64")
    assert_config_fresh(render_bin, box)
    append_opts(box, "WithHostname c\n")
    assert_config_fresh(render_bin, box)


def test_host_device_walks_are_never_served_stale(render_bin, box, tmp_path):
    """A directory of devices is walked afresh on every rendering."""
    devdir = tmp_path / "devs"
    devdir.mkdir()
    os.mknod(devdir / "null1", 0o666 | 0o020000, os.makedev(1, 3))
    append_opts(box, f"WithDevices {devdir} /dev/x rwm\n")
    assert [d["path"] for d in config(box)["linux"]["devices"]] == ["/dev/x/null1"]
    os.mknod(devdir / "null2", 0o666 | 0o020000, os.makedev(1, 3))
    assert [d["path"] for d in config(box)["linux"]["devices"]] == ["/dev/x/null1", "/dev/x/null2"]
    os.chmod(devdir / "null1", 0o600)
    assert config(box)["linux"]["devices"][0]["fileMode"] == 0o600
    append_opts(box, "WithHostname h\n")
    assert_config_fresh(render_bin, box)


def test_a_cache_smaller_than_the_tree_still_serves_every_container_fresh(bundlefs_bin, render_bin, tmp_path):
    """With room for about one rendering, containers take turns in the cache."""
    d = Daemon(bundlefs_bin, tmp_path / "state", tmp_path / "mnt", extra_args=("--cache-size", "4096")).start()
    try:
        ctrs = [make_container(d.mountpoint, "default", f"c{i}") for i in range(12)]
        for round_ in range(3):
            for i, c in enumerate(ctrs):
                append_opts(c, f"WithHostname r{round_}c{i}\nWithEnv R={round_}\n")
            for i, c in enumerate(ctrs):
                cfg = assert_config_fresh(render_bin, c)
                assert cfg["hostname"] == f"r{round_}c{i}"
                assert read(c / "hostname") == f"r{round_}c{i}\n"
    finally:
        d.stop()
        d.cleanup()


def test_a_kept_spec_that_grew_large_is_rebuilt_and_stays_right(render_bin, ctr):
    """Each WithEnv of a new key copies the environment: hundreds of appends
    grow the kept spec's memory well past a fresh build's, and the spec built
    afresh then must render the same."""
    for i in range(400):
        append_opts(ctr, f"WithEnv K{i}={'v' * 40}{i}\n")
    cfg = assert_config_fresh(render_bin, ctr)
    assert len(cfg["process"]["env"]) == 400
    for i in range(50):
        append_opts(ctr, f"WithEnv K{i}=again{i}\n")
    cfg = assert_config_fresh(render_bin, ctr)
    assert cfg["process"]["env"][0] == "K0=again0"
