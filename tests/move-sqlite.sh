#!/usr/bin/env bash
# Deployments and reversals on the sqlite backend (tests/move-lib.sh).
BACKEND=sqlite
. "${abs_top_srcdir:?run me through make check}/tests/move-lib.sh"
