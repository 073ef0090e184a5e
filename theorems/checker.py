"""The certificate checker: the trusted base.  It never imports egglog.

`check_certificate(cert)` verifies, in order, and rejects at the first failure, naming it:

1. term     the JSON term parses (and its s-expression, if given, is the same term);
2. steps    starting from canon(term), each step (rule, position, bindings) replays with the
            checker's own Python rules (rules.ALL_RULES; side conditions are re-checked on
            replay) to exactly the stated term, modulo the AC canonical form;
3. normal   the last term is in stream normal form along the stated axis (theorems.stream:
            n-local bodies, a tail free of the axis), and its state (names, monoids, bodies,
            axes) and tail are exactly the stated ones;
4. init / combine  each identity is its monoid's; each stated combine is, by sympy, the monoid's
            (or the shift's) and is associative with the stated identity;
5. shift    if claimed: every sum body is homogeneous in e^u of the stated degree, the tail is
            invariant under the common rescaling (sympy), and the shifted combine scales back to
            plain sums (theorems.shift);
6. numerics (second line of evidence only) random chunkings of random inputs streamed through
            state / combine / tail equal the term in float64 where the term is finite (a
            chunk lo..hi sees the positions #j = lo..hi−1, its global indices).

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> from wirefuse.search.pathfind import find_path
>>> from wirefuse.theorems.certificate import make_certificate
>>> t = parse("(sum@j (mul (div (exp s[i,j]) (sum@j (exp s[i,j]))) v[j,e]))")
>>> cert = make_certificate(t, "j", find_path(t, "j"))
>>> check_certificate(cert).ok
True
>>> cert["steps"][0]["rule"] = "sum_of_add"
>>> r = check_certificate(cert); r.ok, r.failed_step
(False, 0)
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

import sympy
import torch

from wirefuse.rules import ALL_RULES
from wirefuse.rules.base import apply_step, canon
from wirefuse.theorems.shift import (ShiftInfo, _degree, guarded_exp_diff, shifted_body,
                                     tail_invariant, taken_names)
from wirefuse.rules.symbolic import is_zero, parse_safely
from wirefuse.theorems.stream import NotNormal, StreamForm, decompose, substitute
from wirefuse.rewrite.ir.evaluate import evaluate_labelled
from wirefuse.rewrite.ir.ops import MONOIDS
from wirefuse.rewrite.ir.serialize import term_from_json
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rewrite.ir.term import Const, Elem, Input, Reduce, State, Term, TermError


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str = ""
    failed_step: int | None = None   # index into cert["steps"] when a step failed
    part: str = ""                   # which part failed: term, steps, state, tail, init, ...

    def __bool__(self):
        return self.ok


class Reject(Exception):
    def __init__(self, part: str, reason: str, step: int | None = None):
        super().__init__(reason)
        self.part, self.reason, self.step = part, reason, step


def check_certificate(cert: dict, numeric_trials: int = 3, seed: int = 0) -> CheckResult:
    """Verify a certificate (see the module docstring); never raises on malformed input."""
    try:
        sf = _check(cert, numeric_trials, seed)
    except Reject as r:
        return CheckResult(False, f"{r.part}: {r.reason}", r.step, r.part)
    except (KeyError, TypeError, ValueError, TermError, AttributeError, IndexError) as e:
        return CheckResult(False, f"malformed certificate ({type(e).__name__}: {e})", None,
                           "format")
    except Exception as e:  # anything else the checker trips on is a rejection, never a pass
        return CheckResult(False, f"the checker could not verify it ({type(e).__name__}: {e})",
                           None, "checker")
    return CheckResult(True, f"valid: streamable along {sf.axis} with state "
                       f"({', '.join(c.name for c in sf.components)})", None, "")


def _parse(src, part: str, step=None) -> Term:
    try:
        return parse(src)
    except (TermError, TypeError, AttributeError, IndexError) as e:
        raise Reject(part, f"unreadable term ({e})", step) from None


def _check(cert: dict, trials: int, seed: int) -> StreamForm:
    if not isinstance(cert, dict):
        raise Reject("format", "a certificate is a JSON object")
    axis = cert["stream_axis"]
    if not isinstance(axis, str):
        raise Reject("stream_axis", "must be an axis name")
    try:
        term = term_from_json(cert["term"]["json"])
    except TermError as e:
        raise Reject("term", str(e)) from None
    if "sexpr" in cert["term"] and _parse(cert["term"]["sexpr"], "term") is not term:
        raise Reject("term", "the s-expression and the JSON term differ")

    # 2. replay
    cur = canon(term)
    for k, st in enumerate(cert["steps"]):
        name = st["rule"]
        r = ALL_RULES.get(name)
        if r is None:
            raise Reject("steps", f"step {k}: unknown rule {name!r}", k)
        pos = tuple(int(p) for p in st["position"])
        if any(p < 0 for p in pos):
            raise Reject("steps", f"step {k}: positions are child indices ≥ 0, not {list(pos)}", k)
        nxt = apply_step(cur, r, pos, st.get("bindings", {}))
        if nxt is None:
            raise Reject("steps", f"step {k}: {name} does not apply at position {list(pos)} "
                         f"with bindings {st.get('bindings', {})} (or its side condition "
                         f"'{r.side_condition}' fails)", k)
        stated = canon(_parse(st["term"], "steps", k))
        if stated is not nxt:
            raise Reject("steps", f"step {k}: {name} at {list(pos)} gives {nxt}, not the "
                         f"stated {stated}", k)
        cur = nxt

    # 3. normal form and the stated state / tail
    try:
        sf = decompose(cur, axis)
    except NotNormal as e:
        raise Reject("normal form", f"the final term is not in stream normal form along "
                     f"{axis}: {e}") from None
    stated = cert["state"]
    if [s["name"] for s in stated] != [c.name for c in sf.components]:
        raise Reject("state", f"components {[s['name'] for s in stated]} stated, the final "
                     f"term has {[c.name for c in sf.components]}")
    for s, c in zip(stated, sf.components):
        if s["monoid"] != c.monoid:
            raise Reject("state", f"component {c.name}: monoid {s['monoid']} stated, "
                         f"the final term folds it with {c.monoid}")
        if canon(_parse(s["body"], "state")) is not canon(c.body):
            raise Reject("state", f"component {c.name}: body {s['body']} stated, the final "
                         f"term has {c.body}")
        if tuple(s["axes"]) != sf.state_ref(c).axes:
            raise Reject("state", f"component {c.name}: axes {s['axes']} stated, "
                         f"expected {list(sf.state_ref(c).axes)}")
    if canon(_parse(cert["tail"], "tail")) is not canon(sf.tail):
        raise Reject("tail", f"tail {cert['tail']} stated, the final term's tail is {sf.tail}")

    # 5 (first, since it decides the combines). the shift
    info = _check_shift(cert, sf)

    # 4. identities and combines
    init, combine = cert["init"], cert["combine"]
    expected_names = [c.name for c in sf.components] + ([info.max_name] if info else [])
    if not isinstance(init, dict) or sorted(init) != sorted(expected_names):
        raise Reject("init", f"init must give exactly the state {expected_names} an identity")
    if not isinstance(combine, dict) or sorted(combine) != sorted(expected_names):
        raise Reject("combine", f"combine must cover exactly the state {expected_names}")
    for c in sf.components:
        ident = _number(init[c.name])
        if info and c.name in info.degrees:
            if ident != 0.0:
                raise Reject("init", f"{c.name}: a shifted sum starts at 0, not {ident}")
            continue
        if ident != c.identity:
            raise Reject("init", f"{c.name}: identity {ident} stated, {c.monoid} has "
                         f"{c.identity}")
        if combine[c.name].get("monoid") != c.monoid:
            raise Reject("combine", f"{c.name}: combine {combine[c.name].get('monoid')} stated, "
                         f"the component folds with {c.monoid}")
        _check_monoid_expr(c.name, c.monoid, combine[c.name].get("expr"))
    if info:
        if _number(init[info.max_name]) != -math.inf:
            raise Reject("init", f"{info.max_name}: the running max starts at -inf")
        _check_shift_combine(info, combine)

    # 6. numerics
    if trials:
        _check_numerics(term, sf, info, trials, seed)
    return sf


def _number(v) -> float:
    if isinstance(v, str) and v in ("inf", "-inf"):
        return math.inf if v == "inf" else -math.inf
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Reject("init", f"identity {v!r} is not a number")
    return float(v)


def _sym(name: str, k: int):
    return sympy.Symbol(f"{name}_{k}", real=True)


def _check_monoid_expr(name: str, monoid: str, expr) -> None:
    """The stated expression is the monoid's combine; the monoid is associative with identity."""
    a, b, c = _sym(name, 1), _sym(name, 2), _sym(name, 3)
    try:
        e = parse_safely(expr, {f"{name}_1", f"{name}_2"})
    except (ValueError, TypeError, SyntaxError, sympy.SympifyError) as err:
        raise Reject("combine", f"{name}: {err}") from None
    m = MONOIDS[monoid]
    if e != m.combine(a, b) and not is_zero(e - m.combine(a, b)):
        raise Reject("combine", f"{name}: {expr} is not the {monoid} combine "
                     f"{m.combine(a, b)}")
    f = lambda x, y: e.xreplace({a: x, b: y})  # noqa: E731
    if not is_zero(f(f(a, b), c) - f(a, f(b, c))):
        raise Reject("combine", f"{name}: {expr} is not associative")
    ident = {math.inf: sympy.oo, -math.inf: -sympy.oo}.get(m.identity, m.identity)
    if f(ident, b) != b or f(a, ident) != a:
        raise Reject("combine", f"{name}: {m.identity} is not an identity of {expr}")


def _check_shift(cert: dict, sf: StreamForm) -> ShiftInfo | None:
    s = cert.get("shift")
    if not s:
        return None
    u = canon(_parse(s["u"], "shift"))
    mname = s["max_state"]
    if not isinstance(mname, str) or mname in {c.name for c in sf.components} | taken_names(sf):
        raise Reject("shift", f"the running max needs a fresh state name, not {mname!r}")
    if axis_leaks(u, sf.axis):
        raise Reject("shift", f"u = {u} is not n-local along {sf.axis}")
    sums = {c.name: c for c in sf.components if c.monoid == "sum"}
    degrees = {}
    if sorted(s["degrees"]) != sorted(sums):
        raise Reject("shift", f"degrees must be stated for exactly the sum components {sorted(sums)}")
    for name, c in sums.items():
        alpha = _degree(c.body, u)
        try:
            claimed = sympy.Rational(str(s["degrees"][name]))
        except (TypeError, ValueError, sympy.SympifyError):
            raise Reject("shift", f"{name}: degree {s['degrees'][name]!r} is not a number") from None
        if alpha is None or alpha != claimed:
            raise Reject("shift", f"{name}: body {c.body} is not homogeneous of degree "
                         f"{claimed} in e^u (u = {u})")
        degrees[name] = claimed
    if not tail_invariant(sf, degrees):
        raise Reject("shift", f"the tail {sf.tail} is not shown invariant under rescaling the "
                     f"shifted sums by one positive factor")
    return ShiftInfo(u, degrees, mname)


def axis_leaks(u: Term, axis: str) -> bool:
    from wirefuse.theorems.stream import nonlocal_reason
    return nonlocal_reason(u, axis) is not None


def _check_shift_combine(info: ShiftInfo, combine: dict) -> None:
    """The stated shifted combine equals the rule's, is associative with identity (−∞, 0) and
    scales back to plain sums: e^(α M)·R = e^(α m1)·R1 + e^(α m2)·R2 (sympy, by the order of
    the maxima: Max is piecewise)."""
    m = info.max_name
    names = [m] + list(info.degrees)
    allowed = {f"{n}_{k}" for n in names for k in (1, 2)}
    try:
        stated = {n: parse_safely(combine[n]["expr"], allowed) for n in names}
    except (ValueError, TypeError, SyntaxError, sympy.SympifyError, KeyError) as err:
        raise Reject("combine", f"shifted combine: {err}") from None
    if combine[m].get("monoid") != "max":
        raise Reject("combine", f"{m}: the running max combines with max")
    expected = {n: parse_safely(e, allowed) for n, e in info.combine_exprs().items()}
    x, p, q = sympy.Symbol("x", real=True), sympy.Symbol("p", positive=True), \
        sympy.Symbol("q", positive=True)

    def comb(s1: dict, s2: dict) -> dict:
        sub = {_sym(n, 1): s1[n] for n in names} | {_sym(n, 2): s2[n] for n in names}
        return {n: stated[n].xreplace(sub) for n in names}

    for order in itertools.permutations(range(3)):
        levels = [x, x + p, x + p + q]
        ms = [levels[order[i]] for i in range(3)]
        st = [{m: ms[i], **{n: _sym(n, i + 1) for n in info.degrees}} for i in range(3)]
        pair = {_sym(m, 1): ms[0], _sym(m, 2): ms[1]}
        for n in names:
            if not is_zero((stated[n] - expected[n]).xreplace(pair)):
                raise Reject("combine", f"{n}: the stated shifted combine {combine[n]['expr']} "
                             f"is not the running-max rescaling")
        left, right = comb(comb(st[0], st[1]), st[2]), comb(st[0], comb(st[1], st[2]))
        for n in names:
            if not is_zero(left[n] - right[n]):
                raise Reject("combine", f"{n}: the shifted combine is not associative")
        two = comb(st[0], st[1])
        for n, a in info.degrees.items():
            back = sympy.exp(a * two[m]) * two[n]
            want = sympy.exp(a * ms[0]) * st[0][n] + sympy.exp(a * ms[1]) * st[1][n]
            if not is_zero(back - want):
                raise Reject("combine", f"{n}: the shifted combine does not scale back to a sum")
    ident = {m: -sympy.oo, **{n: 0 for n in info.degrees}}
    s2 = {m: x, **{n: _sym(n, 2) for n in info.degrees}}
    for got in (comb(ident, s2), comb(s2, ident)):
        if any(sympy.simplify(got[n] - s2[n]) != 0 for n in names):
            raise Reject("init", "(−∞, 0, …) is not an identity of the shifted combine")


# --- the numerical second line ----------------------------------------------------------------
def _inputs(term: Term) -> list[Input]:
    seen = []
    for t in term.walk():
        if isinstance(t, Input) and t not in seen:
            seen.append(t)
    return seen


def _axes_of(term: Term) -> list[str]:
    out = []
    for t in term.walk():
        for a in list(t.axes) + ([t.axis] if hasattr(t, "_fields") and "axis" in t._fields
                                 else []):
            if a not in out:
                out.append(a)
    return out


def _check_numerics(term: Term, sf: StreamForm, info: ShiftInfo | None, trials: int,
                    seed: int) -> None:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    axis = sf.axis
    for trial in range(trials):
        sizes = {a: rng.randint(1, 3) for a in _axes_of(term)}
        sizes[axis] = rng.randint(2, 7)
        env = {}
        for x in _inputs(term):
            shape = [sizes[a] for a in x.axes]
            env[x.name] = (torch.rand(shape, generator=gen) < 0.5) if x.dtype == "bool" \
                else torch.randn(shape, generator=gen, dtype=torch.float64)
        want = evaluate_labelled(term, env, sizes)
        cuts = sorted(rng.sample(range(1, sizes[axis]), rng.randint(0, sizes[axis] - 1)))
        bounds = list(zip([0] + cuts, cuts + [sizes[axis]]))
        state = None
        for lo, hi in bounds:
            chunk = {k: (v.narrow(x_axes.index(axis), lo, hi - lo) if axis in x_axes else v)
                     for k, v, x_axes in ((x.name, env[x.name], x.axes) for x in _inputs(term))}
            csizes = dict(sizes, **{axis: hi - lo})
            # the chunk's positions along the axis are its global indices lo..hi−1
            part = _chunk_state(sf, info, chunk, csizes, {axis: lo})
            state = part if state is None else _combine(sf, info, state, part, sizes)
        # states get names apart from the inputs' (an input may be called o or m)
        ren = {x: State(f"state__{x.name}", x.axes) for x in sf.tail.walk() if isinstance(x, State)}
        tail_env = dict(env)
        tail_env.update({f"state__{k}": v.t for k, v in state.items()})
        tail = substitute(sf.tail, ren)
        got = evaluate_labelled(tail, tail_env, {a: n for a, n in sizes.items() if a != axis})
        w, g = want.t, got.aligned(want.axes) if got.axes != want.axes else got.t
        g = g.expand_as(w) if g.shape != w.shape else g
        fin = torch.isfinite(w)
        if not torch.all(torch.isfinite(g[fin])) or not torch.allclose(
                g[fin], w[fin], rtol=1e-7, atol=1e-9):
            err = (g[fin] - w[fin]).abs().max().item() if fin.any() else float("nan")
            raise Reject("numerics", f"trial {trial}: chunks {bounds} streamed through the stated "
                         f"state/combine/tail differ from the term (max error {err:.3g})")


def _chunk_state(sf, info, env, sizes, offsets):
    out = {}
    if info:
        out[info.max_name] = evaluate_labelled(Reduce("max", sf.axis, info.u), env, sizes,
                                               offsets)
        env = dict(env, **{info.max_name: out[info.max_name].t})
    for c in sf.components:
        body = shifted_body(c.body, info, sf.axis) if info and c.name in info.degrees else c.body
        out[c.name] = evaluate_labelled(Reduce(c.monoid, sf.axis, body), env, sizes, offsets)
    return out


def _combine(sf, info, s1, s2, sizes):
    out = {}
    refs = {}
    env = {}
    for k, st in (("1", s1), ("2", s2)):
        for n, v in st.items():
            refs[(n, k)] = State(f"{n}_{k}", v.axes)
            env[f"{n}_{k}"] = v.t
    for c in sf.components:
        a, b = refs[(c.name, "1")], refs[(c.name, "2")]
        if info and c.name in info.degrees:
            m1, m2 = refs[(info.max_name, "1")], refs[(info.max_name, "2")]
            big = Elem("max", (m1, m2))
            alpha = Const(float(info.degrees[c.name]))
            # R = R1·e^(α(m1 − M)) + R2·e^(α(m2 − M)), each factor 0 where its m is −∞
            t = Elem("add", (Elem("mul", (a, guarded_exp_diff(Elem("mul", (alpha, m1)),
                                                               Elem("mul", (alpha, big))))),
                             Elem("mul", (b, guarded_exp_diff(Elem("mul", (alpha, m2)),
                                                               Elem("mul", (alpha, big)))))))
        else:
            op = {"sum": "add", "prod": "mul", "max": "max", "min": "min"}[c.monoid]
            t = Elem(op, (a, b))
        out[c.name] = evaluate_labelled(t, env, sizes)
    if info:
        out[info.max_name] = evaluate_labelled(
            Elem("max", (refs[(info.max_name, "1")], refs[(info.max_name, "2")])), env, sizes)
    return out


def check(cert_or_path) -> CheckResult:
    """Verify a certificate given as a dict, a path to its JSON file, or anything with a
    `.certificate` (a proof): a CheckResult with `.ok`, `.reason`, `.failed_step`, `.part`.

    An unreadable file is a UserError (the CLI's exit 2); a proof without a certificate, or a
    certificate that does not verify, is a CheckResult with ok False."""
    cert = getattr(cert_or_path, "certificate", cert_or_path)
    if cert is None:
        return CheckResult(False, "no certificate: nothing was proven", None, "format")
    if not isinstance(cert, dict):
        from wirefuse.commands.check import load_certificate
        cert = load_certificate(cert)
    return check_certificate(cert)
