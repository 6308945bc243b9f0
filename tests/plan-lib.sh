# tests/plan-lib.sh - plan, approve, apply (README "Plan, approve, apply")
# end to end on the backend named by BACKEND (sqlite or postgres; sourced
# by plan-sqlite.sh and plan-postgres.pgtest):
#   a. the write lock is held only while writing: with the fmp price source
#      slowed to 3 s a request (tests/fake_fmp.py), a `capital add` started
#      while `allocate` fetches prices completes at once, and the allocate
#      then plans again (the ADD changed the ledger) and succeeds;
#   b. a plan approved then applied writes exactly what `allocate` writes
#      on a twin ledger (every balance, transfer row and record row);
#   c. an approved plan refused (exit 11) after an ADD, naming the master's
#      balance, the ledger unchanged;
#   d. a plan edited after approval refused;
#   e. self-approval refused; too few approvers, an expired plan and a plan
#      for another date refused;
#   f. with approval.required, plain allocate refused (exit 11), nothing
#      written; a dry run still works.
. "${abs_top_srcdir:?}/tests/script-lib.sh"

plan_work=$(mktemp -d "${TMPDIR:-/tmp}/capalloc-plan.XXXXXX")
fmp_pid=
cleanup() {
    if [ -n "$fmp_pid" ]; then
        kill "$fmp_pid" 2>/dev/null || :
        wait "$fmp_pid" 2>/dev/null || :
    fi
    rm -rf "$plan_work"
}
trap cleanup EXIT
cd "$plan_work"

# storage LEDGER: the storage section of ledger LEDGER; sql LEDGER QUERY
case $BACKEND in
sqlite)
    storage() { printf '  plugin: sqlite\n  options:\n    path: %s/%s.db\n' "$plan_work" "$1"; }
    sql() { sqlite3 -separator ' ' "$plan_work/$1.db" "$2"; }
    ;;
postgres)
    storage() { printf '  plugin: postgres\n  options:\n    schema: plan_%s\n' "${1,,}"; }
    sql() { psql -X -v ON_ERROR_STOP=1 -Atq -F ' ' -c "SET search_path = plan_${1,,}; $2"; }
    ;;
*) echo "unknown BACKEND $BACKEND" >&2; exit 1 ;;
esac

# config FILE LEDGER PRICES [EXTRA]: a fund of two strategies at 0.5
# each; PRICES: "file" or the fmp base URL
config() {
    {
        printf 'master_portfolio_id: "0"\ncurrency: USD\nstorage:\n'
        storage "$2"
        if [ "$3" = file ]; then
            printf 'prices:\n  plugin: file\n  options:\n    path: prices.csv\n'
        else
            printf 'prices:\n  plugin: fmp\n  options: {base_url: "%s", api_key_env: FMP_TEST_KEY, mode: batch}\n' "$3"
        fi
        printf 'policy:\n  plugin: fixed_weight\n  options:\n    weights:\n'
        printf '      "1": 0.5\n      "2": 0.5\n'
        printf '%s' "${4:-}"
    } >"$1"
}
printf 'ticker,price\nAAA,10.00\n' >prices.csv
printf 'portfolio_id,ticker,quantity\n1,AAA,100\n' >positions.csv

run() { # run CONFIG ARGS...: capalloc, output in out/err, fail on non-zero
    local cfg=$1
    shift
    "$BIN" --config "$cfg" "$@" >out 2>err || {
        fail "capalloc $* exited $?: $(cat err)"
        return 1
    }
}
refused() { # refused WHY CONFIG ARGS...: exit 11 wanted, stderr in err
    local why=$1 cfg=$2 rc=0
    shift 2
    "$BIN" --config "$cfg" "$@" >out 2>err || rc=$?
    [ "$rc" -eq 11 ] || fail "$why: capalloc $* exited $rc, want 11: $(cat err)"
}
# the ledger's content without ids and timestamps
dump() {
    local l=$1
    sql "$l" "SELECT portfolio_id, currency, cash FROM cash_equity_book ORDER BY portfolio_id"
    sql "$l" "SELECT portfolio_id, ticker, quantity FROM positions_book ORDER BY portfolio_id, ticker"
    sql "$l" "SELECT r.action, r.run_date, r.forced, t.portfolio_id, t.ticker, t.side, t.quantity, t.arrival_price, t.exec_price FROM trade_execution_logs t JOIN capalloc_runs r ON r.run_id = t.run_id ORDER BY t.log_id"
    sql "$l" "SELECT v.valuation_date, v.portfolio_id, v.is_master, v.imported, v.cash, v.positions_value, v.nav, v.weight, v.target, v.transfer FROM capalloc_valuations v ORDER BY v.run_id, v.portfolio_id"
    sql "$l" "SELECT ticker, price, as_of, stale FROM capalloc_run_prices ORDER BY run_id, ticker"
}
fund() { # fund CONFIG: a fresh ledger with cash and a position
    run "$1" capital add 100000
    run "$1" positions import positions.csv
}
# forge IN OUT PY: edit plan IN with the python PY (p is the plan), redo its
# content hash and its approvals' (a plain SHA-256, not a signature)
forge() {
    python3 -c '
import hashlib, json, sys
d = json.load(open(sys.argv[1]))
p = d["plan"]
exec(sys.argv[3])
s = json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
h = hashlib.sha256(s.encode()).hexdigest()
d["content_sha256"] = h
for a in d["approvals"]:
    a["content_sha256"] = h
json.dump(d, open(sys.argv[2], "w"), indent=2)' "$@"
}
today=$(date +%Y-%m-%d)
approval1=$'approval:\n  required: 1\n  max_age: 1h\n'
tomorrow=$(date -d tomorrow +%Y-%m-%d)

# ---- b. approved then applied == allocate on a twin ledger --------------
config a.yaml A file
config b.yaml B file
fund a.yaml
fund b.yaml
run a.yaml allocate --plan-out p.json --as alice
[ -s p.json ] || fail "allocate --plan-out wrote no plan"
python3 -c '
import json, sys
p = json.load(open("p.json"))["plan"]
for k in ("run_date", "config", "prepared_by", "prepared_at", "fingerprint",
          "capalloc_version", "strategies", "transfers", "explain"):
    assert k in p, k
assert p["prepared_by"] == "alice", p["prepared_by"]
s = {x["id"]: x for x in p["strategies"]}
assert s["1"]["nav"] == "1000.00" and s["1"]["weight"] == "0.5", s
assert s["1"]["target"] == "50500.00" and s["1"]["transfer"] == "49500.00", s
assert len(p["config"]["sha256"]) == 64 and len(p["fingerprint"]) == 64
' || fail "the plan file lacks what explain shows: $(cat p.json)"
[ "$(sql A "SELECT count(*) FROM capalloc_runs WHERE action = 'ALLOCATE'")" = 0 ] ||
    fail "--plan-out wrote to the ledger"
run a.yaml approve p.json --as bob
run a.yaml apply p.json --as carol
run b.yaml allocate
dump A >a.dump
dump B >b.dump
if ! cmp -s a.dump b.dump; then
    fail "the applied plan differs from allocate on the twin ledger:"
    diff a.dump b.dump >&2 || :
fi
grep -q '^ALLOCATE' a.dump || fail "no allocation rows in the applied ledger"
run a.yaml --json explain "$today"
python3 -c '
import json, sys
x = json.load(open("out"))
d = json.dumps(x)
for who in ("alice", "bob", "carol"):
    assert who in d, who
' || fail "explain does not show the preparer and approvers: $(cat out)"
run a.yaml explain "$today"
grep -q "prepared by alice at .*, applied by carol; approved by bob" out ||
    fail "explain's text does not show the preparer and approvers: $(cat out)"
# applied twice: the date has its run now
refused "a second apply" a.yaml apply p.json --as carol

# the same with a queued redemption the run pays (its WITHDRAW batch)
config g.yaml G file
config h.yaml H file
for l in g h; do
    fund $l.yaml
    run $l.yaml capital withdraw 200000 --queue
done
run g.yaml allocate --plan-out g.json --as alice
run g.yaml approve g.json --as bob
run g.yaml apply g.json --as carol
run h.yaml allocate
dump G >g.dump
dump H >h.dump
sql G "SELECT redemption_id, amount, paid, state FROM capalloc_redemptions ORDER BY redemption_id" >>g.dump
sql H "SELECT redemption_id, amount, paid, state FROM capalloc_redemptions ORDER BY redemption_id" >>h.dump
if ! cmp -s g.dump h.dump; then
    fail "the applied plan with a redemption payout differs from allocate:"
    diff g.dump h.dump >&2 || :
fi
grep -q '^WITHDRAW' g.dump || fail "the plan paid no queued redemption: $(cat g.dump)"

# a forged payout: master_after raised, the hashes and the approval redone
# (a plain SHA-256, not a signature): apply derives the master's balance
# from the ALLOCATE batch and the payments from the open redemptions, so
# it refuses; the ledger unchanged (no cash created)
config k.yaml K file "$approval1"
fund k.yaml
run k.yaml capital withdraw 1000 --queue
run k.yaml allocate --plan-out k.json --as alice
forge k.json k1.json 'p["redemptions"]["master_after"] = "501000.02"'
run k.yaml approve k1.json --as bob
dump K >k.before
refused "a forged master_after" k.yaml apply k1.json --as carol
grep -q "redemption payout" err || fail "a forged master_after: $(cat err)"
forge k.json k2.json '
r = p["redemptions"]
r["payments"][0]["owed"] = r["payments"][0]["pay"] = "2000.00"
r["paid_out"] = "2000.00"'
run k.yaml approve k2.json --as bob
refused "a forged payment" k.yaml apply k2.json --as carol
grep -q "redemption payout" err || fail "a forged payment: $(cat err)"
forge k.json k3.json 'p["redemptions"]["payments"][0]["id"] = 999'
run k.yaml approve k3.json --as bob
refused "a payment of no open redemption" k.yaml apply k3.json --as carol
dump K >k.after
cmp -s k.before k.after || fail "a forged payout changed the ledger"
run k.yaml approve k.json --as bob
run k.yaml apply k.json --as carol
[ "$(sql K "SELECT portfolio_id, cash FROM cash_equity_book ORDER BY portfolio_id" | tr '\n' ' ')" = "0 0.00 1 49000.00 2 50000.00 " ] ||
    fail "the fund's cash after paying 1000.00: $(sql K "SELECT portfolio_id, cash FROM cash_equity_book")"

# ---- b2. a policy that reads history (inverse_vol): apply re-reads the
# history as deep as the plan did (its ledger_state's history_points), so a
# plan on a fund with recorded history applies and equals allocate
vol() { # vol FILE LEDGER
    {
        printf 'master_portfolio_id: "0"\ncurrency: USD\nportfolios: ["1", "2"]\nstorage:\n'
        storage "$2"
        printf 'prices:\n  plugin: file\n  options:\n    path: vprices.csv\n'
        printf 'policy:\n  plugin: inverse_vol\n  options: {lookback: 3}\n'
    } >"$1"
}
vol v.yaml V
vol w.yaml W
printf 'portfolio_id,ticker,quantity\n1,AAA,100\n2,BBB,100\n' >vpositions.csv
vaaa=(100 104 99 103 98 102)
vbbb=(50 50.5 50.2 50.6 50.4 50.8)
i=0
for d in 2025-04-01 2025-04-02 2025-04-03 2025-04-04 2025-04-07 2025-04-08; do
    printf 'ticker,price\nAAA,%s\nBBB,%s\n' "${vaaa[$i]}" "${vbbb[$i]}" >vprices.csv
    for l in v w; do
        [ "$i" -gt 0 ] || { run $l.yaml capital add 100000 && run $l.yaml positions import vpositions.csv; }
        run $l.yaml allocate --allow-past-date --date "$d"
    done
    i=$((i + 1))
done
printf 'ticker,price\nAAA,101\nBBB,51\n' >vprices.csv
run v.yaml allocate --plan-out v.json --as alice
python3 -c '
import json
p = json.load(open("v.json"))["plan"]
assert p["ledger_state"]["history_points"] > 0, p["ledger_state"]
' || fail "the plan of an inverse_vol fund has no history_points: $(head -c 3000 v.json)"
run v.yaml approve v.json --as bob
# a hand edit of the recorded history between plan and apply: the change
# stamp moves (capalloc_valuations is stamped), the history is read again
# and the plan refused; undone, the plan applies
q="FROM capalloc_valuations WHERE valuation_date = '2025-04-08' AND portfolio_id = '1'"
nav=$(sql V "SELECT nav $q")
sql V "UPDATE capalloc_valuations SET nav = nav + 1 WHERE valuation_date = '2025-04-08' AND portfolio_id = '1'"
refused "a plan made before a hand edit of the history" v.yaml apply v.json --as carol
grep -q "the recorded history" err || fail "the history's hand edit: $(cat err)"
sql V "UPDATE capalloc_valuations SET nav = '$nav' WHERE valuation_date = '2025-04-08' AND portfolio_id = '1'"
run v.yaml apply v.json --as carol
run w.yaml allocate
dump V >v.dump
dump W >w.dump
if ! cmp -s v.dump w.dump; then
    fail "the applied inverse_vol plan differs from allocate:"
    diff v.dump w.dump >&2 || :
fi
[ "$(sql V "SELECT count(*) FROM capalloc_runs WHERE action = 'ALLOCATE'")" = 7 ] ||
    fail "the inverse_vol plan was not applied"

# ---- b3. paying 4,000 queued redemptions: each payment looks its row up
# by key (it read the whole table per payment: the write lock was held 8 s
# on sqlite, 46 s on postgres; now 0.06 s and 1.5 s; the margins are wide)
config q.yaml Q file
run q.yaml capital add 100000
run q.yaml capital withdraw 1 --queue
case $BACKEND in
sqlite) sql Q "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3999)
    INSERT INTO capalloc_redemptions (amount, paid, state, reference, queued_at, updated_at)
    SELECT '1.00', '0', 'QUEUED', NULL, r.queued_at, r.updated_at FROM k, capalloc_redemptions r" ;;
postgres) sql Q "INSERT INTO capalloc_redemptions (amount, paid, state, reference, queued_at, updated_at)
    SELECT 1.00, 0, 'QUEUED', NULL, now(), now() FROM generate_series(1, 3999)" ;;
esac
[ "$(sql Q "SELECT count(*) FROM capalloc_redemptions WHERE state = 'QUEUED'")" = 4000 ] ||
    fail "4000 queued redemptions: $(sql Q "SELECT count(*) FROM capalloc_redemptions")"
run q.yaml -v allocate
held=$(sed -n 's/.*committed; write lock held \([0-9.]*\) s.*/\1/p' err)
echo "# $BACKEND: paying 4000 queued redemptions held the write lock ${held:-?} s"
[ "$(sql Q "SELECT count(*) FROM capalloc_redemptions WHERE state = 'PAID'")" = 4000 ] ||
    fail "the 4000 queued redemptions were not paid"
limit=4
[ "$BACKEND" = sqlite ] || limit=12
awk -v s="${held:-99}" -v l="$limit" 'BEGIN { exit !(s < l) }' ||
    fail "paying 4000 queued redemptions held the write lock ${held:-?} s"

# ---- c. stale: an ADD between plan and apply ----------------------------
config c.yaml C file
fund c.yaml
run c.yaml allocate --plan-out c.json --as alice
run c.yaml approve c.json --as bob
run c.yaml capital add 500
dump C >c.before
refused "a stale plan" c.yaml apply c.json
grep -q "balance of '0' 100000.00 -> 100500.00" err ||
    fail "the stale plan's refusal does not name the master's balance: $(cat err)"
dump C >c.after
cmp -s c.before c.after || fail "a refused plan changed the ledger"
# and scheduled allocate still runs on it
run c.yaml allocate

# ---- d. edited after approval -------------------------------------------
config d.yaml D file
fund d.yaml
run d.yaml allocate --plan-out d.json --as alice
run d.yaml approve d.json --as bob
python3 -c '
import json
d = json.load(open("d.json"))
d["plan"]["transfers"][0]["amount"] = "49600.00"
json.dump(d, open("d.json", "w"), indent=2)'
refused "an edited plan" d.yaml apply d.json
grep -q "edited" err || fail "the edited plan's refusal: $(cat err)"
# edited with the stored hash updated too: the approval still does not match
python3 -c '
import hashlib, json
d = json.load(open("d.json"))
s = json.dumps(d["plan"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
d["content_sha256"] = hashlib.sha256(s.encode()).hexdigest()
json.dump(d, open("d.json", "w"), indent=2)'
refused "an edited plan with its hash redone" d.yaml apply d.json
grep -q "after it was approved by 'bob'" err || fail "edited after approval: $(cat err)"
[ "$(sql D "SELECT count(*) FROM capalloc_runs WHERE action = 'ALLOCATE'")" = 0 ] ||
    fail "an edited plan was written"
# no approval required: a plan edited with its hash redone passes the hash
# check, and the apply's own checks under the lock still refuse it
config d0.yaml D file
run d0.yaml allocate --plan-out d0.json --as alice
python3 -c '
import hashlib, json, sys
d = json.load(open("d0.json"))
p = d["plan"]
if sys.argv[1] == "transfer":
    p["transfers"][0]["amount"] = "99999.00"
elif sys.argv[1] == "balance":
    for b in p["balances"]:
        if b["portfolio"] == "1":
            b["cash"] = "60000.00"
s = json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
d["content_sha256"] = hashlib.sha256(s.encode()).hexdigest()
json.dump(d, open("d1.json", "w"), indent=2)' transfer
refused "a transfer edited, hash redone" d0.yaml apply d1.json
grep -q "its transfer rows move 99999.00" err || fail "an edited transfer: $(cat err)"
python3 -c '
import hashlib, json, sys
d = json.load(open("d0.json"))
p = d["plan"]
for b in p["balances"]:
    if b["portfolio"] == "1":
        b["cash"] = "60000.00"
s = json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
d["content_sha256"] = hashlib.sha256(s.encode()).hexdigest()
json.dump(d, open("d1.json", "w"), indent=2)'
refused "a balance edited, hash redone" d0.yaml apply d1.json
grep -q "do not match its new balance" err || fail "an edited balance: $(cat err)"
[ "$(sql D "SELECT count(*) FROM capalloc_runs WHERE action = 'ALLOCATE'")" = 0 ] ||
    fail "an edited plan was written"
# stale by a positions import: names the portfolio
run d0.yaml allocate --plan-out d2.json --as alice
printf 'portfolio_id,ticker,quantity\n1,AAA,120\n' >positions2.csv
run d0.yaml positions import positions2.csv
refused "a plan made before a positions import" d0.yaml apply d2.json
grep -q "positions of '1'" err || fail "the refusal does not name the positions of '1': $(cat err)"

# ---- d2. the plan's shape: forged with every hash redone, each passes the
# old checks (cash conserved, balances = transfers) and is refused (exit 11)
config x.yaml X file "$approval1"
fund x.yaml
run x.yaml allocate --plan-out x.json --as alice
dump X >x.before
shape() { # shape WHY GREP PY: forge x.json with PY, approve, apply refused
    forge x.json x1.json "$3"
    run x.yaml approve x1.json --as bob
    refused "$1" x.yaml apply x1.json --as carol
    grep -q "$2" err || fail "$1: $(cat err)"
}
shape "a transfer to a portfolio not configured" "not between the master '0' and a strategy" '
for t in p["transfers"]:
    if t["to"] == "2":
        t["amount"] = "%.2f" % (float(t["amount"]) - 10)
p["transfers"].append({"from": "0", "to": "9", "amount": "10.00"})
for b in p["balances"]:
    if b["portfolio"] == "2":
        b["cash"] = "%.2f" % (float(b["cash"]) - 10)
p["balances"].append({"portfolio": "9", "cash": "10.00"})'
shape "a transfer between two strategies" "transfer 3 (from '1' to '2')" '
p["transfers"].append({"from": "1", "to": "2", "amount": "1.00"})
for b in p["balances"]:
    if b["portfolio"] in ("1", "2"):
        b["cash"] = "%.2f" % (float(b["cash"]) + (1 if b["portfolio"] == "2" else -1))'
shape "a strategy whose transfer is not its rows" "the transfer of strategy '1' is 1.00" '
p["strategies"][0]["transfer"] = "1.00"'
shape "a strategy missing from strategies[]" "strategy '2' of the configuration is not in its strategies" '
del p["strategies"][1]'
shape "a plan prepared in the future" "prepared in the future" '
p["prepared_at_unix"] += 3600'
dump X >x.after
cmp -s x.before x.after || fail "a plan of the wrong shape changed the ledger"
# the same approver twice, in two cases, counts once
config x2.yaml X file $'approval:\n  required: 2\n  max_age: 1h\n'
run x2.yaml allocate --plan-out x2.json --as alice
run x2.yaml approve x2.json --as bob
run x2.yaml approve x2.json --as Bob
[ "$(python3 -c 'import json; print(len(json.load(open("x2.json"))["approvals"]))')" = 1 ] ||
    fail "Bob's approval after bob's was recorded as another approver"
refused "self-approval in another case" x2.yaml approve x2.json --as ALICE
refused "one approver in two cases" x2.yaml apply x2.json --as carol
grep -q "has 1 approver" err || fail "Bob and bob counted as two: $(cat err)"
python3 -c '
import json
d = json.load(open("x2.json"))
for who in ("BOB", "bob", "Alice"):
    d["approvals"].append({"by": who, "at": "x", "content_sha256": d["content_sha256"]})
json.dump(d, open("x2.json", "w"), indent=2)'
refused "one approver repeated by hand" x2.yaml apply x2.json --as carol
grep -q "has 1 approver" err || fail "a repeated approver counted twice: $(cat err)"
dump X >x.after
cmp -s x.before x.after || fail "a plan with one approver changed the ledger"
run x2.yaml approve x2.json --as dave
run x2.yaml apply x2.json --as carol
[ "$(sql X "SELECT count(*) FROM capalloc_runs WHERE action = 'ALLOCATE'")" = 1 ] ||
    fail "the plan with two approvers was not applied"

# ---- e, f. approval required --------------------------------------------
approval=$'approval:\n  required: 1\n  max_age: 1h\n'
config e.yaml E file "$approval"
fund e.yaml
dump E >e.before
refused "plain allocate with approval required" e.yaml allocate
grep -q "plan-out" err || fail "plain allocate's refusal does not say what to do: $(cat err)"
run e.yaml allocate --dry-run
dump E >e.after
cmp -s e.before e.after || fail "a refused allocate changed the ledger"
run e.yaml allocate --plan-out e.json --as alice
refused "self-approval" e.yaml approve e.json --as alice
grep -q "cannot approve" err || fail "self-approval's refusal: $(cat err)"
refused "no approver" e.yaml apply e.json --as alice
grep -q "approval.required is 1" err || fail "too few approvers: $(cat err)"
# an approval by the preparer written by hand does not count either
python3 -c '
import json
d = json.load(open("e.json"))
d["approvals"].append({"by": "alice", "at": "x", "content_sha256": d["content_sha256"]})
json.dump(d, open("e.json", "w"), indent=2)'
refused "self-approval by hand" e.yaml apply e.json
grep -q "self-approval does not count" err || fail "self-approval by hand: $(cat err)"
run e.yaml approve e.json --as bob
refused "another date" e.yaml apply e.json --date "$tomorrow"
grep -q "is for $today, not $tomorrow" err || fail "wrong date: $(cat err)"
config e2.yaml E file $'approval:\n  required: 1\n  max_age: 1s\n'
run e2.yaml allocate --plan-out e2.json --as alice
run e2.yaml approve e2.json --as bob
sleep 2.2
refused "an expired plan" e2.yaml apply e2.json
grep -q "expired" err || fail "expired: $(cat err)"
dump E >e.after
cmp -s e.before e.after || fail "a refused plan changed the ledger"
run e.yaml apply e.json --as carol
[ "$(sql E "SELECT count(*) FROM capalloc_runs WHERE action = 'ALLOCATE'")" = 1 ] ||
    fail "the approved plan was not applied"

# ---- a. the write lock is held only while writing -----------------------
if [ ! -e "$abs_top_builddir/plugins/.libs/fmp.so" ]; then
    echo "# $BACKEND: the fmp plugin is not built (--enable-fmp): part a skipped"
else
export FAKE_FMP_KEY=plan-test-key FMP_TEST_KEY=plan-test-key
python3 "${abs_top_srcdir:?}/tests/fake_fmp.py" --prices prices.csv >fmp.out 2>fmp.err &
fmp_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^PORT //p' fmp.out)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "fake_fmp.py did not start: $(cat fmp.err)" >&2; exit 1; }
python3 -c '
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(
    "http://127.0.0.1:%s/_control" % sys.argv[1],
    data=b"{\"latency_ms\": 3000}", method="POST")).read()' "$port"
config s.yaml S "http://127.0.0.1:$port"
fund s.yaml
t0=$(date +%s.%N)
"$BIN" --config s.yaml -v --json allocate >s.out 2>s.err &
alloc_pid=$!
sleep 1
t1=$(date +%s.%N)
run s.yaml capital add 1000
t2=$(date +%s.%N)
kill -0 "$alloc_pid" 2>/dev/null ||
    fail "allocate finished before the concurrent ADD did (the fake's latency did not apply)"
rc=0
wait "$alloc_pid" || rc=$?
t3=$(date +%s.%N)
add_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
alloc_s=$(awk -v a="$t0" -v b="$t3" 'BEGIN { printf "%.3f", b - a }')
echo "# $BACKEND: capital add during the price fetch took ${add_s}s; allocate took ${alloc_s}s"
grep -E 'write lock' s.err | sed "s/^/# $BACKEND: /" || :
[ "$rc" -eq 0 ] || fail "allocate with a concurrent ADD exited $rc: $(cat s.err)"
awk -v s="$add_s" 'BEGIN { exit !(s < 2) }' || fail "capital add waited ${add_s}s for the allocation's lock"
awk -v s="$alloc_s" 'BEGIN { exit !(s > 3) }' || fail "allocate took ${alloc_s}s, the fake's latency is 3 s"
python3 -c '
import json
r = json.load(open("s.out"))
assert r["status"] == "committed", r["status"]
assert r["attempts"] == 2, r["attempts"]
assert r["price_requests"] == 1, r["price_requests"]
# 100000 + 1000 added while it planned + 100 AAA at 10.00
assert r["total_equity"] == "102000.00", r["total_equity"]
t = {p["id"]: p["target"] for p in r["portfolios"]}
assert t == {"1": "51000.00", "2": "51000.00"}, t
' || fail "the allocation did not plan again on the ADD: $(cat s.out)"
grep -q "the plan was stale: balance of '0' 100000.00 -> 101000.00" s.err ||
    fail "no stale plan in the progress lines: $(cat s.err)"
[ "$(sql S "SELECT cash FROM cash_equity_book WHERE portfolio_id = '0'")" = 0.00 ] ||
    fail "the master's cash after the run: $(sql S "SELECT cash FROM cash_equity_book")"
fi

# every ledger this script made, through plans, approvals, refusals and
# replanned runs, still replays and chains
for y in *.yaml; do
    run "$y" verify
    grep -q '^ledger verified: ' out || fail "verify $y: $(cat out)"
done

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s) on $BACKEND" >&2
    exit 1
fi
echo "plan, approve, apply on $BACKEND: ok"
