"""Every control file takes back exactly what it shows (docs/bundlefs.md
section 3): writing back what was just read changes neither opts nor
config.json, on a fresh container (`max`, `0`, the default namespaces and
mounts) and on a rich one, with one write(2) and with a shell's
`cat f > saved; cat saved > f`."""
import pathlib

import pytest

from support import copy_rootfs
from support.ctl import (
    CONTROL_FILES,
    append_opts,
    assert_config_fresh,
    error_text,
    read,
    read_bytes,
    sh,
    state_of,
    wait_rootfs_mounted,
    write_value,
)

# A rich container: every control file set to something (in this order).
RICH = [
    ("caps", "+CAP_SYS_ADMIN"), ("caps", "-CAP_KILL"), ("caps.ambient", "CAP_NET_BIND_SERVICE CAP_CHOWN"),
    ("env", "PATH=/usr/bin:/bin\nGREETING=hello world\nEQ=a=b\nEMPTY="),
    ("args", '/bin/sh\n-c\necho "$HOME" done\n\nlast'), ("cwd", "/srv/my app"), ("hostname", "box-1"),
    ("domainname", "example.org"), ("memory.limit", "3G"), ("memory.swap", "-1"), ("pids.max", "4096"),
    ("cpu.shares", "2048"), ("cpu.cfs", "25000 50000"), ("cpu.rt", "950000 1000000"),
    ("cpuset.cpus", "0-3,5"), ("cpuset.mems", "0-1"), ("devices", "/dev/null rw"), ("devices", "/dev/zero"),
    ("user", "alice"), ("groups", "+audio +video"),
    ("mounts", '[{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]},'
               '{"destination":"/empty","options":[null]}]'),
    ("namespaces", "network /proc/1/ns/net"), ("namespaces", "host ipc"),
    ("annotations", "org.example/a=1\nb=x y"), ("tty", "1"), ("tty", "120x40"), ("rootfs.readonly", "1"),
    ("image", "@FIXTURES@/images/user-uid-gid.json"),
]


@pytest.fixture
def rich(ctr, fixtures_copy) -> pathlib.Path:
    wait_rootfs_mounted(ctr)
    copy_rootfs(fixtures_copy / "rootfs", ctr / "rootfs")
    append_opts(ctr, "WithHostname by-hand\nWithEnv HAND=1\n")
    for name, value in RICH:
        write_value(ctr / name, value.replace("@FIXTURES@", str(fixtures_copy)))
        assert error_text(ctr) == "", f"{name} <- {value!r}: {error_text(ctr)}"
    return ctr


def write_back_every_file(render_bin, ctr, tmp_path):
    before = state_of(ctr)
    shown = {name: read_bytes(ctr / name) for name in CONTROL_FILES}
    for name in CONTROL_FILES:
        if shown[name]:
            write_value(ctr / name, shown[name])
            assert error_text(ctr) == "", f"{name}: writing back {shown[name]!r} was refused: {error_text(ctr)}"
            assert state_of(ctr) == before, f"writing back {name} ({shown[name][:80]!r}) changed opts or config.json"
        saved = tmp_path / "saved"
        sh(f"cat {name} > {saved} && cat {saved} > {name}", cwd=ctr)
        assert state_of(ctr) == before, f"cat {name} > saved; cat saved > {name} changed opts or config.json"
        assert read_bytes(ctr / name) == shown[name]
    assert_config_fresh(render_bin, ctr)


def test_every_file_of_a_fresh_container_takes_back_what_it_shows(render_bin, ctr, tmp_path):
    # max, 0, five namespaces on five lines, the default mounts' table
    for name, value in [("memory.limit", "max\n"), ("pids.max", "max\n"), ("cpu.cfs", "max\n"), ("tty", "0\n"),
                        ("rootfs.readonly", "0\n"), ("privileged", "0\n")]:
        assert read(ctr / name) == value
    assert read(ctr / "namespaces").count("\n") == 5
    write_back_every_file(render_bin, ctr, tmp_path)
    assert read(ctr / "opts") == ""


def test_every_file_of_a_rich_container_takes_back_what_it_shows(render_bin, rich, tmp_path):
    assert read(rich / "mounts").splitlines()[-1] == "/empty - - "
    write_back_every_file(render_bin, rich, tmp_path)


def test_a_value_that_only_looks_like_what_is_shown_is_still_a_value(render_bin, rich):
    """Writing back is exact: another spelling of the same value is a write
    like any other (and a limit set to what it already is adds a line that
    replaces the earlier one)."""
    before = read(rich / "opts")
    write_value(rich / "memory.limit", "3G")
    assert read(rich / "memory.limit") == "3221225472\n"
    assert read(rich / "opts") != before
    assert_config_fresh(render_bin, rich)
