/*
 * check_storage.c - the storage conformance suite: one set of tests written
 * against the storage API (capalloc_storage_plugin) that every backend must
 * pass. The backend is loaded through the core's loader, as capalloc loads
 * it.
 *
 * Which backend:
 *   CAPALLOC_STORAGE_PLUGIN   a plugin name found in the build tree
 *                             ("sqlite", "postgres") or a path to a .so;
 *                             default "sqlite"
 *   CAPALLOC_STORAGE_OPTIONS  its options, a YAML flow mapping; "@LEDGER@"
 *                             in it is replaced by a name unique to each
 *                             test (a file name, a schema name). Defaults:
 *                               sqlite    {path: "@LEDGER@.db", busy_timeout_ms: 300}
 *                               postgres  {schema: "@LEDGER@", lock_timeout_ms: 300}
 *                             A custom backend must give a short lock
 *                             timeout here: the guard test waits for it.
 * Built without sqlite (configure --disable-sqlite), the suite only runs
 * through storage-postgres.pgtest; the sqlite-only parts are left out.
 * The sqlite and postgres runs also check the rows in the tables (the
 * design's shape); postgres reaches the server through the PG* variables
 * (tests/pg-cluster run sets them), or the conninfo given in
 * CAPALLOC_STORAGE_OPTIONS, and FAILS when it cannot connect.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <check.h>
#include <ftw.h>
#if TEST_WITH_LIBPQ
#include <libpq-fe.h>
#endif
#if CAPALLOC_HAVE_SQLITE
#include <sqlite3.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "decimal.h"
#include "loader.h"
#include "options.h"

static char tmp[256];
static char ledger[64];
static char backend[512];
static char options_text[2048];
static capalloc_config *cfg;

/* ---- backend selection ---------------------------------------------- */

static int is_backend(const char *name)
{
    return strcmp(backend, name) == 0;
}

static void pick_backend(void)
{
    const char *p = getenv("CAPALLOC_STORAGE_PLUGIN");
    snprintf(backend, sizeof backend, "%s", p && *p ? p : "sqlite");
    const char *o = getenv("CAPALLOC_STORAGE_OPTIONS");
    if (o && *o)
        snprintf(options_text, sizeof options_text, "%s", o);
    else if (is_backend("postgres"))
        snprintf(options_text, sizeof options_text,
                 "{schema: \"@LEDGER@\", lock_timeout_ms: 300}");
    else
        snprintf(options_text, sizeof options_text,
                 "{path: \"@LEDGER@.db\", busy_timeout_ms: 300}");
}

/* options_text with @LEDGER@ replaced by ledger. */
static void expand_options(char *out, size_t len)
{
    const char *src = options_text, *at;
    size_t used = 0;
    out[0] = '\0';
    while ((at = strstr(src, "@LEDGER@")) != NULL) {
        used += (size_t)snprintf(out + used, len - used, "%.*s%s",
                                 (int)(at - src), src, ledger);
        ck_assert_uint_lt(used, len);
        src = at + 8;
    }
    snprintf(out + used, len - used, "%s", src);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    static int counter;
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/capalloc-storage-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(ledger, sizeof ledger, "ck_%ld_%d_%ld", (long)getpid(),
             ++counter, (long)(time(NULL) % 100000));

    char opts[2300], yaml[4096], path[300];
    expand_options(opts, sizeof opts);
    snprintf(yaml, sizeof yaml,
             "master_portfolio_id: \"0\"\ncurrency: USD\n"
             "plugin_dir: %s/plugins/.libs\n"
             "storage:\n  plugin: \"%s\"\n  options: %s\n",
             TEST_BUILDDIR, backend, opts);
    snprintf(path, sizeof path, "%s/capalloc.yaml", tmp);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(yaml, f);
    ck_assert_int_eq(fclose(f), 0);
    cap_error e = {0, ""};
    cfg = NULL;
    ck_assert_msg(config_load(path, &cfg, &e) == 0, "config_load: %s", e.msg);
}

static void teardown(void)
{
    config_free(cfg);
    cfg = NULL;
    nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- instances and calls -------------------------------------------- */

typedef struct inst {
    loaded_plugin *p;
    const capalloc_storage_plugin *sp;
    void *st;
} inst;

static inst open_inst(void)
{
    inst i = {NULL, NULL, NULL};
    cap_error e = {0, ""};
    ck_assert_msg(plugin_start(cfg, &cfg->storage, "sqlite",
                               CAPALLOC_KIND_STORAGE, "storage", &i.p, &e) == 0,
                  "starting storage '%s': %s", backend, e.msg);
    i.sp = (const capalloc_storage_plugin *)i.p->hdr;
    i.st = i.p->state;
    return i;
}

static void close_inst(inst *i)
{
    plugin_close(i->p);
    i->p = NULL;
}

static capalloc_err err;

#define OK(call)                                                             \
    do {                                                                     \
        memset(&err, 0, sizeof err);                                         \
        capalloc_status st_ = (call);                                        \
        ck_assert_msg(st_ == CAPALLOC_OK, "%s: status %d: %s", #call, st_,   \
                      err.msg);                                              \
    } while (0)

#define EXPECT(call, want)                                                   \
    do {                                                                     \
        memset(&err, 0, sizeof err);                                         \
        capalloc_status st_ = (call);                                        \
        ck_assert_msg(st_ == (want), "%s: status %d, want %d: %s", #call,    \
                      st_, (want), err.msg);                                 \
    } while (0)

static capalloc_dec D(const char *text)
{
    capalloc_dec d;
    ck_assert_msg(dec_parse(text, &d) == 0, "bad decimal %s", text);
    return d;
}

/* What read_ledger returned, as text: "id=cash;" ... "id/ticker=qty;". */
typedef struct seen {
    char text[16384];
    size_t used;
    int n_cash, n_pos;
} seen;

static capalloc_status sink_cash(void *ctx, const char *id, capalloc_dec c)
{
    seen *s = ctx;
    char b[CAPALLOC_DEC_MAX_TEXT];
    s->used += (size_t)snprintf(s->text + s->used, sizeof s->text - s->used,
                                "%s=%s;", id, dec_format(c, 0, b, sizeof b));
    s->n_cash++;
    return CAPALLOC_OK;
}

static capalloc_status sink_pos(void *ctx, const char *id, const char *ticker,
                                capalloc_dec q)
{
    seen *s = ctx;
    char b[CAPALLOC_DEC_MAX_TEXT];
    s->used += (size_t)snprintf(s->text + s->used, sizeof s->text - s->used,
                                "%s/%s=%s;", id, ticker,
                                dec_format(q, 0, b, sizeof b));
    s->n_pos++;
    return CAPALLOC_OK;
}

/* The whole ledger in one read transaction. */
static const char *read_all(inst *i)
{
    static seen s;
    memset(&s, 0, sizeof s);
    capalloc_ledger_sink sink = {&s, sink_cash, sink_pos};
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->read_ledger(i->st, &sink, &err));
    OK(i->sp->commit(i->st, &err));
    return s.text;
}

/* A capital movement batch: one trade and the master's new balance. */
static capalloc_status write_add(inst *i, const char *amount,
                                 const char *after)
{
    capalloc_trade t = {"0", "USD_CASH", CAPALLOC_BUY, D(amount), D("1"),
                        D("1")};
    capalloc_cash_row c = {"0", D(after)};
    capalloc_write_batch b = {"ADD", NULL, 0, "USD", &t, 1, &c, 1, NULL, 0, NULL};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

/* An allocation: master pays 30000/30000/40000 out of 100000. */
static capalloc_status write_alloc(inst *i, const char *date, int forced)
{
    capalloc_trade t[6] = {
        {"0", "USD_CASH", CAPALLOC_SELL, D("30000"), D("1"), D("1")},
        {"1", "USD_CASH", CAPALLOC_BUY, D("30000"), D("1"), D("1")},
        {"0", "USD_CASH", CAPALLOC_SELL, D("30000"), D("1"), D("1")},
        {"2", "USD_CASH", CAPALLOC_BUY, D("30000"), D("1"), D("1")},
        {"0", "USD_CASH", CAPALLOC_SELL, D("40000"), D("1"), D("1")},
        {"3", "USD_CASH", CAPALLOC_BUY, D("40000"), D("1"), D("1")}};
    capalloc_cash_row c[4] = {{"0", D("0")},
                              {"1", D("30000")},
                              {"2", D("30000")},
                              {"3", D("40000")}};
    capalloc_write_batch b = {"ALLOCATE", date, forced, "USD", t, 6, c, 4,
                              NULL, 0, NULL};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; /* timing only */
}

/* ---- reading the tables behind the API (known backends only) --------- */

/* Rows of trade_execution_logs in log order,
 * "portfolio|ticker|side|quantity|arrival|exec\n"; NULL for a backend
 * this suite cannot look into. */
static const char *trade_rows(void)
{
    static char buf[8192];
#define TRADE_SQL(prefix)                                                    \
    "SELECT portfolio_id, ticker, side, quantity, arrival_price,"            \
    " exec_price FROM " prefix "trade_execution_logs ORDER BY log_id"
    char sql[512];
    buf[0] = '\0';
    size_t used = 0;
#if CAPALLOC_HAVE_SQLITE
    if (is_backend("sqlite")) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.db", tmp, ledger);
        snprintf(sql, sizeof sql, "%s", TRADE_SQL(""));
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                         SQLITE_OK);
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < 6; c++)
                used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                         sqlite3_column_text(st, c),
                                         c == 5 ? "\n" : "|");
        sqlite3_finalize(st);
        sqlite3_close(db);
        return buf;
    }
#endif
#if TEST_WITH_LIBPQ
    if (is_backend("postgres")) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s.", ledger); /* our own name */
        snprintf(sql, sizeof sql, TRADE_SQL("%s"), prefix);
        /* the conninfo the backend was given (CAPALLOC_STORAGE_OPTIONS),
         * expanded as the plugin expands it; none: the PG* variables */
        const cfg_node *ci = cfg_get(cfg->storage.options, "conninfo", NULL);
        const char *keys[] = {"dbname", NULL};
        const char *vals[] = {ci && ci->kind == CFG_SCALAR && ci->value
                                  ? ci->value
                                  : "",
                              NULL};
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connecting: %s",
                      PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s",
                      PQerrorMessage(c));
        for (int row = 0; row < PQntuples(r); row++)
            for (int col = 0; col < 6; col++)
                used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                         PQgetvalue(r, row, col),
                                         col == 5 ? "\n" : "|");
        PQclear(r);
        PQfinish(c);
        return buf;
    }
#endif
    return NULL;
}

/* ---- the tests -------------------------------------------------------- */

START_TEST(fresh_schema)
{
    inst a = open_inst();
    ck_assert_str_eq(read_all(&a), "");
    int found = 1;
    capalloc_run_info ri;
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->find_run(a.st, "2025-01-02", &ri, &found, &err));
    ck_assert_int_eq(found, 0);
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);
}
END_TEST

START_TEST(reopen_existing)
{
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);
    /* a new instance on the same ledger: schema found, data kept */
    inst b = open_inst();
    ck_assert_str_eq(read_all(&b), "0=100000;");
    close_inst(&b);
    inst c = open_inst();
    ck_assert_str_eq(read_all(&c), "0=100000;");
    close_inst(&c);
}
END_TEST

START_TEST(exact_round_trip)
{
    static const char *const amounts[] = {
        "9223372036854.775807", "0.000001", "123456789.123456",
        "0.1", "7.01", "1000000000000", "0"};
    enum { N = sizeof amounts / sizeof amounts[0] };
    capalloc_cash_row c[N];
    capalloc_position_row p[N];
    char ids[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "p%d", i);
        c[i] = (capalloc_cash_row){ids[i], D(amounts[i])};
        p[i] = (capalloc_position_row){ids[i], "TICK\"ER'\\1", D(amounts[i])};
    }
    /* the last position has quantity 0: it is not stored */
    capalloc_write_batch b = {"IMPORT", NULL, 0, "USD", NULL, 0, c, N, p, N, NULL};
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(a.sp->write(a.st, &b, &err));
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);

    inst r = open_inst();
    ck_assert_str_eq(
        read_all(&r),
        "p0=9223372036854.775807;p1=0.000001;p2=123456789.123456;p3=0.1;"
        "p4=7.01;p5=1000000000000;p6=0;"
        "p0/TICK\"ER'\\1=9223372036854.775807;p1/TICK\"ER'\\1=0.000001;"
        "p2/TICK\"ER'\\1=123456789.123456;p3/TICK\"ER'\\1=0.1;"
        "p4/TICK\"ER'\\1=7.01;p5/TICK\"ER'\\1=1000000000000;");

    /* a quantity of zero removes a held position; others are replaced */
    capalloc_position_row z[2] = {{"p1", "TICK\"ER'\\1", D("0")},
                                  {"p2", "TICK\"ER'\\1", D("-5.5")}};
    capalloc_write_batch bz = {"IMPORT", NULL, 0, "USD", NULL, 0, NULL, 0,
                               z, 2, NULL};
    OK(r.sp->begin(r.st, CAPALLOC_TXN_WRITE, &err));
    OK(r.sp->write(r.st, &bz, &err));
    OK(r.sp->commit(r.st, &err));
    const char *after = read_all(&r);
    ck_assert_ptr_null(strstr(after, "p1/"));
    ck_assert_ptr_nonnull(strstr(after, "p2/TICK\"ER'\\1=-5.5;"));
    close_inst(&r);
}
END_TEST

START_TEST(rollback_leaves_nothing)
{
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(read_all(&a), "");

    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc(&a, "2025-03-04", 0));
    OK(a.sp->rollback(a.st, &err));
    /* rollback again, with nothing open: harmless */
    OK(a.sp->rollback(a.st, &err));
    int found = 1;
    capalloc_run_info ri;
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->find_run(a.st, "2025-03-04", &ri, &found, &err));
    ck_assert_int_eq(found, 0);
    OK(a.sp->commit(a.st, &err));

    /* an instance destroyed mid-transaction keeps nothing either */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "5", "5"));
    close_inst(&a);
    inst b = open_inst();
    ck_assert_str_eq(read_all(&b), "");
    if (trade_rows() != NULL)
        ck_assert_str_eq(trade_rows(), "");
    close_inst(&b);
}
END_TEST

START_TEST(calls_outside_a_transaction)
{
    inst a = open_inst();
    capalloc_run_info ri;
    int found;
    EXPECT(write_add(&a, "1", "1"), CAPALLOC_ERR_INTERNAL);
    ck_assert_msg(err.msg[0] != '\0', "no message");
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    EXPECT(write_add(&a, "1", "1"), CAPALLOC_ERR_INTERNAL);
    ck_assert_msg(strstr(err.msg, "read transaction") != NULL, "%s", err.msg);
    OK(a.sp->rollback(a.st, &err));
    EXPECT(a.sp->find_run(a.st, "2025-01-01", &ri, &found, &err),
           CAPALLOC_ERR_INTERNAL);
    EXPECT(a.sp->commit(a.st, &err), CAPALLOC_ERR_INTERNAL);
    ck_assert_str_eq(read_all(&a), "");
    close_inst(&a);
}
END_TEST

START_TEST(concurrent_writer_guard)
{
    inst a = open_inst();
    inst b = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100", "100"));
    double t0 = now_s();
    EXPECT(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err), CAPALLOC_ERR_BUSY);
    double waited = now_s() - t0;
    ck_assert_msg(waited >= 0.2, "the second writer gave up after %.3f s, "
                                 "before its lock timeout", waited);
    ck_assert_msg(strstr(err.msg, "locked") != NULL, "%s", err.msg);
    OK(b.sp->rollback(b.st, &err));
    /* a reader is not blocked and does not see the uncommitted write */
    ck_assert_str_eq(read_all(&b), "");
    OK(a.sp->commit(a.st, &err));
    /* the lock is free again, and the next writer sees the commit */
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    seen s;
    memset(&s, 0, sizeof s);
    capalloc_ledger_sink sink = {&s, sink_cash, sink_pos};
    OK(b.sp->read_ledger(b.st, &sink, &err));
    ck_assert_str_eq(s.text, "0=100;");
    OK(write_add(&b, "1", "101"));
    OK(b.sp->commit(b.st, &err));
    ck_assert_str_eq(read_all(&a), "0=101;");
    close_inst(&a);
    close_inst(&b);
}
END_TEST

START_TEST(one_run_per_date)
{
    inst a = open_inst();
    inst b = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(write_alloc(&a, "2025-06-30", 0));
    OK(a.sp->commit(a.st, &err));

    /* the same date again, not forced, from another instance: refused by
     * the backend itself (not only by find_run) */
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_alloc(&b, "2025-06-30", 0), CAPALLOC_ERR_EXISTS);
    ck_assert_msg(strstr(err.msg, "2025-06-30") != NULL, "%s", err.msg);
    OK(b.sp->rollback(b.st, &err));
    ck_assert_str_eq(read_all(&b), "0=0;1=30000;2=30000;3=40000;");

    /* another date is fine; forced repeats are recorded as such */
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc(&b, "2025-07-01", 0));
    OK(b.sp->commit(b.st, &err));
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc(&b, "2025-06-30", 1));
    OK(b.sp->commit(b.st, &err));
    close_inst(&a);
    close_inst(&b);
}
END_TEST

START_TEST(find_run_by_date)
{
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(write_alloc(&a, "2025-02-28", 0));
    OK(a.sp->commit(a.st, &err));

    capalloc_run_info ri;
    int found = 0;
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->find_run(a.st, "2025-02-28", &ri, &found, &err));
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(ri.run_date, "2025-02-28");
    ck_assert_int_eq(ri.n_trades, 6);
    /* ISO 8601 UTC: 2025-02-28T10:11:12...Z */
    ck_assert_msg(strlen(ri.created_at) >= 20 && ri.created_at[4] == '-' &&
                      ri.created_at[10] == 'T' &&
                      ri.created_at[strlen(ri.created_at) - 1] == 'Z',
                  "created_at '%s'", ri.created_at);
    int64_t first = ri.run_id;
    OK(a.sp->find_run(a.st, "2025-03-01", &ri, &found, &err));
    ck_assert_int_eq(found, 0);
    OK(a.sp->find_run(a.st, "2025-02-27", &ri, &found, &err));
    ck_assert_int_eq(found, 0);
    OK(a.sp->commit(a.st, &err));

    /* a forced repeat: find_run reports the latest run of the date */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    capalloc_write_batch b = {"ALLOCATE", "2025-02-28", 1, "USD", NULL, 0,
                              NULL, 0, NULL, 0, NULL};
    OK(a.sp->write(a.st, &b, &err));
    OK(a.sp->commit(a.st, &err));
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->find_run(a.st, "2025-02-28", &ri, &found, &err));
    ck_assert_int_eq(found, 1);
    ck_assert_int_gt(ri.run_id, first);
    ck_assert_int_eq(ri.n_trades, 0);
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);
}
END_TEST

START_TEST(ledger_rows_in_design_shape)
{
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(write_alloc(&a, "2025-05-05", 0));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(read_all(&a), "0=0;1=30000;2=30000;3=40000;");
    close_inst(&a);
    const char *rows = trade_rows();
    if (rows == NULL)
        return; /* a custom backend: its tables are its own business */
    ck_assert_str_eq(rows, "0|USD_CASH|BUY|100000.00|1.00|1.00\n"
                           "0|USD_CASH|SELL|30000.00|1.00|1.00\n"
                           "1|USD_CASH|BUY|30000.00|1.00|1.00\n"
                           "0|USD_CASH|SELL|30000.00|1.00|1.00\n"
                           "2|USD_CASH|BUY|30000.00|1.00|1.00\n"
                           "0|USD_CASH|SELL|40000.00|1.00|1.00\n"
                           "3|USD_CASH|BUY|40000.00|1.00|1.00\n");
}
END_TEST

START_TEST(currency_of_a_book_kept)
{
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "10", "10"));
    OK(a.sp->commit(a.st, &err));
    capalloc_cash_row c = {"0", D("20")};
    capalloc_write_batch b = {"ADD", NULL, 0, "EUR", NULL, 0, &c, 1, NULL, 0, NULL};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(a.sp->write(a.st, &b, &err), CAPALLOC_ERR_IO);
    ck_assert_msg(strstr(err.msg, "EUR") != NULL, "%s", err.msg);
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(read_all(&a), "0=10;");
    close_inst(&a);
}
END_TEST

/* postgres only: start the backend with this conninfo (and options);
 * returns plugin_start's exit code, its message in e. */
static int start_pg_with(const char *conninfo, const char *more, cap_error *e)
{
    config_free(cfg);
    cfg = NULL;
    char yaml[1536], path[300];
    snprintf(yaml, sizeof yaml,
             "master_portfolio_id: \"0\"\ncurrency: USD\n"
             "plugin_dir: %s/plugins/.libs\n"
             "storage:\n  plugin: postgres\n  options:\n"
             "    conninfo: \"%s\"\n%s",
             TEST_BUILDDIR, conninfo, more);
    snprintf(path, sizeof path, "%s/capalloc.yaml", tmp);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(yaml, f);
    fclose(f);
    memset(e, 0, sizeof *e);
    ck_assert_int_eq(config_load(path, &cfg, e), 0);
    loaded_plugin *p = NULL;
    int rc = plugin_start(cfg, &cfg->storage, "sqlite", CAPALLOC_KIND_STORAGE,
                          "storage", &p, e);
    plugin_close(p);
    return rc;
}

/* postgres only: a password in conninfo never reaches a message. */
START_TEST(pg_password_never_shown)
{
    cap_error e;
    char ci[600];
    snprintf(ci, sizeof ci,
             "host=%s/nonexistent port=1 user=x password=Sekr1tPw "
             "connect_timeout=2",
             tmp);
    ck_assert_int_eq(start_pg_with(ci, "", &e), CAP_EXIT_STORAGE);
    ck_assert_msg(strstr(e.msg, "cannot connect") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "Sekr1tPw") == NULL, "password shown: %s",
                  e.msg);
}
END_TEST

/* postgres only: a malformed URI is a config error (exit 3) at the key
 * conninfo, and libpq's parse error - which quotes the URI or the bad
 * token, password included - is never shown. */
START_TEST(pg_malformed_conninfo)
{
    static const char *const bad[] = {
        "postgresql://u:Hunter2@[::1/db",
        "postgresql://u:Hun%zzter2@host/db",
        "postgresql://u:Hunter2@host/db?nosuchoption=1",
        "host=x password=Hunter2 'unterminated",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cap_error e;
        int rc = start_pg_with(bad[i], "", &e);
        ck_assert_msg(rc == CAP_EXIT_CONFIG, "%s: exit %d, want %d: %s",
                      bad[i], rc, CAP_EXIT_CONFIG, e.msg);
        ck_assert_msg(strstr(e.msg, "conninfo") != NULL, "%s", e.msg);
        ck_assert_msg(strstr(e.msg, "Hunter2") == NULL &&
                          strstr(e.msg, "Hun%zz") == NULL &&
                          strstr(e.msg, "zzter2") == NULL,
                      "%s: password shown: %s", bad[i], e.msg);
    }
}
END_TEST

/* postgres only: the safety net - a server message that happens to hold
 * the password (here the name of a database that does not exist) shows
 * *** in its place. */
START_TEST(pg_password_masked_in_server_messages)
{
    cap_error e;
    int rc = start_pg_with("dbname=Pw9Secret password=Pw9Secret", "", &e);
    ck_assert_msg(rc == CAP_EXIT_STORAGE, "exit %d: %s", rc, e.msg);
    ck_assert_msg(strstr(e.msg, "Pw9Secret") == NULL, "password shown: %s",
                  e.msg);
    ck_assert_msg(strstr(e.msg, "***") != NULL, "not masked: %s", e.msg);
}
END_TEST

static Suite *storage_suite(void)
{
    static char name[600];
    snprintf(name, sizeof name, "storage conformance: %s", backend);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fresh_schema);
    tcase_add_test(tc, reopen_existing);
    tcase_add_test(tc, exact_round_trip);
    tcase_add_test(tc, rollback_leaves_nothing);
    tcase_add_test(tc, calls_outside_a_transaction);
    tcase_add_test(tc, concurrent_writer_guard);
    tcase_add_test(tc, one_run_per_date);
    tcase_add_test(tc, find_run_by_date);
    tcase_add_test(tc, ledger_rows_in_design_shape);
    tcase_add_test(tc, currency_of_a_book_kept);
    if (is_backend("postgres")) {
        tcase_add_test(tc, pg_password_never_shown);
        tcase_add_test(tc, pg_malformed_conninfo);
        tcase_add_test(tc, pg_password_masked_in_server_messages);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    pick_backend();
    host_set_verbosity(CAPALLOC_LOG_WARNING);
    SRunner *sr = srunner_create(storage_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
