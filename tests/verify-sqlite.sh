#!/usr/bin/env bash
# capalloc verify end to end on the sqlite backend (tests/verify-lib.sh).
BACKEND=sqlite
. "${abs_top_srcdir:?run me through make check}/tests/verify-lib.sh"
