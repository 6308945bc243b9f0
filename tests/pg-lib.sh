# tests/pg-lib.sh - shared by the *.pgtest scripts (sourced, bash).
# Needs: abs_top_builddir, abs_top_srcdir (set by `make check`), the PG*
# variables and CAPALLOC_PG_DIR (set by `tests/pg-cluster run`).
set -euo pipefail

: "${abs_top_builddir:?run me through make check}"
: "${abs_top_srcdir:?run me through make check}"
: "${CAPALLOC_PG_DIR:?run me through tests/pg-cluster run}"

BIN=$abs_top_builddir/core/capalloc
PGCLUSTER=$abs_top_srcdir/tests/pg-cluster
work=$(mktemp -d "${TMPDIR:-/tmp}/capalloc-pgtest.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# psql_q SQL: one query, unaligned, no header. The server must be up.
psql_q() {
    psql -X -v ON_ERROR_STOP=1 -Atq -c "$1"
}

# make_fund DIR SCHEMA [EXTRA-STORAGE-OPTIONS]: a config on postgres in
# DIR (schema SCHEMA), weights 0.30/0.30/0.40, the demo prices.
make_fund() {
    local dir=$1 schema=$2 extra=${3:-}
    mkdir -p "$dir"
    cp "$abs_top_srcdir/examples/demo/prices.csv" "$dir/"
    cat >"$dir/capalloc.yaml" <<EOF
master_portfolio_id: "0"
currency: USD
storage:
  plugin: postgres
  options:
    schema: $schema
$extra
prices:
  plugin: file
  options:
    path: prices.csv
policy:
  plugin: fixed_weight
  options:
    weights:
      1: 0.30
      2: 0.30
      3: 0.40
EOF
}

# cap DIR ARGS...: run capalloc on DIR's config; stdout/stderr in
# DIR/out, DIR/err; returns its exit status.
cap() {
    local dir=$1
    shift
    "$BIN" --config "$dir/capalloc.yaml" "$@" >"$dir/out" 2>"$dir/err"
}

# The cash books of SCHEMA, "id=cash " sorted.
books() {
    psql_q "SELECT string_agg(portfolio_id || '=' || cash::text, ' '
            ORDER BY portfolio_id) FROM $1.cash_equity_book"
}

total_cash() {
    psql_q "SELECT coalesce(sum(cash), 0)::text FROM $1.cash_equity_book"
}

# "runs trades" of the ALLOCATE runs of date $2 in schema $1.
alloc_runs() {
    psql_q "SELECT count(DISTINCT r.run_id) || ' ' || count(t.log_id)
            FROM $1.capalloc_runs r
            LEFT JOIN $1.trade_execution_logs t ON t.run_id = r.run_id
            WHERE r.action = 'ALLOCATE' AND r.run_date = '$2'"
}

finish() {
    if [ "$failures" -eq 0 ]; then
        echo "PASS: all checks"
        exit 0
    fi
    echo "$failures check(s) FAILED" >&2
    exit 1
}
