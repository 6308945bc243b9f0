# tests/move-lib.sh - runs that move cash outside the daily allocation
# (core/move.c) end to end, on the backend named by BACKEND (sqlite or
# postgres; sourced by move-sqlite.sh and move-postgres.pgtest). Weights
# 1: 0.5, 2: 0.3 (the master keeps 0.2); strategy 1 holds 100 AAA.
#
#   d1 2025-03-03 AAA 10: E 101000, 1 gets 49500, 2 30300, master 20200
#   ADD 1000.01 --deploy (d1): 1 +500.00 (floor 500.005), 2 +300.00, the
#       residue 200.01 stays: master 20400.01; a repeated --ref: nothing
#   d2 AAA 10: nothing to move; every return 0 (the deploy is a flow)
#   reverse the DEPLOY (d2): 1 -500, 2 -300, master 21200.01; twice:
#       refused (exit 2), the ledger unchanged
#   d3 AAA 10: runs, returns 0; 1 +500, 2 +300; reversed: the books as
#       before d3, exactly
#   d4 AAA 60.50: 1 returns 2025, 2 gets 1815 (master +210). The master
#       withdrawn to 0: reversing d4 would take 210 from it -> exit 4, the
#       ledger unchanged; the money back, the reversal restores the books
#       as before d4, exactly
#   ADD 100 --deploy (d5) before d5's allocation, which still runs;
#       returns 0 with flat prices
#   refused: a --date after today (exit 2), a deployment or reversal
#       under approval.required (exit 11), --date on an ADD that deploys
#       nothing (exit 2), a reversal leaving the master less than the
#       queued redemptions (exit 4; also the cash buffer, on a ledger of its
#       own); min_transfer after the pro-rata scaling, the repeat message of
#       an undeployed ADD and an overflow's message (ledger "min")
. "${abs_top_srcdir:?}/tests/script-lib.sh"
script_work move
mv_work=$work
script_ledger move

config() { # config FILE [EXTRA YAML]
    {
        printf 'master_portfolio_id: "0"\ncurrency: USD\nstorage:\n%s\n' "$storage"
        printf 'prices:\n  plugin: file\n  options:\n    path: prices.csv\n'
        printf 'policy:\n  plugin: fixed_weight\n  options:\n    weights:\n'
        printf '      "1": 0.5\n      "2": 0.3\n'
        printf '%s' "${2:-}"
    } >"$1"
}
config c.yaml
config auto.yaml 'capital:
  deploy_on_add: true
'
config bad.yaml 'capital:
  deploy_on_ad: true
'
price() { printf 'ticker,price\nAAA,%s\n' "$1" >prices.csv; }

run() { # run ARGS...: capalloc on c.yaml, output in out/err, fail on non-zero
    "$BIN" --config c.yaml "$@" >out 2>err || {
        fail "capalloc $* exited $?: $(cat err)"
        return 1
    }
}
# expect CODE ARGS...: capalloc on c.yaml exits CODE
expect() {
    local want=$1 rc=0
    shift
    "$BIN" --config c.yaml "$@" >out 2>err || rc=$?
    [ "$rc" -eq "$want" ] || fail "capalloc $* exited $rc, want $want: $(cat err)"
}
books() { sql "SELECT portfolio_id || '=' || cash FROM cash_equity_book ORDER BY portfolio_id" | tr '\n' ' '; }
ledger() { # the books and every run: what a refusal must leave alone
    books
    sql "SELECT count(*) FROM capalloc_runs"
    sql "SELECT count(*) FROM trade_execution_logs"
}
total() { sql "SELECT sum(cash) FROM cash_equity_book"; }
kind_count() { sql "SELECT count(*) FROM capalloc_runs WHERE kind = '$1'"; }
last_id() { sql "SELECT max(run_id) FROM capalloc_runs WHERE kind = '$1'"; }
alloc_id() { sql "SELECT run_id FROM capalloc_runs WHERE kind = 'RUN' AND action = 'ALLOCATE' AND run_date = '$1'"; }
same() { # same WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
# the returns of 1 and 2 recorded for a date, from history --json
returns() {
    run --json history >/dev/null
    python3 -c '
import json, sys
h = json.load(open("out"))
print(" ".join("%s:%s" % (r["portfolio"], r["return"]) for r in h["rows"]
               if r["date"] == sys.argv[1] and r["kind"] == "strategy"
               and r["run_id"] == max(x["run_id"] for x in h["rows"]
                                      if x["date"] == sys.argv[1])))
' "$1"
}

printf 'portfolio_id,ticker,quantity\n1,AAA,100\n' >positions.csv
price 10.00
run capital add 100000
run positions import positions.csv
run allocate --allow-past-date --date 2025-03-03
same "books after d1" "$(books)" "0=20200.00 1=49500.00 2=30300.00 "

# ---- deployment ----------------------------------------------------------
before=$(total)
run capital add 1000.01 --deploy --ref dep-1 --date 2025-03-03
same "books after the deployment" "$(books)" "0=20400.01 1=50000.00 2=30600.00 "
same "total cash after the deployment" "$(python3 -c "
from decimal import Decimal as D; print(D('$(total)') - D('$before'))")" "1000.01"
same "ADD runs" "$(sql "SELECT count(*) FROM capalloc_runs WHERE action = 'ADD'")" 2
same "DEPLOY runs" "$(kind_count DEPLOY)" 1
dep=$(last_id DEPLOY)
same "the DEPLOY's date" "$(sql "SELECT run_date FROM capalloc_runs WHERE run_id = $dep")" 2025-03-03
same "the DEPLOY's transfer rows" "$(sql "SELECT count(*) FROM trade_execution_logs WHERE run_id = $dep")" 4
l=$(ledger)
run capital add 1000.01 --deploy --ref dep-1 --date 2025-03-03
grep -q 'already booked' out || fail "repeated --ref: $(cat out)"
same "ledger after a repeated --ref" "$(ledger)" "$l"
# the same reference with another amount: refused
expect 2 capital add 1000.02 --deploy --ref dep-1 --date 2025-03-03
same "ledger after a conflicting --ref" "$(ledger)" "$l"
# a deployment dated before the latest valuation: refused
expect 2 capital add 5 --deploy --date 2025-03-02
grep -q 'before the latest recorded valuation' err || fail "early --date: $(cat err)"
same "ledger after an early --date" "$(ledger)" "$l"
# a deployment dated after today: refused (its record would sort after
# today's allocation, whose returns would count the cash as a gain)
today=$(date +%F)
expect 2 capital add 50 --deploy --date 2099-01-01
grep -q "2099-01-01 is after today ($today)" err || fail "future --date: $(cat err)"
expect 2 capital add 50 --deploy --date 2099-01-01 --dry-run
same "ledger after a future --date" "$(ledger)" "$l"
run --json capital add 0.01 --deploy --dry-run --date 2025-03-03
python3 -c 'import json; x = json.load(open("out")); assert x["deploy"] and x["dry_run"], x' ||
    fail "dry-run deploy --json: $(cat out)"
same "ledger after a dry run" "$(ledger)" "$l"

run allocate --allow-past-date --date 2025-03-04
grep -q 'already' out && fail "d2 'already ran': $(cat out)"
same "books after d2" "$(books)" "0=20400.01 1=50000.00 2=30600.00 "
same "returns at d2 after the deployment" "$(returns 2025-03-04)" "1:0 2:0"

# ---- reversals ----------------------------------------------------------
run reverse "$dep" --date 2025-03-04
same "books after reversing the deployment" "$(books)" "0=21200.01 1=49500.00 2=30300.00 "
rev=$(last_id REVERSE)
same "the reversal's link" "$(sql "SELECT reverses FROM capalloc_runs WHERE run_id = $rev")" "$dep"
l=$(ledger)
expect 2 reverse "$dep" --date 2025-03-04
grep -q "already reversed (by run $rev)" err || fail "second reversal: $(cat err)"
same "ledger after a second reversal" "$(ledger)" "$l"
expect 2 reverse "$rev" --date 2025-03-04   # a reversal is not reversed
expect 2 reverse 1 --date 2025-03-04        # an ADD: the opposite movement
grep -q 'opposite movement' err || fail "reversing an ADD: $(cat err)"
expect 2 reverse 999 --date 2025-03-04
expect 2 reverse "$dep" --date 2099-01-01    # after today
grep -q "2099-01-01 is after today ($today)" err || fail "future reverse --date: $(cat err)"
same "ledger after refused reversals" "$(ledger)" "$l"
run explain "$rev"
grep -q "REVERSE of run $dep" out || fail "explain $rev: $(cat out)"
run explain "$dep"
grep -q "run $dep reversed by run $rev" out || fail "explain $dep: $(cat out)"
run --json explain "$rev"
python3 -c "
import json; x = json.load(open('out'))
assert x['kind'] == 'REVERSE' and x['reverses'] == $dep, x" || fail "explain --json $rev"

run history
grep -q "^run $dep: DEPLOY, reversed by run $rev\$" out || fail "history: $(cat out)"
grep -q "^run $rev: REVERSE of run $dep\$" out || fail "history: $(cat out)"
run --json history
python3 -c "
import json; h = json.load(open('out'))
k = {(r['run_id'], r['run_kind'], r['reverses'], r['reversed_by'])
     for r in h['rows']}
assert ($dep, 'DEPLOY', None, $rev) in k and ($rev, 'REVERSE', $dep, None) in k, k
" || fail "history --json kinds"

run report -o report.html
grep -q "A reversal (REVERSE) of run $dep" report.html &&
    grep -q "Reversed by run $rev" report.html || fail "report: kinds and links"

s3=$(books)
run allocate --allow-past-date --date 2025-03-05
grep -q 'already' out && fail "d3 'already ran': $(cat out)"
same "returns at d3 after the reversal" "$(returns 2025-03-05)" "1:0 2:0"
same "books after d3" "$(books)" "0=20400.01 1=50000.00 2=30600.00 "
run reverse "$(alloc_id 2025-03-05)" --date 2025-03-05
same "books after reversing d3 (as before it)" "$(books)" "$s3"

price 60.50
s4=$(books)
run allocate --allow-past-date --date 2025-03-06
same "books after d4" "$(books)" "0=21410.01 1=47475.00 2=32115.00 "
run capital withdraw 21410.01
l=$(ledger)
expect 4 reverse "$(alloc_id 2025-03-06)" --date 2025-03-06
grep -q "insufficient funds" err || fail "negative reversal: $(cat err)"
same "ledger after a reversal refused for funds" "$(ledger)" "$l"
run capital add 21410.01
# the master holds 21410.01, 21300 of it for a queued redemption: the
# reversal would leave it 21200.01, handing the strategies cash the queue
# is owed -> exit 4, naming both; cancelled, the reversal runs
run --json capital withdraw --queue 21300
red=$(python3 -c 'import json; print(json.load(open("out"))["id"])')
l=$(ledger)
expect 4 reverse "$(alloc_id 2025-03-06)" --date 2025-03-06
grep -q "leaving it 21200.01 USD, less than the 21300.00 USD owed to queued redemptions" err ||
    fail "reversal below the queue: $(cat err)"
same "ledger after a reversal refused for the queue" "$(ledger)" "$l"
run redemptions cancel "$red"
run reverse "$(alloc_id 2025-03-06)" --date 2025-03-06
same "books after reversing d4 (as before it)" "$(books)" "$s4"

# ---- a deployment before the date's allocation -------------------------
run capital add 100 --deploy --date 2025-03-07
same "books after the second deployment" "$(books)" "0=21220.01 1=49550.00 2=30330.00 "
run allocate --allow-past-date --date 2025-03-07
grep -q 'already' out && fail "d5 after a deployment 'already ran': $(cat out)"
same "the date's allocation" "$(alloc_id 2025-03-07 | wc -l)" 1
same "returns at d5 after a deployment" "$(returns 2025-03-07)" "1:0 2:0"
run allocate --allow-past-date --date 2025-03-07
grep -q 'already' out || fail "repeat of d5: $(cat out)"

# ---- the same deployment eight times at once: one ADD, one DEPLOY ------
n=$(kind_count DEPLOY)
t0=$(total)
pids=()
for k in 1 2 3 4 5 6 7 8; do
    "$BIN" --config c.yaml capital add 80 --deploy --ref conc-1 \
        --date 2025-03-07 >"conc$k.out" 2>"conc$k.err" &
    pids+=($!)
done
for k in 1 2 3 4 5 6 7 8; do
    wait "${pids[$((k - 1))]}" || fail "concurrent deploy $k exited $?: $(cat "conc$k.err")"
done
same "ADD runs with conc-1" "$(sql "SELECT count(*) FROM capalloc_runs WHERE reference = 'conc-1'")" 1
same "DEPLOY runs after eight concurrent deployments" "$(kind_count DEPLOY)" $((n + 1))
same "cash after eight concurrent deployments" "$(python3 -c "
from decimal import Decimal as D; print(D('$(total)') - D('$t0'))")" "80.00"
same "repeats reported" "$(cat conc*.out | grep -c 'already booked')" 7
# a twin that lost the race on the reference ends its transaction cleanly
# (postgres: the unique violation's aborted transaction is rolled back)
grep -l 'current transaction is aborted' conc*.out conc*.err &&
    fail "a concurrent deployment left an aborted transaction"

# ---- the config setting, and prices only for a deployment --------------
n=$(kind_count DEPLOY)
"$BIN" --config auto.yaml capital add 10 --date 2025-03-07 >out 2>err ||
    fail "deploy_on_add: $(cat err)"
same "deploy_on_add deploys" "$(kind_count DEPLOY)" $((n + 1))
"$BIN" --config auto.yaml capital add 10 --no-deploy >out 2>err ||
    fail "--no-deploy: $(cat err)"
same "--no-deploy does not" "$(kind_count DEPLOY)" $((n + 1))
# --date dates a deployment: refused (exit 2) on an ADD that deploys
# nothing, never silently ignored
l=$(ledger)
expect 2 capital add 5 --date 2025-03-07
grep -q -- '--date 2025-03-07 dates a deployment' err || fail "--date without a deployment: $(cat err)"
rc=0
"$BIN" --config auto.yaml capital add 5 --no-deploy --date 2025-03-07 >out 2>err || rc=$?
[ "$rc" -eq 2 ] || fail "--no-deploy --date: exit $rc $(cat err)"
same "ledger after --date without a deployment" "$(ledger)" "$l"
rc=0
"$BIN" --config bad.yaml capital add 10 >out 2>err || rc=$?
[ "$rc" -eq 3 ] && grep -q 'capital.deploy_on_ad' err || fail "unknown capital key: exit $rc $(cat err)"
rm prices.csv
run capital add 1
# a repeated deployment is found before any price is asked for
run capital add 80 --deploy --ref conc-1 --date 2025-03-07
grep -q 'already booked' out || fail "repeat without prices: $(cat out)"
l=$(ledger)
rc=0
"$BIN" --config c.yaml capital add 1 --deploy --date 2025-03-07 >out 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "--deploy without prices succeeded"
same "ledger after a deployment without prices" "$(ledger)" "$l"
expect 2 capital withdraw 1 --deploy

# the ledger checks itself after every deployment and reversal (the hash
# chain covers them, each moved zero net cash)
run verify
grep -qi 'ok\|intact\|verified' out || fail "verify: $(cat out)"
# the chain covers a run's kind and link: a reversal pointed at another
# run by hand is found and named, and passes again once put back
sql "UPDATE capalloc_runs SET reverses = 1 WHERE run_id = $rev"
expect 10 verify
grep -q "run $rev" out err || fail "verify of an edited link: $(cat out err)"
sql "UPDATE capalloc_runs SET reverses = $dep WHERE run_id = $rev"
run verify

# ---- approval.required: a transfer needs an approved plan -------------
config appr.yaml 'approval:
  required: 1
'
l=$(ledger)
rc=0
"$BIN" --config appr.yaml capital add 5 --deploy --date 2025-03-07 >out 2>err || rc=$?
[ "$rc" -eq 11 ] && grep -q 'approved plan' err ||
    fail "deploy with approval.required: exit $rc $(cat err)"
rc=0
"$BIN" --config appr.yaml reverse "$(last_id DEPLOY)" --date 2025-03-07 >out 2>err || rc=$?
[ "$rc" -eq 11 ] && grep -q 'approved plan' err ||
    fail "reverse with approval.required: exit $rc $(cat err)"
same "ledger after transfers refused for approval" "$(ledger)" "$l"
price 10.00
"$BIN" --config appr.yaml reverse "$(last_id DEPLOY)" --date 2025-03-07 --dry-run >out 2>err ||
    fail "dry-run reverse with approval.required: $(cat err)"
# an ADD without deployment moves no cash between portfolios: booked
"$BIN" --config appr.yaml capital add 5 >out 2>err ||
    fail "plain ADD with approval.required: $(cat err)"
run capital withdraw 5

# ---- the rebalance rules a deployment honours (a ledger of its own) -----
# weights 0.5/0.3 scaled for a cash buffer of 0.5 to 0.3125/0.1875;
# max_transfer 400.
#   ADD 1000, then ADD 1000 --deploy: E 2000, buffer 1000: 1 gets 312.50,
#       2 187.50, the master keeps 1500 (>= the buffer)
#   ADD 2000 --deploy: E 4000, buffer 2000: 1's 625.00 is cut to 400, 2
#       gets 375.00; the master keeps 2725
case $BACKEND in
sqlite) storage="  plugin: sqlite
  options:
    path: $mv_work/rules.db"
    sql() { sqlite3 "$mv_work/rules.db" "$1"; } ;;
postgres) storage="  plugin: postgres
  options:
    schema: move_rules"
    sql() { psql -X -v ON_ERROR_STOP=1 -Atq -c "SET search_path = move_rules; $1"; } ;;
esac
price 10.00
config c.yaml 'rebalance:
  cash_buffer: 0.5
  max_transfer: 400
'
run capital add 1000
run capital add 1000 --deploy --date 2025-03-03
same "books after a deployment with a buffer" "$(books)" "0=1500.00 1=312.50 2=187.50 "
run --json capital add 2000 --deploy --date 2025-03-03
same "books after a deployment cut by max_transfer" "$(books)" "0=2725.00 1=712.50 2=562.50 "
python3 -c '
import json; x = json.load(open("out"))
assert x["deployed"] == "775.00" and not x["scaled"], x
assert [(t["portfolio_id"], t["transfer"]) for t in x["transfers"]] == [
    ("1", "400.00"), ("2", "375.00")], x
' || fail "deploy --json: $(cat out)"
# a queued redemption is the master's too: with 2500 queued, E 5000 and a
# buffer of 2500, nothing of a new 1000 is deployed (scaled to 0)
n=$(kind_count DEPLOY)
run capital withdraw --queue 2500
run --json capital add 1000 --deploy --date 2025-03-03
same "books with a queued redemption" "$(books)" "0=3725.00 1=712.50 2=562.50 "
same "no DEPLOY run with nothing to deploy" "$(kind_count DEPLOY)" "$n"
python3 -c '
import json; x = json.load(open("out"))
assert x["deployed"] == "0.00" and x["scaled"] and x["transfers"] == [], x
' || fail "deploy with a queued redemption --json: $(cat out)"
# four operators reverse the same deployment at once: one reversal
d=$(last_id DEPLOY)
n=$(kind_count REVERSE)
pids=()
for k in 1 2 3 4; do
    "$BIN" --config c.yaml reverse "$d" --date 2025-03-03 >"rev$k.out" 2>"rev$k.err" &
    pids+=($!)
done
codes=
for k in 1 2 3 4; do
    rc=0
    wait "${pids[$((k - 1))]}" || rc=$?
    codes="$codes$rc"
done
same "exit codes of four concurrent reversals (sorted)" "$(echo "$codes" | grep -o . | sort | tr -d '\n')" "0222"
same "REVERSE runs after four concurrent reversals" "$(kind_count REVERSE)" $((n + 1))
same "books after the concurrent reversals" "$(books)" "0=4500.00 1=312.50 2=187.50 "

run explain "$d"
grep -q 'Deployment (DEPLOY) run' out && grep -q 'ADD of 2000.00 USD' out &&
    grep -q 'buffer of 2000.00 .* 1 share cut to max_transfer' out ||
    fail "explain of a deployment: $(cat out)"

run verify

# ---- min_transfer after the pro-rata scaling (a ledger of its own) ------
# min_transfer 100; 840 queued, then ADD 1000 --deploy: shares 500 and 300
# are scaled to what the master holds above the queue (160): 100.00 and
# 60.00; 60.00 is below min_transfer, skipped: its residue stays in the
# master (900 = 840 queued + 60)
case $BACKEND in
sqlite) storage="  plugin: sqlite
  options:
    path: $mv_work/min.db"
    sql() { sqlite3 "$mv_work/min.db" "$1"; } ;;
postgres) storage="  plugin: postgres
  options:
    schema: move_min"
    sql() { psql -X -v ON_ERROR_STOP=1 -Atq -c "SET search_path = move_min; $1"; } ;;
esac
config c.yaml 'rebalance:
  min_transfer: 100
'
run capital withdraw --queue 840
run --json capital add 1000 --deploy --date 2025-03-03
same "books after a scaled deployment with min_transfer" "$(books)" "0=900.00 1=100.00 "
python3 -c '
import json; x = json.load(open("out"))
assert x["deployed"] == "100.00" and x["scaled"], x
assert [(t["portfolio_id"], t["transfer"]) for t in x["transfers"]] == [
    ("1", "100.00")], x
' || fail "scaled deploy with min_transfer --json: $(cat out)"
run explain "$(last_id DEPLOY)"
grep -q "1 below min_transfer" out || fail "explain of the skipped share: $(cat out)"

# an ADD booked without deployment, repeated with --deploy: nothing is
# written or deployed, and the message does not claim it was deployed
n=$(kind_count DEPLOY)
run capital add 5 --ref r9
run capital add 5 --ref r9 --deploy --date 2025-03-03
grep -q "already booked (run [0-9]*," out && grep -q 'waits in the master' out &&
    ! grep -q 'deployed again' out || fail "repeat of an undeployed ADD: $(cat out)"
same "no DEPLOY for a repeat of an undeployed ADD" "$(kind_count DEPLOY)" "$n"

# a share beyond the representable range while scaling (4e12 x 4e12):
# refused naming the amount and the strategy, the ledger unchanged
run capital withdraw --queue 4000000000000
l=$(ledger)
expect 2 capital add 8000000000000 --deploy --date 2025-03-03
grep -q "deployment of 8000000000000.00 USD overflows .* strategy '1'" err ||
    fail "overflowing deployment: $(cat err)"
same "ledger after an overflowing deployment" "$(ledger)" "$l"

# ---- a reversal keeps the cash buffer in the master (a ledger of its own)
# weights 0.5/0.3: ADD 1000 --deploy -> 0=200 1=500 2=300; weights 0.4/0.3:
# the allocation returns 100 from 1 -> master 300. With cash_buffer 0.5
# (500 of E 1000) reversing it would leave the master 200: refused (exit
# 4), as a deployment would keep the buffer; without the buffer it runs.
case $BACKEND in
sqlite) storage="  plugin: sqlite
  options:
    path: $mv_work/buf.db"
    sql() { sqlite3 "$mv_work/buf.db" "$1"; } ;;
postgres) storage="  plugin: postgres
  options:
    schema: move_buf"
    sql() { psql -X -v ON_ERROR_STOP=1 -Atq -c "SET search_path = move_buf; $1"; } ;;
esac
config c.yaml
run capital add 1000 --deploy --date 2025-03-03
same "books after the deployment (buffer ledger)" "$(books)" "0=200.00 1=500.00 2=300.00 "
config c.yaml '' && sed -i 's/"1": 0.5/"1": 0.4/' c.yaml
run allocate --allow-past-date --date 2025-03-03
same "books after the allocation (buffer ledger)" "$(books)" "0=300.00 1=400.00 2=300.00 "
a=$(alloc_id 2025-03-03)
config c.yaml 'rebalance:
  cash_buffer: 0.5
' && sed -i 's/"1": 0.5/"1": 0.4/' c.yaml
l=$(ledger)
expect 4 reverse "$a" --date 2025-03-03
grep -q "leaving it 200.00 USD, less than the 0.00 USD owed to queued redemptions plus its cash buffer of 500.00 USD" err ||
    fail "reversal below the buffer: $(cat err)"
same "ledger after a reversal refused for the buffer" "$(ledger)" "$l"
config c.yaml
run reverse "$a" --date 2025-03-03
same "books after the reversal without a buffer" "$(books)" "0=200.00 1=500.00 2=300.00 "

if [ "$failures" -eq 0 ]; then
    echo "PASS: deployments and reversals on $BACKEND"
    exit 0
fi
echo "$failures check(s) FAILED on $BACKEND" >&2
exit 1
