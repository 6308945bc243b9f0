# tests/memory-lib.sh - the fund's memory end to end, on the backend named
# by BACKEND (sqlite or postgres; sourced by memory-sqlite.sh and
# memory-postgres.pgtest). A scripted fund over four dates, every return
# worked out by hand from the definition
#     r_t = NAV_t / (NAV_t-1 + transfer_t-1) - 1
# and compared as decimal text (no tolerance: the inputs are exact).
#
#   before  ADD 100000; strategy 1 holds 100 AAA (imported), 2 holds nothing
#   d1 2025-03-03  AAA 10.00. E = 100000 + 1000 + 0 = 101000, weights
#                  0.5/0.5: targets 50500 each; 1 gets 49500, 2 gets 50500.
#                  First valuations: no return.
#   d2 2025-03-04  AAA 60.50: 1 = 49500 cash + 6050 = 55550 -> 55550/50500
#                  = 1.1: +10% while it was also funded. 2 = 50500/50500: 0.
#                  E = 106050 (fund: 106050/101000 - 1 = 0.05). Targets
#                  53025: 1 returns 2525, 2 gets 2525.
#   ADD 20000
#   d3 2025-03-05  a new strategy 3 joins, weights 0.4/0.3/0.3. AAA 55.00:
#                  1 = 46975 + 5500 = 52475 -> 52475/53025 = 0.98962753...
#                  -> 0.989628 -> -0.010372. 2 = 53025/53025: 0. 3: first,
#                  no return. E = 125500; the fund's flow 20000 (the ADD):
#                  125500/126050 = 0.99563665... -> -0.004363. Targets
#                  50200/37650/37650: 1 returns 2275, 2 returns 15375, 3
#                  gets 37650 (doubling nothing into something: its next
#                  return is 0).
#   d4 2025-03-06  nothing moved: every strategy on target, every return 0,
#                  the fund's 0; the run still records its valuation.
# Then: a repeat of d4, a dry run and status record nothing; explain shows
# the run; the record exists on both backends the same way.
. "${abs_top_srcdir:?}/tests/script-lib.sh"
script_work memory
mem_work=$work
script_ledger memory

# config FILE WEIGHTS...: "id: w" lines
config() {
    local f=$1
    shift
    {
        printf 'master_portfolio_id: "0"\ncurrency: USD\nstorage:\n%s\n' "$storage"
        printf 'prices:\n  plugin: file\n  options:\n    path: prices.csv\n'
        printf 'policy:\n  plugin: fixed_weight\n  options:\n    weights:\n'
        for w in "$@"; do printf '      %s\n' "$w"; done
    } >"$f"
}
config two.yaml '"1": 0.5' '"2": 0.5'
config three.yaml '"1": 0.4' '"2": 0.3' '"3": 0.3'
price() { printf 'ticker,price\nAAA,%s\n' "$1" >prices.csv; }

run() { # run CONFIG ARGS...: capalloc, output in out/err, fail on non-zero
    local cfg=$1
    shift
    "$BIN" --config "$cfg" "$@" >out 2>err || {
        fail "capalloc $* exited $?: $(cat err)"
        return 1
    }
}

printf 'portfolio_id,ticker,quantity\n1,AAA,100\n' >positions.csv
price 10.00
run two.yaml capital add 100000
run two.yaml positions import positions.csv
run two.yaml allocate --allow-past-date --date 2025-03-03
price 60.50
run two.yaml allocate --allow-past-date --date 2025-03-04
run two.yaml capital add 20000
price 55.00
run three.yaml allocate --allow-past-date --date 2025-03-05
run three.yaml allocate --allow-past-date --date 2025-03-06

# "date portfolio nav return transfer" per valuation, from --json
run three.yaml --json history
got=$(python3 -c '
import json, sys
h = json.load(open("out"))
for r in h["rows"]:
    print(r["date"], r["portfolio"], r["kind"], r["nav"],
          r["return"] if r["return"] is not None else "-", r["transfer"])
print("fund")
for f in h["fund"]:
    print(f["date"], f["total_equity"], f["flow"],
          f["return"] if f["return"] is not None else "-")
')
want="2025-03-03 0 reserve 100000.00 - -100000.00
2025-03-03 1 strategy 1000.00 - 49500.00
2025-03-03 2 strategy 0.00 - 50500.00
2025-03-04 0 reserve 0.00 - 0.00
2025-03-04 1 strategy 55550.00 0.1 -2525.00
2025-03-04 2 strategy 50500.00 0 2525.00
2025-03-05 0 reserve 20000.00 - -20000.00
2025-03-05 1 strategy 52475.00 -0.010372 -2275.00
2025-03-05 2 strategy 53025.00 0 -15375.00
2025-03-05 3 strategy 0.00 - 37650.00
2025-03-06 0 reserve 0.00 - 0.00
2025-03-06 1 strategy 50200.00 0 0.00
2025-03-06 2 strategy 37650.00 0 0.00
2025-03-06 3 strategy 37650.00 0 0.00
fund
2025-03-03 101000.00 0.00 -
2025-03-04 106050.00 0.00 0.05
2025-03-05 125500.00 20000.00 -0.004363
2025-03-06 125500.00 0.00 0"
if [ "$got" != "$want" ]; then
    fail "history on $BACKEND differs from the hand-worked values:"
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2 || :
fi

# the register as CSV: exact values, one line per valuation plus a header
run three.yaml history --csv
[ "$(wc -l <out)" -eq 15 ] || fail "history --csv: $(wc -l <out) lines, want 15"
grep -q '^2025-03-04,[0-9]*,"1",strategy,55550.00,0.1,0.5,53025.00,-2525.00,0.00,49500.00,6050.00$' out ||
    fail "history --csv row of 1 on 2025-03-04: $(grep '"1"' out)"
run three.yaml history -p 3 --from 2025-03-05
[ "$(grep -cE '^2025-03-0[56] +[0-9]+ (0 \(reserve\)|3) ' out)" -eq 4 ] &&
    ! grep -qE '^2025-03-0[0-4]|^2025-03-0[56] +[0-9]+ [12] ' out ||
    fail "history -p 3 --from: $(cat out)"

# records: 4 runs x (master + strategies) = 3 + 3 + 4 + 4 valuations
n=$(sql "SELECT count(*) FROM capalloc_valuations")
[ "$n" = "14" ] || fail "$n valuation rows, want 14"
# a repeat, a dry run and status write nothing
run three.yaml allocate --allow-past-date --date 2025-03-06
grep -q 'already' out || fail "repeat of 2025-03-06: $(cat out)"
run three.yaml allocate --allow-past-date --date 2025-03-07 --dry-run
run three.yaml status
n=$(sql "SELECT count(*) FROM capalloc_valuations")
[ "$n" = "14" ] || fail "a repeat, dry run or status recorded: $n rows"
n=$(sql "SELECT count(*) FROM capalloc_run_prices")
[ "$n" = "4" ] || fail "$n price rows, want 4 (AAA in each run)"

# explain: the run, its prices, NAVs, the policy and its options
run three.yaml explain 2025-03-05
for want in 'Allocation run [0-9]* for 2025-03-05' 'Policy: fixed_weight' \
    '"1":"0.4"' 'AAA *55.00' '1 .*52475.00' '3 .*37650.00' \
    'Total equity 125500.00 USD'; do
    grep -q "$want" out || fail "explain lacks '$want': $(cat out)"
done
run three.yaml --json explain 2025-03-05
python3 -c '
import json
x = json.load(open("out"))
assert x["detail"]["stages"][0]["weights"] == {"1": "0.4", "2": "0.3", "3": "0.3"}, x
assert [p["ticker"] for p in x["prices"]] == ["AAA"], x
assert {p["id"]: p["nav"] for p in x["portfolios"]} == {
    "0": "20000.00", "1": "52475.00", "2": "53025.00", "3": "0.00"}, x
' || fail "explain --json: $(cat out)"
rc=0
"$BIN" --config three.yaml explain 2025-01-01 >out 2>err || rc=$?
[ "$rc" -eq 2 ] && grep -q 'no allocation run is recorded for 2025-01-01' err ||
    fail "explain of a day without a run: exit $rc $(cat err)"

# the ledger this script made checks itself
run three.yaml verify
grep -q '^ledger verified: ' out || fail "verify: $(cat out)"

if [ "$failures" -eq 0 ]; then
    echo "PASS: the fund's memory on $BACKEND"
    exit 0
fi
echo "$failures check(s) FAILED on $BACKEND" >&2
exit 1
