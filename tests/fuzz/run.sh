#!/bin/sh
# tests/fuzz/run.sh - run the libFuzzer harnesses built by build.sh.
#
#   tests/fuzz/run.sh [-d OUTDIR] SECONDS [HARNESS...]
#
# Each harness (default: all five) runs for SECONDS under ASan + UBSan
# (and LeakSanitizer), starting from its seed corpus in
# tests/fuzz/corpus/NAME, which also holds the inputs that once crashed:
# every run replays them first. New inputs go to OUTDIR/work/NAME (the seed
# corpus is never written); a crash, leak, UB or failed check is saved as
# OUTDIR/artifacts/NAME-crash-* and fails the script, after the other
# harnesses have run. The last lines of each log (execs, cov:, ft:) are
# printed; the whole log is OUTDIR/logs/NAME.log.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build-fuzz
if [ "${1:-}" = "-d" ]; then
    out=$2
    shift 2
fi
secs=${1:?usage: run.sh [-d OUTDIR] SECONDS [HARNESS...]}
shift
names=${*:-decimal config prices_csv positions_csv fmp_json}

mkdir -p "$out/work" "$out/artifacts" "$out/logs"
failed=
for n in $names; do
    bin=$out/fuzz_$n
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin missing: run tests/fuzz/build.sh first" >&2
        exit 1
    fi
    mkdir -p "$out/work/$n"
    echo "fuzz: $n for ${secs}s"
    # -timeout: one input taking 10 s is a hang, reported as a crash.
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$n-" \
        "$out/work/$n" "$top/tests/fuzz/corpus/$n" >"$out/logs/$n.log" 2>&1
    then
        grep -E '^#[0-9]+.*(DONE|pulse)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
            "$out/logs/$n.log" | tail -4
    else
        echo "fuzz: $n FAILED; its log ends:" >&2
        tail -40 "$out/logs/$n.log" >&2
        failed="$failed $n"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed (inputs in $out/artifacts)" >&2
    exit 1
fi
echo "fuzz: all passed"
