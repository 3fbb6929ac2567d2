"""Editors and everyday tools on opts and control files (docs/bundlefs.md
sections 2 and 3): vim and nano through a pty, tail -f, reads of an open
file at offset 0, `cmd > opts` while readers read, ftruncate of an open
file, and the shell's own patterns (`: > opts`, `exec 3> opts`)."""
import errno
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import threading
import time

import pytest

from support.ctl import (
    append_opts,
    assert_config_fresh,
    config,
    error_text,
    opts_lines,
    read,
    sh,
    state_of,
    write_value,
)

VIM = shutil.which("vim") or shutil.which("vim.tiny")
NANO = shutil.which("nano")


class Terminal:
    """A program on a pty, driven by keystrokes as a user types them."""

    def __init__(self, argv, cwd, home):
        self.master, slave = pty.openpty()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm", "HOME": str(home),
               "LANG": "C.UTF-8", "LINES": "24", "COLUMNS": "80"}
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     close_fds=True, start_new_session=True)
        os.close(slave)
        self.screen = b""

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    return

    def wait_for(self, text: bytes, seconds=10.0):
        end = time.monotonic() + seconds
        while text not in self.screen:
            assert time.monotonic() < end, f"{text!r} never showed; the screen ends {self.screen[-400:]!r}"
            self.drain(0.05)

    def wait_for_any(self, texts, seconds=10.0):
        end = time.monotonic() + seconds
        while not any(text in self.screen for text in texts):
            assert time.monotonic() < end, f"none of {texts!r} showed; the screen ends {self.screen[-400:]!r}"
            self.drain(0.05)

    def type(self, keys: bytes, settle=0.2):
        os.write(self.master, keys)
        self.drain(settle)

    def finish(self, seconds=10.0) -> int:
        try:
            return self.proc.wait(seconds)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.drain(0.05)
            os.close(self.master)


def vim(path, home, keys: bytes) -> Terminal:
    """vim without any configuration, no swap file, typing keys once it is up."""
    assert VIM, "no vim: scripts/deps installs vim-tiny"
    t = Terminal([VIM, "-u", "NONE", "-i", "NONE", "-N", "-n", os.path.basename(path)], os.path.dirname(path),
                 home)
    t.wait_for(b"\x1b[", 10)   # the screen is drawn
    t.drain(0.3)
    t.type(keys, settle=0.5)
    # A file whose mtime moved since vim read it (a control file's shows
    # when it was looked at) makes vim ask before writing.
    if b"Do you really want to write" in t.screen:
        t.type(b"y", settle=0.5)
    return t


def nano_save(t: Terminal):
    """^O writes out, Enter keeps the name; a file whose mtime moved since
    nano read it makes nano ask before writing."""
    outcomes = (b"Wrote ", b"Error writing")
    t.type(b"\x0f")
    t.type(b"\r", settle=0.1)
    t.wait_for_any(outcomes + (b"continue saving?",))
    if not any(o in t.screen for o in outcomes):
        t.type(b"y", settle=0.1)
        t.wait_for_any(outcomes)


ESC = b"\x1b"


def test_vim_saving_a_line_that_is_refused_keeps_the_list(render_bin, ctr, tmp_path):
    """vim opens opts without O_TRUNC and truncates it with ftruncate(fd, 0)
    before writing: that open file becomes a replace, committed at close.
    A refused line fails the save and the list stays whole (it used to be
    emptied at the truncate)."""
    append_opts(ctr, "WithHostname old\nWithEnv KEEP=1\n")
    before = state_of(ctr)
    t = vim(ctr / "opts", tmp_path, b"GoWithUser nosuchuser" + ESC + b":wq\r")
    t.drain(1.0)
    assert t.proc.poll() is None, "vim quit as if the refused save had worked"
    t.type(b":q!\r")
    t.finish()
    assert state_of(ctr) == before, f"opts after the refused save: {read(ctr / 'opts')!r}"
    assert "WithUser" in error_text(ctr), error_text(ctr)
    assert_config_fresh(render_bin, ctr)


def test_vim_edits_opts_and_a_control_file(render_bin, ctr, tmp_path):
    append_opts(ctr, "WithHostname old\nWithEnv KEEP=1\n")
    t = vim(ctr / "opts", tmp_path, b"ggcwWithDomainname" + ESC + b"Go" + b"WithMemoryLimit 1048576" + ESC +
            b":wq\r")
    assert t.finish() == 0, t.screen[-400:]
    assert opts_lines(ctr) == ["WithDomainname old", "WithEnv KEEP=1", "WithMemoryLimit 1048576"]
    assert_config_fresh(render_bin, ctr)
    # A control file: its whole text is one value.
    t = vim(ctr / "memory.limit", tmp_path, b"ggcc2G" + ESC + b":wq\r")
    assert t.finish() == 0, t.screen[-400:]
    assert read(ctr / "memory.limit") == "2147483648\n"
    t = vim(ctr / "hostname", tmp_path, b"ggccweb-1" + ESC + b":wq\r")
    assert t.finish() == 0, t.screen[-400:]
    assert read(ctr / "hostname") == "web-1\n"
    # Saving a control file unchanged changes nothing.
    before = state_of(ctr)
    t = vim(ctr / "memory.limit", tmp_path, b":wq\r")
    assert t.finish() == 0, t.screen[-400:]
    assert state_of(ctr) == before
    assert_config_fresh(render_bin, ctr)


def test_nano_edits_opts_and_a_refused_save_keeps_the_list(render_bin, ctr, tmp_path):
    assert NANO, "no nano: scripts/deps installs it"
    append_opts(ctr, "WithHostname old\n")
    # Alt-/ goes to the end, ^X leaves.
    t = Terminal([NANO, "--ignorercfiles", "opts"], ctr, tmp_path)
    t.wait_for(b"GNU nano")
    t.type(b"\x1b/WithDomainname d\r")
    nano_save(t)
    t.type(b"\x18")
    assert t.finish() == 0, t.screen[-400:]
    assert opts_lines(ctr) == ["WithHostname old", "WithDomainname d"]
    assert_config_fresh(render_bin, ctr)

    before = state_of(ctr)
    t = Terminal([NANO, "--ignorercfiles", "opts"], ctr, tmp_path)
    t.wait_for(b"GNU nano")
    t.type(b"\x1b/WithUser nosuchuser\r")
    nano_save(t)
    t.wait_for(b"Error writing")
    t.type(b"\x18")
    t.type(b"n")
    t.finish()
    assert state_of(ctr) == before
    assert error_text(ctr).count("\n") == 1

    t = Terminal([NANO, "--ignorercfiles", "cwd"], ctr, tmp_path)
    t.wait_for(b"GNU nano")
    t.type(b"\x0b/srv/app")      # ^K cuts the line; the new one is typed
    nano_save(t)
    t.type(b"\x18")
    assert t.finish() == 0, t.screen[-400:]
    assert read(ctr / "cwd") == "/srv/app\n"
    assert_config_fresh(render_bin, ctr)


def test_tail_f_follows_appends_to_opts(ctr):
    append_opts(ctr, "WithHostname a\n")
    tail = subprocess.Popen(["tail", "-f", "-s", "0.1", str(ctr / "opts")], stdout=subprocess.PIPE)
    try:
        seen = b""

        def wait_for(text):
            nonlocal seen
            end = time.monotonic() + 10
            while text not in seen:
                assert time.monotonic() < end, f"tail -f showed {seen!r}, not {text!r}"
                ready, _, _ = select.select([tail.stdout], [], [], 0.1)
                if ready:
                    seen += os.read(tail.stdout.fileno(), 4096)

        wait_for(b"WithHostname a\n")
        append_opts(ctr, "WithDomainname d\n")
        wait_for(b"WithDomainname d\n")
        write_value(ctr / "env", "X=1")
        wait_for(b"WithEnv X=1\n")
        assert seen == b"WithHostname a\nWithDomainname d\nWithEnv X=1\n"
    finally:
        tail.kill()
        tail.wait()


@pytest.mark.parametrize("name", ["config.json", "opts", "hostname", "error"])
def test_a_read_at_offset_0_of_an_open_file_shows_the_current_content(ctr, name):
    append_opts(ctr, "WithHostname old\n")
    with open(ctr / name, "rb") as f:
        first = f.read()
        append_opts(ctr, "WithHostname new\n")
        if name == "error":
            with pytest.raises(OSError):
                append_opts(ctr, "WithBogus\n")
        f.seek(0)
        again = f.read()
    assert again == (ctr / name).read_bytes()
    assert again != first, f"{name} read again at offset 0 showed the old content"


def test_a_read_after_a_write_sees_it_even_on_a_file_opened_before(ctr):
    fd = os.open(ctr / "config.json", os.O_RDONLY)
    try:
        write_value(ctr / "hostname", "after-open")
        assert b'"hostname":"after-open"' in os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)


# --- `>` replaces the list at the last close, atomically ------------------------------------


def watch(ctr, stop, seen):
    """Read opts and config.json's hostname until stop is set."""
    while not stop.is_set():
        seen.add(read(ctr / "opts"))
        seen.add(config(ctr).get("hostname"))


def test_a_slow_command_redirected_to_opts_never_shows_an_empty_list(ctr, tmp_path):
    """The shell opens opts, closes its own copy of the descriptor, and the
    command writes a second later: readers (runc) see the old list all along,
    then the new one, never an empty list and a default spec."""
    append_opts(ctr, "WithHostname old\nWithEnv A=1\n")
    new = tmp_path / "new"
    new.write_text("WithHostname new\nWithEnv B=2\n")
    seen, stop = set(), threading.Event()
    reader = threading.Thread(target=watch, args=(ctr, stop, seen))
    reader.start()
    try:
        sh(f"(sleep 1; cat {new}) > opts", cwd=ctr)
        append_opts(ctr, "WithHostname old\n")
        sh(f"sleep 0.5; cat {new} | (sleep 0.5; cat) > opts", cwd=ctr)
    finally:
        stop.set()
        reader.join()
    wanted = {"WithHostname old\nWithEnv A=1\n", "WithHostname new\nWithEnv B=2\n",
              "WithHostname new\nWithEnv B=2\nWithHostname old\n", "old", "new"}
    assert seen <= wanted, f"readers saw {sorted(seen - wanted, key=str)}"
    assert {"old", "new"} <= seen


@pytest.mark.parametrize("command", [": > opts", "> opts", "true > opts", "exec 3> opts; exec 3>&-",
                                     "python3 -c 'open(\"opts\", \"w\").close()'"])
def test_a_redirection_that_writes_nothing_empties_the_list_by_the_time_it_returns(render_bin, ctr, command):
    append_opts(ctr, "WithHostname old\n")
    sh(command, cwd=ctr)
    assert read(ctr / "opts") == ""
    assert_config_fresh(render_bin, ctr)


def test_a_descriptor_handed_to_a_child_commits_when_the_child_closes_it(ctr):
    """A parent opens opts, gives it to a child as its stdout and closes its
    own: the list stays until the child is done."""
    append_opts(ctr, "WithHostname old\n")
    with open(ctr / "opts", "w") as out:
        child = subprocess.Popen(["sh", "-c", "sleep 0.5; echo WithHostname new"], stdout=out)
    assert read(ctr / "opts") == "WithHostname old\n"
    assert child.wait(10) == 0
    assert read(ctr / "opts") == "WithHostname new\n"


def test_a_descriptor_kept_open_by_the_shell_commits_when_the_shell_closes_it(ctr, tmp_path):
    append_opts(ctr, "WithHostname old\n")
    new = tmp_path / "new"
    new.write_text("WithHostname new\n")
    script = f"exec 3> opts; cat {new} >&3; cat opts > {tmp_path}/during; exec 3>&-; cat opts > {tmp_path}/after"
    sh(script, cwd=ctr)
    assert (tmp_path / "during").read_text() == "WithHostname old\n"
    assert (tmp_path / "after").read_text() == "WithHostname new\n"


# --- ftruncate of an open file -------------------------------------------------------------


def test_ftruncate_to_0_of_opts_opened_without_o_trunc_replaces_it_at_close(render_bin, ctr):
    append_opts(ctr, "WithHostname old\nWithEnv A=1\n")
    fd = os.open(ctr / "opts", os.O_WRONLY)
    try:
        os.ftruncate(fd, 0)
        assert opts_lines(ctr) == ["WithHostname old", "WithEnv A=1"]
        os.write(fd, b"WithHostname new\n")
        assert opts_lines(ctr) == ["WithHostname old", "WithEnv A=1"]
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithHostname new"]
    assert_config_fresh(render_bin, ctr)


def test_ftruncate_to_what_an_open_file_wrote_makes_that_the_list(render_bin, ctr):
    """rsync --inplace writes from the start, then truncates to what it wrote."""
    append_opts(ctr, "WithHostname old\n")
    data = b"WithHostname new\nWithDomainname d\n"
    fd = os.open(ctr / "opts", os.O_WRONLY)
    try:
        assert os.write(fd, data) == len(data)
        os.ftruncate(fd, len(data))
        with pytest.raises(OSError) as e:
            os.ftruncate(fd, 5)
        assert e.value.errno == errno.EINVAL
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithHostname new", "WithDomainname d"]
    assert_config_fresh(render_bin, ctr)
    # A replace truncated to what it wrote: nothing changes.
    fd = os.open(ctr / "opts", os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"WithHostname x\n")
        os.ftruncate(fd, len(b"WithHostname x\n"))
    finally:
        os.close(fd)
    assert opts_lines(ctr) == ["WithHostname x"]


def test_truncate_by_path_to_the_size_opts_has_changes_nothing(ctr):
    append_opts(ctr, "WithHostname a\n")
    before = state_of(ctr)
    sh(f"truncate -s {len(before[0])} opts", cwd=ctr)
    assert state_of(ctr) == before
    assert sh("truncate -s 3 opts", cwd=ctr, check=False).returncode != 0
    assert state_of(ctr) == before


def test_python_rewriting_opts_in_place_replaces_it(ctr):
    """r+, seek(0), write, truncate(): what scripts do to a regular file."""
    append_opts(ctr, "WithHostname old\nWithEnv A=1\n")
    code = ("import sys\n"
            "with open('opts', 'r+') as f:\n"
            "    text = f.read().replace('old', 'new')\n"
            "    f.seek(0); f.truncate(); f.write(text)\n")
    subprocess.run([sys.executable, "-c", code], cwd=ctr, check=True)
    assert opts_lines(ctr) == ["WithHostname new", "WithEnv A=1"]


def test_a_reader_reading_on_gets_one_rendering_whole(ctr):
    """A read past offset 0 serves the content the open file holds, and a
    read at its end shows more only when lines were appended: a config.json
    read in pieces while the spec changes is one rendering, whole."""
    write_value(ctr / "hostname", "before")
    with open(ctr / "config.json", "rb", buffering=0) as f:
        data = f.read(100)
        write_value(ctr / "hostname", "after-and-a-good-deal-longer")
        while chunk := f.read(4096):
            data += chunk
        assert json.loads(data)["hostname"] == "before"
        f.seek(0)
        assert json.loads(f.read())["hostname"] == "after-and-a-good-deal-longer"
