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

/* What read_ledger returned, as text: "id=cash;" ... "id/ticker=qty;",
 * cash rows by id, then positions by id and ticker (the backend returns
 * them in no particular order: the core sorts). */
typedef struct seen_row {
    int pos;
    char id[64], ticker[64], qty[CAPALLOC_DEC_MAX_TEXT];
} seen_row;

typedef struct seen {
    char text[16384];
    seen_row rows[128];
    int n_cash, n_pos;
} seen;

static capalloc_status sink_cash(void *ctx, const char *id, capalloc_dec c)
{
    seen *s = ctx;
    ck_assert_int_lt(s->n_cash + s->n_pos, 128);
    seen_row *r = &s->rows[s->n_cash + s->n_pos];
    r->pos = 0;
    snprintf(r->id, sizeof r->id, "%s", id);
    dec_format(c, 0, r->qty, sizeof r->qty);
    s->n_cash++;
    return CAPALLOC_OK;
}

static capalloc_status sink_pos(void *ctx, const char *id, const char *ticker,
                                capalloc_dec q)
{
    seen *s = ctx;
    ck_assert_int_lt(s->n_cash + s->n_pos, 128);
    seen_row *r = &s->rows[s->n_cash + s->n_pos];
    r->pos = 1;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->ticker, sizeof r->ticker, "%s", ticker);
    dec_format(q, 0, r->qty, sizeof r->qty);
    s->n_pos++;
    return CAPALLOC_OK;
}

static int cmp_seen(const void *a, const void *b)
{
    const seen_row *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos - y->pos;
    int c = strcmp(x->id, y->id);
    return c != 0 ? c : strcmp(x->ticker, y->ticker);
}

/* The rows seen, sorted, as text. */
static const char *seen_text(seen *s)
{
    int n = s->n_cash + s->n_pos;
    size_t used = 0;
    qsort(s->rows, (size_t)n, sizeof *s->rows, cmp_seen);
    s->text[0] = '\0';
    for (int k = 0; k < n; k++) {
        const seen_row *r = &s->rows[k];
        used += (size_t)snprintf(s->text + used, sizeof s->text - used,
                                 r->pos ? "%s/%s=%s;" : "%s%s=%s;", r->id,
                                 r->pos ? r->ticker : "", r->qty);
    }
    return s->text;
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
    return seen_text(&s);
}

/* A capital movement batch: one trade and the master's new balance. */
static capalloc_status write_add(inst *i, const char *amount,
                                 const char *after)
{
    capalloc_trade t = {"0", "USD_CASH", CAPALLOC_BUY, D(amount), D("1"),
                        D("1")};
    capalloc_cash_row c = {"0", D(after)};
    capalloc_write_batch b = {"ADD", NULL, 0, "USD", &t, 1, &c, 1, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

/* A capital movement with the investor's reference (ABI 1.2). */
static capalloc_status write_ref(inst *i, const char *action,
                                 const char *amount, const char *after,
                                 const char *ref)
{
    capalloc_trade t = {"0", "USD_CASH",
                        strcmp(action, "ADD") == 0 ? CAPALLOC_BUY
                                                   : CAPALLOC_SELL,
                        D(amount), D("1"), D("1")};
    capalloc_cash_row c = {"0", D(after)};
    capalloc_write_batch b = {action, NULL, 0, "USD", &t, 1, &c, 1,
                              NULL, 0, NULL, ref, NULL, NULL, NULL, NULL, NULL, 0};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

/* find_reference as text: "ACTION AMOUNT run_id" or "none". */
static const char *ref_of(inst *i, const char *ref)
{
    static char out[128];
    capalloc_capital_ref r;
    memset(&r, 0x5a, sizeof r);
    int found = -1;
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->find_reference(i->st, ref, &r, &found, &err));
    OK(i->sp->commit(i->st, &err));
    ck_assert_int_ne(found, -1);
    if (!found)
        return "none";
    char b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_eq(r.created_at[19], '.'); /* ISO 8601 with ms */
    snprintf(out, sizeof out, "%s %s %lld", r.action,
             dec_format(r.amount, 0, b, sizeof b), (long long)r.run_id);
    return out;
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
                              NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
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

/* sql with every "{S}." replaced by the ledger's schema ("ck_...." on
 * postgres, "" on sqlite). */
static void qualify(const char *sql, char *out, size_t len)
{
    char prefix[80] = "";
    if (is_backend("postgres"))
        snprintf(prefix, sizeof prefix, "%s.", ledger); /* our own name */
    size_t used = 0;
    const char *src = sql, *at;
    out[0] = '\0';
    while ((at = strstr(src, "{S}.")) != NULL) {
        used += (size_t)snprintf(out + used, len - used, "%.*s%s",
                                 (int)(at - src), src, prefix);
        ck_assert_uint_lt(used, len);
        src = at + 4;
    }
    snprintf(out + used, len - used, "%s", src);
}

#if TEST_WITH_LIBPQ
/* A connection where the backend writes: the conninfo it was given
 * (CAPALLOC_STORAGE_OPTIONS), expanded as the plugin expands it; none:
 * the PG* variables. */
static PGconn *pg_connect(void)
{
    const cfg_node *ci = cfg_get(cfg->storage.options, "conninfo", NULL);
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {ci && ci->kind == CFG_SCALAR && ci->value ? ci->value
                                                                     : "",
                          NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connecting: %s",
                  PQerrorMessage(c));
    return c;
}
#endif

/* Run sql ({S}. for the schema) on the ledger behind the backend's back:
 * its rows as "a|b|c\n" (NULL as "NULL"), or NULL for a backend this suite
 * cannot look into. Several statements may be given when none returns
 * rows; on postgres they run as one transaction. */
static const char *db_query(const char *sql_tmpl)
{
    static char buf[65536];
    char sql[16384];
    qualify(sql_tmpl, sql, sizeof sql);
    buf[0] = '\0';
    size_t used = 0;
#if CAPALLOC_HAVE_SQLITE
    if (is_backend("sqlite")) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.db", tmp, ledger);
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
                                         NULL),
                         SQLITE_OK);
        const char *rest = sql;
        while (*rest) {
            sqlite3_stmt *st = NULL;
            ck_assert_msg(sqlite3_prepare_v2(db, rest, -1, &st, &rest) ==
                              SQLITE_OK,
                          "%s: %s", rest, sqlite3_errmsg(db));
            if (st == NULL)
                break;
            int rc;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int n = sqlite3_column_count(st);
                for (int c = 0; c < n; c++) {
                    const unsigned char *t = sqlite3_column_text(st, c);
                    used += (size_t)snprintf(buf + used, sizeof buf - used,
                                             "%s%s", t ? (const char *)t
                                                       : "NULL",
                                             c == n - 1 ? "\n" : "|");
                }
            }
            ck_assert_msg(rc == SQLITE_DONE, "%s", sqlite3_errmsg(db));
            sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return buf;
    }
#endif
#if TEST_WITH_LIBPQ
    if (is_backend("postgres")) {
        PGconn *c = pg_connect();
        PGresult *r = PQexec(c, sql);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK ||
                          PQresultStatus(r) == PGRES_COMMAND_OK,
                      "%s: %s", sql, PQerrorMessage(c));
        for (int row = 0; row < PQntuples(r); row++)
            for (int col = 0; col < PQnfields(r); col++)
                used += (size_t)snprintf(
                    buf + used, sizeof buf - used, "%s%s",
                    PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col),
                    col == PQnfields(r) - 1 ? "\n" : "|");
        PQclear(r);
        PQfinish(c);
        return buf;
    }
#endif
    return NULL;
}

/* Rows of trade_execution_logs in log order,
 * "portfolio|ticker|side|quantity|arrival|exec\n"; NULL for a backend
 * this suite cannot look into. */
static const char *trade_rows(void)
{
    return db_query("SELECT portfolio_id, ticker, side, quantity,"
                    " arrival_price, exec_price FROM {S}.trade_execution_logs"
                    " ORDER BY log_id");
}

/* ---- the tests -------------------------------------------------------- */

/* The record sink and queries (see "the run's record" below). */
typedef struct rec_seen rec_seen;
static capalloc_status rec_run(void *ctx, const capalloc_run_info *info,
                               const char *action, int forced,
                               const char *version, const char *detail);
static capalloc_status rec_val(void *ctx, const capalloc_valuation *v);
static capalloc_status rec_price(void *ctx, const capalloc_price_row *p);
static const capalloc_history_query ALL_ROWS;

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
    capalloc_write_batch b = {"IMPORT", NULL, 0, "USD", NULL, 0, c, N, p, N, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
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
                               z, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
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
    static rec_seen *r; /* never written: the calls must refuse first */
    capalloc_record_sink sink = {r, rec_run, rec_val, rec_price};
    EXPECT(a.sp->read_history(a.st, &ALL_ROWS, &sink, &err),
           CAPALLOC_ERR_INTERNAL);
    EXPECT(a.sp->read_run(a.st, 1, &sink, &found, &err),
           CAPALLOC_ERR_INTERNAL);
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
    ck_assert_str_eq(seen_text(&s), "0=100;");
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

/* read_cash (ABI 1.1): the named books only, in a write transaction
 * locked (and on postgres nothing else is). */
START_TEST(read_cash_named_books)
{
    inst a = open_inst();
    ck_assert_msg(CAPALLOC_HAS_FIELD(a.sp->header.struct_size,
                                     capalloc_storage_plugin, read_cash) &&
                      a.sp->read_cash != NULL,
                  "backend %s has no read_cash", backend);
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(write_alloc(&a, "2025-02-28", 0));
    OK(a.sp->commit(a.st, &err));

    static seen s;
    memset(&s, 0, sizeof s);
    capalloc_ledger_sink sink = {&s, sink_cash, NULL};
    const char *ids[] = {"3", "nobody", "0"};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->read_cash(a.st, ids, 3, &sink, &err));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(seen_text(&s), "0=0;3=40000;");

    memset(&s, 0, sizeof s);
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(a.sp->read_cash(a.st, ids + 2, 1, &sink, &err));
    ck_assert_str_eq(seen_text(&s), "0=0;");
    if (is_backend("postgres"))
        /* another session can lock every book but the master's */
        ck_assert_str_eq(db_query("SELECT portfolio_id FROM {S}.cash_equity_book"
                                  " ORDER BY 1 FOR UPDATE SKIP LOCKED"),
                         "1\n2\n3\n");
    OK(write_add(&a, "5", "5"));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(read_all(&a), "0=5;1=30000;2=30000;3=40000;");

    /* no ids: no rows */
    memset(&s, 0, sizeof s);
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->read_cash(a.st, NULL, 0, &sink, &err));
    OK(a.sp->commit(a.st, &err));
    ck_assert_int_eq(s.n_cash, 0);
    close_inst(&a);
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
                              NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
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
    capalloc_write_batch b = {"ADD", NULL, 0, "EUR", NULL, 0, &c, 1, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(a.sp->write(a.st, &b, &err), CAPALLOC_ERR_IO);
    ck_assert_msg(strstr(err.msg, "EUR") != NULL, "%s", err.msg);
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(read_all(&a), "0=10;");
    close_inst(&a);
}
END_TEST

/* ---- capital references (ABI 1.2) ------------------------------------ */

/* The backend keeps a reference once, under a unique key: a second batch
 * with it is refused (EXISTS) whatever its action or amount, and nothing
 * of it is written; find_reference reports the booked movement. */
START_TEST(reference_booked_once)
{
    inst a = open_inst();
    ck_assert_ptr_nonnull(a.sp->find_reference);
    ck_assert_str_eq(ref_of(&a, "pay-1"), "none");
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_ref(&a, "ADD", "100.25", "100.25", "pay-1"));
    OK(write_ref(&a, "WITHDRAW", "0.25", "100", "pay-2"));
    OK(write_add(&a, "1", "101")); /* no reference: any number of them */
    OK(write_add(&a, "1", "102"));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(ref_of(&a, "pay-1"), "ADD 100.25 1");
    ck_assert_str_eq(ref_of(&a, "pay-2"), "WITHDRAW 0.25 2");
    ck_assert_str_eq(ref_of(&a, "PAY-1"), "none"); /* exact, case and all */

    /* the same reference again: same movement, or another one */
    static const struct {
        const char *action, *amount;
    } again[] = {{"ADD", "100.25"}, {"ADD", "7"}, {"WITHDRAW", "100.25"}};
    for (size_t k = 0; k < sizeof again / sizeof again[0]; k++) {
        OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
        EXPECT(write_ref(&a, again[k].action, again[k].amount, "999", "pay-1"),
               CAPALLOC_ERR_EXISTS);
        ck_assert_msg(strstr(err.msg, "pay-1") != NULL, "%s", err.msg);
        OK(a.sp->rollback(a.st, &err));
    }
    ck_assert_str_eq(read_all(&a), "0=102;");
    ck_assert_str_eq(ref_of(&a, "pay-1"), "ADD 100.25 1");

    /* a reference belongs to a capital movement, of 1 to 128 bytes */
    char long_ref[CAPALLOC_REF_MAX + 2];
    memset(long_ref, 'x', sizeof long_ref - 1);
    long_ref[sizeof long_ref - 1] = '\0';
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_ref(&a, "ADD", "1", "103", long_ref), CAPALLOC_ERR_INTERNAL);
    EXPECT(write_ref(&a, "ADD", "1", "103", ""), CAPALLOC_ERR_INTERNAL);
    capalloc_write_batch alloc = {"ALLOCATE", "2025-01-02", 0, "USD", NULL, 0,
                                  NULL, 0, NULL, 0, NULL, "pay-3", NULL, NULL, NULL, NULL, NULL, 0};
    EXPECT(a.sp->write(a.st, &alloc, &err), CAPALLOC_ERR_INTERNAL);
    long_ref[CAPALLOC_REF_MAX] = '\0'; /* 128 bytes: kept */
    OK(write_ref(&a, "ADD", "1", "103", long_ref));
    OK(a.sp->commit(a.st, &err));
    /* (postgres numbers runs from a sequence the refused ones used) */
    ck_assert_msg(strncmp(ref_of(&a, long_ref), "ADD 1 ", 6) == 0, "%s",
                  ref_of(&a, long_ref));
    close_inst(&a);
}
END_TEST

/* Two writers with one reference: the second, which looked before the
 * first committed, is refused by the unique key at its own write. The
 * backend's lock normally serializes them; this is the guard behind it.
 * (sqlite's lock makes the interleaving impossible: there the second
 * writer is refused at begin until the first commits.) */
START_TEST(reference_unique_key_is_the_guard)
{
    inst a = open_inst();
    inst b = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_ref(&a, "ADD", "50", "50", "retry-7"));
    OK(a.sp->commit(a.st, &err));
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_ref(&b, "ADD", "50", "100", "retry-7"), CAPALLOC_ERR_EXISTS);
    OK(b.sp->rollback(b.st, &err));
    ck_assert_str_eq(read_all(&a), "0=50;");
    if (is_backend("sqlite") || is_backend("postgres"))
        ck_assert_str_eq(db_query("SELECT count(*) FROM {S}.capalloc_runs"
                                  " WHERE reference = 'retry-7'"),
                         "1\n");
    close_inst(&a);
    close_inst(&b);
}
END_TEST

/* ---- queued redemptions (ABI 1.2) -------------------------------------- */

static capalloc_status red_line(void *ctx, const capalloc_redemption *r)
{
    seen *s = ctx;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_eq(r->queued_at[19], '.');
    ck_assert_int_eq(r->updated_at[19], '.');
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used,
                                "%lld %u %s/%s %s;", (long long)r->id,
                                (unsigned)r->state,
                                dec_format(r->paid, 0, a, sizeof a),
                                dec_format(r->amount, 0, b, sizeof b),
                                r->reference ? r->reference : "-");
    return CAPALLOC_OK;
}

/* "id state paid/amount ref;" for every redemption (open_only: queued). */
static const char *reds(inst *i, int open_only)
{
    static seen s;
    memset(&s, 0, sizeof s);
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->read_redemptions(i->st, open_only, red_line, &s, &err));
    OK(i->sp->commit(i->st, &err));
    return s.text;
}

static capalloc_status red_op(inst *i, uint32_t kind, int64_t id,
                              const char *amount, const char *ref,
                              int64_t *id_out)
{
    capalloc_redemption_op o = {kind, id, amount ? D(amount) : DEC_ZERO, ref};
    memset(&err, 0, sizeof err);
    return i->sp->redemption_op(i->st, &o, id_out, &err);
}

/* Queue, pay in parts, pay in full, cancel; what is refused changes
 * nothing; a rolled-back payment is not kept. */
START_TEST(redemptions_queue_pay_cancel)
{
    inst a = open_inst();
    ck_assert_ptr_nonnull(a.sp->read_redemptions);
    ck_assert_ptr_nonnull(a.sp->redemption_op);
    ck_assert_str_eq(reds(&a, 0), "");
    int64_t id1 = 0, id2 = 0, id3 = 0;
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(red_op(&a, CAPALLOC_RED_OP_QUEUE, 0, "50000", "inv-1", &id1));
    OK(red_op(&a, CAPALLOC_RED_OP_QUEUE, 0, "0.25", NULL, &id2));
    OK(red_op(&a, CAPALLOC_RED_OP_QUEUE, 0, "10", NULL, &id3));
    OK(a.sp->commit(a.st, &err));
    ck_assert_int_lt(id1, id2);
    ck_assert_int_lt(id2, id3);
    char want[512];
    snprintf(want, sizeof want,
             "%lld 0 0/50000 inv-1;%lld 0 0/0.25 -;%lld 0 0/10 -;",
             (long long)id1, (long long)id2, (long long)id3);
    ck_assert_str_eq(reds(&a, 1), want);

    /* a payment rolled back is not kept */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(red_op(&a, CAPALLOC_RED_OP_PAY, id1, "1", NULL, NULL));
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(reds(&a, 1), want);

    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(red_op(&a, CAPALLOC_RED_OP_PAY, id1, "35000.01", NULL, NULL));
    OK(red_op(&a, CAPALLOC_RED_OP_PAY, id2, "0.25", NULL, NULL));
    OK(red_op(&a, CAPALLOC_RED_OP_CANCEL, id3, NULL, NULL, NULL));
    OK(a.sp->commit(a.st, &err));
    snprintf(want, sizeof want, "%lld 0 35000.01/50000 inv-1;",
             (long long)id1);
    ck_assert_str_eq(reds(&a, 1), want);
    snprintf(want, sizeof want,
             "%lld 0 35000.01/50000 inv-1;%lld 1 0.25/0.25 -;"
             "%lld 2 0/10 -;",
             (long long)id1, (long long)id2, (long long)id3);
    ck_assert_str_eq(reds(&a, 0), want);

    /* refused: above what is owed, paid or cancelled ones, unknown ids,
     * a reference queued before */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(red_op(&a, CAPALLOC_RED_OP_PAY, id1, "14999.98", NULL, NULL));
    OK(a.sp->rollback(a.st, &err));
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(red_op(&a, CAPALLOC_RED_OP_PAY, id1, "14999.991", NULL, NULL),
           CAPALLOC_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "above what is owed") != NULL, "%s",
                  err.msg);
    EXPECT(red_op(&a, CAPALLOC_RED_OP_PAY, id2, "0.01", NULL, NULL),
           CAPALLOC_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "already paid") != NULL, "%s", err.msg);
    EXPECT(red_op(&a, CAPALLOC_RED_OP_CANCEL, id3, NULL, NULL, NULL),
           CAPALLOC_ERR_INVALID);
    EXPECT(red_op(&a, CAPALLOC_RED_OP_CANCEL, 999999, NULL, NULL, NULL),
           CAPALLOC_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "does not exist") != NULL, "%s", err.msg);
    EXPECT(red_op(&a, CAPALLOC_RED_OP_QUEUE, 0, "1", "inv-1", NULL),
           CAPALLOC_ERR_EXISTS);
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(reds(&a, 0), want);

    /* the rest, in full: PAID */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(red_op(&a, CAPALLOC_RED_OP_PAY, id1, "14999.99", NULL, NULL));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(reds(&a, 1), "");
    /* outside a write transaction: refused */
    EXPECT(red_op(&a, CAPALLOC_RED_OP_QUEUE, 0, "1", NULL, NULL),
           CAPALLOC_ERR_INTERNAL);
    close_inst(&a);
}
END_TEST

/* ---- the run's record (ABI 1.1) --------------------------------------- */

/* What a record sink received, one line per call:
 *   "R action|forced|run_date|n_trades|version|detail"
 *   "V run|date|portfolio|flags|cash|pv|nav|weight|target|transfer|shortfall"
 *   "P ticker|price|as_of|flags"
 * The run id is left out of V lines unless keep_run_id (ids differ between
 * backends). */
struct rec_seen {
    char text[65536];
    size_t used;
    int n_run, n_val, n_price;
    int keep_run_id;
    capalloc_run_info info;
};

static void rec_put(rec_seen *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->used, sizeof r->text - r->used, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    r->used += (size_t)n;
    ck_assert_uint_lt(r->used, sizeof r->text);
}

static capalloc_status rec_run(void *ctx, const capalloc_run_info *info,
                               const char *action, int forced,
                               const char *version, const char *detail)
{
    rec_seen *r = ctx;
    r->n_run++;
    r->info = *info;
    rec_put(r, "R %s|%d|%s|%lld|%s|%s\n", action, forced, info->run_date,
            (long long)info->n_trades, version ? version : "NULL",
            detail ? detail : "NULL");
    return CAPALLOC_OK;
}

static capalloc_status rec_val(void *ctx, const capalloc_valuation *v)
{
    rec_seen *r = ctx;
    char b[7][CAPALLOC_DEC_MAX_TEXT];
    r->n_val++;
    if (r->keep_run_id)
        rec_put(r, "V %lld|", (long long)v->run_id);
    else
        rec_put(r, "V ");
    rec_put(r, "%s|%s|%u|%s|%s|%s|%s|%s|%s|%s\n", v->date, v->portfolio_id,
            (unsigned)v->flags, dec_format(v->cash, 0, b[0], sizeof b[0]),
            dec_format(v->positions_value, 0, b[1], sizeof b[1]),
            dec_format(v->nav, 0, b[2], sizeof b[2]),
            dec_format(v->weight, 0, b[3], sizeof b[3]),
            dec_format(v->target, 0, b[4], sizeof b[4]),
            dec_format(v->transfer, 0, b[5], sizeof b[5]),
            dec_format(v->shortfall, 0, b[6], sizeof b[6]));
    return CAPALLOC_OK;
}

static capalloc_status rec_price(void *ctx, const capalloc_price_row *p)
{
    rec_seen *r = ctx;
    char b[CAPALLOC_DEC_MAX_TEXT];
    r->n_price++;
    rec_put(r, "P %s|%s|%lld|%u\n", p->ticker,
            dec_format(p->price, 0, b, sizeof b), (long long)p->as_of,
            (unsigned)p->flags);
    return CAPALLOC_OK;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The lines of text sorted (read_history's order is the backend's). */
static const char *sorted(const char *text)
{
    static char out[65536], copy[65536];
    static char *lines[2048];
    snprintf(copy, sizeof copy, "%s", text);
    size_t n = 0;
    for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
        ck_assert_uint_lt(n, sizeof lines / sizeof lines[0]);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof lines[0], cmp_line);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, sizeof out - used, "%s\n",
                                 lines[i]);
    return out;
}

/* read_history(q) in a read transaction, its lines sorted. */
static const char *history(inst *i, const capalloc_history_query *q)
{
    static rec_seen r;
    memset(&r, 0, sizeof r);
    capalloc_record_sink sink = {&r, rec_run, rec_val, rec_price};
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->read_history(i->st, q, &sink, &err));
    OK(i->sp->commit(i->st, &err));
    ck_assert_int_eq(r.n_run + r.n_price, 0);
    return sorted(r.text);
}

static const capalloc_history_query ALL_ROWS = {NULL, NULL, NULL, 0, NULL, 1};

/* read_run(run_id) in a read transaction, in the order it came. */
static const char *run_record(inst *i, int64_t run_id, int *found)
{
    static rec_seen r;
    memset(&r, 0, sizeof r);
    capalloc_record_sink sink = {&r, rec_run, rec_val, rec_price};
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->read_run(i->st, run_id, &sink, found, &err));
    OK(i->sp->commit(i->st, &err));
    ck_assert_int_eq(r.n_run, *found ? 1 : 0);
    if (!*found)
        ck_assert_str_eq(r.text, "");
    return r.text;
}

/* The run id of the latest allocation of date. */
static int64_t run_of(inst *i, const char *date)
{
    capalloc_run_info ri;
    int found = 0;
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->find_run(i->st, date, &ri, &found, &err));
    OK(i->sp->commit(i->st, &err));
    ck_assert_msg(found, "no run on %s", date);
    return ri.run_id;
}

static const char DETAIL[] =
    "{\"policy\":\"fixed_weight\",\"note\":\"caf\xc3\xa9 \\\"q\\\" \\\\ 'x'\","
    "\"weights\":[0.3,0.3,0.4]}";

/* The record of write_alloc's run: the master and three strategies
 * (one at the decimal's limit), two prices (one stale). */
static capalloc_run_record alloc_record(capalloc_valuation v[4],
                                        capalloc_price_row p[2])
{
    v[0] = (capalloc_valuation){0, NULL, "0", CAPALLOC_VAL_MASTER,
                                D("100000"), D("0"), D("100000"), D("0.1"),
                                D("0"), D("-100000"), D("0"), NULL, 0, 0};
    v[1] = (capalloc_valuation){0, NULL, "1", 0, D("0"), D("1234.5"),
                                D("1234.5"), D("0.3"), D("30000"),
                                D("30000"), D("0"), NULL, 0, 0};
    v[2] = (capalloc_valuation){0, NULL, "2", 0, D("0.000001"),
                                D("9223372036854.775807"),
                                D("9223372036854.775807"), D("0.3"),
                                D("30000"), D("30000"), D("0.01"), NULL, 0, 0};
    v[3] = (capalloc_valuation){0, NULL, "3", 0, D("-7.25"), D("0"),
                                D("-7.25"), D("0.4"), D("40000"), D("40000"),
                                D("123.456789"), NULL, 0, 0};
    p[0] = (capalloc_price_row){"MSFT", D("412.123456"), 1735689600, 0};
    p[1] = (capalloc_price_row){"AAPL", D("9223372036854.775807"), 0,
                                CAPALLOC_QUOTE_STALE};
    return (capalloc_run_record){"1.1.0-test", DETAIL, v, 4, p, 2};
}

static capalloc_status write_alloc_rec(inst *i, const char *date, int forced,
                                       const capalloc_run_record *rec)
{
    capalloc_trade t = {"0", "USD_CASH", CAPALLOC_SELL, D("1"), D("1"),
                        D("1")};
    capalloc_write_batch b = {"ALLOCATE", date, forced, "USD", &t, 1, NULL, 0,
                              NULL, 0, rec, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

/* An IMPORT batch of imported history: (portfolio, date, nav, flow). */
typedef struct imp_row {
    const char *id, *date, *nav, *flow;
} imp_row;

static capalloc_status write_import(inst *i, const imp_row *rows, size_t n)
{
    capalloc_valuation v[16];
    ck_assert_uint_le(n, 16);
    for (size_t k = 0; k < n; k++)
        v[k] = (capalloc_valuation){0, rows[k].date, rows[k].id,
                                    CAPALLOC_VAL_IMPORTED, D("0"), D("0"),
                                    D(rows[k].nav), D("0"), D("0"),
                                    D(rows[k].flow), D("0"), NULL, 0, 0};
    capalloc_run_record rec = {"1.1.0-test", NULL, v, n, NULL, 0};
    capalloc_write_batch b = {"IMPORT", NULL, 0, "USD", NULL, 0, NULL, 0,
                              NULL, 0, &rec, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

static const char ALLOC_LINES[] =
    "V 2025-03-03|0|1|100000|0|100000|0.1|0|-100000|0\n"
    "V 2025-03-03|1|0|0|1234.5|1234.5|0.3|30000|30000|0\n"
    "V 2025-03-03|2|0|0.000001|9223372036854.775807|9223372036854.775807|"
    "0.3|30000|30000|0.01\n"
    "V 2025-03-03|3|0|-7.25|0|-7.25|0.4|40000|40000|123.456789\n";

START_TEST(record_round_trip)
{
    capalloc_valuation v[4];
    capalloc_price_row p[2];
    capalloc_run_record rec = alloc_record(v, p);
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(write_alloc_rec(&a, "2025-03-03", 0, &rec));
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);

    inst b = open_inst();
    ck_assert_str_eq(history(&b, &ALL_ROWS), ALLOC_LINES);
    int64_t id = run_of(&b, "2025-03-03");
    int found = 0;
    const char *got = run_record(&b, id, &found);
    ck_assert_int_eq(found, 1);
    char want[4096];
    snprintf(want, sizeof want,
             "R ALLOCATE|0|2025-03-03|1|1.1.0-test|%s\n%s"
             "P AAPL|9223372036854.775807|0|1\n"
             "P MSFT|412.123456|1735689600|0\n",
             DETAIL, ALLOC_LINES);
    ck_assert_str_eq(got, want);
    /* the run ids of the valuations are the run's */
    static rec_seen r;
    memset(&r, 0, sizeof r);
    r.keep_run_id = 1;
    capalloc_record_sink sink = {&r, rec_run, rec_val, rec_price};
    OK(b.sp->begin(b.st, CAPALLOC_TXN_READ, &err));
    OK(b.sp->read_history(b.st, &ALL_ROWS, &sink, &err));
    OK(b.sp->commit(b.st, &err));
    char idp[40];
    snprintf(idp, sizeof idp, "V %lld|", (long long)id);
    ck_assert_int_eq(r.n_val, 4);
    for (const char *l = r.text; *l; l = strchr(l, '\n') + 1)
        ck_assert_msg(strncmp(l, idp, strlen(idp)) == 0, "%s", l);
    /* what the tables hold: decimals as exact text, NULL nowhere */
    const char *rows = db_query(
        "SELECT v.portfolio_id, v.is_master, v.imported, v.nav, v.weight,"
        " r.capalloc_version FROM {S}.capalloc_valuations v JOIN"
        " {S}.capalloc_runs r ON r.run_id = v.run_id"
        " ORDER BY v.portfolio_id");
    if (rows != NULL)
        ck_assert_str_eq(rows, "0|1|0|100000.00|0.10|1.1.0-test\n"
                               "1|0|0|1234.50|0.30|1.1.0-test\n"
                               "2|0|0|9223372036854.775807|0.30|1.1.0-test\n"
                               "3|0|0|-7.25|0.40|1.1.0-test\n");
    close_inst(&b);
}
END_TEST

START_TEST(record_only_with_its_run)
{
    capalloc_valuation v[4];
    capalloc_price_row p[2];
    capalloc_run_record rec = alloc_record(v, p);
    inst a = open_inst();
    /* rolled back: nothing of it stays */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc_rec(&a, "2025-03-03", 0, &rec));
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(history(&a, &ALL_ROWS), "");
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc_rec(&a, "2025-03-03", 0, &rec));
    OK(a.sp->commit(a.st, &err));
    /* a second unforced run of the date fails: its record is not kept */
    capalloc_valuation v2[4];
    capalloc_price_row p2[2];
    capalloc_run_record rec2 = alloc_record(v2, p2);
    v2[1].nav = D("1");
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_alloc_rec(&a, "2025-03-03", 0, &rec2), CAPALLOC_ERR_EXISTS);
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(history(&a, &ALL_ROWS), ALLOC_LINES);
    /* a batch that fails in its record (a portfolio twice) leaves no run */
    v2[2].portfolio_id = "1";
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(write_alloc_rec(&a, "2025-03-04", 0, &rec2), CAPALLOC_OK);
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(history(&a, &ALL_ROWS), ALLOC_LINES);
    capalloc_run_info ri;
    int found = 1;
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->find_run(a.st, "2025-03-04", &ri, &found, &err));
    OK(a.sp->commit(a.st, &err));
    ck_assert_int_eq(found, 0);
    /* a batch without a record (ABI 1.0 style) records no valuation */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc(&a, "2025-03-05", 0));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(history(&a, &ALL_ROWS), ALLOC_LINES);
    int64_t id = run_of(&a, "2025-03-05");
    ck_assert_str_eq(run_record(&a, id, &found),
                     "R ALLOCATE|0|2025-03-05|6|NULL|NULL\n");
    ck_assert_int_eq(found, 1);
    close_inst(&a);
}
END_TEST

START_TEST(read_run_not_found)
{
    inst a = open_inst();
    int found = 1;
    run_record(&a, 1, &found);
    ck_assert_int_eq(found, 0);
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "5", "5"));
    OK(a.sp->commit(a.st, &err));
    /* the ADD run exists (no date, no record); the next id does not */
    found = 1;
    run_record(&a, INT64_MAX, &found);
    ck_assert_int_eq(found, 0);
    found = 1;
    run_record(&a, -1, &found);
    ck_assert_int_eq(found, 0);
    close_inst(&a);
}
END_TEST

/* A small history: runs on 01-02..01-06 valuing the master, "1" and "2"
 * (nav = day*10 + portfolio), 01-04 run twice (forced), plus imported
 * history of "1" on 2024-12-30/31. Lines are "date/portfolio". */
static void small_history(inst *a)
{
    OK(a->sp->begin(a->st, CAPALLOC_TXN_WRITE, &err));
    static const imp_row imp[2] = {{"1", "2024-12-30", "100", "0"},
                                   {"1", "2024-12-31", "101.5", "-3"}};
    OK(write_import(a, imp, 2));
    OK(a->sp->commit(a->st, &err));
    for (int day = 2; day <= 6; day++)
        for (int forced = 0; forced <= (day == 4); forced++) {
            char date[16], nav[3][16];
            snprintf(date, sizeof date, "2025-01-%02d", day);
            capalloc_valuation v[3];
            for (int k = 0; k < 3; k++) {
                snprintf(nav[k], sizeof nav[k], "%d", day * 10 + k);
                v[k] = (capalloc_valuation){
                    0, NULL, k == 0 ? "0" : k == 1 ? "1" : "2",
                    k == 0 ? CAPALLOC_VAL_MASTER : 0, D("1"), D("2"),
                    D(nav[k]), D("0.5"), D("3"), D(forced ? "1" : "0"),
                    D("0"), NULL, 0, 0};
            }
            capalloc_run_record rec = {"t", "{}", v, 3, NULL, 0};
            OK(a->sp->begin(a->st, CAPALLOC_TXN_WRITE, &err));
            OK(write_alloc_rec(a, date, forced, &rec));
            OK(a->sp->commit(a->st, &err));
        }
}

/* history() reduced to sorted "date/portfolio" lines (duplicates kept). */
static const char *history_keys(inst *i, const capalloc_history_query *q)
{
    static char out[8192];
    const char *h = history(i, q);
    size_t used = 0;
    out[0] = '\0';
    for (const char *l = h; *l; l = strchr(l, '\n') + 1) {
        const char *d = l + 2, *p = strchr(d, '|') + 1;
        used += (size_t)snprintf(out + used, sizeof out - used, "%.10s/%.*s ",
                                 d, (int)(strchr(p, '|') - p), p);
    }
    return out;
}

START_TEST(history_query_fields)
{
    inst a = open_inst();
    small_history(&a);
    static const struct {
        capalloc_history_query q;
        const char *want;
    } cases[] = {
        /* no bound: every strategy row, the master left out */
        {{NULL, NULL, NULL, 0, NULL, 0},
         "2024-12-30/1 2024-12-31/1 2025-01-02/1 2025-01-02/2 2025-01-03/1 "
         "2025-01-03/2 2025-01-04/1 2025-01-04/1 2025-01-04/2 2025-01-04/2 "
         "2025-01-05/1 2025-01-05/2 2025-01-06/1 2025-01-06/2 "},
        /* include_master */
        {{"2025-01-06", NULL, NULL, 0, NULL, 1},
         "2025-01-06/0 2025-01-06/1 2025-01-06/2 "},
        /* from_date >= */
        {{"2025-01-05", NULL, NULL, 0, NULL, 0},
         "2025-01-05/1 2025-01-05/2 2025-01-06/1 2025-01-06/2 "},
        /* before_date < */
        {{NULL, "2025-01-03", NULL, 0, NULL, 0},
         "2024-12-30/1 2024-12-31/1 2025-01-02/1 2025-01-02/2 "},
        /* to_date <= */
        {{NULL, NULL, "2025-01-02", 0, "2", 0}, "2025-01-02/2 "},
        /* from and to together, one portfolio with the master */
        {{"2025-01-03", NULL, "2025-01-04", 0, "2", 1},
         "2025-01-03/0 2025-01-03/2 2025-01-04/0 2025-01-04/0 2025-01-04/2 "
         "2025-01-04/2 "},
        /* last_dates: the latest 2 distinct dates */
        {{NULL, NULL, NULL, 2, NULL, 0},
         "2025-01-05/1 2025-01-05/2 2025-01-06/1 2025-01-06/2 "},
        /* last_dates within before_date (what a run asks for) */
        {{NULL, "2025-01-05", NULL, 3, NULL, 0},
         "2025-01-02/1 2025-01-02/2 2025-01-03/1 2025-01-03/2 2025-01-04/1 "
         "2025-01-04/1 2025-01-04/2 2025-01-04/2 "},
        /* last_dates within from/to and a portfolio: the imported dates */
        {{"2024-01-01", NULL, "2025-01-02", 2, "1", 0},
         "2024-12-31/1 2025-01-02/1 "},
        /* more dates asked than there are */
        {{NULL, "2025-01-02", NULL, 100, "1", 1},
         "2024-12-30/1 2024-12-31/1 "},
        /* bounds that select nothing */
        {{"2025-01-07", NULL, NULL, 5, NULL, 1}, ""},
        {{NULL, "2024-12-30", NULL, 0, NULL, 1}, ""},
        {{"2025-01-04", "2025-01-04", NULL, 0, NULL, 1}, ""},
        {{NULL, NULL, NULL, 0, "nobody", 0}, ""},
        /* the master asked for without include_master: strategies only */
        {{NULL, NULL, NULL, 0, "0", 0}, ""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *got = history_keys(&a, &cases[c].q);
        ck_assert_msg(strcmp(got, cases[c].want) == 0,
                      "case %zu: got '%s', want '%s'", c, got, cases[c].want);
    }
    /* the imported rows: nav and flow, flagged, other amounts zero */
    capalloc_history_query q = {NULL, "2025-01-01", NULL, 0, "1", 1};
    ck_assert_str_eq(history(&a, &q),
                     "V 2024-12-30|1|2|0|0|100|0|0|0|0\n"
                     "V 2024-12-31|1|2|0|0|101.5|0|0|-3|0\n");
    close_inst(&a);
}
END_TEST

START_TEST(import_once_per_date)
{
    inst a = open_inst();
    static const imp_row first[3] = {{"7", "2024-06-28", "10", "0"},
                                     {"7", "2024-07-01", "11", "5"},
                                     {"8", "2024-07-01", "12", "0"}};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_import(&a, first, 3));
    OK(a.sp->commit(a.st, &err));
    const char *before = history(&a, &ALL_ROWS);
    ck_assert_str_eq(before, "V 2024-06-28|7|2|0|0|10|0|0|0|0\n"
                             "V 2024-07-01|7|2|0|0|11|0|0|5|0\n"
                             "V 2024-07-01|8|2|0|0|12|0|0|0|0\n");
    /* a date of a strategy imported again, in a later batch */
    static const imp_row again[2] = {{"8", "2024-07-02", "13", "0"},
                                     {"7", "2024-07-01", "99", "0"}};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_import(&a, again, 2), CAPALLOC_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "'7'") != NULL &&
                      strstr(err.msg, "2024-07-01") != NULL,
                  "%s", err.msg);
    OK(a.sp->rollback(a.st, &err));
    /* twice in one batch */
    static const imp_row twice[3] = {{"9", "2024-07-03", "1", "0"},
                                     {"8", "2024-07-03", "1", "0"},
                                     {"9", "2024-07-03", "2", "0"}};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_import(&a, twice, 3), CAPALLOC_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "'9'") != NULL &&
                      strstr(err.msg, "2024-07-03") != NULL,
                  "%s", err.msg);
    OK(a.sp->rollback(a.st, &err));
    ck_assert_str_eq(history(&a, &ALL_ROWS), before);
    /* the same date of another strategy, and a run's valuation of an
     * imported date, are fine */
    static const imp_row other[1] = {{"9", "2024-07-01", "3", "1"}};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_import(&a, other, 1));
    capalloc_valuation v = {0, NULL, "7", 0, D("1"), D("10"), D("11"),
                            D("1"), D("11"), D("0"), D("0"), NULL, 0, 0};
    capalloc_run_record rec = {"t", "{}", &v, 1, NULL, 0};
    OK(write_alloc_rec(&a, "2024-07-01", 0, &rec));
    OK(a.sp->commit(a.st, &err));
    capalloc_history_query q = {"2024-07-01", NULL, "2024-07-01", 0, "7", 0};
    ck_assert_str_eq(history(&a, &q), "V 2024-07-01|7|0|1|10|11|1|11|0|0\n"
                                      "V 2024-07-01|7|2|0|0|11|0|0|5|0\n");
    /* what the tables hold for an imported row: NULL where unset */
    const char *rows = db_query(
        "SELECT cash, positions_value, nav, weight, target, transfer,"
        " shortfall FROM {S}.capalloc_valuations WHERE portfolio_id = '9'");
    if (rows != NULL)
        ck_assert_str_eq(rows, "NULL|NULL|3.00|NULL|NULL|1.00|NULL\n");
    close_inst(&a);
}
END_TEST

START_TEST(record_corruption_named)
{
    capalloc_valuation v[4];
    capalloc_price_row p[2];
    capalloc_run_record rec = alloc_record(v, p);
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc_rec(&a, "2025-03-03", 0, &rec));
    OK(a.sp->commit(a.st, &err));
    int64_t id = run_of(&a, "2025-03-03");
    /* seven places: no capalloc_dec holds it, it must not be rounded */
    if (db_query("UPDATE {S}.capalloc_valuations SET target = 1.0000001"
                 " WHERE portfolio_id = '2'") == NULL)
        return; /* a custom backend */
    static rec_seen r;
    capalloc_record_sink sink = {&r, rec_run, rec_val, rec_price};
    int found = 0;
    for (int call = 0; call < 2; call++) {
        OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
        EXPECT(call == 0 ? a.sp->read_history(a.st, &ALL_ROWS, &sink, &err)
                         : a.sp->read_run(a.st, id, &sink, &found, &err),
               CAPALLOC_ERR_IO);
        ck_assert_msg(strstr(err.msg, "capalloc_valuations") != NULL &&
                          strstr(err.msg, "'2'") != NULL &&
                          strstr(err.msg, "target") != NULL &&
                          strstr(err.msg, "1.0000001") != NULL,
                      "%s", err.msg);
        OK(a.sp->rollback(a.st, &err));
    }
    db_query("UPDATE {S}.capalloc_valuations SET target = 1"
             " WHERE portfolio_id = '2';"
             " UPDATE {S}.capalloc_run_prices SET price = 0.0000001"
             " WHERE ticker = 'MSFT'");
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    EXPECT(a.sp->read_run(a.st, id, &sink, &found, &err), CAPALLOC_ERR_IO);
    ck_assert_msg(strstr(err.msg, "capalloc_run_prices") != NULL &&
                      strstr(err.msg, "'MSFT'") != NULL &&
                      strstr(err.msg, "price") != NULL,
                  "%s", err.msg);
    OK(a.sp->rollback(a.st, &err));
    close_inst(&a);
}
END_TEST

/* ---- the ledger's change stamp (ABI 1.3) ------------------------------- */

static int has_stamp(const inst *i)
{
    return CAPALLOC_HAS_FIELD(i->sp->header.struct_size,
                              capalloc_storage_plugin, ledger_stamp) &&
           i->sp->ledger_stamp != NULL;
}

/* The stamp, in a transaction of its own of the given mode. */
static int64_t stamp_in(inst *i, capalloc_txn_mode mode)
{
    int64_t v = -12345;
    OK(i->sp->begin(i->st, mode, &err));
    OK(i->sp->ledger_stamp(i->st, &v, &err));
    OK(i->sp->commit(i->st, &err));
    ck_assert_int_ne(v, -12345);
    return v;
}

static int64_t stamp_of(inst *i)
{
    return stamp_in(i, CAPALLOC_TXN_READ);
}

/* A write of positions through the API (an IMPORT batch): quantity 0
 * deletes the row. */
static capalloc_status write_positions(inst *i, const char *id,
                                       const char *ticker, const char *qty)
{
    capalloc_position_row p = {id, ticker, D(qty)};
    capalloc_write_batch b = {"IMPORT", NULL, 0, "USD", NULL, 0, NULL, 0,
                              &p, 1, NULL, NULL, NULL, NULL, NULL, NULL,
                              NULL, 0};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

/* The stamp changes with every kind of write of the books, the runs, the
 * recorded valuations and the queued redemptions -
 * through the API, and behind capalloc's back with raw SQL (the execution
 * system writes positions_book itself) - and stays equal otherwise: after
 * reads, a rolled-back write, a write of another table, in a write
 * transaction, and as another instance sees it. */
START_TEST(ledger_stamp_changes_with_every_write)
{
    inst a = open_inst();
    if (!has_stamp(&a)) {
        close_inst(&a); /* optional: the core re-reads instead */
        return;
    }
    int64_t s = stamp_of(&a), t;
    ck_assert_int_eq(stamp_of(&a), s);
    ck_assert_int_eq(stamp_in(&a, CAPALLOC_TXN_WRITE), s);
    read_all(&a);
    ck_assert_int_eq(stamp_of(&a), s);

    /* a rolled-back write changes nothing */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(a.sp->rollback(a.st, &err));
    ck_assert_int_eq(stamp_of(&a), s);

#define CHANGED(what)                                                        \
    do {                                                                     \
        t = stamp_of(&a);                                                    \
        ck_assert_msg(t != s, "the stamp did not change after %s", what);    \
        s = t;                                                               \
        ck_assert_int_eq(stamp_of(&a), s);                                   \
    } while (0)
#define WRITE(call, what)                                                    \
    do {                                                                     \
        OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));                     \
        OK(call);                                                            \
        OK(a.sp->commit(a.st, &err));                                        \
        CHANGED(what);                                                       \
    } while (0)

    /* through the API: a new book and a run, balances, positions */
    WRITE(write_add(&a, "100000", "100000"), "an ADD (new book)");
    WRITE(write_alloc(&a, "2025-05-05", 0), "an allocation");
    WRITE(write_positions(&a, "1", "AAA", "10"), "a new position");
    WRITE(write_positions(&a, "1", "AAA", "12.5"), "a changed position");
    WRITE(write_positions(&a, "1", "AAA", "0"), "a deleted position");
    WRITE(write_positions(&a, "2", "BBB", "7"), "a new position");

    /* the queued redemptions (what a run pays): queued, paid, cancelled */
    if (a.sp->redemption_op != NULL) {
        capalloc_redemption_op op;
        memset(&op, 0, sizeof op);
        op.op = CAPALLOC_RED_OP_QUEUE;
        op.amount = D("5");
        int64_t rid = 0;
        WRITE(a.sp->redemption_op(a.st, &op, &rid, &err),
              "queueing a redemption");
        op.op = CAPALLOC_RED_OP_PAY;
        op.id = rid;
        op.amount = D("2");
        WRITE(a.sp->redemption_op(a.st, &op, NULL, &err),
              "paying a redemption in part");
        op.op = CAPALLOC_RED_OP_CANCEL;
        op.amount = D("0");
        WRITE(a.sp->redemption_op(a.st, &op, NULL, &err),
              "cancelling a redemption");
    }

    /* another instance (another process) sees the same stamp */
    inst b = open_inst();
    ck_assert_int_eq(stamp_of(&b), s);
    close_inst(&b);

    /* raw SQL behind capalloc's back, every statement kind and table */
    if (db_query("SELECT 1") != NULL) {
        db_query("UPDATE {S}.positions_book SET quantity = '8'"
                 " WHERE portfolio_id = '2' AND ticker = 'BBB'");
        CHANGED("a raw UPDATE of positions_book");
        db_query("INSERT INTO {S}.positions_book (portfolio_id, ticker,"
                 " quantity, updated_at) VALUES ('3', 'CCC', '1',"
                 " '2025-05-05T00:00:00Z')");
        CHANGED("a raw INSERT into positions_book");
        db_query("DELETE FROM {S}.positions_book WHERE portfolio_id = '3'");
        CHANGED("a raw DELETE from positions_book");
        db_query("UPDATE {S}.cash_equity_book SET cash = '30001'"
                 " WHERE portfolio_id = '1'");
        CHANGED("a raw UPDATE of cash_equity_book");
        db_query("INSERT INTO {S}.cash_equity_book (portfolio_id, currency,"
                 " cash, updated_at) VALUES ('9', 'USD', '0',"
                 " '2025-05-05T00:00:00Z')");
        CHANGED("a raw INSERT into cash_equity_book");
        db_query("DELETE FROM {S}.cash_equity_book WHERE portfolio_id = '9'");
        CHANGED("a raw DELETE from cash_equity_book");
        db_query("UPDATE {S}.capalloc_runs SET forced = 1"
                 " WHERE action = 'ALLOCATE'");
        CHANGED("a raw UPDATE of capalloc_runs");
        /* the recorded valuations (the policies' history) and the queued
         * redemptions, edited by hand */
        db_query("INSERT INTO {S}.capalloc_valuations (run_id,"
                 " valuation_date, portfolio_id, is_master, imported, nav,"
                 " transfer) SELECT max(run_id), '2025-05-05', '7', 0, 0,"
                 " '1', '0' FROM {S}.capalloc_runs");
        CHANGED("a raw INSERT into capalloc_valuations");
        db_query("UPDATE {S}.capalloc_valuations SET nav = '2'"
                 " WHERE portfolio_id = '7'");
        CHANGED("a raw UPDATE of capalloc_valuations");
        db_query("DELETE FROM {S}.capalloc_valuations"
                 " WHERE portfolio_id = '7'");
        CHANGED("a raw DELETE from capalloc_valuations");
        if (a.sp->redemption_op != NULL) {
            db_query("UPDATE {S}.capalloc_redemptions SET paid = paid");
            CHANGED("a raw UPDATE of capalloc_redemptions");
        }
        /* a read, and a write of another table, change nothing */
        db_query("SELECT count(*) FROM {S}.positions_book");
        db_query("UPDATE {S}.capalloc_run_prices SET stale = stale");
        ck_assert_int_eq(stamp_of(&a), s);
    }
    if (is_backend("postgres")) {
        db_query("TRUNCATE {S}.positions_book");
        CHANGED("a TRUNCATE of positions_book");
        /* as a logical-replication apply worker writes (the triggers are
         * ENABLE ALWAYS): every stamped table */
        static const char *const rep[] = {
            "UPDATE {S}.cash_equity_book SET cash = cash",
            "INSERT INTO {S}.positions_book (portfolio_id, ticker, quantity,"
            " updated_at) VALUES ('3', 'CCC', '1', '2025-05-05T00:00:00Z')",
            "UPDATE {S}.capalloc_runs SET forced = forced",
            "UPDATE {S}.capalloc_valuations SET nav = nav",
            "UPDATE {S}.capalloc_redemptions SET paid = paid"};
        for (size_t k = 0; k < sizeof rep / sizeof *rep; k++) {
            char q[512];
            snprintf(q, sizeof q,
                     "SET session_replication_role = replica; %s", rep[k]);
            db_query(q);
            CHANGED(rep[k]);
        }
    }
#undef WRITE
#undef CHANGED
    close_inst(&a);
}
END_TEST

/* Ids and tickers with the characters a text stream escapes (postgres
 * reads positions through COPY): tab, newline, CR, backslash, "\\N", and
 * UTF-8, read back exactly. */
START_TEST(positions_odd_characters)
{
    static const char *const t[] = {"A\tB", "L1\nL2", "C\rR", "\\N",
                                    "back\\slash\\", "\xc3\xa9t\xc3\xa9",
                                    "\b\f\v"};
    enum { N = sizeof t / sizeof t[0] };
    capalloc_position_row p[N];
    for (int i = 0; i < N; i++)
        p[i] = (capalloc_position_row){t[(i + 1) % N], t[i], D("1.5")};
    capalloc_write_batch b = {"IMPORT", NULL, 0, "USD", NULL, 0, NULL, 0,
                              p, N, NULL, NULL, NULL, NULL, NULL, NULL,
                              NULL, 0};
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(a.sp->write(a.st, &b, &err));
    OK(a.sp->commit(a.st, &err));
    static seen sn;
    memset(&sn, 0, sizeof sn);
    capalloc_ledger_sink sink = {&sn, sink_cash, sink_pos};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->read_ledger(a.st, &sink, &err));
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);
    ck_assert_int_eq(sn.n_pos, N);
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (int k = 0; k < sn.n_pos; k++)
            found += strcmp(sn.rows[k].id, t[(i + 1) % N]) == 0 &&
                     strcmp(sn.rows[k].ticker, t[i]) == 0 &&
                     strcmp(sn.rows[k].qty, "1.5") == 0;
        ck_assert_msg(found == 1, "position %d ('%s') read back %d times",
                      i, t[i], found);
    }
}
END_TEST

/* A positions batch larger than a statement's rows (sqlite writes 64 per
 * statement, in key order), given out of order, with deletes (quantity
 * 0) among the upserts: the ledger is the batch's, row by row. A bad row
 * is named. */
START_TEST(positions_batch_in_any_order)
{
    enum { N = 150 };
    static capalloc_position_row p[N];
    static char ids[N][8], tickers[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "p%d", i % 3);
        snprintf(tickers[i], sizeof tickers[i], "T%03d", N - 1 - i);
        char q[16];
        snprintf(q, sizeof q, "%d", i + 1);
        p[i] = (capalloc_position_row){ids[i], tickers[i], D(q)};
    }
    capalloc_write_batch b = {"IMPORT", NULL, 0, "USD", NULL, 0, NULL, 0,
                              p, N, NULL, NULL, NULL, NULL, NULL, NULL,
                              NULL, 0};
    inst a = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(a.sp->write(a.st, &b, &err));
    OK(a.sp->commit(a.st, &err));
    /* again: every tenth row deleted, the others changed */
    for (int i = 0; i < N; i++) {
        char q[16];
        snprintf(q, sizeof q, "%d", i % 10 == 0 ? 0 : i + 2);
        p[i].quantity = D(q);
    }
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(a.sp->write(a.st, &b, &err));
    OK(a.sp->commit(a.st, &err));
    close_inst(&a);
    const char *rows = db_query(
        "SELECT count(*), sum(CAST(quantity AS INTEGER)),"
        " sum(CASE WHEN portfolio_id = 'p1' AND ticker = 'T148'"
        " THEN CAST(quantity AS INTEGER) ELSE 0 END),"
        " sum(CASE WHEN portfolio_id = 'p1' AND ticker = 'T139'"
        " THEN 1 ELSE 0 END) FROM {S}.positions_book");
    if (rows != NULL) /* 2+3+...+151 but the tenth rows' */
        ck_assert_str_eq(rows, "135|10395|3|0\n");
    if (is_backend("sqlite")) {
        p[71].ticker = NULL;
        a = open_inst();
        OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
        memset(&err, 0, sizeof err);
        ck_assert_int_ne(a.sp->write(a.st, &b, &err), CAPALLOC_OK);
        ck_assert_msg(strstr(err.msg, "'p2' in 'NULL'") != NULL, "%s",
                      err.msg);
        OK(a.sp->rollback(a.st, &err));
        close_inst(&a);
        ck_assert_str_eq(db_query("SELECT count(*) FROM positions_book"),
                         "135\n");
    }
}
END_TEST

/* ---- migrating a ledger of the previous release ------------------------ */

/* Make the test's ledger from tests/fixtures/ledger-v1.<backend>.sql (the
 * v1 schema and rows) and run extra (SQL, may be "") after it, in the same
 * transaction. 0 for a backend without a fixture. */
static int load_v1(const char *extra)
{
    if (!is_backend("sqlite") && !is_backend("postgres"))
        return 0;
    char path[1100];
    snprintf(path, sizeof path, "%s/tests/fixtures/ledger-v1.%s.sql",
             TEST_SRCDIR, backend);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char sql[32768];
    size_t n = fread(sql, 1, sizeof sql - 1, f);
    ck_assert_msg(feof(f), "%s is too large", path);
    fclose(f);
    sql[n] = '\0';
    static char all[40000];
    if (is_backend("sqlite"))
        snprintf(all, sizeof all, "BEGIN; %s; %s; COMMIT;", sql, extra);
    else /* pooler-safe: SET LOCAL, one transaction */
        snprintf(all, sizeof all,
                 "BEGIN; CREATE SCHEMA %s; SET LOCAL search_path = %s; %s;"
                 " %s; COMMIT",
                 ledger, ledger, sql, extra);
#if CAPALLOC_HAVE_SQLITE
    if (is_backend("sqlite")) {
        snprintf(path, sizeof path, "%s/%s.db", tmp, ledger);
        sqlite3 *db;
        char *msg = NULL;
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_msg(sqlite3_exec(db, all, NULL, NULL, &msg) == SQLITE_OK,
                      "loading the v1 fixture: %s", msg ? msg : "");
        sqlite3_close(db);
        return 1;
    }
#endif
#if TEST_WITH_LIBPQ
    if (is_backend("postgres")) {
        PGconn *c = pg_connect();
        PGresult *r = PQexec(c, all);
        ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK,
                      "loading the v1 fixture: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return 1;
    }
#endif
    return 0;
}

/* Every v1 row, v1 columns only, in a fixed order. */
#define T(x) "CAST(" x " AS TEXT)"
static const char V1_DUMP[] =
    "SELECT 'cash', portfolio_id, currency, " T("cash") ", " T("updated_at")
    ", NULL, NULL, NULL, NULL FROM {S}.cash_equity_book"
    " UNION ALL SELECT 'pos', portfolio_id, ticker, " T("quantity") ", "
    T("updated_at") ", NULL, NULL, NULL, NULL FROM {S}.positions_book"
    " UNION ALL SELECT 'run', " T("run_id") ", action, " T("run_date") ", "
    T("forced") ", " T("created_at") ", NULL, NULL, NULL"
    " FROM {S}.capalloc_runs WHERE run_id <= 5"
    " UNION ALL SELECT 'trade', " T("log_id") ", " T("run_id") ", portfolio_id,"
    " ticker, side, " T("quantity") ", " T("arrival_price") ", "
    T("exec_price") " || ' ' || " T("executed_at")
    " FROM {S}.trade_execution_logs WHERE log_id <= 6 ORDER BY 1, 2, 3";
#undef T

/* The schema version as the backend records it. */
static const char *schema_version(void)
{
    return db_query(is_backend("sqlite")
                        ? "PRAGMA user_version"
                        : "SELECT string_agg(version::text, ' ' ORDER BY"
                          " version) FROM {S}.capalloc_schema_version");
}

/* ---- the hash chain (ABI 1.3) ------------------------------------------ */

static char chain_buf[8192];

static void chain_cat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void chain_cat(const char *fmt, ...)
{
    size_t n = strlen(chain_buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(chain_buf + n, sizeof chain_buf - n, fmt, ap);
    va_end(ap);
}

static capalloc_status ch_anchor(void *ctx, const capalloc_chain_anchor *a)
{
    (void)ctx;
    ck_assert_int_eq(a->created_at[19], '.');
    chain_cat("anchor %lld log %lld runs %lld/%lld ",
              (long long)a->after_run_id, (long long)a->after_log_id,
              (long long)a->runs_before, (long long)a->runs_before_now);
    return CAPALLOC_OK;
}

/* anchored balances come in any order: the test's fixture has 3, sorted
 * below by the caller's expectation only when they arrive sorted; keep
 * them in a small sorted list instead */
static char anchor_rows[8][64];
static int n_anchor_rows;

static int cmp_rows(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

static capalloc_status ch_cash(void *ctx, const char *id, capalloc_dec c)
{
    (void)ctx;
    char b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_lt(n_anchor_rows, 8);
    snprintf(anchor_rows[n_anchor_rows++], 64, "%s=%s;", id,
             dec_format(c, 0, b, sizeof b));
    return CAPALLOC_OK;
}

static capalloc_status ch_run(void *ctx, const capalloc_journal_run *r)
{
    (void)ctx;
    chain_cat("R%lld %s|%s|%d|%s|%s|%.4s|%.4s\n", (long long)r->run_id,
              r->action, r->run_date, r->forced, r->created_at,
              r->reference ? r->reference : "NULL",
              r->prev_hash ? r->prev_hash : "NULL",
              r->run_hash ? r->run_hash : "NULL");
    return CAPALLOC_OK;
}

static capalloc_status ch_row(void *ctx, const capalloc_journal_row *t)
{
    (void)ctx;
    char q[CAPALLOC_DEC_MAX_TEXT], a[CAPALLOC_DEC_MAX_TEXT],
        e[CAPALLOC_DEC_MAX_TEXT];
    chain_cat(" r%lld/%lld %s %s %s %s %s %s %.4s\n", (long long)t->log_id,
              (long long)t->run_id, t->portfolio_id, t->ticker,
              t->side == CAPALLOC_BUY ? "BUY" : "SELL",
              dec_format(t->quantity, 0, q, sizeof q),
              dec_format(t->arrival_price, 0, a, sizeof a),
              dec_format(t->exec_price, 0, e, sizeof e),
              t->row_hash ? t->row_hash : "NULL");
    if (t->bad_column != NULL) /* ABI 1.3: an amount that is no decimal */
        chain_cat(" bad %s=%s\n", t->bad_column, t->bad_text);
    return CAPALLOC_OK;
}

/* "head ID 'HASH' anchor ID BALANCES" (or "no anchor"), then the journal
 * after run `after`. */
static const char *chain_text(inst *i, int64_t after)
{
    capalloc_journal_sink sink = {NULL, ch_anchor, ch_cash, ch_run, ch_row};
    capalloc_chain_head h;
    int found = -1;
    chain_buf[0] = '\0';
    n_anchor_rows = 0;
    OK(i->sp->begin(i->st, CAPALLOC_TXN_WRITE, &err));
    OK(i->sp->chain_head(i->st, &h, &err));
    chain_cat("head %lld '%.4s' ", (long long)h.run_id, h.run_hash);
    OK(i->sp->read_anchor(i->st, &sink, &found, &err));
    ck_assert_int_ne(found, -1);
    if (!found)
        chain_cat("no anchor");
    qsort(anchor_rows, (size_t)n_anchor_rows, sizeof anchor_rows[0],
          cmp_rows);
    for (int k = 0; k < n_anchor_rows; k++)
        chain_cat("%s", anchor_rows[k]);
    if (after >= 0) {
        chain_cat("\n");
        OK(i->sp->read_journal(i->st, after, &sink, &err));
    }
    OK(i->sp->rollback(i->st, &err));
    return chain_buf;
}

static capalloc_status write_chained(inst *i, const char *action,
                                     const char *date, const char *created,
                                     const char *prev, const char *hash,
                                     const capalloc_trade *t, size_t n,
                                     const char *const *rh,
                                     const capalloc_cash_row *c, size_t nc)
{
    capalloc_write_batch b = {action, date, 0, "USD", t, n, c, nc, NULL, 0,
                              NULL, NULL, created, prev, hash, rh, NULL, 0};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

START_TEST(chain_stored_and_streamed)
{
    inst a = open_inst();
    ck_assert_str_eq(chain_text(&a, 0), "head 0 '' no anchor\n");
    capalloc_trade t1 = {"0", "USD_CASH", CAPALLOC_BUY, D("100000"), D("1"),
                         D("1")};
    capalloc_cash_row c1 = {"0", D("100000")};
    const char *rh1[] = {"1111111111111111111111111111111111111111111111111111111111111111"};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_chained(&a, "ADD", NULL, "2026-12-07T01:02:03.456Z",
                     "aaaa000000000000000000000000000000000000000000000000000000000000",
                     "bbbb000000000000000000000000000000000000000000000000000000000000",
                     &t1, 1, rh1, &c1, 1));
    OK(a.sp->commit(a.st, &err));
    capalloc_trade t2[2] = {
        {"0", "USD_CASH", CAPALLOC_SELL, D("2.5"), D("1"), D("1")},
        {"1", "USD_CASH", CAPALLOC_BUY, D("2.5"), D("1"), D("1")}};
    capalloc_cash_row c2[2] = {{"0", D("99997.5")}, {"1", D("2.5")}};
    const char *rh2[] = {"2222222222222222222222222222222222222222222222222222222222222222",
                         "3333333333333333333333333333333333333333333333333333333333333333"};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_chained(&a, "ALLOCATE", "2025-03-03", "2026-12-07T01:02:04.000Z",
                     "bbbb000000000000000000000000000000000000000000000000000000000000",
                     "cccc000000000000000000000000000000000000000000000000000000000000",
                     t2, 2, rh2, c2, 2));
    /* chain_head sees the run written in the same transaction */
    capalloc_chain_head h;
    OK(a.sp->chain_head(a.st, &h, &err));
    ck_assert_int_eq(h.run_id, 2);
    ck_assert_str_eq(h.run_hash, "cccc000000000000000000000000000000000000000000000000000000000000");
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(chain_text(&a, 0),
                     "head 2 'cccc' no anchor\n"
                     "R1 ADD||0|2026-12-07T01:02:03.456Z|NULL|aaaa|bbbb\n"
                     " r1/1 0 USD_CASH BUY 100000 1 1 1111\n"
                     "R2 ALLOCATE|2025-03-03|0|2026-12-07T01:02:04.000Z|NULL|bbbb|cccc\n"
                     " r2/2 0 USD_CASH SELL 2.5 1 1 2222\n"
                     " r3/2 1 USD_CASH BUY 2.5 1 1 3333\n");
    /* after a run: only the later ones */
    ck_assert_str_eq(chain_text(&a, 1),
                     "head 2 'cccc' no anchor\n"
                     "R2 ALLOCATE|2025-03-03|0|2026-12-07T01:02:04.000Z|NULL|bbbb|cccc\n"
                     " r2/2 0 USD_CASH SELL 2.5 1 1 2222\n"
                     " r3/2 1 USD_CASH BUY 2.5 1 1 3333\n");
    /* a batch without a chain (a core before ABI 1.3) stores NULLs */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "1", "99998.5"));
    OK(a.sp->commit(a.st, &err));
    const char *j = chain_text(&a, 2);
    ck_assert_msg(strstr(j, "head 3 '' ") == j, "%s", j);
    ck_assert_msg(strstr(j, "|NULL|NULL|NULL\n r4/3 0 USD_CASH BUY 1 1 1 NULL\n") != NULL,
                  "%s", j);
    close_inst(&a);
}
END_TEST

/* ABI 1.3: a batch of a given kind (one transfer master -> 1 of amount,
 * or 1 -> master when amount is negative), and what read_run says of a
 * run's kind and links. */
static capalloc_status write_kind(inst *i, const char *action,
                                  const char *date, const char *kind,
                                  int64_t reverses, const char *amount,
                                  const char *master, const char *one)
{
    int back = amount[0] == '-';
    capalloc_trade t[2] = {
        {"0", "USD_CASH", back ? CAPALLOC_BUY : CAPALLOC_SELL,
         D(amount + back), D("1"), D("1")},
        {"1", "USD_CASH", back ? CAPALLOC_SELL : CAPALLOC_BUY,
         D(amount + back), D("1"), D("1")}};
    capalloc_cash_row c[2] = {{"0", D(master)}, {"1", D(one)}};
    capalloc_write_batch b = {action, date, 0, "USD", t, 2, c, 2, NULL, 0,
                              NULL, NULL, NULL, NULL, NULL, NULL, kind, reverses};
    memset(&err, 0, sizeof err);
    return i->sp->write(i->st, &b, &err);
}

static capalloc_status kind_run(void *ctx, const capalloc_run_info *info,
                                const char *action, int forced,
                                const char *version, const char *detail)
{
    (void)forced;
    (void)version;
    (void)detail;
    snprintf(ctx, 128, "%s %s %lld %lld", action, info->kind,
             (long long)info->reverses, (long long)info->reversed_by);
    return CAPALLOC_OK;
}

static capalloc_status kind_val(void *ctx, const capalloc_valuation *v)
{
    (void)ctx;
    (void)v;
    return CAPALLOC_OK;
}

static capalloc_status kind_price(void *ctx, const capalloc_price_row *p)
{
    (void)ctx;
    (void)p;
    return CAPALLOC_OK;
}

/* "ACTION KIND REVERSES REVERSED_BY" of run id. */
static const char *run_kind(inst *i, int64_t id)
{
    static char out[128];
    out[0] = '\0';
    int found = 0;
    capalloc_record_sink sink = {out, kind_run, kind_val, kind_price};
    OK(i->sp->begin(i->st, CAPALLOC_TXN_READ, &err));
    OK(i->sp->read_run(i->st, id, &sink, &found, &err));
    OK(i->sp->commit(i->st, &err));
    ck_assert_int_eq(found, 1);
    return out;
}

/* ABI 1.3: DEPLOY and REVERSE runs are not the date's allocation (the
 * one-run-per-date key and find_run ignore them), a run is reversed once
 * (a unique key of the backend, whoever writes), and read_run reports
 * the kind and both links. */
START_TEST(run_kinds_and_reversal_key)
{
    inst a = open_inst();
    inst b = open_inst();
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "100000", "100000"));
    OK(write_alloc(&a, "2025-06-30", 0));
    OK(a.sp->commit(a.st, &err));
    int64_t alloc = run_of(&a, "2025-06-30");
    ck_assert_str_eq(run_kind(&a, alloc), "ALLOCATE RUN 0 0");
    ck_assert_str_eq(run_kind(&a, alloc - 1), "ADD RUN 0 0");

    /* a deployment on the allocation's date: not refused, not found */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_add(&a, "1000", "1000"));
    OK(write_kind(&a, "ALLOCATE", "2025-06-30", CAPALLOC_RUN_DEPLOY, 0,
                  "600", "400", "30600"));
    OK(a.sp->commit(a.st, &err));
    ck_assert_int_eq(run_of(&a, "2025-06-30"), alloc);
    int64_t dep = alloc + 2;
    ck_assert_str_eq(run_kind(&a, dep), "ALLOCATE DEPLOY 0 0");

    /* a reversal of the deployment, dated like it */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_kind(&a, "ALLOCATE", "2025-06-30", CAPALLOC_RUN_REVERSE, dep,
                  "-600", "1000", "30000"));
    OK(a.sp->commit(a.st, &err));
    int64_t rev = dep + 1;
    ck_assert_int_eq(run_of(&a, "2025-06-30"), alloc);
    char want[128];
    snprintf(want, sizeof want, "ALLOCATE REVERSE %lld 0", (long long)dep);
    ck_assert_str_eq(run_kind(&a, rev), want);
    snprintf(want, sizeof want, "ALLOCATE DEPLOY 0 %lld", (long long)rev);
    ck_assert_str_eq(run_kind(&a, dep), want);
    const char *books = "0=1000;1=30000;2=30000;3=40000;";
    ck_assert_str_eq(read_all(&a), books);

    /* a second reversal of it, from another instance: the backend's key */
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_kind(&b, "ALLOCATE", "2025-06-30", CAPALLOC_RUN_REVERSE, dep,
                      "-600", "1600", "29400"),
           CAPALLOC_ERR_EXISTS);
    ck_assert_msg(strstr(err.msg, "already reversed") != NULL, "%s", err.msg);
    OK(b.sp->rollback(b.st, &err));
    ck_assert_str_eq(read_all(&b), books);
    snprintf(want, sizeof want, "ALLOCATE DEPLOY 0 %lld", (long long)rev);
    ck_assert_str_eq(run_kind(&b, dep), want);

    /* kinds that do not fit the batch: refused, nothing written */
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_kind(&b, "ALLOCATE", "2025-07-01", CAPALLOC_RUN_REVERSE, 0,
                      "1", "999", "30001"),
           CAPALLOC_ERR_INTERNAL);
    EXPECT(write_kind(&b, "ALLOCATE", "2025-07-01", CAPALLOC_RUN_DEPLOY,
                      alloc, "1", "999", "30001"),
           CAPALLOC_ERR_INTERNAL);
    EXPECT(write_kind(&b, "ADD", NULL, CAPALLOC_RUN_DEPLOY, 0, "1", "999",
                      "30001"),
           CAPALLOC_ERR_INTERNAL);
    EXPECT(write_kind(&b, "ALLOCATE", "2025-07-01", "SIDEWAYS", 0, "1",
                      "999", "30001"),
           CAPALLOC_ERR_INTERNAL);
    OK(b.sp->rollback(b.st, &err));
    ck_assert_str_eq(read_all(&b), books);

    /* the date's allocation is still guarded, the next date still free */
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_alloc(&b, "2025-06-30", 0), CAPALLOC_ERR_EXISTS);
    OK(b.sp->rollback(b.st, &err));
    OK(b.sp->begin(b.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_kind(&b, "ALLOCATE", "2025-07-01", NULL, 0, "1", "999",
                  "30001"));
    OK(b.sp->commit(b.st, &err));
    ck_assert_str_eq(run_kind(&b, run_of(&b, "2025-07-01")),
                     "ALLOCATE RUN 0 0");
    close_inst(&a);
    close_inst(&b);
}
END_TEST

/* read_history's ABI 1.3 fields: "RUN_ID KIND REVERSES REVERSED_BY" per
 * portfolio '1' row (KIND NULL is an ordinary run: "RUN"). */
static capalloc_status kinds_val(void *ctx, const capalloc_valuation *v)
{
    char *out = ctx;
    if (strcmp(v->portfolio_id, "1") != 0)
        return CAPALLOC_OK;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%lld %s %lld %lld;", (long long)v->run_id,
             v->run_kind ? v->run_kind : "RUN", (long long)v->reverses,
             (long long)v->reversed_by);
    return CAPALLOC_OK;
}

START_TEST(history_rows_carry_kinds)
{
    inst a = open_inst();
    capalloc_valuation v[4];
    capalloc_price_row p[2];
    capalloc_run_record rec = alloc_record(v, p);
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc_rec(&a, "2025-03-03", 0, &rec));
    OK(a.sp->commit(a.st, &err));
    int64_t alloc = run_of(&a, "2025-03-03");
    /* a deployment and the reversal of the allocation, with records */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    capalloc_write_batch d = {"ALLOCATE", "2025-03-03", 0, "USD", NULL, 0,
                              NULL, 0, NULL, 0, &rec, NULL, NULL, NULL, NULL, NULL,
                              CAPALLOC_RUN_DEPLOY, 0};
    OK(a.sp->write(a.st, &d, &err));
    capalloc_write_batch r = {"ALLOCATE", "2025-03-04", 0, "USD", NULL, 0,
                              NULL, 0, NULL, 0, &rec, NULL, NULL, NULL, NULL, NULL,
                              CAPALLOC_RUN_REVERSE, alloc};
    OK(a.sp->write(a.st, &r, &err));
    OK(a.sp->commit(a.st, &err));
    static char out[512];
    out[0] = '\0';
    capalloc_record_sink sink = {out, NULL, kinds_val, NULL};
    OK(a.sp->begin(a.st, CAPALLOC_TXN_READ, &err));
    OK(a.sp->read_history(a.st, &ALL_ROWS, &sink, &err));
    OK(a.sp->commit(a.st, &err));
    /* rows come in no particular order: sort the three by run id */
    char want[512];
    snprintf(want, sizeof want, "%lld RUN 0 %lld;%lld DEPLOY 0 0;"
             "%lld REVERSE %lld 0;",
             (long long)alloc, (long long)alloc + 2, (long long)alloc + 1,
             (long long)alloc + 2, (long long)alloc);
    char *parts[3];
    char *save = NULL;
    int k = 0;
    for (char *t = strtok_r(out, ";", &save); t && k < 3;
         t = strtok_r(NULL, ";", &save))
        parts[k++] = t;
    ck_assert_int_eq(k, 3);
    qsort(parts, 3, sizeof parts[0], cmp_line);
    char got[512];
    snprintf(got, sizeof got, "%s;%s;%s;", parts[0], parts[1], parts[2]);
    ck_assert_str_eq(got, want);
    close_inst(&a);
}
END_TEST

START_TEST(migrates_a_v1_ledger)
{
    if (!load_v1(""))
        return; /* a custom backend: no fixture of its ledger */
    ck_assert_str_eq(schema_version(), "1\n");
    static char before[8192];
    snprintf(before, sizeof before, "%s", db_query(V1_DUMP));
    ck_assert_msg(strlen(before) > 200, "fixture rows: %s", before);

    inst a = open_inst(); /* migrates */
    ck_assert_str_eq(schema_version(), is_backend("sqlite") ? "6\n" : "1 2 3 4 5 6 7\n");
    ck_assert_str_eq(db_query(V1_DUMP), before);
    ck_assert_str_eq(read_all(&a),
                     "0=69999.99;1=30000;2=9223372036854.775807;"
                     "1/AAPL=10.5;1/MSFT=3;2/TICK\"ER'\\1=0.000001;");
    /* the old runs: found, read, without a record */
    ck_assert_int_eq(run_of(&a, "2025-01-02"), 4);
    int found = 0;
    ck_assert_str_eq(run_record(&a, 4, &found),
                     "R ALLOCATE|1|2025-01-02|2|NULL|NULL\n");
    ck_assert_str_eq(run_record(&a, 1, &found), "R ADD|0||1|NULL|NULL\n");
    ck_assert_str_eq(run_record(&a, 5, &found), "R IMPORT|0||0|NULL|NULL\n");
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(history(&a, &ALL_ROWS), "");
    /* the chain (ABI 1.3): anchored at the migration, after run 5 */
    ck_assert_str_eq(chain_text(&a, -1), "head 5 '' anchor 5 log 6 runs 5/5 "
                     "0=69999.99;1=30000;2=9223372036854.775807;");
    /* the guard of step 1 still holds, and the new calls work */
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    EXPECT(write_alloc(&a, "2025-01-02", 0), CAPALLOC_ERR_EXISTS);
    OK(a.sp->rollback(a.st, &err));
    capalloc_valuation v[4];
    capalloc_price_row p[2];
    capalloc_run_record rec = alloc_record(v, p);
    OK(a.sp->begin(a.st, CAPALLOC_TXN_WRITE, &err));
    OK(write_alloc_rec(&a, "2025-03-03", 0, &rec));
    OK(a.sp->commit(a.st, &err));
    ck_assert_str_eq(history(&a, &ALL_ROWS), ALLOC_LINES);
    int64_t id = run_of(&a, "2025-03-03");
    ck_assert_int_gt(id, 5); /* numbering goes on after the old runs */
    ck_assert_int_eq(run_record(&a, id, &found)[0], 'R');
    /* a row of a run before the anchor written after it (by hand, its log
     * id above the anchor's): read_journal hands it back, first; an
     * amount that is not a decimal comes back as bad_column, the row
     * with it */
    if (db_query("INSERT INTO {S}.trade_execution_logs (run_id, portfolio_id,"
                 " ticker, side, quantity, arrival_price, exec_price,"
                 " executed_at) VALUES (3, '1', 'AAPL', 'BUY', '1.0000001',"
                 " '1', '1', '2025-03-04T00:00:00.000Z')") != NULL) {
        const char *j = strchr(chain_text(&a, 5), '\n');
        ck_assert_msg(j != NULL && strncmp(j, "\n r", 3) == 0 &&
                          strstr(j, "/3 1 AAPL BUY 0 1 1 NULL\n"
                                    " bad quantity=1.0000001\nR") != NULL,
                      "%s", j ? j : "(none)");
        db_query("DELETE FROM {S}.trade_execution_logs WHERE run_id = 3"
                 " AND ticker = 'AAPL'");
    }
    close_inst(&a);
    /* opened again: nothing to migrate, nothing changed */
    inst b = open_inst();
    ck_assert_str_eq(schema_version(), is_backend("sqlite") ? "6\n" : "1 2 3 4 5 6 7\n");
    ck_assert_str_eq(db_query(V1_DUMP), before);
    ck_assert_str_eq(history(&b, &ALL_ROWS), ALLOC_LINES);
    close_inst(&b);
}
END_TEST

/* A step that fails half-way leaves the v1 ledger as it was: step 2's
 * first statements (the new columns of capalloc_runs, the valuations
 * table) are undone with it, and the version stays 1. */
START_TEST(failed_migration_changes_nothing)
{
    /* someone's table in the way of step 2's last CREATE TABLE */
    if (!load_v1("CREATE TABLE capalloc_run_prices (x INTEGER)"))
        return;
    static char before[8192];
    snprintf(before, sizeof before, "%s", db_query(V1_DUMP));
    for (int attempt = 0; attempt < 2; attempt++) {
        loaded_plugin *p = NULL;
        cap_error e = {0, ""};
        int rc = plugin_start(cfg, &cfg->storage, "sqlite",
                              CAPALLOC_KIND_STORAGE, "storage", &p, &e);
        plugin_close(p);
        ck_assert_msg(rc != 0, "a failing migration was accepted");
        ck_assert_msg(strstr(e.msg, "schema version 2") != NULL &&
                          strstr(e.msg, "capalloc_run_prices") != NULL,
                      "%s", e.msg);
        ck_assert_str_eq(schema_version(), "1\n");
        ck_assert_str_eq(db_query(V1_DUMP), before);
        char sql[512];
        if (is_backend("sqlite"))
            snprintf(sql, sizeof sql,
                     "SELECT (SELECT count(*) FROM pragma_table_info("
                     "'capalloc_runs') WHERE name IN ('capalloc_version',"
                     " 'detail')), (SELECT count(*) FROM sqlite_master WHERE"
                     " name LIKE 'capalloc_valuations%%')");
        else
            snprintf(sql, sizeof sql,
                     "SELECT (SELECT count(*) FROM information_schema.columns"
                     " WHERE table_schema = '%s' AND table_name ="
                     " 'capalloc_runs' AND column_name IN"
                     " ('capalloc_version', 'detail')), (SELECT count(*)"
                     " FROM pg_class c JOIN pg_namespace n ON n.oid ="
                     " c.relnamespace WHERE n.nspname = '%s' AND c.relname"
                     " LIKE 'capalloc_valuations%%')",
                     ledger, ledger);
        ck_assert_str_eq(db_query(sql), "0|0\n");
    }
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
    tcase_add_test(tc, read_cash_named_books);
    tcase_add_test(tc, ledger_rows_in_design_shape);
    tcase_add_test(tc, currency_of_a_book_kept);
    tcase_add_test(tc, reference_booked_once);
    tcase_add_test(tc, reference_unique_key_is_the_guard);
    tcase_add_test(tc, redemptions_queue_pay_cancel);
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, record_only_with_its_run);
    tcase_add_test(tc, read_run_not_found);
    tcase_add_test(tc, history_query_fields);
    tcase_add_test(tc, import_once_per_date);
    tcase_add_test(tc, record_corruption_named);
    tcase_add_test(tc, chain_stored_and_streamed);
    tcase_add_test(tc, run_kinds_and_reversal_key);
    tcase_add_test(tc, history_rows_carry_kinds);
    tcase_add_test(tc, ledger_stamp_changes_with_every_write);
    tcase_add_test(tc, positions_batch_in_any_order);
    tcase_add_test(tc, positions_odd_characters);
    tcase_add_test(tc, migrates_a_v1_ledger);
    tcase_add_test(tc, failed_migration_changes_nothing);
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
