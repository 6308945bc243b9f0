/*
 * sqlite_int.h - what the files of the sqlite storage plugin share.
 *
 * Private to plugins/sqlite/: never installed, never included by the core.
 * The plugin is split by job (Fluent Bit style):
 *   sqlite.c         descriptor, options, connection, transactions, the
 *                    prepared-statement cache and error mapping
 *   sqlite_schema.c  the versioned schema and its migrations
 *   sqlite_ledger.c  read_ledger, find_run and write
 *   sqlite_record.c  the run's record (ABI 1.1): written by write(), read
 *                    by read_history and read_run
 * Functions shared between those files cannot be `static`; they are marked
 * hidden so that the plugin still exports exactly one dynamic symbol, even
 * when built without -fvisibility=hidden.
 */
#ifndef CAPALLOC_SQLITE_INT_H
#define CAPALLOC_SQLITE_INT_H

#include <sqlite3.h>

#include "capalloc_plugin.h"

#if defined(__GNUC__)
#define SQLP_HIDDEN __attribute__((visibility("hidden")))
#else
#define SQLP_HIDDEN
#endif

/* Every statement the plugin runs after create(), prepared once on first
 * use (SQLITE_PREPARE_PERSISTENT) and reused until destroy(). The SQL text
 * is in sqlite.c; every value is a bound parameter. */
typedef enum sqlp_stmt_id {
    SQ_BEGIN_READ,
    SQ_BEGIN_WRITE,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_READ_CASH,
    SQ_READ_POSITIONS,
    SQ_READ_BOOK,
    SQ_FIND_RUN,
    SQ_INSERT_RUN,
    SQ_FIND_REF,
    SQ_INSERT_TRADE,
    SQ_UPSERT_CASH,
    SQ_UPSERT_POSITION,
    SQ_DELETE_POSITION,
    SQ_INSERT_VALUATION,
    SQ_INSERT_PRICE,
    SQ_READ_HISTORY,
    SQ_READ_RUN,
    SQ_RUN_VALUATIONS,
    SQ_RUN_PRICES,
    SQ_READ_REDEMPTIONS,
    SQ_INSERT_REDEMPTION,
    SQ_UPDATE_REDEMPTION,
    SQ_READ_REDEMPTION,    /* one, by id */
    SQ_CHAIN_HEAD,
    SQ_CHAIN_ANCHOR,
    SQ_CHAIN_ANCHOR_CASH,
    SQ_JOURNAL_RUNS,
    SQ_JOURNAL_ROWS,
    SQ_JOURNAL_LATE,
    SQ_LEDGER_STAMP,
    SQ_UPSERT_POSITIONS_N, /* SQLP_POS_ROWS rows in one statement */
    SQ_COUNT
} sqlp_stmt_id;

/* Rows of SQ_UPSERT_POSITIONS_N (positions import: one statement per 64
 * rows instead of one per row). */
#define SQLP_POS_ROWS 64

typedef enum sqlp_txn {
    SQLP_TXN_NONE = 0,
    SQLP_TXN_READ,
    SQLP_TXN_WRITE
} sqlp_txn;

/* One instance: one connection to one ledger file. */
typedef struct sqlp {
    const capalloc_host *host;
    sqlite3 *db;
    char *path;     /* the ledger file, as resolved by the core */
    int busy_ms;    /* busy_timeout_ms */
    sqlp_txn txn;   /* what begin() opened; SQLite may end it on its own
                       after some errors: sqlp_txn_open() tells */
    sqlite3_stmt *stmt[SQ_COUNT];
} sqlp;

/* The statement id, prepared on first use, into *out. On failure fills err
 * and returns its status. The statement is reset and its bindings cleared
 * by sqlp_reset() after every use. */
SQLP_HIDDEN capalloc_status sqlp_prepare(sqlp *s, sqlp_stmt_id id,
                                         sqlite3_stmt **out, capalloc_err *err);
SQLP_HIDDEN void sqlp_reset(sqlite3_stmt *stmt);

/* Turn a failed SQLite call (rc, and sqlite3_errmsg of the connection) into
 * a status and a message: "<what>: <sqlite message> (ledger <path>)".
 * SQLITE_BUSY / SQLITE_LOCKED -> CAPALLOC_ERR_BUSY, SQLITE_BUSY_SNAPSHOT ->
 * CAPALLOC_ERR_RETRY, SQLITE_NOMEM -> CAPALLOC_ERR_NOMEM, anything else ->
 * CAPALLOC_ERR_IO. Call it before anything else touches the connection. */
SQLP_HIDDEN capalloc_status sqlp_fail(sqlp *s, capalloc_err *err, int rc,
                                      const char *fmt, ...)
    CAPALLOC_PRINTF(4, 5);

/* 1 when a transaction is open on the connection. */
SQLP_HIDDEN int sqlp_txn_open(const sqlp *s);

/* sqlite_schema.c: create or migrate the schema (see there). */
SQLP_HIDDEN capalloc_status sqlp_schema_ensure(sqlp *s, capalloc_err *err);

/* sqlite_ledger.c: helpers shared with sqlite_record.c. */

/* CAPALLOC_OK when a transaction (a write one when write) is open; else
 * fills err naming call. */
SQLP_HIDDEN capalloc_status sqlp_need_txn(sqlp *s, int write,
                                          const char *call, capalloc_err *err);
/* Column i of the current row as text; NULL for SQL NULL ("" never stands
 * in for it). */
SQLP_HIDDEN const char *sqlp_col_text(sqlite3_stmt *stmt, int i);
/* Column text copied into buf; 0 when it is NULL or does not fit. */
SQLP_HIDDEN int sqlp_copy_col(sqlite3_stmt *stmt, int i, char *buf,
                              size_t len);
/* Parse a stored decimal; when it does not parse (or is NULL), fill err
 * naming the ledger, table, row and column, and return CAPALLOC_ERR_IO. */
SQLP_HIDDEN capalloc_status sqlp_parse_stored(sqlp *s, const char *text,
                                              capalloc_dec *out,
                                              capalloc_err *err,
                                              const char *table,
                                              const char *row,
                                              const char *column);

/* A decimal as exact text, host->dec_format(d, minor_units). */
typedef struct dec_text {
    char b[CAPALLOC_DEC_MAX_TEXT];
} dec_text;
SQLP_HIDDEN const char *sqlp_fmt_dec(const sqlp *s, capalloc_dec d,
                                     dec_text *t);
/* Bind text, borrowed until the statement is reset; NULL binds SQL NULL. */
SQLP_HIDDEN int sqlp_bind_text(sqlite3_stmt *stmt, int i, const char *v);
/* Step a bound INSERT/UPDATE/DELETE: SQLITE_OK or the error. */
SQLP_HIDDEN int sqlp_step_done(sqlite3_stmt *stmt);

/* sqlite_ledger.c: the ledger callbacks of capalloc_storage_plugin. */
SQLP_HIDDEN capalloc_status sqlp_read_ledger(void *state,
                                             const capalloc_ledger_sink *sink,
                                             capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_read_books(void *state,
                                            const char *const *ids, size_t n,
                                            const capalloc_ledger_sink *sink,
                                            capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_find_run(void *state, const char *run_date,
                                          capalloc_run_info *info, int *found,
                                          capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_write(void *state,
                                       const capalloc_write_batch *batch,
                                       capalloc_err *err);
/* sqlite_ledger.c: find_reference (ABI 1.2). */
SQLP_HIDDEN capalloc_status sqlp_find_reference(void *state,
                                                const char *reference,
                                                capalloc_capital_ref *out,
                                                int *found, capalloc_err *err);

/* sqlite_ledger.c: ledger_stamp (ABI 1.3). */
SQLP_HIDDEN capalloc_status sqlp_ledger_stamp(void *state, int64_t *stamp,
                                              capalloc_err *err);

/* sqlite_flows.c: queued redemptions (ABI 1.2). */
SQLP_HIDDEN capalloc_status sqlp_read_redemptions(
    void *state, int open_only,
    capalloc_status (*fn)(void *ctx, const capalloc_redemption *r), void *ctx,
    capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_redemption_op(void *state,
                                               const capalloc_redemption_op *op,
                                               int64_t *id_out,
                                               capalloc_err *err);
/* sqlite_chain.c: the hash chain (ABI 1.3). */
SQLP_HIDDEN capalloc_status sqlp_chain_head(void *state,
                                            capalloc_chain_head *out,
                                            capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_read_anchor(void *state,
                                             const capalloc_journal_sink *sink,
                                             int *found, capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_read_journal(void *state,
                                              int64_t after_run_id,
                                              const capalloc_journal_sink *sink,
                                              capalloc_err *err);
/* The batch's chain field, or NULL: a core before ABI 1.3 hands over a
 * batch without them. */
#define SQLP_CHAIN(s, b, field) \
    (CAPALLOC_HOST_HAS_MINOR((s)->host, 3) ? (b)->field : NULL)

/* sqlite_ledger.c: now as ISO 8601 UTC with milliseconds. */
SQLP_HIDDEN void sqlp_utc_now(char *buf, size_t len);

/* The batch's reference, or NULL: a core before ABI 1.2 hands over a
 * batch without the field. */
static inline const char *sqlp_reference(const sqlp *s,
                                         const capalloc_write_batch *b)
{
    return CAPALLOC_HOST_HAS_MINOR(s->host, 2) ? b->reference : NULL;
}

/* ABI 1.3: the batch's kind ("RUN" when the core is older or gave none)
 * and the run it reverses (0: none). */
static inline const char *sqlp_kind(const sqlp *s,
                                    const capalloc_write_batch *b)
{
    return CAPALLOC_HOST_HAS_MINOR(s->host, 3) && b->kind != NULL
               ? b->kind
               : CAPALLOC_RUN_RUN;
}

static inline int64_t sqlp_reverses(const sqlp *s,
                                    const capalloc_write_batch *b)
{
    return CAPALLOC_HOST_HAS_MINOR(s->host, 3) ? b->reverses : 0;
}

/* The batch's record, or NULL: a core of ABI 1.0 hands over a batch
 * without the field, which must then not be read. */
static inline const capalloc_run_record *
sqlp_record(const sqlp *s, const capalloc_write_batch *b)
{
    return CAPALLOC_HOST_HAS_MINOR(s->host, 1) ? b->record : NULL;
}

/* sqlite_record.c: the run's record (ABI 1.1). sqlp_write_record writes
 * batch->record for the run write() just inserted, in its transaction. */
SQLP_HIDDEN capalloc_status sqlp_write_record(sqlp *s,
                                              const capalloc_write_batch *b,
                                              sqlite3_int64 run_id,
                                              capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_read_history(void *state,
                                              const capalloc_history_query *q,
                                              const capalloc_record_sink *sink,
                                              capalloc_err *err);
SQLP_HIDDEN capalloc_status sqlp_read_run(void *state, int64_t run_id,
                                          const capalloc_record_sink *sink,
                                          int *found, capalloc_err *err);

#endif
