#!/usr/bin/env bash
# policies.sh - the built-in policies against numpy, hand-worked cases,
# fallbacks, config refusals and the isolation of stages (crash, hang,
# memory blow-up): tests/policy_ref.py driving tests/policy_driver.
set -euo pipefail
b=${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
s=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
export CAPALLOC_PLUGIN_DIR="$b/policies/.libs:$b/tests/plugins/.libs"
# numpy from Debian's python3-numpy (scripts/deps): the first python3
# that has it; none is a failure, not a skip.
py=
for p in "${PYTHON3:-}" python3 /usr/bin/python3; do
    if [ -n "$p" ] && "$p" -c 'import numpy' 2>/dev/null; then
        py=$p
        break
    fi
done
if [ -z "$py" ]; then
    echo "policies.sh: no python3 with numpy: run scripts/deps" \
         "(python3-numpy)" >&2
    exit 1
fi
exec "$py" "$s/tests/policy_ref.py" "$b/tests/policy_driver"
