/*
 * sqlite_schema.c - the ledger's versioned schema.
 *
 * The schema version lives in the database header (PRAGMA user_version),
 * which SQLite changes inside the same transaction as the tables, so a
 * ledger is never half-migrated. PRAGMA application_id marks the file as a
 * capalloc ledger, so the plugin never writes its tables into another
 * program's database.
 *
 * MIGRATIONS is a list of steps keyed by version: step N takes a ledger from
 * version N-1 to N. On open, every step above the ledger's version runs, in
 * order, in one BEGIN IMMEDIATE transaction (so two processes opening a new
 * ledger at once cannot both create it). A ledger with a version newer than
 * the last step is refused untouched: an older capalloc must not write a
 * schema it does not understand.
 *
 * Amounts are TEXT (exact decimal text): TEXT affinity never turns a value
 * into a binary float, as REAL or NUMERIC affinity would.
 *
 * To change the schema: append a step {N+1, "...", "SQL"}; never edit a
 * step that has shipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

#define SQLP_APPLICATION_ID 0x4341504c /* "CAPL": a capalloc ledger */

typedef struct migration {
    int version;      /* the version this step produces */
    const char *what; /* for messages */
    const char *sql;  /* one or more statements; constant text only */
} migration;

static const migration MIGRATIONS[] = {
    {1, "create the ledger tables",
     "CREATE TABLE cash_equity_book ("
     "  portfolio_id TEXT PRIMARY KEY,"
     "  currency     TEXT NOT NULL,"
     "  cash         TEXT NOT NULL," /* exact decimal text */
     "  updated_at   TEXT NOT NULL"  /* ISO 8601 UTC */
     ");"
     "CREATE TABLE positions_book ("
     "  portfolio_id TEXT NOT NULL,"
     "  ticker       TEXT NOT NULL,"
     "  quantity     TEXT NOT NULL," /* exact decimal text */
     "  updated_at   TEXT NOT NULL,"
     "  PRIMARY KEY (portfolio_id, ticker)"
     ");"
     "CREATE TABLE capalloc_runs ("
     "  run_id     INTEGER PRIMARY KEY,"
     "  action     TEXT NOT NULL"
     "             CHECK (action IN ('ADD','WITHDRAW','ALLOCATE','IMPORT')),"
     "  run_date   TEXT,"
     "  forced     INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),"
     "  created_at TEXT NOT NULL,"
     "  CHECK (action <> 'ALLOCATE' OR run_date IS NOT NULL)"
     ");"
     /* The guard that makes two allocators for one date impossible: */
     "CREATE UNIQUE INDEX capalloc_runs_one_allocation_per_date"
     "  ON capalloc_runs (run_date) WHERE action = 'ALLOCATE' AND forced = 0;"
     /* find_run: the latest allocation of a date. */
     "CREATE INDEX capalloc_runs_allocations"
     "  ON capalloc_runs (run_date, run_id) WHERE action = 'ALLOCATE';"
     "CREATE TABLE trade_execution_logs ("
     "  log_id        INTEGER PRIMARY KEY,"
     "  run_id        INTEGER NOT NULL REFERENCES capalloc_runs (run_id),"
     "  portfolio_id  TEXT NOT NULL,"
     "  ticker        TEXT NOT NULL,"
     "  side          TEXT NOT NULL CHECK (side IN ('BUY','SELL')),"
     "  quantity      TEXT NOT NULL,"
     "  arrival_price TEXT NOT NULL,"
     "  exec_price    TEXT NOT NULL,"
     "  executed_at   TEXT NOT NULL"
     ");"
     "CREATE INDEX trade_execution_logs_by_run"
     "  ON trade_execution_logs (run_id);"},
    /* ABI 1.1, the fund's memory: each run's record (valuations, prices)
     * next to its transfers. Imported rows keep only nav and transfer (the
     * flow); their other amounts are NULL. WITHOUT ROWID: the primary key
     * is the table, not a second copy of every row in an index. */
    {2, "record each run: valuations and prices",
     "ALTER TABLE capalloc_runs ADD COLUMN capalloc_version TEXT;"
     "ALTER TABLE capalloc_runs ADD COLUMN detail TEXT;" /* JSON, as given */
     "CREATE TABLE capalloc_valuations ("
     "  run_id          INTEGER NOT NULL REFERENCES capalloc_runs (run_id),"
     "  valuation_date  TEXT NOT NULL CHECK (valuation_date GLOB"
     "                  '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),"
     "  portfolio_id    TEXT NOT NULL,"
     "  is_master       INTEGER NOT NULL CHECK (is_master IN (0, 1)),"
     "  imported        INTEGER NOT NULL CHECK (imported IN (0, 1)),"
     "  cash            TEXT," /* exact decimal text, all of them */
     "  positions_value TEXT,"
     "  nav             TEXT NOT NULL,"
     "  weight          TEXT,"
     "  target          TEXT,"
     "  transfer        TEXT NOT NULL,"
     "  shortfall       TEXT,"
     "  PRIMARY KEY (run_id, valuation_date, portfolio_id)"
     ") WITHOUT ROWID;"
     "CREATE INDEX capalloc_valuations_by_date"
     "  ON capalloc_valuations (valuation_date);"
     /* A date of a strategy is imported once: */
     "CREATE UNIQUE INDEX capalloc_valuations_imported_once"
     "  ON capalloc_valuations (portfolio_id, valuation_date)"
     "  WHERE imported = 1;"
     "CREATE TABLE capalloc_run_prices ("
     "  run_id INTEGER NOT NULL REFERENCES capalloc_runs (run_id),"
     "  ticker TEXT NOT NULL,"
     "  price  TEXT NOT NULL,"
     "  as_of  INTEGER NOT NULL," /* Unix seconds, 0 if unknown */
     "  stale  INTEGER NOT NULL CHECK (stale IN (0, 1)),"
     "  PRIMARY KEY (run_id, ticker)"
     ") WITHOUT ROWID;"},
    /* ABI 1.2, idempotent capital movements: the investor-side reference
     * of an ADD or WITHDRAW, once per ledger. The unique index is the
     * guard; the core's look-up only tells a repeat from a conflict. */
    {3, "capital movements keep their reference",
     "ALTER TABLE capalloc_runs ADD COLUMN reference TEXT"
     "  CHECK (reference IS NULL OR action IN ('ADD','WITHDRAW'));"
     "CREATE UNIQUE INDEX capalloc_runs_reference_once"
     "  ON capalloc_runs (reference) WHERE reference IS NOT NULL;"
     /* Queued redemptions: paid by the allocation runs, oldest first. */
     "CREATE TABLE capalloc_redemptions ("
     "  redemption_id INTEGER PRIMARY KEY,"
     "  amount     TEXT NOT NULL," /* exact decimal text */
     "  paid       TEXT NOT NULL,"
     "  state      TEXT NOT NULL"
     "             CHECK (state IN ('QUEUED','PAID','CANCELLED')),"
     "  reference  TEXT UNIQUE,"
     "  queued_at  TEXT NOT NULL,"
     "  updated_at TEXT NOT NULL"
     ");"},
    /* ABI 1.3, a ledger that checks itself: the hash chain the core
     * computes (core/chain.h), stored as hex text. A ledger that already
     * has runs or balances is anchored: the balances now and the last run
     * before the chain (the highest log id and the number of runs then: a
     * row or run written later before it is named), the point from which `capalloc verify` replays
     * (the core hashes the anchor into the first chained run's
     * prev_hash). */
    {4, "a hash chain over the runs and their rows",
     "ALTER TABLE capalloc_runs ADD COLUMN prev_hash TEXT;"
     "ALTER TABLE capalloc_runs ADD COLUMN run_hash TEXT;"
     "ALTER TABLE trade_execution_logs ADD COLUMN row_hash TEXT;"
     "CREATE TABLE capalloc_chain_anchor ("
     "  anchor_id    INTEGER PRIMARY KEY CHECK (anchor_id = 1),"
     "  after_run_id INTEGER NOT NULL,"
     "  created_at   TEXT NOT NULL,"
     "  after_log_id INTEGER NOT NULL,"
     "  runs_before  INTEGER NOT NULL"
     ");"
     "CREATE TABLE capalloc_chain_anchor_cash ("
     "  portfolio_id TEXT PRIMARY KEY,"
     "  cash         TEXT NOT NULL"
     ") WITHOUT ROWID;"
     "INSERT INTO capalloc_chain_anchor (anchor_id, after_run_id, created_at,"
     "  after_log_id, runs_before)"
     "  SELECT 1, coalesce((SELECT max(run_id) FROM capalloc_runs), 0),"
     "  strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
     "  coalesce((SELECT max(log_id) FROM trade_execution_logs), 0),"
     "  (SELECT count(*) FROM capalloc_runs)"
     "  WHERE EXISTS (SELECT 1 FROM capalloc_runs)"
     "     OR EXISTS (SELECT 1 FROM cash_equity_book);"
     "INSERT INTO capalloc_chain_anchor_cash (portfolio_id, cash)"
     "  SELECT portfolio_id, cash FROM cash_equity_book"
     "  WHERE EXISTS (SELECT 1 FROM capalloc_chain_anchor);"},
    /* ABI 1.3, runs that move cash outside the daily allocation: a run's
     * kind (RUN, DEPLOY: an ADD spread over the strategies at once,
     * REVERSE: a correction mirroring an earlier run) and the run a
     * reversal reverses, once (the unique index is the guard). The date's
     * allocation is the RUN of that date: the guard and find_run's index
     * are recreated to ignore the other kinds. */
    {5, "run kinds: deployments and reversals",
     "ALTER TABLE capalloc_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'RUN'"
     "  CHECK (kind IN ('RUN','DEPLOY','REVERSE'));"
     "ALTER TABLE capalloc_runs ADD COLUMN reverses INTEGER"
     "  REFERENCES capalloc_runs (run_id)"
     "  CHECK ((reverses IS NULL) = (kind <> 'REVERSE'));"
     "CREATE UNIQUE INDEX capalloc_runs_reversed_once"
     "  ON capalloc_runs (reverses) WHERE reverses IS NOT NULL;"
     "DROP INDEX capalloc_runs_one_allocation_per_date;"
     "CREATE UNIQUE INDEX capalloc_runs_one_allocation_per_date"
     "  ON capalloc_runs (run_date)"
     "  WHERE action = 'ALLOCATE' AND forced = 0 AND kind = 'RUN';"
     "DROP INDEX capalloc_runs_allocations;"
     "CREATE INDEX capalloc_runs_allocations"
     "  ON capalloc_runs (run_date, run_id)"
     "  WHERE action = 'ALLOCATE' AND kind = 'RUN';"},
    /* ABI 1.3, the ledger's change stamp (ledger_stamp): one row, bumped
     * by every row any writer inserts, updates or deletes in the books, the
     * runs, the recorded valuations (the policies' history) and the queued
     * redemptions (row triggers: SQLite has no statement triggers). A real
     * run reads it before its policy and again under the write lock: when
     * equal, nothing it read changed and it is not read again. */
    {6, "the ledger's change stamp",
     "CREATE TABLE capalloc_ledger_stamp ("
     "  id INTEGER PRIMARY KEY CHECK (id = 1),"
     "  n  INTEGER NOT NULL"
     ");"
     "INSERT INTO capalloc_ledger_stamp (id, n) VALUES (1, 0);"
     "CREATE TRIGGER capalloc_stamp_cash_insert AFTER INSERT ON cash_equity_book"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_cash_update AFTER UPDATE ON cash_equity_book"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_cash_delete AFTER DELETE ON cash_equity_book"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_pos_insert AFTER INSERT ON positions_book"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_pos_update AFTER UPDATE ON positions_book"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_pos_delete AFTER DELETE ON positions_book"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_runs_insert AFTER INSERT ON capalloc_runs"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_runs_update AFTER UPDATE ON capalloc_runs"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_runs_delete AFTER DELETE ON capalloc_runs"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_vals_insert AFTER INSERT ON capalloc_valuations"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_vals_update AFTER UPDATE ON capalloc_valuations"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_vals_delete AFTER DELETE ON capalloc_valuations"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_reds_insert AFTER INSERT ON capalloc_redemptions"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_reds_update AFTER UPDATE ON capalloc_redemptions"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
     "CREATE TRIGGER capalloc_stamp_reds_delete AFTER DELETE ON capalloc_redemptions"
     "  BEGIN UPDATE capalloc_ledger_stamp SET n = n + 1 WHERE id = 1; END;"
    },
};

#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])
#define SCHEMA_LATEST (MIGRATIONS[N_MIGRATIONS - 1].version)

/* One integer from a constant query. */
static capalloc_status query_int(sqlp *s, const char *sql, long long *out,
                                 capalloc_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(stmt, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    capalloc_status st = CAPALLOC_OK;
    if (rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc, "reading the ledger's schema (%s)", sql);
    sqlite3_finalize(stmt);
    return st;
}

typedef struct schema_state {
    long long version;
    long long app_id;
    long long n_tables; /* tables that are not SQLite's own */
} schema_state;

static capalloc_status read_state(sqlp *s, schema_state *ss, capalloc_err *err)
{
    capalloc_status st;
    if ((st = query_int(s, "PRAGMA user_version", &ss->version, err)) ||
        (st = query_int(s, "PRAGMA application_id", &ss->app_id, err)) ||
        (st = query_int(s,
                        "SELECT count(*) FROM sqlite_master WHERE type = "
                        "'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                        &ss->n_tables, err)))
        return st;
    return CAPALLOC_OK;
}

/* Whether the ledger can be used: CAPALLOC_OK with *need set when steps
 * must run, or a refusal. */
static capalloc_status check_state(sqlp *s, const schema_state *ss, int *need,
                                   capalloc_err *err)
{
    const capalloc_host *h = s->host;
    *need = 0;
    if (ss->app_id != 0 && ss->app_id != SQLP_APPLICATION_ID) {
        h->set_error(err, "path",
                     "%s is a SQLite database of another application "
                     "(application_id 0x%08llx), not a capalloc ledger; it "
                     "was not changed",
                     s->path, (unsigned long long)(uint32_t)ss->app_id);
        return CAPALLOC_ERR_INVALID;
    }
    if (ss->version > 0 && ss->app_id != SQLP_APPLICATION_ID) {
        /* every capalloc ledger is marked in the same step that gives it a
         * schema version: a version without the mark is someone else's */
        h->set_error(err, "path",
                     "%s is a SQLite database with user_version %lld but not "
                     "a capalloc ledger (no capalloc application_id); it was "
                     "not changed",
                     s->path, ss->version);
        return CAPALLOC_ERR_INVALID;
    }
    if (ss->version > SCHEMA_LATEST) {
        h->set_error(err, "path",
                     "ledger %s has schema version %lld, but this sqlite "
                     "plugin knows versions up to %d: use a newer capalloc "
                     "(the ledger was not changed)",
                     s->path, ss->version, SCHEMA_LATEST);
        return CAPALLOC_ERR_INVALID;
    }
    if (ss->version < 0) {
        h->set_error(err, "path",
                     "ledger %s has an invalid schema version %lld", s->path,
                     ss->version);
        return CAPALLOC_ERR_IO;
    }
    if (ss->version == 0 && ss->n_tables > 0) {
        h->set_error(err, "path",
                     "%s is a SQLite database with %lld table%s but no "
                     "capalloc schema version: not a capalloc ledger; point "
                     "'path' at a new file or an existing ledger (it was not "
                     "changed)",
                     s->path, ss->n_tables, ss->n_tables == 1 ? "" : "s");
        return CAPALLOC_ERR_INVALID;
    }
    *need = ss->version < SCHEMA_LATEST;
    return CAPALLOC_OK;
}

static capalloc_status exec(sqlp *s, const char *sql, capalloc_err *err,
                            const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sqlp_fail(s, err, rc, "%s", what);
    return CAPALLOC_OK;
}

static capalloc_status migrate_locked(sqlp *s, capalloc_err *err)
{
    schema_state ss = {0, 0, 0};
    int need = 0;
    capalloc_status st = read_state(s, &ss, err);
    if (st == CAPALLOC_OK)
        st = check_state(s, &ss, &need, err);
    if (st != CAPALLOC_OK || !need)
        return st; /* or another process migrated it meanwhile */

    char what[160];
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        const migration *m = &MIGRATIONS[i];
        if (m->version <= ss.version)
            continue;
        snprintf(what, sizeof what,
                 "migrating the ledger to schema version %d (%s)", m->version,
                 m->what);
        if ((st = exec(s, m->sql, err, what)) != CAPALLOC_OK)
            return st;
    }
    /* Integers from this file only: no user text reaches this SQL. */
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; "
             "PRAGMA application_id = %d;",
             SCHEMA_LATEST, SQLP_APPLICATION_ID);
    if ((st = exec(s, sql, err, "recording the schema version")) != CAPALLOC_OK)
        return st;
    if (ss.version == 0)
        s->host->log(s->host, CAPALLOC_LOG_INFO,
                     "created ledger %s (schema version %d)", s->path,
                     SCHEMA_LATEST);
    else
        s->host->log(s->host, CAPALLOC_LOG_INFO,
                     "migrated ledger %s from schema version %lld to %d",
                     s->path, ss.version, SCHEMA_LATEST);
    return CAPALLOC_OK;
}

capalloc_status sqlp_schema_ensure(sqlp *s, capalloc_err *err)
{
    /* Fast path, no lock: an up-to-date ledger needs nothing. */
    schema_state ss = {0, 0, 0};
    int need = 0;
    capalloc_status st = read_state(s, &ss, err);
    if (st == CAPALLOC_OK)
        st = check_state(s, &ss, &need, err);
    if (st != CAPALLOC_OK || !need)
        return st;

    /* Take the write lock, then look again: another process may have
     * created the schema while we waited. */
    if ((st = exec(s, "BEGIN IMMEDIATE", err, "locking the ledger to create "
                   "or migrate its schema")) != CAPALLOC_OK)
        return st;
    st = migrate_locked(s, err);
    if (st == CAPALLOC_OK)
        st = exec(s, "COMMIT", err, "committing the schema");
    if (st != CAPALLOC_OK && sqlp_txn_open(s))
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}
