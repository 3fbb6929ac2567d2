#!/bin/sh
# Build the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined)
# against the core sources, json-c, libcap, zlib, libcrypto and libarchive (the core library's
# dependencies in core/meson.build), plus fs/ctlfiles.c with libudev for
# fuzz_ctlfile, and lay out their seed corpora and dictionaries.
#
#   fuzz/build.sh OUTDIR        e.g. fuzz/build.sh /tmp/fuzz
#
# OUTDIR gets one executable per target (fuzz_optline, fuzz_model,
# fuzz_ctlfile, fuzz_users), generated seeds in seeds/<target>/, <target>.dict
# and an empty corpus/<target>/ for the fuzzers to grow. Nothing is written
# inside the repository. See fuzz/README.md for running them.
set -eu

if [ $# -ne 1 ]; then
        echo "usage: $0 OUTDIR" >&2
        exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
CC=${CC:-clang}
targets="optline model ctlfile users"

mkdir -p "$out/obj"
for t in $targets; do
        mkdir -p "$out/corpus/$t"
done
out=$(cd "$out" && pwd)

# The core's sources, as core/meson.build lists them.
sources=$(sed -n "/core_sources = files(/,/)/p" "$repo/core/meson.build" | grep -o "'[^']*\.c'" | tr -d "'")
[ -n "$sources" ] || { echo "$0: no sources found in core/meson.build" >&2; exit 1; }

deps_cflags=$(pkg-config --cflags json-c libcap zlib libcrypto libarchive)
deps_libs=$(pkg-config --libs json-c libcap zlib libcrypto libarchive)
# fs/ctlfiles.c includes the FUSE headers (for types only) and calls libudev.
fs_cflags=$(pkg-config --cflags fuse3 libudev)
fs_libs=$(pkg-config --libs libudev)
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
$CC $common $san -fsanitize=fuzzer-no-link -D_FILE_OFFSET_BITS=64 $warn $deps_cflags $fs_cflags \
        -I"$repo/core" -I"$repo/fs" -c "$repo/fs/ctlfiles.c" -o "$out/obj/fs_ctlfiles.o"

# The sandbox is harness, not code under test: no coverage, no sanitizers (its
# syscall() forwards six argument registers whatever the call). It is built
# without _FILE_OFFSET_BITS so open and open64 are distinct symbols.
$CC $common $warn -c "$here/sandbox.c" -o "$out/obj/sandbox.o"

for t in $targets; do
        extra=
        # fuzz_ctlfile resolves user names in the conformance fixtures' rootfs.
        [ "$t" = ctlfile ] && extra="$fs_cflags -I$repo/fs -DFUZZ_ROOTFS=\"$repo/tests/conformance/fixtures/rootfs\" \
                $out/obj/fs_ctlfiles.o $fs_libs"
        $CC $common $san -fsanitize=fuzzer -D_FILE_OFFSET_BITS=64 $warn $deps_cflags -I"$repo/core" \
                "$here/fuzz_$t.c" $objs $extra "$out/obj/sandbox.o" $deps_libs -ldl -lm -o "$out/fuzz_$t"
done

/usr/bin/python3 "$here/seeds.py" "$out"
echo "built $(for t in $targets; do printf '%s ' "$out/fuzz_$t"; done)"
