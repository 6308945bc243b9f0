/*
 * postgres.c - "postgres", a capalloc storage backend on a PostgreSQL
 * server, through libpq.
 *
 * Several capalloc processes may share one database: every guard lives in
 * the server, not in the process.
 *
 * Transactions: begin(WRITE) is BEGIN (READ COMMITTED), SET LOCAL of
 * lock_timeout and idle_in_transaction_session_timeout, and
 * pg_advisory_xact_lock on a key derived from the ledger's schema name, all
 * in one round trip: writers queue on the lock one after the other, and
 * each statement of the holder sees every earlier writer's commit. Nothing
 * is session state, so the plugin works the same behind PgBouncer in
 * transaction pooling mode (see pg_int.h). The cash rows are then
 * read FOR UPDATE, so even a writer that ignores the advisory lock (a
 * person in psql) cannot change a balance between capalloc's read and its
 * write. When the lock is not granted within lock_timeout_ms the server
 * cancels the wait (SQLSTATE 55P03) and begin() returns CAPALLOC_ERR_BUSY.
 * begin(READ) is REPEATABLE READ, READ ONLY (with the same SET LOCALs):
 * one snapshot, no lock.
 * SQLSTATE 40001 (serialization failure) and 40P01 (deadlock) are
 * CAPALLOC_ERR_RETRY: the core re-runs from a fresh read.
 *
 * A lost connection fails the call with CAPALLOC_ERR_IO and a message that
 * says so; the server rolls an unfinished transaction back on its own.
 * A connection lost during COMMIT leaves the outcome in doubt: the plugin
 * connects again (for up to failover_wait_ms; with a multi-host conninfo
 * and target_session_attrs=read-write that is the standby promoted after a
 * failover) and looks up the run's token (pg_ledger.c) to tell whether the
 * run was applied (resolve_doubt).
 *
 * Round trips: a command costs a fixed number of them whatever the size of
 * the fund (begin+lock 1, find_run 1, read_ledger 2, chain_head 1, write 1
 * - the run's record included -, read_history 1, read_run 1, commit 1);
 * each is counted and logged at debug level (capalloc -vv) at commit and
 * rollback: "transaction committed: N round trips".
 *
 *   YAML:  storage: {plugin: postgres, options: {conninfo: "service=fund"}}
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_int.h"

#define PGP_VERSION "1.1.0"

/* Connection defaults (conninfo may override them): a peer that vanishes
 * without a word is noticed after about 30 + 3 x 10 s of silence, or when
 * sent data stays unacknowledged for 60 s. */
#define PGP_KEEPALIVES_IDLE "30"
#define PGP_KEEPALIVES_INTERVAL "10"
#define PGP_KEEPALIVES_COUNT "3"
#define PGP_TCP_USER_TIMEOUT "60000"

static const capalloc_option_spec pgp_options[] = {
    {"conninfo", CAPALLOC_OPT_STRING, 0, "",
     "libpq connection string or URI; empty: PG* environment variables and "
     "the service file apply. Never put a password here: use ~/.pgpass or "
     "PGPASSWORD"},
    {"connect_timeout", CAPALLOC_OPT_INT, 0, "10",
     "seconds to wait for the server when connecting (>= 1)"},
    {"lock_timeout_ms", CAPALLOC_OPT_INT, 0, "30000",
     "how long to wait for another writer's lock before giving up (ms, >= 1)"},
    {"idle_in_transaction_timeout_ms", CAPALLOC_OPT_INT, 0, "180000",
     "the server ends capalloc's session (rolling back, freeing the ledger "
     "lock) when a transaction sits idle this long, e.g. after the client "
     "vanished; must exceed the price source's worst case (ms, 0: off)"},
    {"schema", CAPALLOC_OPT_STRING, 0, "",
     "the schema holding the ledger tables (created if missing); empty: the "
     "connection's default (search_path)"},
    {"failover_wait_ms", CAPALLOC_OPT_INT, 0, "60000",
     "when the connection is lost during COMMIT (the outcome is in doubt), "
     "how long to keep trying to connect again - with a multi-host conninfo "
     "and target_session_attrs=read-write, to the standby promoted in the "
     "primary's place - to learn whether the run was applied (ms, 0: do not "
     "try; the run then fails saying it is in doubt)"},
    {"test_pause_ms", CAPALLOC_OPT_INT, 0, "0",
     "TEST ONLY: in a write transaction, sleep this long at the point "
     "test_pause_at names, so a test can stop the server or kill the "
     "process there"},
    {"test_pause_at", CAPALLOC_OPT_STRING, 0, "write",
     "TEST ONLY: where test_pause_ms sleeps: begin (lock taken), read (after "
     "read_ledger or ledger_stamp), write (after write(), before COMMIT), commit (after a "
     "successful COMMIT)"},
    {"test_pause_until", CAPALLOC_OPT_STRING, 0, "",
     "TEST ONLY: a file; the pause at test_pause_at ends as soon as it "
     "exists (test_pause_ms at most), so a test can act there and then let "
     "the run go on"},
    {NULL, 0, 0, NULL, NULL}};

/* ------------------------------------------------------------------------ */
/* statements and errors                                                     */
/* ------------------------------------------------------------------------ */

PGresult *pgp_exec(pgp *s, const char *sql, int n, const char *const *values)
{
    s->txn_trips++;
    s->total_trips++;
    PGresult *res = n == 0 ? PQexec(s->conn, sql)
                           : PQexecParams(s->conn, sql, n, NULL, values, NULL,
                                          NULL, 0);
    if (res == NULL)
        res = PQmakeEmptyPGresult(s->conn, PGRES_FATAL_ERROR);
    return res;
}

int pgp_ok(const PGresult *res)
{
    ExecStatusType t = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* msg on one line: newlines and tabs become spaces, runs of spaces one,
 * no trailing space. */
static void one_line(char *msg)
{
    char *w = msg;
    for (const char *r = msg; *r; r++) {
        char c = (*r == '\n' || *r == '\t' || *r == '\r') ? ' ' : *r;
        if (c == ' ' && (w == msg || w[-1] == ' '))
            continue;
        *w++ = c;
    }
    while (w > msg && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* Safety net: every occurrence of a password (the one parsed from
 * conninfo, the one libpq used) in msg becomes "***". */
static void redact_one(char *msg, size_t len, const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;
    char *from = msg, *hit;
    if (n == 0)
        return;
    while ((hit = strstr(from, pw)) != NULL) {
        size_t pos = (size_t)(hit - msg), tail = strlen(hit + n);
        if (pos + 3 + tail + 1 > len) { /* no room: cut, never leak */
            if (pos + 4 > len) {
                *hit = '\0';
                return;
            }
            tail = len - pos - 4;
        }
        memmove(hit + 3, hit + n, tail);
        memcpy(hit, "***", 3);
        hit[3 + tail] = '\0';
        from = hit + 3;
    }
}

void pgp_clean_msg(const pgp *s, char *msg, size_t len)
{
    one_line(msg);
    if (s == NULL)
        return;
    redact_one(msg, len, s->password);
    if (s->conn != NULL)
        redact_one(msg, len, PQpass(s->conn));
}

static int sqlstate_is(const PGresult *res, const char *code)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return st != NULL && strcmp(st, code) == 0;
}

static int connection_lost(const pgp *s, const PGresult *res)
{
    /* An error libpq made up itself (no SQLSTATE: "server closed the
     * connection unexpectedly", "no connection to the server") is about
     * the connection; so are classes 08 and 57P0x (server shut down). */
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return PQstatus(s->conn) == CONNECTION_BAD || st == NULL ||
           strncmp(st, "08", 2) == 0 || strncmp(st, "57P0", 4) == 0;
}

void pgp_end_aborted(pgp *s)
{
    if (PQstatus(s->conn) != CONNECTION_OK ||
        PQtransactionStatus(s->conn) != PQTRANS_INERROR)
        return;
    PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
    s->aborted = 1;
}

capalloc_status pgp_fail(pgp *s, PGresult *res, capalloc_err *err,
                         const char *fmt, ...)
{
    char what[512], msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *primary =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(msg, sizeof msg, "%s",
             primary ? primary : PQerrorMessage(s->conn));
    pgp_clean_msg(s, msg, sizeof msg);
    const capalloc_host *h = s->host;
    capalloc_status st;
    if (connection_lost(s, res)) {
        h->set_error(err, NULL,
                     "lost the connection to PostgreSQL while %s: %s (%s); "
                     "the server rolls the open transaction back, nothing of "
                     "it was written",
                     what, msg[0] ? msg : "no message", s->where);
        st = CAPALLOC_ERR_IO;
    } else if (sqlstate_is(res, "40001") || sqlstate_is(res, "40P01")) {
        h->set_error(err, NULL, "%s: %s (%s)", what, msg, s->where);
        st = CAPALLOC_ERR_RETRY;
    } else if (sqlstate_is(res, "55P03")) {
        h->set_error(err, NULL,
                     "the ledger in %s is locked by another writer (waited "
                     "%d ms) while %s",
                     s->where, s->lock_timeout_ms, what);
        st = CAPALLOC_ERR_BUSY;
    } else if (sqlstate_is(res, "53200")) {
        h->set_error(err, NULL, "%s: out of memory on the server (%s)", what,
                     s->where);
        st = CAPALLOC_ERR_NOMEM;
    } else {
        h->set_error(err, NULL, "%s: %s (%s)", what, msg, s->where);
        st = CAPALLOC_ERR_IO;
    }
    PQclear(res);
    pgp_end_aborted(s); /* after the message: it may come from the conn */
    return st;
}

/* ------------------------------------------------------------------------ */
/* transactions                                                              */
/* ------------------------------------------------------------------------ */

char *pgp_qualify(const pgp *s, const char *tmpl)
{
    size_t n = 0, il = strlen(s->schema_ident);
    for (const char *p = tmpl; (p = strstr(p, "{S}")) != NULL; p += 3)
        n++;
    char *out = malloc(strlen(tmpl) + n * il + 1), *w = out;
    if (out == NULL)
        return NULL;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{S}", 3) == 0) {
            memcpy(w, s->schema_ident, il);
            w += il;
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

/* begin()'s statements, one round trip each. The values are integers and
 * the schema as a libpq-quoted literal (the name is a checked identifier or
 * the server's own current_schema()). */
static capalloc_status build_begin(pgp *s, capalloc_err *err)
{
    char buf[512];
    const char *iso[2] = {"REPEATABLE READ, READ ONLY",
                          "READ COMMITTED, READ WRITE"};
    for (int w = 0; w < 2; w++) {
        int len = snprintf(
            buf, sizeof buf, "BEGIN ISOLATION LEVEL %s; %s%s%s%s", iso[w],
            s->sql_settings,
            w ? "; SELECT pg_advisory_xact_lock(1128353841, hashtext(" : "",
            w ? s->schema_lit : "", w ? "))" : "");
        if (len < 0 || (size_t)len >= sizeof buf ||
            (s->sql_begin[w] = strdup(buf)) == NULL) {
            s->host->set_error(err, NULL, "out of memory");
            return CAPALLOC_ERR_NOMEM;
        }
    }
    return CAPALLOC_OK;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const pause_names[] = {"begin", "read", "write", "commit"};

void pgp_test_pause(pgp *s, pgp_pause_at at)
{
    if (s->test_pause_ms <= 0 || s->test_pause_at != at ||
        s->txn != PGP_TXN_WRITE)
        return;
    /* The tests wait for this line (capalloc -vv) before they act. */
    s->host->log(s->host, CAPALLOC_LOG_DEBUG,
                 "test_pause_at %s: pausing %lld ms", pause_names[at],
                 (long long)s->test_pause_ms);
    if (s->test_pause_until == NULL) {
        sleep_ms(s->test_pause_ms);
        return;
    }
    int64_t end = now_ms() + s->test_pause_ms;
    while (access(s->test_pause_until, F_OK) != 0 && now_ms() < end)
        sleep_ms(10);
}

static void log_trips(pgp *s, const char *how)
{
    s->host->log(s->host, CAPALLOC_LOG_DEBUG,
                 "transaction %s: %ld round trips (%ld since connecting)",
                 how, s->txn_trips, s->total_trips);
    s->txn_trips = 0;
}

static capalloc_status pgp_begin(void *state, capalloc_txn_mode mode,
                                 capalloc_err *err)
{
    pgp *s = state;
    const capalloc_host *h = s->host;
    if (mode != CAPALLOC_TXN_READ && mode != CAPALLOC_TXN_WRITE) {
        h->set_error(err, NULL, "begin(): unknown transaction mode %d",
                     (int)mode);
        return CAPALLOC_ERR_INTERNAL;
    }
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE || s->txn != PGP_TXN_NONE) {
        h->set_error(err, NULL,
                     "begin() called while a transaction is open (%s)",
                     s->where);
        return PQstatus(s->conn) == CONNECTION_BAD ? CAPALLOC_ERR_IO
                                                   : CAPALLOC_ERR_INTERNAL;
    }
    s->txn_trips = 0;
    s->aborted = 0;
    int write = mode == CAPALLOC_TXN_WRITE;
    PGresult *res =
        pgp_exec(s, s->sql_begin[write], 0, NULL);
    if (!pgp_ok(res)) {
        capalloc_status st = pgp_fail(
            s, res, err, "starting a %s transaction%s",
            write ? "write" : "read",
            write ? " (taking the ledger's writer lock)" : "");
        if (PQtransactionStatus(s->conn) != PQTRANS_IDLE &&
            PQstatus(s->conn) == CONNECTION_OK)
            PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
        return st;
    }
    PQclear(res);
    s->txn = write ? PGP_TXN_WRITE : PGP_TXN_READ;
    pgp_test_pause(s, PGP_PAUSE_BEGIN);
    return CAPALLOC_OK;
}

static PGconn *open_conn(pgp *s);
static void set_where(pgp *s);

/* The commit of the run whose token is s->run_token is in doubt: the
 * connection broke (lost: libpq's message) after COMMIT left, so the server
 * - or, after a failover, the standby promoted in its place - holds all of
 * the transaction or none of it, and the answer saying which never came.
 * Connect again with the same conninfo (a multi-host conninfo with
 * target_session_attrs=read-write finds the new primary), retrying for up
 * to failover_wait_ms; take the ledger's writer lock (the lost session held
 * it to its end, so no part of its transaction can still be on its way) and
 * look the token up. The new connection replaces the old one for the rest
 * of the process; nothing is session state (pg_int.h), so there is nothing
 * to set up again. Returns CAPALLOC_OK when the run was applied (saying so
 * in a warning), CAPALLOC_ERR_IO when it was not or when it cannot be told. */
static capalloc_status resolve_doubt(pgp *s, const char *lost,
                                     capalloc_err *err)
{
    const capalloc_host *h = s->host;
    char old_where[sizeof s->where], last[600] = "", at[160];
    snprintf(old_where, sizeof old_where, "%s", s->where);
    h->log(h, CAPALLOC_LOG_INFO,
           "lost the connection while committing (%s); looking for the run "
           "on a primary for up to %lld ms",
           lost, (long long)s->failover_wait_ms);
    int64_t end = now_ms() + s->failover_wait_ms;
    int attempts = 0;
    PGconn *c;
    for (;;) {
        attempts++;
        if ((c = open_conn(s)) == NULL) {
            h->set_error(err, NULL, "out of memory connecting to PostgreSQL "
                                    "after a commit in doubt");
            return CAPALLOC_ERR_NOMEM;
        }
        if (PQstatus(c) == CONNECTION_OK)
            break;
        snprintf(last, sizeof last, "%s", PQerrorMessage(c));
        PQfinish(c);
        c = NULL;
        if (now_ms() >= end)
            break;
        sleep_ms(250);
    }
    if (c == NULL) {
        pgp_clean_msg(s, last, sizeof last);
        h->set_error(err, NULL,
                     "lost the connection to PostgreSQL while committing: %s "
                     "(%s); the server keeps all of the transaction or none "
                     "of it, and no primary could be reached in %lld ms (%d "
                     "attempts, the last: %s) to tell which: check the ledger "
                     "(capalloc status) before running the command again",
                     lost, old_where, (long long)s->failover_wait_ms, attempts,
                     last);
        return CAPALLOC_ERR_IO;
    }
    PQfinish(s->conn);
    s->conn = c;
    set_where(s);
    snprintf(at, sizeof at, "%s:%s", PQhost(c), PQport(c));
    h->log(h, CAPALLOC_LOG_DEBUG, "connected to %s after %d attempt%s",
           s->where, attempts, attempts == 1 ? "" : "s");

    PGresult *res = pgp_exec(s, s->sql_begin[1], 0, NULL);
    if (pgp_ok(res)) {
        PQclear(res);
        const char *v[1] = {s->run_token};
        res = pgp_exec(s, s->sql[PGP_SQL_FIND_TOKEN], 1, v);
    }
    if (!pgp_ok(res) || PQntuples(res) > 1) {
        capalloc_err e2 = {{0}, {0}};
        pgp_fail(s, res, &e2, "looking the run up");
        if (PQtransactionStatus(s->conn) != PQTRANS_IDLE &&
            PQstatus(s->conn) == CONNECTION_OK)
            PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
        h->set_error(err, NULL,
                     "the commit's outcome was in doubt (connection lost: "
                     "%s; %s) and could not be resolved on %s: %s; check the "
                     "ledger (capalloc status) before running the command "
                     "again",
                     lost, old_where, at, e2.msg);
        return CAPALLOC_ERR_IO;
    }
    int found = PQntuples(res) == 1;
    char run_id[32] = "";
    if (found)
        snprintf(run_id, sizeof run_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
    if (found) {
        h->log(h, CAPALLOC_LOG_WARNING,
               "the commit's outcome was in doubt (connection lost: %s; %s); "
               "resolved on %s: the run WAS applied (run_id %s)",
               lost, old_where, at, run_id);
        return CAPALLOC_OK;
    }
    h->set_error(err, NULL,
                 "the commit's outcome was in doubt (connection lost: %s; "
                 "%s); resolved on %s: the run was NOT applied; nothing was "
                 "written, run it again",
                 lost, old_where, at);
    return CAPALLOC_ERR_IO;
}

static capalloc_status pgp_commit(void *state, capalloc_err *err)
{
    pgp *s = state;
    if (s->txn == PGP_TXN_NONE) {
        s->host->set_error(err, NULL,
                           "commit() called with no transaction open (%s)",
                           s->where);
        return CAPALLOC_ERR_INTERNAL;
    }
    PGTransactionStatusType ts = PQtransactionStatus(s->conn);
    if (ts != PQTRANS_INTRANS) {
        s->txn = PGP_TXN_NONE;
        if (ts == PQTRANS_INERROR)
            PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
        s->host->set_error(err, NULL,
                           "cannot commit: %s (%s); nothing of the "
                           "transaction was written",
                           ts == PQTRANS_INERROR || s->aborted
                               ? "an earlier statement failed and the server "
                                 "aborted the transaction"
                               : "lost the connection to PostgreSQL",
                           s->where);
        return CAPALLOC_ERR_IO;
    }
    PGresult *res = pgp_exec(s, "COMMIT", 0, NULL);
    capalloc_status st = CAPALLOC_OK;
    if (!pgp_ok(res) && connection_lost(s, res)) {
        /* In doubt: the server commits all of the transaction or none of
         * it, but whether our COMMIT reached it, we cannot know here. The
         * run's token can tell, read back from a primary. */
        char msg[600];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
        pgp_clean_msg(s, msg, sizeof msg);
        PQclear(res);
        if (s->run_token[0] != '\0' && s->failover_wait_ms > 0) {
            st = resolve_doubt(s, msg[0] ? msg : "no message", err);
        } else {
            s->host->set_error(
                err, NULL,
                "lost the connection to PostgreSQL while committing: %s "
                "(%s); the server keeps all of the transaction or none of it "
                "(none, unless the COMMIT reached it before the connection "
                "broke): check the ledger (capalloc status) before running "
                "the command again",
                msg[0] ? msg : "no message", s->where);
            st = CAPALLOC_ERR_IO;
        }
    } else if (!pgp_ok(res)) {
        st = pgp_fail(s, res, err, "committing (rolled back, nothing written)");
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        s->host->set_error(err, NULL,
                           "committing: the server answered %s; nothing was "
                           "written (%s)",
                           PQcmdStatus(res), s->where);
        PQclear(res);
        st = CAPALLOC_ERR_IO;
    } else {
        PQclear(res);
        pgp_test_pause(s, PGP_PAUSE_COMMIT);
    }
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR)
        PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
    s->txn = PGP_TXN_NONE;
    s->run_token[0] = '\0';
    log_trips(s, st == CAPALLOC_OK ? "committed" : "failed to commit");
    return st;
}

static capalloc_status pgp_rollback(void *state, capalloc_err *err)
{
    pgp *s = state;
    capalloc_status st = CAPALLOC_OK;
    PGTransactionStatusType ts = PQtransactionStatus(s->conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *res = pgp_exec(s, "ROLLBACK", 0, NULL);
        if (!pgp_ok(res))
            st = pgp_fail(s, res, err, "rolling back");
        else
            PQclear(res);
    }
    if (s->txn != PGP_TXN_NONE)
        log_trips(s, "rolled back");
    s->txn = PGP_TXN_NONE;
    s->aborted = 0;
    s->run_token[0] = '\0';
    return st;
}

/* ------------------------------------------------------------------------ */
/* create / destroy                                                          */
/* ------------------------------------------------------------------------ */

static void pgp_free(pgp *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL) {
        if (s->total_trips > 0)
            s->host->log(s->host, CAPALLOC_LOG_DEBUG,
                         "closing the connection after %ld round trips",
                         s->total_trips);
        PQfinish(s->conn); /* an open transaction is rolled back */
    }
    if (s->password != NULL) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    if (s->conninfo != NULL) {
        memset(s->conninfo, 0, strlen(s->conninfo));
        free(s->conninfo);
    }
    free(s->test_pause_until);
    free(s->schema);
    PQfreemem(s->schema_ident);
    PQfreemem(s->schema_lit);
    for (int i = 0; i < 2; i++)
        free(s->sql_begin[i]);
    for (int i = 0; i < PGP_SQL_N; i++)
        free(s->sql[i]);
    free(s);
}

/* A notice (e.g. "schema already exists, skipping") goes to the debug log,
 * not to stderr as libpq would print it. */
static void on_notice(void *arg, const char *message)
{
    pgp *s = arg;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", message);
    pgp_clean_msg(s, msg, sizeof msg);
    s->host->log(s->host, CAPALLOC_LOG_DEBUG, "server notice: %s", msg);
}

/* Schema names are plain identifiers: they become part of SQL (quoted
 * with PQescapeIdentifier all the same). */
static int valid_schema(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Quote s->schema both ways (identifier for SQL text, literal for the lock
 * key). */
static capalloc_status quote_schema(pgp *s, capalloc_err *err)
{
    size_t n = strlen(s->schema);
    s->schema_ident = PQescapeIdentifier(s->conn, s->schema, n);
    s->schema_lit = s->schema_ident ? PQescapeLiteral(s->conn, s->schema, n)
                                    : NULL;
    if (s->schema_lit == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
        pgp_clean_msg(s, msg, sizeof msg);
        s->host->set_error(err, "schema", "quoting schema '%.80s': %s",
                           s->schema, msg);
        return CAPALLOC_ERR_IO;
    }
    return CAPALLOC_OK;
}

/* Settle which schema holds the ledger, once: the option, or (when it is
 * empty) the server's current_schema() for this user and database, which
 * is then used by name like a configured one. A configured schema that does
 * not exist is created, in a transaction of its own under the migration
 * lock: two processes creating the same new schema at once would otherwise
 * collide in pg_namespace. Nothing here is session state. */
static capalloc_status resolve_schema(pgp *s, capalloc_err *err)
{
    PGresult *res;
    if (s->schema == NULL) {
        res = pgp_exec(s, "SELECT current_schema()", 0, NULL);
        if (!pgp_ok(res) || PQntuples(res) != 1)
            return pgp_fail(s, res, err, "asking for the default schema");
        if (PQgetisnull(res, 0, 0)) {
            PQclear(res);
            s->host->set_error(err, "schema",
                               "%s: the search_path names no existing "
                               "schema; set the storage option 'schema'",
                               s->where);
            return CAPALLOC_ERR_INVALID;
        }
        s->schema = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (s->schema == NULL) {
            s->host->set_error(err, NULL, "out of memory");
            return CAPALLOC_ERR_NOMEM;
        }
        return quote_schema(s, err);
    }
    capalloc_status st = quote_schema(s, err);
    if (st != CAPALLOC_OK)
        return st;
    /* The usual case first, in one round trip: the ledger is there and at
     * a version. Planning pgp_sql_connect_state (query_to_xml, xpath, the
     * pg_tables view) took 4-5 ms of a new backend's time; this takes
     * 0.3. It fails when the schema or the version table is missing (a
     * new ledger: the server logs that ERROR once), and an empty version
     * table needs the full state (the tables' count): then the full
     * query, which never fails on a missing schema, decides. */
    char *fast = pgp_qualify(s, "SELECT coalesce(max(version), 0)"
                                " FROM {S}.capalloc_schema_version");
    if (fast == NULL) {
        s->host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    res = pgp_exec(s, fast, 0, NULL);
    free(fast);
    if (pgp_ok(res) && PQntuples(res) == 1) {
        long v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (v > 0) {
            s->pre_version = v;
            s->pre_tables = 0; /* read only for a ledger without version */
            s->pre_state = 1;
            return CAPALLOC_OK;
        }
    } else {
        PQclear(res);
        if (PQstatus(s->conn) != CONNECTION_OK)
            return pgp_fail(s, NULL, err, "looking up schema '%s'",
                            s->schema);
    }
    const char *sv[1] = {s->schema};
    /* with the ledger's schema version */
    res = pgp_exec(s, pgp_sql_connect_state, 1, sv);
    if (!pgp_ok(res) || PQntuples(res) != 1)
        return pgp_fail(s, res, err, "looking up schema '%s'", s->schema);
    int exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (exists) {
        s->pre_version = strtol(PQgetvalue(res, 0, 1), NULL, 10);
        s->pre_tables = strtol(PQgetvalue(res, 0, 2), NULL, 10);
        s->pre_state = 1;
    }
    PQclear(res);
    if (exists)
        return CAPALLOC_OK;
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN; %s;"
             " SELECT pg_advisory_xact_lock(1128353869, hashtext(%s));"
             " CREATE SCHEMA IF NOT EXISTS %s; COMMIT",
             s->sql_settings, s->schema_lit, s->schema_ident);
    res = pgp_exec(s, sql, 0, NULL);
    if (!pgp_ok(res) || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        st = pgp_fail(s, res, err, "creating schema '%s'", s->schema);
        if (PQtransactionStatus(s->conn) != PQTRANS_IDLE &&
            PQstatus(s->conn) == CONNECTION_OK)
            PQclear(pgp_exec(s, "ROLLBACK", 0, NULL));
        return st;
    }
    PQclear(res);
    return CAPALLOC_OK;
}

/* What libpq's expand_dbname takes for a connection string or URI (as
 * libpq's own recognized_connection_string): a URI prefix or an '='.
 * Anything else is a database name. */
static int looks_like_conninfo(const char *c)
{
    return strncmp(c, "postgresql://", 13) == 0 ||
           strncmp(c, "postgres://", 11) == 0 || strchr(c, '=') != NULL;
}

/* Parse conninfo before libpq connects with it: a malformed one is a
 * config error (CAPALLOC_ERR_INVALID at key "conninfo") with a fixed
 * message - libpq's own parse error quotes the bad token or the whole
 * URI, password and all. Keeps the password for pgp_clean_msg(). */
static capalloc_status parse_conninfo(pgp *s, const char *conninfo,
                                      capalloc_err *err)
{
    if (!looks_like_conninfo(conninfo))
        return CAPALLOC_OK;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        int oom = perr == NULL;
        PQfreemem(perr); /* never shown: it may quote the password */
        if (oom) {
            s->host->set_error(err, NULL, "out of memory parsing conninfo");
            return CAPALLOC_ERR_NOMEM;
        }
        s->host->set_error(err, "conninfo",
                           "conninfo is not a valid libpq connection string "
                           "or postgresql:// URI (check its syntax: quoting, "
                           "percent-encoding, [] around an IPv6 address); its "
                           "text is not shown because it may hold a password");
        return CAPALLOC_ERR_INVALID;
    }
    capalloc_status st = CAPALLOC_OK;
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
            o->val[0] != '\0' && (s->password = strdup(o->val)) == NULL) {
            s->host->set_error(err, NULL, "out of memory");
            st = CAPALLOC_ERR_NOMEM;
        }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (o->val != NULL)
            memset(o->val, 0, strlen(o->val));
    PQconninfoFree(opts);
    return st;
}

/* "database 'x' on host:port, schema 's'", for messages. */
static void set_where(pgp *s)
{
    const char *hostname = PQhost(s->conn);
    snprintf(s->where, sizeof s->where, "database '%s' on %s%s:%s%s%s",
             PQdb(s->conn), hostname && hostname[0] == '/' ? "socket " : "",
             hostname ? hostname : "", PQport(s->conn),
             s->schema ? ", schema " : "", s->schema ? s->schema : "");
}

/* A new connection with conninfo (NULL: out of memory; the caller checks
 * PQstatus). conninfo is expanded by libpq (expand_dbname) where it
 * stands: the keepalive and TCP timeouts before it are defaults it can
 * override (a silent network loss would otherwise hang the run, and with
 * it the ledger lock, until the OS gives up: hours); the options after it
 * win over what it says. An empty conninfo leaves everything to the PG*
 * environment and the service file. */
static PGconn *open_conn(pgp *s)
{
    const char *keys[] = {"keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count",
                          "tcp_user_timeout", "dbname", "connect_timeout",
                          "fallback_application_name", NULL};
    const char *vals[] = {"1", PGP_KEEPALIVES_IDLE, PGP_KEEPALIVES_INTERVAL,
                          PGP_KEEPALIVES_COUNT, PGP_TCP_USER_TIMEOUT,
                          s->conninfo, s->connect_timeout, "capalloc", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c != NULL && PQstatus(c) == CONNECTION_OK)
        PQsetNoticeProcessor(c, on_notice, s);
    return c;
}

static capalloc_status pgp_create(const capalloc_host *host,
                                  const capalloc_options *opts, void **state,
                                  capalloc_err *err)
{
    const char *conninfo = "", *schema = "", *pause_at = "write",
               *pause_until = "";
    int64_t connect_timeout = 10, lock_ms = 30000, pause = 0, idle_ms = 180000,
            failover_ms = 60000;
    *state = NULL;
    host->opt_string(opts, "conninfo", &conninfo);
    host->opt_string(opts, "schema", &schema);
    host->opt_int(opts, "connect_timeout", &connect_timeout);
    host->opt_int(opts, "lock_timeout_ms", &lock_ms);
    host->opt_int(opts, "test_pause_ms", &pause);
    host->opt_string(opts, "test_pause_at", &pause_at);
    host->opt_int(opts, "idle_in_transaction_timeout_ms", &idle_ms);
    host->opt_int(opts, "failover_wait_ms", &failover_ms);
    host->opt_string(opts, "test_pause_until", &pause_until);
    if (conninfo == NULL)
        conninfo = "";
    if (connect_timeout < 1 || connect_timeout > 3600) {
        host->set_error(err, "connect_timeout",
                        "connect_timeout is %lld: it must be between 1 and "
                        "3600 (seconds)",
                        (long long)connect_timeout);
        return CAPALLOC_ERR_INVALID;
    }
    if (lock_ms < 1 || lock_ms > INT_MAX) {
        host->set_error(err, "lock_timeout_ms",
                        "lock_timeout_ms is %lld: it must be between 1 and %d "
                        "(milliseconds)",
                        (long long)lock_ms, INT_MAX);
        return CAPALLOC_ERR_INVALID;
    }
    if (idle_ms < 0 || idle_ms > INT_MAX) {
        host->set_error(err, "idle_in_transaction_timeout_ms",
                        "idle_in_transaction_timeout_ms is %lld: it must be "
                        "between 0 (off) and %d (milliseconds)",
                        (long long)idle_ms, INT_MAX);
        return CAPALLOC_ERR_INVALID;
    }
    if (failover_ms < 0 || failover_ms > 3600000) {
        host->set_error(err, "failover_wait_ms",
                        "failover_wait_ms is %lld: it must be between 0 (do "
                        "not try) and 3600000 (milliseconds)",
                        (long long)failover_ms);
        return CAPALLOC_ERR_INVALID;
    }
    if (pause < 0 || pause > 600000) {
        host->set_error(err, "test_pause_ms",
                        "test_pause_ms is %lld: it must be between 0 and "
                        "600000",
                        (long long)pause);
        return CAPALLOC_ERR_INVALID;
    }
    int at = -1;
    for (int i = 0; i < 4; i++)
        if (pause_at != NULL && strcmp(pause_at, pause_names[i]) == 0)
            at = i;
    if (at < 0) {
        host->set_error(err, "test_pause_at",
                        "test_pause_at is '%.40s': it must be begin, read, "
                        "write or commit",
                        pause_at ? pause_at : "");
        return CAPALLOC_ERR_INVALID;
    }
    if (schema != NULL && *schema != '\0' && !valid_schema(schema)) {
        host->set_error(err, "schema",
                        "schema '%.80s' is not a plain identifier: use "
                        "lower-case letters, digits and '_' (at most 63, not "
                        "starting with a digit)",
                        schema);
        return CAPALLOC_ERR_INVALID;
    }

    pgp *s = calloc(1, sizeof *s);
    if (s == NULL || (schema != NULL && *schema != '\0' &&
                      (s->schema = strdup(schema)) == NULL)) {
        free(s);
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->lock_timeout_ms = (int)lock_ms;
    s->test_pause_ms = pause;
    s->test_pause_at = (pgp_pause_at)at;
    s->idle_in_txn_ms = idle_ms;
    s->failover_wait_ms = failover_ms;
    snprintf(s->connect_timeout, sizeof s->connect_timeout, "%lld",
             (long long)connect_timeout);
    if ((s->conninfo = strdup(conninfo)) == NULL ||
        (pause_until != NULL && *pause_until != '\0' &&
         (s->test_pause_until = strdup(pause_until)) == NULL)) {
        host->set_error(err, NULL, "out of memory");
        pgp_free(s);
        return CAPALLOC_ERR_NOMEM;
    }
    /* Every transaction's own settings (pooler-safe: none is session
     * state), sent in the round trip of its BEGIN. */
    snprintf(s->sql_settings, sizeof s->sql_settings,
             "SET LOCAL lock_timeout = %d;"
             " SET LOCAL idle_in_transaction_session_timeout = %lld",
             s->lock_timeout_ms, (long long)s->idle_in_txn_ms);

    capalloc_status pst = parse_conninfo(s, conninfo, err);
    if (pst != CAPALLOC_OK) {
        pgp_free(s);
        return pst;
    }

    s->conn = open_conn(s);
    if (s->conn == NULL) {
        host->set_error(err, NULL, "out of memory connecting to PostgreSQL");
        pgp_free(s);
        return CAPALLOC_ERR_NOMEM;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        /* PQerrorMessage names host, port and cause; the conninfo parsed
         * above, so libpq has no reason to quote it. Any password is
         * masked all the same. */
        char msg[700];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
        pgp_clean_msg(s, msg, sizeof msg);
        host->set_error(err, "conninfo",
                        "cannot connect to the PostgreSQL ledger: %s", msg);
        pgp_free(s);
        return CAPALLOC_ERR_IO;
    }
    set_where(s);
    s->total_trips = 0;

    capalloc_status st;
    if ((st = resolve_schema(s, err)) == CAPALLOC_OK) {
        set_where(s); /* now with the schema resolved */
        st = build_begin(s, err);
    }
    if (st != CAPALLOC_OK ||
        (st = pgp_ledger_prepare(s, err)) != CAPALLOC_OK ||
        (st = pgp_schema_ensure(s, err)) != CAPALLOC_OK) {
        pgp_free(s);
        return st;
    }
    char ka[160] = "";
    PQconninfoOption *eff = PQconninfo(s->conn);
    for (const PQconninfoOption *o = eff; o && o->keyword; o++)
        if (strncmp(o->keyword, "keepalives", 10) == 0 ||
            strcmp(o->keyword, "tcp_user_timeout") == 0) {
            size_t u = strlen(ka);
            snprintf(ka + u, sizeof ka - u, "%s%s=%s", u ? " " : "",
                     o->keyword, o->val ? o->val : "");
        }
    for (PQconninfoOption *o = eff; o && o->keyword; o++)
        if (o->val != NULL) /* the password is among them */
            memset(o->val, 0, strlen(o->val));
    PQconninfoFree(eff);
    host->log(host, CAPALLOC_LOG_DEBUG,
              "connected to %s (server %d, lock timeout %d ms, idle in "
              "transaction timeout %lld ms, %s, %ld round trips to set up)",
              s->where, PQserverVersion(s->conn), s->lock_timeout_ms,
              (long long)s->idle_in_txn_ms, ka, s->total_trips);
    s->txn_trips = 0;
    *state = s;
    return CAPALLOC_OK;
}

static void pgp_destroy(void *state)
{
    pgp_free(state);
}

/* ------------------------------------------------------------------------ */
/* descriptor                                                                */
/* ------------------------------------------------------------------------ */

static const capalloc_storage_plugin postgres_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_STORAGE, capalloc_storage_plugin,
                         "postgres", PGP_VERSION,
                         "ledger in a PostgreSQL database (libpq), shared by "
                         "many processes",
                         pgp_options, pgp_create, pgp_destroy),
    pgp_begin,
    pgp_commit,
    pgp_rollback,
    pgp_read_ledger,
    pgp_find_run,
    pgp_write,
    pgp_read_history,
    pgp_read_run,
    pgp_read_books,
    pgp_find_reference,
    pgp_read_redemptions,
    pgp_redemption_op,
    pgp_chain_head,
    pgp_read_anchor,
    pgp_read_journal,
    pgp_ledger_stamp,
};

CAPALLOC_PLUGIN_DEFINE(postgres_plugin)
