#!/usr/bin/python3
"""Seed corpora and dictionaries for the fuzz targets, from the repository.

Usage: fuzz/seeds.py OUTDIR       (fuzz/meson.build runs it at every build)

Writes (OUTDIR/seeds/ afresh)
  OUTDIR/seeds/optline/   one file per op line of tests/conformance/cases/*.json
                          (@FIXTURES@ replaced by the absolute fixtures path, so the
                          file-reading options read real fixtures), plus
                          bench/list12.opts's lines
  OUTDIR/seeds/model/     every case's "expect" spec, every JSON argument of a
                          WithSpecFromBytes op, fixtures/specs/*.json
  OUTDIR/seeds/users/     every user or group op line of the cases, with each
                          fixture rootfs's etc/passwd and etc/group
  OUTDIR/seeds/specshow/  the model seeds as WithSpecFromBytes arguments and as
                          spec files, the JSON arguments of the cases' WithMounts
                          and WithLinuxDevices ops (fuzz_specshow.c's first byte
                          picks which)
  OUTDIR/seeds/<target>/  also the committed seeds of fuzz/corpus/<target>/
  OUTDIR/optline.dict     option names (core/options.c) and common tokens
  OUTDIR/model.dict       the spec's JSON keys (core/spec_types.c)
  OUTDIR/specshow.dict    the same
  OUTDIR/ctlfile.dict     control file names (core/ctl.c) and their keywords
  OUTDIR/users.dict       the user options and passwd/group tokens
Files are named by the SHA-1 of their content.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def conformance_dir():
    shared = os.path.join(os.path.dirname(REPO), "shared", "conformance")
    return shared if os.path.isdir(os.path.join(shared, "cases")) else os.path.join(REPO, "tests", "conformance")


def put(directory, data):
    if isinstance(data, str):
        data = data.encode()
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def dict_entry(s):
    out = ""
    for ch in s.encode():
        if ch == 0x22 or ch == 0x5C or ch < 0x20 or ch > 0x7E:
            out += "\\x%02x" % ch
        else:
            out += chr(ch)
    return '"%s"' % out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    conf = conformance_dir()
    fixtures = os.path.join(conf, "fixtures")
    shutil.rmtree(os.path.join(out, "seeds"), ignore_errors=True)
    optline_dir = os.path.join(out, "seeds", "optline")
    model_dir = os.path.join(out, "seeds", "model")
    n_lines = n_specs = 0

    # specshow: a mode byte (fuzz_specshow.c), then JSON
    specshow_dir = os.path.join(out, "seeds", "specshow")
    json_ops = {"WithMounts ": b"\x01", "WithLinuxDevices ": b"\x02"}
    for path in sorted(glob.glob(os.path.join(conf, "cases", "*.json"))):
        with open(path) as f:
            case = json.load(f)
        for op in case.get("ops", []):
            op = op.replace("@FIXTURES@", fixtures)
            put(optline_dir, op)
            n_lines += 1
            if op.startswith("WithSpecFromBytes "):
                put(model_dir, op[len("WithSpecFromBytes "):].strip())
                n_specs += 1
            for name, mode in json_ops.items():
                if op.startswith(name):
                    put(specshow_dir, mode + op[len(name):].strip().encode())
        if isinstance(case.get("expect"), dict):
            put(model_dir, json.dumps(case["expect"], separators=(",", ":")))
            n_specs += 1
    for path in sorted(glob.glob(os.path.join(fixtures, "specs", "*.json"))):
        with open(path, "rb") as f:
            put(model_dir, f.read())
        n_specs += 1
    # users: "OPTION LINE\nPASSWD\0GROUP" (fuzz_users.c)
    n_users = 0
    user_ops = ("WithUser ", "WithUserID ", "WithUsername ", "WithAdditionalGIDs ", "WithAppendAdditionalGroups",
                "WithImageConfig ", "WithImageConfigArgs ")
    rootfs_files = []
    for root in sorted(glob.glob(os.path.join(fixtures, "rootfs*"))):
        files = []
        for name in ("passwd", "group"):
            path = os.path.join(root, "etc", name)
            files.append(open(path, "rb").read() if os.path.isfile(path) else None)
        rootfs_files.append(files)
    for path in sorted(glob.glob(os.path.join(conf, "cases", "*.json"))):
        with open(path) as f:
            case = json.load(f)
        for op in case.get("ops", []):
            if not op.startswith(user_ops):
                continue
            op = op.replace("@FIXTURES@", fixtures).encode()
            for passwd, group in rootfs_files:
                put(os.path.join(out, "seeds", "users"),
                    op + b"\n" + (passwd or b"") + (b"\0" + group if group is not None else b""))
                n_users += 1

    # The committed seeds (regressions and hand-written edge cases).
    for target in ("optline", "model", "ctlfile", "users", "specshow"):
        for path in sorted(glob.glob(os.path.join(REPO, "fuzz", "corpus", target, "*"))):
            with open(path, "rb") as f:
                put(os.path.join(out, "seeds", target), f.read())

    # every spec of model's seeds (the committed ones too), both ways
    for path in sorted(glob.glob(os.path.join(model_dir, "*"))):
        with open(path, "rb") as f:
            spec = f.read()
        put(specshow_dir, b"\x00" + spec)     # WithSpecFromBytes
        put(specshow_dir, b"\x03" + spec)     # WithSpecFromFile

    list12 = os.path.join(REPO, "bench", "list12.opts")
    if os.path.exists(list12):
        with open(list12) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.strip() and not line.lstrip().startswith("#"):
                    put(optline_dir, line)
                    n_lines += 1

    with open(os.path.join(REPO, "core", "options.c")) as f:
        names = sorted(set(re.findall(r'\{ "(With[A-Za-z0-9]+)"', f.read())))
    tokens = ['"', '""', "{}", "[]", "=", "\\t", "/", "CAP_", "rwm", "-1", "18446744073709551615",
              "9223372036854775808", "\\u0000", "\\ud800", "linux/amd64", "windows/amd64", "/dev/null", "#"]
    with open(os.path.join(out, "optline.dict"), "w") as f:
        for n in names:
            f.write(dict_entry(n + " ") + "\n")
        for t in tokens:
            f.write(dict_entry(t) + "\n")

    with open(os.path.join(REPO, "core", "spec_types.c")) as f:
        keys = sorted(set(re.findall(r'FIELD(?:_OMIT)?\([^,]+,\s*\w+,\s*"([^"]+)"', f.read())))
    for target in ("model", "specshow"):
        with open(os.path.join(out, target + ".dict"), "w") as f:
            for k in keys:
                f.write(dict_entry('"%s":' % k) + "\n")
            for t in ["null", "true", "false", "{}", "[]", "[null]", "-0", "1e400", "0.5", "18446744073709551616",
                      "\\u0000", "\\ud800"]:
                f.write(dict_entry(t) + "\n")

    with open(os.path.join(REPO, "core", "ctl.c")) as f:
        controls = sorted(set(re.findall(r'^        \{ "([a-z.]+)", "With', f.read(), re.M)))
    with open(os.path.join(out, "ctlfile.dict"), "w") as f:
        for c in controls:
            f.write(dict_entry(c + "\n") + "\n")
        for t in ["all", "current", "none", "host", "allow-all", "default", "parent", "subsystem=", "sysname=",
                  "tag=", "from ", "max", "+CAP_", "-CAP_", "CAP_", "rwm", "-1", "K", "M", "G", "T", "x", "0-3,5",
                  "9223372036854775807", "18446744073709551615", "\r\n", "/dev/null", "[{\"destination\":",
                  "pid", "network", "user"]:
            f.write(dict_entry(t) + "\n")
    with open(os.path.join(out, "users.dict"), "w") as f:
        for t in [o.strip() + " " for o in user_ops] + [":x:", "::", "\0", "#", ",", "\n", "\r\n", "root",
                                                         "4294967295", "4294967296", "9223372036854775808", "-1"]:
            f.write(dict_entry(t) + "\n")

    n_specshow = len(os.listdir(specshow_dir))
    print("seeds: %d op lines, %d specs, %d user files, %d JSON inputs of specshow from %s; dictionaries: %d option "
          "names, %d spec keys, %d control files" % (n_lines, n_specs, n_users, n_specshow, conf, len(names),
                                                     len(keys), len(controls)))


main()
