#!/usr/bin/python3
"""Seed corpora and dictionaries for the fuzz targets, from the repository.

Usage: fuzz/seeds.py OUTDIR

Writes
  OUTDIR/seeds/optline/   one file per op line of tests/conformance/cases/*.json
                          (@FIXTURES@ replaced by the absolute fixtures path, so the
                          file-reading options read real fixtures), plus
                          bench/list12.opts's lines
  OUTDIR/seeds/model/     every case's "expect" spec, every JSON argument of a
                          WithSpecFromBytes op, fixtures/specs/*.json
  OUTDIR/optline.dict     option names (core/options.c) and common tokens
  OUTDIR/model.dict       the spec's JSON keys (core/spec_types.c)
Files are named by the SHA-1 of their content, so re-running adds nothing twice.
"""
import glob
import hashlib
import json
import os
import re
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
    optline_dir = os.path.join(out, "seeds", "optline")
    model_dir = os.path.join(out, "seeds", "model")
    n_lines = n_specs = 0

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
        if isinstance(case.get("expect"), dict):
            put(model_dir, json.dumps(case["expect"], separators=(",", ":")))
            n_specs += 1
    for path in sorted(glob.glob(os.path.join(fixtures, "specs", "*.json"))):
        with open(path, "rb") as f:
            put(model_dir, f.read())
        n_specs += 1
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
    with open(os.path.join(out, "model.dict"), "w") as f:
        for k in keys:
            f.write(dict_entry('"%s":' % k) + "\n")
        for t in ["null", "true", "false", "{}", "[]", "-0", "1e400", "0.5", "18446744073709551616", "\\u0000",
                  "\\ud800"]:
            f.write(dict_entry(t) + "\n")

    print("seeds: %d op lines, %d specs from %s; dictionaries: %d option names, %d spec keys"
          % (n_lines, n_specs, conf, len(names), len(keys)))


main()
