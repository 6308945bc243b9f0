/*
 * report_data.h - what `capalloc report` reads besides engine_history: the
 * record of many runs at once (report_data.c).
 */
#ifndef CAPALLOC_REPORT_DATA_H
#define CAPALLOC_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* The records of the runs ids[0..n) (as engine_explain gives one), all
 * read in one read transaction: a date's earlier runs too, not only its
 * latest (a forced re-run leaves both, and both moved money). out must
 * hold n entries; on failure none is left filled. A run that is not
 * recorded is a storage error (runs are never deleted). */
int engine_explain_runs(engine *en, const int64_t *ids, size_t n,
                        run_explain *out, cap_error *e);

#endif
