#!/usr/bin/env bash
# Plan, approve, apply end to end on the sqlite backend (tests/plan-lib.sh).
BACKEND=sqlite
. "${abs_top_srcdir:?run me through make check}/tests/plan-lib.sh"
