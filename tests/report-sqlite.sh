#!/usr/bin/env bash
# tests/report-sqlite.sh - `capalloc report` end to end on sqlite, checked
# in a real browser (headless chromium).
#
# A scripted fund over six run dates: ADD 100000; strategy 1 holds AAA and
# strategy "m&a<i>" (an id that must be HTML-escaped) holds BBB, imported
# as positions; prices change every date; ADD 20000 after the second run;
# strategy 3 joins at the fourth; WITHDRAW 5000 before the sixth, which
# is then forced again at a corrected price.
# The report is rendered to a file and then:
#   - checked as text: self-contained (no script, stylesheet, image or
#     font to fetch, no link but to its own anchors), ids escaped, the
#     same bytes on a second rendering, --from/--to select the runs;
#   - loaded in chromium with a test script injected (a copy of the file):
#     per chart it counts the series paths the browser laid out with a
#     non-empty bounding box and paints (a line's stroke, an area's fill,
#     as computed from the style sheet), counts the runs table's rows and the runs'
#     <details>, and writes the counts into the DOM, which --dump-dom
#     prints; every console message is captured and an error fails;
#   - screenshot (the report as written) kept in the build tree:
#     tests/report-screenshot.png, beside tests/report.html.
# chromium missing is a failure, not a skip (scripts/deps installs it).
set -euo pipefail
BIN=${abs_top_builddir:?run me through make check}/core/capalloc
ARTEFACTS=$abs_top_builddir/tests
SHOT=$ARTEFACTS/report-screenshot.png
mkdir -p "$ARTEFACTS"

work=$(mktemp -d "${TMPDIR:-/tmp}/capalloc-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

CHROMIUM=${CHROMIUM:-chromium}
if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
    echo "FAIL: '$CHROMIUM' not found: the report is tested in a real" \
        "browser (Debian: apt-get install chromium, or scripts/deps)" >&2
    exit 1
fi

# config FILE WEIGHTS...: "id: w" lines
config() {
    local f=$1
    shift
    {
        printf 'master_portfolio_id: "0"\ncurrency: USD\n'
        printf 'storage:\n  plugin: sqlite\n  options:\n    path: %s/fund.db\n' "$work"
        printf 'prices:\n  plugin: file\n  options:\n    path: prices.csv\n'
        printf 'policy:\n  plugin: fixed_weight\n  options:\n    weights:\n'
        for w in "$@"; do printf '      %s\n' "$w"; done
    } >"$f"
}
config two.yaml '"1": 0.5' '"m&a<i>": 0.3'
config three.yaml '"1": 0.35' '"m&a<i>": 0.25' '"3": 0.25'

run() { # run CONFIG ARGS...: capalloc, output in out/err, fail on non-zero
    local cfg=$1
    shift
    "$BIN" --config "$cfg" "$@" >out 2>err || {
        fail "capalloc $* exited $?: $(cat err)"
        return 1
    }
}
# allocate CONFIG DATE AAA BBB: the prices of the day, then the run
allocate() {
    printf 'ticker,price\nAAA,%s\nBBB,%s\n' "$3" "$4" >prices.csv
    touch -d "$2 21:00:00 UTC" prices.csv
    run "$1" allocate --allow-past-date --date "$2"
}

printf 'portfolio_id,ticker,quantity\n1,AAA,1000\nm&a<i>,BBB,500\n' >positions.csv
run two.yaml capital add 100000
run two.yaml positions import positions.csv
allocate two.yaml 2025-03-03 10.00 20.00
allocate two.yaml 2025-03-04 12.00 19.00
run two.yaml capital add 20000
allocate two.yaml 2025-03-05 11.00 21.50
allocate three.yaml 2025-03-06 9.00 22.00
allocate three.yaml 2025-03-07 10.50 18.00
run three.yaml capital withdraw 5000
allocate three.yaml 2025-03-10 13.00 20.00
# a forced re-run of the last date at corrected prices: both runs moved
# money, both are reported with their explanation
printf 'ticker,price\nAAA,12.50\nBBB,20.00\n' >prices.csv
run three.yaml allocate --allow-past-date --date 2025-03-10 --force
runs=7
strategies=3

# ---- the file -----------------------------------------------------------
run three.yaml report -o report.html
grep -q "^wrote report.html: $runs runs, $strategies strategies$" out ||
    fail "report -o: $(cat out)"
cp report.html "$ARTEFACTS/report.html"

# self-contained: no script or stylesheet to load, no link out of the file
grep -qiE '<script|<link|<img|<iframe|@import|url\(|src=' report.html &&
    fail "the report loads something: $(grep -oiE '<script|<link|<img|<iframe|@import|url\(|src=' report.html | sort -u)"
hrefs=$(grep -oE 'href="[^"]*"' report.html | grep -v '^href="#run-[0-9]*"$' || :)
[ -z "$hrefs" ] || fail "links out of the file: $hrefs"
urls=$(grep -oE '[a-z]+://[^" ]*' report.html | sort -u)
[ "$urls" = "http://www.w3.org/2000/svg" ] ||
    fail "URLs other than the SVG namespace: $urls"
# the ids are escaped wherever they appear
grep -q 'm&a<i>' report.html && fail "an id is written unescaped"
grep -q 'data-series="m&amp;a&lt;i&gt;"' report.html ||
    fail "no escaped data-series for m&a<i>"
# deterministic: the same ledger gives the same bytes
run three.yaml report -o again.html
cmp -s report.html again.html || fail "a second rendering differs"
run three.yaml report
cmp -s report.html out || fail "the report on stdout differs from -o"
# a range: the runs of 2025-03-05..2025-03-07 only
run three.yaml report --from 2025-03-05 --to 2025-03-07 -o range.html
n=$(grep -c '<tr class="run"' range.html || :)
[ "$n" = 3 ] || fail "--from/--to: $n runs in the table, want 3"
grep -q '2025-03-04\|2025-03-10' range.html &&
    fail "--from/--to: a run outside the range is shown"
# amounts at the minor unit; the first run's transfers are worked by hand:
# E = 100000 + 1000 x 10 + 500 x 20 = 120000; targets 60000 and 36000:
# 1 gets 50000, m&a<i> gets 26000 (3 has no row yet: '-'), the reserve
# pays 76000
grep -q '<td class="n">50000.00</td><td class="n">-</td><td class="n">26000.00</td><td class="n">76000.00</td><td class="n">0.00</td><td class="n">-76000.00</td>' report.html ||
    fail "the first run's row: $(grep -m1 '<tr class="run"' report.html)"
# the index of strategy 1 after the second run: its NAV 50000 + 1000 x 12
# = 62000 on a base of 60000: +3.3333% -> 103.3333
grep -q '1 2025-03-04: 103.3333' report.html ||
    fail "the index of 1 on 2025-03-04 is not 103.3333"
# every point of the index and drawdown charts against the returns of
# `capalloc --json history`, compounded here on their own (Decimal, each
# step rounded half-even to 6 places as the definition says)
run three.yaml --json history
python3 - out report.html <<'PY' || fail "the charts' points differ from the recorded returns"
import html, json, re, sys
from decimal import Decimal as D, ROUND_HALF_EVEN
q = lambda x: x.quantize(D("0.000001"), rounding=ROUND_HALF_EVEN)
rows = json.load(open(sys.argv[1]))["rows"]
want = {"nav-index": [], "drawdown": []}
for sid in sorted({r["portfolio"] for r in rows if r["kind"] != "reserve"},
                  key=lambda s: s.encode()):
    idx = high = D(100)
    prev = None
    pts = []
    for r in rows:  # by date, run
        if r["portfolio"] != sid:
            continue
        if not pts and r["return"] is None:
            prev = r
            continue
        if not pts:
            pts.append(((prev or r)["date"], D(100), D(0)))
            if prev is None:
                continue
        if r["return"] is not None:
            idx = q(idx * (1 + D(r["return"])))
        high = max(high, idx)
        pts.append((r["date"], idx, q(q(q(idx / high) - 1) * 100)))
    want["nav-index"] += ["%s %s: %s" % (sid, d, i) for d, i, _ in pts]
    want["drawdown"] += ["%s %s: %s" % (sid, d, x) for d, _, x in pts]
doc = open(sys.argv[2]).read()
bad = 0
for chart, pts in want.items():
    svg = doc[doc.index('data-chart="%s"' % chart):]
    svg = svg[:svg.index("</svg>")]
    got = [html.unescape(t) for t in
           re.findall(r"<circle [^>]*><title>([^<]*)</title>", svg)]
    norm = lambda t: (t.rsplit(": ", 1)[0], D(t.rsplit(": ", 1)[1]))
    if [norm(t) for t in got] != [norm(t) for t in pts]:
        print("%s: got %s\nwant %s" % (chart, got, pts), file=sys.stderr)
        bad = 1
    elif len(got) < 12:
        print("%s: only %d points" % (chart, len(got)), file=sys.stderr)
        bad = 1
sys.exit(bad)
PY
# the runs table against the same history: per run, each strategy's
# transfer ('-' when it had no row), the sums in and out, the reserve's
python3 - out report.html <<'PY' || fail "the runs table differs from the recorded transfers"
import html, json, re, sys
from decimal import Decimal as D
rows = json.load(open(sys.argv[1]))["rows"]
ids = sorted({r["portfolio"] for r in rows if r["kind"] == "strategy"},
             key=lambda s: s.encode())
want = {}
for r in rows:
    if r["kind"] == "imported":
        continue
    want.setdefault(r["run_id"], {})[r["portfolio"]] = D(r["transfer"])
doc = open(sys.argv[2]).read()
got = {int(m.group(1)): [html.unescape(c) for c in
                         re.findall(r'<td class="n">([^<]*)</td>', m.group(2))]
       for m in re.finditer(r'<tr class="run" data-run="(\d+)">(.*?)</tr>', doc)}
bad = sorted(got) != sorted(want)
for run, t in want.items():
    cells = [("%.2f" % t[i]) if i in t else "-" for i in ids]
    tin = sum((v for k, v in t.items() if k != "0" and v > 0), D(0))
    tout = sum((v for k, v in t.items() if k != "0" and v < 0), D(0))
    cells = [str(run)] + cells + ["%.2f" % tin, "%.2f" % tout, "%.2f" % t["0"]]
    if got.get(run) != cells:
        print("run %d: got %s want %s" % (run, got.get(run), cells),
              file=sys.stderr)
        bad = True
sys.exit(1 if bad else 0)
PY
# both runs of 2025-03-10 have their own explanation, the second forced
n=$(grep -c '<summary>2025-03-10, run [0-9]*</summary>' report.html || :)
[ "$n" = 2 ] || fail "$n explanations of 2025-03-10's runs, want 2"
grep -q 'AAA</td><td class="n">12.50</td>' report.html &&
    grep -q 'AAA</td><td class="n">13.00</td>' report.html &&
    grep -q '(a forced re-run)' report.html ||
    fail "the forced re-run's explanation or the run before it is missing"
rc=0
"$BIN" --config three.yaml report --from 2025-03-07 --to 2025-03-05 >out 2>err || rc=$?
[ "$rc" = 2 ] || fail "--from after --to: exit $rc"

# ---- the browser ----------------------------------------------------------
# The probe: what the browser laid out, written into the DOM.
cat >probe.js <<'EOF'
<script>
(function () {
  var out = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var drawn = 0, names = [];
    svg.querySelectorAll('path.series').forEach(function (p) {
      // laid out with a size, and painted: a line's stroke, an area's fill
      var b = p.getBBox(), st = getComputedStyle(p);
      var paint = p.classList.contains('area') ? st.fill : st.stroke;
      if ((b.width > 0 || b.height > 0) && paint !== 'none' &&
          !/^rgba\(.*, 0\)$/.test(paint) && st.visibility === 'visible' &&
          st.display !== 'none' && parseFloat(st.opacity) > 0 &&
          (p.classList.contains('area') || parseFloat(st.strokeWidth) > 0)) {
        drawn++;
        names.push(p.getAttribute('data-series'));
      }
    });
    svg.setAttribute('data-rendered-series', String(drawn));
    out.push('chart ' + svg.id + ' ' + drawn + ' ' + names.join('|'));
  });
  out.push('strategies ' +
           document.querySelectorAll('#strategies tbody tr').length);
  out.push('runs ' + document.querySelectorAll('#runs tbody tr').length);
  var details = document.querySelectorAll('details.run');
  var complete = 0;
  details.forEach(function (d) {
    if (d.querySelector('summary') && d.querySelector('table.portfolios') &&
        d.querySelector('table.prices'))
      complete++;
  });
  out.push('details ' + details.length + ' ' + complete);
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = out.join('\n');
  document.body.appendChild(pre);
  console.log('capalloc-probe: done');
})();
</script>
EOF
awk 'FNR == NR { probe = probe $0 "\n"; next }
     /^<\/body>$/ { printf "%s", probe } { print }' probe.js report.html >probed.html
grep -q 'id="probe"\|capalloc-probe' probed.html || fail "the probe was not injected"

chrome() { # chrome PROFILE ARGS...: headless, offline, a fresh profile
    local profile=$1
    shift
    timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync \
        --user-data-dir="$work/$profile" --enable-logging=stderr --v=0 "$@"
}
rc=0
chrome profile-dom --dump-dom "file://$work/probed.html" >dom.html 2>dom.log || rc=$?
[ "$rc" = 0 ] || fail "chromium --dump-dom exited $rc: $(tail -5 dom.log)"
# the console: our probe's line proves the capture works. chromium logs
# every console message at INFO ("INFO:CONSOLE:1] "Uncaught ...""), errors
# too; the report has no script, so any other message is an error
grep -q 'CONSOLE.*"capalloc-probe: done"' dom.log ||
    fail "the probe's console line is not in chromium's log (the page did not load, or the capture does not work): $(tail -5 dom.log)"
if grep -E 'CONSOLE|Uncaught' dom.log | grep -v '"capalloc-probe: done"' >console-errors; then
    fail "console messages: $(cat console-errors)"
fi
# and an error is seen: a page that throws, through the same capture
printf '<!DOCTYPE html><title>t</title><script>undefinedFunction();</script>\n' >throws.html
chrome profile-throws --dump-dom "file://$work/throws.html" >/dev/null 2>throws.log || :
grep -q 'CONSOLE.*Uncaught ReferenceError' throws.log ||
    fail "the console capture does not see an uncaught error: $(tail -5 throws.log)"
probe=$(sed -n '/<pre id="probe">/,/<\/pre>/p' dom.html | sed 's/<[^>]*>//g')
echo "what the browser drew:"
printf '%s\n' "$probe" | sed 's/^/  /'
want="chart nav-index 3 1|3|m&amp;a&lt;i&gt;
chart drawdown 3 1|3|m&amp;a&lt;i&gt;
chart allocation 4 1|3|m&amp;a&lt;i&gt;|reserve
chart equity 2 total equity|reserve
strategies $strategies
runs $runs
details $runs $runs"
if [ "$probe" != "$want" ]; then
    fail "the browser's count differs:"
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$probe") >&2 || :
fi
grep -q 'data-rendered-series="3"' dom.html || fail "no data-rendered-series in the DOM"

rm -f "$SHOT"
rc=0
chrome profile-shot --screenshot="$SHOT" --window-size=1280,2000 \
    "file://$work/report.html" >shot.out 2>shot.log || rc=$?
[ "$rc" = 0 ] || fail "chromium --screenshot exited $rc: $(tail -5 shot.log)"
if [ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    echo "screenshot: $SHOT (the report: $ARTEFACTS/report.html)"
else
    fail "no PNG screenshot at $SHOT"
fi

# the ledger this script made checks itself
run three.yaml verify
grep -q '^ledger verified: ' out || fail "verify: $(cat out)"

if [ "$failures" -eq 0 ]; then
    echo "PASS: capalloc report, drawn by $("$CHROMIUM" --version 2>/dev/null | head -1)"
    exit 0
fi
echo "$failures check(s) FAILED" >&2
exit 1
