"""Terms in egglog: the e-graph encoding of `rewrite.ir.term` and the decoding back.

One egglog sort, `Tm`, holds every term.  Axes are plain strings (names, so no alpha-equivalence
is needed); n-ary `add` and `mul` take a `MultiSet[Tm]`, so associativity and commutativity are
built into the representation instead of being rewrite rules (the rules that blow e-graphs up:
on one attention term, 197 s without saturating with binary AC rules against 3 ms to saturation
with multisets; docs/prover.md).

    Input(x, (i,j), dtype)   Tm.inp("x", "i,j", dtype)      State(o, (i,))  Tm.state("o", "i")
    Const(2.0)               Tm.const(2.0)                  Const(True)     Tm.bconst("true")
    Size(j)                  Tm.size("j")                   Pos(j)          Tm.position("j")
    Elem(add, (a, b, c))     Tm.add(MultiSet(a, b, c))      Elem(mul, ...)  Tm.mul(MultiSet(...))
    Elem(op, (a,))           Tm.op1(op, a)    op2, op3 likewise for two and three arguments
    Reduce(m, j, b)          Tm.red(m, "j", b)              Broadcast(j, b) Tm.bcast("j", b)
    Opaque(op, j, args, ps)  Tm.opq1/opq2/opq3(op, "j", args..., "p1,p2")
    Rename(i, i2, b)         Tm.rename("i", "i2", b)        Layout(order, b) Tm.layout("i,e", b)

Facts that rules read (all computed positively: egglog has no negation in queries):

    axis(n)        n is an axis of the problem (the universe that `indep` ranges over)
    indep(t, n)    t does not vary along n (n is not among t's axes)
    nonneg(t), pos(t), nonzero(t)   sign facts, for the side conditions of the rules
    is_int(t)      t is an integer constant (an exponent for which (ab)^p = a^p b^p always)
    root(t)        the term being proven about, so extraction can find its e-class

Facts about inputs and positions are seeded here, at encoding time, because they depend on the axes string;
every other fact is derived by the rules in `search/egg/facts.py`.

Decoding works on the serialized e-graph (`SerializedGraph`): a choice of one e-node per e-class
is turned back into a `Term`, so any extractor (search/extract.py) can pick the e-nodes.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> t = parse("(div (sum@j (mul s[i,j] v[j,e])) (sqrt (sum@j (square s[i,j]))))")
>>> eg = EGraph()
>>> _ = encode(t, eg)
>>> g = SerializedGraph.of(eg)
>>> [nd.ctor for nd in g.classes[g.root()]]
['op2']

(search/extract.py shows the round trip: the smallest term of the root class is `t` again.)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from egglog import (EGraph, Expr, MultiSet, String, StringLike, f64, f64Like, relation)

from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term, TermError)


class Tm(Expr):
    """A term over named axes (see the module docstring for the constructor of each node kind)."""

    @classmethod
    def inp(cls, name: StringLike, axes: StringLike, dtype: StringLike) -> Tm: ...

    @classmethod
    def state(cls, name: StringLike, axes: StringLike) -> Tm: ...

    @classmethod
    def const(cls, value: f64Like) -> Tm: ...

    @classmethod
    def bconst(cls, value: StringLike) -> Tm: ...

    @classmethod
    def size(cls, axis: StringLike) -> Tm: ...

    @classmethod
    def position(cls, axis: StringLike) -> Tm: ...

    @classmethod
    def add(cls, xs: MultiSet[Tm]) -> Tm: ...

    @classmethod
    def mul(cls, xs: MultiSet[Tm]) -> Tm: ...

    @classmethod
    def op1(cls, op: StringLike, a: Tm) -> Tm: ...

    @classmethod
    def op2(cls, op: StringLike, a: Tm, b: Tm) -> Tm: ...

    @classmethod
    def op3(cls, op: StringLike, a: Tm, b: Tm, c: Tm) -> Tm: ...

    @classmethod
    def red(cls, monoid: StringLike, axis: StringLike, body: Tm) -> Tm: ...

    @classmethod
    def bcast(cls, axis: StringLike, body: Tm) -> Tm: ...

    @classmethod
    def opq1(cls, op: StringLike, axis: StringLike, a: Tm, params: StringLike) -> Tm: ...

    @classmethod
    def opq2(cls, op: StringLike, axis: StringLike, a: Tm, b: Tm, params: StringLike) -> Tm: ...

    @classmethod
    def opq3(cls, op: StringLike, axis: StringLike, a: Tm, b: Tm, c: Tm,
             params: StringLike) -> Tm: ...

    @classmethod
    def rename(cls, old: StringLike, new: StringLike, body: Tm) -> Tm: ...

    @classmethod
    def layout(cls, order: StringLike, body: Tm) -> Tm: ...


axis = relation("axis", String)
indep = relation("indep", Tm, String)
nonneg = relation("nonneg", Tm)
pos = relation("pos", Tm)
nonzero = relation("nonzero", Tm)
is_int = relation("is_int", Tm)
root = relation("root", Tm)
# `all_*` facts about the elements of a multiset, computed along a chain of `pick`s that only
# visits multisets some add/mul node asked about (`demand_*`): linear, not one per subset.
demand_set = relation("demand_set", MultiSet[Tm])
all_indep = relation("all_indep", MultiSet[Tm], String)
all_nonneg = relation("all_nonneg", MultiSet[Tm])
all_pos = relation("all_pos", MultiSet[Tm])


class EncodeError(ValueError):
    """A term that the e-graph encoding cannot hold (e.g. an op of an unexpected arity)."""


def _csv(axes) -> str:
    return ",".join(axes)


def _params(ps) -> str:
    return ",".join(repr(float(p)) for p in ps)


def axes_universe(term: Term) -> list[str]:
    """Every axis name the term mentions (its own, reduced, broadcast, renamed ones)."""
    out: list[str] = []

    def add(a):
        if a not in out:
            out.append(a)
    for t in term.walk():
        for a in t.axes:
            add(a)
        if isinstance(t, (Reduce, Opaque, Broadcast, Size)):
            add(t.axis)
        elif isinstance(t, Rename):
            add(t.old)
            add(t.new)
    return out


def encode(term: Term, egraph: EGraph, axes: list[str] | None = None) -> Tm:
    """Register `term` (marked as `root`) and its seed facts in `egraph`; return its expression.

    `axes` is the universe `indep` ranges over (default: every axis the term mentions)."""
    universe = list(axes) if axes is not None else axes_universe(term)
    done: dict[int, Tm] = {}
    facts = [axis(a) for a in universe]
    for t in term.walk():
        kids = [done[id(c)] for c in t.children]
        e = _encode_node(t, kids)
        done[id(t)] = e
        if isinstance(t, (Input, State, Pos)):
            facts += [indep(e, a) for a in universe if a not in t.axes]
        elif isinstance(t, Const) and t.dtype == "float" and math.isfinite(t.value) \
                and t.value == int(t.value):
            facts.append(is_int(e))
    out = done[id(term)]
    # The units must exist as terms: rules test `ms.not_contains(Tm.const(1.0))`, and a query
    # atom over a term that is not in the e-graph never matches.
    units = [Tm.const(0.0), Tm.const(1.0)]
    egraph.register(out, root(out), *units, *[is_int(u) for u in units], *facts)
    return out


def _encode_node(t: Term, kids: list[Tm]) -> Tm:
    if isinstance(t, Input):
        return Tm.inp(t.name, _csv(t.axes), t.dtype)
    if isinstance(t, State):
        return Tm.state(t.name, _csv(t.axes))
    if isinstance(t, Const):
        if t.dtype == "bool":
            return Tm.bconst("true" if t.value else "false")
        return Tm.const(float(t.value))
    if isinstance(t, Size):
        return Tm.size(t.axis)
    if isinstance(t, Pos):
        return Tm.position(t.axis)
    if isinstance(t, Elem):
        if t.op == "add":
            return Tm.add(MultiSet(*kids))
        if t.op == "mul":
            return Tm.mul(MultiSet(*kids))
        if len(kids) == 1:
            return Tm.op1(t.op, *kids)
        if len(kids) == 2:
            return Tm.op2(t.op, *kids)
        if len(kids) == 3:
            return Tm.op3(t.op, *kids)
        raise EncodeError(f"{t.op} with {len(kids)} arguments has no e-graph encoding")
    if isinstance(t, Reduce):
        return Tm.red(t.monoid, t.axis, kids[0])
    if isinstance(t, Broadcast):
        return Tm.bcast(t.axis, kids[0])
    if isinstance(t, Opaque):
        ctor = {1: Tm.opq1, 2: Tm.opq2, 3: Tm.opq3}.get(len(kids))
        if ctor is None:
            raise EncodeError(f"{t.op} with {len(kids)} arguments has no e-graph encoding")
        return ctor(t.op, t.axis, *kids, _params(t.params))
    if isinstance(t, Rename):
        return Tm.rename(t.old, t.new, kids[0])
    if isinstance(t, Layout):
        return Tm.layout(_csv(t.order), kids[0])
    raise EncodeError(f"no e-graph encoding for {type(t).__name__}")


# --- the serialized e-graph, and decoding a choice of e-nodes back into a Term ----------------

@dataclass(frozen=True)
class Node:
    """One e-node: its constructor name (`inp`, `add`, ...), its literal fields, its child classes.

    For add/mul, `kids` are the classes of the multiset's elements (with multiplicity)."""
    ctor: str
    lits: tuple
    kids: tuple[str, ...]


def _prim(op: str):
    if op.startswith('"'):
        return json.loads(op)
    try:
        return float(op)
    except ValueError:
        return op


class SerializedGraph:
    """The Tm e-classes of an e-graph, read from egglog's JSON serialization."""

    def __init__(self, data: dict):
        nodes = data["nodes"]
        self.classes: dict[str, list[Node]] = {}
        self.root_class: str | None = None
        cls_of = {nid: n["eclass"] for nid, n in nodes.items()}
        for nid, n in nodes.items():
            op = n["op"]
            if op == "root":
                self.root_class = cls_of[n["children"][0]]
                continue
            if not op.startswith("Tm."):
                continue
            ctor, lits, kids = op[3:], [], []
            for c in n["children"]:
                child = nodes[c]
                if child["eclass"].startswith("egglog.builtins.MultiSet"):
                    kids.extend(cls_of[k] for k in child["children"])
                elif c.startswith("primitive-"):
                    lits.append(_prim(child["op"]))
                else:
                    kids.append(cls_of[c])
            self.classes.setdefault(n["eclass"], []).append(Node(ctor, tuple(lits), tuple(kids)))
        # egglog's JSON lists the same e-graph in an order that varies from one process to the
        # next; extraction keeps the first of equally good e-nodes, so fix the order (class id,
        # then the e-node's repr) to get the same normal form, proof and certificate every run
        self.classes = {c: sorted(ns, key=repr) for c, ns in sorted(self.classes.items())}

    @classmethod
    def of(cls, egraph: EGraph) -> "SerializedGraph":
        return cls(json.loads(egraph._serialize().to_json()))

    def root(self) -> str:
        if self.root_class is None:
            raise EncodeError("the e-graph has no root term")
        return self.root_class

    @property
    def n_nodes(self) -> int:
        return sum(len(v) for v in self.classes.values())


def decode(graph: SerializedGraph, choice: dict[str, Node], cls: str) -> Term:
    """The term that picks `choice[c]` in each e-class c reachable from `cls` (acyclic choice)."""
    done: dict[str, Term] = {}
    stack = [(cls, False)]
    while stack:
        c, ready = stack.pop()
        if c in done:
            continue
        node = choice[c]
        if ready:
            done[c] = decode_node(node, [done[k] for k in node.kids])
        else:
            stack.append((c, True))
            stack.extend((k, False) for k in node.kids if k not in done)
    return done[cls]


def decode_node(node: Node, kids: list[Term]) -> Term:
    """One e-node over already-decoded children."""
    k, lits = node.ctor, node.lits
    if k == "inp":
        return Input(lits[0], _axes(lits[1]), lits[2])
    if k == "state":
        return State(lits[0], _axes(lits[1]))
    if k == "const":
        return Const(lits[0])
    if k == "bconst":
        return Const(lits[0] == "true", "bool")
    if k == "size":
        return Size(lits[0])
    if k == "position":
        return Pos(lits[0])
    if k in ("add", "mul"):
        if not kids:
            return Const(0.0 if k == "add" else 1.0)
        if len(kids) == 1:
            return kids[0]
        from wirefuse.rewrite.ir.sexpr import to_sexpr
        return Elem(k, tuple(sorted(kids, key=to_sexpr)))  # a canonical order for the multiset
    if k in ("op1", "op2", "op3"):
        return Elem(lits[0], tuple(kids))
    if k == "red":
        return Reduce(lits[0], lits[1], kids[0])
    if k == "bcast":
        return Broadcast(lits[0], kids[0])
    if k in ("opq1", "opq2", "opq3"):
        params = tuple(float(p) for p in lits[2].split(",") if p) if lits[2] else ()
        return Opaque(lits[0], lits[1], tuple(kids), params)
    if k == "rename":
        return Rename(lits[0], lits[1], kids[0])
    if k == "layout":
        return Layout(_axes(lits[0]), kids[0])
    raise TermError(f"unknown e-node constructor {k!r}")


def _axes(s: str) -> tuple[str, ...]:
    return tuple(a for a in s.split(",") if a)
