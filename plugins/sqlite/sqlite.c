/*
 * sqlite.c - "sqlite", capalloc's embedded default storage backend.
 *
 * The ledger is one SQLite database file (option `path`), opened in WAL mode
 * with synchronous=FULL and foreign keys on. Amounts are stored as TEXT
 * holding exact decimal text (never REAL/NUMERIC affinity, which would turn
 * them into binary floats).
 *
 * Transactions: begin(WRITE) is BEGIN IMMEDIATE, which takes SQLite's one
 * write lock at once, so no other writer (this process or another) can
 * change a balance between the core's read and its write; when the lock is
 * not free within busy_timeout_ms, begin() returns CAPALLOC_ERR_BUSY.
 * begin(READ) is a deferred BEGIN: WAL readers see one consistent snapshot
 * and never block the writer.
 *
 * This file: the descriptor, options, the connection, transactions, the
 * prepared-statement cache and the mapping of SQLite errors to statuses.
 * See sqlite_int.h for the other files.
 *
 *   YAML:  storage: {plugin: sqlite, options: {path: fund.db}}
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

#define SQLP_VERSION "1.1.0"

static const capalloc_option_spec sqlp_options[] = {
    {"path", CAPALLOC_OPT_PATH, 0, "capalloc.db",
     "the ledger database file (created with its schema on first use)"},
    {"busy_timeout_ms", CAPALLOC_OPT_INT, 0, "30000",
     "how long to wait for another writer's lock before giving up (ms, >= 0)"},
    {NULL, 0, 0, NULL, NULL}};

/* ------------------------------------------------------------------------ */
/* statements                                                                */
/* ------------------------------------------------------------------------ */

/* The columns of a valuation, in the order sqlite_record.c reads them. */
#define SQLP_VALUATION_COLUMNS                                               \
    "run_id, portfolio_id, valuation_date, is_master, imported, cash,"      \
    " positions_value, nav, weight, target, transfer, shortfall"
/* read_history's bounds but the lower one (see SQ_READ_HISTORY). */
#define SQLP_HISTORY_UPPER                                                   \
    " AND valuation_date < coalesce(?2, '~')"                                \
    " AND valuation_date <= coalesce(?3, '~')"                               \
    " AND (?4 IS NULL OR portfolio_id = ?4 OR is_master = 1)"                \
    " AND (?5 OR is_master = 0)"

static const char *const SQL[SQ_COUNT] = {
    [SQ_BEGIN_READ] = "BEGIN",
    [SQ_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    /* No ORDER BY: the core sorts what it looks up (an ordered read of
     * positions_book walks its index and looks every row up). */
    [SQ_READ_CASH] =
        "SELECT portfolio_id, currency, cash FROM cash_equity_book",
    [SQ_READ_POSITIONS] =
        "SELECT portfolio_id, ticker, quantity FROM positions_book",
    [SQ_READ_BOOK] =
        "SELECT portfolio_id, currency, cash FROM cash_equity_book"
        " WHERE portfolio_id = ?1",
    [SQ_FIND_RUN] =
        "SELECT r.run_id, r.run_date, r.created_at,"
        " (SELECT count(*) FROM trade_execution_logs t"
        "   WHERE t.run_id = r.run_id)"
        " FROM capalloc_runs r"
        " WHERE r.action = 'ALLOCATE' AND r.kind = 'RUN' AND r.run_date = ?1"
        " ORDER BY r.run_id DESC LIMIT 1",
    [SQ_INSERT_RUN] =
        "INSERT INTO capalloc_runs (action, run_date, forced, created_at,"
        " capalloc_version, detail, reference, prev_hash, run_hash, kind,"
        " reverses)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* A movement's reference: its run and its one cash trade. */
    [SQ_FIND_REF] =
        "SELECT r.run_id, r.action, t.quantity, r.created_at"
        " FROM capalloc_runs r JOIN trade_execution_logs t"
        "   ON t.run_id = r.run_id"
        " WHERE r.reference = ?1 ORDER BY t.log_id LIMIT 1",
    [SQ_INSERT_TRADE] =
        "INSERT INTO trade_execution_logs (run_id, portfolio_id, ticker, side,"
        " quantity, arrival_price, exec_price, executed_at, row_hash)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* A book keeps the currency it was opened in: the WHERE makes the
     * update a no-op (0 changes) when the currencies differ, and write()
     * refuses the batch. */
    [SQ_UPSERT_CASH] =
        "INSERT INTO cash_equity_book (portfolio_id, currency, cash, updated_at)"
        " VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (portfolio_id) DO UPDATE"
        " SET cash = excluded.cash, updated_at = excluded.updated_at"
        " WHERE cash_equity_book.currency = excluded.currency",
    [SQ_UPSERT_POSITION] =
        "INSERT INTO positions_book (portfolio_id, ticker, quantity, updated_at)"
        " VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (portfolio_id, ticker) DO UPDATE"
        " SET quantity = excluded.quantity, updated_at = excluded.updated_at",
    [SQ_DELETE_POSITION] =
        "DELETE FROM positions_book WHERE portfolio_id = ?1 AND ticker = ?2",
    /* The run's record (ABI 1.1), see sqlite_record.c. */
    [SQ_INSERT_VALUATION] =
        "INSERT INTO capalloc_valuations (run_id, valuation_date,"
        " portfolio_id, is_master, imported, cash, positions_value, nav,"
        " weight, target, transfer, shortfall)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [SQ_INSERT_PRICE] =
        "INSERT INTO capalloc_run_prices (run_id, ticker, price, as_of, stale)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* Every bound is optional (NULL): '' sorts before and '~' after every
     * date (the table's CHECK keeps them YYYY-MM-DD), so an absent bound
     * is always true. ?6 > 0 keeps the latest ?6 distinct dates the other
     * bounds select: those on or after the ?6-th latest, which becomes
     * the lower bound - one range on valuation_date, which its index
     * serves. */
    [SQ_READ_HISTORY] =
        /* ABI 1.3: each row's run kind and links, from the few runs that
         * are not plain allocations or were reversed (every other row's
         * are NULL: a RUN, not reversed) */
        "WITH k AS (SELECT r.run_id, r.kind, r.reverses,"
        "  (SELECT x.run_id FROM capalloc_runs x WHERE x.reverses = r.run_id)"
        "  AS reversed_by FROM capalloc_runs r"
        "  WHERE r.kind <> 'RUN' OR r.run_id IN (SELECT y.reverses"
        "   FROM capalloc_runs y WHERE y.reverses IS NOT NULL))"
        " SELECT h.*, k.kind, k.reverses, k.reversed_by FROM ("
        " SELECT " SQLP_VALUATION_COLUMNS " FROM capalloc_valuations"
        " WHERE valuation_date >= max(coalesce(?1, ''), CASE WHEN ?6 = 0"
        "  THEN '' ELSE coalesce((SELECT min(d) FROM"
        "  (SELECT DISTINCT valuation_date AS d FROM capalloc_valuations"
        "   WHERE valuation_date >= coalesce(?1, '')" SQLP_HISTORY_UPPER
        "   ORDER BY d DESC LIMIT ?6)), '~') END)" SQLP_HISTORY_UPPER
        ") AS h LEFT JOIN k ON k.run_id = h.run_id",
    [SQ_READ_RUN] =
        "SELECT r.run_id, r.run_date, r.created_at,"
        " (SELECT count(*) FROM trade_execution_logs t"
        "   WHERE t.run_id = r.run_id),"
        " r.action, r.forced, r.capalloc_version, r.detail,"
        " r.kind, r.reverses,"
        " (SELECT x.run_id FROM capalloc_runs x WHERE x.reverses = r.run_id)"
        " FROM capalloc_runs r WHERE r.run_id = ?1",
    [SQ_RUN_VALUATIONS] =
        "SELECT " SQLP_VALUATION_COLUMNS " FROM capalloc_valuations"
        " WHERE run_id = ?1 ORDER BY portfolio_id, valuation_date",
    [SQ_RUN_PRICES] =
        "SELECT ticker, price, as_of, stale FROM capalloc_run_prices"
        " WHERE run_id = ?1 ORDER BY ticker",
    [SQ_READ_REDEMPTIONS] =
        "SELECT redemption_id, state, amount, paid, reference, queued_at,"
        " updated_at FROM capalloc_redemptions"
        " WHERE ?1 = 0 OR state = 'QUEUED' ORDER BY redemption_id",
    [SQ_INSERT_REDEMPTION] =
        "INSERT INTO capalloc_redemptions (amount, paid, state, reference,"
        " queued_at, updated_at) VALUES (?1, '0', 'QUEUED', ?2, ?3, ?3)",
    [SQ_UPDATE_REDEMPTION] =
        "UPDATE capalloc_redemptions SET paid = ?2, state = ?3,"
        " updated_at = ?4 WHERE redemption_id = ?1",
    [SQ_READ_REDEMPTION] =
        "SELECT redemption_id, state, amount, paid, reference, queued_at,"
        " updated_at FROM capalloc_redemptions WHERE redemption_id = ?1",
    /* The hash chain (ABI 1.3), see sqlite_chain.c. */
    [SQ_CHAIN_HEAD] =
        "SELECT run_id, run_hash FROM capalloc_runs"
        " ORDER BY run_id DESC LIMIT 1",
    [SQ_CHAIN_ANCHOR] =
        "SELECT after_run_id, created_at, after_log_id, runs_before,"
        " (SELECT count(*) FROM capalloc_runs r"
        "  WHERE r.run_id <= a.after_run_id)"
        " FROM capalloc_chain_anchor a",
    [SQ_CHAIN_ANCHOR_CASH] =
        "SELECT portfolio_id, cash FROM capalloc_chain_anchor_cash",
    /* The journal: runs and rows, two cursors merged by run id; the rows
     * in (run_id, log_id) order straight from their index, no sort. */
    [SQ_JOURNAL_RUNS] =
        "SELECT run_id, action, coalesce(run_date, ''), forced, created_at,"
        " reference, prev_hash, run_hash, kind, reverses FROM capalloc_runs"
        " WHERE run_id > ?1 ORDER BY run_id",
    [SQ_JOURNAL_ROWS] =
        "SELECT log_id, run_id, portfolio_id, ticker, side, quantity,"
        " arrival_price, exec_price, row_hash FROM trade_execution_logs"
        " WHERE run_id > ?1 ORDER BY run_id, log_id",
    /* rows of the runs before the anchor written after it (by hand): a
     * range of the rowid (the rows since the migration), few to sort */
    [SQ_JOURNAL_LATE] =
        "SELECT log_id, run_id, portfolio_id, ticker, side, quantity,"
        " arrival_price, exec_price, row_hash FROM trade_execution_logs"
        " WHERE log_id > (SELECT after_log_id FROM capalloc_chain_anchor)"
        " AND run_id <= ?1 ORDER BY run_id, log_id",
    [SQ_LEDGER_STAMP] = "SELECT n FROM capalloc_ledger_stamp WHERE id = 1",
#define POS1 "(?,?,?,?)"
#define POS2 POS1 "," POS1
#define POS4 POS2 "," POS2
#define POS8 POS4 "," POS4
#define POS16 POS8 "," POS8
#define POS32 POS16 "," POS16
#define POS64 POS32 "," POS32
    [SQ_UPSERT_POSITIONS_N] =
        "INSERT INTO positions_book (portfolio_id, ticker, quantity, updated_at)"
        " VALUES " POS64
        " ON CONFLICT (portfolio_id, ticker) DO UPDATE"
        " SET quantity = excluded.quantity, updated_at = excluded.updated_at",
#undef POS1
#undef POS2
#undef POS4
#undef POS8
#undef POS16
#undef POS32
#undef POS64
};
_Static_assert(SQLP_POS_ROWS == 64, "SQ_UPSERT_POSITIONS_N has 64 rows");

capalloc_status sqlp_prepare(sqlp *s, sqlp_stmt_id id, sqlite3_stmt **out,
                             capalloc_err *err)
{
    *out = NULL;
    if (id < 0 || id >= SQ_COUNT) {
        s->host->set_error(err, NULL, "sqlite: unknown statement %d", (int)id);
        return CAPALLOC_ERR_INTERNAL;
    }
    if (s->stmt[id] == NULL) {
        int rc = sqlite3_prepare_v3(s->db, SQL[id], -1,
                                    SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
                                    NULL);
        if (rc != SQLITE_OK) {
            capalloc_status st =
                sqlp_fail(s, err, rc, "preparing \"%.60s\"", SQL[id]);
            sqlite3_finalize(s->stmt[id]);
            s->stmt[id] = NULL;
            return st;
        }
    }
    *out = s->stmt[id];
    return CAPALLOC_OK;
}

void sqlp_reset(sqlite3_stmt *stmt)
{
    if (stmt != NULL) {
        /* The return value repeats the last step's error, already handled. */
        (void)sqlite3_reset(stmt);
        (void)sqlite3_clear_bindings(stmt);
    }
}

/* ------------------------------------------------------------------------ */
/* errors                                                                    */
/* ------------------------------------------------------------------------ */

capalloc_status sqlp_fail(sqlp *s, capalloc_err *err, int rc,
                          const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
        if (rc == SQLITE_BUSY_SNAPSHOT) {
            /* A read snapshot went stale under a concurrent writer: the
             * core rolls back and re-runs from a fresh read. */
            s->host->set_error(err, NULL, "%s: %s (ledger %s)", what, msg,
                               s->path);
            return CAPALLOC_ERR_RETRY;
        }
        /* fall through */
    case SQLITE_LOCKED:
        s->host->set_error(err, NULL,
                           "ledger %s is locked by another writer (waited %d "
                           "ms) while %s",
                           s->path, s->busy_ms, what);
        return CAPALLOC_ERR_BUSY;
    case SQLITE_NOMEM:
        s->host->set_error(err, NULL, "%s: out of memory (ledger %s)", what,
                           s->path);
        return CAPALLOC_ERR_NOMEM;
    default:
        s->host->set_error(err, NULL, "%s: %s (ledger %s)", what, msg, s->path);
        return CAPALLOC_ERR_IO;
    }
}

int sqlp_txn_open(const sqlp *s)
{
    return s->db != NULL && !sqlite3_get_autocommit(s->db);
}

/* ------------------------------------------------------------------------ */
/* transactions                                                              */
/* ------------------------------------------------------------------------ */

/* Step a statement that returns no rows: SQLITE_OK or the error. */
static int step_once(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static capalloc_status sqlp_begin(void *state, capalloc_txn_mode mode,
                                  capalloc_err *err)
{
    sqlp *s = state;
    const capalloc_host *h = s->host;
    if (mode != CAPALLOC_TXN_READ && mode != CAPALLOC_TXN_WRITE) {
        h->set_error(err, NULL, "begin(): unknown transaction mode %d",
                     (int)mode);
        return CAPALLOC_ERR_INTERNAL;
    }
    if (sqlp_txn_open(s)) {
        h->set_error(err, NULL,
                     "begin() called while a transaction is open on ledger %s",
                     s->path);
        return CAPALLOC_ERR_INTERNAL;
    }
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(
        s, mode == CAPALLOC_TXN_WRITE ? SQ_BEGIN_WRITE : SQ_BEGIN_READ, &stmt,
        err);
    if (st != CAPALLOC_OK)
        return st;
    int rc = step_once(stmt);
    if (rc != SQLITE_OK) {
        if (mode == CAPALLOC_TXN_WRITE &&
            ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)) {
            h->set_error(err, NULL,
                         "ledger %s is locked by another writer (waited %d ms)",
                         s->path, s->busy_ms);
            st = CAPALLOC_ERR_BUSY;
        } else {
            st = sqlp_fail(s, err, rc, "starting a %s transaction",
                           mode == CAPALLOC_TXN_WRITE ? "write" : "read");
        }
        sqlp_reset(stmt);
        return st;
    }
    sqlp_reset(stmt);
    s->txn = mode == CAPALLOC_TXN_WRITE ? SQLP_TXN_WRITE : SQLP_TXN_READ;
    return CAPALLOC_OK;
}

/* Statements run since the last call (SQLITE_STMTSTATUS_RUN of every cached
 * statement, reset as it is read), logged at debug level (capalloc -vv) at
 * the end of each transaction so the benchmark can compare backends. */
static void log_statements(sqlp *s, const char *how)
{
    long n = 0;
    for (int i = 0; i < SQ_COUNT; i++)
        if (s->stmt[i] != NULL)
            n += sqlite3_stmt_status(s->stmt[i], SQLITE_STMTSTATUS_RUN, 1);
    s->host->log(s->host, CAPALLOC_LOG_DEBUG, "transaction %s: %ld statements",
                 how, n);
}

static capalloc_status sqlp_commit(void *state, capalloc_err *err)
{
    sqlp *s = state;
    if (!sqlp_txn_open(s)) {
        int had = s->txn != SQLP_TXN_NONE;
        s->txn = SQLP_TXN_NONE;
        if (had) {
            /* SQLite ends a transaction on its own after some errors
             * (SQLITE_FULL, SQLITE_IOERR, ...): nothing of it was kept. */
            s->host->set_error(err, NULL,
                               "cannot commit: SQLite already rolled the "
                               "transaction back after an earlier error "
                               "(ledger %s)",
                               s->path);
            return CAPALLOC_ERR_IO;
        }
        s->host->set_error(err, NULL,
                           "commit() called with no transaction open "
                           "(ledger %s)",
                           s->path);
        return CAPALLOC_ERR_INTERNAL;
    }
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_COMMIT, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    int rc = step_once(stmt);
    if (rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc, "committing (rolled back, nothing written)");
    sqlp_reset(stmt);
    if (!sqlp_txn_open(s))
        s->txn = SQLP_TXN_NONE;
    log_statements(s, st == CAPALLOC_OK ? "committed" : "failed to commit");
    return st;
}

static capalloc_status sqlp_rollback(void *state, capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = CAPALLOC_OK;
    if (sqlp_txn_open(s)) {
        sqlite3_stmt *stmt;
        st = sqlp_prepare(s, SQ_ROLLBACK, &stmt, err);
        if (st == CAPALLOC_OK) {
            int rc = step_once(stmt);
            if (rc != SQLITE_OK)
                st = sqlp_fail(s, err, rc, "rolling back");
            sqlp_reset(stmt);
        }
    }
    if (!sqlp_txn_open(s))
        s->txn = SQLP_TXN_NONE;
    log_statements(s, "rolled back");
    return st;
}

/* ------------------------------------------------------------------------ */
/* create / destroy                                                          */
/* ------------------------------------------------------------------------ */

static void sqlp_free(sqlp *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    /* Every statement is finalized; closing with a transaction open rolls
     * it back. */
    if (s->db != NULL)
        sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

/* Run a setup pragma that may answer one row; its first column, if any, is
 * copied into out (may be NULL). */
static capalloc_status setup_pragma(sqlp *s, const char *sql, char *out,
                                    size_t out_len, capalloc_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            if (out != NULL) {
                const unsigned char *t = sqlite3_column_text(stmt, 0);
                snprintf(out, out_len, "%s", t ? (const char *)t : "");
            }
            rc = SQLITE_DONE;
            while (sqlite3_step(stmt) == SQLITE_ROW)
                ;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    capalloc_status st = CAPALLOC_OK;
    if (rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc, "setting up the ledger (%s)", sql);
    sqlite3_finalize(stmt);
    return st;
}

static capalloc_status sqlp_create(const capalloc_host *host,
                                   const capalloc_options *opts, void **state,
                                   capalloc_err *err)
{
    const char *path = NULL;
    int64_t busy = 0;
    capalloc_status st;

    *state = NULL;
    if (!host->opt_string(opts, "path", &path) || path == NULL ||
        *path == '\0') {
        host->set_error(err, "path", "no ledger file given (option 'path')");
        return CAPALLOC_ERR_INVALID;
    }
    if (!host->opt_int(opts, "busy_timeout_ms", &busy))
        busy = 30000;
    if (busy < 0 || busy > INT_MAX) {
        host->set_error(err, "busy_timeout_ms",
                        "busy_timeout_ms is %lld: it must be between 0 and %d "
                        "(milliseconds)",
                        (long long)busy, INT_MAX);
        return CAPALLOC_ERR_INVALID;
    }

    sqlp *s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->busy_ms = (int)busy;

    /* No SQLITE_OPEN_URI: the path is a file name, never a URI.
     * SQLITE_OPEN_NOMUTEX: the connection belongs to this instance, used by
     * one thread at a time (the core's), so SQLite need not lock its mutex
     * around every call (two per column of a million rows). */
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        host->set_error(err, "path", "cannot open ledger %s: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sqlp_free(s);
        return rc == SQLITE_NOMEM ? CAPALLOC_ERR_NOMEM : CAPALLOC_ERR_IO;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, s->busy_ms);

    /* The schema first: a file that is not a capalloc ledger must be
     * refused before anything (even the journal mode) changes in it. */
    if ((st = sqlp_schema_ensure(s, err)) != CAPALLOC_OK) {
        sqlp_free(s);
        return st;
    }

    char mode[32] = "";
    if ((st = setup_pragma(s, "PRAGMA journal_mode=WAL", mode, sizeof mode,
                           err)) != CAPALLOC_OK ||
        (st = setup_pragma(s, "PRAGMA synchronous=FULL", NULL, 0, err)) !=
            CAPALLOC_OK ||
        (st = setup_pragma(s, "PRAGMA foreign_keys=ON", NULL, 0, err)) !=
            CAPALLOC_OK) {
        sqlp_free(s);
        return st;
    }
    if (strcmp(mode, "wal") != 0)
        host->log(host, CAPALLOC_LOG_WARNING,
                  "ledger %s: journal mode is '%s', not 'wal' (is the file "
                  "on a file system without shared memory?); readers will "
                  "block the writer",
                  path, mode);

    host->log(host, CAPALLOC_LOG_DEBUG,
              "opened ledger %s (SQLite %s, journal %s, busy timeout %d ms)",
              path, sqlite3_libversion(), mode, s->busy_ms);
    *state = s;
    return CAPALLOC_OK;
}

static void sqlp_destroy(void *state)
{
    sqlp_free(state);
}

/* ------------------------------------------------------------------------ */
/* descriptor                                                                */
/* ------------------------------------------------------------------------ */

static const capalloc_storage_plugin sqlite_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_STORAGE, capalloc_storage_plugin,
                         "sqlite", SQLP_VERSION,
                         "embedded SQLite ledger in one file (default backend)",
                         sqlp_options, sqlp_create, sqlp_destroy),
    sqlp_begin,
    sqlp_commit,
    sqlp_rollback,
    sqlp_read_ledger,
    sqlp_find_run,
    sqlp_write,
    sqlp_read_history,
    sqlp_read_run,
    sqlp_read_books,
    sqlp_find_reference,
    sqlp_read_redemptions,
    sqlp_redemption_op,
    sqlp_chain_head,
    sqlp_read_anchor,
    sqlp_read_journal,
    sqlp_ledger_stamp,
};

CAPALLOC_PLUGIN_DEFINE(sqlite_plugin)
