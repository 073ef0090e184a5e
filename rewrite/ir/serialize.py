"""Terms to and from JSON, losslessly and with sharing kept.

The JSON form is a node table: each node lists its kind, its plain fields and the indices of its
children, which always come earlier in the table, so a shared subterm is written once.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> t = parse("(div (exp x[j]) (sum@j (exp x[j])))")
>>> term_from_json(term_to_json(t)) is t
True
"""
from __future__ import annotations

import math

from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term, TermError)

_KINDS = {c.__name__: c for c in (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                  Rename, Size, State)}


def _plain(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _unplain(v):
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    if isinstance(v, list):
        return tuple(_unplain(x) for x in v)
    return v


def term_to_json(term: Term) -> dict:
    index: dict[int, int] = {}
    nodes = []
    for n in term.walk():
        fields = {}
        for name, v in zip(type(n)._fields, n.fields):
            if isinstance(v, Term):
                fields[name] = index[id(v)]
            elif isinstance(v, tuple) and v and isinstance(v[0], Term):
                fields[name] = [index[id(c)] for c in v]
            else:
                fields[name.rstrip("_")] = _plain(v)
        index[id(n)] = len(nodes)
        nodes.append({"kind": type(n).__name__, **fields})
    return {"nodes": nodes, "root": index[id(term)]}


def term_from_json(data: dict) -> Term:
    try:
        built: list[Term] = []
        for node in data["nodes"]:
            cls = _KINDS[node["kind"]]
            values = []
            for name in cls._fields:
                v = node[name.rstrip("_")]
                if name == "args":
                    v = tuple(built[i] for i in v)
                elif name == "body":
                    v = built[v]
                else:
                    v = _unplain(v)
                values.append(v)
            built.append(cls(*values))
        return built[data["root"]]
    except (KeyError, IndexError, TypeError) as e:
        raise TermError(f"malformed term JSON ({type(e).__name__}: {e})") from None
