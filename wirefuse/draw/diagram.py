"""String diagrams of terms and of their stream forms, as SVG.

The picture is built from the term's networkx view (`rewrite.ir.graph.to_networkx`): boxes are
operations, wires are the arrays between them.  A wire carrying axes (i, j) is drawn as parallel
strands, one per axis, each in that axis's colour (`svg.axis_colour`: fixed for i j d e b h, a
stable hash otherwise), and labelled with the axis names just right of the box that makes it.
The streamed axis is highlighted everywhere: a halo on its strands, bold underlined names, and a
thick border on the reductions over it.

A stream form `f = T[R1..Rk]`, `Ri = ⊕_n hi` (theorems.stream) is drawn as a second panel: the
inputs, a dashed frame for the loop over chunks of n holding the per-chunk map (the bodies hi)
and the state components with their combine (o += Σ_n ...), then the tail T reading the state.
With `levels`, the boxes are coloured by where the kernel keeps them (docs/theory.md §10):
inputs in HBM (black), the streamed chunk loaded to SMEM (orange), the score tile, the state and
the tail in registers (green), the result stored back to HBM.

>>> from wirefuse.rewrite.ir.sexpr import parse
>>> svg = draw(parse("(sum@d (mul q[i,d] k[j,d]))"))
>>> svg.startswith("<svg") and ">Σ<" in svg and 'class="wire axis-j"' in svg
True
"""
from __future__ import annotations

import networkx as nx

from wirefuse.draw import layout as ld
from wirefuse.rewrite.ir.graph import to_networkx
from wirefuse.rewrite.ir.ops import MONOIDS
from wirefuse.rewrite.ir.term import format_number, to_sexpr
from wirefuse.draw.svg import (LEVEL_NAMES, LEVELS, Path, Rect, Scene, Seg, Text, axis_colour,
                               path_d, text_width, to_svg)
from wirefuse.rewrite.ir.term import (Broadcast, Const, Elem, Input, Layout, Opaque, Pos, Reduce,
                                      Rename, Size, State, Term)

BOX_FS = 12.0      # box label font size
WIRE_FS = 11.0     # wire label font size
STRAND = 3.2       # distance between parallel strands of one wire
HEADER = 30.0      # room above a panel's boxes for its titles

_OP_TEXT = {"mul": "×", "div": "÷", "add": "+", "sub": "−", "neg": "−x", "square": "x²",
            "sqrt": "√", "rsqrt": "1/√", "abs": "|x|", "pow": "xʸ", "max": "max", "min": "min"}
_COMBINE = {"sum": "+=", "prod": "×=", "max": "←", "min": "←"}


# ---------------------------------------------------------------------------------------------
# box and wire labels


def _axis_seg(axis: str, stream: str | None) -> Seg:
    return Seg(axis, axis_colour(axis), bold=(axis == stream), underline=(axis == stream))


def box_segs(t: Term | None, kind: str, stream: str | None) -> list[Seg]:
    """The text inside a box, as coloured runs (axis names in their colours)."""
    if t is None:
        return [Seg("out", bold=True)]
    if isinstance(t, Input):
        return [Seg(t.name, bold=True)]
    if isinstance(t, State):
        return [Seg(t.name, "#0b5394", bold=True)]
    if isinstance(t, Const):
        return [Seg(str(t.value).lower() if t.dtype == "bool" else _short_num(t.value), "#555")]
    if isinstance(t, Size):
        return [Seg("|"), _axis_seg(t.axis, stream), Seg("|")]
    if isinstance(t, Pos):
        return [Seg("#"), _axis_seg(t.axis, stream)]
    if isinstance(t, Elem):
        return [Seg(_OP_TEXT.get(t.op, t.op))]
    if isinstance(t, Reduce):
        sym = MONOIDS[t.monoid].symbol
        return [Seg(sym + (" " if len(sym) > 1 else "")), _axis_seg(t.axis, stream)]
    if isinstance(t, Broadcast):
        return [Seg("copy "), _axis_seg(t.axis, stream)]
    if isinstance(t, Rename):
        return [_axis_seg(t.old, stream), Seg("→"), _axis_seg(t.new, stream)]
    if isinstance(t, Layout):
        return [Seg("layout")]
    if isinstance(t, Opaque):
        return [Seg(t.op + " ", "#b00020"), _axis_seg(t.axis, stream)]
    return [Seg(kind)]


def _short_num(v: float) -> str:
    s = format_number(v)
    if len(s) > 8:
        s = f"{v:.4g}"
    return s


def wire_segs(axes, stream: str | None) -> list[Seg]:
    """The label of a wire: its axis names, each in its colour (empty for a scalar)."""
    segs: list[Seg] = []
    for k, a in enumerate(axes):
        if k:
            segs.append(Seg(" "))  # its own run, so an underlined axis does not underline it
        segs.append(_axis_seg(a, stream))
    return segs


def _seg_width(segs, size) -> float:
    return text_width("".join(s.text for s in segs), size)


def _bundle_width(axes) -> float:
    return max(1, len(axes)) * STRAND + 1.0


# ---------------------------------------------------------------------------------------------
# graphs with geometry


def split_constants(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """One box per use of a constant or |axis| (hash-consing shares them; drawn shared, a `2.0`
    used at both ends of a diagram would pull a wire across all of it)."""
    for n in [n for n, a in g.nodes(data=True) if a["kind"] in ("const", "size")]:
        uses = list(g.out_edges(n, keys=True, data=True))
        if len(uses) < 2:
            continue
        attrs = dict(g.nodes[n])
        g.remove_node(n)
        for k, (_, v, _, d) in enumerate(uses):
            g.add_node((n, "use", k), **attrs)
            g.add_edge((n, "use", k), v, **d)
    return g


def _decorate(g: nx.MultiDiGraph, stream: str | None) -> nx.MultiDiGraph:
    """Adds the layout's geometry attributes (w, min_h, in_bw, out_bw, label_w) to every node."""
    for n, a in g.nodes(data=True):
        segs = a.get("segs") or box_segs(a.get("term"), a["kind"], stream)
        a["segs"] = segs
        a["w"] = max(30.0, _seg_width(segs, BOX_FS) + 16.0)
        a["in_bw"] = {}
        a["out_bw"] = _bundle_width(a["axes"])
        a["wlabel"] = wire_segs(a["axes"], stream) if g.out_degree(n) else []
        a["label_w"] = _seg_width(a["wlabel"], WIRE_FS)
        # room for the wire label above the outgoing bundle, inside the box's own band
        a["min_h"] = max(30.0, 2 * (a["out_bw"] / 2 + 3 + 0.8 * WIRE_FS + 2))
    for u, v, d in g.edges(data=True):
        g.nodes[v]["in_bw"][d.get("port", 0)] = _bundle_width(d["axes"])
    return g


def term_graph(term: Term, stream: str | None = None) -> nx.MultiDiGraph:
    """The networkx view of the term, with the drawing's attributes."""
    return _decorate(split_constants(to_networkx(term)), stream)


def stream_graph(sf, levels: bool = False) -> nx.MultiDiGraph:
    """One graph for a stream form: inputs (phase 0), per-chunk map (1), state and combine (2,
    one column), tail and output (3).  Node attribute `level` is HBM / SMEM / REG."""
    axis = sf.axis
    g = nx.MultiDiGraph()
    key: dict = {}

    def add(k, t, kind, axes, phase, level, segs=None, **extra):
        g.add_node(k, term=t, kind=kind, axes=tuple(axes), phase=phase, level=level, segs=segs,
                   label=kind, **extra)
        return k

    loads: dict = {}
    for c in sf.components:
        for t in c.body.walk():
            if id(t) in key:
                continue
            if isinstance(t, Input):
                k = add(("in", t.name), t, "input", t.axes, 0, "HBM")
                if levels:  # the kernel loads a tile of every input before using it
                    lvl = "SMEM" if axis in t.axes else "REG"
                    what = "chunk" if axis in t.axes else "tile"
                    ld_k = add(("load", t.name), None, "load", t.axes, 1, lvl,
                               segs=[Seg(f"{what}→{LEVEL_NAMES[lvl] if lvl == 'SMEM' else 'reg'}",
                                         LEVELS[lvl], bold=True)])
                    g.add_edge(k, ld_k, axes=t.axes, port=0)
                    loads[k] = ld_k
                    k = ld_k
                key[id(t)] = k
                continue
            k = add(("b", id(t)), t, type(t).__name__.lower(), t.axes, 1, "REG")
            key[id(t)] = k
            for port, ch in enumerate(t.children):
                g.add_edge(key[id(ch)], k, axes=ch.axes, port=port)
    comb: dict = {}
    for c in sf.components:
        st = sf.state_ref(c)
        sym = MONOIDS[c.monoid].symbol
        segs = [Seg(c.name, "#0b5394", bold=True),
                Seg(f" {_COMBINE[c.monoid]} {sym}" + (" " if len(sym) > 1 else "")),
                _axis_seg(axis, axis)]
        k = add(("c", c.name), st, "combine", st.axes, 2, "REG", segs=segs, align=True)
        comb[st] = k
        g.add_edge(key[id(c.body)], k, axes=c.body.axes, port=0)
    tkey: dict = {}
    for t in sf.tail.walk():
        if isinstance(t, State) and t in comb:
            tkey[id(t)] = comb[t]
            continue
        k = add(("t", id(t)), t, type(t).__name__.lower(), t.axes, 3, "REG")
        tkey[id(t)] = k
        for port, ch in enumerate(t.children):
            g.add_edge(tkey[id(ch)], k, axes=ch.axes, port=port)
    out = add(("out",), None, "output", sf.tail.axes, 3, "HBM")
    g.add_edge(tkey[id(sf.tail)], out, axes=sf.tail.axes, port=0)
    return _decorate(split_constants(g), axis)


# ---------------------------------------------------------------------------------------------
# rendering one panel


_KIND_FILL = {"input": "#eef2f7", "state": "#e8f0fb", "const": "#f7f7f7", "size": "#f7f7f7",
              "output": "#eef2f7", "combine": "#e8f0fb", "load": "#ffffff", "opaque": "#fdecee"}
_LEVEL_FILL = {"HBM": "#ececec", "SMEM": "#fff0db", "REG": "#e6f6eb"}


def render(g: nx.MultiDiGraph, stream: str | None, levels: bool = False,
           top: float = HEADER) -> tuple[Scene, ld.Layout]:
    """Lay the decorated graph out and draw boxes, strands and labels (shifted down by `top`)."""
    lay = ld.layout(g)
    sc = Scene(lay.width, lay.height + top)
    dy = top
    for w in lay.wires:
        axes = w.data["axes"]
        pts = [(x, y + dy) for x, y in w.points]
        strands = list(axes) or [None]
        n = len(strands)
        for k, a in enumerate(strands):
            off = (k - (n - 1) / 2) * STRAND
            d = path_d([(x, y + off) for x, y in pts])
            if a is None:
                sc.add(Path(d, "#888888", 1.1, "wire scalar", dash="3 2"))
                continue
            if a == stream:
                sc.add(Path(d, axis_colour(a), 6.5, "halo", opacity=0.22))
            sc.add(Path(d, axis_colour(a), 1.9 if a == stream else 1.5, f"wire axis-{a}"))
    for n, b in lay.boxes.items():
        if b.dummy:
            continue
        a = g.nodes[n]
        t, kind = a.get("term"), a["kind"]
        fill, stroke, sw, dash = _KIND_FILL.get(kind, "#ffffff"), "#333333", 1.2, None
        if isinstance(t, Reduce) and t.axis == stream:
            stroke, sw = axis_colour(stream), 2.6
        if isinstance(t, Opaque):
            stroke, dash = "#b00020", "4 2"
        if kind == "combine":
            stroke, sw = axis_colour(stream) if stream else "#333", 2.0
        if levels and a.get("level"):
            lvl = a["level"]
            stroke, fill, sw = LEVELS[lvl], _LEVEL_FILL[lvl], 2.2
        rx = 10.0 if kind in ("input", "output", "const", "size") else 3.0
        title = to_sexpr(t) if isinstance(t, Term) else kind
        if len(title) > 400:
            title = title[:400] + " …"
        sc.add(Rect(b.x, b.y + dy, b.w, b.h, "box", fill, stroke, sw, rx, dash, title))
        sc.add(Text(b.x + b.w / 2, b.y + dy + b.h / 2 + 0.35 * BOX_FS, a["segs"], BOX_FS,
                    "middle", "blabel"))
        if a["wlabel"]:
            bw = a["out_bw"]
            sc.add(Text(lay.label_x[b.layer], b.cy + dy - bw / 2 - 3, a["wlabel"], WIRE_FS,
                        "start", "wlabel", halo=True))
    return sc, lay


def _legend(sc: Scene, axes: list[str], stream: str | None, levels: bool, y: float) -> float:
    """Axis colour key (and the memory levels), one row at `y`; returns the new bottom."""
    x = ld.MARGIN
    sc.add(Text(x, y + 10, [Seg("axes:", "#555")], WIRE_FS, "start", "legend"))
    x += text_width("axes:", WIRE_FS) + 10
    for a in axes:
        col = axis_colour(a)
        sc.add(Path(path_d([(x, y + 6), (x + 18, y + 6)], False), col,
                    1.9 if a == stream else 1.5, f"wire axis-{a}"))
        x += 22
        label = [_axis_seg(a, stream)] + ([Seg(" (streamed)", "#555")] if a == stream else [])
        t = sc.add(Text(x, y + 10, label, WIRE_FS, "start", "legend"))
        x += t.width + 14
    if levels:
        x += 10
        for lvl in ("HBM", "SMEM", "REG"):
            sc.add(Rect(x, y, 14, 12, "key", _LEVEL_FILL[lvl], LEVELS[lvl], 2.2, 2))
            x += 18
            t = sc.add(Text(x, y + 10, [Seg(LEVEL_NAMES[lvl], LEVELS[lvl], bold=True)], WIRE_FS,
                            "start", "legend"))
            x += t.width + 14
    sc.width = max(sc.width, x + ld.MARGIN)
    return y + 22


def _axes_in(g) -> list[str]:
    seen: list[str] = []
    for _, a in g.nodes(data=True):
        t = a.get("term")
        for ax in list(a["axes"]) + ([t.axis] if isinstance(t, (Reduce, Opaque)) else []):
            if ax not in seen:
                seen.append(ax)
    return seen


def term_scene(term: Term, stream: str | None = None, title: str | None = None) -> Scene:
    """The term as a string diagram, with a title row and an axis legend."""
    g = term_graph(term, stream)
    sc, _ = render(g, stream)
    sc.add(Text(ld.MARGIN, 18, [Seg(title or "string diagram", "#222", bold=True)], BOX_FS,
                "start", "title"))
    sc.height = _legend(sc, _axes_in(g), stream, False, sc.height)
    sc.width = max(sc.width, text_width(title or "string diagram", BOX_FS) + 2 * ld.MARGIN)
    return sc


def stream_scene(sf, levels: bool = False) -> Scene:
    """The stream form: inputs | loop frame (per-chunk map, state + combine) | tail."""
    g = stream_graph(sf, levels)
    sc, lay = render(g, sf.axis, levels, top=HEADER + 20)
    real = [b for b in lay.boxes.values() if not b.dummy]
    layers = {ph: [b.layer for b in real if g.nodes[b.node]["phase"] == ph] for ph in range(4)}
    dy = HEADER + 20
    y0 = min(b.y for b in real) + dy - 10
    y1 = max(b.y + b.h for b in real) + dy + 8
    first = min(layers[1] + layers[2])
    last = max(layers[2])
    fx0, fx1 = lay.col_x[first] - 10, lay.col_right(last) + 2  # labels start at +6
    sc.add(Rect(fx0, y0, fx1 - fx0, y1 - y0, "frame", "none", axis_colour(sf.axis), 1.4, 6,
                "6 4"))
    ax = sf.axis
    titles = [(ld.MARGIN, [Seg("inputs", "#555", bold=True)]),
              (fx0, [Seg("loop over chunks of ", "#555", bold=True), _axis_seg(ax, ax),
                     Seg(": per-chunk map, state ⊕ combine", "#555", bold=True)]),
              (lay.col_x[min(layers[3])], [Seg("tail", "#555", bold=True)])]
    x_free = 0.0
    for x, segs in titles:  # one row; push a title right if the previous one is still running
        x = max(x, x_free)
        t = sc.add(Text(x, HEADER + 6, segs, WIRE_FS, "start", "title"))
        x_free = x + t.width + 12
    sc.add(Text(ld.MARGIN, 18, [Seg("stream form along ", "#222", bold=True), _axis_seg(ax, ax)],
                BOX_FS, "start", "title"))
    sc.width = max(sc.width, x_free + ld.MARGIN, fx1 + ld.MARGIN)
    sc.height = max(sc.height, y1 + 6)
    sc.height = _legend(sc, _axes_in(g), ax, levels, sc.height + 4)
    if levels:
        sc.height = _level_rows(sc, sf, sc.height + 2)
    return sc


def residency(sf) -> dict[str, list[str]]:
    """Which arrays the streamed kernel keeps at which level (docs/theory.md §10):
    whole inputs and the result in HBM, a chunk of each streamed input in SMEM, and in
    registers the tiles of the other inputs, the per-chunk intermediates and the state.

    >>> from wirefuse.rewrite.ir.sexpr import parse
    >>> from wirefuse.theorems.stream import decompose
    >>> r = residency(decompose(parse("(div (sum@j (mul s[i,j] v[j,e])) (sum@j s[i,j]))"), "j"))
    >>> r["HBM"], r["SMEM"]
    (['s[i,j]', 'v[j,e]', 'out[i,e]'], ['s[i,j∈chunk]', 'v[j∈chunk,e]'])
    >>> r["REG"]
    ['chunk tile over (i j∈chunk e)', 'state o[i,e]', 'state z[i]']
    """
    ax = sf.axis
    inputs: list[Input] = []
    for c in sf.components:
        for t in c.body.walk():
            if isinstance(t, Input) and t not in inputs:
                inputs.append(t)

    def shape(t, chunk):
        return f"{t.name}[{','.join(a + '∈chunk' if chunk and a == ax else a for a in t.axes)}]"

    hbm = [shape(t, False) for t in inputs] + [f"out[{','.join(sf.tail.axes)}]"]
    smem = [shape(t, True) for t in inputs if ax in t.axes]
    reg = [shape(t, False) + " tile" for t in inputs if ax not in t.axes]
    tile_axes: list[str] = []
    for c in sf.components:
        for t in c.body.walk():
            if not isinstance(t, (Input, Const, Size)):
                tile_axes += [a for a in t.axes if a not in tile_axes]
    if tile_axes:
        reg.append("chunk tile over (" + " ".join(a + "∈chunk" if a == ax else a
                                                   for a in tile_axes) + ")")
    reg += [f"state {c.name}[{','.join(sf.state_ref(c).axes)}]" for c in sf.components]
    return {"HBM": hbm, "SMEM": smem, "REG": reg}


def _level_rows(sc: Scene, sf, y: float) -> float:
    """One text row per memory level: what lives there."""
    for lvl, items in residency(sf).items():
        name = LEVEL_NAMES[lvl]
        t = sc.add(Text(ld.MARGIN, y + 11, [Seg(f"{name:<10}", LEVELS[lvl], bold=True),
                                            Seg("  ".join(items) or "–", "#333")],
                        WIRE_FS, "start", "legend"))
        sc.width = max(sc.width, ld.MARGIN + t.width + ld.MARGIN)
        y += 16
    return y + 4


def stack(scenes: list[Scene], gap: float = 10.0) -> Scene:
    """Panels one above another, separated by a thin rule."""
    out = Scene(0, 0)
    y = 0.0
    for k, s in enumerate(scenes):
        if k:
            out.add(Path(path_d([(0, y + gap / 2), (10 ** 4, y + gap / 2)], False), "#dddddd",
                         1.0, "rule"))
            y += gap
        for it in s.shifted(0, y).items:
            out.add(it)
        y += s.height
        out.width = max(out.width, s.width)
    out.height = y
    for it in out.items:  # the rules span the final width
        if isinstance(it, Path) and it.cls == "rule":
            it.d = path_d([(0, float(it.d.split()[1].split(",")[1])),
                           (out.width, float(it.d.split()[1].split(",")[1]))], False)
    return out


def draw(term: Term, stream: str | None = None, stream_form=None, levels: bool = False,
         title: str | None = None) -> str:
    """SVG of `term` as a string diagram; with `stream_form`, a second panel draws it.

    `stream` highlights that axis (defaults to the stream form's axis)."""
    if stream_form is not None and stream is None:
        stream = stream_form.axis
    panels = [term_scene(term, stream, title)]
    if stream_form is not None:
        panels.append(stream_scene(stream_form, levels))
    return to_svg(stack(panels), title or "wirefuse diagram")
