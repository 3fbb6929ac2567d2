#!/bin/sh
# Build the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined)
# against the core sources, json-c, libcap and zlib (the core library's
# dependencies in core/meson.build), and lay out their seed corpora
# and dictionaries.
#
#   fuzz/build.sh OUTDIR        e.g. fuzz/build.sh /tmp/fuzz
#
# OUTDIR gets fuzz_optline, fuzz_model, seeds/{optline,model}/, optline.dict,
# model.dict and empty corpus/{optline,model}/ for the fuzzers to grow. Nothing
# is written inside the repository. See fuzz/README.md for running them.
set -eu

if [ $# -ne 1 ]; then
        echo "usage: $0 OUTDIR" >&2
        exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
CC=${CC:-clang}

mkdir -p "$out/obj" "$out/corpus/optline" "$out/corpus/model"
out=$(cd "$out" && pwd)

# The core's sources, as core/meson.build lists them.
sources=$(sed -n "/core_sources = files(/,/)/p" "$repo/core/meson.build" | grep -o "'[^']*\.c'" | tr -d "'")
[ -n "$sources" ] || { echo "$0: no sources found in core/meson.build" >&2; exit 1; }

deps_cflags=$(pkg-config --cflags json-c libcap zlib)
deps_libs=$(pkg-config --libs json-c libcap zlib)
common="-g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -DBUNDLEFS_VERSION=\"fuzz\" -pthread"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
warn="-Wall -Wextra -Wno-unused-parameter"

objs=
for s in $sources; do
        o="$out/obj/core_${s%.c}.o"
        # Coverage instrumentation without libFuzzer's main.
        $CC $common $san -fsanitize=fuzzer-no-link -D_FILE_OFFSET_BITS=64 $warn $deps_cflags \
                -I"$repo/core" -c "$repo/core/$s" -o "$o"
        objs="$objs $o"
done

# The sandbox is harness, not code under test: no coverage, no sanitizers (its
# syscall() forwards six argument registers whatever the call). It is built
# without _FILE_OFFSET_BITS so open and open64 are distinct symbols.
$CC $common $warn -c "$here/sandbox.c" -o "$out/obj/sandbox.o"

for t in fuzz_optline fuzz_model; do
        $CC $common $san -fsanitize=fuzzer -D_FILE_OFFSET_BITS=64 $warn $deps_cflags -I"$repo/core" \
                "$here/$t.c" $objs "$out/obj/sandbox.o" $deps_libs -ldl -lm -o "$out/$t"
done

/usr/bin/python3 "$here/seeds.py" "$out"
echo "built $out/fuzz_optline and $out/fuzz_model"
