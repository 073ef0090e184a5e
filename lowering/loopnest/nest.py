"""A small loop-nest IR for one stream form: what the Triton generator (lowering.codegen.emit) emits.

Given f = T[R1..Rk], Ri = ⊕i_j hi (theorems.stream.StreamForm), the kernel is

    for each program (group index g ∈ G = batch/head axes, block of rows i):
        load the row-side operands of every score contraction          (before the loop)
        for each block of the stream axis j:
            S_c = Σ_d A_c[i,d] · B_c[d,j]            → tl.dot, fp32 accumulation
            field values over (i, j)                 → elementwise code (masks/biases loaded)
            state updates                            → sum: add, max: maximum, min: minimum;
                                                       Σ_j p·v[j,e] → tl.dot(p, V)
        out[g, i, e] = T(states)                     → elementwise code, then one store

The structures are recognised from the terms, not from variant names:

* a *score contraction* is any `sum@d (mul ...)` inside a body whose factors split into a
  row side (no j) and a column side (with j); the row axis i is, of the score's axes that the
  column side lacks, the one that comes last in the output's order (torch's convention: the
  sequence axis is the last before the feature axis), and the group axes G are the others
  (besides j).  So in GQA, q[b,g,r,i,d]·k[b,g,j,d], the key side lacks r and i: i is the row
  axis and r a group axis that k and v do not index (one program per (b, g, r), each loading
  the K/V tiles of its group).  Correct, but the r programs of a group each load the same K/V
  tiles; a faster GQA kernel would fold r into the row block (rows (r, i) flattened, one
  program per (b, g)) so each K/V tile is loaded once per group (not done here);
* a reduction over the row axis inside a body (column softmax's max_i s and Σ_i e^(s − max))
  is a *column statistic* (lowering.loopnest.colstats): a pre-pass kernel computes it per (G, j) and the
  stream kernel reads it as an input;
* a component whose body carries a value axis e (an output axis outside G ∪ {i}) must be a
  product field(i, j) · value(j, e): that is the second `tl.dot`; any other component is a
  field over (i, j) reduced along j with its monoid (tl.sum / tl.max / tl.min);
* with `shift` = u set (the prover's running-max rule), every sum component must have e^u as a
  direct factor, k times for the same k in all of them: the kernel keeps M = max_j u and
  replaces each such factor by e^(u − M), rescaling earlier state by α^k, α = e^(M_old − M_new).
  Without `shift` nothing is rescaled.

What does not fit raises a one-line UserError saying what is unsupported.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> from wirefuse.theorems.stream import decompose
>>> s = "(mul 0.088 (sum@d (mul q[b,h,i,d] k[b,h,j,d])))"
>>> t = parse(f"(layout@b,h,i,e (div (sum@j (mul {s} v[b,h,j,e])) "
...           f"(sqrt (add (sum@j (square {s})) 1e-6))))")
>>> nest = build_loopnest(decompose(t, "j"))
>>> nest.group, nest.row, nest.stream, nest.value, nest.out_axes
(('b', 'h'), 'i', 'j', 'e', ('b', 'h', 'i', 'e'))
>>> [(c.name, c.kind, c.monoid) for c in nest.components]
[('o', 'dot', 'sum'), ('z', 'row', 'sum')]
>>> str(nest.tail)
'(div $o[b,h,i,e] (sqrt (add $z[b,h,i] 1e-06)))'
"""
from __future__ import annotations

from dataclasses import dataclass, field

from wirefuse.rewrite.ir.term import Const, Elem, Input, Layout, Pos, Reduce, Size, State, Term
from wirefuse.theorems.stream import Component, StreamForm
from wirefuse.lowering.loopnest.colstats import extract as extract_column_stats
from wirefuse.lowering.loopnest.unsupported import Unsupported

MAX_CONTRACTION = 256  # the contraction axis is held whole in registers (one tl.dot per block)


@dataclass(frozen=True)
class Contraction:
    """S[g, i, j] = Σ_axis rowside[g, i, axis] · colside[g, axis, j] (each a product of factors)."""
    term: Reduce
    axis: str
    rowside: tuple[Term, ...]
    colside: tuple[Term, ...]


@dataclass(frozen=True)
class ComponentIR:
    """One state component as the kernel computes it.

    kind 'dot': state[i, e] ⊕= Σ_j field[i, j] · value[j, e]  (sum only, via tl.dot)
    kind 'row': state[i]    ⊕= ⊕_j field[i, j]                 (tl.sum / tl.max / tl.min)
    `shift_power` k: the field has k direct factors e^u, rescaled to e^(u − M) (0: none)."""
    name: str
    monoid: str
    kind: str
    field: Term
    value: Term | None
    shift_power: int = 0


@dataclass
class LoopNest:
    stream: str
    row: str
    group: tuple[str, ...]
    value: str | None
    out_axes: tuple[str, ...]
    contractions: list[Contraction]
    components: list[ComponentIR]
    tail: Term                       # over State leaves (only of `components`) and row-side inputs
    shift: Term | None
    inputs: dict[str, Input] = field(default_factory=dict)  # every Input the kernel reads
    causal: str | None = None        # name of the boolean (row, stream) mask taken as j ≤ i
    stats: list = field(default_factory=list)  # colstats.ColumnStat, computed by the pre-pass
    stat_contractions: list[Contraction] = field(default_factory=list)  # those in stat bodies
    # position comparisons in the bodies that are exactly j ≤ i (True) or j > i (False)
    # (lowering.loopnest.causal), set when the kernel may skip the key blocks past the diagonal
    causal_positions: dict[Term, bool] = field(default_factory=dict)

    @property
    def skips_causal(self) -> bool:
        """Key blocks past the diagonal are skipped (a causal mask input, or positions)."""
        return self.causal is not None or bool(self.causal_positions)

    def causal_known(self) -> dict[Term, bool]:
        """The mask terms' values on a key block wholly at or below the diagonal."""
        known = dict(self.causal_positions)
        if self.causal is not None:
            known[self.inputs[self.causal]] = True
        return known

    @property
    def axes(self) -> tuple[str, ...]:
        """Every axis whose size the kernel needs."""
        out = list(self.group) + [self.row, self.stream]
        out += [c.axis for c in self.contractions if c.axis not in out]
        if self.value:
            out.append(self.value)
        return tuple(out)


def _factors(t: Term) -> list[Term]:
    """The factors of a (nested) product."""
    if isinstance(t, Elem) and t.op == "mul":
        return [f for a in t.args for f in _factors(a)]
    return [t]


def _product(fs: list[Term]) -> Term:
    return fs[0] if len(fs) == 1 else Elem("mul", tuple(fs))


def _first_score(bodies, stream: str) -> Reduce | None:
    """The first contraction (a sum of a product with a row side and a stream side, nothing
    reduced inside it) in the bodies; other reductions are skipped (they may be statistics)."""
    for body in bodies:
        for t in body.walk():
            if not isinstance(t, Reduce) or t.monoid != "sum":
                continue
            fs = _factors(t.body)
            if any(isinstance(s, Reduce) for f in fs for s in f.walk()):
                continue
            row = [a for f in fs if stream not in f.axes for a in f.axes if a != t.axis]
            if row and any(stream in f.axes for f in fs):
                return t
    return None


def _find_contractions(bodies, stream: str, need: bool = True) -> list[Contraction]:
    out: list[Contraction] = []
    for body in bodies:
        for t in body.walk():
            if not isinstance(t, Reduce):
                continue
            if t.monoid != "sum":
                raise Unsupported(f"a {t.monoid}-reduction over {t.axis} inside a stream body "
                                  "(only sum contractions become tl.dot)")
            fs = _factors(t.body)
            col = tuple(f for f in fs if stream in f.axes)
            row = tuple(f for f in fs if stream not in f.axes)
            if not col or not any(a != t.axis for f in row for a in f.axes):
                raise Unsupported(f"the reduction over {t.axis} is not a contraction of a row "
                                  f"side with a {stream}-side: {t}")
            for f in fs:
                for s in f.walk():
                    if isinstance(s, Reduce):
                        raise Unsupported(f"a reduction nested in a contraction: {t}")
            if t not in [c.term for c in out]:
                out.append(Contraction(t, t.axis, row, col))
    if not out and need:
        raise Unsupported(f"no score contraction (sum over d of row-side · {stream}-side) in "
                          "the stream bodies: the generator needs one to form a tile")
    return out


def _strip_layout(t: Term) -> tuple[Term, tuple[str, ...]]:
    if isinstance(t, Layout):
        return t.body, t.order
    return t, t.axes


def shift_power(f: Term, u: Term) -> int:
    """k if the factor f is e^u (k = 1), e^(k·u) or (e^u)^k with k a positive integer, else 0."""
    if isinstance(f, Elem) and f.op == "pow" and isinstance(f.args[1], Const):
        c = float(f.args[1].value)
        if c.is_integer() and 1 <= c <= 8 and f.args[0] is Elem("exp", (u,)):
            return int(c)
        return 0
    if not (isinstance(f, Elem) and f.op == "exp"):
        return 0
    a = f.args[0]
    if a is u:
        return 1
    if isinstance(a, Elem) and a.op == "mul" and len(a.args) == 2 and u in a.args:
        c = a.args[1] if a.args[0] is u else a.args[0]
        if isinstance(c, Const) and float(c.value).is_integer() and 1 <= float(c.value) <= 8:
            return int(c.value)
    return 0


def _exp_u_count(body: Term, u: Term) -> int:
    """The total power k of e^u over the direct factors of `body`; -1 if u occurs inside some
    other exp (then e^u is not a plain factor and rescaling the direct ones would be wrong)."""
    k = 0
    for f in _factors(body):
        p = shift_power(f, u)
        if p:
            k += p
            continue
        for s in f.walk():
            if isinstance(s, Elem) and s.op == "exp" and any(x is u for x in s.args[0].walk()):
                return -1
    return k


def certificate_degrees(certificate: dict | None) -> dict:
    """The certificate's shift degrees as build_loopnest takes them, {sum component: α as a
    float}; {} without a certificate or a shift (the certificate keeps α as a fraction string).

    >>> certificate_degrees({"shift": {"u": "s", "degrees": {"z": "1", "o": "2"}}})
    {'z': 1.0, 'o': 2.0}
    >>> certificate_degrees(None), certificate_degrees({"shift": None})
    ({}, {})
    """
    from fractions import Fraction
    shift = (certificate or {}).get("shift") or {}
    return {k: float(Fraction(v)) for k, v in (shift.get("degrees") or {}).items()}


def build_loopnest(sf: StreamForm, causal: str | None = None,
                   degrees: dict | None = None) -> LoopNest:
    """The loop nest of `sf`; raises Unsupported (a UserError) for shapes the generator lacks.

    `degrees`: the certificate's shift degrees {sum component: α} (needed only when the sum
    components carry different powers of e^u)."""
    j = sf.axis
    body_tail, out_axes = _strip_layout(sf.tail)
    comps = {c.name: c for c in sf.components}
    used = [c for c in sf.components if any(isinstance(t, State) and t.name == c.name
                                            for t in body_tail.walk())]
    if not used:
        raise Unsupported("the tail uses no stream state")
    bodies = [c.body for c in used] + ([sf.shift] if sf.shift is not None else [])
    first = _first_score(bodies, j)
    if first is None:  # no contraction at all: _find_contractions says what is there instead
        _find_contractions(bodies, j)
        raise Unsupported(f"no score contraction (sum over d of row-side · {j}-side) in the "
                          "stream bodies")
    score_axes = set(first.axes) - {j}
    col_axes = {a for f in _factors(first.body) if j in f.axes for a in f.axes}
    lacking = score_axes - col_axes
    rows = [a for a in out_axes if a in lacking]
    if not rows:
        raise Unsupported(f"the score {first} has no output axis that the key side lacks; the "
                          "generator needs one as the query (row) axis")
    row = rows[-1]  # the query axis: the last lacking axis in output order (the others: groups)
    group = tuple(a for a in out_axes if a in score_axes and a != row)
    if set(group) != score_axes - {row}:
        raise Unsupported(f"the score's axes {sorted(score_axes)} are not all output axes")
    n_used = len(used)
    new_bodies, stats = extract_column_stats(bodies, row, group, j)  # reductions over the row axis → leaves
    used = [Component(c.name, c.monoid, b) for c, b in zip(used, new_bodies)]
    shift = new_bodies[n_used] if sf.shift is not None else None
    sf = StreamForm(j, tuple(used), sf.tail, shift)
    contractions = _find_contractions([c.body for c in used] +
                                      ([sf.shift] if sf.shift is not None else []), j)
    stat_contractions = _find_contractions([s.body for s in stats], j, need=False)
    for c in contractions:
        if set(c.term.axes) - {j} != score_axes:
            raise Unsupported(f"two score contractions over different axes: {c.term}")
    extra = [a for a in out_axes if a not in group and a != row]
    if len(extra) > 1:
        raise Unsupported(f"the output has axes {extra} besides the group and query axes; "
                          "at most one value axis is supported")
    value = extra[0] if extra else None
    if row not in out_axes:
        raise Unsupported(f"the query axis {row} is not an output axis")
    allowed_field = set(group) | {row, j}

    def check_field(t: Term, what: str):
        bad = set(t.axes) - allowed_field
        if bad:
            raise Unsupported(f"{what} has axes {sorted(bad)} outside {sorted(allowed_field)}")

    if sf.shift is not None:
        check_field(sf.shift, "the shift u")
    out_comps: list[ComponentIR] = []
    for c in used:
        if value is not None and value in c.body.axes:
            fs = _factors(c.body)
            vals = [f for f in fs if value in f.axes]
            flds = [f for f in fs if value not in f.axes]
            if c.monoid != "sum":
                raise Unsupported(f"component {c.name} is a {c.monoid} over {value}; only sums "
                                  "of field·value become tl.dot")
            for f in vals:
                if row in f.axes or set(f.axes) - set(group) - {j, value}:
                    raise Unsupported(f"value factor {f} of {c.name} must be over "
                                      f"({', '.join(group + (j, value))}) only")
            fld = _product(flds) if flds else Const(1.0)
            check_field(fld, f"the weight of component {c.name}")
            out_comps.append(ComponentIR(c.name, c.monoid, "dot", fld, _product(vals)))
        else:
            check_field(c.body, f"component {c.name}")
            out_comps.append(ComponentIR(c.name, c.monoid, "row", c.body, None))
    if sf.shift is not None:
        powers = set()
        for i, c in enumerate(out_comps):
            if c.monoid != "sum":
                continue
            k = _exp_u_count(c.field, sf.shift)
            if k <= 0:
                raise Unsupported(f"shift set but component {c.name}'s body is not e^u·w with "
                                  "e^u a direct factor; refusing to rescale")
            powers.add(k)
            out_comps[i] = ComponentIR(c.name, c.monoid, c.kind, c.field, c.value, k)
        if len(powers) > 1:
            # per-component rescaling e^(-k·M) is sound only where the certificate's shift rule
            # proved the tail invariant under exactly those degrees
            have = {c.name: c.shift_power for c in out_comps if c.monoid == "sum"}
            if not degrees or any(float(degrees.get(n, -1)) != k for n, k in have.items()):
                raise Unsupported("sum components have different powers of e^u "
                                  f"({have}) and no certificate degrees that match them")
    tail_axes = set(group) | {row} | ({value} if value else set())
    inputs: dict[str, Input] = {}
    for t in [sf.tail] + [c.body for c in used] + ([sf.shift] if sf.shift is not None else []):
        for s in t.walk():
            if isinstance(s, Input):
                if s.name in inputs and inputs[s.name] is not s:
                    raise Unsupported(f"input {s.name} is used with two axis lists")
                inputs[s.name] = s
    for s in body_tail.walk():
        if isinstance(s, Input) and set(s.axes) - tail_axes:
            raise Unsupported(f"tail input {s.name} has axes outside the output's")
        if isinstance(s, (Reduce,)):
            raise Unsupported(f"a reduction in the tail: {s}")
        if not isinstance(s, (Elem, Const, Size, Pos, State, Input)):
            raise Unsupported(f"{type(s).__name__} in the tail: {s}")
    for c in contractions:
        if c.axis in allowed_field:
            raise Unsupported(f"the contraction axis {c.axis} is also a score axis")
    for c in stat_contractions:
        if set(c.term.axes) - {j} != score_axes or c.axis not in {x.axis for x in contractions}:
            raise Unsupported(f"a column statistic contracts {c.term}, which is not over the "
                              "score's axes and a contraction axis of the stream body")
    for s in stats:
        for t in s.body.walk():
            if isinstance(t, Input) and t.name in inputs and inputs[t.name] is not t:
                raise Unsupported(f"input {t.name} is used with two axis lists")
            if isinstance(t, Input) and not t.name.startswith("_"):
                inputs.setdefault(t.name, t)
    if stats and causal is not None:
        raise Unsupported(f"causal={causal!r} with column statistics (reductions over {row}): "
                          "masked key blocks are not skipped there; export without --causal")
    if causal is not None:
        m = inputs.get(causal)
        if m is None or m.dtype != "bool" or set(m.axes) - set(group) != {row, j}:
            raise Unsupported(f"causal={causal!r} must name a boolean input over ({row}, {j}); "
                              f"the term reads {sorted(inputs)}")
    nest = LoopNest(j, row, group, value, tuple(out_axes), contractions, out_comps,
                    body_tail, sf.shift, inputs, causal, stats, stat_contractions)
    for name in inputs:
        if name.startswith("_") and name not in {s.name for s in stats}:
            raise Unsupported(f"input name {name} starts with '_' (reserved in generated code)")
    del comps
    _skip_by_positions(nest)
    return nest


def _skip_by_positions(nest: LoopNest) -> None:
    """A causal mask built from positions (#j ≤ #i, as torch.tril traces) lets the kernel skip
    key blocks past the diagonal, as an input mask taken as causal does; only where every body
    is its identity there (check_causal_skip), otherwise the mask is just computed per block."""
    from wirefuse.lowering.loopnest.causal import causal_terms
    if nest.stats:  # column statistics reduce over rows: skipping keys is not checked there
        return
    found = causal_terms([c.field for c in nest.components] + [c.value for c in nest.components
                         if c.value is not None] + ([nest.shift] if nest.shift is not None
                                                    else []), nest.row, nest.stream)
    if not found or not _mask_only_selects_the_shift(nest, found):
        return
    nest.causal_positions = found
    try:
        check_causal_skip(nest)
    except Unsupported:
        nest.causal_positions = {}


def _mask_only_selects_the_shift(nest: LoopNest, found: dict) -> bool:
    """Skipping is automatic here (nobody declared the mask), so it is decided by structure, not
    by sampling: the shift must be u = where(mask, x, −∞) (or the negated form) with the causal
    mask itself as the condition, every component must carry e^(k·u), k ≥ 1, and the mask and
    the row/key positions must appear nowhere outside u (x may hold anything: a bias, positions).
    Then past the diagonal u = −∞ and every field is exactly 0, its sum's identity.  A mask that
    is the causal one *or* something else (a prefix-LM `| (j < plen)`, a band) is not the
    condition itself, so it is computed per block without skipping."""
    u = nest.shift
    if not (isinstance(u, Elem) and u.op == "where" and u.args[0] in found):
        return False
    masked = u.args[2] if found[u.args[0]] else u.args[1]  # u's value where the mask is false
    if not (isinstance(masked, Const) and masked.value == float("-inf")):
        return False
    if any(c.monoid != "sum" or c.shift_power < 1 for c in nest.components):
        return False
    axes = {nest.row, nest.stream}

    def clean(t: Term) -> bool:  # no mask and no row/key position outside u
        todo = [t]
        while todo:
            x = todo.pop()
            if x == u:
                continue
            if x in found or (isinstance(x, Pos) and x.axis in axes):
                return False
            todo.extend(x.children)
        return True
    return all(clean(t) for c in nest.components for t in (c.field, c.value) if t is not None)


# --- tail numerics -------------------------------------------------------------------------------
def simplify_tail(tail: Term) -> Term:
    """The tail with sympy's automatic algebra applied (exact identities only, no `simplify`).

    The running-max form proves T(c·o, c·z, m) = T(o, z, m); the prover's tail is often written as
    e^(−m) · (e^(−m) · z)^(−1) · o, which overflows for |m| ≳ 88 in fp32 although it equals o / z.
    Sympy's construction cancels such factors; a tail it cannot translate back is kept as is.

    >>> from wirefuse.rewrite.ir.sexpr import parse
    >>> str(simplify_tail(parse("(mul (exp (neg $m[i])) (pow (mul (exp (neg $m[i])) $z[i]) -1.0) $o[i,e])")))
    '(div $o[i,e] $z[i])'
    """
    import sympy
    from wirefuse.rewrite.ir.ops import SCALAR_OPS
    leaves: dict[str, Term] = {}

    def to_sym(t: Term):
        if isinstance(t, (State, Input, Size, Pos)):
            key = f"L{len(leaves)}"
            for k, v in leaves.items():
                if v is t:
                    key = k
            leaves[key] = t
            return sympy.Symbol(key)
        if isinstance(t, Const):
            v = float(t.value)
            if v == int(v) if abs(v) < 1e15 else False:
                return sympy.Integer(int(v))
            return sympy.Float(v)
        if isinstance(t, Elem) and t.op in SCALAR_OPS and SCALAR_OPS[t.op].result == "float" \
                and t.op not in ("where", "float"):
            return SCALAR_OPS[t.op].sympy_fn(*[to_sym(a) for a in t.args])
        raise _NoSympy(t)

    def back(e) -> Term:
        if isinstance(e, sympy.Symbol):
            return leaves[e.name]
        if e.is_Number:
            return Const(float(e))
        if isinstance(e, sympy.Add):
            return Elem("add", tuple(back(a) for a in e.args))
        if isinstance(e, sympy.Mul):
            num, den = [], []
            for a in e.args:
                if isinstance(a, sympy.Pow) and a.exp.is_Number and a.exp < 0:
                    den.append(back(a.base ** -a.exp))
                else:
                    num.append(back(a))
            n = _product(num) if num else Const(1.0)
            return Elem("div", (n, _product(den))) if den else n
        if isinstance(e, sympy.Pow) and e.exp.is_Number:
            x, b = float(e.exp), back(e.base)
            if x < 0:
                return Elem("div", (Const(1.0), back(e.base ** -e.exp)))
            if x == 0.5:
                return Elem("sqrt", (b,))
            if x == 2:
                return Elem("square", (b,))
            return Elem("pow", (b, Const(x)))
        names = {sympy.exp: "exp", sympy.log: "log", sympy.Abs: "abs", sympy.tanh: "tanh",
                 sympy.Max: "max", sympy.Min: "min"}
        if e.func in names and (len(e.args) == 1 or e.func in (sympy.Max, sympy.Min)):
            args = [back(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = Elem(names[e.func], (out, a))
            return out if len(args) > 1 else Elem(names[e.func], (args[0],))
        raise _NoSympy(e)

    body, order = _strip_layout(tail)
    try:
        out = back(to_sym(body))
    except (_NoSympy, TypeError, ValueError):
        return tail
    if set(out.axes) != set(body.axes):  # something cancelled an axis away: keep the original
        return tail
    return Layout(order, out) if isinstance(tail, Layout) else out


class _NoSympy(Exception):
    pass


def check_causal_skip(nest: LoopNest) -> None:
    """Skipping key blocks where the causal mask is all false is sound only if every component's
    body is its monoid's identity there (and u = −∞ when shifted).  Checked in float64 on random
    values with the mask all false, and positions #i, #j of rows and keys past them (keys
    3..5 after rows 0..2, and far past); raises Unsupported otherwise."""
    import torch
    from wirefuse.rewrite.ir.evaluate import evaluate_labelled
    from wirefuse.rewrite.ir.ops import MONOIDS
    gen = torch.Generator().manual_seed(0)
    sizes = {a: 3 for a in nest.axes}
    args = {}
    for name, inp in nest.inputs.items():
        shape = [sizes[a] for a in inp.axes]
        args[name] = (torch.zeros(shape, dtype=torch.bool) if name == nest.causal else
                      torch.rand(shape, generator=gen, dtype=torch.float64) * 4 - 2
                      if inp.dtype != "bool" else torch.rand(shape, generator=gen) < 0.5)
    checks = [(c.name, Elem("mul", (c.field, c.value)) if c.value is not None else c.field,
               MONOIDS[c.monoid].identity) for c in nest.components]
    if nest.shift is not None:
        checks.append(("the shift u", nest.shift, float("-inf")))
    mask = repr(nest.causal) if nest.causal is not None else "j ≤ i from positions"
    for what, body, ident in checks:
        need = {n: args[n] for n in {s.name for s in body.walk() if isinstance(s, Input)}}
        for rows, keys in ((0, 3), (500, 1000)):
            val = evaluate_labelled(body, need, sizes, {nest.row: rows, nest.stream: keys}).t
            if not bool((val == ident).all()):
                raise Unsupported(f"causal={mask}: {what} is not the identity {ident} where "
                                  "the mask is false, so masked key blocks cannot be skipped")
