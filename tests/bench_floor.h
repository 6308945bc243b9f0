/*
 * bench_floor.h - the floor of bench_storage: an allocation run with the
 * least database work (see bench_floor.c), the programs
 * tests/bench_floor_sqlite and tests/bench_floor_pg. NOT a test.
 */
#ifndef CAPALLOC_BENCH_FLOOR_H
#define CAPALLOC_BENCH_FLOOR_H

/* One run on the bench's fund of `strategies` strategies (ids "1".."S",
 * the master "0"): ledger is the sqlite file or the postgres schema (PG*
 * environment), prices the bench's prices file, date the run's date.
 * *trips: round trips (postgres) or statements (sqlite) of its
 * transaction, *moved: the strategies whose cash it moved. 0, or -1 with
 * a message on stderr. */
int floor_run(const char *backend, const char *ledger, const char *prices,
              int strategies, const char *date, long *trips, long *moved);

#endif
