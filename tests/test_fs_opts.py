"""The opts file (INTERFACE.md section 2) and the platform file of a mounted
container: appending (O_APPEND) and replacing (O_TRUNC) the option list, the
canonical form `cat opts` prints, refusals, the size limit, truncation, and
platforms under which the list does or does not render."""
import errno
import mmap
import os
import platform as py_platform
import threading
import time

import pytest

from support.ctl import (
    OPTS_WRITE_MAX,
    append_opts,
    assert_config_fresh,
    assert_refused,
    config,
    error_text,
    opts_lines,
    read,
    read_bytes,
    render_for,
    sh,
    state_of,
    write_from_unaligned_buffer,
    write_once,
    write_value,
)

APPEND = os.O_WRONLY | os.O_APPEND
REPLACE = os.O_WRONLY | os.O_TRUNC


def host_platform() -> str:
    machine = py_platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}[machine]
    return f"linux/{arch}"


# --- appending ---------------------------------------------------------------------------


def test_several_lines_in_one_write_are_all_kept(render_bin, ctr):
    append_opts(ctr, "WithHostname a\nWithEnv A=1 B=2\nWithProcessArgs sh -c true\n")
    assert opts_lines(ctr) == ["WithHostname a", "WithEnv A=1 B=2", "WithProcessArgs sh -c true"]
    cfg = assert_config_fresh(render_bin, ctr)
    assert cfg["hostname"] == "a" and cfg["process"]["args"] == ["sh", "-c", "true"]


@pytest.mark.parametrize("bad", [
    "WithNoSuchOption x",            # unknown option
    "WithHostname",                  # wrong number of arguments
    "WithMemoryLimit -1",            # number out of range
    'WithMounts [{"destination": 1}]',  # JSON of the wrong shape
    "WithEnvFile relative/env",      # relative host path
])
def test_one_bad_line_refuses_the_whole_write(render_bin, ctr, bad):
    append_opts(ctr, "WithHostname first\n")
    assert_refused(ctr, "opts", f"WithHostname a\n{bad}\nWithDomainname b\n", errno.EINVAL, APPEND)
    assert opts_lines(ctr) == ["WithHostname first"]
    assert_config_fresh(render_bin, ctr)


def test_a_line_that_is_not_utf8_is_refused(ctr):
    assert_refused(ctr, "opts", b"WithHostname \xff\xfe\n", errno.EINVAL, APPEND)


def test_a_line_that_does_not_render_is_refused(ctr, fixtures_copy):
    # Parses, but containerd refuses it: no users in an empty rootfs.
    assert_refused(ctr, "opts", "WithHostname a\nWithUser nosuchuser\n", errno.ENOENT, APPEND)
    # Parses, but containerd v1.7.7 would panic (no linux section after an empty spec).
    assert_refused(ctr, "opts", "WithSpecFromBytes {}\nWithMemorySwap 1\n", errno.EINVAL, APPEND)
    assert read(ctr / "opts") == ""


def test_each_accepted_write_is_visible_at_once(render_bin, ctr):
    lines = ["WithHostname one", "WithEnv A=1", "WithMemoryLimit 1048576", "WithProcessArgs /bin/true",
             "WithCapabilities CAP_KILL", "WithHostNamespace network"]
    for i, line in enumerate(lines):
        append_opts(ctr, line + "\n")
        assert opts_lines(ctr) == lines[:i + 1]
        assert_config_fresh(render_bin, ctr)
    cfg = config(ctr)
    assert cfg["linux"]["resources"]["memory"]["limit"] == 1048576
    assert {"type": "network"} not in cfg["linux"]["namespaces"]


@pytest.mark.parametrize("written,canonical", [
    ("WithHostname   box", "WithHostname box"),
    ("WithHostname\tbox\t", "WithHostname box"),
    ('WithHostname "box"', "WithHostname box"),
    ('WithHostname "\\u0062ox"', "WithHostname box"),
    ('WithEnv "A=x y" B=1', 'WithEnv "A=x y" B=1'),
    ('WithProcessArgs "" a', 'WithProcessArgs "" a'),
    ('WithProcessArgs "tab\\there"', 'WithProcessArgs "tab\\there"'),
    ('WithProcessArgs a"b', 'WithProcessArgs a"b'),
    ('WithProcessArgs "{x}" "[y]" "\\"q\\""', 'WithProcessArgs "{x}" "[y]" "\\"q\\""'),
    ('WithMounts [ { "destination" : "/x", "type" : "tmpfs",\t"source" : "tmpfs", "options" : [ "ro" ] } ]',
     'WithMounts [{"destination":"/x","type":"tmpfs","source":"tmpfs","options":["ro"]}]'),
    ('WithSpecFromBytes {"ociVersion": "1.0.0", "process": {"cwd": "/", "args": ["a]"]}}',
     'WithSpecFromBytes {"ociVersion":"1.0.0","process":{"cwd":"/","args":["a]"]}}'),
    ("WithCPUCFS 1000 2000\r", "WithCPUCFS 1000 2000"),
    ("WithHostname h\u00e9llo", "WithHostname h\u00e9llo"),
])
def test_opts_shows_the_canonical_form(render_bin, ctr, written, canonical):
    append_opts(ctr, written + "\n")
    assert opts_lines(ctr) == [canonical]
    assert_config_fresh(render_bin, ctr)
    # The canonical line is itself an option line meaning the same.
    cfg = read(ctr / "config.json")
    write_value(ctr / "opts", canonical + "\n")
    assert opts_lines(ctr) == [canonical]
    assert read(ctr / "config.json") == cfg


def test_blank_and_comment_lines_are_ignored(render_bin, ctr):
    append_opts(ctr, "\n# a comment\nWithHostname a\n\n   \n#WithHostname b\nWithDomainname d\n")
    assert opts_lines(ctr) == ["WithHostname a", "WithDomainname d"]
    assert_config_fresh(render_bin, ctr)


def test_a_write_of_only_blank_and_comment_lines_is_accepted_and_changes_nothing(ctr):
    append_opts(ctr, "WithHostname a\n")
    before = state_of(ctr)
    append_opts(ctr, "# nothing\n\n")
    assert state_of(ctr) == before
    assert error_text(ctr) == ""


def test_a_refused_write_sets_error_and_the_next_accepted_one_clears_it(ctr):
    append_opts(ctr, "WithHostname a\n")
    err = assert_refused(ctr, "opts", "WithBogus 1\n", errno.EINVAL, APPEND)
    assert "WithBogus" in err
    # Reads do not clear it.
    assert error_text(ctr) == err
    append_opts(ctr, "WithHostname b\n")
    assert error_text(ctr) == ""
    assert opts_lines(ctr) == ["WithHostname a", "WithHostname b"]


# --- replacing ------------------------------------------------------------------------


def test_replacing_builds_a_new_list_committed_at_close(render_bin, ctr):
    append_opts(ctr, "WithHostname old\nWithEnv OLD=1\n")
    old = state_of(ctr)
    fd = os.open(ctr / "opts", REPLACE)
    try:
        os.write(fd, b"WithHostname new\n")
        # A reader during the writes sees the old list, whole.
        assert state_of(ctr) == old
        os.write(fd, b"WithDomainname d\nWithEnv NEW=1\n")
        assert state_of(ctr) == old
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithHostname new", "WithDomainname d", "WithEnv NEW=1"]
    cfg = assert_config_fresh(render_bin, ctr)
    assert cfg["process"].get("env") == ["NEW=1"]


def test_readers_during_a_replace_never_see_a_partial_list(ctr):
    old_lines = [f"WithAnnotations old{i}=x" for i in range(20)]
    append_opts(ctr, "".join(l + "\n" for l in old_lines))
    new_lines = [f"WithAnnotations new{i}=y" for i in range(20)]
    seen = set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            seen.add(read(ctr / "opts"))

    t = threading.Thread(target=reader)
    t.start()
    try:
        fd = os.open(ctr / "opts", REPLACE)
        try:
            for line in new_lines:
                os.write(fd, (line + "\n").encode())
                time.sleep(0.005)
        finally:
            os.close(fd)
        time.sleep(0.05)
    finally:
        stop.set()
        t.join()
    old_text = "".join(l + "\n" for l in old_lines)
    new_text = "".join(l + "\n" for l in new_lines)
    assert seen <= {old_text, new_text}, f"a reader saw a list that is neither: {sorted(seen - {old_text, new_text})[:2]}"
    assert read(ctr / "opts") == new_text


def test_an_unfinished_last_line_waits_for_the_next_write_or_the_close(render_bin, ctr):
    fd = os.open(ctr / "opts", REPLACE)
    try:
        os.write(fd, b"WithHostname a\nWithDomain")
        os.write(fd, b"name b\nWithEnv")
        os.write(fd, b" C=1")
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithHostname a", "WithDomainname b", "WithEnv C=1"]
    assert_config_fresh(render_bin, ctr)


def test_a_refused_write_while_replacing_keeps_the_old_list(render_bin, ctr):
    append_opts(ctr, "WithHostname old\n")
    old = state_of(ctr)
    fd = os.open(ctr / "opts", REPLACE)
    try:
        os.write(fd, b"WithHostname new\n")
        with pytest.raises(OSError) as e:
            os.write(fd, b"WithBogus 1\n")
        assert e.value.errno == errno.EINVAL
        assert error_text(ctr).count("\n") == 1
        # Later writes to this open file cannot revive it.
        try:
            os.write(fd, b"WithDomainname d\n")
        except OSError:
            pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert state_of(ctr) == old
    assert error_text(ctr).count("\n") == 1
    assert_config_fresh(render_bin, ctr)


def test_a_bad_unfinished_last_line_fails_the_close_and_keeps_the_old_list(ctr):
    append_opts(ctr, "WithHostname old\n")
    old = state_of(ctr)
    fd = os.open(ctr / "opts", REPLACE)
    os.write(fd, b"WithHostname new\nWithBogus")
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EINVAL
    assert state_of(ctr) == old
    assert error_text(ctr).count("\n") == 1


def test_replacing_checks_each_line_against_the_new_list(ctr):
    # WithMemorySwap needs a linux section: fine on the old list's spec, but the
    # new list starts from WithSpecFromBytes {} where containerd would panic.
    append_opts(ctr, "WithHostname old\n")
    old = state_of(ctr)
    fd = os.open(ctr / "opts", REPLACE)
    try:
        os.write(fd, b"WithSpecFromBytes {}\n")
        with pytest.raises(OSError) as e:
            os.write(fd, b"WithMemorySwap 1\n")
        assert e.value.errno == errno.EINVAL
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert state_of(ctr) == old


def test_shell_redirection_replaces_the_list(render_bin, ctr, tmp_path):
    append_opts(ctr, "WithHostname old\n")
    saved = tmp_path / "list"
    saved.write_text("WithHostname new\nWithEnv A=1\n")
    sh(f"cat {saved} > opts", cwd=ctr)
    assert opts_lines(ctr) == ["WithHostname new", "WithEnv A=1"]
    assert_config_fresh(render_bin, ctr)


@pytest.mark.parametrize("command", ["cat {saved} > opts", "printf 'WithHostname new\\nWithBogus\\n' > opts",
                                     "exec 3> opts; cat {saved} >&3; s=$?; exec 3>&-; exit $s",
                                     "(cat {saved}; echo WithBogus) > opts"])
def test_a_shell_redirection_with_a_refused_line_keeps_the_old_list(render_bin, ctr, tmp_path, command):
    """A shell opens the file, then closes a copy of the descriptor before the
    command writes (each close of a copy reaches bundlefs as a flush); the old
    list must still be there once the command's write is refused."""
    append_opts(ctr, "WithHostname old\nWithEnv KEEP=1\n")
    old = state_of(ctr)
    saved = tmp_path / "list"
    saved.write_text("WithHostname new\nWithBogus 1\n")
    result = sh(command.format(saved=saved), cwd=ctr, check=False)
    assert result.returncode != 0, "the refused write was not reported"
    assert state_of(ctr) == old, f"`{command}` lost the old list: opts now {read(ctr / 'opts')!r}"
    assert error_text(ctr).count("\n") == 1
    assert_config_fresh(render_bin, ctr)


def test_replacing_with_nothing_empties_the_list(render_bin, ctr):
    append_opts(ctr, "WithHostname old\n")
    sh(": > opts", cwd=ctr)
    assert read(ctr / "opts") == ""
    assert_config_fresh(render_bin, ctr)


def test_truncate_empties_the_list(render_bin, ctr):
    fresh = read(ctr / "config.json")
    append_opts(ctr, "WithHostname a\nWithEnv A=1\n")
    sh("truncate -s 0 opts", cwd=ctr)
    assert read(ctr / "opts") == ""
    assert read(ctr / "config.json") == fresh
    assert os.stat(ctr / "opts").st_size == 0


def test_opts_round_trips_through_a_file(render_bin, ctr, tmp_path):
    lines = [
        'WithEnv "GREETING=hello world" EMPTY= A=1',
        'WithProcessArgs /bin/sh -c "echo \\"$GREETING\\"; exit 0" ""',
        'WithMounts [{"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]}]',
        'WithAnnotations "note=a\\tb" k=v=w',
        "WithHostname box",
        "WithCPUCFS -1 100000",
        "WithDevices /dev/null \"\" rwm",
        "WithCapabilities",
        'WithProcessCwd "/srv/my app"',
    ]
    append_opts(ctr, "".join(l + "\n" for l in lines))
    assert opts_lines(ctr) == lines
    before = state_of(ctr)
    saved = tmp_path / "saved"
    sh(f"cat opts > {saved}; cat {saved} > opts", cwd=ctr)
    assert state_of(ctr) == before
    # And into another container of the same namespace: same list.
    other = ctr.parent / "c2"
    other.mkdir()
    sh(f"cat {saved} > {other}/opts")
    assert read_bytes(other / "opts") == before[0]
    assert_config_fresh(render_bin, other)


# --- sizes ------------------------------------------------------------------------------


def many_lines(total: int) -> bytes:
    """Valid option lines, about total bytes in all."""
    line = b"WithHostname h%09d\n"  # 24 bytes
    return b"".join(line % i for i in range(total // 24 + 1))


def test_an_append_write_over_1mib_is_refused_with_efbig(ctr):
    """The kernel hands bundlefs a page-aligned write in pieces of exactly
    1 MiB: a first piece that size ending within a line is refused."""
    append_opts(ctr, "WithHostname before\n")
    before = state_of(ctr)
    data = many_lines(OPTS_WRITE_MAX + 100_000)
    assert len(data) > OPTS_WRITE_MAX
    try:
        n = write_from_unaligned_buffer(ctr / "opts", data, APPEND, 0)
    except OSError as e:
        assert e.errno == errno.EFBIG, f"expected EFBIG, got {e}"
    else:
        raise AssertionError(f"a {len(data)}-byte write to opts returned {n}; "
                             f"opts now has {len(opts_lines(ctr))} lines, the last {opts_lines(ctr)[-1]!r}")
    assert state_of(ctr) == before
    assert error_text(ctr).count("\n") == 1


def write_all_from_unaligned_buffers(path, data: bytes, flags: int, offset: int = 4007) -> list[int]:
    """What a writer's loop does (stdio, Python's buffered files, cat):
    write(2) again from where a short count stopped, each time from a
    buffer that does not start on a page. Returns each write's count."""
    counts = []
    m = mmap.mmap(-1, len(data) + 2 * mmap.PAGESIZE)
    try:
        fd = os.open(path, flags)
        try:
            done = 0
            while done < len(data):
                rest = data[done:]
                m[offset:offset + len(rest)] = rest
                with memoryview(m) as view:
                    n = os.write(fd, view[offset:offset + len(rest)])
                assert n > 0, f"write returned {n}"
                counts.append(n)
                done += n
        finally:
            os.close(fd)
    finally:
        m.close()
    return counts


def test_a_write_the_kernel_cuts_within_a_line_answers_a_short_count_at_a_line_end(ctr):
    """From a buffer that does not start on a page the kernel cuts a write of
    more than 1 MiB - 4 KiB within a line: bundlefs keeps the whole lines of
    that piece and answers a short count ending at the last of them, so the
    writer's loop sends the rest from the line's start. Every line is kept
    whole, none torn, none lost, and every count is honest."""
    data = many_lines(OPTS_WRITE_MAX + 100_000)
    want = data.decode().splitlines()
    n = write_from_unaligned_buffer(ctr / "opts", data, APPEND, 4007)
    assert n < len(data) and data[n - 1:n] == b"\n", f"count {n} of {len(data)} does not end at a line end"
    assert opts_lines(ctr) == data[:n].decode().splitlines()
    counts = write_all_from_unaligned_buffers(ctr / "opts", data[n:], APPEND)
    assert all(data[n:][:sum(counts[:i + 1])].endswith(b"\n") for i in range(len(counts)))
    assert opts_lines(ctr) == want


def test_a_write_of_up_to_1mib_minus_4kib_is_kept_whole_wherever_its_buffer_lies(ctr):
    """No buffer of this size spans more than 256 pages: the kernel hands it
    over in one piece."""
    data = many_lines(OPTS_WRITE_MAX - 4096 - 30)
    data = data[:len(data) - len(data) % 24]
    assert OPTS_WRITE_MAX - 8192 < len(data) < OPTS_WRITE_MAX - 4095
    for offset in (0, 17, 4007, 4095):
        sh("truncate -s 0 opts", cwd=ctr)
        n = write_from_unaligned_buffer(ctr / "opts", data, APPEND, offset)
        assert n == len(data), f"buffer at page offset {offset}: {n} of {len(data)}"
        assert opts_lines(ctr) == data.decode().splitlines()


def test_a_line_of_nearly_1mib_the_kernel_cuts_is_refused_whole_with_efbig(ctr):
    """A piece of nearly 1 MiB without a line end is part of a line longer
    than bundlefs can take back from one write(2) and answer honestly: the
    write fails and keeps nothing (it used to report the first piece written
    and keep nothing)."""
    append_opts(ctr, "WithHostname before\n")
    before = state_of(ctr)
    data = b"WithHostname " + b"h" * 1_677_777 + b"\n"
    with pytest.raises(OSError) as e:
        write_from_unaligned_buffer(ctr / "opts", data, APPEND, 4007)
    assert e.value.errno == errno.EFBIG
    assert state_of(ctr) == before
    assert error_text(ctr).count("\n") == 1


def test_a_long_line_written_in_pieces_is_kept_whole(ctr, tmp_path):
    """cat writes 128 KiB at a time: a 300,000-character line arrives in
    three writes, the first two ending within it. The line waits for its
    end; no line nobody wrote is kept."""
    line = "WithHostname " + "h" * 300_000
    src = tmp_path / "line300k"
    src.write_text(line + "\n")
    sh(f"cat {src} >> opts", cwd=ctr)
    assert read(ctr / "opts") == line + "\n"
    # and one that does not parse, in pieces, is refused whole
    bad = tmp_path / "bad300k"
    bad.write_text("WithHostname " + "h" * 200_000 + " x y\n")
    result = sh(f"cat {bad} >> opts", cwd=ctr, check=False)
    assert result.returncode != 0
    assert read(ctr / "opts") == line + "\n"


def test_an_unfinished_last_line_waits_for_the_next_write_or_the_last_close(render_bin, ctr):
    fd = os.open(ctr / "opts", APPEND)
    try:
        assert os.write(fd, b"WithHostname a\nWithDomain") == 25
        assert opts_lines(ctr) == ["WithHostname a"]
        assert os.write(fd, b"name b\nWithEnv A=1") == 18
        assert opts_lines(ctr) == ["WithHostname a", "WithDomainname b"]
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithHostname a", "WithDomainname b", "WithEnv A=1"]
    assert_config_fresh(render_bin, ctr)
    # A shell's commands writing one line in parts: the line waits until the
    # shell's own descriptor is closed, not the first command's.
    sh("{ printf WithHost; /usr/bin/printf 'name c'; printf '\\n'; } >> opts", cwd=ctr)
    assert opts_lines(ctr)[-1] == "WithHostname c"
    # An unfinished line that does not parse fails the close.
    fd = os.open(ctr / "opts", APPEND)
    os.write(fd, b"WithBogus")
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EINVAL
    assert opts_lines(ctr)[-1] == "WithHostname c"


def test_a_replace_write_over_1mib_is_refused_with_efbig(ctr):
    """As for appends: a page-aligned write over 1 MiB reaches bundlefs as a
    first piece of exactly 1 MiB ending within a line, and is refused; the
    old list stays."""
    append_opts(ctr, "WithHostname before\n")
    old = state_of(ctr)
    data = many_lines(OPTS_WRITE_MAX + 100_000)
    with pytest.raises(OSError) as e:
        write_from_unaligned_buffer(ctr / "opts", data, REPLACE, 0)
    assert e.value.errno == errno.EFBIG
    assert state_of(ctr) == old
    assert error_text(ctr).count("\n") == 1


def test_a_control_file_value_of_exactly_64kib_is_accepted(ctr):
    value = "X=" + "v" * (64 * 1024 - 2)
    write_value(ctr / "env", value)
    assert read(ctr / "env") == value + "\n"


# --- platform ----------------------------------------------------------------------------


def test_platform_defaults_to_the_host(ctr):
    assert read(ctr / "platform") == host_platform() + "\n"


def test_windows_platform_renders_the_windows_default_spec(render_bin, ctr):
    write_value(ctr / "platform", "windows/amd64\n")
    assert read(ctr / "platform") == "windows/amd64\n"
    assert read(ctr / "opts") == ""
    cfg = assert_config_fresh(render_bin, ctr)
    assert "windows" in cfg and "linux" not in cfg
    res = render_for(render_bin, ctr, [], platform="windows/amd64")
    assert read(ctr / "config.json") == res.stdout
    assert error_text(ctr) == ""


def test_platform_change_keeps_the_list(render_bin, ctr):
    append_opts(ctr, "WithHostname box\nWithProcessArgs cmd.exe\n")
    write_value(ctr / "platform", "windows/amd64")
    cfg = assert_config_fresh(render_bin, ctr)
    assert cfg["process"]["args"] == ["cmd.exe"]
    write_value(ctr / "platform", host_platform())
    assert_config_fresh(render_bin, ctr)
    assert "linux" in config(ctr)


@pytest.mark.parametrize("bad", ["linux/amd64/v7/extra", "", "\n", "/amd64", "linux//v7"])
def test_an_invalid_platform_is_refused(ctr, bad):
    before = read(ctr / "platform")
    assert_refused(ctr, "platform", bad + "\n", errno.EINVAL)
    assert read(ctr / "platform") == before


def test_a_platform_under_which_the_list_does_not_render_is_refused(render_bin, ctr):
    append_opts(ctr, "WithMemorySwap 1048576\n")
    before = read(ctr / "platform")
    err = assert_refused(ctr, "platform", "darwin/arm64\n", errno.EINVAL)
    assert read(ctr / "platform") == before
    assert_config_fresh(render_bin, ctr)
    # The same platform is fine for an empty list; it clears the error.
    sh("truncate -s 0 opts", cwd=ctr)
    write_value(ctr / "platform", "darwin/arm64")
    assert read(ctr / "platform") == "darwin/arm64\n"
    assert error_text(ctr) == ""
    assert err
    assert_config_fresh(render_bin, ctr)
