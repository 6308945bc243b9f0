/*
 * decimal.h - exact decimal arithmetic for the core (see capalloc_dec in
 * capalloc_plugin.h for the representation and why it was chosen).
 *
 * Rules:
 *   - parsing accepts [+-]digits[.digits] with at most 6 decimal places
 *     (and an optional exponent-free form only); anything else, more places,
 *     or a value out of range is refused: input is never rounded;
 *   - add/sub are exact or report CAPALLOC_ERR_OVERFLOW;
 *   - mul/div compute the exact result in 128 bits and round it to 6 places
 *     by the rule asked for, or report overflow;
 *   - dec_quantize takes a value to `places` decimals (the currency's minor
 *     unit), rounding by the rule asked for.
 * The allocator's money rule (documented in alloc.h): targets and transfers
 * are rounded DOWN (toward zero) to the currency's minor unit, so rounding
 * never creates money and every residue stays in the master portfolio.
 */
#ifndef CAPALLOC_DECIMAL_H
#define CAPALLOC_DECIMAL_H

#include "capalloc_plugin.h"

#define DEC_ZERO ((capalloc_dec){0})

capalloc_status dec_parse(const char *text, capalloc_dec *out);
/* Parse like dec_parse but also refuse more than max_places decimals. */
capalloc_status dec_parse_places(const char *text, int max_places,
                                 capalloc_dec *out);
/* The parser dec_parse_places falls back on for every text outside its
 * fast path; same contract. Declared for the tests that compare the two. */
capalloc_status dec_parse_places_general(const char *text, int max_places,
                                         capalloc_dec *out);
char *dec_format(capalloc_dec d, int min_places, char *buf, size_t len);
capalloc_status dec_add(capalloc_dec a, capalloc_dec b, capalloc_dec *out);
capalloc_status dec_sub(capalloc_dec a, capalloc_dec b, capalloc_dec *out);
capalloc_status dec_mul(capalloc_dec a, capalloc_dec b, capalloc_round r,
                        capalloc_dec *out);
capalloc_status dec_div(capalloc_dec a, capalloc_dec b, capalloc_round r,
                        capalloc_dec *out);
capalloc_status dec_quantize(capalloc_dec a, int places, capalloc_round r,
                             capalloc_dec *out);
int dec_cmp(capalloc_dec a, capalloc_dec b);
int dec_places(capalloc_dec a); /* decimal places the value needs, 0..6 */
capalloc_dec dec_from_int(int64_t units); /* units must be in range */
static inline int dec_is_zero(capalloc_dec a) { return a.micros == 0; }
static inline int dec_is_neg(capalloc_dec a) { return a.micros < 0; }

#endif
