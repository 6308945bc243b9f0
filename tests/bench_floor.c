/*
 * bench_floor.c - the floor an allocation run is measured against (programs
 * bench_storage runs, NOT a test).
 *
 * The same job as `capalloc allocate --force` on the bench's synthetic
 * fund, with the least database work a program can do for it: read the
 * prices file, then ONE transaction
 *
 *   postgres  BEGIN + the ledger's advisory lock + the chain's head (one
 *             round trip); every cash row FOR UPDATE; every position; ONE
 *             statement writing the run row, the transfer log rows, the
 *             cash updates, the valuation of every portfolio and the price
 *             of every ticker (data-modifying CTEs over unnest() of array
 *             parameters); COMMIT: 5 round trips, whatever the fund's size;
 *   sqlite    BEGIN IMMEDIATE; the head and the same two reads; the same
 *             rows written by prepared statements stepped once per row
 *             (SQLite has no round trips: a statement per row is its
 *             cheapest write); COMMIT; WAL, synchronous=FULL like the
 *             plugin, and like it a connection without mutexes (one
 *             thread).
 *
 * Values: every position at its price (exact integer micro-units), equal
 * weights of 0.9 / S as the bench's config gives, targets floored to
 * cents, transfers clamped to the cash a strategy holds. It writes what
 * capalloc writes for a run (two log rows per transfer, the balances that
 * change, S + 1 valuations, one price row per ticker used) with the hash
 * chain of issue 11 (each row's hash, the run's prev_hash and run_hash,
 * computed by the core's own core/chain.c), so that the ledger a bench
 * leaves, the floor's runs between capalloc's, passes `capalloc verify`;
 * not its JSON explanation ('{}'), nor its report on stdout. It is a
 * measuring stick, not an allocator: no policy plugins, no checks beyond
 * what the SQL enforces.
 */
#define _DEFAULT_SOURCE
/* Built as two programs, tests/bench_floor_sqlite and tests/bench_floor_pg
 * (FLOOR_MAIN): each links only its own database library, so that the
 * floor, exec'd by bench_storage like the capalloc binary, pays for
 * loading what it uses and nothing else (libpq with its TLS and GSSAPI
 * libraries takes about 5 ms to load; SQLite about 0.5 ms). */
#if defined(FLOOR_BACKEND_PG)
#undef CAPALLOC_HAVE_SQLITE
#elif defined(FLOOR_BACKEND_SQLITE)
#undef TEST_WITH_LIBPQ
#endif
#include "bench_floor.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#if TEST_WITH_LIBPQ
#include <libpq-fe.h>
#endif
#if CAPALLOC_HAVE_SQLITE
#include <sqlite3.h>
#endif

/* ---- small tools -------------------------------------------------------- */

typedef struct strmap {
    char **keys; /* NULL = empty */
    size_t *vals;
    size_t cap, used;
} strmap;

static uint64_t hash(const char *s)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static void map_grow(strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    char **nk = calloc(ncap, sizeof *nk);
    size_t *nv = calloc(ncap, sizeof *nv);
    if (nk == NULL || nv == NULL) {
        fprintf(stderr, "bench_floor: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == NULL)
            continue;
        size_t j = (size_t)hash(m->keys[i]) & (ncap - 1);
        while (nk[j] != NULL)
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
}

/* The value of key, or SIZE_MAX; with add, key is added as val when new. */
static size_t map_get(strmap *m, const char *key, int add, size_t val)
{
    if (add && (m->used + 1) * 2 > m->cap)
        map_grow(m);
    if (m->cap == 0)
        return SIZE_MAX;
    size_t j = (size_t)hash(key) & (m->cap - 1);
    while (m->keys[j] != NULL) {
        if (strcmp(m->keys[j], key) == 0)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (!add)
        return SIZE_MAX;
    if ((m->keys[j] = strdup(key)) == NULL) {
        fprintf(stderr, "bench_floor: out of memory\n");
        exit(2);
    }
    m->vals[j] = val;
    m->used++;
    return val;
}

static void map_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* "-12.5" -> -12500000 micro-units (at most 6 places, as capalloc stores). */
static int64_t micros(const char *t)
{
    int neg = *t == '-';
    if (neg || *t == '+')
        t++;
    int64_t v = 0;
    for (; *t >= '0' && *t <= '9'; t++)
        v = v * 10 + (*t - '0');
    int places = 0;
    if (*t == '.')
        for (t++; *t >= '0' && *t <= '9' && places < 6; t++, places++)
            v = v * 10 + (*t - '0');
    for (; places < 6; places++)
        v *= 10;
    return neg ? -v : v;
}

static void fmt(int64_t m, char *buf, size_t len)
{
    uint64_t a = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    snprintf(buf, len, "%s%llu.%06llu", m < 0 ? "-" : "",
             (unsigned long long)(a / 1000000), (unsigned long long)(a % 1000000));
}

#if TEST_WITH_LIBPQ
/* A growing array literal {"a","b"} (no quoting needed: the bench's ids,
 * tickers and numbers hold no '"' or '\'). */
typedef struct lit {
    char *b;
    size_t n, cap;
} lit;

static void lit_add(lit *l, const char *v)
{
    size_t len = strlen(v);
    if (l->n + len + 5 > l->cap) { /* room for '}' and the NUL too */
        l->cap = (l->n + len + 5) * 2;
        if ((l->b = realloc(l->b, l->cap)) == NULL) {
            fprintf(stderr, "bench_floor: out of memory\n");
            exit(2);
        }
    }
    char sep = l->n == 0 ? '{' : ',';
    l->b[l->n++] = sep;
    l->b[l->n++] = '"';
    memcpy(l->b + l->n, v, len);
    l->n += len;
    l->b[l->n++] = '"';
    l->b[l->n] = '\0';
}

/* The literal, owned by the caller. */
static const char *lit_done(lit *l)
{
    if (l->n == 0)
        return strdup("{}");
    l->b[l->n++] = '}';
    l->b[l->n] = '\0';
    return l->b;
}
#endif

/* ---- the job ----------------------------------------------------------- */

typedef struct book {
    char id[32];
    int64_t cash, pv, transfer, target;
    int seen;
} book;

typedef struct job {
    strmap prices_at;  /* ticker -> index in price */
    int64_t *price;
    char **ticker;
    int *used;         /* ticker held by a strategy */
    size_t n_prices;
    strmap book_at;    /* portfolio id -> index in books; 0 = the master */
    book *books;
    size_t n_books;    /* master + strategies */
    long trips;
    /* the hash chain (core/chain.c, as capalloc writes it): the head's
     * hash, then the run's time, rows (two per transfer, in book order:
     * SELL from the payer, BUY by the payee) with their hashes, and hash */
    unsigned char prev[SHA256_LEN];
    char created_at[32], prev_hex[SHA256_HEX_LEN + 1],
        run_hex[SHA256_HEX_LEN + 1];
    size_t n_rows;
    char (*row_hex)[SHA256_HEX_LEN + 1];
} job;

static void job_free(job *j)
{
    map_free(&j->prices_at);
    map_free(&j->book_at);
    for (size_t i = 0; i < j->n_prices; i++)
        free(j->ticker[i]);
    free(j->ticker);
    free(j->price);
    free(j->used);
    free(j->books);
    free(j->row_hex);
}

static int read_prices(job *j, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    size_t cap = 0;
    if (fgets(line, sizeof line, f) == NULL) { /* header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ',');
        if (comma == NULL)
            continue;
        *comma = '\0';
        if (j->n_prices == cap) {
            cap = cap ? cap * 2 : 1024;
            j->price = realloc(j->price, cap * sizeof *j->price);
            j->ticker = realloc(j->ticker, cap * sizeof *j->ticker);
            if (j->price == NULL || j->ticker == NULL)
                exit(2);
        }
        j->ticker[j->n_prices] = strdup(line);
        j->price[j->n_prices] = micros(comma + 1);
        map_get(&j->prices_at, line, 1, j->n_prices);
        j->n_prices++;
    }
    fclose(f);
    j->used = calloc(j->n_prices ? j->n_prices : 1, sizeof *j->used);
    return 0;
}

static void job_books(job *j, int strategies)
{
    j->n_books = (size_t)strategies + 1;
    j->books = calloc(j->n_books, sizeof *j->books);
    if (j->books == NULL)
        exit(2);
    for (size_t i = 0; i < j->n_books; i++) {
        snprintf(j->books[i].id, sizeof j->books[i].id, "%zu", i);
        map_get(&j->book_at, j->books[i].id, 1, i);
    }
}

static void on_cash(job *j, const char *id, const char *cash)
{
    size_t b = map_get(&j->book_at, id, 0, 0);
    if (b != SIZE_MAX) {
        j->books[b].cash = micros(cash);
        j->books[b].seen = 1;
    }
}

static void on_position(job *j, const char *id, const char *ticker,
                        const char *qty)
{
    size_t b = map_get(&j->book_at, id, 0, 0);
    size_t t = map_get(&j->prices_at, ticker, 0, 0);
    if (b == SIZE_MAX || b == 0 || t == SIZE_MAX)
        return;
    __int128 v = (__int128)micros(qty) * j->price[t];
    j->books[b].pv += (int64_t)(v / 1000000);
    j->used[t] = 1;
}

/* Targets and transfers: returns first, then fundings, as capalloc plans. */
static void plan(job *j)
{
    int64_t total = 0;
    for (size_t i = 0; i < j->n_books; i++)
        total += j->books[i].cash + j->books[i].pv;
    size_t s = j->n_books - 1;
    int64_t w = 900000 / (int64_t)s; /* micro-units of weight */
    int64_t master = j->books[0].cash;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 1; i < j->n_books; i++) {
            book *b = &j->books[i];
            if (pass == 0) {
                __int128 t = (__int128)total * w / 1000000;
                b->target = (int64_t)(t / 10000 * 10000); /* cents, down */
                b->transfer = b->target - (b->cash + b->pv);
                if (b->transfer < -b->cash)
                    b->transfer = -b->cash;
                if (b->transfer < 0)
                    master -= b->transfer;
            } else if (b->transfer > 0) {
                if (b->transfer > master)
                    b->transfer = master;
                master -= b->transfer;
            }
        }
    j->books[0].transfer = master - j->books[0].cash;
    j->books[0].target = master;
}

/* The head's run_hash (hex) as prev: the bench's first run is capalloc's,
 * so the head always carries one. */
static int set_prev(job *j, const char *hex)
{
    if (hex == NULL || chain_from_hex(hex, j->prev) != 0) {
        fprintf(stderr, "bench_floor: the ledger's latest run carries no "
                        "hash ('%s')\n", hex ? hex : "(none)");
        return -1;
    }
    return 0;
}

/* The payer and payee of book i's transfer. */
static const char *payer(const job *j, size_t i)
{
    return j->books[i].transfer < 0 ? j->books[i].id : j->books[0].id;
}

static const char *payee(const job *j, size_t i)
{
    return j->books[i].transfer < 0 ? j->books[0].id : j->books[i].id;
}

static int cmp_balance_id(const void *x, const void *y)
{
    return strcmp(((const chain_balance *)x)->portfolio_id,
                  ((const chain_balance *)y)->portfolio_id);
}

/* The run's hashes, as chain_write() computes them: each row linked to
 * the one before, then the run over its fields, its last row and the
 * balances of the portfolios its rows touched. */
static void chain(job *j, const char *date)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(j->created_at, sizeof j->created_at,
                        "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(j->created_at + n, sizeof j->created_at - n, ".%03uZ",
             (unsigned)(ts.tv_nsec / 1000000) % 1000u);

    size_t moved = 0;
    for (size_t i = 1; i < j->n_books; i++)
        moved += j->books[i].transfer != 0;
    j->n_rows = 2 * moved;
    j->row_hex = calloc(j->n_rows + 1, sizeof *j->row_hex);
    chain_balance *bal = calloc(moved + 2, sizeof *bal);
    if (j->row_hex == NULL || bal == NULL)
        exit(2);
    unsigned char link[SHA256_LEN];
    memcpy(link, j->prev, sizeof link);
    const capalloc_dec one = {1000000};
    size_t r = 0, n_bal = 0;
    for (size_t i = 1; i < j->n_books; i++) {
        const book *b = &j->books[i];
        if (b->transfer == 0)
            continue;
        capalloc_dec q = {b->transfer < 0 ? -b->transfer : b->transfer};
        chain_row_hash(link, r, payer(j, i), "USD_CASH", CAPALLOC_SELL, q,
                       one, one, link);
        sha256_hex(link, j->row_hex[r++]);
        chain_row_hash(link, r, payee(j, i), "USD_CASH", CAPALLOC_BUY, q,
                       one, one, link);
        sha256_hex(link, j->row_hex[r++]);
        bal[n_bal].portfolio_id = b->id;
        bal[n_bal++].cash = (capalloc_dec){b->cash + b->transfer};
    }
    if (moved > 0) {
        bal[n_bal].portfolio_id = j->books[0].id;
        bal[n_bal++].cash =
            (capalloc_dec){j->books[0].cash + j->books[0].transfer};
    }
    qsort(bal, n_bal, sizeof *bal, cmp_balance_id);
    chain_run run = {"ALLOCATE", date, 1, j->created_at, NULL, "RUN", 0};
    unsigned char h[SHA256_LEN];
    chain_run_hash(j->prev, &run, j->n_rows, link, bal, n_bal, h);
    sha256_hex(j->prev, j->prev_hex);
    sha256_hex(h, j->run_hex);
    free(bal);
}

/* ---- postgres ---------------------------------------------------------- */

#if TEST_WITH_LIBPQ
static PGresult *pg(job *j, PGconn *c, const char *sql, int n,
                    const char *const *v)
{
    j->trips++;
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_floor: postgres: %s", PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static int floor_pg(job *j, const char *schema, const char *date)
{
    PGconn *c = PQconnectdb("");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_floor: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    char sql[4096];
    PGresult *r;
    int rc = -1;
    /* the plugin's writer lock: same class, same key; and the chain's
     * head, in the same round trip (PQexec hands back the last result) */
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL READ COMMITTED;"
             " SELECT pg_advisory_xact_lock(1128353841, hashtext('%1$s'));"
             " SELECT run_hash FROM %1$s.capalloc_runs"
             " ORDER BY run_id DESC LIMIT 1",
             schema);
    j->trips++;
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK ||
        set_prev(j, PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)
                        ? PQgetvalue(r, 0, 0)
                        : NULL) != 0) {
        fprintf(stderr, "bench_floor: %s", PQerrorMessage(c));
        PQclear(r);
        goto out;
    }
    PQclear(r);
    snprintf(sql, sizeof sql,
             "SELECT portfolio_id, cash::text FROM %s.cash_equity_book"
             " FOR UPDATE", schema);
    if ((r = pg(j, c, sql, 0, NULL)) == NULL)
        goto out;
    for (int i = 0; i < PQntuples(r); i++)
        on_cash(j, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    snprintf(sql, sizeof sql,
             "SELECT portfolio_id, ticker, quantity::text FROM %s.positions_book",
             schema);
    j->trips++;
    if (!PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0))
        goto out;
    PQsetSingleRowMode(c);
    int failed = 0;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) == PGRES_SINGLE_TUPLE)
            on_position(j, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                        PQgetvalue(r, 0, 2));
        else if (PQresultStatus(r) != PGRES_TUPLES_OK)
            failed = 1;
        PQclear(r);
    }
    if (failed)
        goto out;

    plan(j);
    chain(j, date);
    lit tp = {0}, ts = {0}, tq = {0}, th = {0}, cp = {0}, cc = {0}, vp = {0},
        vm = {0}, vc = {0}, vpv = {0}, vn = {0}, vw = {0}, vt = {0}, vx = {0},
        qk = {0}, qp = {0};
    char a[32], w[32];
    size_t row = 0;
    fmt(900000 / (int64_t)(j->n_books - 1), w, sizeof w);
    for (size_t i = 0; i < j->n_books; i++) {
        const book *b = &j->books[i];
        if (i > 0 && b->transfer != 0) {
            fmt(b->transfer < 0 ? -b->transfer : b->transfer, a, sizeof a);
            lit_add(&tp, payer(j, i));
            lit_add(&ts, "SELL");
            lit_add(&tq, a);
            lit_add(&th, j->row_hex[row++]);
            lit_add(&tp, payee(j, i));
            lit_add(&ts, "BUY");
            lit_add(&tq, a);
            lit_add(&th, j->row_hex[row++]);
        }
        if (b->transfer != 0) { /* the balances that change */
            lit_add(&cp, b->id);
            fmt(b->cash + b->transfer, a, sizeof a);
            lit_add(&cc, a);
        }
        lit_add(&vp, b->id);
        lit_add(&vm, i == 0 ? "1" : "0");
        fmt(b->cash, a, sizeof a);
        lit_add(&vc, a);
        fmt(b->pv, a, sizeof a);
        lit_add(&vpv, a);
        fmt(b->cash + b->pv, a, sizeof a);
        lit_add(&vn, a);
        lit_add(&vw, i == 0 ? "0.1" : w);
        fmt(b->target, a, sizeof a);
        lit_add(&vt, a);
        fmt(b->transfer, a, sizeof a);
        lit_add(&vx, a);
    }
    for (size_t t = 0; t < j->n_prices; t++)
        if (j->used[t]) {
            lit_add(&qk, j->ticker[t]);
            fmt(j->price[t], a, sizeof a);
            lit_add(&qp, a);
        }
    const char *v[20] = {date,          lit_done(&tp), lit_done(&ts),
                         lit_done(&tq), lit_done(&cp), lit_done(&cc),
                         lit_done(&vp), lit_done(&vm), lit_done(&vc),
                         lit_done(&vpv), lit_done(&vn), lit_done(&vw),
                         lit_done(&vt), lit_done(&vx), lit_done(&qk),
                         lit_done(&qp), j->created_at, j->prev_hex,
                         j->run_hex, lit_done(&th)};
    snprintf(sql, sizeof sql,
        "WITH run AS ("
        "  INSERT INTO %1$s.capalloc_runs (action, run_date, forced,"
        "   created_at, capalloc_version, detail, prev_hash, run_hash)"
        "  VALUES ('ALLOCATE', $1::date, 1, $17::timestamptz, 'floor', '{}',"
        "   $18, $19)"
        "  RETURNING run_id),"
        " tr AS ("
        "  INSERT INTO %1$s.trade_execution_logs (run_id, portfolio_id, ticker,"
        "   side, quantity, arrival_price, exec_price, executed_at, row_hash)"
        "  SELECT run.run_id, t.p, 'USD_CASH', t.s, t.q, 1, 1, now(), t.h"
        "  FROM run, unnest($2::text[], $3::text[], $4::numeric[],"
        "   $20::text[]) WITH ORDINALITY AS t(p, s, q, h, n) ORDER BY t.n),"
        " ca AS ("
        "  UPDATE %1$s.cash_equity_book b SET cash = c.c, updated_at = now()"
        "  FROM unnest($5::text[], $6::numeric[]) AS c(p, c)"
        "  WHERE b.portfolio_id = c.p),"
        " va AS ("
        "  INSERT INTO %1$s.capalloc_valuations (run_id, valuation_date,"
        "   portfolio_id, is_master, imported, cash, positions_value, nav,"
        "   weight, target, transfer, shortfall)"
        "  SELECT run.run_id, $1::date, v.p, v.m, 0, v.c, v.pv, v.n, v.w,"
        "   v.t, v.x, 0"
        "  FROM run, unnest($7::text[], $8::smallint[], $9::numeric[],"
        "   $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[],"
        "   $14::numeric[]) AS v(p, m, c, pv, n, w, t, x)),"
        " pr AS ("
        "  INSERT INTO %1$s.capalloc_run_prices (run_id, ticker, price, as_of,"
        "   stale)"
        "  SELECT run.run_id, q.k, q.p, 0, 0"
        "  FROM run, unnest($15::text[], $16::numeric[]) AS q(k, p))"
        " SELECT run_id FROM run",
        schema);
    r = pg(j, c, sql, 20, v);
    for (int k = 1; k < 16; k++)
        free((char *)v[k]);
    free((char *)v[19]);
    if (r == NULL)
        goto out;
    PQclear(r);
    if ((r = pg(j, c, "COMMIT", 0, NULL)) == NULL)
        goto out;
    PQclear(r);
    rc = 0;
out:
    PQfinish(c);
    return rc;
}
#endif

/* ---- sqlite ------------------------------------------------------------ */

#if CAPALLOC_HAVE_SQLITE
static int sq_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_floor: sqlite: %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
}

/* Bind the texts v[0..n) and step once. */
static int sq_row(sqlite3 *db, sqlite3_stmt *st, int n,
                  const char *const *v)
{
    for (int k = 0; k < n; k++)
        if (sqlite3_bind_text(st, k + 1, v[k], -1, SQLITE_STATIC) !=
            SQLITE_OK)
            return sq_fail(db, "bind");
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sq_fail(db, "step");
}

static int floor_sqlite(job *j, const char *path, const char *date)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st[5] = {NULL};
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         " PRAGMA foreign_keys=ON; BEGIN IMMEDIATE",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sq_fail(db, "begin");
        goto out;
    }
    j->trips++;
    sqlite3_stmt *q;
    /* the chain's head */
    if (sqlite3_prepare_v2(db, "SELECT run_hash FROM capalloc_runs"
                               " ORDER BY run_id DESC LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK) {
        sq_fail(db, "prepare");
        goto out;
    }
    j->trips++;
    int head = sqlite3_step(q) == SQLITE_ROW
                   ? set_prev(j, (const char *)sqlite3_column_text(q, 0))
                   : set_prev(j, NULL);
    sqlite3_finalize(q);
    if (head != 0)
        goto out;
    if (sqlite3_prepare_v2(db, "SELECT portfolio_id, cash FROM cash_equity_book",
                           -1, &q, NULL) != SQLITE_OK) {
        sq_fail(db, "prepare");
        goto out;
    }
    j->trips++;
    while (sqlite3_step(q) == SQLITE_ROW)
        on_cash(j, (const char *)sqlite3_column_text(q, 0),
                (const char *)sqlite3_column_text(q, 1));
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(db, "SELECT portfolio_id, ticker, quantity"
                               " FROM positions_book",
                           -1, &q, NULL) != SQLITE_OK) {
        sq_fail(db, "prepare");
        goto out;
    }
    j->trips++;
    while (sqlite3_step(q) == SQLITE_ROW)
        on_position(j, (const char *)sqlite3_column_text(q, 0),
                    (const char *)sqlite3_column_text(q, 1),
                    (const char *)sqlite3_column_text(q, 2));
    sqlite3_finalize(q);

    plan(j);
    chain(j, date);
    static const char *const sql[5] = {
        "INSERT INTO capalloc_runs (action, run_date, forced, created_at,"
        " capalloc_version, detail, prev_hash, run_hash)"
        " VALUES ('ALLOCATE', ?1, 1, ?2, 'floor', '{}', ?3, ?4)",
        "INSERT INTO trade_execution_logs (run_id, portfolio_id, ticker, side,"
        " quantity, arrival_price, exec_price, executed_at, row_hash)"
        " VALUES (?1, ?2, 'USD_CASH', ?3, ?4, '1', '1', ?5, ?6)",
        "UPDATE cash_equity_book SET cash = ?2, updated_at = ?3"
        " WHERE portfolio_id = ?1",
        "INSERT INTO capalloc_valuations (run_id, valuation_date,"
        " portfolio_id, is_master, imported, cash, positions_value, nav,"
        " weight, target, transfer, shortfall)"
        " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, '0')",
        "INSERT INTO capalloc_run_prices (run_id, ticker, price, as_of, stale)"
        " VALUES (?1, ?2, ?3, 0, 0)"};
    for (int k = 0; k < 5; k++)
        if (sqlite3_prepare_v2(db, sql[k], -1, &st[k], NULL) != SQLITE_OK) {
            sq_fail(db, "prepare");
            goto out;
        }
    const char *d1[4] = {date, j->created_at, j->prev_hex, j->run_hex};
    if (sq_row(db, st[0], 4, d1) != 0)
        goto out;
    char run[32], a[32], c[32], pv[32], n[32], t[32], x[32], w[32];
    const char *ts = "2025-01-01T00:00:00.000Z";
    snprintf(run, sizeof run, "%lld", (long long)sqlite3_last_insert_rowid(db));
    fmt(900000 / (int64_t)(j->n_books - 1), w, sizeof w);
    size_t row = 0;
    for (size_t i = 0; i < j->n_books; i++) {
        const book *b = &j->books[i];
        if (i > 0 && b->transfer != 0) {
            fmt(b->transfer < 0 ? -b->transfer : b->transfer, a, sizeof a);
            const char *out1[6] = {run, payer(j, i), "SELL", a, ts,
                                   j->row_hex[row]};
            const char *in1[6] = {run, payee(j, i), "BUY", a, ts,
                                  j->row_hex[row + 1]};
            row += 2;
            if (sq_row(db, st[1], 6, out1) != 0 ||
                sq_row(db, st[1], 6, in1) != 0)
                goto out;
        }
        fmt(b->cash + b->transfer, a, sizeof a);
        const char *cu[3] = {b->id, a, ts};
        fmt(b->cash, c, sizeof c);
        fmt(b->pv, pv, sizeof pv);
        fmt(b->cash + b->pv, n, sizeof n);
        fmt(b->target, t, sizeof t);
        fmt(b->transfer, x, sizeof x);
        const char *va[10] = {run, date, b->id, i == 0 ? "1" : "0", c, pv,
                              n, i == 0 ? "0.1" : w, t, x};
        if ((b->transfer != 0 && sq_row(db, st[2], 3, cu) != 0) ||
            sq_row(db, st[3], 10, va) != 0)
            goto out;
    }
    for (size_t k = 0; k < j->n_prices; k++)
        if (j->used[k]) {
            fmt(j->price[k], a, sizeof a);
            const char *pr[3] = {run, j->ticker[k], a};
            if (sq_row(db, st[4], 3, pr) != 0)
                goto out;
        }
    /* the writes as the plugin counts them (capalloc -vv): runs of each
     * statement, SQLITE_STMTSTATUS_RUN, which counts the stamp's triggers
     * (issue 14) each write fires as runs too */
    for (int k = 0; k < 5; k++)
        j->trips += sqlite3_stmt_status(st[k], SQLITE_STMTSTATUS_RUN, 0);
    j->trips++;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sq_fail(db, "commit");
        goto out;
    }
    rc = 0;
out:
    for (int k = 0; k < 5; k++)
        sqlite3_finalize(st[k]);
    if (rc != 0 && db != NULL)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}
#endif

int floor_run(const char *backend, const char *ledger, const char *prices,
              int strategies, const char *date, long *trips, long *moved)
{
    job j;
    memset(&j, 0, sizeof j);
    int rc = -1;
    if (read_prices(&j, prices) != 0) {
        fprintf(stderr, "bench_floor: %s: %s\n", prices, strerror(errno));
        return -1;
    }
    job_books(&j, strategies);
#if TEST_WITH_LIBPQ
    if (strcmp(backend, "postgres") == 0)
        rc = floor_pg(&j, ledger, date);
#endif
#if CAPALLOC_HAVE_SQLITE
    if (strcmp(backend, "sqlite") == 0)
        rc = floor_sqlite(&j, ledger, date);
#endif
    *trips = j.trips;
    *moved = 0;
    for (size_t i = 1; i < j.n_books; i++)
        *moved += j.books[i].transfer != 0;
    job_free(&j);
    return rc;
}

#ifdef FLOOR_MAIN
/* bench_floor_{sqlite,pg} BACKEND LEDGER PRICES STRATEGIES DATE: one run;
 * prints "TRIPS MOVED" on stdout, exits 0 or 1. */
int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s BACKEND LEDGER PRICES STRATEGIES DATE\n",
                argv[0]);
        return 2;
    }
    long trips = 0, moved = 0;
    int rc = floor_run(argv[1], argv[2], argv[3], atoi(argv[4]), argv[5],
                       &trips, &moved);
    printf("%ld %ld\n", trips, moved);
    return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}
#endif
