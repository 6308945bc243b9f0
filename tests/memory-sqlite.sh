#!/usr/bin/env bash
# The fund's memory end to end on the sqlite backend (tests/memory-lib.sh).
BACKEND=sqlite
. "${abs_top_srcdir:?run me through make check}/tests/memory-lib.sh"
