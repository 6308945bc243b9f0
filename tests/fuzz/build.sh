#!/bin/sh
# tests/fuzz/build.sh - build the libFuzzer harnesses (clang only; kept out
# of the autotools build so that gcc builds never see them).
#
#   tests/fuzz/build.sh [OUTDIR]        (default: build-fuzz/ at the top)
#
# Each harness is compiled together with the real sources it tests, all of
# them instrumented: -fsanitize=fuzzer,address,undefined, and UBSan made
# fatal (-fno-sanitize-recover=all) so that undefined behaviour is a crash
# libFuzzer reports and keeps. Needs clang and libclang-rt-14-dev (the
# fuzzer runtime; scripts/deps installs both), libyaml and jansson.
# Run them with tests/fuzz/run.sh.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build-fuzz}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (scripts/deps installs clang)" >&2
    exit 1
fi
mkdir -p "$out"

cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=all -Wall -Wextra -Werror -std=gnu11
        -I$top/core"
yaml_cflags=$(pkg-config --cflags yaml-0.1)
yaml_libs=$(pkg-config --libs yaml-0.1)
jansson_cflags=$(pkg-config --cflags jansson)
jansson_libs=$(pkg-config --libs jansson)

core="$top/core/decimal.c $top/core/error.c"
# options.c (the host table) needs config.c (and so libyaml); config.c
# reads a policy stack with config_policy.c and the rebalance section with
# config_rebalance.c, the capital and approval sections with config_capital.c
# and config_approval.c; options.c binds structured options with
# options_nested.c.
host="$core $top/core/config.c $top/core/config_policy.c \
    $top/core/config_rebalance.c $top/core/config_capital.c \
    $top/core/config_approval.c $top/core/options.c $top/core/options_nested.c"

build() {
    name=$1
    shift
    echo "fuzz: building $out/$name"
    # shellcheck disable=SC2086 # word splitting of the flag lists is meant
    "$cc" $cflags "$@" -o "$out/$name"
}

build fuzz_decimal "$top/tests/fuzz/fuzz_decimal.c" $core
build fuzz_config $yaml_cflags "$top/tests/fuzz/fuzz_config.c" $host \
    $yaml_libs
build fuzz_prices_csv $yaml_cflags -I"$top/plugins/file" \
    "$top/tests/fuzz/fuzz_prices_csv.c" "$top/plugins/file/file_csv.c" \
    $host $yaml_libs
build fuzz_positions_csv "$top/tests/fuzz/fuzz_positions_csv.c" \
    "$top/core/positions_csv.c" $core
build fuzz_fmp_json $yaml_cflags $jansson_cflags -I"$top/plugins/fmp" \
    "$top/tests/fuzz/fuzz_fmp_json.c" "$top/plugins/fmp/fmp_json.c" \
    $host $yaml_libs $jansson_libs
