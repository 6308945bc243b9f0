/*
 * check_e2e.c - end-to-end runs of the capalloc binary on the embedded
 * defaults (sqlite storage, file prices, fixed_weight policy), reading the
 * ledger back with libsqlite3 to check every row.
 *
 * CAPALLOC_BIN is the uninstalled binary; it finds its plugins in the build
 * tree. TEST_BUILDDIR/core holds the manage_capital and daily_allocator
 * links. Every test works in its own temporary directory.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "decimal.h"
#include "testutil.h"

#ifndef CAPALLOC_BIN
#error "CAPALLOC_BIN must point at the built binary"
#endif

static char out[65536], err[65536];
static int run_prog(const char *const *args);

static void setup(void)
{
    tu_mkdir("e2e");
}

/* A test that edits its ledger behind capalloc's back on purpose sets
 * this: its ledger is not expected to verify. */
static int ledger_edited_by_hand;

static void teardown(void)
{
    /* every ledger a test leaves replays and chains (capalloc verify) */
    char yaml[PATH_MAX], db[PATH_MAX];
    tu_path(yaml, sizeof yaml, "fund.yaml");
    tu_path(db, sizeof db, "fund.db");
    if (!ledger_edited_by_hand && access(yaml, R_OK) == 0 &&
        access(db, R_OK) == 0) {
        int rc = run_prog((const char *const[]){CAPALLOC_BIN, "-c",
                                                "fund.yaml", "verify", NULL});
        ck_assert_msg(rc == 0, "the test's ledger does not verify (exit "
                               "%d):\n%s%s", rc, out, err);
    }
    ledger_edited_by_hand = 0;
    tu_rmdir();
}

/* Run argv (argv[0] is the program) in the test's folder; out and err get
 * its output; the exit code. */
static int run_prog(const char *const *args)
{
    return tu_run(args, out, sizeof out, err, sizeof err);
}

#define RUN(...)                                                             \
    run_prog((const char *const[]){CAPALLOC_BIN, __VA_ARGS__, NULL})
#define RUN_AS(name, ...)                                                    \
    run_prog((const char *const[]){TEST_BUILDDIR "/core/" name,              \
                                   ##__VA_ARGS__, NULL})

/* Assert a run's exit code; a mismatch shows the run's stderr. */
#define EXPECT_EXIT(call, code)                                              \
    do {                                                                     \
        int rc_ = (call);                                                    \
        ck_assert_msg(rc_ == (code), "%s: exit %d, want %d; stderr:\n%s",     \
                      #call, rc_, (code), err);                              \
    } while (0)

/* ---- reading the ledger ------------------------------------------------ */

static sqlite3 *open_db(const char *name)
{
    char path[PATH_MAX];
    tu_path(path, sizeof path, name);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    return db;
}

/* The result of a query, rows joined by '\n', columns by '|'. */
static const char *q(const char *dbname, const char *sql)
{
    static char buf[65536];
    sqlite3 *db = open_db(dbname);
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
                  "%s: %s", sql, sqlite3_errmsg(db));
    size_t used = 0;
    buf[0] = '\0';
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                     c ? "|" : (used ? "\n" : ""),
                                     v ? v : "NULL");
        }
    }
    ck_assert_int_eq(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return buf;
}

/* Run SQL on the ledger directly, as another system would. */
static void exec_sql(const char *dbname, const char *sql)
{
    sqlite3 *db = open_db(dbname);
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
                  "%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* Everything in the ledger, to show a failed command changed nothing. */
static char *dump(const char *dbname)
{
    char *all = malloc(200000);
    ck_assert_ptr_nonnull(all);
    all[0] = '\0';
    const char *sqls[] = {
        "SELECT * FROM cash_equity_book ORDER BY portfolio_id",
        "SELECT * FROM positions_book ORDER BY portfolio_id, ticker",
        "SELECT * FROM trade_execution_logs ORDER BY log_id",
        "SELECT * FROM capalloc_runs ORDER BY run_id"};
    for (int i = 0; i < 4; i++) {
        strcat(all, q(dbname, sqls[i]));
        strcat(all, "\n--\n");
    }
    return all;
}

static const char DESIGN_JSON[] =
    "{\n"
    "  \"master_portfolio_id\": \"0\",\n"
    "  \"currency\": \"USD\",\n"
    "  \"portfolio_weights\": {\"1\": 0.30, \"2\": 0.30, \"3\": 0.40}\n"
    "}\n";

static const char FULL_YAML[] =
    "master_portfolio_id: \"0\"\n"
    "currency: USD\n"
    "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
    "prices: {plugin: file, options: {path: ./prices.csv}}\n"
    "policy: {plugin: fixed_weight, options: {weights: {\"1\": 0.30, \"2\": 0.30, \"3\": 0.40}}}\n";

/* ---- the design's workflow -------------------------------------------- */

START_TEST(design_workflow_exact)
{
    /* The design's JSON config, unchanged, found as ./capalloc.yaml, and the
     * design's command lines. */
    tu_write_file("capalloc.yaml", "%s", DESIGN_JSON);
    ck_assert_msg(RUN_AS("manage_capital", "--action", "ADD", "--amount", "100000") == 0,
                  "%s", err);
    ck_assert_msg(RUN_AS("daily_allocator") == 0, "%s", err);

    /* sqlite file beside the config (the default) */
    ck_assert_str_eq(q("capalloc.db",
                       "SELECT portfolio_id, cash FROM cash_equity_book "
                       "ORDER BY portfolio_id"),
                     "0|0.00\n1|30000.00\n2|30000.00\n3|40000.00");
    ck_assert_str_eq(
        q("capalloc.db",
          "SELECT r.action, t.portfolio_id, t.ticker, t.side, t.quantity, "
          "t.arrival_price, t.exec_price FROM trade_execution_logs t JOIN "
          "capalloc_runs r USING (run_id) ORDER BY t.log_id"),
        "ADD|0|USD_CASH|BUY|100000.00|1.00|1.00\n"
        "ALLOCATE|0|USD_CASH|SELL|30000.00|1.00|1.00\n"
        "ALLOCATE|1|USD_CASH|BUY|30000.00|1.00|1.00\n"
        "ALLOCATE|0|USD_CASH|SELL|30000.00|1.00|1.00\n"
        "ALLOCATE|2|USD_CASH|BUY|30000.00|1.00|1.00\n"
        "ALLOCATE|0|USD_CASH|SELL|40000.00|1.00|1.00\n"
        "ALLOCATE|3|USD_CASH|BUY|40000.00|1.00|1.00");
    ck_assert_str_eq(q("capalloc.db", "SELECT count(*) FROM positions_book"), "0");

    /* WITHDRAW from the design: refused (the master holds 0 now) ... */
    char *before = dump("capalloc.db");
    EXPECT_EXIT(RUN_AS("manage_capital", "--action", "WITHDRAW", "--amount", "50000"), 4);
    ck_assert_ptr_nonnull(strstr(err, "insufficient funds"));
    ck_assert_ptr_nonnull(strstr(err, "50000.00"));
    char *after = dump("capalloc.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* ... and allowed once there is cash. */
    EXPECT_EXIT(RUN_AS("manage_capital", "--action", "ADD", "--amount", "60000"), 0);
    EXPECT_EXIT(RUN_AS("manage_capital", "--action", "WITHDRAW", "--amount", "50000"), 0);
    ck_assert_str_eq(q("capalloc.db", "SELECT cash FROM cash_equity_book WHERE portfolio_id='0'"),
                     "10000.00");
}
END_TEST

START_TEST(full_form_and_subcommands)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    ck_assert_msg(RUN("--config", "fund.yaml", "capital", "add", "100000") == 0, "%s", err);
    ck_assert_msg(RUN("--config", "fund.yaml", "allocate", "--date", "2026-11-24", "--allow-past-date") == 0,
                  "%s", err);
    ck_assert_ptr_nonnull(strstr(out, "3 transfers committed"));
    ck_assert_str_eq(q("fund.db", "SELECT cash FROM cash_equity_book ORDER BY portfolio_id"),
                     "0.00\n30000.00\n30000.00\n40000.00");
    /* status, as JSON */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "status"), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"total_equity\":\"100000.00\""));
    ck_assert_ptr_nonnull(strstr(out, "\"id\":\"3\",\"weight\":\"0.4\",\"cash\":\"40000.00\""));
    ck_assert_ptr_nonnull(strstr(out, "\"drift\":\"0.00\""));
}
END_TEST

/* ---- scheduler safety --------------------------------------------------- */

START_TEST(date_keyed_run)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-01-02", "--allow-past-date"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-01-02", "--allow-past-date"), 0);
    ck_assert_ptr_nonnull(strstr(out, "already ran"));
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after); /* no new transfers */
    free(before);
    free(after);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "allocate", "--date", "2026-01-02", "--allow-past-date"), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"status\":\"already_ran\""));
    /* --force runs again */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-01-02", "--allow-past-date", "--force"), 0);
    ck_assert_str_eq(q("fund.db", "SELECT cash FROM cash_equity_book ORDER BY portfolio_id"),
                     "0.00\n600.00\n600.00\n800.00");
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM capalloc_runs WHERE action='ALLOCATE'"),
                     "2");
    /* another date is a new run */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-01-03", "--allow-past-date"), 0);
    ck_assert_ptr_nonnull(strstr(out, "0 transfers committed"));
}
END_TEST

START_TEST(concurrent_allocators)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100000"), 0);
    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            int dn = open("/dev/null", O_WRONLY);
            if (dn < 0 || chdir(tu_dir) != 0)
                _exit(127);
            dup2(dn, 1);
            dup2(dn, 2);
            execl(CAPALLOC_BIN, CAPALLOC_BIN, "--config", "fund.yaml", "allocate",
                  "--date", "2026-03-03", "--allow-past-date", (char *)NULL);
            _exit(126);
        }
    }
    for (int i = 0; i < N; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 0); /* each: done, or already ran */
    }
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM capalloc_runs WHERE action='ALLOCATE'"), "1");
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM trade_execution_logs t JOIN capalloc_runs r "
                                  "USING (run_id) WHERE r.action='ALLOCATE'"),
                     "6");
    ck_assert_str_eq(q("fund.db", "SELECT cash FROM cash_equity_book ORDER BY portfolio_id"),
                     "0.00\n30000.00\n30000.00\n40000.00");
}
END_TEST

/* ---- idempotent capital movements (--ref) ------------------------------- */

/* A retried ADD with its reference books it once: the repeat exits 0 and
 * says so, another amount or action with the reference is refused (exit 2,
 * nothing written), and eight concurrent runs of one ADD book one. */
START_TEST(capital_reference_books_once)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "--ref", "X", "100"),
                0);
    ck_assert_has(out, "ADD 100.00 USD");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "--ref", "X", "100"),
                0);
    ck_assert_has(out, "reference 'X' is already booked (run 1");
    ck_assert_has(out, "nothing written");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "--json", "capital", "add", "100.00",
                    "--ref=X"),
                0);
    ck_assert_has(out, "\"repeat\":true,\"run_id\":1,");
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "--ref", "X", "101"),
                2);
    ck_assert_has(err, "reference 'X' is already booked as ADD "
                                "100.00 USD (run 1,");
    ck_assert_has(err, "not ADD 101.00 USD");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--ref", "X",
                    "100"),
                2);
    ck_assert_has(err, "not WITHDRAW 100.00 USD");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "--ref", "", "1"), 2);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "--ref", "a\tb", "1"),
                2);
    ck_assert_has(err, "control character at byte 2");
    char *after = dump("fund.db");
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    /* a withdrawal's repeat is a no-op even when the balance no longer
     * covers it */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--ref", "W",
                    "100"),
                0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--ref", "W",
                    "100"),
                0);
    ck_assert_has(out, "already booked");

    enum { N = 8 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            int dn = open("/dev/null", O_WRONLY);
            if (dn < 0 || chdir(tu_dir) != 0)
                _exit(127);
            dup2(dn, 1);
            dup2(dn, 2);
            execl(CAPALLOC_BIN, CAPALLOC_BIN, "--config", "fund.yaml",
                  "capital", "add", "--ref", "pay-8", "250", (char *)NULL);
            _exit(126);
        }
    }
    for (int i = 0; i < N; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 0); /* booked, or already */
    }
    ck_assert_str_eq(q("fund.db", "SELECT count(*), group_concat(t.quantity) FROM "
                                  "capalloc_runs r JOIN trade_execution_logs "
                                  "t USING (run_id) WHERE r.reference = "
                                  "'pay-8'"),
                     "1|250.00");
    ck_assert_str_eq(q("fund.db", "SELECT action || ' ' || reference FROM "
                                  "capalloc_runs ORDER BY run_id"),
                     "ADD X\nWITHDRAW W\nADD pay-8");
    ck_assert_str_eq(q("fund.db", "SELECT cash FROM cash_equity_book"),
                     "250.00");
}
END_TEST

/* ---- rebalance rules ----------------------------------------------------- */

/* The cash books "id=cash" in id order, one line each, and the total. */
#define BOOKS "SELECT group_concat(portfolio_id || '=' || cash, ' ') FROM " \
              "(SELECT * FROM cash_equity_book ORDER BY portfolio_id)"

/* Money in minus money out, in cents, and the cash in the books: equal
 * after every command (only ADD and WITHDRAW change the fund's cash). */
static void check_cash(long long net_cents)
{
    sqlite3 *db = open_db("fund.db");
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT cash FROM cash_equity_book",
                                        -1, &st, NULL),
                     SQLITE_OK);
    long long total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        capalloc_dec d;
        ck_assert_int_eq(dec_parse((const char *)sqlite3_column_text(st, 0),
                                   &d),
                         CAPALLOC_OK);
        ck_assert_msg(d.micros >= 0, "a negative book");
        total += d.micros / 10000;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    ck_assert_int_eq(total, net_cents);
}

static const char REBAL_YAML[] =
    "master_portfolio_id: \"0\"\n"
    "currency: USD\n"
    "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
    "prices: {plugin: file, options: {path: ./prices.csv}}\n"
    "policy: {plugin: fixed_weight, options: {weights: {\"1\": 0.30, \"2\": "
    "0.30, \"3\": 0.40}}}\n"
    "rebalance:\n"
    "  drift_band: {relative: 0.01}\n"
    "  min_transfer: 500\n"
    "  max_transfer: 20000\n"
    "  cash_buffer: 0.05\n";

/* Four runs under band + minimum + maximum + buffer (the same scenario
 * runs on postgres in flows-postgres.pgtest): the buffer scales the
 * weights to 0.285/0.285/0.38, the maximum cuts the first run, the second
 * finishes it down to the buffer, the minimum skips two small fundings,
 * the band skips every move; cash conserved after each run. */
START_TEST(rebalance_rules_over_runs)
{
    tu_write_file("fund.yaml", "%s", REBAL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,268.47\n");
#define ALLOC(date)                                                          \
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", date,           \
                    "--allow-past-date"),                                    \
                0)
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100000"), 0);
    ALLOC("2025-01-06");
    ck_assert_has(out, "rebalance: portfolio '1' planned +28500.00, moves "
                       "+20000.00: cash buffer (weight 0.30 -> 0.285); cut "
                       "to max_transfer 20000.00;");
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=40000.00 1=20000.00 2=20000.00 3=20000.00");
    check_cash(10000000);
    ALLOC("2025-01-07");
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=5000.00 1=28500.00 2=28500.00 3=38000.00");
    check_cash(10000000);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "1500"), 0);
    ALLOC("2025-01-08");
    ck_assert_has(out, "portfolio '1' planned +427.50, moves 0.00: cash "
                       "buffer (weight 0.30 -> 0.285); below min_transfer "
                       "500.00, skipped;");
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=5930.00 1=28500.00 2=28500.00 3=38570.00");
    check_cash(10150000);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "500"), 0);
    ALLOC("2025-01-09");
    ck_assert_has(out, "allocation 2025-01-09: 0 transfers");
    ck_assert_has(out, "portfolio '3' planned -190.00, moves 0.00: cash "
                       "buffer (weight 0.40 -> 0.38); inside the drift band "
                       "(weight 0.381881, target 0.38), skipped;");
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=5430.00 1=28500.00 2=28500.00 3=38570.00");
    check_cash(10100000);
#undef ALLOC
    /* the record says what each rule did; explain shows it */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "explain", "2025-01-08"), 0);
    ck_assert_has(out, "Rebalance rules: drift band relative 0.01 "
                       "(strategy); min_transfer 500.00; max_transfer "
                       "20000.00; cash buffer 0.05 (5075.00)");
    ck_assert_has(out, "  2: weight 0.285 (policy 0.3, held 0.280788), "
                       "planned 427.50, moved 0.00: cash_buffer, "
                       "min_transfer\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "--json", "explain", "2025-01-06"), 0);
    ck_assert_has(out, "\"3\":{\"policy_weight\":\"0.4\",\"weight\":"
                       "\"0.38\",\"current_weight\":\"0\",\"outside_band\":"
                       "true,\"planned\":\"38000.00\",\"transfer\":"
                       "\"20000.00\",\"rules\":[\"cash_buffer\","
                       "\"max_transfer\"]}");
}
END_TEST

/* ---- queued redemptions ------------------------------------------------- */

/* The sum of the cash books, in cents. */
static long long cash_cents(void)
{
    sqlite3 *db = open_db("fund.db");
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT cash FROM cash_equity_book",
                                        -1, &st, NULL),
                     SQLITE_OK);
    long long total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        capalloc_dec d;
        ck_assert_int_eq(dec_parse((const char *)sqlite3_column_text(st, 0),
                                   &d),
                         CAPALLOC_OK);
        ck_assert_msg(d.micros >= 0, "a negative book");
        total += d.micros / 10000;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return total;
}

/* 50,000 queued from a fully allocated 100,000 fund whose strategies hold
 * the cash: paid in full by the next run, as a WITHDRAW in its
 * transaction; total cash falls by exactly what was paid. */
START_TEST(queued_redemption_paid_in_full)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,100\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100000"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-06",
                    "--allow-past-date"),
                0);
    /* a plain withdrawal over the master's cash: exit 4, says how to queue */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "50000"), 4);
    ck_assert_has(err, "capalloc capital withdraw --queue 50000.00");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--queue",
                    "50000", "--ref", "inv-9"),
                0);
    ck_assert_has(out, "queued redemption 1 of 50000.00 USD (reference "
                       "'inv-9')");
    /* the same reference again: a no-op; another amount: refused */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--queue",
                    "50000", "--ref", "inv-9"),
                0);
    ck_assert_has(out, "already queued: redemption 1");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--queue",
                    "500", "--ref", "inv-9"),
                2);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions"), 0);
    ck_assert_has(out, "queued           50000.00           0.00");
    long long before = cash_cents();
    ck_assert_int_eq(before, 10000000);
    /* the dry run shows the payout, writes nothing */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-07",
                    "--allow-past-date", "-n"),
                0);
    ck_assert_has(out, "redemptions: 50000.00 USD queued; would pay "
                       "50000.00; redemption 1: 50000.00; master cash after "
                       "the payout 0.00");
    ck_assert_int_eq(cash_cents(), before);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-07",
                    "--allow-past-date"),
                0);
    ck_assert_has(out, "redemptions: 50000.00 USD queued; pays 50000.00");
    ck_assert_int_eq(before - cash_cents(), 5000000);
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=0.00 1=15000.00 2=15000.00 3=20000.00");
    /* logged as a WITHDRAW is, after the run's transfers */
    ck_assert_str_eq(q("fund.db", "SELECT r.action || ' ' || t.portfolio_id "
                                  "|| ' ' || t.side || ' ' || t.quantity "
                                  "FROM capalloc_runs r JOIN "
                                  "trade_execution_logs t USING (run_id) "
                                  "WHERE r.run_id = (SELECT max(run_id) FROM "
                                  "capalloc_runs)"),
                     "WITHDRAW 0 SELL 50000.00");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions"), 0);
    ck_assert_has(out, "no queued redemptions");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions", "--all"), 0);
    ck_assert_has(out, "paid             50000.00       50000.00");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "--json", "explain", "2025-01-07"), 0);
    ck_assert_has(out, "\"redemptions\":{\"queued\":\"50000.00\",\"paid\":"
                       "\"50000.00\",\"master_after_payout\":\"0.00\"");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions", "cancel", "1"), 2);
    ck_assert_has(err, "redemption 1 is already paid");
}
END_TEST

/* When a strategy's excess sits in positions, the run pays what the
 * master holds after the transfers (the partial payout rule, flows.c);
 * the rest stays queued and can be cancelled. */
START_TEST(queued_redemption_paid_in_part)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,100\n");
    /* strategy 1 holds 30000 in AAPL and no cash */
    tu_write_file("pos.csv", "portfolio_id,ticker,quantity\n1,AAPL,300\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "70000"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-06",
                    "--allow-past-date"),
                0);
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=0.00 1=0.00 2=30000.00 3=40000.00");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "withdraw", "--queue",
                    "50000"),
                0);
    long long before = cash_cents();
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-07",
                    "--allow-past-date"),
                0);
    ck_assert_has(out, "redemptions: 50000.00 USD queued; pays 35000.00 "
                       "(partial: the master holds no more after the "
                       "transfers; the rest stays queued)");
    ck_assert_int_eq(before - cash_cents(), 3500000);
    ck_assert_str_eq(q("fund.db", BOOKS),
                     "0=0.00 1=0.00 2=15000.00 3=20000.00");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "--json", "redemptions"), 0);
    ck_assert_has(out, "{\"id\":1,\"state\":\"queued\",\"amount\":"
                       "\"50000.00\",\"paid\":\"35000.00\",\"owed\":"
                       "\"15000.00\",\"reference\":null,");
    /* nothing more to raise in cash: the next run pays nothing */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-08",
                    "--allow-past-date"),
                0);
    ck_assert_has(out, "queued; pays 0.00 (partial");
    ck_assert_int_eq(before - cash_cents(), 3500000);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions", "cancel", "1"), 0);
    ck_assert_has(out, "cancelled redemption 1: 15000.00 USD no longer owed");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions", "cancel", "1"), 2);
    ck_assert_has(err, "is already cancelled");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "redemptions", "cancel", "x"), 2);
}
END_TEST

/* ---- a large move is a question ------------------------------------------ */

/* rebalance.max_nav_move: a strategy whose NAV moved more than 20% since
 * its last recorded valuation stops the run before any write (exit 9),
 * named with its old and new NAV and the tickers that moved most;
 * --accept-moves runs it and the record says so. */
START_TEST(large_move_stops_the_run)
{
    tu_write_file("fund.yaml", "%s  \nrebalance: {max_nav_move: 0.2}\n",
                  FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,100\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100000"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-06",
                    "--allow-past-date"),
                0);
    /* a fat-fingered import: strategy 3 gains 10000 of AAPL (+25%) */
    tu_write_file("pos.csv", "portfolio_id,ticker,quantity\n3,AAPL,100\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "positions", "import", "pos.csv"), 0);
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-07",
                    "--allow-past-date"),
                9);
    ck_assert_has(err, "a large move is a question, not a transfer: "
                       "portfolio '3' NAV 40000.00 -> 50000.00 USD (+25.00%) "
                       "since the run of 2025-01-06, above max_nav_move 0.2; "
                       "moved most: AAPL 100 x (none) -> 100.00 "
                       "(+10000.00). Nothing was written");
    ck_assert_has(err, "re-run with --accept-moves");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-07",
                    "--allow-past-date", "-n"),
                9);
    char *after = dump("fund.db");
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-07",
                    "--allow-past-date", "--accept-moves"),
                0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "--json", "explain", "2025-01-07"), 0);
    ck_assert_has(out, "\"accepted_moves\":[{\"portfolio\":\"3\","
                       "\"nav_then\":\"40000.00\",\"nav_now\":\"50000.00\","
                       "\"move\":\"0.25\"}]");
    /* a bad price: named with the price it had at the last run */
    tu_write_file("prices.csv", "ticker,price\nAAPL,10000\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-08",
                    "--allow-past-date"),
                9);
    ck_assert_has(err, "portfolio '3' NAV 44000.00 -> 1034000.00 USD");
    ck_assert_has(err, "moved most: AAPL 100 x 100.00 -> 10000.00 "
                       "(+990000.00)");
    /* within the limit: runs */
    tu_write_file("prices.csv", "ticker,price\nAAPL,110\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2025-01-08",
                    "--allow-past-date"),
                0);
}
END_TEST

/* ---- all or nothing ----------------------------------------------------- */

START_TEST(failure_mid_write_rolls_back)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100000"), 0);
    /* A real SQLite failure in the middle of the run's writes: the trade row
     * for portfolio 3 is refused after those for 1 and 2 went in. */
    sqlite3 *db = open_db("fund.db");
    ck_assert_int_eq(sqlite3_exec(db,
                                  "CREATE TRIGGER no3 BEFORE INSERT ON trade_execution_logs "
                                  "WHEN NEW.portfolio_id = '3' BEGIN "
                                  "SELECT RAISE(ABORT, 'disk on fire'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-05-05", "--allow-past-date"), 7);
    ck_assert_ptr_nonnull(strstr(err, "disk on fire"));
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}
END_TEST

START_TEST(missing_price_aborts_before_write)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,268.47\n");
    tu_write_file("pos.csv", "portfolio_id,ticker,quantity\n1,AAPL,10\n2,ZZZZ,5\n3,QQQQ,1\n");
    ck_assert_msg(RUN("--config", "fund.yaml", "positions", "import", "pos.csv") == 0, "%s", err);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100000"), 0);
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate"), 5);
    ck_assert_ptr_nonnull(strstr(err, "ZZZZ"));
    ck_assert_ptr_nonnull(strstr(err, "QQQQ"));
    ck_assert_ptr_nonnull(strstr(err, "portfolio '2'"));
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(after);
    /* a price source that cannot answer at all is exit 5 too, naming the
     * file and line, and writes nothing */
    tu_write_file("prices.csv", "ticker,price\nAAPL,268.47\nZZZZ,1O.5\nQQQQ,1\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate"), 5);
    ck_assert_msg(strstr(err, "prices.csv:3: price of ZZZZ ('1O.5')") != NULL,
                  "%s", err);
    char path[PATH_MAX];
    tu_path(path, sizeof path, "prices.csv");
    ck_assert_int_eq(unlink(path), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate"), 5);
    ck_assert_msg(strstr(err, "cannot open price file") != NULL, "%s", err);
    after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* with the prices, it runs; positions are valued exactly */
    tu_write_file("prices.csv", "ticker,price\nAAPL,268.47\nZZZZ,10.5\nQQQQ,0.01\n");
    ck_assert_msg(RUN("--config", "fund.yaml", "--json", "allocate", "--date", "2026-06-01", "--allow-past-date") == 0,
                  "%s", err);
    /* equity = 100000 + 2684.70 + 52.50 + 0.01 = 102737.21 */
    ck_assert_ptr_nonnull(strstr(out, "\"total_equity\":\"102737.21\""));
    ck_assert_ptr_nonnull(strstr(out, "\"price_requests\":1"));
    /* s1: target floor(102737.21*0.3)=30821.16, holds 2684.70 -> +28136.46 */
    ck_assert_str_eq(q("fund.db", "SELECT cash FROM cash_equity_book WHERE portfolio_id='1'"),
                     "28136.46");
}
END_TEST

/* A price source's last-known (CAPALLOC_QUOTE_STALE) prices are named in
 * the output: a text line each, and the JSON array "stale_prices". */
START_TEST(stale_prices_reported)
{
    tu_write_file("fund.yaml",
               "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "plugin_dir: %s\n"
               "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
               "prices: {plugin: good_prices, options: {tickers: \"AAA,BBB\", "
               "price: 2.5, as_of: 1700000000, stale: %s}}\n"
               "policy: {plugin: fixed_weight, options: {weights: {\"1\": 0.5}}}\n",
               TEST_PLUGIN_DIR, "true");
    tu_write_file("pos.csv", "1,AAA,10\n1,BBB,4\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--dry-run"), 0);
    ck_assert_msg(strstr(out, "stale price: AAA valued at its last known price 2.5") &&
                      strstr(out, "stale price: BBB"),
                  "%s", out);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "allocate", "--dry-run"), 0);
    ck_assert_msg(strstr(out, "\"stale_prices\":[\"AAA\",\"BBB\"]}") != NULL, "%s", out);
    /* fresh prices: an empty list, no line */
    tu_write_file("fund.yaml",
               "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "plugin_dir: %s\n"
               "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
               "prices: {plugin: good_prices, options: {tickers: \"AAA,BBB\", "
               "price: 2.5, as_of: 1700000000, stale: %s}}\n"
               "policy: {plugin: fixed_weight, options: {weights: {\"1\": 0.5}}}\n",
               TEST_PLUGIN_DIR, "false");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "allocate", "--dry-run"), 0);
    ck_assert_msg(strstr(out, "\"stale_prices\":[]}") != NULL, "%s", out);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--dry-run"), 0);
    ck_assert_msg(strstr(out, "stale price") == NULL, "%s", out);
}
END_TEST

START_TEST(overweight_in_positions_reports_shortfall)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nBIG,1000\n");
    tu_write_file("pos.csv", "1,BIG,80\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "20000"), 0);
    /* equity 100000: s1 holds 80000 in positions, target 30000: it has no
     * cash to return; s2/s3 want 30000 + 40000 but only 20000 exists. */
    ck_assert_msg(RUN("--config", "fund.yaml", "allocate", "--date", "2026-07-01", "--allow-past-date") == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(out, "shortfall: portfolio '1' is 50000.00 USD"));
    ck_assert_ptr_nonnull(strstr(out, "scaled pro rata"));
    ck_assert_str_eq(q("fund.db", "SELECT portfolio_id, cash FROM cash_equity_book ORDER BY 1"),
                     "0|0.01\n1|0.00\n2|8571.42\n3|11428.57");
    /* 20000 x 30000/70000 = 8571.428.. -> 8571.42; 20000 x 40000/70000 =
     * 11428.571.. -> 11428.57; the 0.01 left stays in the master */
}
END_TEST

START_TEST(cash_conserved_over_a_sequence)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nX,3.333333\nY,77.7\n");
    tu_write_file("pos.csv", "1,X,1000\n2,Y,12.5\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    const char *adds[] = {"12345.67", "0.01", "99999.99", "5000"};
    const char *dates[] = {"2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04"};
    for (int i = 0; i < 4; i++) {
        EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", adds[i]), 0);
        ck_assert_msg(RUN("--config", "fund.yaml", "allocate", "--date", dates[i], "--allow-past-date") == 0, "%s", err);
        if (i == 2) {
            EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "withdraw", "0.01"), 0);
            tu_write_file("prices.csv", "ticker,price\nX,9\nY,1.05\n");
        }
    }
    /* total cash (summed exactly from text) = adds - withdrawals */
    const char *cash = q("fund.db", "SELECT cash FROM cash_equity_book");
    long long cents = 0;
    for (const char *p = cash; *p;) {
        long long w = 0, f = 0;
        int nf = 0;
        while (*p >= '0' && *p <= '9')
            w = w * 10 + (*p++ - '0');
        ck_assert(*p == '.');
        p++;
        while (*p >= '0' && *p <= '9' && nf < 2) {
            f = f * 10 + (*p++ - '0');
            nf++;
        }
        ck_assert_int_eq(nf, 2);
        cents += w * 100 + f;
        while (*p == '\n')
            p++;
    }
    ck_assert_int_eq(cents, 1234567 + 1 + 9999999 + 500000 - 1);
    /* and no balance is negative */
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM cash_equity_book WHERE cash LIKE '-%'"), "0");
}
END_TEST

/* ---- bad input: clear message, right exit code, nothing written --------- */

START_TEST(bad_input_changes_nothing)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    char *before = dump("fund.db");
    struct {
        const char *args[8];
        int code;
        const char *needle;
    } t[] = {
        {{"--config", "fund.yaml", "capital", "add", "abc"}, 2, "'abc'"},
        {{"--config", "fund.yaml", "capital", "add", "-5"}, 2, "positive"},
        {{"--config", "fund.yaml", "capital", "add", "1.005"}, 2, "decimal places"},
        {{"--config", "fund.yaml", "capital", "add", "1e5"}, 2, "'1e5'"},
        {{"--config", "fund.yaml", "capital", "move", "5"}, 2, "unknown action"},
        {{"--config", "fund.yaml", "capital", "withdraw", "1000.01"}, 4, "insufficient funds"},
        {{"--config", "fund.yaml", "allocate", "--date", "2026-02-30", "--allow-past-date"}, 2, "YYYY-MM-DD"},
        /* one day, one spelling: the date is the run's key */
        {{"--config", "fund.yaml", "allocate", "--date", "2026-01- 5"}, 2, "YYYY-MM-DD"},
        {{"--config", "fund.yaml", "allocate", "--date", "2026-+1-05"}, 2, "YYYY-MM-DD"},
        {{"--config", "fund.yaml", "allocate", "--date", "26-01-05"}, 2, "YYYY-MM-DD"},
        /* conflicting capital arguments are refused, never resolved */
        {{"--config", "fund.yaml", "capital", "add", "--action", "WITHDRAW",
          "--amount", "5"}, 2, "action is given twice"},
        {{"--config", "fund.yaml", "capital", "add", "100", "--amount", "200"},
         2, "amount is given twice"},
        {{"--config", "fund.yaml", "capital", "--action", "ADD", "--action",
          "WITHDRAW", "5"}, 2, "action is given twice"},
        {{"--config", "fund.yaml", "frobnicate"}, 2, "unknown command"},
        {{"--config", "nope.yaml", "status"}, 3, "nope.yaml"},
        {{"--config", "fund.yaml", "positions", "import", "missing.csv"}, 2, "missing.csv"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *argv[10] = {CAPALLOC_BIN};
        memcpy(argv + 1, t[i].args, sizeof t[i].args);
        int rc = run_prog(argv);
        ck_assert_msg(rc == t[i].code, "case %zu: exit %d, want %d: %s", i, rc,
                      t[i].code, err);
        ck_assert_msg(strstr(err, t[i].needle) != NULL, "case %zu: '%s' not in: %s", i,
                      t[i].needle, err);
    }
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}
END_TEST

/* A book of 100,000 rows: all of them written, each exactly, in one run.
 * (bench_import measures the time; this checks the result only.) */
START_TEST(import_hundred_thousand_rows)
{
    enum { N = 100000 };
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    char path[PATH_MAX];
    tu_path(path, sizeof path, "pos.csv");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "portfolio_id,ticker,quantity\n");
    for (int i = 0; i < N; i++)
        fprintf(f, "%d,T%06d,%d%s\n", i % 3 + 1, i, i, i % 7 ? "" : ".25");
    ck_assert_int_eq(fclose(f), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    ck_assert_has(out, "imported 100000 positions for 3 portfolios");
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM positions_book"), "100000");
    /* every row as written: portfolio, ticker and quantity agree */
    ck_assert_str_eq(
        q("fund.db",
          "SELECT count(*) FROM positions_book WHERE "
          "portfolio_id = CAST(CAST(substr(ticker, 2) AS INTEGER) % 3 + 1 AS TEXT) "
          "AND quantity = CAST(CAST(substr(ticker, 2) AS INTEGER) AS TEXT) || "
          "CASE WHEN CAST(substr(ticker, 2) AS INTEGER) % 7 = 0 "
          "THEN '.25' ELSE '.00' END"),
        "100000");
    ck_assert_str_eq(q("fund.db", "SELECT portfolio_id, count(*) FROM "
                                  "positions_book GROUP BY portfolio_id"),
                     "1|33334\n2|33333\n3|33333");
    /* the books of the three strategies were opened */
    ck_assert_str_eq(q("fund.db", "SELECT portfolio_id, cash FROM "
                                  "cash_equity_book ORDER BY portfolio_id"),
                     "1|0.00\n2|0.00\n3|0.00");
    /* a duplicate at the very end: refused, naming both lines, and the
     * ledger is unchanged */
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "2,T000001,5\n");
    ck_assert_int_eq(fclose(f), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 2);
    ck_assert_has(err, "pos.csv:100002: position 2/T000001 given twice "
                       "(first on line 3)");
    ck_assert_str_eq(q("fund.db", "SELECT quantity FROM positions_book WHERE "
                                  "ticker = 'T000001'"),
                     "1.00");
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM capalloc_runs"), "1");
}
END_TEST

START_TEST(bad_config_names_file_line_key)
{
    /* the policy's own checks (its options, bound when it starts) are
     * met by the commands that weight the fund: a capital movement does
     * not start the policy (cmd: "status" there, else "capital add 5") */
    struct {
        const char *yaml;
        int code;
        const char *needles[3];
        const char *cmd;
    } t[] = {
        {"master_portfolio_id: \"0\"\ncurrency: USD\nportfolio_weights: {\"1\": 0.6, \"2\": 0.5}\n",
         3, {"bad.yaml:3", "portfolio_weights", "more than 1"}, "status"},
        {"master_portfolio_id: \"0\"\ncurrency: USD\nportfolio_weights:\n  \"1\": 0.5\n  \"2\": -0.1\n",
         3, {"bad.yaml:5", "portfolio_weights.2", "negative"}, "status"},
        {"master_portfolio_id: \"0\"\ncurrency: USD\nportfolio_weights:\n  \"0\": 0.5\n",
         3, {"bad.yaml:4", "portfolio_weights.0", "master"}, "status"},
        {"master_portfolio_id: \"0\"\ncurrency: USD\nstorage: {plugin: nosuch}\n"
         "portfolio_weights: {\"1\": 0.5}\n",
         3, {"bad.yaml:3", "storage.plugin", "nosuch"}, NULL},
        {"master_portfolio_id: \"0\"\ncurrency: USD\nstorage:\n  plugin: sqlite\n"
         "  options: {path: x.db, colour: red}\nportfolio_weights: {\"1\": 0.5}\n",
         3, {"bad.yaml:5", "storage.options.colour", "unknown option"}, NULL},
        {"master_portfolio_id: \"0\"\ncurrency: USD\nportfolio_weights: {\"1\": 0.5}\n"
         "portfolio_weights: {\"1\": 0.5}\n",
         3, {"bad.yaml:4", "portfolio_weights", "duplicate"}, NULL},
        {"currency: USD\nportfolio_weights: {\"1\": 0.5}\n", 3,
         {"bad.yaml:1", "master_portfolio_id", "missing"}, NULL},
        {"master_portfolio_id: \"0\"\ncurrency: USD\nportfolio_weights: {\"1\": 0.5}\n"
         "prices: {plugin: sqlite}\n",
         6, {"sqlite", "price source", "storage backend"}, NULL},
        /* a ledger that cannot be opened: storage failure, at its option */
        {"master_portfolio_id: \"0\"\ncurrency: USD\n"
         "storage: {plugin: sqlite, options: {path: /nonexistent-dir/x.db}}\n"
         "portfolio_weights: {\"1\": 0.5}\n",
         7, {"bad.yaml:3", "storage.options.path", "/nonexistent-dir/x.db"}, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        tu_write_file("bad.yaml", "%s", t[i].yaml);
        int rc = t[i].cmd != NULL
                     ? RUN("--config", "bad.yaml", t[i].cmd)
                     : RUN("--config", "bad.yaml", "capital", "add", "5");
        ck_assert_msg(rc == t[i].code, "case %zu: exit %d, want %d: %s", i, rc,
                      t[i].code, err);
        for (int k = 0; k < 3 && t[i].needles[k]; k++)
            ck_assert_msg(strstr(err, t[i].needles[k]) != NULL,
                          "case %zu: '%s' not in: %s", i, t[i].needles[k], err);
        /* nothing written: not even a database file */
        char path[PATH_MAX];
        struct stat sb;
        tu_path(path, sizeof path, "capalloc.db");
        ck_assert_msg(stat(path, &sb) != 0, "case %zu created a ledger", i);
    }
}
END_TEST

/* Input refused before the first transaction leaves no ledger behind:
 * not even the default capalloc.db beside the config. */
START_TEST(refused_input_creates_no_ledger)
{
    tu_write_file("capalloc.yaml", "%s", DESIGN_JSON);
    tu_write_file("pos.csv", "portfolio_id,ticker,quantity\n1,AAPL,ten\n");
    EXPECT_EXIT(RUN("capital", "add", "1.001"), 2);
    EXPECT_EXIT(RUN("positions", "import", "pos.csv"), 2);
    ck_assert_msg(strstr(err, "pos.csv:2") != NULL, "no file:line in: %s", err);
    EXPECT_EXIT(RUN("allocate", "--date", "2026-13-01", "--allow-past-date"), 2);
    char path[PATH_MAX];
    struct stat sb;
    tu_path(path, sizeof path, "capalloc.db");
    ck_assert_msg(stat(path, &sb) != 0, "refused input created %s", path);
}
END_TEST

/* The bytes of tu_dir/name (at most len), their count returned. */
static size_t file_bytes(const char *name, char *buf, size_t len)
{
    char path[PATH_MAX];
    tu_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n = fread(buf, 1, len, f);
    ck_assert_msg(feof(f), "%s is larger than %zu bytes", path, len);
    fclose(f);
    return n;
}

/* A SQLite file that is not a capalloc ledger is refused, not changed. */
START_TEST(foreign_database_refused)
{
    const char *setups[] = {
        "PRAGMA user_version = 1;",                 /* versioned, unmarked */
        "CREATE TABLE t(x); INSERT INTO t VALUES(1);", /* tables, unversioned */
        "PRAGMA application_id = 42;",              /* another program's */
    };
    for (size_t i = 0; i < sizeof setups / sizeof setups[0]; i++) {
        char path[PATH_MAX];
        tu_path(path, sizeof path, "other.db");
        unlink(path);
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, setups[i], NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        tu_write_file("fund.yaml",
                   "master_portfolio_id: \"0\"\ncurrency: USD\n"
                   "storage: {plugin: sqlite, options: {path: other.db}}\n"
                   "portfolio_weights: {\"1\": 0.5}\n");
        static char before[65536], after[65536];
        size_t nb = file_bytes("other.db", before, sizeof before);
        EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "5"), 3);
        ck_assert_msg(strstr(err, "fund.yaml:3") != NULL &&
                          strstr(err, "not a capalloc ledger") != NULL,
                      "case %zu: %s", i, err);
        size_t na = file_bytes("other.db", after, sizeof after);
        ck_assert_msg(nb == na && memcmp(before, after, nb) == 0,
                      "case %zu: other.db was changed", i);
    }
}
END_TEST

/* A policy named by path, with its own options in the snapshot: the test
 * plugin good_policy refuses to weigh without them. */
START_TEST(policy_by_path_gets_its_options)
{
    tu_write_file("fund.yaml",
               "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "policy:\n  plugin: %s/good_policy.so\n"
               "  options: {weights: {\"1\": 0.5, \"2\": 0.25}, label: x}\n",
               TEST_PLUGIN_DIR);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-03-02", "--allow-past-date"), 0);
    ck_assert_str_eq(q("capalloc.db", "SELECT portfolio_id, cash FROM "
                                      "cash_equity_book ORDER BY portfolio_id"),
                     "0|25.00\n1|50.00\n2|25.00");
}
END_TEST

/* A ledger kept in one currency opened by a config in another: a
 * configuration error (exit 3) that says how to fix it, nothing changed. */
START_TEST(currency_mismatch_is_a_config_error)
{
    tu_write_file("fund.yaml", "master_portfolio_id: \"0\"\ncurrency: USD\n"
                               "portfolio_weights: {\"1\": 0.5}\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100"), 0);
    tu_write_file("fund.yaml", "master_portfolio_id: \"0\"\ncurrency: EUR\n"
                               "portfolio_weights: {\"1\": 0.5}\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status"), 3);
    ck_assert_ptr_nonnull(strstr(err, "booked in USD"));
    ck_assert_ptr_nonnull(strstr(err, "set 'currency: USD'"));
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "5"), 3);
    ck_assert_str_eq(q("capalloc.db", "SELECT portfolio_id, currency, cash "
                                      "FROM cash_equity_book"),
                     "0|USD|100.00");
}
END_TEST

/* A policy built against the ABI 1.0 header (tests/abi-1.0) loads and
 * runs unchanged on an ABI 1.1 core, whose run is recorded all the same. */
START_TEST(abi_1_0_policy_still_runs)
{
    tu_write_file("fund.yaml",
                  "master_portfolio_id: \"0\"\ncurrency: USD\n"
                  "portfolios: [\"1\", \"2\"]\n"
                  "policy:\n  plugin: %s/policy_abi10.so\n",
                  TEST_PLUGIN_DIR);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "plugins"), 0);
    ck_assert_ptr_nonnull(strstr(out, "policy_abi10"));
    ck_assert_ptr_nonnull(strstr(out, "ABI 1.0"));
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date",
                    "2026-03-02", "--allow-past-date"),
                0);
    ck_assert_str_eq(q("capalloc.db", "SELECT portfolio_id, cash FROM "
                                      "cash_equity_book ORDER BY portfolio_id"),
                     "0|400.00\n1|300.00\n2|300.00");
    ck_assert_str_eq(q("capalloc.db", "SELECT portfolio_id, nav, weight FROM "
                                      "capalloc_valuations ORDER BY portfolio_id"),
                     "0|1000.00|0.40\n1|0.00|0.30\n2|0.00|0.30");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "explain", "2026-03-02"), 0);
    ck_assert_ptr_nonnull(strstr(out, "policy_abi10"));
}
END_TEST

START_TEST(dry_run_writes_nothing)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "500"), 0);
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--dry-run"), 0);
    ck_assert_ptr_nonnull(strstr(out, "nothing written"));
    ck_assert_ptr_nonnull(strstr(out, "150.00"));
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "5", "--dry-run"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "capital", "withdraw", "500",
                         "--dry-run"),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "\"after\":\"0.00\""));
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}
END_TEST

START_TEST(help_everywhere)
{
    const char *cmds[] = {"capital", "allocate", "status", "positions", "plugins"};
    for (int i = 0; i < 5; i++) {
        EXPECT_EXIT(RUN(cmds[i], "--help"), 0);
        ck_assert_ptr_nonnull(strstr(out, "Usage: capalloc"));
    }
    EXPECT_EXIT(RUN("--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "Exit codes"));
    EXPECT_EXIT(RUN_AS("manage_capital", "--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--action"));
    EXPECT_EXIT(RUN_AS("daily_allocator", "--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "--force"));
}
END_TEST

START_TEST(config_from_environment)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    setenv("CAPALLOC_CONFIG", "fund.yaml", 1);
    int rc = RUN("capital", "add", "10");
    unsetenv("CAPALLOC_CONFIG");
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(q("fund.db", "SELECT cash FROM cash_equity_book"), "10.00");
    /* no config anywhere */
    rc = RUN("status");
    ck_assert_int_eq(rc, 3);
    ck_assert_ptr_nonnull(strstr(err, "capalloc.yaml"));
}
END_TEST

/* ---- data other systems write into positions_book ---------------------- */

#define POS_ROW(id, ticker, qty)                                             \
    "INSERT INTO positions_book (portfolio_id, ticker, quantity, updated_at)" \
    " VALUES ('" id "', '" ticker "', '" qty "', '2026-01-01T00:00:00Z');"

/* A short written by another system is refused by every run that reads
 * it, naming each row, exit 5, nothing written - as positions import
 * refuses it. */
START_TEST(ledger_short_refused)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,268.47\nMSFT,100\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-04-01",
                    "--allow-past-date"), 0);
    exec_sql("fund.db", POS_ROW("2", "AAPL", "-5") POS_ROW("0", "MSFT", "-1.5")
                            POS_ROW("1", "AAPL", "3"));
    char *before = dump("fund.db");
    const char *cmds[][8] = {
        {"allocate", "--date", "2026-04-02", "--allow-past-date"},
        {"allocate", "--dry-run"},
        {"allocate", "--date", "2026-04-02", "--allow-past-date",
         "--accept-nav", "2"},
        {"status"},
        {"--json", "status"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *argv[12] = {CAPALLOC_BIN, "--config", "fund.yaml"};
        memcpy(argv + 3, cmds[i], sizeof cmds[i]);
        int rc = run_prog(argv);
        ck_assert_msg(rc == 5, "case %zu: exit %d, want 5: %s", i, rc, err);
        ck_assert_has(err, "2 negative quantities");
        ck_assert_has(err, "portfolio '2' ticker AAPL quantity -5");
        ck_assert_has(err, "portfolio '0' ticker MSFT quantity -1.5");
        ck_assert_has(err, "nothing was written");
    }
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(after);
    /* positions import refuses the same quantity where it enters */
    tu_write_file("pos.csv", "2,AAPL,-5\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 2);
    ck_assert_has(err, "pos.csv:1");
    after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}
END_TEST

/* A strategy that holds positions but is worth nothing is not funded
 * unless the operator says so; a brand-new one (no book, no positions)
 * is. */
START_TEST(ledger_nav_zero_needs_acceptance)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nDUST,0.01\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    /* 0.000001 x 0.01 is worth 0.00000001: 0 at capalloc's 6 places */
    exec_sql("fund.db", POS_ROW("1", "DUST", "0.000001"));
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-04-01",
                    "--allow-past-date"), 5);
    ck_assert_has(err, "portfolio '1' has a NAV of 0.00");
    ck_assert_has(err, "while it holds positions");
    ck_assert_has(err, "--accept-nav 1");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status"), 5);
    ck_assert_has(err, "portfolio '1' has a NAV of 0.00");
    /* accepting another strategy does not help; a typo is a usage error */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--dry-run",
                    "--accept-nav", "2"), 5);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--dry-run",
                    "--accept-nav", "9"), 2);
    ck_assert_has(err, "'9' is not a strategy portfolio");
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status", "--accept-nav", "1"), 0);
    /* accepted: funded like the others (2 and 3 are brand-new books) */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-04-01",
                    "--allow-past-date", "--accept-nav", "1"), 0);
    ck_assert_str_eq(q("fund.db", "SELECT portfolio_id, cash FROM "
                                  "cash_equity_book ORDER BY 1"),
                     "0|0.00\n1|300.00\n2|300.00\n3|400.00");
    /* and the record says it was accepted */
    ck_assert_has(q("fund.db", "SELECT detail FROM capalloc_runs WHERE "
                               "action = 'ALLOCATE'"),
                  "\"accepted_nav\":[\"1\"]");
}
END_TEST

/* Values beyond capalloc's range from ledger rows: exit 5 naming the
 * portfolio (and the row), never 1, nothing written. */
START_TEST(ledger_overflow_is_valuation_error)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nBIG,10\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    /* one position: 1e12 x 10 is beyond 9.2e12 */
    exec_sql("fund.db", POS_ROW("2", "BIG", "1000000000000"));
    char *before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-04-01",
                    "--allow-past-date"), 5);
    ck_assert_has(err, "portfolio '2' ticker BIG: quantity 1000000000000 at "
                       "price 10");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status"), 5);
    ck_assert_has(err, "portfolio '2' ticker BIG");
    char *after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* each portfolio fits, their sum does not */
    exec_sql("fund.db", "DELETE FROM positions_book;"
                        POS_ROW("1", "BIG", "500000000000")
                            POS_ROW("2", "BIG", "500000000000"));
    before = dump("fund.db");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-04-01",
                    "--allow-past-date"), 5);
    ck_assert_has(err, "total equity is beyond");
    ck_assert_has(err, "portfolio '2'");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "status"), 5);
    ck_assert_has(err, "total equity is beyond");
    after = dump("fund.db");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}
END_TEST

/* The master's positions are equity, not cash: in total equity and the
 * targets, in the record's master row, never transferred. */
START_TEST(master_positions_counted)
{
    tu_write_file("fund.yaml",
                  "master_portfolio_id: \"0\"\ncurrency: USD\n"
                  "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
                  "prices: {plugin: file, options: {path: ./prices.csv}}\n"
                  "policy: {plugin: fixed_weight, options: {weights: "
                  "{\"1\": 0.30, \"2\": 0.30}}}\n");
    tu_write_file("prices.csv", "ticker,price\nMSFT,100.00\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    exec_sql("fund.db", POS_ROW("0", "MSFT", "5"));
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status"), 0);
    ck_assert_has(out, "total equity 1500.00 USD");
    ck_assert_has(out, "500.00");
    /* E = 1000 + 500 = 1500: targets 450 and 450, the master keeps 100 of
     * cash and its 500 of MSFT (the 0.4 reserve is 600) */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "allocate", "--date",
                    "2026-04-01", "--allow-past-date"), 0);
    ck_assert_has(out, "\"total_equity\":\"1500.00\"");
    ck_assert_has(out, "\"cash_before\":\"1000.00\",\"positions_value\":"
                       "\"500.00\",\"cash_after\":\"100.00\"");
    ck_assert_str_eq(q("fund.db", "SELECT portfolio_id, cash FROM "
                                  "cash_equity_book ORDER BY 1"),
                     "0|100.00\n1|450.00\n2|450.00");
    ck_assert_str_eq(q("fund.db", "SELECT ticker, quantity FROM positions_book"),
                     "MSFT|5");
    ck_assert_str_eq(q("fund.db", "SELECT cash, positions_value, nav FROM "
                                  "capalloc_valuations WHERE is_master = 1"),
                     "1000.00|500.00|1500.00");
    ck_assert_has(q("fund.db", "SELECT detail FROM capalloc_runs WHERE "
                               "action = 'ALLOCATE'"),
                  "\"master_positions\":\"500.00\"");
    ck_assert_str_eq(q("fund.db", "SELECT ticker, price FROM capalloc_run_prices"),
                     "MSFT|100.00");
}
END_TEST

/* Positions of a portfolio the configuration does not name: a warning
 * with their value, not counted, the run goes on. */
START_TEST(unknown_portfolio_positions_warned)
{
    tu_write_file("fund.yaml", "%s", FULL_YAML);
    tu_write_file("prices.csv", "ticker,price\nAAPL,268.47\n");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    exec_sql("fund.db", POS_ROW("9", "AAPL", "2") POS_ROW("8", "AAPL", "1")
                            POS_ROW("8", "GONE", "3"));
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "allocate", "--date",
                    "2026-04-01", "--allow-past-date"), 0);
    ck_assert_has(err, "warning: portfolio '9' holds 1 position worth 536.94 "
                       "USD but is not in the configuration; it is left "
                       "alone and not counted in total equity");
    ck_assert_has(err, "warning: portfolio '8' holds 2 positions of unknown "
                       "value (no price for GONE)");
    ck_assert_has(out, "\"total_equity\":\"1000.00\"");
    ck_assert_has(out, "\"price_requests\":1");
    /* priced for the warning only: not a price the run used */
    ck_assert_has(out, "\"prices\":[]");
    ck_assert_str_eq(q("fund.db", "SELECT count(*) FROM capalloc_run_prices"),
                     "0");
    ck_assert_str_eq(q("fund.db", "SELECT portfolio_id, cash FROM "
                                  "cash_equity_book ORDER BY 1"),
                     "0|0.00\n1|300.00\n2|300.00\n3|400.00");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status"), 0);
    ck_assert_has(err, "portfolio '9' holds 1 position worth 536.94 USD");
    /* once a strategy holds GONE too, its missing price fails the run,
     * naming the strategy (not the unknown '10', listed first) */
    exec_sql("fund.db", POS_ROW("10", "GONE", "1") POS_ROW("2", "GONE", "1"));
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--dry-run"), 5);
    ck_assert_has(err, "GONE held by portfolio '2'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc = tcase_create("binary");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, design_workflow_exact);
    tcase_add_test(tc, full_form_and_subcommands);
    tcase_add_test(tc, date_keyed_run);
    tcase_add_test(tc, concurrent_allocators);
    tcase_add_test(tc, capital_reference_books_once);
    tcase_add_test(tc, rebalance_rules_over_runs);
    tcase_add_test(tc, queued_redemption_paid_in_full);
    tcase_add_test(tc, queued_redemption_paid_in_part);
    tcase_add_test(tc, large_move_stops_the_run);
    tcase_add_test(tc, failure_mid_write_rolls_back);
    tcase_add_test(tc, missing_price_aborts_before_write);
    tcase_add_test(tc, stale_prices_reported);
    tcase_add_test(tc, overweight_in_positions_reports_shortfall);
    tcase_add_test(tc, cash_conserved_over_a_sequence);
    tcase_add_test(tc, bad_input_changes_nothing);
    tcase_add_test(tc, import_hundred_thousand_rows);
    tcase_add_test(tc, bad_config_names_file_line_key);
    tcase_add_test(tc, refused_input_creates_no_ledger);
    tcase_add_test(tc, foreign_database_refused);
    tcase_add_test(tc, policy_by_path_gets_its_options);
    tcase_add_test(tc, abi_1_0_policy_still_runs);
    tcase_add_test(tc, currency_mismatch_is_a_config_error);
    tcase_add_test(tc, dry_run_writes_nothing);
    tcase_add_test(tc, help_everywhere);
    tcase_add_test(tc, config_from_environment);
    tcase_add_test(tc, ledger_short_refused);
    tcase_add_test(tc, ledger_nav_zero_needs_acceptance);
    tcase_add_test(tc, ledger_overflow_is_valuation_error);
    tcase_add_test(tc, master_positions_counted);
    tcase_add_test(tc, unknown_portfolio_positions_warned);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
