"""The certificate checker: the trusted base.  It imports only the term language
(wirefuse.rewrite.ir), the rule table (wirefuse.rules: ALL_RULES, apply_step, canon), sympy and
torch: never egglog, the search, nor the prover's own normal-form and shift code
(theorems/stream.py, theorems/shift.py), so a bug there is not trusted twice.

`check_certificate(cert)` verifies, in order, and rejects at the first failure, naming it:

1. term     the JSON term parses (and its s-expression, if given, is the same term);
2. steps    starting from canon(term), each step (rule, position, bindings) replays with the
            checker's own Python rules (rules.ALL_RULES; side conditions are re-checked on
            replay) to exactly the stated term, modulo the AC canonical form;
3. normal   the stated decomposition is verified, not searched for: each state body is
            n-local (no reduction over the axis inside), the tail mentions the axis only
            through the stated state, and the state substituted into the tail is the last
            term modulo canon;
4. init / combine  each identity is its monoid's; each stated combine is, by sympy, the monoid's
            (or the shift's) and is associative with the stated identity;
5. shift    if claimed: every sum body is homogeneous in e^u of the stated degree, the tail is
            invariant under the common rescaling (the checker's own sympy check), and the
            shifted combine scales back to plain sums;
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
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import sympy
import torch

from wirefuse.rewrite.errors import UserError
from wirefuse.rewrite.ir.evaluate import evaluate_labelled
from wirefuse.rewrite.ir.ops import MONOIDS, SCALAR_OPS
from wirefuse.rewrite.ir.serialize import term_from_json
from wirefuse.rewrite.ir.sexpr import parse
from wirefuse.rewrite.ir.term import (Const, Elem, Input, Layout, Opaque, Reduce, Rename, Size,
                                      State, Term, TermError)
from wirefuse.rules import ALL_RULES
from wirefuse.rules.base import apply_step, canon


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


def _check(cert: dict, trials: int, seed: int) -> "StatedForm":
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

    # 3. the final term is the stated state folded into the stated tail
    sf = _check_normal_form(cur, axis, cert)

    # 5 (first, since it decides the combines). the shift
    info = _check_shift(cert, sf, cur)

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
        e = _parse_expr(expr, {f"{name}_1", f"{name}_2"})
    except (ValueError, TypeError, SyntaxError, sympy.SympifyError) as err:
        raise Reject("combine", f"{name}: {err}") from None
    m = MONOIDS[monoid]
    if e != m.combine(a, b) and not _is_zero(e - m.combine(a, b)):
        raise Reject("combine", f"{name}: {expr} is not the {monoid} combine "
                     f"{m.combine(a, b)}")
    f = lambda x, y: e.xreplace({a: x, b: y})  # noqa: E731
    if not _is_zero(f(f(a, b), c) - f(a, f(b, c))):
        raise Reject("combine", f"{name}: {expr} is not associative")
    ident = {math.inf: sympy.oo, -math.inf: -sympy.oo}.get(m.identity, m.identity)
    if f(ident, b) != b or f(a, ident) != a:
        raise Reject("combine", f"{name}: {m.identity} is not an identity of {expr}")


# --- 3. the stated stream normal form, verified (not searched for) ------------------------------
@dataclass(frozen=True)
class Component:
    """A stated state component: the fold of `body` over the stream axis with `monoid`."""
    name: str
    monoid: str
    body: Term

    @property
    def identity(self) -> float:
        return MONOIDS[self.monoid].identity


@dataclass(frozen=True)
class StatedForm:
    """final term = tail[State(c.name) := Reduce(c.monoid, axis, c.body)], once verified."""
    axis: str
    components: tuple[Component, ...]
    tail: Term

    def state_ref(self, c: Component) -> State:
        return State(c.name, tuple(a for a in c.body.axes if a != self.axis))


def substitute(term: Term, mapping: dict) -> Term:
    """`term` with every occurrence of a key of `mapping` replaced by its value."""
    if term in mapping:
        return mapping[term]
    if not term.children:
        return term
    return term.with_children(tuple(substitute(c, mapping) for c in term.children))


def _not_local(body: Term, axis: str) -> str | None:
    """Why `body` may look at more than one index of `axis` at a time (None: it is n-local)."""
    for t in body.walk():
        if isinstance(t, (Reduce, Opaque, Size)) and t.axis == axis:
            return f"{t} sees the whole axis {axis}"
        if isinstance(t, Rename) and axis in (t.old, t.new):
            return f"it renames the axis {axis}"
        if isinstance(t, State):
            return f"it refers to the state {t.name}"
    return None


def _tail_problem(tail: Term, axis: str, refs: set) -> str | None:
    """Why `tail` mentions `axis` other than through the stated state refs (None: it does not)."""
    for t in tail.walk():
        if axis in t.axes or (isinstance(t, (Reduce, Opaque, Size)) and t.axis == axis) or \
                (isinstance(t, Rename) and axis in (t.old, t.new)):
            return f"{t} mentions {axis}"
        if isinstance(t, State) and t not in refs:
            return f"{t} is not a stated state component (with its stated axes)"
    return None


def _check_normal_form(final: Term, axis: str, cert: dict) -> StatedForm:
    """Stated bodies n-local, stated tail free of the axis, and the state substituted into the
    tail gives the final term modulo canon: then the final term is in stream normal form with
    exactly that state and tail."""
    if axis in final.axes:
        raise Reject("normal form", f"the final term keeps the axis {axis}: it grows with "
                     f"{axis}, so no bounded state can hold it")
    comps = []
    for s in cert["state"]:
        name, monoid = s["name"], s["monoid"]
        if not isinstance(name, str) or name in [c.name for c in comps] or monoid not in MONOIDS:
            raise Reject("state", f"component {name!r}: needs a fresh name and a monoid of "
                         f"{sorted(MONOIDS)}, not {monoid!r}")
        c = Component(name, monoid, canon(_parse(s["body"], "state")))
        why = _not_local(c.body, axis)
        if why:
            raise Reject("state", f"component {name}: the body is not {axis}-local: {why}")
        comps.append(c)
    sf = StatedForm(axis, tuple(comps), canon(_parse(cert["tail"], "tail")))
    for s, c in zip(cert["state"], comps):
        if tuple(s["axes"]) != sf.state_ref(c).axes:
            raise Reject("state", f"component {c.name}: axes {s['axes']} stated, its body "
                         f"gives {list(sf.state_ref(c).axes)}")
    refs = {sf.state_ref(c): Reduce(c.monoid, axis, c.body) for c in comps}
    why = _tail_problem(sf.tail, axis, set(refs))
    if why:
        raise Reject("tail", f"the tail may mention {axis} only through the state: {why}")
    if not comps or canon(substitute(sf.tail, refs)) is not canon(final):
        part, why = _mismatch(final, axis, set(refs.values()))
        raise Reject(part, why)
    return sf


def _mismatch(final: Term, axis: str, stated: set) -> tuple[str, str]:
    """Which part to blame when the stated form is not the final term (a diagnosis only: the
    certificate is rejected either way)."""
    found, stack = set(), [final]
    while stack:  # the reductions over the axis reached from the root outside any other one
        t = stack.pop()
        if isinstance(t, Reduce) and t.axis == axis:
            why = _not_local(t.body, axis)
            if why:
                return "normal form", (f"the final term is not in stream normal form along "
                                       f"{axis}: the body of {t.monoid}@{axis} is not local: {why}")
            found.add(canon(t))
        elif axis in t.axes or _not_local(t, axis) and not t.children:
            return "normal form", f"the final term is not in stream normal form along {axis}: " \
                f"{t} mentions {axis} outside a reduction over it"
        else:
            stack.extend(t.children)
    if not found:
        return "normal form", f"nothing in the final term reduces over {axis}"
    if found != {canon(r) for r in stated}:
        return "state", (f"the stated state folds {sorted(map(str, stated))}, the final term "
                         f"{sorted(map(str, found))}")
    return "tail", f"the stated tail with the state substituted is not the final term {final}"


# --- 5. the running-max shift: its own sympy homogeneity check -----------------------------------
@dataclass(frozen=True)
class ShiftClaim:
    u: Term          # the shifted exponent: m = max over the axis of u
    degrees: dict    # sum component -> α > 0 with body(λ·e^u) = λ^α body(e^u)
    max_name: str    # the running max's state name


def _exact(v: float):
    if math.isinf(v):
        return sympy.oo if v > 0 else -sympy.oo
    return sympy.Integer(int(v)) if float(v).is_integer() else sympy.Rational(v)


def _to_sympy(t: Term, atoms: dict):
    """`t` as sympy: float scalar functions by their sympy meaning (rewrite.ir.ops), layouts as
    the identity, every other node a real symbol of its own (`atoms` pins and collects them)."""
    if t in atoms:
        return atoms[t]
    if isinstance(t, Const) and t.dtype == "float":
        return _exact(t.value)
    if isinstance(t, Elem) and SCALAR_OPS[t.op].result == "float" and t.op != "where":
        return SCALAR_OPS[t.op].sympy_fn(*[_to_sympy(a, atoms) for a in t.args])
    if isinstance(t, Layout):
        return _to_sympy(t.body, atoms)
    atoms[t] = sympy.Dummy(f"x{len(atoms)}", real=True)
    return atoms[t]


def _check_shift(cert: dict, sf: StatedForm, final: Term) -> ShiftClaim | None:
    s = cert.get("shift")
    if not s:
        return None
    u = canon(_parse(s["u"], "shift"))
    mname = s["max_state"]
    taken = {x.name for t in (final, sf.tail) for x in t.walk() if isinstance(x, (Input, State))}
    if not isinstance(mname, str) or mname in {c.name for c in sf.components} | taken:
        raise Reject("shift", f"the running max needs a fresh state name, not {mname!r}")
    if _not_local(u, sf.axis):
        raise Reject("shift", f"u = {u} is not n-local along {sf.axis}")
    sums = {c.name: c for c in sf.components if c.monoid == "sum"}
    if not isinstance(s["degrees"], dict) or sorted(s["degrees"]) != sorted(sums):
        raise Reject("shift", f"degrees must be stated for exactly the sum components {sorted(sums)}")
    lam, e = sympy.Dummy("lam", positive=True), sympy.Dummy("E", positive=True)
    degrees = {}
    for name, c in sums.items():
        try:
            alpha = sympy.Rational(str(s["degrees"][name]))
        except (TypeError, ValueError, sympy.SympifyError):
            raise Reject("shift", f"{name}: degree {s['degrees'][name]!r} is not a number") from None
        b = _to_sympy(c.body, {Elem("exp", (u,)): e})
        if not alpha > 0 or not _is_zero(b.xreplace({e: lam * e}) - lam ** alpha * b):
            raise Reject("shift", f"{name}: body {c.body} is not homogeneous of degree "
                         f"{alpha} > 0 in e^u (u = {u})")
        degrees[name] = alpha
    atoms = {sf.state_ref(c): sympy.Dummy(c.name, real=True) for c in sf.components}
    tail = _to_sympy(sf.tail, atoms)
    hidden = any(isinstance(x, State) for t in atoms if not isinstance(t, State) for x in t.walk())
    scaled = {atoms[sf.state_ref(sums[n])]: lam ** a * atoms[sf.state_ref(sums[n])]
              for n, a in degrees.items()}
    if hidden or not _is_zero(tail.xreplace(scaled) - tail):
        raise Reject("shift", f"the tail {sf.tail} is not shown invariant under rescaling the "
                     f"shifted sums by one positive factor")
    return ShiftClaim(u, degrees, mname)


def _is_zero(expr) -> bool:
    """Shown zero by sympy (False: not shown)."""
    try:
        if expr == 0:
            return True
        e = sympy.expand(expr, power_exp=True)
        return e == 0 or sympy.expand(sympy.powsimp(e, combine="exp"), power_exp=True) == 0 \
            or sympy.simplify(expr) == 0
    except Exception:  # sympy failed on it: not shown
        return False


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-*/()., ")


def _parse_expr(src, names: set):
    """A combine expression from the certificate: arithmetic, Max, Min, exp, log, sqrt, Abs, oo
    and `names` only (sympy's parser evaluates code, so nothing else gets near it)."""
    if not isinstance(src, str) or not set(src) <= _SAFE or "__" in src:
        raise ValueError(f"not a plain arithmetic expression: {src!r}")
    words = set("".join(ch if ch.isalnum() or ch == "_" else " " for ch in src).split())
    bad = {w for w in words if not w[0].isdigit()} - names - {"Max", "Min", "exp", "log",
                                                                "sqrt", "Abs", "oo"}
    if bad:
        raise ValueError(f"unknown name {sorted(bad)[0]!r} in {src!r}")
    return sympy.sympify(src, locals={n: sympy.Symbol(n, real=True) for n in names})


def _check_shift_combine(info: ShiftClaim, combine: dict) -> None:
    """The stated shifted combine equals the rule's, is associative with identity (−∞, 0) and
    scales back to plain sums: e^(α M)·R = e^(α m1)·R1 + e^(α m2)·R2 (sympy, by the order of
    the maxima: Max is piecewise)."""
    m = info.max_name
    names = [m] + list(info.degrees)
    allowed = {f"{n}_{k}" for n in names for k in (1, 2)}
    try:
        stated = {n: _parse_expr(combine[n]["expr"], allowed) for n in names}
    except (ValueError, TypeError, SyntaxError, sympy.SympifyError, KeyError) as err:
        raise Reject("combine", f"shifted combine: {err}") from None
    if combine[m].get("monoid") != "max":
        raise Reject("combine", f"{m}: the running max combines with max")
    big = sympy.Max(_sym(m, 1), _sym(m, 2))
    expected = {m: big, **{n: _sym(n, 1) * sympy.exp(a * (_sym(m, 1) - big))
                           + _sym(n, 2) * sympy.exp(a * (_sym(m, 2) - big))
                           for n, a in info.degrees.items()}}
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
            if not _is_zero((stated[n] - expected[n]).xreplace(pair)):
                raise Reject("combine", f"{n}: the stated shifted combine {combine[n]['expr']} "
                             f"is not the running-max rescaling")
        left, right = comb(comb(st[0], st[1]), st[2]), comb(st[0], comb(st[1], st[2]))
        for n in names:
            if not _is_zero(left[n] - right[n]):
                raise Reject("combine", f"{n}: the shifted combine is not associative")
        two = comb(st[0], st[1])
        for n, a in info.degrees.items():
            back = sympy.exp(a * two[m]) * two[n]
            want = sympy.exp(a * ms[0]) * st[0][n] + sympy.exp(a * ms[1]) * st[1][n]
            if not _is_zero(back - want):
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


def _check_numerics(term: Term, sf: StatedForm, info: ShiftClaim | None, trials: int,
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
        body = _shifted_body(c.body, info, sf.axis) if info and c.name in info.degrees else c.body
        out[c.name] = evaluate_labelled(Reduce(c.monoid, sf.axis, body), env, sizes, offsets)
    return out


def _exp_diff_or_zero(a: Term, m: Term) -> Term:
    """e^(a − m), and 0 where a = −∞ (so also where m = −∞: a chunk whose u is all masked)."""
    return Elem("where", (Elem("eq", (a, Const(-math.inf))), Const(0.0),
                          Elem("exp", (Elem("sub", (a, m)),))))


def _shifted_body(body: Term, info, axis: str) -> Term:
    """body(e^(u − m)), m the running max: only the e^u that `_to_sympy` read as E (those
    reached through float scalar functions and layouts) are rescaled, the ones the homogeneity
    was shown for."""
    old = Elem("exp", (info.u,))
    new = _exp_diff_or_zero(info.u, State(info.max_name, tuple(a for a in info.u.axes
                                                               if a != axis)))

    def go(t: Term) -> Term:
        if t is old:
            return new
        if isinstance(t, Layout) or isinstance(t, Elem) and t.op != "where" and \
                SCALAR_OPS[t.op].result == "float":
            return t.with_children(tuple(go(c) for c in t.children))
        return t
    return go(body)


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
            t = Elem("add", (Elem("mul", (a, _exp_diff_or_zero(Elem("mul", (alpha, m1)),
                                                               Elem("mul", (alpha, big))))),
                             Elem("mul", (b, _exp_diff_or_zero(Elem("mul", (alpha, m2)),
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
        cert = load_certificate(cert)
    return check_certificate(cert)


def load_certificate(path) -> dict:
    """The JSON object in `path`; UserError (exit 2) if it cannot be read or parsed."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}; give the path of a "
                        "certificate written by `wirefuse prove -o`") from None
    try:
        cert = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not JSON ({e.msg} at line {e.lineno}); give a certificate "
                        "written by `wirefuse prove -o`") from None
    if not isinstance(cert, dict):
        raise UserError(f"{path} holds a JSON {type(cert).__name__}, not a certificate object")
    return cert
