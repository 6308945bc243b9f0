# tests/script-lib.sh - what the script tests' libraries share (sourced by
# memory-lib.sh, move-lib.sh, stack-lib.sh, verify-lib.sh and plan-lib.sh,
# each run on the backend named by BACKEND: sqlite or postgres, the latter
# inside tests/pg-cluster's throwaway cluster).
#   BIN                the built capalloc
#   fail MESSAGE       counts a failure (failures) and says it; the script
#                      reports the count and exits non-zero at its end
#   script_work NAME   a fresh folder $work (removed on exit), made current
#   script_ledger NAME the script's one ledger: $storage, the configuration's
#                      storage section (sqlite: $work/fund.db; postgres:
#                      schema NAME), and sql QUERY on it
set -euo pipefail
: "${BACKEND:?}"
BIN=${abs_top_builddir:?}/core/capalloc

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

script_work() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/capalloc-$1.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    cd "$work"
}

script_ledger() {
    ledger_schema=$1
    case $BACKEND in
    sqlite)
        storage="  plugin: sqlite
  options:
    path: $work/fund.db"
        sql() { sqlite3 "$work/fund.db" "$1"; }
        ;;
    postgres)
        storage="  plugin: postgres
  options:
    schema: $ledger_schema"
        sql() {
            psql -X -v ON_ERROR_STOP=1 -Atq \
                -c "SET search_path = $ledger_schema; $1"
        }
        ;;
    *) echo "unknown BACKEND $BACKEND" >&2; exit 1 ;;
    esac
}
