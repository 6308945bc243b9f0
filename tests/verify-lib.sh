# tests/verify-lib.sh - `capalloc verify` end to end, on the backend named
# by BACKEND (sqlite or postgres; sourced by verify-sqlite.sh and
# verify-postgres.pgtest). A ledger made by every write path (ADD with an
# idempotent reference and its repeat, WITHDRAW, a position import,
# allocations on several dates and a forced one, a queued redemption paid
# by an allocation) verifies; then each tampering by hand in SQL, on a
# fresh copy of that ledger, makes verify exit 10 naming the place; and a
# ledger of the first release, migrated, verifies from the migration on.
. "${abs_top_srcdir:?}/tests/script-lib.sh"
script_work verify
vw=$work

# storage NAME: the storage section of ledger NAME; sql NAME SQL
case $BACKEND in
sqlite)
    storage() { printf '  plugin: sqlite\n  options:\n    path: %s\n' "$vw/$1.db"; }
    sql() { sqlite3 "$vw/$1.db" "$2"; }
    ;;
postgres)
    storage() { printf '  plugin: postgres\n  options:\n    schema: %s\n' "$1"; }
    sql() { psql -X -v ON_ERROR_STOP=1 -Atq -c "SET search_path = $1; $2"; }
    ;;
*) echo "unknown BACKEND $BACKEND" >&2; exit 1 ;;
esac

config() { # config NAME: NAME.yaml
    {
        printf 'master_portfolio_id: "0"\ncurrency: USD\nstorage:\n'
        storage "$1"
        printf 'prices:\n  plugin: file\n  options:\n    path: prices.csv\n'
        printf 'policy:\n  plugin: fixed_weight\n  options:\n    weights:\n'
        printf '      "1": 0.5\n      "2": 0.3\n'
    } >"$1.yaml"
}
price() { printf 'ticker,price\nAAA,%s\n' "$1" >prices.csv; }

run() { # run NAME ARGS...: capalloc on ledger NAME, fail on non-zero
    local n=$1
    shift
    "$BIN" --config "$n.yaml" "$@" >out 2>err || {
        fail "$n: capalloc $* exited $?: $(cat err)"
        return 1
    }
}

# build NAME: the ledger, by every write path
build() {
    local n=$1
    config "$n"
    printf 'portfolio_id,ticker,quantity\n1,AAA,100\n' >positions.csv
    price 10.00
    run "$n" capital add 100000 --ref inv-1
    run "$n" capital add 100000 --ref inv-1 # a repeat: nothing written
    run "$n" capital withdraw 5000
    run "$n" positions import positions.csv
    printf 'date,portfolio_id,nav\n2025-02-27,1,900.00\n2025-02-28,1,950.00\n' >hist.csv
    run "$n" history import hist.csv
    run "$n" allocate --allow-past-date --date 2025-03-03
    price 12.00
    run "$n" allocate --allow-past-date --date 2025-03-04
    run "$n" allocate --allow-past-date --date 2025-03-04 --force
    run "$n" capital withdraw --queue 10000 --ref red-1
    run "$n" allocate --allow-past-date --date 2025-03-05
    [ "$(sql "$n" "SELECT state FROM capalloc_redemptions")" = PAID ] ||
        fail "$n: the queued redemption was not paid: $(sql "$n" "SELECT * FROM capalloc_redemptions")"
}

# expect_fail NAME WHAT PATTERN...: verify exits 10, stderr has each PATTERN
expect_fail() {
    local n=$1 what=$2 rc=0
    shift 2
    "$BIN" --config "$n.yaml" verify >out 2>err || rc=$?
    if [ "$rc" -ne 10 ]; then
        fail "$what: verify exited $rc, want 10: $(cat out err)"
        return
    fi
    for p in "$@"; do
        grep -qE -- "$p" err || fail "$what: no '$p' in: $(cat err)"
    done
}

# --- a sound ledger ---------------------------------------------------------
build base
run base verify
grep -q '^ledger verified: 9 runs, 15 trade rows (runs 1 to 9), 3 balances' out || fail "verify: $(cat out)"
grep -q 'chain starts at the ledger.s first run' out || fail "verify: $(cat out)"
run base --json verify
python3 -c '
import json
v = json.load(open("out"))
assert v["ok"] is True and v["runs"] == 9 and v["anchor"] is None, v
assert len(v["chain_head"]) == 64 and v["fund_total"] == "85000.00", v
' || fail "verify --json: $(cat out)"
head=$(sql base "SELECT run_hash FROM capalloc_runs ORDER BY run_id DESC LIMIT 1")
grep -q "$head" <(python3 -c 'import json; print(json.load(open("out"))["chain_head"])') ||
    fail "chain head is not the last run's hash $head"
# every run and row carries its hash; each run links to the one before
[ "$(sql base "SELECT count(*) FROM capalloc_runs WHERE run_hash IS NULL OR prev_hash IS NULL")" = 0 ] ||
    fail "a run without hashes"
[ "$(sql base "SELECT count(*) FROM trade_execution_logs WHERE row_hash IS NULL")" = 0 ] ||
    fail "a row without a hash"
[ "$(sql base "SELECT count(*) FROM capalloc_runs r JOIN capalloc_runs p
      ON p.run_id = r.run_id - 1 WHERE r.prev_hash <> p.run_hash")" = 0 ] ||
    fail "a run does not link to the run before it"

# ids of the rows and runs the tampering aims at (the same in every copy)
alloc=$(sql base "SELECT run_id FROM capalloc_runs WHERE action = 'ALLOCATE' ORDER BY run_id LIMIT 1")
first_log=$(sql base "SELECT min(log_id) FROM trade_execution_logs WHERE run_id = $alloc")
last_log=$(sql base "SELECT max(log_id) FROM trade_execution_logs WHERE run_id = $alloc")
[ $((last_log - first_log)) -ge 2 ] || fail "allocation run $alloc has too few rows"
mid_log=$((first_log + 1))
wd=$(sql base "SELECT run_id FROM capalloc_runs WHERE action = 'WITHDRAW' ORDER BY run_id LIMIT 1")

# --- an edited amount ---------------------------------------------------------
build t1
sql t1 "UPDATE trade_execution_logs SET quantity = '1.00' WHERE log_id = $mid_log"
mid_pf=$(sql base "SELECT portfolio_id FROM trade_execution_logs WHERE log_id = $mid_log")
expect_fail t1 "an edited amount" "run $alloc " "log row $mid_log " "does not match its row hash" \
    "portfolio '$mid_pf': cash_equity_book holds [0-9]+\.[0-9]{2}, the journal replays to -?[0-9]+\.[0-9]{2} \(last moved by run [0-9]+"

# --- a deleted log row -----------------------------------------------------------
build t2
sql t2 "DELETE FROM trade_execution_logs WHERE log_id = $mid_log"
expect_fail t2 "a deleted log row" "run $alloc " "log row $((mid_log + 1)) " \
    "log ids jump from $first_log to $((mid_log + 1)) \(a row between them deleted"

# --- an inserted log row ---------------------------------------------------------
build t3
sql t3 "INSERT INTO trade_execution_logs (run_id, portfolio_id, ticker, side,
        quantity, arrival_price, exec_price, executed_at)
        VALUES ($alloc, '2', 'USD_CASH', 'BUY', '500.00', '1.00', '1.00',
        '2025-03-03T17:00:00.000Z')"
new_log=$(sql t3 "SELECT max(log_id) FROM trade_execution_logs")
expect_fail t3 "an inserted log row" "run $alloc " "log row $new_log " "inserted by hand"

# --- an edited cash balance -------------------------------------------------------
build t4
sql t4 "UPDATE cash_equity_book SET cash = '1.00' WHERE portfolio_id = '2'"
expect_fail t4 "an edited balance" "portfolio '2': cash_equity_book holds 1.00, the journal replays to [0-9]+\.[0-9]{2} \(last moved by run [0-9]+"

# --- an edited run field --------------------------------------------------------------
build t5
sql t5 "UPDATE capalloc_runs SET run_date = '2025-02-01' WHERE run_id = $alloc"
expect_fail t5 "an edited run" "run $alloc \(ALLOCATE 2025-02-01" "does not match its run_hash"

# --- a deleted run ------------------------------------------------------------------------
build t6
sql t6 "DELETE FROM trade_execution_logs WHERE run_id = $wd;
        DELETE FROM capalloc_runs WHERE run_id = $wd"
expect_fail t6 "a deleted run" "run $((wd + 1)) " "does not link to run $((wd - 1)) " \
    "a run between them was deleted"

# --- a run inserted by hand at the end: named, and no run is chained to it
build t7
sql t7 "INSERT INTO capalloc_runs (action, run_date, forced, created_at)
        VALUES ('ADD', NULL, 0, '2025-03-06T00:00:00.000Z')"
fake=$(sql t7 "SELECT max(run_id) FROM capalloc_runs")
expect_fail t7 "an inserted run" "run $fake \(ADD, " "carries no valid hash"
rc=0
"$BIN" --config t7.yaml capital add 1 >out 2>err || rc=$?
[ "$rc" -eq 7 ] && grep -q "run $fake, the ledger's latest, carries no hash" err ||
    fail "a write after an inserted run: exit $rc $(cat err)"

# --- the newest run deleted with its rows, the balance set back by hand: the
# chain alone cannot see its tail cut off; against the head and the run
# count kept elsewhere (verify --json) it can
build t8
c0=$(sql t8 "SELECT cash FROM cash_equity_book WHERE portfolio_id = '0'")
run t8 capital add 777
run t8 --json verify
kept_head=$(python3 -c 'import json; print(json.load(open("out"))["chain_head"])')
kept_runs=$(python3 -c 'import json; print(json.load(open("out"))["runs"])')
[ "$kept_runs" = 10 ] || fail "runs kept: $kept_runs"
run t8 verify --expect-head "$kept_head" --expect-runs "$kept_runs"
grep -q "^chain head: $kept_head (10 runs)" out &&
    grep -q "^the head recorded elsewhere is run 10 of the chain" out ||
    fail "verify --expect-head on a sound ledger: $(cat out)"
last=$(sql t8 "SELECT max(run_id) FROM capalloc_runs")
sql t8 "DELETE FROM trade_execution_logs WHERE run_id = $last;
        DELETE FROM capalloc_runs WHERE run_id = $last;
        UPDATE cash_equity_book SET cash = '$c0' WHERE portfolio_id = '0'"
run t8 verify # what the chain alone sees: nothing
n=t8
"$BIN" --config t8.yaml verify --expect-head "$kept_head" >out 2>err && rc=0 || rc=$?
[ "$rc" -eq 10 ] && grep -q "no run of the chain carries the head recorded elsewhere (${kept_head:0:16}...)" err &&
    grep -q "it ends at run $((last - 1))," err ||
    fail "a truncated tail against the head kept: exit $rc $(cat out err)"
"$BIN" --config t8.yaml verify --expect-runs "$kept_runs" >out 2>err && rc=0 || rc=$?
[ "$rc" -eq 10 ] && grep -q "the chain holds 9 runs, 10 were recorded elsewhere: 1 run at its end deleted (it ends at run $((last - 1)))" err ||
    fail "a truncated tail against the run count kept: exit $rc $(cat out err)"
for bad in "${kept_head^^}" 1234 "${kept_head:1}"; do
    "$BIN" --config t8.yaml verify --expect-head "$bad" >out 2>err && rc=0 || rc=$?
    [ "$rc" -eq 2 ] || fail "--expect-head $bad: exit $rc, want 2"
done
"$BIN" --config t8.yaml verify --expect-runs -1 >out 2>err && rc=0 || rc=$?
[ "$rc" -eq 2 ] || fail "--expect-runs -1: exit $rc, want 2"

# --- runs and rows with run ids <= 0 (a ledger without an anchor reads them)
build t9
ov= # postgres: run_id is GENERATED ALWAYS
[ "$BACKEND" = postgres ] && ov="OVERRIDING SYSTEM VALUE"
sql t9 "INSERT INTO capalloc_runs (run_id, action, run_date, forced, created_at)
        $ov VALUES (0, 'ALLOCATE', '2025-03-10', 0, '2025-03-10T00:00:00.000Z');
        INSERT INTO capalloc_runs (run_id, action, run_date, forced, created_at)
        $ov VALUES (-5, 'ADD', NULL, 0, '2025-03-10T00:00:00.000Z');
        INSERT INTO trade_execution_logs (run_id, portfolio_id, ticker, side,
        quantity, arrival_price, exec_price, executed_at)
        VALUES (-5, '2', 'AAA', 'BUY', '5', '1.00', '1.00', '2025-03-10T00:00:00.000Z')"
neg_log=$(sql t9 "SELECT log_id FROM trade_execution_logs WHERE run_id = -5")
expect_fail t9 "runs 0 and -5" "run 0 \(ALLOCATE 2025-03-10, " "run -5 \(ADD, .*run ids start at 1" \
    "log row $neg_log \(portfolio '2', AAA BUY 5.00\) carries no row hash"

# --- an amount that is not a decimal: a fault named, not a storage error
build t10
case $BACKEND in
sqlite) badq=1e3 badc=abc ;;
postgres) badq=1.0000001 badc=NaN ;; # NUMERIC takes no '1e3' as text
esac
sql t10 "UPDATE trade_execution_logs SET quantity = '$badq' WHERE log_id = $mid_log"
expect_fail t10 "a quantity that is not a decimal" "run $alloc .*log row $mid_log \(portfolio '$mid_pf', " \
    "trade_execution_logs.quantity holds '$badq', not an exact decimal" \
    "does not verify: 1 fault$" # its run's net and its balance: unknown, not faults
build t11
sql t11 "UPDATE cash_equity_book SET cash = '$badc' WHERE portfolio_id = '2'"
expect_fail t11 "a balance that is not a decimal" "the ledger does not verify: reading the books, .*cash_equity_book.*'$badc'.*edited by hand"

# --- a hash in upper case: not what capalloc wrote
build t12
sql t12 "UPDATE capalloc_runs SET run_hash = upper(run_hash) WHERE run_id = (SELECT max(run_id) FROM capalloc_runs)"
expect_fail t12 "a run hash in upper case" "carries no valid hash"

# --- concurrent writers chain one after the other (the head is read under
# the write lock): 12 capital movements at once, then an allocation
config conc
run conc capital add 1000
pids=()
for i in $(seq 1 12); do
    "$BIN" --config conc.yaml capital add "$i" >/dev/null 2>"conc.err.$i" &
    pids+=($!)
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || fail "concurrent add $((i + 1)): exit $? $(cat "conc.err.$((i + 1))")"
done
run conc allocate --allow-past-date --date 2025-03-03
run conc verify
grep -q '^ledger verified: 14 runs, ' out || fail "concurrent writers: $(cat out)"

# --- many portfolios in one run (the replay's table grows mid-run) ---------
config big
{
    printf 'master_portfolio_id: "0"\ncurrency: USD\nstorage:\n'
    storage big
    printf 'prices:\n  plugin: file\n  options:\n    path: prices.csv\n'
    printf 'policy:\n  plugin: fixed_weight\n  options:\n    weights:\n'
    for i in $(seq 1 1500); do printf '      "s%04d": 0.0005\n' "$i"; done
} >big.yaml
run big capital add 1000000
run big allocate --allow-past-date --date 2025-03-03
run big verify
grep -q '^ledger verified: 2 runs, 3001 trade rows .*, 1501 balances' out ||
    fail "1,500 strategies: $(cat out)"

# --- a ledger of the first release, migrated -----------------------------------------------
config mig
case $BACKEND in
sqlite) sqlite3 "$vw/mig.db" <"$abs_top_srcdir/tests/fixtures/ledger-v1.sqlite.sql" ;;
postgres)
    psql -X -v ON_ERROR_STOP=1 -q -c "CREATE SCHEMA mig"
    PGOPTIONS="-c search_path=mig" psql -X -v ON_ERROR_STOP=1 -q \
        -f "$abs_top_srcdir/tests/fixtures/ledger-v1.postgres.sql"
    ;;
esac
run mig verify
grep -q '^ledger verified: 0 runs' out && grep -q 'chain starts after run 5 ' out ||
    fail "migrated ledger: $(cat out)"
price 10.00
run mig capital add 10
run mig capital withdraw 5
run mig verify
grep -q '^ledger verified: 2 runs, 2 trade rows (runs 6 to 7)' out &&
    grep -q 'chain starts after run 5 ' out || fail "migrated ledger, then written: $(cat out)"
sql mig "UPDATE cash_equity_book SET cash = '69999.00' WHERE portfolio_id = '0'"
expect_fail mig "a migrated ledger's balance edited" "portfolio '0': cash_equity_book holds 69999.00, the journal replays to 70004.99"

# --- a negative balance in the anchor (and the books), never replayed
config mig2
case $BACKEND in
sqlite) sqlite3 "$vw/mig2.db" <"$abs_top_srcdir/tests/fixtures/ledger-v1.sqlite.sql" ;;
postgres)
    psql -X -v ON_ERROR_STOP=1 -q -c "CREATE SCHEMA mig2"
    PGOPTIONS="-c search_path=mig2" psql -X -v ON_ERROR_STOP=1 -q \
        -f "$abs_top_srcdir/tests/fixtures/ledger-v1.postgres.sql"
    ;;
esac
run mig2 verify # migrates it
sql mig2 "UPDATE capalloc_chain_anchor_cash SET cash = '-5.00' WHERE portfolio_id = '1';
          UPDATE cash_equity_book SET cash = '-5.00' WHERE portfolio_id = '1'"
expect_fail mig2 "a negative anchored balance" "portfolio '1': the chain's anchor holds a negative balance -5.00" \
    "portfolio '1': cash_equity_book holds a negative balance -5.00"

# --- a migrated ledger: a row of a run before the anchor written after the
# migration (log id above the anchor's) is named; the anchor's time and
# highest log id are in its hash (the first chained run links to it)
config mig3
case $BACKEND in
sqlite) sqlite3 "$vw/mig3.db" <"$abs_top_srcdir/tests/fixtures/ledger-v1.sqlite.sql" ;;
postgres)
    psql -X -v ON_ERROR_STOP=1 -q -c "CREATE SCHEMA mig3"
    PGOPTIONS="-c search_path=mig3" psql -X -v ON_ERROR_STOP=1 -q \
        -f "$abs_top_srcdir/tests/fixtures/ledger-v1.postgres.sql"
    ;;
esac
run mig3 capital add 10 # migrates it, then a chained run
run mig3 verify
sql mig3 "INSERT INTO trade_execution_logs (run_id, portfolio_id, ticker, side,
          quantity, arrival_price, exec_price, executed_at)
          VALUES (3, '1', 'AAA', 'BUY', '7', '1.00', '1.00', '2025-03-10T00:00:00.000Z')"
late=$(sql mig3 "SELECT max(log_id) FROM trade_execution_logs")
expect_fail mig3 "a row of a run before the anchor, written after it" \
    "log row $late \(portfolio '1', AAA BUY 7.00\) belongs to run 3, before the chain's anchor, but was written after the migration"
sql mig3 "DELETE FROM trade_execution_logs WHERE log_id = $late"
run mig3 verify
sql mig3 "UPDATE capalloc_chain_anchor SET created_at = '2020-01-01T00:00:00.000Z'"
expect_fail mig3 "the anchor's time edited" "the first of the chain, does not link to the chain's anchor"
# a run inserted by hand before the anchor (run ids up to the anchor's
# are not replayed): the anchor recorded how many there were
ov=
[ "$BACKEND" = postgres ] && ov="OVERRIDING SYSTEM VALUE"
sql mig3 "INSERT INTO capalloc_runs (run_id, action, run_date, forced, created_at)
          $ov VALUES (0, 'ALLOCATE', '2025-01-05', 0, '2025-01-05T00:00:00.000Z')"
expect_fail mig3 "a run inserted before the anchor" \
    "the ledger holds 6 runs up to run 5, the chain's anchor recorded 5 at the migration: a run before the anchor was inserted by hand"

if [ "$failures" -eq 0 ]; then
    echo "PASS: capalloc verify on $BACKEND"
    exit 0
fi
echo "$failures check(s) FAILED on $BACKEND" >&2
exit 1
