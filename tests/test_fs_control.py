"""Control files (INTERFACE.md section 3) of a mounted container: what each
shows on a fresh container, the option line each documented write form
appends to opts, how the value then reads back and renders, round trips of
the files marked rt, and the refusals (errno, nothing changed, one line in
`error`, cleared by the next accepted write).

config.json is always compared byte for byte with bundlefs-render of the
container's own opts (--bundle the container directory), so these tests
judge the filesystem layer; the conformance suites judge the rendering."""
import errno
import os
import pathlib
import stat
import subprocess

import pytest

from support import copy_rootfs
from support.mount import lazy_unmount
from support.ctl import (
    CONTAINER_FILES,
    CONTROL_FILES,
    CONTROL_VALUE_MAX,
    ROUND_TRIP_FILES,
    assert_config_fresh,
    assert_refused,
    assert_views_match_config,
    config,
    error_text,
    opts_lines,
    read,
    sh,
    state_of,
    wait_rootfs_mounted,
    write_value,
)

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
DEFAULT_MOUNTS = [
    "/proc proc proc nosuid,noexec,nodev",
    "/dev tmpfs tmpfs nosuid,strictatime,mode=755,size=65536k",
    "/dev/pts devpts devpts nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5",
    "/dev/shm tmpfs shm nosuid,noexec,nodev,mode=1777,size=65536k",
    "/dev/mqueue mqueue mqueue nosuid,noexec,nodev",
    "/sys sysfs sysfs nosuid,noexec,nodev,ro",
    "/run tmpfs tmpfs nosuid,strictatime,mode=755,size=65536k",
]
DEFAULT_NAMESPACES = ["pid", "ipc", "uts", "mount", "network"]


def lines(items) -> str:
    return "".join(f"{x}\n" for x in items)


# What a fresh linux container's control files show (containerd's default spec).
DEFAULT_VIEWS = {
    "annotations": "",
    "args": "",
    "caps": lines(DEFAULT_CAPS),
    "caps.ambient": "",
    "cpu.cfs": "max\n",
    "cpu.rt": "max\n",
    "cpu.shares": "",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "cwd": "/\n",
    "devices": "",
    "domainname": "",
    "env": "",
    "groups": "",
    "hostname": "",
    "image": "",
    "memory.limit": "max\n",
    "memory.swap": "max\n",
    "mounts": lines(DEFAULT_MOUNTS),
    "namespaces": lines(DEFAULT_NAMESPACES),
    "pids.max": "max\n",
    "privileged": "0\n",
    "rootfs.path": "rootfs\n",
    "rootfs.readonly": "0\n",
    "tty": "0\n",
    "user": "0:0\n",
}

FIX = "@FIXTURES@"


@pytest.fixture
def box(ctr, fixtures_copy) -> pathlib.Path:
    """default/c1 with the conformance fixtures rootfs (users alice 1000,
    bob 1001, groups audio 29, video 44, ...) copied into its rootfs."""
    wait_rootfs_mounted(ctr)
    copy_rootfs(fixtures_copy / "rootfs", ctr / "rootfs")
    return ctr


def sub(value, fixtures):
    if isinstance(value, str):
        return value.replace(FIX, str(fixtures))
    if isinstance(value, list):
        return [sub(v, fixtures) for v in value]
    return value


# --- the files and their defaults ------------------------------------------------------


def test_a_container_holds_exactly_the_documented_files(ctr):
    assert set(os.listdir(ctr)) == set(CONTAINER_FILES) | {"rootfs"}
    for name in CONTROL_FILES + ("rootfs.image",):
        st = os.stat(ctr / name)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644, \
            f"{name}: mode {oct(st.st_mode)}, a control file is a 0644 regular file"


@pytest.mark.parametrize("name", CONTROL_FILES)
def test_fresh_container_shows_the_default(ctr, name):
    assert read(ctr / name) == DEFAULT_VIEWS[name]


def test_fresh_container_has_an_empty_list_and_no_error(render_bin, ctr):
    assert read(ctr / "opts") == ""
    assert error_text(ctr) == ""
    assert_config_fresh(render_bin, ctr)
    assert_views_match_config(ctr)


# --- each documented write form --------------------------------------------------------

# (file, value written in one write(2), option lines it appends, what the file
# then reads; None: checked only against config.json)
WRITE_FORMS = [
    ("annotations", "a=1\nb=x y\n", ['WithAnnotations a=1 "b=x y"'], "a=1\nb=x y\n"),
    ("annotations", "org.example/key=v=w", ["WithAnnotations org.example/key=v=w"], "org.example/key=v=w\n"),
    ("args", "/bin/sh\n-c\necho hi\n", ['WithProcessArgs /bin/sh -c "echo hi"'], "/bin/sh\n-c\necho hi\n"),
    ("args", "true", ["WithProcessArgs true"], "true\n"),
    ("caps", "net_admin", ["WithCapabilities CAP_NET_ADMIN"], "CAP_NET_ADMIN\n"),
    ("caps", "NET_ADMIN", ["WithCapabilities CAP_NET_ADMIN"], "CAP_NET_ADMIN\n"),
    ("caps", "cap_net_admin", ["WithCapabilities CAP_NET_ADMIN"], "CAP_NET_ADMIN\n"),
    ("caps", "CAP_NET_ADMIN\n", ["WithCapabilities CAP_NET_ADMIN"], "CAP_NET_ADMIN\n"),
    ("caps", "CAP_CHOWN CAP_KILL", ["WithCapabilities CAP_CHOWN CAP_KILL"], "CAP_CHOWN\nCAP_KILL\n"),
    ("caps", "CAP_CHOWN\nkill\n", ["WithCapabilities CAP_CHOWN CAP_KILL"], "CAP_CHOWN\nCAP_KILL\n"),
    ("caps", "+CAP_SYS_ADMIN", ["WithAddedCapabilities CAP_SYS_ADMIN"], lines(DEFAULT_CAPS + ["CAP_SYS_ADMIN"])),
    ("caps", "+sys_admin +Net_Admin", ["WithAddedCapabilities CAP_SYS_ADMIN CAP_NET_ADMIN"],
     lines(DEFAULT_CAPS + ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])),
    ("caps", "-CAP_CHOWN", ["WithDroppedCapabilities CAP_CHOWN"], lines(DEFAULT_CAPS[1:])),
    ("caps", "-kill\n-cap_chown\n", ["WithDroppedCapabilities CAP_KILL CAP_CHOWN"],
     lines(c for c in DEFAULT_CAPS if c not in ("CAP_KILL", "CAP_CHOWN"))),
    ("caps", "all", ["WithAllKnownCapabilities"], None),
    ("caps", "current", ["WithAllCurrentCapabilities"], None),
    ("caps", "none", ["WithCapabilities"], ""),
    ("caps.ambient", "CAP_NET_BIND_SERVICE", ["WithAmbientCapabilities CAP_NET_BIND_SERVICE"],
     "CAP_NET_BIND_SERVICE\n"),
    ("caps.ambient", "net_raw\nCAP_KILL\n", ["WithAmbientCapabilities CAP_NET_RAW CAP_KILL"], "CAP_NET_RAW\nCAP_KILL\n"),
    ("caps.ambient", "none", ["WithAmbientCapabilities"], ""),
    ("cpu.cfs", "50000 100000", ["WithCPUCFS 50000 100000"], "50000 100000\n"),
    ("cpu.cfs", "-1 100000\n", ["WithCPUCFS -1 100000"], "-1 100000\n"),
    ("cpu.rt", "950000 1000000", ["WithCPURT 950000 1000000"], "950000 1000000\n"),
    ("cpu.shares", "512\n", ["WithCPUShares 512"], "512\n"),
    ("cpuset.cpus", "0-3,5", ["WithCPUs 0-3,5"], "0-3,5\n"),
    ("cpuset.mems", "0\n", ["WithCPUsMems 0"], "0\n"),
    ("cwd", "/srv/app", ["WithProcessCwd /srv/app"], "/srv/app\n"),
    ("cwd", "/srv/my app\n", ['WithProcessCwd "/srv/my app"'], "/srv/my app\n"),
    ("devices", "/dev/null rwm", ['WithDevices /dev/null "" rwm'], "/dev/null c 1:3 0666\n"),
    ("devices", "/dev/zero:/dev/myzero rw\n", ["WithDevices /dev/zero /dev/myzero rw"], "/dev/myzero c 1:5 0666\n"),
    ("devices", "host", ["WithHostDevices"], None),
    ("devices", "allow-all", ["WithAllDevicesAllowed"], ""),
    ("devices", "default\n", ["WithDefaultUnixDevices"], None),
    ("devices", "parent", ["WithParentCgroupDevices"], ""),
    ("domainname", "example.org\n", ["WithDomainname example.org"], "example.org\n"),
    ("env", "A=1\nB=x y\n", ['WithEnv A=1 "B=x y"'], "A=1\nB=x y\n"),
    ("env", "EMPTY=", ["WithEnv EMPTY="], "EMPTY=\n"),
    ("groups", "+audio", ["WithAppendAdditionalGroups audio"], "0\n29\n"),
    ("groups", "+4000\n", ["WithAppendAdditionalGroups 4000"], "0\n4000\n"),
    ("groups", "+audio +video", ["WithAppendAdditionalGroups audio video"], "0\n29\n44\n"),
    ("groups", "from alice", ["WithAdditionalGIDs alice"], "0\n10\n44\n100\n2000\n"),
    ("hostname", "box1", ["WithHostname box1"], "box1\n"),
    ("image", f"{FIX}/images/user-name.json", [f"WithImageConfig {FIX}/images/user-name.json"],
     f"{FIX}/images/user-name.json\n"),
    ("memory.limit", "536870912", ["WithMemoryLimit 536870912"], "536870912\n"),
    ("memory.limit", "512K", ["WithMemoryLimit 524288"], "524288\n"),
    ("memory.limit", "256M\n", ["WithMemoryLimit 268435456"], "268435456\n"),
    ("memory.limit", "2G", ["WithMemoryLimit 2147483648"], "2147483648\n"),
    ("memory.limit", "1T", ["WithMemoryLimit 1099511627776"], "1099511627776\n"),
    ("memory.limit", "9223372036854775807", ["WithMemoryLimit 9223372036854775807"], "9223372036854775807\n"),
    ("memory.swap", "-1", ["WithMemorySwap -1"], "-1\n"),
    ("memory.swap", "3G", ["WithMemorySwap 3221225472"], "3221225472\n"),
    ("mounts", '[\n  {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}\n]\n',
     ['WithMounts [{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]}]'],
     lines(DEFAULT_MOUNTS + ["/data bind /srv/data rbind,ro"])),
    ("mounts", "-/run", ["WithoutMounts /run"], lines(DEFAULT_MOUNTS[:-1])),
    ("mounts", "-/run -/dev/mqueue\n", ["WithoutMounts /run /dev/mqueue"],
     lines(m for m in DEFAULT_MOUNTS if not m.startswith(("/run", "/dev/mqueue")))),
    ("namespaces", "host network", ["WithHostNamespace network"], lines(DEFAULT_NAMESPACES[:-1])),
    ("namespaces", "network /proc/1/ns/net", ["WithLinuxNamespace network /proc/1/ns/net"],
     lines(DEFAULT_NAMESPACES[:-1] + ["network /proc/1/ns/net"])),
    ("namespaces", "user\n", ["WithLinuxNamespace user"], lines(DEFAULT_NAMESPACES + ["user"])),
    ("pids.max", "100", ["WithPidsLimit 100"], "100\n"),
    ("privileged", "1\n", ["WithPrivileged"], "1\n"),
    ("rootfs.path", "/srv/root", ["WithRootFSPath /srv/root"], "/srv/root\n"),
    ("rootfs.readonly", "1", ["WithRootFSReadonly"], "1\n"),
    ("tty", "1", ["WithTTY"], "1\n"),
    ("tty", "80x24\n", ["WithTTYSize 80 24"], "0\n"),
    ("user", "alice", ["WithUser alice"], "1000:1000\n"),
    ("user", "1000\n", ["WithUser 1000"], "1000:1000\n"),
    ("user", "bob:video", ["WithUser bob:video"], "1001:44\n"),
    ("user", "1001:44", ["WithUser 1001:44"], "1001:44\n"),
]


def test_every_control_file_has_write_forms():
    assert {f for f, *_ in WRITE_FORMS} == set(CONTROL_FILES)


@pytest.mark.parametrize("name,value,want_lines,want_read", WRITE_FORMS,
                         ids=[f"{f}:{v.strip()[:30]!r}" for f, v, *_ in WRITE_FORMS])
def test_write_form_appends_its_option_line(render_bin, box, fixtures_copy, name, value, want_lines, want_read):
    value, want_lines, want_read = (sub(x, fixtures_copy) for x in (value, want_lines, want_read))
    # Something in the list already, so "appends" is checked, not "replaces".
    write_value(box / "opts", "WithHostname before\n")
    before = opts_lines(box)
    write_value(box / name, value)
    assert error_text(box) == ""
    assert opts_lines(box) == before + want_lines
    assert_config_fresh(render_bin, box)
    if want_read is not None:
        assert read(box / name) == want_read
    assert_views_match_config(box)


def test_tty_size_sets_the_console_size(render_bin, ctr):
    write_value(ctr / "tty", "80x24")
    assert config(ctr)["process"]["consoleSize"] == {"height": 24, "width": 80}
    assert_config_fresh(render_bin, ctr)


def test_caps_all_lists_every_capability_libcap_knows(render_bin, ctr):
    write_value(ctr / "caps", "all")
    caps = read(ctr / "caps").splitlines()
    assert {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} <= set(caps)
    assert config(ctr)["process"]["capabilities"]["bounding"] == caps


def test_caps_current_is_the_daemons_effective_set(render_bin, daemon, ctr):
    write_value(ctr / "caps", "current")
    with open(f"/proc/{daemon.pid}/status") as f:
        capeff = int(next(l for l in f if l.startswith("CapEff:")).split()[1], 16)
    caps = read(ctr / "caps").splitlines()
    assert len(caps) == bin(capeff).count("1")
    assert_config_fresh(render_bin, ctr)


def test_caps_none_gives_an_empty_set(ctr):
    write_value(ctr / "caps", "none")
    assert config(ctr)["process"]["capabilities"] == {}
    assert read(ctr / "caps") == ""
    write_value(ctr / "caps.ambient", "CAP_KILL")
    write_value(ctr / "caps.ambient", "none")
    assert read(ctr / "caps.ambient") == ""
    assert "ambient" not in config(ctr)["process"]["capabilities"]


def test_image_sets_args_env_cwd_and_user_from_the_image(render_bin, box, fixtures_copy):
    path = fixtures_copy / "images" / "user-name.json"
    write_value(box / "image", str(path))
    cfg = assert_config_fresh(render_bin, box)
    assert cfg["process"]["args"] == ["/bin/bash", "-l"]
    assert cfg["process"]["cwd"] == "/home/alice"
    assert "HOME=/home/alice" in cfg["process"]["env"]
    assert read(box / "user") == "1000:1000\n"
    assert read(box / "image") == f"{path}\n"


def test_groups_from_user_lists_her_supplementary_groups(box):
    write_value(box / "groups", "from alice")
    gids = [int(x) for x in read(box / "groups").split()]
    assert set(gids) >= {10, 44, 100, 2000}
    assert config(box)["process"]["user"]["additionalGids"] == gids


# --- devices: directories and udev matches ---------------------------------------------


def test_devices_directory_adds_every_device_below_it(render_bin, ctr, tmp_path):
    d = tmp_path / "devs"
    (d / "sub").mkdir(parents=True)
    os.mknod(d / "mynull", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(d / "sub" / "myzero", 0o640 | stat.S_IFCHR, os.makedev(1, 5))
    os.chmod(d / "mynull", 0o666)
    os.chmod(d / "sub" / "myzero", 0o640)
    (d / "notes.txt").write_text("not a device\n")
    write_value(ctr / "devices", f"{d} rw")
    assert opts_lines(ctr) == [f'WithDevices {d} "" rw']
    assert read(ctr / "devices") == f"{d}/mynull c 1:3 0666\n{d}/sub/myzero c 1:5 0640\n"
    cfg = assert_config_fresh(render_bin, ctr)
    allowed = [x for x in cfg["linux"]["resources"]["devices"] if x["allow"]]
    assert [(x["major"], x["minor"], x["access"]) for x in allowed] == [(1, 3, "rw"), (1, 5, "rw")]


def udev_nodes(subsystem: str) -> list[str]:
    """The device nodes sysfs lists for a subsystem (what libudev enumerates):
    /dev/ + DEVNAME of every /sys/class/<subsystem>/*/uevent."""
    nodes = []
    for dev in sorted(pathlib.Path("/sys/class", subsystem).iterdir()):
        for line in (dev / "uevent").read_text().splitlines():
            if line.startswith("DEVNAME="):
                nodes.append("/dev/" + line.split("=", 1)[1])
    return sorted(nodes)


def test_devices_udev_match_adds_one_line_per_device_node(render_bin, ctr):
    # /sys/class/mem exists on every Linux machine (null, zero, full, random, ...).
    nodes = udev_nodes("mem")
    assert "/dev/null" in nodes and "/dev/zero" in nodes, f"/sys/class/mem lists {nodes}"
    for node in nodes:
        assert stat.S_ISCHR(os.stat(node).st_mode), f"{node} (listed by sysfs) is not on this machine"
    write_value(ctr / "devices", "subsystem=mem rw")
    assert error_text(ctr) == ""
    assert opts_lines(ctr) == [f'WithDevices {n} "" rw' for n in nodes]
    assert [l.split()[0] for l in read(ctr / "devices").splitlines()] == nodes
    assert_config_fresh(render_bin, ctr)
    assert_views_match_config(ctr)


def test_devices_udev_match_without_a_device_is_refused(ctr):
    assert_refused(ctr, "devices", "subsystem=no-such-subsystem rw", errno.ENOENT)


# --- values written line by line (a shell's printf) ------------------------------------


@pytest.mark.parametrize("name,printf,want", [
    ("env", r"A=1\nB=2\n", "WithEnv A=1 B=2"),
    ("args", r"a\nb c\n", 'WithProcessArgs a "b c"'),
    ("caps", r"CAP_CHOWN\nCAP_KILL\n", "WithCapabilities CAP_CHOWN CAP_KILL"),
    ("annotations", r"x=1\ny=2\n", "WithAnnotations x=1 y=2"),
])
def test_shell_printf_of_several_lines_gives_one_option_line(render_bin, ctr, name, printf, want):
    sh(f"printf '{printf}' > {name}", cwd=ctr)
    assert opts_lines(ctr) == [want]
    assert_config_fresh(render_bin, ctr)


def test_writes_to_one_open_file_build_one_value(render_bin, ctr):
    fd = os.open(ctr / "args", os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"a\n")
        assert opts_lines(ctr) == ["WithProcessArgs a"]
        os.write(fd, b"b\n")
        assert opts_lines(ctr) == ["WithProcessArgs a b"]
        os.write(fd, b"c")
        assert opts_lines(ctr) == ["WithProcessArgs a b c"]
    finally:
        os.close(fd)
    assert config(ctr)["process"]["args"] == ["a", "b", "c"]
    # A new open file is a new value; its line makes the earlier one
    # pointless (nothing between them reads the arguments): it replaces it.
    write_value(ctr / "args", "d")
    assert opts_lines(ctr) == ["WithProcessArgs d"]
    assert_config_fresh(render_bin, ctr)


def test_a_refused_later_write_keeps_what_the_open_file_had(ctr):
    fd = os.open(ctr / "env", os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"A=1\n")
        before = state_of(ctr)
        with pytest.raises(OSError) as e:
            os.write(fd, b"not-a-pair\n")
        assert e.value.errno == errno.EINVAL
        assert state_of(ctr) == before
        assert error_text(ctr).count("\n") == 1
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithEnv A=1"]


def test_another_writer_in_between_loses_nothing(ctr):
    fd = os.open(ctr / "args", os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"a\n")
        write_value(ctr / "hostname", "other")
        os.write(fd, b"b\n")
    finally:
        os.close(fd)
    got = opts_lines(ctr)
    assert "WithHostname other" in got
    assert got[-1] == "WithProcessArgs a b"
    cfg = config(ctr)
    assert cfg["hostname"] == "other" and cfg["process"]["args"] == ["a", "b"]


# --- round trips ----------------------------------------------------------------------

# (file, values written first to reach a non-trivial state)
ROUND_TRIPS = [
    ("caps", ["+CAP_SYS_ADMIN", "-CAP_KILL"]),
    ("caps.ambient", ["CAP_NET_BIND_SERVICE CAP_CHOWN"]),
    ("env", ["PATH=/usr/bin:/bin\nGREETING=hello world\nEQ=a=b\nEMPTY="]),
    ("args", ['/bin/sh\n-c\necho "$HOME" done\n\nlast']),
    ("cwd", ["/srv/my app"]),
    ("hostname", ["box-1.example"]),
    ("domainname", ["corp.example.org"]),
    ("memory.limit", ["3G"]),
    ("memory.swap", ["1536M"]),
    ("memory.swap", ["-1"]),
    ("pids.max", ["4096"]),
    ("cpu.shares", ["2048"]),
    ("cpu.cfs", ["25000 50000"]),
    ("cpu.rt", ["950000 1000000"]),
    ("cpuset.cpus", ["0-3,5,7-8"]),
    ("cpuset.mems", ["0-1"]),
    ("annotations", ["org.example/a=1\nb=x y\nc=k=v"]),
]


def test_every_rt_file_has_a_round_trip_case():
    assert {f for f, _ in ROUND_TRIPS} == set(ROUND_TRIP_FILES)


@pytest.mark.parametrize("name,setup", ROUND_TRIPS, ids=[f"{f}:{s[-1][:20]!r}" for f, s in ROUND_TRIPS])
def test_writing_back_what_was_read_changes_nothing(render_bin, ctr, tmp_path, name, setup):
    for value in setup:
        write_value(ctr / name, value)
    shown = read(ctr / name)
    assert shown not in ("", DEFAULT_VIEWS[name]), f"{name}: the setup left the default {shown!r}"
    cfg_before = read(ctr / "config.json")
    n_before = len(opts_lines(ctr))

    # Exactly what the file shows: nothing changes, not even opts.
    opts_before = read(ctr / "opts")
    write_value(ctr / name, shown)
    assert read(ctr / "config.json") == cfg_before
    assert read(ctr / name) == shown
    assert read(ctr / "opts") == opts_before
    assert len(opts_lines(ctr)) == n_before

    # The same with a shell: cat f > saved; cat saved > f
    saved = tmp_path / "saved"
    sh(f"cat {name} > {saved} && cat {saved} > {name}", cwd=ctr)
    assert read(ctr / "config.json") == cfg_before
    assert read(ctr / name) == shown
    assert_config_fresh(render_bin, ctr)


# --- refusals -------------------------------------------------------------------------

# A value each file accepts, written after a refusal to check that it clears `error`.
GOOD = {
    "annotations": "a=1", "args": "true", "caps": "CAP_KILL", "caps.ambient": "CAP_KILL",
    "cpu.cfs": "1000 100000", "cpu.rt": "1000 100000", "cpu.shares": "512", "cpuset.cpus": "0",
    "cpuset.mems": "0", "cwd": "/srv", "devices": "/dev/null rwm", "domainname": "example.org",
    "env": "A=1", "groups": "+4000", "hostname": "box", "image": f"{FIX}/images/user-uid-gid.json",
    "memory.limit": "1G", "memory.swap": "1G", "mounts": "-/run", "namespaces": "host network",
    "pids.max": "100", "privileged": "1", "rootfs.path": "/srv/root", "rootfs.readonly": "1",
    "tty": "1", "user": "1000:1000",
}

E, N, D = errno.EINVAL, errno.ENOENT, errno.ENODEV
BAD = [
    ("annotations", "novalue", E), ("annotations", "=x", E), ("annotations", "a=1\nnovalue", E),
    ("args", b"\xff\xfe", E),
    # a CR left at the end of a line or string value would read back as a line end
    ("args", "a\r\r\nb\n", E), ("args", "a\r\r\n", E), ("args", "\r\r", E), ("env", "A=1\r\r\nB=2", E),
    ("annotations", "a=1\r\r\nb=2", E), ("hostname", "box\r\r\n", E), ("cwd", "/x\r\r", E),
    ("domainname", "72\r\r\n", E), ("rootfs.path", "/r\r\r\n", E),
    ("caps", "CAP_BOGUS", E), ("caps", "net_bogus", E), ("caps", "CAP_CHOWN CAP_BOGUS", E),
    ("caps", "+CAP_SYS_ADMIN -CAP_CHOWN", E), ("caps", "12", E), ("caps", "all CAP_CHOWN", E),
    ("caps", "+", E),
    ("caps.ambient", "CAP_BOGUS", E), ("caps.ambient", "+CAP_KILL", E),
    ("cpu.cfs", "100", E), ("cpu.cfs", "x y", E), ("cpu.cfs", "50000 -1", E),
    ("cpu.cfs", "1 2 3", E), ("cpu.cfs", "9223372036854775808 100000", E),
    ("cpu.rt", "1000", E), ("cpu.rt", "1000 18446744073709551616", E),
    ("cpu.shares", "-5", E), ("cpu.shares", "abc", E), ("cpu.shares", "18446744073709551616", E),
    ("cpu.shares", "1 2", E), ("cpu.shares", "max", E),
    ("cpuset.cpus", "a-b", E), ("cpuset.cpus", "1-", E), ("cpuset.cpus", "0,,1", E),
    ("cpuset.mems", ",0", E), ("cpuset.mems", "0 1", E),
    ("cwd", "/a\n/b", E),
    ("devices", "/dev/null rwx", E), ("devices", "/dev/null:", E), ("devices", "dev/null rw", E), ("devices", "/dev/null:dev/x rw", E),
    ("devices", "/no/such/device rw", N), ("devices", "/etc/passwd rw", D), ("devices", "host parent", E),
    ("domainname", "a\nb", E),
    ("env", "NOEQUALS", E), ("env", "=x", E), ("env", "A=1\nB", E), ("env", b"A=\xff", E),
    ("groups", "audio", E), ("groups", "from", E), ("groups", "from a b", E), ("groups", "+nosuchgroup", N),
    ("groups", "+", E),
    ("hostname", "a\nb", E), ("hostname", b"\xc3\x28", E),
    ("image", "images/user-name.json", E), ("image", f"{FIX}/images/no-such.json", N),
    ("image", f"{FIX}/images/invalid.json", E),
    ("memory.limit", "-1", E), ("memory.limit", "-5M", E), ("memory.limit", "1.5G", E),
    ("memory.limit", "10X", E), ("memory.limit", "G", E), ("memory.limit", "18446744073709551616", E),
    ("memory.limit", "16777216T", E), ("memory.limit", "1 G", E),
    # over 2^63-1 the spec's signed limit would read back negative
    ("memory.limit", "9223372036854775808", E), ("memory.limit", "18446744073709551615", E),
    ("memory.limit", "8388608T", E),
    ("memory.swap", "-2", E), ("memory.swap", "9223372036854775808", E),
    ("memory.swap", "8388608T", E),
    ("mounts", "[{", E), ("mounts", "/run", E), ("mounts", '[{"destination": 1}]', E), ("mounts", "-run", E),
    ("mounts", '{"destination": "/x"}', E),
    ("namespaces", "bogus", E), ("namespaces", "host", E), ("namespaces", "network rel/path", E),
    ("namespaces", "host bogus", E), ("namespaces", "network /a /b", E),
    ("pids.max", "abc", E), ("pids.max", "99999999999999999999", E),
    ("pids.max", "1.5", E),
    ("privileged", "yes", E), ("privileged", "2", E),
    ("rootfs.path", "/a\n/b", E),
    ("rootfs.readonly", "true", E),
    ("tty", "2", E), ("tty", "80x", E), ("tty", "x24", E), ("tty", "axb", E),
    ("user", "nosuchuser", N), ("user", "alice:nosuchgroup", N), ("user", "a b", E), ("user", "a\nb", E),
]
# Every file: an empty value, a good value with a NUL byte in it (C strings
# would cut it there), and a value over 64 KiB.
EVERY_FILE_BAD = [(name, "\n", E) for name in CONTROL_FILES]
EVERY_FILE_BAD += [(name, GOOD[name] + "\0x", E) for name in CONTROL_FILES]
EVERY_FILE_BAD += [(name, "\0" + GOOD[name], E) for name in CONTROL_FILES]
EVERY_FILE_BAD += [(name, "a" * (CONTROL_VALUE_MAX + 1), errno.EFBIG) for name in CONTROL_FILES]
BAD += EVERY_FILE_BAD


def test_every_control_file_has_refusal_cases():
    assert {f for f, v, e in BAD if (f, v, e) not in EVERY_FILE_BAD} == set(CONTROL_FILES)


@pytest.mark.parametrize("name,value,want_errno", BAD,
                         ids=[f"{f}:{(v[:24] if isinstance(v, str) else repr(v))!r}" + ("..." if len(v) > 24 else "")
                              for f, v, _ in BAD])
def test_bad_value_is_refused_and_changes_nothing(render_bin, box, fixtures_copy, name, value, want_errno):
    # A non-trivial list, so "changes nothing" means something.
    write_value(box / "opts", "WithHostname before\nWithEnv X=1\n")
    assert_refused(box, name, sub(value, fixtures_copy), want_errno)
    # The next accepted write clears error.
    write_value(box / name, sub(GOOD[name], fixtures_copy))
    assert error_text(box) == ""
    assert_config_fresh(render_bin, box)


def test_error_names_the_file_and_the_reason(ctr):
    err = assert_refused(ctr, "caps", "CAP_BOGUS", errno.EINVAL)
    assert "CAP_BOGUS" in err


# What a file shows when nothing is set (`max`, `0`) reads back as a no-op
# (test_fs_roundtrip.py); once something is set, no option unsets it.
@pytest.mark.parametrize("name,setting,unset", [
    ("memory.limit", "1G", "max"), ("memory.swap", "1G", "max"), ("pids.max", "64", "max"),
    ("cpu.cfs", "1000 100000", "max"), ("cpu.rt", "1000 100000", "max"), ("tty", "1", "0"),
    ("rootfs.readonly", "1", "0"), ("privileged", "1", "0"),
])
def test_a_setting_cannot_be_undone_by_writing_what_shows_when_unset(render_bin, ctr, name, setting, unset):
    write_value(ctr / name, setting)
    assert read(ctr / name) != unset + "\n"
    assert_refused(ctr, name, unset, errno.EINVAL)
    assert_config_fresh(render_bin, ctr)


def test_a_refusal_in_another_file_is_cleared_by_any_accepted_write(ctr):
    assert_refused(ctr, "memory.limit", "-1", errno.EINVAL)
    write_value(ctr / "hostname", "ok")
    assert error_text(ctr) == ""


# --- durability of values written line by line -------------------------------------------


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
def test_a_value_written_line_by_line_survives_a_restart_as_one_line(daemon, ctr, how):
    write_value(ctr / "hostname", "h")
    fd = os.open(ctr / "args", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"a\n")
    os.write(fd, b"b c\n")
    # Each write was acknowledged: kept durably, the later one replacing the earlier.
    if how == "kill -9":
        daemon.kill9()
    else:
        os.close(fd)
        assert daemon.stop() == 0
    try:
        os.close(fd)
    except OSError:
        pass
    # (Support's Daemon.start cannot tell the dead mount from a new one; the
    # daemon's own clean-up of a dead mount is test_fs_daemon's subject.)
    lazy_unmount(daemon.mountpoint)
    daemon.start()
    assert opts_lines(ctr) == ["WithHostname h", 'WithProcessArgs a "b c"']
    assert config(ctr)["process"]["args"] == ["a", "b c"]
    # The restarted daemon knows the line came through a control file: the
    # next value replaces it.
    write_value(ctr / "args", "d")
    assert opts_lines(ctr) == ["WithHostname h", "WithProcessArgs d"]


def test_control_files_read_in_small_pieces(ctr):
    write_value(ctr / "env", "A=1\nB=" + "x" * 5000)
    for name in ("config.json", "env", "caps", "mounts"):
        whole = read(ctr / name).encode()
        fd = os.open(ctr / name, os.O_RDONLY)
        try:
            pieces = []
            while True:
                p = os.read(fd, 7)
                if not p:
                    break
                pieces.append(p)
            assert b"".join(pieces) == whole, name
            assert os.pread(fd, 10, 3) == whole[3:13], name
        finally:
            os.close(fd)


@pytest.mark.parametrize("name, value, want_line", [
    ("memory.limit", " 1G\r\n", "WithMemoryLimit 1073741824"),
    ("pids.max", "\t64 ", "WithPidsLimit 64"),
    ("cpuset.cpus", " 0-1 \n", "WithCPUs 0-1"),
    ("tty", " 1\r\n", "WithTTY"),
    ("hostname", "web\r\n", "WithHostname web"),
])
def test_blanks_around_a_value_and_crlf_line_ends_are_not_part_of_it(ctr, name, value, want_line):
    write_value(ctr / name, value)
    assert opts_lines(ctr) == [want_line]


def test_a_user_name_is_written_without_the_blanks_around_it(box):
    write_value(box / "user", " alice \n")
    assert opts_lines(box)[-1] == "WithUser alice"
    assert read(box / "user") == "1000:1000\n"
