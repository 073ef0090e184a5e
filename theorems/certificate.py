"""Certificates: a streamability proof written down so that theorems.checker can verify it alone.

A certificate is plain JSON:

    term         the original term ({"json": rewrite.ir.serialize form, "sexpr": for people})
    stream_axis  the axis n it streams along
    state        [{name, monoid, body (s-expression), axes}]  the components R = ⊕_n body
    init         {name: identity}  ("-inf"/"inf" spelt as strings)
    combine      {name: {"monoid": ..., "expr": sympy text over name_1 (so far), name_2 (chunk)}}
    tail         s-expression over $states
    shift        null, or {"u", "max_state", "degrees"}: the running-max rule (theorems.shift)
    steps        [{rule, position, bindings, term}]: rule applications from canon(term) to the
                 normal form, each `term` the s-expression of the (canonical) result
    obligations  what the checker verifies, in words

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> t = parse("(div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j]))))")
>>> print(certificate_summary(make_certificate(t, "j", [])))
streamable along j
  state      (o, z)    init (0, 0)
  B((o, z), (s, v)) = (o + Σ_j s·v, z + Σ_j s²)
  tail       o / sqrt(z)
  proof      already in stream normal form (no rewrite steps)
"""
from __future__ import annotations

import math

from wirefuse.rewrite.ir.ops import MONOIDS
from wirefuse.rewrite.ir.serialize import term_to_json
from wirefuse.rewrite.ir.sexpr import parse, to_sexpr
from wirefuse.rewrite.ir.term import Const, Elem, Input, Layout, Pos, Reduce, Size, State, Term
from wirefuse.rules.base import canon
from wirefuse.theorems.shift import ShiftInfo, find_shift
from wirefuse.theorems.stream import Component, StreamForm, decompose

FORMAT = "wirefuse-certificate/1"


def _num(v: float):
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def _unnum(v) -> float:
    return {"inf": math.inf, "-inf": -math.inf}.get(v, v) if isinstance(v, str) else float(v)


def plain_combine(name: str, monoid: str) -> str:
    a, b = f"{name}_1", f"{name}_2"
    return {"sum": f"{a} + {b}", "prod": f"{a}*{b}", "max": f"Max({a}, {b})",
            "min": f"Min({a}, {b})"}[monoid]


def final_term(term: Term, steps) -> Term:
    return steps[-1].term if steps else canon(term)


def make_certificate(term: Term, axis: str, steps) -> dict:
    """The certificate for `steps` (search.pathfind.Step list) taking `term` to normal form.

    Raises theorems.stream.NotNormal if the path does not end in stream normal form."""
    sf = decompose(final_term(term, steps), axis)
    info = find_shift(sf)
    state = [{"name": c.name, "monoid": c.monoid, "body": to_sexpr(c.body),
              "axes": list(sf.state_ref(c).axes)} for c in sf.components]
    init = {c.name: _num(c.identity) for c in sf.components}
    combine = {c.name: {"monoid": c.monoid, "expr": plain_combine(c.name, c.monoid)}
               for c in sf.components}
    shift = None
    if info is not None:
        exprs = info.combine_exprs()
        for name, e in exprs.items():
            combine[name] = {"monoid": "max" if name == info.max_name else "shifted", "expr": e}
        init[info.max_name] = "-inf"
        shift = {"u": to_sexpr(info.u), "max_state": info.max_name,
                 "degrees": {k: str(v) for k, v in info.degrees.items()}}
    obligations = [
        "each step replays (rule, position, bindings) to the stated term, modulo AC",
        "each step's side condition holds (rules re-check them on replay)",
        f"the final term is in stream normal form along {axis}: n-local bodies, tail free of {axis}",
        "the stated state, init, combine and tail are those of the final term",
        "each combine is associative with its init as identity (sympy)",
        "random chunkings streamed through state/combine/tail equal the term (float64)",
    ]
    if shift:
        obligations.append("shift: bodies homogeneous in e^u, tail invariant under the common "
                           "rescaling (sympy); the shifted combine equals e^(-α m)-scaled sums")
    return {
        "format": FORMAT,
        "term": {"json": term_to_json(term), "sexpr": to_sexpr(term)},
        "stream_axis": axis,
        "state": state,
        "init": init,
        "combine": combine,
        "tail": to_sexpr(sf.tail),
        "shift": shift,
        "steps": [{"rule": s.rule, "position": list(s.position), "bindings": s.bindings,
                   "term": to_sexpr(s.term)} for s in steps],
        "obligations": obligations,
    }


def stream_form_of(cert: dict) -> StreamForm:
    """The stream form a certificate states (not verified: that is theorems.checker's job)."""
    comps = tuple(Component(s["name"], s["monoid"], parse(s["body"])) for s in cert["state"])
    shift = cert.get("shift")
    return StreamForm(cert["stream_axis"], comps, parse(cert["tail"]),
                      parse(shift["u"]) if shift else None)


def shift_info_of(cert: dict) -> ShiftInfo | None:
    import sympy
    s = cert.get("shift")
    if not s:
        return None
    return ShiftInfo(parse(s["u"]), {k: sympy.Rational(v) for k, v in s["degrees"].items()},
                     s["max_state"])


# --- reading like the paper ----------------------------------------------------------------------
_PREC = {"add": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}


def pretty(t: Term) -> str:
    """Math notation: Σ_j s·v, o / sqrt(z), s², 1/x."""
    return _pretty(t, 0)


def _wrap(s: str, prec: int, outer: int) -> str:
    return f"({s})" if prec < outer else s


def _pretty(t: Term, outer: int) -> str:
    if isinstance(t, (Input, State)):
        return t.name
    if isinstance(t, Const):
        v = t.value
        return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e15 else str(v)
    if isinstance(t, Size):
        return f"|{t.axis}|"
    if isinstance(t, Layout):
        return _pretty(t.body, outer)
    if isinstance(t, Reduce):
        sym = MONOIDS[t.monoid].symbol
        return _wrap(f"{sym}_{t.axis} {_pretty(t.body, 2)}", 2, outer)
    if isinstance(t, Elem):
        a = t.args
        if t.op == "add":
            return _wrap(" + ".join(_pretty(x, 1) for x in a), 1, outer)
        if t.op == "mul":
            return _wrap("·".join(_pretty(x, 3) for x in a), 2, outer)
        if t.op == "div":
            return _wrap(f"{_pretty(a[0], 2)} / {_pretty(a[1], 3)}", 2, outer)
        if t.op == "sub":
            return _wrap(f"{_pretty(a[0], 1)} − {_pretty(a[1], 2)}", 1, outer)
        if t.op == "neg":
            return _wrap(f"−{_pretty(a[0], 3)}", 3, outer)
        if t.op == "square":
            return f"{_pretty(a[0], 5)}²"
        if t.op == "pow":
            p = a[1].value if isinstance(a[1], Const) else None
            if p == -1.0:
                return _wrap(f"1/{_pretty(a[0], 5)}", 2, outer)
            if p == 2.0:
                return f"{_pretty(a[0], 5)}²"
            return _wrap(f"{_pretty(a[0], 5)}^{_pretty(a[1], 5)}", 4, outer)
        return f"{t.op}({', '.join(_pretty(x, 0) for x in a)})"
    return to_sexpr(t)


def _chunk_vars(bodies, axis: str) -> list[str]:
    """What a chunk brings: its slices of the inputs over the axis, and its positions #axis."""
    out = []
    for b in bodies:
        for t in b.walk():
            if isinstance(t, Input) and axis in t.axes and t.name not in out:
                out.append(t.name)
            elif isinstance(t, Pos) and t.axis == axis and f"#{axis}" not in out:
                out.append(f"#{axis}")
    return out


def certificate_summary(cert: dict) -> str:
    """A few lines that read like the paper: state, init, the accumulator B, the tail, the proof."""
    sf = stream_form_of(cert)
    n = sf.axis
    names = [c.name for c in sf.components]
    ids = [cert["init"].get(c.name, c.identity) for c in sf.components]
    fmt = lambda v: "−∞" if v in ("-inf", -math.inf) else "∞" if v in ("inf", math.inf) \
        else pretty(Const(_unnum(v)))  # noqa: E731
    upd = []
    for c in sf.components:
        body = pretty(c.body)
        upd.append({"sum": f"{c.name} + Σ_{n} {body}", "prod": f"{c.name}·Π_{n} {body}",
                    "max": f"max({c.name}, max_{n} {body})",
                    "min": f"min({c.name}, min_{n} {body})"}[c.monoid])
    tup = lambda xs: xs[0] if len(xs) == 1 else "(" + ", ".join(xs) + ")"  # noqa: E731
    chunk = _chunk_vars([c.body for c in sf.components], n)
    lines = [f"streamable along {n}",
             f"  state      {tup(names)}    init {tup([fmt(v) for v in ids])}",
             f"  B({tup(names)}, {tup(chunk)}) = {tup(upd)}",
             f"  tail       {pretty(sf.tail)}"]
    if cert.get("shift"):
        s = cert["shift"]
        lines.append(f"  shift      running max {s['max_state']} = max_{n} {pretty(parse(s['u']))}; "
                     + ", ".join(f"{k} kept as Σ e^({v}·(u − {s['max_state']}))·…"
                                 for k, v in s["degrees"].items()))
    steps = cert.get("steps") or []
    if steps:
        used = []
        for st in steps:
            if st["rule"] not in used:
                used.append(st["rule"])
        lines.append(f"  proof      {len(steps)} steps: {', '.join(used)}")
    else:
        lines.append("  proof      already in stream normal form (no rewrite steps)")
    return "\n".join(lines)
