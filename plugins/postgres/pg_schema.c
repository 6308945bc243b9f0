/*
 * pg_schema.c - the ledger's versioned schema in PostgreSQL.
 *
 * capalloc_schema_version holds one row per applied step (version,
 * applied_at, what). MIGRATIONS is a list of steps keyed by version: step N
 * takes a ledger from N-1 to N. On connect, when the ledger is behind, every
 * missing step runs in order in ONE transaction that first takes
 * pg_advisory_xact_lock(PGP_MIGRATE_CLASS, <schema>) and then reads the
 * version again: two processes opening a new database at once cannot both
 * create it, and a failed step leaves nothing. A ledger newer than the last
 * step is refused untouched; tables of ours without a version table are
 * refused too (someone else's tables).
 *
 * Every amount, price and quantity is NUMERIC (exact; sent and read as
 * text). To change the schema: append a step; never edit what a shipped
 * one does. Table names are written {S}.name and qualified with the
 * ledger's schema when the step runs (pgp_qualify): no step depends on the
 * session's search_path (step 1 was written unqualified before the plugin
 * became pooler-safe; qualifying it changed no table it creates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

typedef struct migration {
    int version;
    const char *what;
    const char *sql; /* constant text, {S} for the schema */
} migration;

static const migration MIGRATIONS[] = {
    {1, "create the ledger tables",
     "CREATE TABLE {S}.cash_equity_book ("
     "  portfolio_id TEXT PRIMARY KEY,"
     "  currency     TEXT NOT NULL,"
     "  cash         NUMERIC NOT NULL,"
     "  updated_at   TIMESTAMPTZ NOT NULL"
     ");"
     "CREATE TABLE {S}.positions_book ("
     "  portfolio_id TEXT NOT NULL,"
     "  ticker       TEXT NOT NULL,"
     "  quantity     NUMERIC NOT NULL,"
     "  updated_at   TIMESTAMPTZ NOT NULL,"
     "  PRIMARY KEY (portfolio_id, ticker)"
     ");"
     "CREATE TABLE {S}.capalloc_runs ("
     "  run_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  action     TEXT NOT NULL"
     "             CHECK (action IN ('ADD','WITHDRAW','ALLOCATE','IMPORT')),"
     "  run_date   DATE,"
     "  forced     SMALLINT NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),"
     "  created_at TIMESTAMPTZ NOT NULL,"
     "  CHECK (action <> 'ALLOCATE' OR run_date IS NOT NULL)"
     ");"
     /* The guard that makes two allocators for one date impossible, across
      * every process sharing the database: */
     "CREATE UNIQUE INDEX capalloc_runs_one_allocation_per_date"
     "  ON {S}.capalloc_runs (run_date) WHERE action = 'ALLOCATE' AND forced = 0;"
     "CREATE INDEX capalloc_runs_allocations"
     "  ON {S}.capalloc_runs (run_date, run_id) WHERE action = 'ALLOCATE';"
     "CREATE TABLE {S}.trade_execution_logs ("
     "  log_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  run_id        BIGINT NOT NULL REFERENCES {S}.capalloc_runs (run_id),"
     "  portfolio_id  TEXT NOT NULL,"
     "  ticker        TEXT NOT NULL,"
     "  side          TEXT NOT NULL CHECK (side IN ('BUY','SELL')),"
     "  quantity      NUMERIC NOT NULL,"
     "  arrival_price NUMERIC NOT NULL,"
     "  exec_price    NUMERIC NOT NULL,"
     "  executed_at   TIMESTAMPTZ NOT NULL"
     ");"
     "CREATE INDEX trade_execution_logs_by_run"
     "  ON {S}.trade_execution_logs (run_id);"},
    /* ABI 1.1, the fund's memory: each run's record (valuations, prices)
     * next to its transfers. Imported rows keep only nav and transfer (the
     * flow); their other amounts are NULL. */
    {2, "record each run: valuations and prices",
     "ALTER TABLE {S}.capalloc_runs ADD COLUMN capalloc_version TEXT,"
     "  ADD COLUMN detail TEXT;" /* JSON, stored as given */
     "CREATE TABLE {S}.capalloc_valuations ("
     "  run_id          BIGINT NOT NULL REFERENCES {S}.capalloc_runs (run_id),"
     "  valuation_date  DATE NOT NULL,"
     "  portfolio_id    TEXT NOT NULL,"
     "  is_master       SMALLINT NOT NULL CHECK (is_master IN (0, 1)),"
     "  imported        SMALLINT NOT NULL CHECK (imported IN (0, 1)),"
     "  cash            NUMERIC,"
     "  positions_value NUMERIC,"
     "  nav             NUMERIC NOT NULL,"
     "  weight          NUMERIC,"
     "  target          NUMERIC,"
     "  transfer        NUMERIC NOT NULL,"
     "  shortfall       NUMERIC,"
     "  PRIMARY KEY (run_id, valuation_date, portfolio_id)"
     ");"
     "CREATE INDEX capalloc_valuations_by_date"
     "  ON {S}.capalloc_valuations (valuation_date);"
     /* A date of a strategy is imported once (write() names the row): */
     "CREATE UNIQUE INDEX capalloc_valuations_imported_once"
     "  ON {S}.capalloc_valuations (portfolio_id, valuation_date)"
     "  WHERE imported = 1;"
     "CREATE TABLE {S}.capalloc_run_prices ("
     "  run_id BIGINT NOT NULL REFERENCES {S}.capalloc_runs (run_id),"
     "  ticker TEXT NOT NULL,"
     "  price  NUMERIC NOT NULL,"
     "  as_of  BIGINT NOT NULL," /* Unix seconds, 0 if unknown */
     "  stale  SMALLINT NOT NULL CHECK (stale IN (0, 1)),"
     "  PRIMARY KEY (run_id, ticker)"
     ");"},
    /* write() stores a random token with each run; when the connection is
     * lost during COMMIT, the plugin reconnects (to the new primary after a
     * failover) and looks the token up to learn whether the run was
     * applied. Runs written before this step have none (NULL). */
    {3, "a token per run, to resolve a commit in doubt",
     "ALTER TABLE {S}.capalloc_runs ADD COLUMN run_token TEXT;"
     "CREATE UNIQUE INDEX capalloc_runs_token"
     "  ON {S}.capalloc_runs (run_token);"},
    /* ABI 1.2, idempotent capital movements: the investor-side reference
     * of an ADD or WITHDRAW, once per ledger. The unique index is the
     * guard; the core's look-up only tells a repeat from a conflict. */
    {4, "capital movements keep their reference",
     "ALTER TABLE {S}.capalloc_runs ADD COLUMN reference TEXT"
     "  CHECK (reference IS NULL OR action IN ('ADD','WITHDRAW'));"
     "CREATE UNIQUE INDEX capalloc_runs_reference_once"
     "  ON {S}.capalloc_runs (reference) WHERE reference IS NOT NULL;"
     /* Queued redemptions: paid by the allocation runs, oldest first. */
     "CREATE TABLE {S}.capalloc_redemptions ("
     "  redemption_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  amount     NUMERIC NOT NULL CHECK (amount > 0),"
     "  paid       NUMERIC NOT NULL CHECK (paid >= 0 AND paid <= amount),"
     "  state      TEXT NOT NULL"
     "             CHECK (state IN ('QUEUED','PAID','CANCELLED')),"
     "  reference  TEXT UNIQUE,"
     "  queued_at  TIMESTAMPTZ NOT NULL,"
     "  updated_at TIMESTAMPTZ NOT NULL"
     ");"},
    /* ABI 1.3, a ledger that checks itself: the hash chain the core
     * computes (core/chain.h), stored as hex text. A ledger that already
     * has runs or balances is anchored: the balances now and the last run
     * before the chain (the highest log id and the number of runs then: a
     * row or run written later before it is named), from which `capalloc verify` replays (the core
     * hashes the anchor into the first chained run's prev_hash). */
    {5, "a hash chain over the runs and their rows",
     "ALTER TABLE {S}.capalloc_runs ADD COLUMN prev_hash TEXT,"
     "  ADD COLUMN run_hash TEXT;"
     "ALTER TABLE {S}.trade_execution_logs ADD COLUMN row_hash TEXT;"
     "CREATE TABLE {S}.capalloc_chain_anchor ("
     "  anchor_id    SMALLINT PRIMARY KEY CHECK (anchor_id = 1),"
     "  after_run_id BIGINT NOT NULL,"
     "  created_at   TIMESTAMPTZ NOT NULL,"
     "  after_log_id BIGINT NOT NULL,"
     "  runs_before  BIGINT NOT NULL"
     ");"
     "CREATE TABLE {S}.capalloc_chain_anchor_cash ("
     "  portfolio_id TEXT PRIMARY KEY,"
     "  cash         NUMERIC NOT NULL"
     ");"
     "INSERT INTO {S}.capalloc_chain_anchor (anchor_id, after_run_id,"
     "  created_at, after_log_id, runs_before)"
     "  SELECT 1, coalesce((SELECT max(run_id) FROM {S}.capalloc_runs), 0),"
     "  now(),"
     "  coalesce((SELECT max(log_id) FROM {S}.trade_execution_logs), 0),"
     "  (SELECT count(*) FROM {S}.capalloc_runs)"
     "  WHERE EXISTS (SELECT 1 FROM {S}.capalloc_runs)"
     "     OR EXISTS (SELECT 1 FROM {S}.cash_equity_book);"
     "INSERT INTO {S}.capalloc_chain_anchor_cash (portfolio_id, cash)"
     "  SELECT portfolio_id, cash FROM {S}.cash_equity_book"
     "  WHERE EXISTS (SELECT 1 FROM {S}.capalloc_chain_anchor);"},
    /* ABI 1.3, runs that move cash outside the daily allocation: a run's
     * kind (RUN, DEPLOY: an ADD spread over the strategies at once,
     * REVERSE: a correction mirroring an earlier run) and the run a
     * reversal reverses, once (the unique index is the guard). The date's
     * allocation is the RUN of that date: the guard (also write()'s ON
     * CONFLICT arbiter) and find_run's index ignore the other kinds. */
    {6, "run kinds: deployments and reversals",
     "ALTER TABLE {S}.capalloc_runs"
     "  ADD COLUMN kind TEXT NOT NULL DEFAULT 'RUN'"
     "  CHECK (kind IN ('RUN','DEPLOY','REVERSE')),"
     "  ADD COLUMN reverses BIGINT REFERENCES {S}.capalloc_runs (run_id),"
     "  ADD CONSTRAINT capalloc_runs_reverses_kind"
     "  CHECK ((reverses IS NULL) = (kind <> 'REVERSE'));"
     "CREATE UNIQUE INDEX capalloc_runs_reversed_once"
     "  ON {S}.capalloc_runs (reverses) WHERE reverses IS NOT NULL;"
     "DROP INDEX {S}.capalloc_runs_one_allocation_per_date;"
     "CREATE UNIQUE INDEX capalloc_runs_one_allocation_per_date"
     "  ON {S}.capalloc_runs (run_date)"
     "  WHERE action = 'ALLOCATE' AND forced = 0 AND kind = 'RUN';"
     "DROP INDEX {S}.capalloc_runs_allocations;"
     "CREATE INDEX capalloc_runs_allocations"
     "  ON {S}.capalloc_runs (run_date, run_id)"
     "  WHERE action = 'ALLOCATE' AND kind = 'RUN';"},
    /* ABI 1.3, the ledger's change stamp (ledger_stamp): one row, bumped
     * once per statement - by any writer - that inserts, updates, deletes
     * or truncates the books, the runs, the recorded valuations (the
     * policies' history) or the queued redemptions. BEFORE the statement:
     * a writer waits on the row a run holds (ledger_stamp in a write
     * transaction reads it FOR UPDATE) before it touches any book.
     * ENABLE ALWAYS: a logical-replication apply worker
     * (session_replication_role = replica) bumps it too. */
    {7, "the ledger's change stamp",
     "CREATE TABLE {S}.capalloc_ledger_stamp ("
     "  id INTEGER PRIMARY KEY CHECK (id = 1),"
     "  n  BIGINT NOT NULL"
     ");"
     "INSERT INTO {S}.capalloc_ledger_stamp (id, n) VALUES (1, 0);"
     "CREATE FUNCTION {S}.capalloc_ledger_stamp_bump() RETURNS trigger"
     "  LANGUAGE plpgsql AS $$BEGIN"
     "  UPDATE {S}.capalloc_ledger_stamp SET n = n + 1 WHERE id = 1;"
     "  RETURN NULL; END$$;"
     "CREATE TRIGGER capalloc_ledger_stamp BEFORE INSERT OR UPDATE OR"
     "  DELETE OR TRUNCATE ON {S}.cash_equity_book FOR EACH STATEMENT"
     "  EXECUTE FUNCTION {S}.capalloc_ledger_stamp_bump();"
     "CREATE TRIGGER capalloc_ledger_stamp BEFORE INSERT OR UPDATE OR"
     "  DELETE OR TRUNCATE ON {S}.positions_book FOR EACH STATEMENT"
     "  EXECUTE FUNCTION {S}.capalloc_ledger_stamp_bump();"
     "CREATE TRIGGER capalloc_ledger_stamp BEFORE INSERT OR UPDATE OR"
     "  DELETE OR TRUNCATE ON {S}.capalloc_runs FOR EACH STATEMENT"
     "  EXECUTE FUNCTION {S}.capalloc_ledger_stamp_bump();"
     "CREATE TRIGGER capalloc_ledger_stamp BEFORE INSERT OR UPDATE OR"
     "  DELETE OR TRUNCATE ON {S}.capalloc_valuations FOR EACH STATEMENT"
     "  EXECUTE FUNCTION {S}.capalloc_ledger_stamp_bump();"
     "CREATE TRIGGER capalloc_ledger_stamp BEFORE INSERT OR UPDATE OR"
     "  DELETE OR TRUNCATE ON {S}.capalloc_redemptions FOR EACH STATEMENT"
     "  EXECUTE FUNCTION {S}.capalloc_ledger_stamp_bump();"
     "ALTER TABLE {S}.cash_equity_book"
     "  ENABLE ALWAYS TRIGGER capalloc_ledger_stamp;"
     "ALTER TABLE {S}.positions_book"
     "  ENABLE ALWAYS TRIGGER capalloc_ledger_stamp;"
     "ALTER TABLE {S}.capalloc_runs"
     "  ENABLE ALWAYS TRIGGER capalloc_ledger_stamp;"
     "ALTER TABLE {S}.capalloc_valuations"
     "  ENABLE ALWAYS TRIGGER capalloc_ledger_stamp;"
     "ALTER TABLE {S}.capalloc_redemptions"
     "  ENABLE ALWAYS TRIGGER capalloc_ledger_stamp;"
    },
};

#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])
#define SCHEMA_LATEST (MIGRATIONS[N_MIGRATIONS - 1].version)

/* The ledger's version (0: no version table) and how many of our tables
 * exist in its schema without one. $1 is the schema's name. */
static const char SQL_STATE[] =
    "SELECT CASE WHEN to_regclass(quote_ident($1)"
    "  || '.capalloc_schema_version') IS NULL THEN -1 ELSE 0 END,"
    " (SELECT count(*) FROM pg_tables WHERE schemaname = $1"
    "   AND tablename IN ('cash_equity_book', 'positions_book',"
    "   'capalloc_runs', 'trade_execution_logs', 'capalloc_valuations',"
    "   'capalloc_run_prices'))";
static const char SQL_VERSION[] =
    "SELECT coalesce(max(version), 0) FROM {S}.capalloc_schema_version";
/* SQL_STATE and SQL_VERSION in one query, with the schema's existence:
 * the version table is read through query_to_xml() only when it exists
 * (a CASE branch; the function is volatile, so never run ahead). */
const char pgp_sql_connect_state[] =
    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),"
    " CASE WHEN to_regclass(quote_ident($1)"
    "  || '.capalloc_schema_version') IS NULL THEN -1"
    " ELSE (xpath('/row/v/text()', query_to_xml(format('SELECT"
    "  coalesce(max(version), 0) AS v FROM %I.capalloc_schema_version',"
    "  $1), false, true, '')))[1]::text::bigint END,"
    " (SELECT count(*) FROM pg_tables WHERE schemaname = $1"
    "   AND tablename IN ('cash_equity_book', 'positions_book',"
    "   'capalloc_runs', 'trade_execution_logs', 'capalloc_valuations',"
    "   'capalloc_run_prices'))";

/* pgp_exec() of a {S} template. */
static PGresult *exec_q(pgp *s, const char *tmpl, int n,
                        const char *const *values)
{
    char *sql = pgp_qualify(s, tmpl);
    if (sql == NULL)
        return PQmakeEmptyPGresult(s->conn, PGRES_FATAL_ERROR);
    PGresult *res = pgp_exec(s, sql, n, values);
    free(sql);
    return res;
}

static capalloc_status read_version(pgp *s, long *version, long *n_tables,
                                    capalloc_err *err)
{
    const char *v[1] = {s->schema};
    PGresult *res = pgp_exec(s, SQL_STATE, 1, v);
    if (!pgp_ok(res) || PQntuples(res) != 1)
        return pgp_fail(s, res, err, "reading the ledger's schema version");
    long has = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    *n_tables = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    *version = 0;
    if (has < 0)
        return CAPALLOC_OK;
    res = exec_q(s, SQL_VERSION, 0, NULL);
    if (!pgp_ok(res) || PQntuples(res) != 1)
        return pgp_fail(s, res, err, "reading the ledger's schema version");
    *version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CAPALLOC_OK;
}

static capalloc_status check_version(pgp *s, long version, long n_tables,
                                     int *need, capalloc_err *err)
{
    *need = 0;
    if (version > SCHEMA_LATEST) {
        s->host->set_error(err, "schema",
                           "the ledger in %s has schema version %ld, but this "
                           "postgres plugin knows versions up to %d: use a "
                           "newer capalloc (the ledger was not changed)",
                           s->where, version, SCHEMA_LATEST);
        return CAPALLOC_ERR_INVALID;
    }
    if (version == 0 && n_tables > 0) {
        s->host->set_error(err, "schema",
                           "%s has %ld table%s named like capalloc's but no "
                           "capalloc_schema_version: not a capalloc ledger; "
                           "use another database or schema (nothing was "
                           "changed)",
                           s->where, n_tables, n_tables == 1 ? "" : "s");
        return CAPALLOC_ERR_INVALID;
    }
    *need = version < SCHEMA_LATEST;
    return CAPALLOC_OK;
}

static capalloc_status migrate_locked(pgp *s, capalloc_err *err)
{
    long version = 0, n_tables = 0;
    int need = 0;
    capalloc_status st = read_version(s, &version, &n_tables, err);
    if (st == CAPALLOC_OK)
        st = check_version(s, version, n_tables, &need, err);
    if (st != CAPALLOC_OK || !need)
        return st; /* or another process migrated it while we waited */

    PGresult *res = exec_q(s,
                             "CREATE TABLE IF NOT EXISTS {S}.capalloc_schema_version ("
                             "  version    INTEGER PRIMARY KEY,"
                             "  what       TEXT NOT NULL,"
                             "  applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                             0, NULL);
    if (!pgp_ok(res))
        return pgp_fail(s, res, err, "creating capalloc_schema_version");
    PQclear(res);
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        const migration *m = &MIGRATIONS[i];
        if (m->version <= version)
            continue;
        res = exec_q(s, m->sql, 0, NULL);
        if (!pgp_ok(res))
            return pgp_fail(s, res, err,
                            "migrating the ledger to schema version %d (%s)",
                            m->version, m->what);
        PQclear(res);
        char v[16];
        snprintf(v, sizeof v, "%d", m->version);
        const char *vals[2] = {v, m->what};
        res = exec_q(s,
                       "INSERT INTO {S}.capalloc_schema_version (version, what)"
                       " VALUES ($1::integer, $2)",
                       2, vals);
        if (!pgp_ok(res))
            return pgp_fail(s, res, err, "recording schema version %d",
                            m->version);
        PQclear(res);
    }
    s->host->log(s->host, CAPALLOC_LOG_INFO,
                 version == 0 ? "created the ledger in %s (schema version %d)"
                              : "migrated the ledger in %s to schema version "
                                "%d",
                 s->where, SCHEMA_LATEST);
    return CAPALLOC_OK;
}

capalloc_status pgp_schema_ensure(pgp *s, capalloc_err *err)
{
    /* Fast path, no lock: an up-to-date ledger needs one query (none
     * when connecting read the state already). */
    long version = 0, n_tables = 0;
    int need = 0;
    capalloc_status st = CAPALLOC_OK;
    if (s->pre_state) { /* as connecting read it */
        s->pre_state = 0;
        version = s->pre_version < 0 ? 0 : s->pre_version;
        n_tables = s->pre_tables;
    } else {
        st = read_version(s, &version, &n_tables, err);
    }
    if (st == CAPALLOC_OK)
        st = check_version(s, version, n_tables, &need, err);
    if (st != CAPALLOC_OK || !need)
        return st;

    char sql[400];
    snprintf(sql, sizeof sql,
             "BEGIN; %s; SELECT pg_advisory_xact_lock(1128353869, hashtext(%s))",
             s->sql_settings, s->schema_lit);
    PGresult *res = pgp_exec(s, sql, 0, NULL);
    if (!pgp_ok(res)) {
        st = pgp_fail(s, res, err,
                      "locking the ledger to create or migrate its schema");
    } else {
        PQclear(res);
        st = migrate_locked(s, err);
        if (st == CAPALLOC_OK) {
            res = pgp_exec(s, "COMMIT", 0, NULL);
            if (!pgp_ok(res) || strcmp(PQcmdStatus(res), "COMMIT") != 0)
                st = pgp_fail(s, res, err, "committing the schema");
            else
                PQclear(res);
        }
    }
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE &&
        PQstatus(s->conn) == CONNECTION_OK)
        PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
    return st;
}
