#!/usr/bin/env bash
# A policy stack end to end on the sqlite backend (tests/stack-lib.sh).
BACKEND=sqlite
. "${abs_top_srcdir:?run me through make check}/tests/stack-lib.sh"
