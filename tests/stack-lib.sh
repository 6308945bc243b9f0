# tests/stack-lib.sh - a policy stack end to end, on the backend named by
# BACKEND (sqlite or postgres; sourced by stack-sqlite.sh and
# stack-postgres.pgtest).
#
# The stack: risk_parity (lookback 3) -> drawdown_ladder (steps 0.10 ->
# 0.5, 0.20 -> 0; re-entry 2 runs after the cut) -> caps (max 0.44) ->
# target_vol (0.10). Three strategies hold 100 AAA, 100 BBB and 1000 CCC;
# the master starts with 100000. Strategy 3 never gets cash (its target is
# below what its positions are worth: the run's shortfall), so its
# flow-adjusted returns are CCC's price returns:
#
#   run  date        CCC   its history (before the run)      ladder for 3
#   1    2025-04-01  100   -                                  1
#   2-4  04-02..04   100, 101, 88 (d4)  up to 101: no drawdown 1
#   5    04-07        86   88 / 101: drawdown 12.87%: step 1  0.5
#   6    04-08        78   86: 14.85%, 1 run after the cut    0.5
#   7    04-09        80   78: 22.77%: step 2, a new cut      0
#   8    04-10        81   80: 20.79%, 1 run after the cut    0
#   9    04-11        82   81: 2 runs after the cut: re-entry 1 (mark 81)
#   10   04-14        82   82: above the new mark             1
#
# risk_parity has its 3 common returns from run 5 on; runs 1-4 record its
# fallback (equal weights) and why. Checked from `capalloc --json explain`
# of every date: the ladder's weight of 3 is the risk_parity weight x its
# scale; caps keeps every weight at most 0.44 and target_vol never raises
# one (each acts on some runs); the stages' notes and
# fallbacks; and `capalloc explain` shows every stage. Then: a policy stage
# that crashes exits 6 naming the plugin and the stage (also as JSON) and
# leaves the ledger as it was; a stage runs before the run takes the
# ledger's write lock (it can make another capalloc write, and the run
# notices); a policy built against the ABI 1.0 header still runs as the
# single stage.
. "${abs_top_srcdir:?}/tests/script-lib.sh"
script_work stack
st_work=$work
script_ledger stack
TESTPLUGINS=$abs_top_builddir/tests/plugins/.libs

head="master_portfolio_id: \"0\"
currency: USD
portfolios: [\"1\", \"2\", \"3\"]
storage:
$storage
prices:
  plugin: file
  options:
    path: prices.csv"
cat >stack.yaml <<EOF
$head
policy:
  - plugin: risk_parity
    options: {lookback: 3}
  - plugin: drawdown_ladder
    options:
      steps:
        - {drawdown: 0.10, scale: 0.5}
        - {drawdown: 0.20, scale: 0}
      reentry: {runs: 2}
  - plugin: caps
    options: {max: 0.44}
  - plugin: target_vol
    options: {target: 0.10, lookback: 3}
EOF
cat >crash.yaml <<EOF
$head
policy:
  - plugin: risk_parity
    options: {lookback: 3}
  - plugin: $TESTPLUGINS/bad_policy.so
    options: {mode: crash}
EOF
cat >writer.yaml <<EOF
$head
policy:
  - plugin: $TESTPLUGINS/bad_policy.so
    options:
      mode: writer
      marker: writer.done
      command: "$BIN --config $st_work/stack.yaml capital add 1000 >/dev/null"
EOF
# the execution system writes positions_book itself, behind capalloc's
# back: a raw UPDATE during the policy
case $BACKEND in
sqlite) printf '%s\n' "sqlite3 '$st_work/fund.db' \"UPDATE positions_book SET quantity = '150' WHERE portfolio_id = '1' AND ticker = 'AAA'\"" ;;
postgres) printf '%s\n' "psql -X -v ON_ERROR_STOP=1 -Atq -c \"UPDATE stack.positions_book SET quantity = 150 WHERE portfolio_id = '1' AND ticker = 'AAA'\"" ;;
esac >rawpos.sh
# and a hand edit of the recorded history (the policies' input)
case $BACKEND in
sqlite) printf '%s\n' "sqlite3 '$st_work/fund.db' \"UPDATE capalloc_valuations SET nav = nav + 1 WHERE portfolio_id = '1' AND valuation_date = '2025-04-14'\"" ;;
postgres) printf '%s\n' "psql -X -v ON_ERROR_STOP=1 -Atq -c \"UPDATE stack.capalloc_valuations SET nav = nav + 1 WHERE portfolio_id = '1' AND valuation_date = '2025-04-14'\"" ;;
esac >rawval.sh
cat >rawpos.yaml <<EOF
$head
policy:
  - plugin: $TESTPLUGINS/bad_policy.so
    options:
      mode: writer
      marker: rawpos.done
      command: "sh $st_work/rawpos.sh"
EOF
cat >rawval.yaml <<EOF
$head
policy:
  - plugin: risk_parity
    options: {lookback: 3}
  - plugin: $TESTPLUGINS/bad_policy.so
    options:
      mode: writer
      marker: rawval.done
      command: "sh $st_work/rawval.sh"
EOF
cat >abi10.yaml <<EOF
$head
policy:
  plugin: $TESTPLUGINS/policy_abi10.so
EOF

run() { # run CONFIG ARGS...: capalloc, output in out/err, fail on non-zero
    local cfg=$1
    shift
    "$BIN" --config "$cfg" "$@" >out 2>err || {
        fail "capalloc $* exited $?: $(cat err)"
        return 1
    }
}

printf 'portfolio_id,ticker,quantity\n1,AAA,100\n2,BBB,100\n3,CCC,1000\n' \
    >positions.csv
run stack.yaml capital add 100000
run stack.yaml positions import positions.csv
dates="2025-04-01 2025-04-02 2025-04-03 2025-04-04 2025-04-07 2025-04-08
2025-04-09 2025-04-10 2025-04-11 2025-04-14"
aaa=(100 101 100 102 101 103 102 104 103 105)
bbb=(50 50.5 51 50.5 51 51.5 51 51.5 52 51.5)
ccc=(100 100 101 88 86 78 80 81 82 82)
i=0
for d in $dates; do
    printf 'ticker,price\nAAA,%s\nBBB,%s\nCCC,%s\n' "${aaa[$i]}" \
        "${bbb[$i]}" "${ccc[$i]}" >prices.csv
    run stack.yaml allocate --allow-past-date --date "$d"
    run stack.yaml --json explain "$d"
    cp out "explain-$d.json"
    i=$((i + 1))
done

python3 - $dates <<'EOF' || fail "the stack's record (above)"
import json, sys
dates = sys.argv[1:]
want_scale = [1, 1, 1, 1, 0.5, 0.5, 0, 0, 1, 1]
ok = True
capped = scaled = 0
def bad(msg):
    global ok
    ok = False
    print("  " + msg, file=sys.stderr)
for k, d in enumerate(dates):
    x = json.load(open("explain-%s.json" % d))["detail"]
    st = x["stages"]
    names = [s["plugin"] for s in st]
    if names != ["risk_parity", "drawdown_ladder", "caps", "target_vol"]:
        bad("%s: stages %r" % (d, names))
        continue
    w = [{i: float(v) for i, v in s["weights"].items()} for s in st]
    if k < 4:
        fb = st[0].get("fallback")
        if not fb or fb["to"] != "equal" or "3 needed" not in fb["why"]:
            bad("%s: risk_parity should fall back to equal: %r" % (d, fb))
        if w[0] != {"1": 0.333333, "2": 0.333333, "3": 0.333333}:
            bad("%s: fallback weights %r" % (d, w[0]))
    elif "fallback" in st[0]:
        bad("%s: risk_parity fell back: %r" % (d, st[0]["fallback"]))
    # the ladder: 1 and 2 untouched, 3 scaled
    for i in ("1", "2"):
        if w[1][i] != w[0][i]:
            bad("%s: the ladder changed %s: %r" % (d, i, w[1]))
    exp = int(w[0]["3"] * 1e6 * want_scale[k] + 1e-6) / 1e6
    if abs(w[1]["3"] - exp) > 1e-9:
        bad("%s: ladder weight of 3 is %r, want %r x %r" %
            (d, w[1]["3"], w[0]["3"], want_scale[k]))
    note = st[1].get("note", "")
    if (want_scale[k] < 1) != note.startswith("3: drawdown"):
        bad("%s: ladder note %r" % (d, note))
    for s in (2, 3):
        for i in w[s]:
            if w[s][i] > w[s - 1][i] + 1e-12 and s == 3 or \
               w[s][i] > 0.44 + 1e-12 and s == 2:
                bad("%s: stage %d raised %s: %r" % (d, s + 1, i, w[s]))
    capped += w[2] != w[1]
    scaled += w[3] != w[2]
    if sum(w[3].values()) > 1:
        bad("%s: weights sum above 1" % d)
if not capped or not scaled:
    bad("caps changed %d runs, target_vol %d: both must act" % (capped, scaled))
if not ok:
    sys.exit(1)
EOF

# explain as text: every stage, the fallback and the ladder's note
run stack.yaml explain 2025-04-04
for want in 'Policy: a stack of 4 stages' 'Weights after each stage:' \
    '1\. risk_parity 1\.0\.0 {"lookback":"3"}: 1=0.333333' \
    'fell back to the equal weights: 2 dates with a return' \
    '2\. drawdown_ladder 1\.0\.0 {"steps":\[{"drawdown":"0.10","scale":"0.5"},{"drawdown":"0.20","scale":"0"}\],"reentry":{"runs":"2"}}:' \
    '3\. caps 1\.0\.0 {"max":"0.44"}:' '4\. target_vol 1\.0\.0 '; do
    grep -q "$want" out || fail "explain 2025-04-04 lacks '$want': $(cat out)"
done
run stack.yaml explain 2025-04-09
grep -q '3: drawdown 22.77%, step 0.20 -> scale 0 (cut 0 points ago)' out ||
    fail "explain 2025-04-09 lacks the ladder's cut: $(cat out)"

# a crashing stage: exit 6 naming it, as JSON too, nothing written
trades=$(sql "SELECT count(*) FROM trade_execution_logs")
runs=$(sql "SELECT count(*) FROM capalloc_valuations")
rc=0
"$BIN" --config crash.yaml --json allocate --allow-past-date \
    --date 2025-04-15 >out 2>err || rc=$?
[ "$rc" -eq 6 ] || fail "a crashing stage: exit $rc, want 6: $(cat err)"
python3 -c '
import json
e = json.load(open("out"))["error"]
assert e["exit_code"] == 6, e
# a sanitizer build reports the crash itself and exits 1
assert "policy stage 2 (\x27bad_policy\x27) crashed (signal 11" in e["message"] or \
    "policy stage 2 (\x27bad_policy\x27) exited (status 1)" in e["message"], e
' || fail "a crashing stage as JSON: $(cat out)"
[ "$(sql "SELECT count(*) FROM trade_execution_logs")" = "$trades" ] &&
    [ "$(sql "SELECT count(*) FROM capalloc_valuations")" = "$runs" ] ||
    fail "a crashing stage wrote to the ledger"

# the policy runs before the write lock: a stage that makes another
# capalloc write the ledger (capital add 1000) succeeds, and the run,
# finding the fund changed under the lock, asks the policy again (a second
# attempt) and plans from the new balance
run writer.yaml --json allocate --allow-past-date --date 2025-04-16
python3 -c '
import json
r = json.load(open("out"))
assert r["attempts"] == 2, r
' || fail "a writer during the policy: $(cat out) $(cat err)"
[ -f writer.done ] || fail "the writer stage never ran its command"
n=$(sql "SELECT count(*) FROM trade_execution_logs WHERE portfolio_id = '0' AND side = 'BUY' AND CAST(quantity AS REAL) = 1000")
[ "$n" = 1 ] || fail "the writer's capital add: $n rows"

# the same with a raw UPDATE of positions_book (no capalloc, no lock):
# the ledger's change stamp catches it, the run asks the policy again and
# values strategy 1 at its new 150 AAA
run rawpos.yaml --json allocate --allow-past-date --date 2025-04-17
python3 -c '
import json
r = json.load(open("out"))
assert r["attempts"] == 2, r
' || fail "a raw positions UPDATE during the policy: $(cat out) $(cat err)"
[ -f rawpos.done ] || fail "the raw UPDATE stage never ran its command"
q=$(sql "SELECT CAST(v.positions_value AS REAL) / CAST(p.price AS REAL)
         FROM capalloc_valuations v JOIN capalloc_run_prices p
           ON p.run_id = v.run_id AND p.ticker = 'AAA'
         WHERE v.portfolio_id = '1' AND v.valuation_date = '2025-04-17'")
[ "${q%.0}" = 150 ] || fail "strategy 1 valued at $q AAA after the raw UPDATE, want 150"

# a raw UPDATE of the recorded history during the policy: the change stamp
# covers capalloc_valuations, so the run reads the history again, finds it
# changed and asks the policy again
run rawval.yaml --json allocate --allow-past-date --date 2025-04-18
python3 -c '
import json
r = json.load(open("out"))
assert r["attempts"] == 2, r
' || fail "a raw history UPDATE during the policy: $(cat out) $(cat err)"
[ -f rawval.done ] || fail "the raw history UPDATE stage never ran its command"

# a policy built against the ABI 1.0 header, as the single stage
run abi10.yaml plugins
grep -q '^policy   policy_abi10 ' out || fail "plugins with the ABI 1.0 policy: $(cat out)"
run stack.yaml plugins
grep -q '^policy\[3\] target_vol ' out || fail "plugins of the stack: $(cat out)"
run abi10.yaml allocate --allow-past-date --date 2025-04-15
run abi10.yaml --json explain 2025-04-15
python3 -c '
import json
st = json.load(open("out"))["detail"]["stages"]
assert [s["plugin"] for s in st] == ["policy_abi10"], st
' || fail "the ABI 1.0 policy as the single stage: $(cat out)"

# the ledger this script made (a concurrent writer included) checks itself
run stack.yaml verify
grep -q '^ledger verified: ' out || fail "verify: $(cat out)"

if [ "$failures" -eq 0 ]; then
    echo "PASS: a policy stack end to end on $BACKEND"
    exit 0
fi
echo "$failures check(s) FAILED on $BACKEND" >&2
exit 1
