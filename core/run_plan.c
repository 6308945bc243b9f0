/*
 * run_plan.c - the plan as one write batch: transfer rows (SELL from the
 * payer, BUY to the payee, USD_CASH at 1.0) and new cash balances.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

/* ------------------------------------------------------------------------ */
/* writing                                                                   */
/* ------------------------------------------------------------------------ */


void batch_free(batch_buf *b)
{
    free(b->trades);
    free(b->cash);
    memset(b, 0, sizeof *b);
}

int add_trade(batch_buf *b, const char *id, const char *ticker,
                     capalloc_side side, capalloc_dec qty)
{
    if (GROW(b->trades, b->n_trades, b->cap_trades))
        return -1;
    b->trades[b->n_trades++] = (capalloc_trade){
        id, ticker, side, qty, dec_from_int(1), dec_from_int(1)};
    return 0;
}

/* An internal transfer: two rows, SELL from the payer, BUY to the payee. */
int add_transfer(batch_buf *b, const char *cash_ticker, const char *from,
                        const char *to, capalloc_dec amount)
{
    return add_trade(b, from, cash_ticker, CAPALLOC_SELL, amount) ||
           add_trade(b, to, cash_ticker, CAPALLOC_BUY, amount);
}

int add_cash(batch_buf *b, const char *id, capalloc_dec cash)
{
    if (GROW(b->cash, b->n_cash, b->cap_cash))
        return -1;
    b->cash[b->n_cash++] = (capalloc_cash_row){id, cash};
    return 0;
}
