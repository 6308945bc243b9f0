#!/usr/bin/env python3
"""policy_ref.py - the built-in policies against independent numpy
implementations, hand-worked cases, fallbacks, config refusals and the
isolation of stages.

    policy_ref.py POLICY_DRIVER

Every case writes a configuration and scripted returns, runs
tests/policy_driver (the core's own stack, each stage in a child process)
and checks its output. For the numpy comparisons each stage is recomputed
here from the same returns and from the driver's weights of the stage
before (so each policy is measured on its own), and must agree within 1e-6
per weight; the driver's weights must also be rounded down (never above
the reference by more than float noise), sum to at most 1, and be the same
bytes on a second run. Prints the largest difference per policy.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

DRIVER = sys.argv[1]
TOL = 1e-6
FAILS = []
MAXDIFF = {}
TMP = tempfile.mkdtemp(prefix="policy_ref.")
CASE = [0]


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg)


def run(stages_yaml, ids, dates, rets, totals=None):
    """rets[t][i]: float, None (a point without a return) or 'x' (no
    point). Returns (exit code, stdout, stderr)."""
    CASE[0] += 1
    cfg = os.path.join(TMP, "c%d.yaml" % CASE[0])
    data = os.path.join(TMP, "r%d.txt" % CASE[0])
    with open(cfg, "w") as f:
        f.write('master_portfolio_id: "0"\ncurrency: USD\npolicy:\n')
        f.write(stages_yaml)
    with open(data, "w") as f:
        f.write("strategies " + " ".join(ids) + "\n")
        if totals is not None:
            f.write("totals " + " ".join(totals) + "\n")
        for d, row in zip(dates, rets):
            cells = []
            for r in row:
                if r is None:
                    cells.append("-")
                elif r == "x":
                    cells.append("x")
                else:
                    cells.append("%.6f" % r)
            f.write(d + " " + " ".join(cells) + "\n")
    p = subprocess.run([DRIVER, cfg, data], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr, cfg, data


def parse(out, ids):
    """[(plugin, np.array of weights, fallback text or None)]"""
    stages = []
    for line in out.splitlines():
        line = line.split(" {note: ", 1)[0]
        parts = line.split(" [fallback ", 1)
        fb = parts[1].rstrip("]") if len(parts) > 1 else None
        toks = parts[0].split()
        w = dict(t.split("=") for t in toks[2:])
        stages.append((toks[1], np.array([float(w[i]) for i in ids]), fb,
                       [w[i] for i in ids]))
    return stages


def dates_for(T):
    return ["2026-%02d-%02d" % (1 + t // 28, 1 + t % 28) for t in range(T)]


# ---------------------------------------------------------------- numpy
def common(rets, lookback):
    """The latest `lookback` rows on which every strategy has a return."""
    rows = [r for r in rets
            if all(v is not None and v != "x" for v in r)]
    if len(rows) < lookback:
        return None
    return np.array(rows[-lookback:], dtype=float)


def rounded(rets):
    return [[v if v is None or v == "x" else float("%.6f" % v) for v in r]
            for r in rets]


def ref_inverse_vol(X):
    inv = 1.0 / X.std(axis=0, ddof=1)
    return inv / inv.sum()


def ref_ledoit_wolf(X):
    """Ledoit & Wolf (2004), written from the paper: target mu*I."""
    T, p = X.shape
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / T
    mu = np.trace(S) / p
    F = mu * np.eye(p)
    d2 = np.sum((S - F) ** 2) / p
    Z = np.einsum("ti,tj->tij", Xc, Xc) - S
    b2 = min(np.sum(Z ** 2) / T ** 2 / p, d2)
    s = b2 / d2 if d2 > 0 else 0.0
    return s * F + (1 - s) * S


def ref_erc(S, b):
    """Newton's method on 1/2 y'Sy - b'ln y (not the plugin's solver)."""
    y = 1.0 / np.sqrt(np.diag(S))
    for _ in range(200):
        g = S @ y - b / y
        if np.max(np.abs(g * y)) < 1e-16:
            break
        H = S + np.diag(b / y ** 2)
        dy = np.linalg.solve(H, g)
        t = 1.0
        while np.any(y - t * dy <= 0):
            t /= 2
        y = y - t * dy
    w = y / y.sum()
    rc = w * (S @ w) / (w @ S @ w)
    assert np.max(np.abs(rc - b)) < 1e-9, "reference ERC did not converge"
    return w


def ref_target_vol(w, S, target, ann=252):
    sig = np.sqrt(ann * (w @ S @ w))
    return w * min(1.0, target / sig) if sig > 0 else w


def ref_caps(w, lo, hi):
    """Closed form: the capped weights are min(hi, lam * w) with lam found
    by bisection so that the incoming sum is kept (or every strategy with
    a weight is at its cap); then the minimums, taken pro rata from what
    the others hold above theirs."""
    total = w.sum()
    pos = w > 0
    if np.sum(np.where(pos, hi, 0)) <= total:
        out = np.where(pos, np.minimum(hi, np.where(pos, hi, 0)), 0.0)
        out = np.where(pos, hi, w)
    else:
        a, z = 1.0, 1.0
        while np.sum(np.minimum(hi, z * w)) < total:
            z *= 2
        for _ in range(200):
            m = (a + z) / 2
            if np.sum(np.minimum(hi, m * w)) < total:
                a = m
            else:
                z = m
        out = np.minimum(hi, z * w)
    raise_ = np.sum(np.maximum(lo - out, 0))
    if raise_ > 0:
        spare = np.sum(np.where(out >= lo, out - lo, 0))
        f = min(1.0, raise_ / spare) if spare > 0 else 0.0
        out = np.where(out < lo, lo, out - f * (out - lo))
    return out


def ref_ladder_scale(series, steps, rdd=None, rruns=None, mode="all",
                     lookback=252):
    """series: one strategy's points (float or None), oldest first."""
    pts = [r for r in series if r != "x"][-lookback:]
    thr = [t for t, _ in steps]
    scale = [1.0] + [s for _, s in steps]
    idx, mark, level, since = 1.0, 1.0, 0, 0
    rules = rdd is not None or rruns is not None
    for r in pts:
        if r is None:
            continue
        idx = idx * (1 + r)
        mark = max(mark, idx)
        dd = 1 - idx / mark
        k = sum(1 for t in thr if dd >= t - 1e-12)
        if not rules:
            level = k
        elif k > level:
            level, since = k, 0
        elif level > 0:
            since += 1
            ok_dd = rdd is not None and dd <= rdd + 1e-12
            ok_runs = rruns is not None and since >= rruns
            if mode == "all":
                back = (rdd is None or ok_dd) and (rruns is None or ok_runs)
            else:
                back = ok_dd or ok_runs
            if back:
                level, mark = 0, idx
    LADDER_SEEN[level] = LADDER_SEEN.get(level, 0) + 1
    return scale[level]


LADDER_SEEN = {}


# ---------------------------------------------------------------- checks
def compare(policy, got, ref, incoming=None):
    d = float(np.max(np.abs(got - ref))) if len(got) else 0.0
    MAXDIFF[policy] = max(MAXDIFF.get(policy, 0.0), d)
    if d > TOL + 1e-12:
        fail("%s: weights %s differ from numpy %s by %.3g" %
             (policy, got, ref, d))
    if np.any(got > ref + 1e-9):
        fail("%s: weights %s not rounded down from %s" % (policy, got, ref))
    if got.sum() > 1 + 1e-12:
        fail("%s: weights sum to %r" % (policy, got.sum()))
    if incoming is not None and np.any(got > incoming + 1e-12):
        fail("%s: weights %s above incoming %s" % (policy, got, incoming))


def random_fund(rng, n, T, vol_lo=0.005, vol_hi=0.03):
    vols = rng.uniform(vol_lo, vol_hi, n)
    load = rng.uniform(-0.6, 0.9, n)
    f = rng.normal(0, 1, T)
    e = rng.normal(0, 1, (T, n))
    R = 0.0003 + vols * (load * f[:, None] + np.sqrt(1 - load ** 2) * e)
    return [[float(v) for v in row] for row in R]


def check_run(stages_yaml, ids, rets, refs, label):
    """refs: per stage, a function (incoming or None, X-free rets) ->
    reference weights; None to skip a stage."""
    dates = dates_for(len(rets))
    rc, out, err, cfg, data = run(stages_yaml, ids, dates, rets)
    if rc != 0:
        fail("%s: driver exit %d: %s" % (label, rc, err.strip()))
        return None
    rc2 = subprocess.run([DRIVER, cfg, data], capture_output=True,
                         text=True)
    if rc2.stdout != out:
        fail("%s: a second run gave other bytes" % label)
    st = parse(out, ids)
    rr = rounded(rets)
    incoming = None
    for k, (plugin, w, fb, _) in enumerate(st):
        if refs[k] is not None:
            if fb is not None:
                fail("%s: stage %d fell back: %s" % (label, k + 1, fb))
            else:
                ref = refs[k](incoming, rr)
                compare(plugin, w, ref,
                        incoming if plugin in ("target_vol",
                                               "drawdown_ladder") else None)
        incoming = w
    return st


def main():
    rng = np.random.default_rng(20261201)
    ids_all = ["A", "B", "C", "D", "E", "F", "G", "H"]

    # ---- random funds: every policy against numpy
    for case in range(12):
        n = [2, 3, 5, 8][case % 4]
        L = [20, 40, 60][case % 3]
        ids = ids_all[:n]
        T = L + 8
        rets = random_fund(rng, n, T)
        rets.insert(0, [None] * n)  # first points: no return
        if case % 2 == 1:           # a gap: one strategy without a return
            rets[3][n - 1] = None
        budgets = rng.uniform(0.5, 2.0, n)
        bud_yaml = "{" + ", ".join("%s: %.6f" % (i, b)
                                   for i, b in zip(ids, budgets)) + "}"
        bud = np.array([float("%.6f" % b) for b in budgets])
        bud = bud / bud.sum()
        target = [0.05, 0.08, 0.12][case % 3]
        cap = float("%.2f" % max(1.0 / n + 0.05, 0.3))
        stages = (
            "  - plugin: inverse_vol\n    options: {lookback: %d}\n"
            "  - plugin: risk_parity\n    options: {lookback: %d}\n"
            "  - plugin: risk_parity\n    options: {lookback: %d, "
            "budgets: %s}\n"
            "  - plugin: caps\n    options: {max: %.2f, min: 0.02}\n"
            "  - plugin: target_vol\n    options: {target: %.2f, "
            "lookback: %d}\n"
            "  - plugin: equal_weight\n"
            % (L, L, L, bud_yaml, cap, target, L))

        def X(rr, L=L):
            return common(rr, L)

        refs = [
            lambda inc, rr: ref_inverse_vol(X(rr)),
            lambda inc, rr: ref_erc(ref_ledoit_wolf(X(rr)),
                                    np.full(n, 1.0 / n)),
            lambda inc, rr, bud=bud: ref_erc(ref_ledoit_wolf(X(rr)), bud),
            lambda inc, rr, cap=cap: ref_caps(inc, np.full(n, 0.02),
                                              np.full(n, cap)),
            lambda inc, rr, t=target: ref_target_vol(
                inc, ref_ledoit_wolf(X(rr)), t),
            lambda inc, rr: np.full(n, 1.0 / n),
        ]
        check_run(stages, ids, rets, refs, "random fund %d" % case)

    # ---- caps on random incoming weights, per-strategy bounds
    for case in range(20):
        n = 2 + case % 6
        ids = ids_all[:n]
        raw = rng.dirichlet(np.ones(n) * 0.7) * rng.uniform(0.6, 1.0)
        hi = rng.uniform(1.0 / n, 0.7, n)
        lo = np.minimum(rng.uniform(0, 0.08, n), hi)
        mx = "{" + ", ".join("%s: %.6f" % (i, h) for i, h in zip(ids, hi)) + "}"
        mn = "{" + ", ".join("%s: %.6f" % (i, l) for i, l in zip(ids, lo)) + "}"
        fixed = "{" + ", ".join("%s: %.6f" % (i, w - 5e-7 if w > 1e-6 else 0)
                                for i, w in zip(ids, raw)) + "}"
        stages = ("  - plugin: fixed_weight\n    options: {weights: %s}\n"
                  "  - plugin: caps\n    options: {max_per: %s, min_per: %s}\n"
                  % (fixed, mx, mn))
        rets = [[None] * n]
        hi6 = np.array([float("%.6f" % h) for h in hi])
        lo6 = np.array([float("%.6f" % v) for v in lo])
        if lo6.sum() > sum(float("%.6f" % (w - 5e-7 if w > 1e-6 else 0))
                           for w in raw):
            continue
        check_run(stages, ids, rets,
                  [None, lambda inc, rr: ref_caps(inc, lo6, hi6)],
                  "caps %d" % case)

    # ---- drawdown ladder on random walks with deep drawdowns
    ladders = [
        ("[{drawdown: 0.05, scale: 0.5}, {drawdown: 0.10, scale: 0.25}, "
         "{drawdown: 0.15, scale: 0}]", {}),
        ("[{drawdown: 0.05, scale: 0.5}, {drawdown: 0.10, scale: 0}]",
         {"drawdown": 0.02}),
        ("[{drawdown: 0.05, scale: 0.5}, {drawdown: 0.10, scale: 0}]",
         {"runs": 4}),
        ("[{drawdown: 0.04, scale: 0.6}, {drawdown: 0.12, scale: 0.1}]",
         {"drawdown": 0.03, "runs": 3, "require": "any"}),
        ("[{drawdown: 0.04, scale: 0.6}, {drawdown: 0.12, scale: 0.1}]",
         {"drawdown": 0.03, "runs": 3}),
    ]
    for case in range(15):
        n = 4
        ids = ids_all[:n]
        steps_yaml, extra = ladders[case % len(ladders)]
        T = 60
        rets = [[float(v) for v in row] for row in
                rng.normal(-0.002, 0.02, (T, n))]
        rets.insert(0, [None] * n)
        lb = [252, 30][case % 2]
        opt = "steps: %s, lookback: %d" % (steps_yaml, lb)
        if extra:
            opt += ", reentry: {%s}" % ", ".join(
                "%s: %s" % kv for kv in extra.items())
        steps = [(float(a), float(b)) for a, b in re.findall(
            r"drawdown: ([0-9.]+), scale: ([0-9.]+)", steps_yaml)]
        stages = ("  - plugin: equal_weight\n"
                  "  - plugin: drawdown_ladder\n    options: {%s}\n" % opt)

        def ref(inc, rr, steps=steps, extra=extra, lb=lb):
            sc = [ref_ladder_scale([row[i] for row in rr], steps,
                                   extra.get("drawdown"),
                                   extra.get("runs"),
                                   extra.get("require", "all"), lb)
                  for i in range(len(inc))]
            return inc * np.array(sc)

        check_run(stages, ids, rets, [None, ref], "ladder %d" % case)

    # the random walks must reach every step, and also stay uncut
    if any(LADDER_SEEN.get(k, 0) == 0 for k in range(4)):
        fail("the random ladders did not reach every level: %r" %
             LADDER_SEEN)
    hand_worked()
    fallbacks_and_refusals()
    isolation()
    overrides()
    example_overlay()

    for p in sorted(MAXDIFF):
        print("max |C - numpy| per weight, %-16s %.3g" % (p, MAXDIFF[p]))
    for p in ("inverse_vol", "risk_parity", "caps", "target_vol",
              "drawdown_ladder", "equal_weight"):
        if p not in MAXDIFF:
            fail("no numpy comparison ran for %s" % p)
    shutil.rmtree(TMP)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("all policy checks passed")
    return 0


def expect(label, stages_yaml, ids, rets, want, code=0, err_has=(),
           totals=None, note=None):
    """Run and compare with hand-worked weights (per stage, as text, or
    its fallback text), or the exit code and message."""
    rc, out, err, _, _ = run(stages_yaml, ids, dates_for(len(rets)), rets,
                             totals)
    if note is not None and "{note: %s}" % note not in out:
        fail("%s: note %r not in %r" % (label, note, out))
    if rc != code:
        fail("%s: exit %d, expected %d (%s)" % (label, rc, code, err.strip()))
        return
    for s in err_has:
        if s not in err:
            fail("%s: message %r lacks %r" % (label, err.strip(), s))
    if code == 0:
        got = parse(out, ids)
        for k, w in want.items():
            if got[k][3] != w and (got[k][2] or "") != w:
                fail("%s: stage %d gave %s, hand-worked %s" %
                     (label, k + 1, got[k][3], w))


def hand_worked():
    # A: +-1%, B: +-2% in step: sigma_B = 2 sigma_A -> 2/3, 1/3.
    # Perfectly correlated, so every x_t x_t' equals the sample
    # covariance: Ledoit-Wolf shrinks by 0, and for two strategies equal
    # risk means w_A sigma_A = w_B sigma_B: also 2/3, 1/3.
    # target_vol on (0.6, 0.399999) [caps at 0.6, B takes the excess]:
    # daily variance .36e-4 + 2(.6)(.399999)(2e-4) + (.399999^2)(4e-4)
    # = 1.9599944e-4, sigma = sqrt(252 x that) = 0.22224279, scale
    # 0.1 / 0.22224279 = 0.44995835: 600000 x scale = 269975.009,
    # 399999 x scale = 179982.890 -> 0.269975, 0.179982 (rounded down).
    rets = [[None, None], [0.01, 0.02], [-0.01, -0.02], [0.01, 0.02],
            [-0.01, -0.02]]
    expect("hand-worked stack",
           "  - plugin: inverse_vol\n    options: {lookback: 4}\n"
           "  - plugin: risk_parity\n    options: {lookback: 4}\n"
           "  - plugin: caps\n    options: {max: 0.6}\n"
           "  - plugin: target_vol\n    options: {target: 0.10, "
           "lookback: 4}\n",
           ["A", "B"], rets,
           {0: ["0.666666", "0.333333"], 1: ["0.666666", "0.333333"],
            2: ["0.600000", "0.399999"], 3: ["0.269975", "0.179982"]})
    # caps: (0.6, 0.3, 0.1), max 0.4: 0.2 over; B +0.15 -> 0.45, over
    # again by 0.05, to C: (0.4, 0.4, 0.2).
    expect("hand-worked caps",
           "  - plugin: fixed_weight\n    options: {weights: {A: 0.6, "
           "B: 0.3, C: 0.1}}\n"
           "  - plugin: caps\n    options: {max: 0.4}\n",
           ["A", "B", "C"], [[None] * 3],
           {1: ["0.400000", "0.400000", "0.200000"]})
    # caps min: (0.9, 0.1, 0), min 0.05: C +0.05 taken pro rata from
    # what A and B hold above 0.05 (0.85 and 0.05 of 0.9): A gives
    # 0.05 x 0.85/0.9 = 0.0472222, B 0.05 x 0.05/0.9 = 0.0027778:
    # A 0.8527777.., B 0.0972222.. -> 0.852777, 0.097222.
    expect("hand-worked caps min",
           "  - plugin: fixed_weight\n    options: {weights: {A: 0.9, "
           "B: 0.1, C: 0}}\n"
           "  - plugin: caps\n    options: {min: 0.05}\n",
           ["A", "B", "C"], [[None] * 3],
           {1: ["0.852777", "0.097222", "0.050000"]})
    # ladder: A -5%, -6% -> index 0.893, drawdown 10.7%: step 0.10 -> 0.5;
    # -11% more -> 0.79477, 20.5%: step 0.20 -> 0. B flat: 1.
    ladder = ("  - plugin: fixed_weight\n    options: {weights: {A: 0.5, "
              "B: 0.5}}\n"
              "  - plugin: drawdown_ladder\n    options:\n"
              "      steps:\n"
              "        - {drawdown: 0.10, scale: 0.5}\n"
              "        - {drawdown: 0.20, scale: 0}\n%s")
    base = [[None, None], [0.0, 0.0], [-0.05, 0.0], [-0.06, 0.0]]
    expect("hand-worked ladder step 1", ladder % "", ["A", "B"], base,
           {1: ["0.250000", "0.500000"]},
           note="A: drawdown 10.70%, step 0.10 -> scale 0.5 (cut 0 points "
                "ago)")
    expect("hand-worked ladder step 2", ladder % "", ["A", "B"],
           base + [[-0.11, 0.0]], {1: ["0.000000", "0.500000"]})
    # re-entry: +10% -> 0.874247, drawdown 12.6% from 1: without rules
    # back to step 1 (0.5); with reentry_drawdown 0.02 still cut at 0
    # (step 2 held); after 3 runs (reentry_runs: 3) back in full (1).
    up = base + [[-0.11, 0.0], [0.10, 0.0]]
    expect("hand-worked ladder follows", ladder % "", ["A", "B"], up,
           {1: ["0.250000", "0.500000"]})
    expect("hand-worked ladder held",
           ladder % "      reentry: {drawdown: 0.02}\n",
           ["A", "B"], up, {1: ["0.000000", "0.500000"]})
    expect("hand-worked ladder runs",
           ladder % "      reentry: {runs: 3}\n", ["A", "B"],
           up + [[0.0, 0.0], [0.0, 0.0]], {1: ["0.500000", "0.500000"]})
    expect("hand-worked ladder runs, not yet",
           ladder % "      reentry: {runs: 3}\n", ["A", "B"],
           up + [[0.0, 0.0]], {1: ["0.000000", "0.500000"]})


def fallbacks_and_refusals():
    two = [[None, None], [0.01, 0.02], [-0.01, -0.02]]
    # not enough history: first stage -> equal, overlay -> incoming
    expect("fallback equal",
           "  - plugin: inverse_vol\n    options: {lookback: 5}\n"
           "  - plugin: target_vol\n    options: {target: 0.01, "
           "lookback: 5}\n",
           ["A", "B"], two,
           {0: "equal: 2 dates with a return for every strategy, 5 needed "
               "(lookback)",
            1: "incoming: 2 dates with a return for every strategy, 5 "
               "needed (lookback)"})
    expect("fallback fail",
           "  - plugin: inverse_vol\n    options: {lookback: 5}\n"
           "    fallback: fail\n",
           ["A", "B"], two, {}, 6,
           ["policy stage 1 of 1 ('inverse_vol')", "5 needed", "fail"])
    expect("bad stage key", "  - plugin: equal_weight\n    timeout: 5\n",
           ["A"], two, {}, 3, ["c", ".yaml:5:5: key 'policy[0].timeout'"])
    expect("first stage fallback incoming",
           "  - plugin: equal_weight\n    fallback: incoming\n",
           ["A"], two, {}, 3, ["key 'policy[0].fallback'"])
    expect("caps infeasible",
           "  - plugin: equal_weight\n  - plugin: caps\n"
           "    options: {min: 0.5, max: 0.4}\n",
           ["A"], two, {}, 3, [":6:", "key 'policy[1].options.min'",
                               "within 0..max"])
    expect("caps per-strategy infeasible",
           "  - plugin: equal_weight\n  - plugin: caps\n"
           "    options: {max_per: {A: 0.1}, min_per: {A: 0.2}}\n",
           ["A"], two, {}, 3, ["key 'policy[1].options.max_per.A'",
                               "infeasible"])
    ladder = ("  - plugin: equal_weight\n  - plugin: drawdown_ladder\n"
              "    options:\n      steps:\n%s")
    expect("ladder unordered",
           ladder % "        - {drawdown: 0.20, scale: 0.5}\n"
                    "        - {drawdown: 0.10, scale: 0}\n",
           ["A"], two, {}, 3, [":9:12: key 'policy[1].options.steps[1]."
                               "drawdown'", "ordered"])
    # the core checks the structure, before the plugin's create()
    expect("ladder unknown field",
           ladder % "        - {drawdown: 0.10, scael: 0.5}\n",
           ["A"], two, {}, 3, [":8:28: key 'policy[1].options.steps[0]."
                               "scael': unknown field (known: drawdown, "
                               "scale)"])
    expect("ladder missing field",
           ladder % "        - {drawdown: 0.10, scale: 0.5}\n"
                    "        - {scale: 0}\n",
           ["A"], two, {}, 3, [":9:11: key 'policy[1].options.steps[1]."
                               "drawdown': missing required field"])
    expect("ladder wrong type",
           ladder % "        - {drawdown: 0.10, scale: half}\n",
           ["A"], two, {}, 3, [":8:28: key 'policy[1].options.steps[0]."
                               "scale': 'half' is not"])
    expect("ladder steps not a list",
           ladder.replace("steps:\n%s", "steps: {drawdown: 0.1}\n"),
           ["A"], two, {}, 3, ["key 'policy[1].options.steps': expected a "
                               "list of records"])
    expect("ladder reentry unknown field",
           ladder % "        - {drawdown: 0.10, scale: 0.5}\n"
                    "      reentry: {run: 2}\n",
           ["A"], two, {}, 3, [":9:17: key 'policy[1].options.reentry.run'"
                               ": unknown field (known: drawdown, runs, "
                               "require)"])
    expect("unknown option",
           "  - plugin: equal_weight\n  - plugin: target_vol\n"
           "    options: {targett: 0.1}\n",
           ["A"], two, {}, 3, ["policy[1].options.targett"])
    expect("overlay first", "  - plugin: caps\n", ["A"], two, {}, 6,
           ["policy stage 1 of 1 ('caps')", "overlay"])
    expect("risk parity not converged",
           "  - plugin: risk_parity\n    options: {lookback: 2, "
           "max_iterations: 1}\n",
           ["A", "B", "C"],
           [[None] * 3, [0.01, 0.03, -0.02], [-0.01, 0.01, 0.02]], {}, 6,
           ["did not converge in 1 iterations"])


def overrides():
    with open(os.path.join(TMP, "ov.txt"), "w") as f:
        f.write("# manual overrides\nA freeze\nB reduce_only\n"
                "C scale 0.5  # halve C\nZ freeze\n")
    fw = ("  - plugin: fixed_weight\n    options: {weights: {A: 0.5, "
          "B: 0.3, C: 0.2}}\n"
          "  - plugin: overrides\n    options: {file: ov.txt}\n")
    # equity 100: A holds 40 (frozen: 0.4), B 40 (reduce-only:
    # min(0.3, 0.4) = 0.3), C scaled 0.2 x 0.5 = 0.1.
    expect("overrides", fw, ["A", "B", "C"], [[None] * 3],
           {1: ["0.400000", "0.300000", "0.100000"]},
           totals=["40", "40", "20"],
           note="A frozen at its share 0.400000; B reduce-only: 0.300000; "
                "C scaled by 0.5; override for 'Z' ignored: not a strategy "
                "of this run")
    with open(os.path.join(TMP, "ov2.txt"), "w") as f:
        f.write("A freeze\n")
    # A holds 70 of 100: frozen at 0.7; B (0.5) must fit in 0.3: scaled
    # by 0.3 / 0.5 = 0.6 -> 0.3.
    expect("overrides make room",
           "  - plugin: fixed_weight\n    options: {weights: {A: 0.5, "
           "B: 0.5}}\n"
           "  - plugin: overrides\n    options: {file: ov2.txt}\n",
           ["A", "B"], [[None] * 2], {1: ["0.700000", "0.300000"]},
           totals=["70", "30"],
           note="A frozen at its share 0.700000; the others scaled by 0.6 "
                "to make room")
    with open(os.path.join(TMP, "ov3.txt"), "w") as f:
        f.write("A freeze\nB scale 1.5\n")
    expect("overrides bad factor",
           "  - plugin: equal_weight\n  - plugin: overrides\n"
           "    options: {file: ov3.txt}\n", ["A", "B"], [[None] * 2], {},
           3, ["key 'policy[1].options.file'", "ov3.txt:2: scale factor "
               "'1.5' must be an exact decimal within 0..1"])


def example_overlay():
    """examples/plugin/loser_cut.c, the overlay of PLUGINS.md."""
    st = ("  - plugin: fixed_weight\n    options: {weights: {A: 0.5, "
          "B: 0.4}}\n"
          "  - plugin: loser_cut\n    options: {lookback: 2, threshold: "
          "-0.05, scale: 0.5}\n")
    # A: 0.97 x 0.96 = 0.9312, -6.88% < -5%: 0.5 x 0.5 = 0.25. B: 1.01 x
    # 1.00, +1%: kept.
    expect("loser_cut", st, ["A", "B"],
           [[None, None], [-0.03, 0.01], [-0.04, 0.0]],
           {1: ["0.250000", "0.400000"]},
           note="A cut: -6.88% over 2 returns")
    expect("loser_cut, not enough history", st, ["A", "B"],
           [[None, None], [-0.03, 0.01]],
           {1: "incoming: strategy 'A' has 1 returns, 2 needed"})


def isolation():
    two = [[None, None], [0.01, 0.02]]
    bad = ("  - plugin: equal_weight\n  - plugin: bad_policy\n"
           "    options: {mode: %s}\n%s")
    limited = subprocess.run([DRIVER, "--memory-limited"], capture_output=True,
                             text=True).stdout.strip() == "1"
    # a sanitizer build reports the crash itself and exits 1
    expect("crash", bad % ("crash", ""), ["A", "B"], two, {}, 6,
           ["policy stage 2 ('bad_policy') " +
            ("crashed (signal 11" if limited else "exited (status 1)")])
    expect("hang", bad % ("hang", "    timeout_ms: 300\n"), ["A", "B"],
           two, {}, 6,
           ["policy stage 2 ('bad_policy') did not finish within its time "
            "limit of 300 ms"])
    expect("over", bad % ("over", ""), ["A", "B"], two, {}, 6,
           ["policy stage 2 of 2 ('bad_policy') returned weights summing "
            "to 2, more than 1"])
    expect("nodata", bad % ("nodata", ""), ["A", "B"], two,
           {1: "incoming: not enough history, on purpose"})
    if not limited:
        print("note: a sanitizer build: no memory limit, hog and nomem not "
              "run here (they run in the plain build)")
        return
    expect("hog", bad % ("hog", "    memory_mb: 200\n"), ["A", "B"], two,
           {}, 6, ["policy stage 2 ('bad_policy') crashed", "200 MB"])
    expect("nomem", bad % ("nomem", "    memory_mb: 200\n"), ["A", "B"],
           two, {}, 6, ["policy stage 2 ('bad_policy') ran out of memory",
                        "200 MB"])


if __name__ == "__main__":
    sys.exit(main())
