"""Column statistics: reductions over the query axis inside a stream body, made into inputs.

Column softmax, out_i = Σ_j softmax_i(s)_ij v_j, is streamable along j, but its body reads, for
each key j, `max_i s_ij` and `Σ_i e^(s_ij − max_i s_ij)`: reductions over the row axis i.  A
program of the stream kernel owns one block of rows, so it cannot compute them.  They depend only
on (group, j), so pre-pass kernels (lowering.codegen.prepass) compute each one for every key first, into
an fp32 buffer over (G, j), and the stream kernel reads that buffer as an ordinary input: inside
the body the reduction becomes a leaf.  Nothing is approximated: the leaf holds the exact value
of the reduction (up to fp32 rounding), so the stream form is unchanged in meaning.

A statistic is a `Reduce(⊕, i, h)` in a stream body (or the shift) with ⊕ ∈ {sum, max, min} whose
result is over exactly G ∪ {j} (a per-key value in each group) and whose body, once inner
statistics are leaves, lives on the (i, j) tile: its axes are in G ∪ {i, j}, and the only
reductions left in it are score contractions.  Statistics nest (Σ_i e^(s − max_i s) contains
max_i s): `level` orders them, inner ones first; one pre-pass kernel computes one level.
Anything else raises a one-line Unsupported.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> s = "(sum@d (mul q[b,h,i,d] k[b,h,j,d]))"
>>> body = parse(f"(mul (exp (sub {s} (max@i {s}))) v[b,h,j,e])")
>>> [new], stats = extract([body], "i", ("b", "h"), "j")
>>> [(c.name, c.monoid, c.level, str(c.body)) for c in stats]
[('_col0', 'max', 0, '(sum@d (mul q[b,h,i,d] k[b,h,j,d]))')]
>>> str(new)
'(mul (exp (sub (sum@d (mul q[b,h,i,d] k[b,h,j,d])) _col0[b,h,j])) v[b,h,j,e])'
"""
from __future__ import annotations

from dataclasses import dataclass

from wirefuse.rewrite.ir.term import Input, Reduce, Term
from wirefuse.lowering.loopnest.unsupported import Unsupported

PREFIX = "_col"  # user inputs may not start with "_", so these names cannot clash

@dataclass(frozen=True)
class ColumnStat:
    """leaf[G, j] = ⊕_i body[G, i, j], computed by pre-pass kernel number `level`."""
    name: str
    monoid: str
    body: Term      # earlier statistics appear in it as their leaves
    leaf: Input     # what replaces the reduction in the stream body
    level: int


def extract(bodies: list[Term], row: str, group: tuple[str, ...], stream: str
            ) -> tuple[list[Term], list[ColumnStat]]:
    """The bodies with every reduction over `row` replaced by its statistic's leaf, and the
    statistics (inner before outer).  Raises Unsupported for a reduction over `row` that is not
    a per-key statistic on the (row, stream) tile."""
    stats: list[ColumnStat] = []
    by_term: dict[Term, ColumnStat] = {}
    done: dict[Term, Term] = {}
    tile = set(group) | {row, stream}
    want = set(group) | {stream}

    def rebuild(t: Term) -> Term:
        for s in t.walk():  # children before parents: every child is in `done` already
            if s in done:
                continue
            new = s.with_children(tuple(done[c] for c in s.children)) if s.children else s
            if isinstance(s, Reduce) and s.axis == row:
                new = _stat(s, new)
            done[s] = new
        return done[t]

    def _stat(old: Reduce, new: Reduce) -> Term:
        if new in by_term:
            return by_term[new].leaf
        if new.monoid not in ("sum", "max", "min"):
            raise Unsupported(f"a {new.monoid}-reduction over the query axis {row} in a stream "
                              "body (column statistics support sum, max and min)")
        if set(new.axes) != want:
            raise Unsupported(f"the reduction over {row} {old} is over {sorted(new.axes)}; a "
                              f"column statistic must be over exactly {sorted(want)}")
        bad = set(new.body.axes) - tile
        if bad:
            raise Unsupported(f"the reduction over {row} {old} has axes {sorted(bad)} outside "
                              f"the ({row}, {stream}) tile and the group axes")
        inner = [st for st in stats if any(x is st.leaf for x in new.body.walk())]
        level = 1 + max(st.level for st in inner) if inner else 0
        name = f"{PREFIX}{len(stats)}"
        stat = ColumnStat(name, new.monoid, new.body, Input(name, new.axes), level)
        stats.append(stat)
        by_term[new] = stat
        return stat.leaf

    out = [rebuild(b) for b in bodies]
    return out, stats
