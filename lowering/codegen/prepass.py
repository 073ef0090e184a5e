"""Pre-pass kernels: the column statistics (lowering.loopnest.colstats) of a loop nest, per (G, j).

Each pre-pass kernel `_colstat_kernel_<n>` has grid (⌈|j|/BLOCK_N⌉, |G|): one program per key
block and group.  It loads the key side of each score contraction once, then folds the row axis:

    for each block of rows i:
        S_c = Σ_d A_c[i, d] · B_c[d, j]         → tl.dot, fp32 accumulation (as the stream kernel)
        h   = the statistic's body on (i, j)     → elementwise code; earlier kernels' are inputs
        acc ⊕= ⊕_i h                              (rows past |i| give the monoid's identity)
    store acc (fp32) into the statistic's buffer over (G, j)

Statistics are grouped by nesting level, one kernel per level, except that a sum
b = Σ_i e^(u − A)·w over a max A = max_i u folds *online* in A's kernel, with a running max
(`online_partner`): column softmax's max_i s and Σ_i e^(s − max_i s) take one pass over Q·Kᵀ,
and nothing overflows (every exponent is ≤ 0).  Any other nesting takes one more pass per level.

`_prepass(...)` allocates the buffers, runs the kernels in order and returns the tensor map with
each statistic added under its leaf name, so the stream kernel takes them like any other input.
Split-KV does not change them: they are computed once, before the key range is split.
"""
from __future__ import annotations

from wirefuse.rewrite.ir.term import Elem, Input
from wirefuse.lowering.loopnest.colstats import ColumnStat
from wirefuse.lowering.loopnest.nest import LoopNest, _factors, _find_contractions
from wirefuse.lowering.codegen.emit import (Emitter, _block_name, _constexprs, _function, _ident,
                                            _indent)


def _operand(em: Emitter, factors) -> str:
    """The product of `factors` on the emitter's tile; a lone input keeps its own dtype (for
    tl.dot, as the stream kernel does)."""
    v = em.emit(factors[0] if len(factors) == 1 else Elem("mul", tuple(factors)))
    if len(factors) == 1 and isinstance(factors[0], Input):
        em.lines[-1] = em.lines[-1].replace(".to(tl.float32)", "")
    return v


def _reads(nest: LoopNest, stats) -> list[Input]:
    """The inputs a level's bodies read (statistics of lower levels included)."""
    seen: dict[str, Input] = {}
    for s in stats:
        for t in s.body.walk():
            if isinstance(t, Input):
                seen.setdefault(t.name, t)
    return list(seen.values())


def online_partner(b: ColumnStat, by_leaf: dict) -> ColumnStat | None:
    """The max statistic A = max_i u such that b = Σ_i e^(u − A)·w, with e^(u − A) one direct
    factor of b's body and A nowhere else in it; None if there is none.

    Then b folds online beside A, as the stream kernel folds softmax: with M the running max of
    u, b_acc ← b_acc·e^(M_old − M_new) + Σ_i e^(u − M_new)·w, and at the end M = A exactly (the
    same max of the same values), so b_acc = b.  If A = −∞ every u_i is −∞ and each term is
    e^(−∞ + ∞) = NaN, so b is NaN; the kernel says so explicitly (the running form gives 0)."""
    if b.monoid != "sum":
        return None
    found = []
    fs = _factors(b.body)
    for f in fs:
        if isinstance(f, Elem) and f.op == "exp" and isinstance(f.args[0], Elem) \
                and f.args[0].op == "sub":
            u, m = f.args[0].args
            a = by_leaf.get(m)
            if a is not None and a.monoid == "max" and a.body is u:
                found.append((f, a))
    if len(found) != 1:
        return None
    f, a = found[0]
    if any(x is a.leaf for g in fs if g is not f for x in g.walk()):
        return None
    return a


def plan(nest: LoopNest) -> tuple[list[list[ColumnStat]], dict[str, ColumnStat]]:
    """The pre-pass kernels (lists of statistics, in launch order) and the online partners
    {b: A}: b moves into A's kernel when everything else it reads is computed before A."""
    by_leaf = {s.leaf: s for s in nest.stats}
    level = {s.name: s.level for s in nest.stats}
    partner = {}
    for b in nest.stats:
        a = online_partner(b, by_leaf)
        if a is None:
            continue
        others = [by_leaf[x] for x in b.body.walk() if x in by_leaf and x is not a.leaf]
        if all(level[o.name] < level[a.name] for o in others):
            partner[b.name] = a
            level[b.name] = level[a.name]
    kernels = [[s for s in nest.stats if level[s.name] == lv] for lv in sorted(set(level.values()))]
    return kernels, partner


def level_kernel(nest: LoopNest, level: int, stats, partner: dict | None = None) -> str:
    """`_colstat_kernel_<level>`: the statistics `stats` for one key block (`partner`: online
    pairs, see online_partner)."""
    j, r = nest.stream, nest.row
    partner = {b: a for b, a in (partner or {}).items() if b in {s.name for s in stats}}
    shifted = {a.name: a for a in partner.values()}
    mine = {s.name for s in stats}
    params = []
    for inp in [x for x in _reads(nest, stats) if x.name not in mine] + [s.leaf for s in stats]:
        params += [f"{inp.name}_ptr"] + [f"{inp.name}_s_{a}" for a in inp.axes]
    params += [f"sz_{a}" for a in nest.axes] + _constexprs(nest)
    L = ["pid_n = tl.program_id(0)", "pid_g = tl.program_id(1)", "rest = pid_g"]
    for a in reversed(nest.group):  # the last group axis varies fastest (as the stream kernel)
        L += [f"gi_{a} = (rest % sz_{a}).to(tl.int64)", f"rest = rest // sz_{a}"]
    L += [f"ix_{j} = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)", f"ok_{j} = ix_{j} < sz_{j}"]
    for a in nest.axes:
        if a not in nest.group and a not in (r, j):
            L += [f"ix_{a} = tl.arange(0, {_block_name(nest, a)})",
                  f"ok_{a} = ix_{a} < sz_{a}"]
    contractions = _find_contractions([s.body for s in stats], j, need=False)
    L.append("# key-side operands of the score contractions, loaded once")
    col_ops = []
    for k, c in enumerate(contractions):
        ce = Emitter(nest, c.axis, j, f"b{k}_")
        col_ops.append(_operand(ce, c.colside))
        L += ce.lines
    for s in stats:
        L.append(f"acc_{s.name} = tl.full([BLOCK_N], {_ident(s.monoid)}, tl.float32)")
    L.append(f"for start in range(0, sz_{r}, BLOCK_M):  # fold the rows, block by block")
    B = [f"ix_{r} = start + tl.arange(0, BLOCK_M)", f"ok_{r} = ix_{r} < sz_{r}"]
    leaves = {}
    for k, c in enumerate(contractions):
        re = Emitter(nest, r, c.axis, f"a{k}_")
        v = _operand(re, c.rowside)
        B += re.lines
        B.append(f"s{k} = tl.dot({v}.to({col_ops[k]}.dtype), {col_ops[k]}, "
                 f"input_precision=DOT_PRECISION)  # Σ_{c.axis}, fp32 accumulation")
        leaves[c.term] = f"s{k}"
    fe = Emitter(nest, r, j, "f", leaves)
    for a in shifted.values():  # running max first: the online sums use it in this block
        v = fe.emit(a.body)
        B += fe.lines
        fe.lines = []
        B.append(f"w_{a.name} = tl.where(ok_{r}[:, None], {v}, float(\"-inf\"))")
        B.append(f"mx_{a.name} = tl.maximum(acc_{a.name}, tl.max(w_{a.name}, 0))")
        B.append(f"ms_{a.name} = tl.where(mx_{a.name} == float(\"-inf\"), 0.0, mx_{a.name})"
                 "  # no −∞ − (−∞)")
        fe.done[a.leaf] = f"ms_{a.name}[None, :]"  # e^(u − A) becomes e^(u − M_new)
    for s in stats:
        if s.name in shifted:
            continue
        v = fe.emit(s.body)
        B += fe.lines
        fe.lines = []
        if s.body.dtype == "bool":
            v = f"{v}.to(tl.float32)"
        # tl.where broadcasts the body to the (i, j) tile; rows past |i| give the identity
        B.append(f"w_{s.name} = tl.where(ok_{r}[:, None], {v}, {_ident(s.monoid)})")
        if s.name in partner:
            a = partner[s.name].name
            B.append(f"acc_{s.name} = acc_{s.name} * tl.exp(acc_{a} - ms_{a}) + "
                     f"tl.sum(w_{s.name}, 0)  # rescaled to the new running max")
        elif s.monoid == "sum":
            B.append(f"acc_{s.name} = acc_{s.name} + tl.sum(w_{s.name}, 0)")
        else:
            fn = "tl.maximum" if s.monoid == "max" else "tl.minimum"
            B.append(f"acc_{s.name} = {fn}(acc_{s.name}, tl.{s.monoid}(w_{s.name}, 0))")
    B += [f"acc_{a} = mx_{a}" for a in shifted]
    L += _indent(B)
    for b, a in partner.items():  # A = −∞: every term e^(u − A) is NaN (see online_partner)
        L.append(f"acc_{b} = tl.where((acc_{a.name} == float(\"-inf\")) & (sz_{r} > 0), "
                 f"float(\"nan\"), acc_{b})")
    for s in stats:
        offs = [f"gi_{a} * {s.name}_s_{a}" if a != j else f"ix_{j} * {s.name}_s_{j}"
                for a in s.leaf.axes]
        L.append(f"tl.store({s.name}_ptr + {' + '.join(offs)}, acc_{s.name}, mask=ok_{j})")
    return _function(f"_colstat_kernel_{level}", params, L)


def prepass_launcher(nest: LoopNest) -> str:
    """`_prepass(t, sz, cfg, n_g, blocks, prec, dev)`: t with the statistics' buffers added."""
    j = nest.stream
    L = ["def _prepass(t, sz, cfg, n_g, blocks, prec, dev):",
         "    \"\"\"Column statistics (reductions over the query axis), level by level, into fp32 "
         "buffers over (groups, keys) that the stream kernel reads as inputs.\"\"\"",
         "    t = dict(t)"]
    for s in nest.stats:
        shape = ", ".join(f"sz[{a!r}]" for a in s.leaf.axes)
        L.append(f"    t[{s.name!r}] = torch.empty(({shape},), device=dev, dtype=torch.float32)")
    L += [f"    if sz[{j!r}] == 0:", "        return t",
          f"    grid = (_cdiv(sz[{j!r}], cfg['block_n']), n_g)"]
    sizes = ", ".join(f"sz[{a!r}]" for a in nest.axes)
    for lv, stats in enumerate(plan(nest)[0]):
        args = []
        mine = {s.name for s in stats}
        for inp in [x for x in _reads(nest, stats) if x.name not in mine] + [s.leaf for s in stats]:
            args += [f"t[{inp.name!r}]"] + [f"t[{inp.name!r}].stride({k})"
                                            for k in range(len(inp.axes))]
        L.append(f"    _colstat_kernel_{lv}[grid]({', '.join(args)}, {sizes}, "
                 "BLOCK_M=cfg['block_m'], BLOCK_N=cfg['block_n'], **blocks, "
                 "DOT_PRECISION=prec, num_warps=cfg['num_warps'], num_stages=cfg['num_stages'])")
    L.append("    return t")
    return "\n".join(L) + "\n"


def prepass_source(nest: LoopNest) -> str:
    """The pre-pass kernels and their host function; empty when the nest has no statistic."""
    if not nest.stats:
        return ""
    kernels, partner = plan(nest)
    parts = [level_kernel(nest, lv, stats, partner) for lv, stats in enumerate(kernels)]
    return "\n\n".join(parts + [prepass_launcher(nest)])

