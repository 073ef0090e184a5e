"""A layered (Sugiyama-style) layout for string diagrams, left to right.

Input: a networkx MultiDiGraph whose nodes carry the box geometry the caller wants

    w        box width              min_h    least box height
    in_bw    {port: bundle width}   out_bw   width of the outgoing bundle (parallel strands)
    label_w  width of the label written on the outgoing wire, just right of the box's column
    phase    0, 1, 2, ... (optional): every node of phase p sits in a column right of every
             node of a lower phase, and the nodes of an `align` phase all share one column

and whose edges carry `port` (the argument position at the target).  Output: a `Layout` with the
boxes' rectangles, port positions, and one centre-line polyline per edge.

Steps: (1) layers by longest path from the sources, sources then pulled right next to their first
use; (2) a chain of dummy nodes for each value that spans several columns, shared by all its far
uses; (3) order within a column by barycentre sweeps, keeping the order with fewest crossings;
(4) heights from the ports, then y by an order-preserving least-squares placement (blocks of
touching boxes move together), swept both ways; (5) columns: box width, then a label zone wide
enough for the widest label, then a curve zone.  Boxes in a column are separated vertically and
a label stays inside its box's horizontal band, so neither boxes nor labels can overlap.

>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> for n in "abc":
...     g.add_node(n, w=30, min_h=30, in_bw={}, out_bw=3, label_w=10)
>>> g.add_edge("a", "c", port=0); g.add_edge("b", "c", port=1)
0
0
>>> lay = layout(g)
>>> [lay.boxes[n].layer for n in "abc"]
[0, 0, 1]
>>> lay.boxes["a"].y + lay.boxes["a"].h <= lay.boxes["b"].y   # stacked, not overlapping
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

V_SEP = 14.0       # vertical gap between boxes of a column
PORT_GAP = 7.0     # gap between the bundles entering one box
LABEL_PAD = 6.0    # space either side of a wire label
CURVE_MIN = 44.0   # least width of the zone where wires bend between columns
MARGIN = 16.0


@dataclass
class Box:
    node: object
    layer: int
    x: float
    y: float
    w: float
    h: float
    ports: dict[int, float] = field(default_factory=dict)  # port -> absolute y of its centre
    dummy: bool = False

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


@dataclass
class Wire:
    src: object
    dst: object
    port: int
    data: dict
    points: list[tuple[float, float]]


@dataclass
class Layout:
    boxes: dict
    wires: list[Wire]
    col_x: list[float]       # left edge of each column
    col_w: list[float]       # box width of each column
    label_x: list[float]     # where labels of values made in each column start
    width: float
    height: float

    def col_right(self, layer: int) -> float:
        return self.col_x[layer] + self.col_w[layer]


# ---------------------------------------------------------------------------------------------
# (1) layers


def assign_layers(g: nx.MultiDiGraph) -> dict:
    phase = {n: g.nodes[n].get("phase", 0) for n in g}
    topo = list(nx.topological_sort(g))
    index = {n: i for i, n in enumerate(topo)}
    for u, v in g.edges():
        if phase[u] > phase[v]:
            raise ValueError(f"edge {u}->{v} goes from phase {phase[u]} back to {phase[v]}")
    order = sorted(g, key=lambda n: (phase[n], index[n]))  # still topological
    align = {g.nodes[n].get("phase") for n in g if g.nodes[n].get("align")}
    layer: dict = {}
    floor, cur_phase, top = 0, None, -1
    for n in order:
        if phase[n] != cur_phase:
            if cur_phase is not None:
                _align(layer, phase, cur_phase, align)
                top = max(layer.values())
                floor = top + 1
            cur_phase = phase[n]
        preds = [layer[p] + 1 for p in g.predecessors(n)]
        layer[n] = max(preds + [floor])
    _align(layer, phase, cur_phase, align)
    # Pull sources right, next to their first use (keeps input wires short), within their phase.
    floors: dict[int, int] = {}
    for n in g:
        floors[phase[n]] = min(floors.get(phase[n], 10 ** 9), layer[n])
    for n in reversed(topo):
        if g.in_degree(n) == 0 and g.out_degree(n) > 0 and not g.nodes[n].get("align"):
            first = min(layer[s] for s in g.successors(n)) - 1
            layer[n] = max(layer[n], first, floors[phase[n]])
    return layer


def _align(layer, phase, p, align):
    if p in align:
        nodes = [n for n in layer if phase[n] == p]
        top = max(layer[n] for n in nodes)
        for n in nodes:
            layer[n] = top


# ---------------------------------------------------------------------------------------------
# (2) dummies: one chain per value, shared by its far uses


def with_dummies(g: nx.MultiDiGraph, layer: dict):
    """Columns (lists of nodes) and the short edges (u, v, port, data) between adjacent columns."""
    nlayers = max(layer.values()) + 1
    cols: list[list] = [[] for _ in range(nlayers)]
    for n in g:
        cols[layer[n]].append(n)
    segs: list[tuple] = []  # (u, v, port, data); v is a real node or a dummy
    chains: dict = {}
    for u in list(g):
        chain = {layer[u]: u}
        far = sorted({layer[v] for v in g.successors(u)})
        if far:
            for lv in range(layer[u] + 1, far[-1]):
                d = ("dummy", u, lv)
                chain[lv] = d
                cols[lv].append(d)
                segs.append((chain[lv - 1], d, 0, None))
        chains[u] = chain
        for _, v, data in g.out_edges(u, data=True):
            segs.append((chain[layer[v] - 1], v, data.get("port", 0), data))
    return cols, segs, chains


# ---------------------------------------------------------------------------------------------
# (3) order within columns


def _crossings(cols, segs, pos, lay, nports):
    total = 0
    for L in range(len(cols) - 1):
        es = [(pos[u], pos[v] + (p + 1) / (nports.get(v, 1) + 1)) for u, v, p, _ in segs
              if lay(u) == L]
        es.sort()
        for a in range(len(es)):
            for b in range(a + 1, len(es)):
                if es[a][0] < es[b][0] and es[a][1] > es[b][1]:
                    total += 1
    return total


def order_columns(cols, segs, lay, nports, sweeps: int = 8):
    preds: dict = {}
    succs: dict = {}
    for u, v, p, _ in segs:
        frac = (p + 1) / (nports.get(v, 1) + 1)
        preds.setdefault(v, []).append((u, -frac))
        succs.setdefault(u, []).append((v, frac))
    pos = {n: float(i) for col in cols for i, n in enumerate(col)}
    best = ([list(c) for c in cols], _crossings(cols, segs, pos, lay, nports))

    def sweep(rng, nbrs):
        for L in rng:
            col = cols[L]
            key = {}
            for n in col:
                ns = nbrs.get(n)
                key[n] = sum(pos[m] + f for m, f in ns) / len(ns) if ns else pos[n]
            col.sort(key=lambda n: key[n])
            for i, n in enumerate(col):
                pos[n] = float(i)

    for _ in range(sweeps):
        sweep(range(1, len(cols)), preds)
        sweep(range(len(cols) - 2, -1, -1), succs)
        c = _crossings(cols, segs, pos, lay, nports)
        if c < best[1]:
            best = ([list(col) for col in cols], c)
        if c == 0:
            break
    return best[0]


# ---------------------------------------------------------------------------------------------
# (4) vertical placement


def _place_column(col, desired, height):
    """y tops for the column, in order, each at least V_SEP below the previous box, as close as
    possible (least squares) to `desired` tops: blocks of touching boxes share one shift."""
    blocks: list[list] = []  # [nodes, offsets, shift]
    for n in col:
        blocks.append([[n], [0.0], desired[n]])
        while len(blocks) > 1:
            prev, last = blocks[-2], blocks[-1]
            prev_bottom = prev[2] + prev[1][-1] + height[prev[0][-1]] + V_SEP
            if last[2] >= prev_bottom:
                break
            off0 = prev[1][-1] + height[prev[0][-1]] + V_SEP
            nodes = prev[0] + last[0]
            offs = prev[1] + [off0 + o for o in last[1]]
            shift = sum(desired[m] - o for m, o in zip(nodes, offs)) / len(nodes)
            blocks[-2:] = [[nodes, offs, shift]]
    out = {}
    for nodes, offs, shift in blocks:
        for m, o in zip(nodes, offs):
            out[m] = shift + o
    return out


def layout(g: nx.MultiDiGraph) -> Layout:
    if g.number_of_nodes() == 0:
        return Layout({}, [], [], [], [], 2 * MARGIN, 2 * MARGIN)
    layer = assign_layers(g)
    cols, segs, chains = with_dummies(g, layer)

    def lay(n):
        return n[2] if isinstance(n, tuple) and len(n) == 3 and n[0] == "dummy" else layer[n]

    def is_dummy(n):
        return isinstance(n, tuple) and len(n) == 3 and n[0] == "dummy"

    nports = {n: len(g.nodes[n].get("in_bw", {})) for n in g}
    cols = order_columns(cols, segs, lay, nports)

    # heights and port offsets (relative to the box top)
    height, port_off, w = {}, {}, {}
    for col in cols:
        for n in col:
            if is_dummy(n):
                bw = g.nodes[n[1]].get("out_bw", 2)
                height[n], port_off[n], w[n] = bw + 4, {0: (bw + 4) / 2}, 0.0
                continue
            a = g.nodes[n]
            in_bw = a.get("in_bw", {})
            need = sum(in_bw.values()) + PORT_GAP * (len(in_bw) + 1)
            h = max(a.get("min_h", 30.0), need)
            offs, yy = {}, (h - sum(in_bw.values()) - PORT_GAP * (len(in_bw) - 1)) / 2
            for p in sorted(in_bw):
                offs[p] = yy + in_bw[p] / 2
                yy += in_bw[p] + PORT_GAP
            height[n], port_off[n], w[n] = h, offs, a.get("w", 40.0)

    # initial stacking, then sweeps towards neighbours
    top: dict = {}
    for col in cols:
        y = 0.0
        for n in col:
            top[n] = y
            y += height[n] + V_SEP
    into: dict = {}
    outof: dict = {}
    for u, v, p, _ in segs:
        into.setdefault(v, []).append((u, p))
        outof.setdefault(u, []).append((v, p))

    def out_y(n):
        return top[n] + height[n] / 2

    for _ in range(6):
        for rng, nbrs, fwd in ((range(1, len(cols)), into, True),
                               (range(len(cols) - 2, -1, -1), outof, False)):
            for L in rng:
                desired = {}
                for n in cols[L]:
                    ns = nbrs.get(n)
                    if not ns:
                        desired[n] = top[n]
                    elif fwd:  # align my ports with the wires coming in
                        desired[n] = sum(out_y(u) - port_off[n].get(p, height[n] / 2)
                                         for u, p in ns) / len(ns)
                    else:  # align my output with the ports it feeds
                        desired[n] = sum(top[v] + port_off[v].get(p, height[v] / 2)
                                         for v, p in ns) / len(ns) - height[n] / 2
                top.update(_place_column(cols[L], desired, height))

    # columns: x positions
    ymin = min(top.values())
    nl = len(cols)
    col_w = [max([w[n] for n in col] + [8.0]) for col in cols]
    label_zone = [max([g.nodes[n].get("label_w", 0.0) for n in col if not is_dummy(n)] + [0.0])
                  for col in cols]
    col_x, label_x = [], []
    x = MARGIN
    for L in range(nl):
        col_x.append(x)
        lx = x + col_w[L] + LABEL_PAD
        label_x.append(lx)
        # the curve zone widens with the steepest drop it must carry
        drops = [abs(out_y(u) - (top[v] + port_off[v].get(p, 0))) for u, v, p, _ in segs
                 if lay(u) == L]
        curve = max(CURVE_MIN, min(120.0, 0.35 * max(drops + [0.0])))
        x = lx + label_zone[L] + (LABEL_PAD if label_zone[L] else 0) + curve
    width = col_x[-1] + col_w[-1] + label_zone[-1] + 2 * LABEL_PAD + MARGIN

    boxes: dict = {}
    for L, col in enumerate(cols):
        for n in col:
            bx = col_x[L] + (col_w[L] - w[n]) / 2
            b = Box(n, L, bx, top[n] - ymin + MARGIN, w[n], height[n], dummy=is_dummy(n))
            b.ports = {p: b.y + o for p, o in port_off[n].items()}
            boxes[n] = b
    height_total = max(b.y + b.h for b in boxes.values()) + MARGIN

    # wires: follow each real edge through its chain of dummies
    wires = []
    for u, v, data in g.edges(data=True):
        p = data.get("port", 0)
        Lu, Lv = layer[u], layer[v]
        bu, bv = boxes[u], boxes[v]
        pts = [(bu.x + bu.w, bu.cy)]
        y = bu.cy
        for L in range(Lu, Lv):
            if L > Lu:
                d = boxes[chains[u][L]]
                y = d.cy
                pts += [(col_x[L], y)]
            straight_to = label_x[L] + label_zone[L] + (LABEL_PAD if label_zone[L] else 0)
            pts += [(col_x[L] + col_w[L], y), (straight_to, y)]
        py = bv.ports.get(p, bv.cy)
        pts += [(col_x[Lv], py), (bv.x, py)]
        wires.append(Wire(u, v, p, data, _dedupe(pts)))
    return Layout(boxes, wires, col_x, col_w, label_x, width, height_total)


def _dedupe(pts):
    out = [pts[0]]
    for p in pts[1:]:
        if abs(p[0] - out[-1][0]) > 1e-6 or abs(p[1] - out[-1][1]) > 1e-6:
            out.append(p)
    return out
