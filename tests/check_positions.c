/*
 * check_positions.c - the positions file reader (core/positions_csv.c):
 * what it accepts (header, comments, blank lines, CRLF, BOM, blanks), what
 * it refuses and how it says so (file:line, the value at fault, the line of
 * a duplicate's first occurrence), that the first error in file order is
 * the one reported, and a book of 100,000 rows read correctly. Files are
 * real files in a temporary folder, read through positions_csv_load as the
 * import reads them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "positions_csv.h"
#include "testutil.h"

/* Strategies in no particular order, one twice (the reader must cope). */
static const char *const ids[] = {"3", "1", "2", "alpha", "1"};
#define N_IDS (sizeof ids / sizeof *ids)

static positions_csv pc;
static cap_error e;

static void setup(void)
{
    tu_mkdir("positions");
    memset(&pc, 0, sizeof pc);
    memset(&e, 0, sizeof e);
}

static void teardown(void)
{
    positions_csv_free(&pc);
    tu_rmdir();
}

/* Write pos.csv with text (len bytes: NULs allowed) and read it. */
static int read_bytes(const char *text, size_t len)
{
    char path[4096];
    tu_path(path, sizeof path, "pos.csv");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    positions_csv_free(&pc);
    memset(&e, 0, sizeof e);
    return positions_csv_load(path, ids, N_IDS, "fund.yaml", &pc, &e);
}

static int read_text(const char *text)
{
    return read_bytes(text, strlen(text));
}

/* Assert a refusal: exit 2, nothing returned, the message ends with
 * "pos.csv:LINE: " + what. */
#define REFUSED(text, what)                                                  \
    do {                                                                     \
        int rc_ = read_text(text);                                           \
        ck_assert_msg(rc_ == CAP_EXIT_USAGE, "exit %d for %s (%s)", rc_,     \
                      #text, e.msg);                                         \
        ck_assert_ptr_null(pc.rows);                                         \
        ck_assert_uint_eq(pc.n, 0);                                          \
        ck_assert_has(e.msg, what);                                          \
        ck_assert_has(e.msg, "/pos.csv:");                                   \
    } while (0)

static const char *qty(size_t i)
{
    static char buf[CAPALLOC_DEC_MAX_TEXT];
    return dec_format(pc.rows[i].quantity, 0, buf, sizeof buf);
}

START_TEST(reads_rows_in_file_order)
{
    ck_assert_int_eq(read_text("portfolio_id,ticker,quantity\n"
                               "2,MSFT,5\n"
                               "1,AAPL,10.5\n"
                               "alpha,AAPL,0\n"
                               "1,BRK-B,0.000001\n"),
                     0);
    ck_assert_uint_eq(pc.n, 4);
    ck_assert_str_eq(pc.rows[0].portfolio_id, "2");
    ck_assert_str_eq(pc.rows[0].ticker, "MSFT");
    ck_assert_str_eq(qty(0), "5");
    ck_assert_str_eq(pc.rows[1].portfolio_id, "1");
    ck_assert_str_eq(qty(1), "10.5");
    ck_assert_str_eq(qty(2), "0"); /* zero: the position is closed */
    ck_assert_str_eq(pc.rows[3].ticker, "BRK-B");
    ck_assert_int_eq(pc.rows[3].quantity.micros, 1);
    /* the distinct portfolios, sorted */
    ck_assert_uint_eq(pc.n_portfolios, 3);
    ck_assert_str_eq(pc.portfolios[0], "1");
    ck_assert_str_eq(pc.portfolios[1], "2");
    ck_assert_str_eq(pc.portfolios[2], "alpha");
}
END_TEST

START_TEST(header_is_optional_and_only_first)
{
    ck_assert_int_eq(read_text("1,AAPL,1\n"), 0);
    ck_assert_uint_eq(pc.n, 1);
    /* after comments and blank lines it is still the first data line */
    ck_assert_int_eq(read_text("# book\n\n portfolio_id , ticker , qty \n1,A,1\n"), 0);
    ck_assert_uint_eq(pc.n, 1);
    /* a header-like line after data is data, and refused as such */
    REFUSED("1,A,1\nportfolio_id,ticker,quantity\n",
            "pos.csv:2: portfolio 'portfolio_id' is not a strategy portfolio "
            "of fund.yaml");
}
END_TEST

START_TEST(blanks_comments_crlf_bom)
{
    ck_assert_int_eq(read_text("\xEF\xBB\xBFportfolio_id,ticker,quantity\r\n"
                               "# a comment, with commas\r\n"
                               "   \r\n"
                               "\t1 ,\tAAPL , 7 \r\n"
                               "  # indented comment\n"
                               "2,X,3"), /* no final line end */
                     0);
    ck_assert_uint_eq(pc.n, 2);
    ck_assert_str_eq(pc.rows[0].portfolio_id, "1");
    ck_assert_str_eq(pc.rows[0].ticker, "AAPL");
    ck_assert_str_eq(qty(0), "7");
    ck_assert_str_eq(pc.rows[1].ticker, "X");
    /* an empty file, or only comments: no rows, no error */
    ck_assert_int_eq(read_text(""), 0);
    ck_assert_uint_eq(pc.n, 0);
    ck_assert_uint_eq(pc.n_portfolios, 0);
    ck_assert_int_eq(read_text("# nothing\n\n"), 0);
    ck_assert_uint_eq(pc.n, 0);
}
END_TEST

START_TEST(duplicates_name_both_lines)
{
    REFUSED("1,AAPL,1\n2,AAPL,1\n# x\n1,AAPL,2\n",
            "pos.csv:4: position 1/AAPL given twice (first on line 1)");
    /* three times: the second occurrence is reported */
    REFUSED("1,A,1\n1,B,1\n1,A,2\n1,A,3\n",
            "pos.csv:3: position 1/A given twice (first on line 1)");
    /* two duplicated positions: the one repeated first in the file */
    REFUSED("1,Z,1\n2,A,1\n1,Z,1\n2,A,1\n",
            "pos.csv:3: position 1/Z given twice (first on line 1)");
    REFUSED("2,A,1\n1,Z,1\n1,Y,1\n1,Z,1\n2,A,1\n",
            "pos.csv:4: position 1/Z given twice (first on line 2)");
    /* ids and tickers are compared exactly (after trimming) */
    ck_assert_int_eq(read_text("1,aapl,1\n1,AAPL,1\n 1 , AAPL2 ,1\n"), 0);
    ck_assert_uint_eq(pc.n, 3);
    REFUSED("1,AAPL,1\n 1 , AAPL ,1\n", "pos.csv:2: position 1/AAPL given twice");
}
END_TEST

START_TEST(first_error_in_file_order_wins)
{
    /* a duplicate before a bad line is reported, not the bad line */
    REFUSED("1,A,1\n1,A,2\n1,B,abc\n",
            "pos.csv:2: position 1/A given twice (first on line 1)");
    /* a bad line before a duplicate is reported, not the duplicate */
    REFUSED("1,A,1\n1,B,abc\n1,A,2\n", "pos.csv:2: quantity 'abc' for B");
}
END_TEST

START_TEST(unknown_portfolio)
{
    REFUSED("1,A,1\n4,A,1\n",
            "pos.csv:2: portfolio '4' is not a strategy portfolio of "
            "fund.yaml");
    REFUSED("0,A,1\n", "portfolio '0' is not a strategy portfolio");
    REFUSED(",A,1\n", "pos.csv:1: portfolio '' is not a strategy portfolio");
    REFUSED("Alpha,A,1\n", "portfolio 'Alpha' is not"); /* case matters */
}
END_TEST

START_TEST(bad_quantity)
{
    static const char *const bad[] = {"abc", "-1", "-0.000001", "1.0000001",
                                      "1e5", "1,5", "", "0x10", "1 000",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[128];
        snprintf(text, sizeof text, "1,AAPL,%s\n", bad[i]);
        int rc = read_text(text);
        ck_assert_int_eq(rc, CAP_EXIT_USAGE);
        ck_assert_ptr_null(pc.rows);
        if (strchr(bad[i], ',') != NULL) { /* a fourth field */
            ck_assert_has(e.msg, "pos.csv:1: expected 'portfolio_id,ticker,quantity'");
            continue;
        }
        char want[128];
        snprintf(want, sizeof want,
                 "pos.csv:1: quantity '%s' for AAPL is not a non-negative "
                 "exact decimal (at most 6 decimal places)",
                 bad[i]);
        ck_assert_has(e.msg, want);
    }
    /* short positions are refused, naming the row */
    REFUSED("1,A,1\n2,TSLA,-5\n", "pos.csv:2: quantity '-5' for TSLA");
    /* trailing zeros past 6 places are exact, and accepted */
    ck_assert_int_eq(read_text("1,A,1.50000000\n"), 0);
    ck_assert_str_eq(qty(0), "1.5");
}
END_TEST

START_TEST(bad_lines)
{
    REFUSED("1,A\n", "pos.csv:1: expected 'portfolio_id,ticker,quantity'");
    REFUSED("1,A,1,2\n", "pos.csv:1: expected 'portfolio_id,ticker,quantity'");
    REFUSED("1\n", "pos.csv:1: expected");
    REFUSED("1,,5\n", "pos.csv:1: bad ticker ''");
    char text[256];
    snprintf(text, sizeof text, "1,%065d,1\n", 7); /* a 65-byte ticker */
    REFUSED(text, "pos.csv:1: bad ticker '0000");
    snprintf(text, sizeof text, "1,%064d,1\n", 7); /* 64 bytes: fine */
    ck_assert_int_eq(read_text(text), 0);
    /* a NUL byte: not a text file, whatever follows */
    ck_assert_int_eq(read_bytes("1,A,1\n1,B\0,1\n", 13), CAP_EXIT_USAGE);
    ck_assert_has(e.msg, "pos.csv:2: a NUL byte: not a text file");
    /* a line over the limit, and one at it */
    size_t n = POSITIONS_CSV_MAX_LINE;
    char *big = malloc(n + 3);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', n + 2);
    memcpy(big, "1,A,1", 5);
    big[n] = '\n';
    big[n + 1] = '\0';
    ck_assert_int_eq(read_text(big), 0);
    big[n] = ' ';
    big[n + 1] = '\n';
    big[n + 2] = '\0';
    ck_assert_int_eq(read_text(big), CAP_EXIT_USAGE);
    ck_assert_has(e.msg, "pos.csv:1: line too long");
    free(big);
}
END_TEST

START_TEST(missing_file)
{
    char path[4096];
    tu_path(path, sizeof path, "nope.csv");
    ck_assert_int_eq(positions_csv_load(path, ids, N_IDS, "fund.yaml", &pc, &e),
                     CAP_EXIT_USAGE);
    ck_assert_has(e.msg, "cannot open positions file");
    ck_assert_has(e.msg, "nope.csv");
    ck_assert_ptr_null(pc.rows);
}
END_TEST

/* 100,000 rows over 3 portfolios: every row read, in order, exactly. */
#define BIG 100000

static char *big_book(void)
{
    char *text = malloc((size_t)BIG * 40 + 64);
    ck_assert_ptr_nonnull(text);
    size_t used = (size_t)sprintf(text, "portfolio_id,ticker,quantity\n");
    for (int i = 0; i < BIG; i++)
        used += (size_t)sprintf(text + used, "%d,T%06d,%d.%06d\n", 1 + i % 3,
                                i, i, i % 1000000);
    return text;
}

START_TEST(hundred_thousand_rows)
{
    char *text = big_book();
    ck_assert_int_eq(read_text(text), 0);
    ck_assert_uint_eq(pc.n, BIG);
    ck_assert_uint_eq(pc.n_portfolios, 3);
    for (int i = 0; i < BIG; i++) {
        char id[8], t[16];
        snprintf(id, sizeof id, "%d", 1 + i % 3);
        snprintf(t, sizeof t, "T%06d", i);
        ck_assert_str_eq(pc.rows[i].portfolio_id, id);
        ck_assert_str_eq(pc.rows[i].ticker, t);
        ck_assert_int_eq(pc.rows[i].quantity.micros,
                         (int64_t)i * 1000000 + i % 1000000);
    }
    /* the same book with row 70,000 repeated at the end */
    size_t len = strlen(text);
    sprintf(text + len, "%d,T%06d,1\n", 1 + 70000 % 3, 70000);
    ck_assert_int_eq(read_text(text), CAP_EXIT_USAGE);
    char want[128];
    snprintf(want, sizeof want,
             "pos.csv:%d: position %d/T%06d given twice (first on line %d)",
             BIG + 2, 1 + 70000 % 3, 70000, 70000 + 2);
    ck_assert_has(e.msg, want);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("positions");
    TCase *tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* Under valgrind the 100,000-row book takes a while: a generous limit
     * that only a hang reaches (nothing here measures time). */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reads_rows_in_file_order);
    tcase_add_test(tc, header_is_optional_and_only_first);
    tcase_add_test(tc, blanks_comments_crlf_bom);
    tcase_add_test(tc, duplicates_name_both_lines);
    tcase_add_test(tc, first_error_in_file_order_wins);
    tcase_add_test(tc, unknown_portfolio);
    tcase_add_test(tc, bad_quantity);
    tcase_add_test(tc, bad_lines);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, hundred_thousand_rows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
