/*
 * pg_int.h - what the files of the postgres storage plugin share.
 *
 * Private to plugins/postgres/: never installed, never included by the core.
 *   postgres.c   descriptor, options, the connection, transactions, the
 *                round-trip counter and the mapping of errors to statuses
 *   pg_schema.c  the versioned schema and its migrations
 *   pg_ledger.c  read_ledger, find_run and write
 *   pg_record.c  the run's record (ABI 1.1): read_history and read_run
 * Shared functions are hidden so the plugin exports exactly one symbol.
 *
 * Pooler safety (PgBouncer in transaction mode hands each transaction to
 * whichever server connection is free): nothing a transaction relies on is
 * session state. Every setting is made inside the transaction it is for
 * (SET LOCAL, in begin()'s round trip), every table name is qualified with
 * the ledger's schema (resolved once at create(): the `schema` option, or
 * the server's current_schema() when it is empty), the writer lock is keyed
 * on that schema's name, and statements are unnamed (no prepared statement,
 * LISTEN, session advisory lock or temporary table outlives a
 * transaction). SQL is written with the placeholder {S} for the quoted
 * schema and expanded once by pgp_qualify().
 *
 * Secrets: the conninfo option may hold a password. It is parsed
 * (PQconninfoParse) before connecting, so a malformed conninfo fails with a
 * fixed message, never libpq's (which quotes the text); messages name the
 * database as PQdb/PQhost/PQport report it, and every libpq or server
 * message goes through pgp_clean_msg(), which masks the password.
 */
#ifndef CAPALLOC_PG_INT_H
#define CAPALLOC_PG_INT_H

#include <libpq-fe.h>

#include "capalloc_plugin.h"

#if defined(__GNUC__)
#define PGP_HIDDEN __attribute__((visibility("hidden")))
#else
#define PGP_HIDDEN
#endif

/* pg_advisory_xact_lock(PGP_LOCK_CLASS, hashtext('<schema>')) is the
 * ledger's writer lock; PGP_MIGRATE_CLASS the schema-migration lock.
 * "CAP1"/"CAPM". The key is the schema's name as configured, never
 * current_schema() (which, behind a pooler, is another session's). */
#define PGP_LOCK_CLASS 1128353841
#define PGP_MIGRATE_CLASS 1128353869

typedef enum pgp_txn {
    PGP_TXN_NONE = 0,
    PGP_TXN_READ,
    PGP_TXN_WRITE
} pgp_txn;

/* TEST ONLY: the points where test_pause_ms sleeps (test_pause_at), all in
 * a write transaction: after begin() took the lock; after read_ledger();
 * after write(), before COMMIT; after a successful COMMIT. */
typedef enum pgp_pause_at {
    PGP_PAUSE_BEGIN = 0,
    PGP_PAUSE_READ,
    PGP_PAUSE_WRITE,
    PGP_PAUSE_COMMIT
} pgp_pause_at;

/* The statements of pg_ledger.c, qualified for the ledger's schema at
 * create() (pgp_ledger_prepare). */
typedef enum pgp_stmt {
    PGP_SQL_CASH = 0,
    PGP_SQL_CASH_LOCK,
    PGP_SQL_POSITIONS,
    PGP_SQL_BOOKS,
    PGP_SQL_BOOKS_LOCK,
    PGP_SQL_FIND_RUN,
    PGP_SQL_WRITE,
    PGP_SQL_HISTORY,
    PGP_SQL_RUN,
    PGP_SQL_FIND_TOKEN,
    PGP_SQL_FIND_REF,
    PGP_SQL_READ_RED,
    PGP_SQL_INSERT_RED,
    PGP_SQL_UPDATE_RED,
    PGP_SQL_READ_RED_ONE,
    PGP_SQL_CHAIN_HEAD,
    PGP_SQL_ANCHOR,
    PGP_SQL_ANCHOR_CASH,
    PGP_SQL_JOURNAL,
    PGP_SQL_STAMP,
    PGP_SQL_STAMP_LOCK,
    PGP_SQL_COPY_POSITIONS,
    PGP_SQL_N
} pgp_stmt;

typedef struct pgp {
    const capalloc_host *host;
    PGconn *conn;
    char where[256];      /* "database 'x' on host:port, schema 's'" */
    char *schema;         /* the ledger's schema: the option, or the
                             server's current_schema() when it is empty */
    char *schema_ident;   /* schema quoted as an identifier: "s" */
    char *schema_lit;     /* schema quoted as a literal: 's' */
    char *sql_begin[2];   /* [0] read, [1] write: BEGIN + SET LOCAL (+ lock) */
    char sql_settings[160]; /* "SET LOCAL lock_timeout = ..; SET LOCAL
                               idle_in_transaction_session_timeout = ..":
                               after every BEGIN, in the same round trip */
    char *sql[PGP_SQL_N];
    /* The ledger's schema state as the connection's first query saw it
     * (pgp_sql_connect_state), for pgp_schema_ensure's fast path: set
     * when pre_state is 1 (used once). */
    int pre_state;
    long pre_version, pre_tables;
    char *password;       /* parsed from conninfo, only to mask it in
                             messages (pgp_clean_msg); NULL: none */
    char *conninfo;       /* as configured, to connect again after a lost
                             COMMIT (wiped when freed) */
    char connect_timeout[24]; /* seconds, as text for libpq */
    int64_t failover_wait_ms; /* how long to try to reach a primary to
                                 resolve a commit in doubt; 0: do not */
    char run_token[33];   /* the token of the run write() put in the open
                             transaction (32 hex digits); "" when none */
    int lock_timeout_ms;
    int64_t test_pause_ms; /* test only: sleep this long at test_pause_at */
    pgp_pause_at test_pause_at;
    char *test_pause_until; /* test only: the pause ends when this file
                               exists; NULL: it lasts test_pause_ms */
    int64_t idle_in_txn_ms; /* idle_in_transaction_session_timeout; 0 off */
    pgp_txn txn;
    int aborted;          /* a statement failed in the open transaction and
                             it was rolled back at once (pgp_end_aborted):
                             every call but rollback() is refused */
    /* Round trips to the server (one PQexec* each), for the debug log and
     * the benchmark: in the current transaction and since create(). */
    long txn_trips;
    long total_trips;
} pgp;

/* One statement with text parameters (NULL = SQL NULL), counted as one
 * round trip. Returns the result (never NULL: a NULL from libpq becomes a
 * fatal error result the caller handles like any). The caller PQclear()s. */
PGP_HIDDEN PGresult *pgp_exec(pgp *s, const char *sql, int n,
                              const char *const *values);

/* A libpq or server message made fit for a capalloc message: on one line,
 * and every occurrence of the password (conninfo's, or the one libpq
 * used) replaced by "***". */
PGP_HIDDEN void pgp_clean_msg(const pgp *s, char *msg, size_t len);

/* TEST ONLY: sleep test_pause_ms if at is test_pause_at and a write
 * transaction is open, after logging "test_pause_at <at>: pausing"; with
 * test_pause_until, stop sleeping as soon as that file exists. */
PGP_HIDDEN void pgp_test_pause(pgp *s, pgp_pause_at at);

/* A statement failed inside a transaction: end it at once (ROLLBACK) and
 * mark it aborted. At the error the server put back every SET LOCAL of the
 * transaction, so the session's own idle_in_transaction_session_timeout -
 * behind a pooler another client's, e.g. 1 ms - would govern the aborted
 * transaction until the core's rollback() arrives, and could drop the
 * connection first. No-op unless the server reports a failed transaction
 * and nothing is pending; pgp_fail() and pgp_stream() call it. */
PGP_HIDDEN void pgp_end_aborted(pgp *s);

/* Whether res succeeded (COMMAND_OK or TUPLES_OK). */
PGP_HIDDEN int pgp_ok(const PGresult *res);

/* Turn a failed result into a status and a message:
 * "<what>: <server message> (<where>)". SQLSTATE 40001/40P01 -> RETRY,
 * 55P03 (lock_timeout) -> BUSY, 53200 -> NOMEM, a lost connection -> IO
 * saying so, anything else -> IO. Clears res. */
PGP_HIDDEN capalloc_status pgp_fail(pgp *s, PGresult *res, capalloc_err *err,
                                    const char *fmt, ...)
    CAPALLOC_PRINTF(4, 5);

/* tmpl with every "{S}" replaced by the quoted schema (s->schema_ident).
 * Returns a malloc'd string, or NULL when out of memory. */
PGP_HIDDEN char *pgp_qualify(const pgp *s, const char *tmpl);

/* pg_schema.c */
PGP_HIDDEN capalloc_status pgp_schema_ensure(pgp *s, capalloc_err *err);
/* One query ($1: the schema's name): whether the schema exists, the
 * ledger's schema version (-1: no version table) and how many of our
 * tables it holds - what connecting needs, in one round trip. */
PGP_HIDDEN extern const char pgp_sql_connect_state[];

/* pg_ledger.c */
/* CAPALLOC_OK when a transaction (a write one when write) is open; else
 * fills err naming call. */
PGP_HIDDEN capalloc_status pgp_need_txn(pgp *s, int write, const char *call,
                                        capalloc_err *err);
/* Parse a stored decimal; when it does not parse, fill err naming the
 * ledger, table, row and column, and return CAPALLOC_ERR_IO. */
PGP_HIDDEN capalloc_status pgp_parse_stored(pgp *s, const char *text,
                                            capalloc_dec *out,
                                            capalloc_err *err,
                                            const char *table,
                                            const char *row,
                                            const char *column);
/* Run sql with n text parameters in single-row mode (memory does not grow
 * with the result), calling fn(s, res, r, ctx, err) per row until it
 * returns non-OK. One round trip. On failure every pending result is
 * drained. */
typedef capalloc_status (*pgp_row_fn)(pgp *s, const PGresult *res, int r,
                                      const void *ctx, capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_stream(pgp *s, const char *sql, int n,
                                      const char *const *values,
                                      pgp_row_fn fn, const void *ctx,
                                      capalloc_err *err, const char *what);
/* Build s->sql[] for the ledger's schema. */
PGP_HIDDEN capalloc_status pgp_ledger_prepare(pgp *s, capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_read_books(void *state,
                                          const char *const *ids, size_t n,
                                          const capalloc_ledger_sink *sink,
                                          capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_read_ledger(void *state,
                                           const capalloc_ledger_sink *sink,
                                           capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_find_run(void *state, const char *run_date,
                                        capalloc_run_info *info, int *found,
                                        capalloc_err *err);
/* pg_flows.c: queued redemptions (ABI 1.2). */
PGP_HIDDEN extern const char pgp_sql_read_redemptions[];
PGP_HIDDEN extern const char pgp_sql_insert_redemption[];
PGP_HIDDEN extern const char pgp_sql_update_redemption[];
PGP_HIDDEN extern const char pgp_sql_read_redemption[];
/* pg_ledger.c: ledger_stamp (ABI 1.3). */
PGP_HIDDEN capalloc_status pgp_ledger_stamp(void *state, int64_t *stamp,
                                            capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_read_redemptions(
    void *state, int open_only,
    capalloc_status (*fn)(void *ctx, const capalloc_redemption *r), void *ctx,
    capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_redemption_op(void *state,
                                             const capalloc_redemption_op *op,
                                             int64_t *id_out,
                                             capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_find_reference(void *state,
                                              const char *reference,
                                              capalloc_capital_ref *out,
                                              int *found, capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_write(void *state,
                                     const capalloc_write_batch *batch,
                                     capalloc_err *err);

/* pg_chain.c: the hash chain (ABI 1.3). */
PGP_HIDDEN extern const char pgp_sql_chain_head[];
PGP_HIDDEN extern const char pgp_sql_anchor[];
PGP_HIDDEN extern const char pgp_sql_anchor_cash[];
PGP_HIDDEN extern const char pgp_sql_journal[];
PGP_HIDDEN capalloc_status pgp_chain_head(void *state, capalloc_chain_head *out,
                                          capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_read_anchor(void *state,
                                           const capalloc_journal_sink *sink,
                                           int *found, capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_read_journal(void *state, int64_t after_run_id,
                                            const capalloc_journal_sink *sink,
                                            capalloc_err *err);

/* pg_record.c: the run's record (ABI 1.1); the SQL templates of
 * PGP_SQL_HISTORY and PGP_SQL_RUN. */
PGP_HIDDEN extern const char pgp_sql_history[];
PGP_HIDDEN extern const char pgp_sql_run[];
PGP_HIDDEN capalloc_status pgp_read_history(void *state,
                                            const capalloc_history_query *q,
                                            const capalloc_record_sink *sink,
                                            capalloc_err *err);
PGP_HIDDEN capalloc_status pgp_read_run(void *state, int64_t run_id,
                                        const capalloc_record_sink *sink,
                                        int *found, capalloc_err *err);

#endif
