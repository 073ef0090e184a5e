"""The string-diagram view of a term, as a networkx graph.

Boxes are operations (nodes); wires are arrays (edges from the box that makes a value to each box
that uses it), labelled with the value's axes.  The output is a box of kind "output".

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> g = to_networkx(parse("(sum@d (mul q[i,d] k[j,d]))"))
>>> sorted(d["label"] for _, d in g.nodes(data=True))
['k', 'mul', 'output', 'q', 'sum@d']
>>> sorted(tuple(d["axes"]) for _, _, d in g.edges(data=True))
[('i', 'd'), ('i', 'd', 'j'), ('i', 'j'), ('j', 'd')]
"""
from __future__ import annotations

import networkx as nx

from wirefuse.rewrite.ir.term import (Const, Input, Layout, Pos, Rename, Size, State, Term,
                                      format_number, head)


def box_label(t: Term) -> str:
    if isinstance(t, (Input, State)):
        return ("$" if isinstance(t, State) else "") + t.name
    if isinstance(t, Const):
        return str(t.value).lower() if t.dtype == "bool" else format_number(t.value)
    if isinstance(t, Size):
        return f"|{t.axis}|"
    if isinstance(t, Pos):
        return f"#{t.axis}"
    if isinstance(t, Rename):
        return f"{t.old}→{t.new}"
    if isinstance(t, Layout):
        return "layout"
    return head(t)


def to_networkx(term: Term) -> nx.MultiDiGraph:
    """Node ids are integers in children-first order; attributes: kind, label, axes, term."""
    g = nx.MultiDiGraph()
    ids: dict[int, int] = {}
    for t in term.walk():
        ids[id(t)] = len(ids)
        g.add_node(ids[id(t)], kind=type(t).__name__.lower(), label=box_label(t),
                   axes=t.axes, term=t)
        for port, c in enumerate(t.children):
            g.add_edge(ids[id(c)], ids[id(t)], axes=c.axes, port=port)
    out = len(ids)
    g.add_node(out, kind="output", label="output", axes=term.axes, term=None)
    g.add_edge(ids[id(term)], out, axes=term.axes, port=0)
    return g
