"""Readable Triton source from a loop nest (lowering.loopnest.nest): one streaming kernel, one combine.

`lowering.codegen.source.kernel_source(nest)` joins these into Python source defining

    _stream_kernel  grid (⌈|i|/BLOCK_M⌉, |G|, P): one program per row block, group index and
                    split; it folds keys [p·chunk, min((p+1)·chunk, |j|)) block by block.  With
                    SPLIT = False (P = 1) it applies the tail and stores the output; with
                    SPLIT = True it stores its partial states (fp32) for the combine kernel.
    _combine_kernel grid (⌈|i|/16⌉, |G|): folds the P partial states with each component's
                    combine (sum: +, max: maximum, min: minimum; shifted sums rescaled by
                    e^(k·(m_p − M)), M = max_p m_p), then applies the tail and stores.
    _launch(tensors, sizes, out, cfg)   the host side.

Numerics, explicitly:
* every field value and state is fp32; contractions are `tl.dot` with fp32 accumulation
  (input_precision "ieee" for fp32 inputs, so fp32 means fp32); the weights of Σ_j p·v are cast
  to v's dtype before the second dot, as FlashAttention does;
* out-of-range keys (the last, partial block; split boundaries) contribute each monoid's
  identity (`tl.where(ok_j, value, identity)`), and out-of-range rows are never stored;
* the running max (only when the stream form's `shift` is set): M = max(M_old, rowmax u);
  M_safe = 0 where M = −∞ (a row that has seen no valid key yet), so e^(u − M_safe) is e^(−∞) = 0
  instead of e^(−∞ + ∞) = NaN; α = e^(M_old − M_safe).  u and M are kept in base-2 units
  (u·log₂e, the constant scale folded in: `_shift_log2`) so each e^x is one `exp2`;
* division by zero: the generator adds no ε of its own.  The term's own guard is used (spherical's
  √(z + 10⁻⁶) comes from the source), and a row with no valid key gives 0/0 = NaN in softmax
  exactly as the PyTorch reference (softmax of an all −∞ row) does.
* tanh is computed as sign(x)·(1 − e^(−2|x|))/(1 + e^(−2|x|)) (no overflow for large |x|).
"""
from __future__ import annotations

import math

from wirefuse.rewrite.ir.ops import MONOIDS, SCALAR_OPS
from wirefuse.rewrite.ir.term import Const, Elem, Input, Pos, Reduce, Size, State, Term
from wirefuse.lowering.loopnest.causal import on_known
from wirefuse.lowering.loopnest.nest import LoopNest, Unsupported, _factors, shift_power

_BINOPS = {"sub": "-", "div": "/", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==",
           "ne": "!=", "and": "&", "or": "|"}
_CALLS = {"abs": "tl.abs", "exp": "tl.exp", "log": "tl.log", "sqrt": "tl.sqrt",
          "rsqrt": "tl.rsqrt", "sigmoid": "tl.sigmoid", "sin": "tl.sin", "cos": "tl.cos",
          "tanh": "_tanh", "max": "tl.maximum", "min": "tl.minimum", "where": "tl.where"}


def _lit(v) -> str:
    if isinstance(v, bool):
        return repr(v)
    v = float(v)
    if math.isnan(v):
        return 'float("nan")'
    if math.isinf(v):
        return 'float("inf")' if v > 0 else 'float("-inf")'
    return repr(v)


def _const_only(t: Term) -> bool:
    return all(isinstance(s, (Const, Elem)) for s in t.walk())


class Emitter:
    """Elementwise code for terms laid out on a 2-D tile whose dims are axes (dim0, dim1).

    Group axes are scalars (`gi_<axis>`); any other axis of a value must be dim0 or dim1.
    Common subterms are computed once (`self.lines` gets one assignment per node)."""

    def __init__(self, nest: LoopNest, dim0: str | None, dim1: str | None, prefix: str,
                 leaves: dict | None = None, nomask=(), known: dict | None = None):
        self.nest, self.dims, self.prefix = nest, (dim0, dim1), prefix
        self.nomask = set(nomask)  # axes known to be in range (full blocks): no load mask
        self.known: dict[Term, bool] = dict(known or {})  # masks known true/false on this tile
        self.lines: list[str] = []
        self.count = 0  # names stay unique when the caller takes `lines` away in pieces
        self.done: dict[Term, str] = dict(leaves or {})

    def index(self, axis: str) -> tuple[str, str | None]:
        if axis in self.nest.group:
            return f"gi_{axis}", None
        ok = axis not in self.nomask
        if axis == self.dims[0]:
            return f"ix_{axis}[:, None]", f"ok_{axis}[:, None]" if ok else None
        if axis == self.dims[1]:
            return f"ix_{axis}[None, :]", f"ok_{axis}[None, :]" if ok else None
        raise Unsupported(f"axis {axis} does not fit the ({self.dims[0]}, {self.dims[1]}) tile")

    def load(self, inp: Input) -> str:
        """tl.load of an input with arbitrary strides (one stride argument per named axis)."""
        offs, masks = [], []
        for a in inp.axes:
            ix, ok = self.index(a)
            offs.append(f"{ix} * {inp.name}_s_{a}")
            if ok:
                masks.append(ok)
        ptr = f"{inp.name}_ptr + " + " + ".join(offs) if offs else f"{inp.name}_ptr"
        mask = " & ".join(masks)
        code = f"tl.load({ptr}, mask={mask}, other=0)" if mask else f"tl.load({ptr})"
        return code if inp.dtype == "bool" else f"{code}.to(tl.float32)"

    def emit(self, t: Term) -> str:
        """The variable (or literal) holding t; subterms already in scope are not re-entered."""
        stack = [(t, False)]
        while stack:
            s, ready = stack.pop()
            if s in self.done:
                continue
            if ready or not s.children or _const_only(s) or s in self.known or \
                    s in self.nest.causal_positions:
                self.done[s] = self._node(s)  # (a known mask's operands are not computed)
            else:
                stack.append((s, True))
                stack.extend((c, False) for c in reversed(s.children))
        return self.done[t]

    def _assign(self, code: str) -> str:
        name = f"{self.prefix}{self.count}"
        self.count += 1
        self.lines.append(f"{name} = {code}")
        return name

    def _node(self, t: Term) -> str:
        if t in self.known:
            return _lit(self.known[t])
        if self.known and isinstance(t, Elem) and t.args and t.args[0] in self.known:
            # fold a known mask away (no select per element), by causal.fold_known's rules
            folded = on_known(t.op, self.known[t.args[0]])
            if folded is not None:
                kind, value = folded
                if kind == "arg":
                    return self.done[t.args[value]]
                if isinstance(value, bool):  # a boolean: known in turn (not (not m))
                    self.known[t] = value
                return _lit(value)
        if isinstance(t, Const):
            return _lit(t.value)
        if isinstance(t, Size):
            return f"(sz_{t.axis} * 1.0)"
        if isinstance(t, Pos):  # the global index along the axis (keys: start + arange)
            return self._assign(f"{self.index(t.axis)[0]}.to(tl.float32)")
        if t in self.nest.causal_positions:  # #j ≤ #i (or #j > #i) shown exactly: int indices
            j, i = self.index(self.nest.stream)[0], self.index(self.nest.row)[0]
            return self._assign(f"{j} {'<=' if self.nest.causal_positions[t] else '>'} {i}")
        if isinstance(t, Input):
            if t.name == self.nest.causal:  # the causal structure, from indices (j ≤ i)
                return self._assign(f"ix_{self.nest.stream}[None, :] <= ix_{self.nest.row}[:, None]")
            return self._assign(self.load(t))
        if isinstance(t, (State, Reduce)):
            raise Unsupported(f"{t} cannot be computed here (not a state or contraction in scope)")
        if not isinstance(t, Elem):
            raise Unsupported(f"{type(t).__name__} in elementwise code: {t}")
        if _const_only(t):
            from wirefuse.rewrite.ir.evaluate import evaluate
            return _lit(evaluate(t).item())
        a = [self.done[x] for x in t.args]
        op = t.op
        if op == "add":
            return self._assign(" + ".join(a))
        if op == "mul":
            return self._assign(" * ".join(a))
        if op == "neg":
            return self._assign(f"-{a[0]}")
        if op == "square":
            return self._assign(f"{a[0]} * {a[0]}")
        if op == "relu":
            return self._assign(f"tl.maximum({a[0]}, 0.0)")
        if op == "log1p":
            return self._assign(f"tl.log(1.0 + {a[0]})")
        if op == "expm1":
            return self._assign(f"tl.exp({a[0]}) - 1.0")
        if op == "not":
            return self._assign(f"{a[0]} == 0")
        if op == "float":
            return self._assign(f"({a[0]}).to(tl.float32)")
        if op == "pow":
            return self._assign(self._pow(t, a))
        if op == "div" and not (set(t.args[1].axes) - set(self.nest.group)):
            # a divisor without tile axes (e.g. √|d|): one reciprocal, then a multiply per element
            return self._assign(f"{a[0]} * (1.0 / {a[1]})")
        if op in _BINOPS:
            return self._assign(f"{a[0]} {_BINOPS[op]} {a[1]}")
        if op in _CALLS:
            return self._assign(f"{_CALLS[op]}({', '.join(a)})")
        raise Unsupported(f"scalar op {op} has no Triton form in the generator")

    @staticmethod
    def _pow(t: Elem, a: list[str]) -> str:
        b = t.args[1]
        if isinstance(b, Const):
            c = float(b.value)
            if c == 1:
                return a[0]
            if c == 2:
                return f"{a[0]} * {a[0]}"
            if c == 3:
                return f"{a[0]} * {a[0]} * {a[0]}"
            if c == 0.5:
                return f"tl.sqrt({a[0]})"
            if c == -0.5:
                return f"tl.rsqrt({a[0]})"
            if c == -1:
                return f"1.0 / {a[0]}"
            if c == -2:
                return f"1.0 / ({a[0]} * {a[0]})"
        # x^c = 2^(c·log2 x) for x ≥ 0 (NaN for x < 0, as torch.pow with a fractional power)
        return f"tl.exp2({a[1]} * tl.log2({a[0]}))"


def _ident(monoid: str) -> str:
    return _lit(MONOIDS[monoid].identity)


def _kernel_inputs(nest: LoopNest, tail_only: bool = False) -> dict[str, Input]:
    """The inputs a kernel reads: all but a causal mask (computed from indices); the combine
    kernel only those of the tail (every argument costs host time at each launch)."""
    used = {t.name for t in nest.tail.walk() if isinstance(t, Input)} if tail_only else None
    return {n: i for n, i in nest.inputs.items()
            if n != nest.causal and (used is None or n in used)}


def _sig_inputs(nest: LoopNest, tail_only: bool = False) -> list[str]:
    out = []
    for name, inp in _kernel_inputs(nest, tail_only).items():
        out.append(f"{name}_ptr")
        out += [f"{name}_s_{a}" for a in inp.axes]
    return out


def _block_name(nest: LoopNest, axis: str) -> str:
    if axis == nest.row:
        return "BLOCK_M"
    if axis == nest.stream:
        return "BLOCK_N"
    if axis == nest.value:
        return "BLOCK_E"
    return f"BLOCK_{axis.upper()}"


def kernel_params(nest: LoopNest) -> list[str]:
    """The kernel's argument names after the inputs, in order (the launcher follows them)."""
    out = ["out_ptr"] + [f"out_s_{a}" for a in nest.out_axes]
    out += [f"st_{c.name}_ptr" for c in nest.components]
    out += ["st_max_ptr", "n_split"]
    out += [f"sz_{a}" for a in nest.axes]
    return out


def _constexprs(nest: LoopNest) -> list[str]:
    blocks = [_block_name(nest, a) for a in nest.axes if a not in nest.group]
    return [f"{b}: tl.constexpr" for b in dict.fromkeys(blocks)] + \
        ["DOT_PRECISION: tl.constexpr"]


def _prologue(nest: LoopNest, with_split: bool) -> list[str]:
    L = ["pid_m = tl.program_id(0)", "pid_g = tl.program_id(1)"]
    if with_split:
        L.append("pid_p = tl.program_id(2)")
    L.append("rest = pid_g")
    for a in reversed(nest.group):  # the last group axis varies fastest
        L.append(f"gi_{a} = (rest % sz_{a}).to(tl.int64)")
        L.append(f"rest = rest // sz_{a}")
    r = nest.row
    L.append(f"ix_{r} = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)")
    L.append(f"ok_{r} = ix_{r} < sz_{r}")
    for a in nest.axes:
        if a in nest.group or a in (nest.row, nest.stream):
            continue
        L.append(f"ix_{a} = tl.arange(0, {_block_name(nest, a)})")
        L.append(f"ok_{a} = ix_{a} < sz_{a}")
    return L


def _tail_store(nest: LoopNest, states: dict[str, str]) -> list[str]:
    """Tail over the states (fp32), then one masked store in the output's dtype."""
    e = nest.value
    kinds = {c.name: c.kind for c in nest.components}
    leaves = {t: (states[t.name] if kinds[t.name] == "dot" else f"{states[t.name]}[:, None]")
              for t in nest.tail.walk() if isinstance(t, State)}
    em = Emitter(nest, nest.row, e, "t", leaves)
    val = em.emit(nest.tail)
    L = list(em.lines)
    shape = f"[BLOCK_M, {'BLOCK_E' if e else 1}]"
    L.append(f"res = {val} + tl.zeros({shape}, tl.float32)")
    offs = []
    for a in nest.out_axes:
        if a in nest.group:
            offs.append(f"gi_{a} * out_s_{a}")
        elif a == nest.row:
            offs.append(f"ix_{a}[:, None] * out_s_{a}")
        else:
            offs.append(f"ix_{a}[None, :] * out_s_{a}")
    mask = f"ok_{nest.row}[:, None]" + (f" & ok_{e}[None, :]" if e else "")
    L.append(f"tl.store(out_ptr + {' + '.join(offs)}, res.to(out_ptr.dtype.element_ty), "
             f"mask={mask})")
    return L


def _indent(lines, n=1) -> list[str]:
    return ["    " * n + x for x in lines]


def stream_kernel(nest: LoopNest) -> str:
    j, r = nest.stream, nest.row
    params = _sig_inputs(nest) + kernel_params(nest) + _constexprs(nest) + ["SPLIT: tl.constexpr"]
    L = _prologue(nest, True)
    L.append("# row-side operands of the score contractions, loaded once")
    pre = Emitter(nest, r, None, "a")
    row_ops = []
    for k, c in enumerate(nest.contractions):
        pre.dims = (r, c.axis)
        v = pre.emit(c.rowside[0] if len(c.rowside) == 1 else Elem("mul", c.rowside))
        if len(c.rowside) == 1 and isinstance(c.rowside[0], Input):
            # keep the input's own dtype for tl.dot (re-load without the fp32 cast)
            pre.lines[-1] = pre.lines[-1].replace(".to(tl.float32)", "")
        row_ops.append(v)
    L += pre.lines
    L.append("# state (fp32), initialised to each monoid's identity")
    for c in nest.components:
        shape = "[BLOCK_M, BLOCK_E]" if c.kind == "dot" else "[BLOCK_M]"
        L.append(f"acc_{c.name} = tl.full({shape}, {_ident(c.monoid)}, tl.float32)")
    if nest.shift is not None:
        L.append("run_max = tl.full([BLOCK_M], float(\"-inf\"), tl.float32)  # M = max_j u so far")
    L.append(f"lo = pid_p * n_split")
    L.append(f"hi = tl.minimum(lo + n_split, sz_{j})")
    if nest.skips_causal:
        what = nest.causal if nest.causal is not None else "the mask from positions"
        L.append(f"# causal ({what} is j ≤ i): key blocks past this row block's last row "
                 "are fully masked; skip them")
        L.append(f"hi = tl.minimum(hi, (pid_m + 1) * BLOCK_M)")
    L.append("# full key blocks first (no key mask), then the last, partial block (masked)")
    L.append(f"hi_full = lo + (hi - lo) // BLOCK_N * BLOCK_N")
    if nest.skips_causal:
        L.append(f"# key blocks wholly at or below the row block's first row: the mask is all "
                 "true there, so it is not computed")
        L.append(f"below = tl.minimum(hi_full, lo + tl.maximum(pid_m * BLOCK_M + 1 - lo, 0) "
                 f"// BLOCK_N * BLOCK_N)")
        L.append("for start in range(lo, below, BLOCK_N):")
        L += _indent(_loop_body(nest, row_ops, masked=False, causal_free=True))
        L.append("for start in range(below, hi_full, BLOCK_N):")
    else:
        L.append("for start in range(lo, hi_full, BLOCK_N):")
    L += _indent(_loop_body(nest, row_ops, masked=False))
    L.append("if hi_full < hi:")
    L += _indent(["start = hi_full"] + _loop_body(nest, row_ops, masked=True))
    L.append("if SPLIT:  # partial states for _combine_kernel: [P, |G|, |i|(, |e|)] fp32")
    S = [f"base = (pid_p * tl.num_programs(1) + pid_g) * sz_{r}"]
    for c in nest.components:
        if c.kind == "dot":
            S.append(f"tl.store(st_{c.name}_ptr + (base + ix_{r}[:, None]) * BLOCK_E + "
                     f"ix_{nest.value}[None, :], acc_{c.name}, mask=ok_{r}[:, None])")
        else:
            S.append(f"tl.store(st_{c.name}_ptr + base + ix_{r}, acc_{c.name}, mask=ok_{r})")
    if nest.shift is not None:
        S.append(f"tl.store(st_max_ptr + base + ix_{r}, run_max, mask=ok_{r})")
    L += _indent(S)
    L.append("else:")
    L += _indent(_tail_store(nest, {c.name: f"acc_{c.name}" for c in nest.components}))
    return _function("_stream_kernel", params, L)


def _loop_body(nest: LoopNest, row_ops: list[str], masked: bool,
               causal_free: bool = False) -> list[str]:
    """One key block: contractions, field, state updates.  Unmasked for full blocks: the key
    index is in range there, so no key mask on loads and no identity select.  `causal_free`:
    every key of the block is ≤ every row, so the causal mask is the constant true."""
    j, r = nest.stream, nest.row
    B = [f"ix_{j} = start + tl.arange(0, BLOCK_N)"]
    if masked:
        B.append(f"ok_{j} = ix_{j} < hi")
    nomask = set() if masked else {j}
    leaves = {}
    for k, c in enumerate(nest.contractions):
        ce = Emitter(nest, c.axis, j, f"b{k}_", nomask=nomask)
        v = ce.emit(c.colside[0] if len(c.colside) == 1 else Elem("mul", c.colside))
        if len(c.colside) == 1 and isinstance(c.colside[0], Input):
            ce.lines[-1] = ce.lines[-1].replace(".to(tl.float32)", "")
        B += ce.lines
        B.append(f"s{k} = tl.dot({row_ops[k]}.to({v}.dtype), {v}, "
                 f"input_precision=DOT_PRECISION)  # Σ_{c.axis}, fp32 accumulation")
        leaves[c.term] = f"s{k}"
    known = nest.causal_known() if causal_free else None
    fe = Emitter(nest, r, j, "f", leaves, nomask=nomask, known=known)
    k_pow = 0
    if nest.shift is not None:
        u = _shift_log2(fe, nest)
        B += fe.lines
        fe.lines = []
        if known and _mentions(nest.shift, known):
            u = _as_tile(u)
        B.append(f"u = tl.where(ok_{j}[None, :], {u}, float(\"-inf\"))" if masked else f"u = {u}")
        B.append("m_new = tl.maximum(run_max, tl.max(u, 1))")
        B.append("m_safe = tl.where(m_new == float(\"-inf\"), 0.0, m_new)  # no −∞ − (−∞)")
        B.append("alpha = tl.exp2(run_max - m_safe)")
        B.append("e_u = tl.exp2(u - m_safe[:, None])  # e^u rescaled by e^(−M)")
        B.append("run_max = m_new")
        fe.done[Elem("exp", (nest.shift,))] = "e_u"
        for c in nest.components:  # e^(k·u) factors become (e^(u − M))^k
            for f in _factors(c.field):
                k = shift_power(f, nest.shift)
                if k > 1:
                    fe.done[f] = "(" + " * ".join(["e_u"] * k) + ")"
        k_pow = max(c.shift_power for c in nest.components)
    for c in nest.components:
        v = fe.emit(c.field)
        B += fe.lines
        fe.lines = []
        ident = _ident(c.monoid)
        if known and _mentions(c.field, known):  # folding the mask may drop the tile's axes
            full = _as_tile(v)
        elif _is_float_tile(c.field, nest):
            full = v
        else:
            full = f"{v} + tl.zeros([BLOCK_M, BLOCK_N], tl.float32)"  # broadcast (and bool → float)
        B.append(f"w_{c.name} = tl.where(ok_{j}[None, :], {full}, {ident})" if masked else
                 f"w_{c.name} = {full}")
        scale = " * ".join(["alpha"] * c.shift_power)
        old = f"acc_{c.name} * {scale}" if c.shift_power else f"acc_{c.name}"
        if c.shift_power and c.kind == "dot":
            old = f"acc_{c.name} * ({scale})[:, None]"
        if c.kind == "dot":
            ve = Emitter(nest, j, nest.value, f"v_{c.name}_", nomask=nomask)
            vv = ve.emit(c.value)
            if isinstance(c.value, Input):
                ve.lines[-1] = ve.lines[-1].replace(".to(tl.float32)", "")
            B += ve.lines
            B.append(f"acc_{c.name} = {old} + tl.dot(w_{c.name}.to({vv}.dtype), {vv}, "
                     f"input_precision=DOT_PRECISION)")
        elif c.monoid == "sum":
            B.append(f"acc_{c.name} = {old} + tl.sum(w_{c.name}, 1)")
        elif c.monoid in ("max", "min"):
            fn = "tl.maximum" if c.monoid == "max" else "tl.minimum"
            B.append(f"acc_{c.name} = {fn}(acc_{c.name}, tl.{c.monoid}(w_{c.name}, 1))")
        else:
            raise Unsupported(f"the {c.monoid} monoid has no state update in the generator")
    del k_pow
    return B


LOG2E = 1.4426950408889634


def _shift_log2(fe: Emitter, nest: LoopNest) -> str:
    """u·log₂e, the shift in base-2 units, so that e^(u − M) is one `exp2` (MUFU.EX2) of an
    operand the multiply already produced: `tl.exp` would multiply by log₂e again per element.
    A constant factor of u (u = a / c or u = c·a with c the same for the whole tile, like √d)
    absorbs log₂e, so the scores are scaled once: a·(log₂e / c); a select (a mask) is scaled
    branch by branch (−∞·log₂e = −∞).  Exact up to one rounding of the folded constant; M and
    the split-KV states' maxima are kept in the same base-2 units."""
    return _scaled(fe, nest.shift, set(nest.group))


def _scaled(fe: Emitter, t: Term, tile: set) -> str:
    if isinstance(t, Const) and not isinstance(t.value, bool):
        return _lit(float(t.value) * LOG2E)
    if isinstance(t, Elem) and t.op == "div" and not set(t.args[1].axes) - tile:
        a, c = fe.emit(t.args[0]), fe.emit(t.args[1])
        return fe._assign(f"{a} * ({_lit(LOG2E)} / {c})")
    if isinstance(t, Elem) and t.op == "mul":
        const = [x for x in t.args if not set(x.axes) - tile]
        rest = [x for x in t.args if set(x.axes) - tile]
        if const and rest:
            cs = [fe.emit(x) for x in const]
            rs = [fe.emit(x) for x in rest]
            return fe._assign(f"{' * '.join(rs)} * ({' * '.join([_lit(LOG2E)] + cs)})")
    if isinstance(t, Elem) and t.op == "where":
        c = fe.emit(t.args[0])
        if c in ("True", "False"):  # a mask known on this tile
            return _scaled(fe, t.args[1] if c == "True" else t.args[2], tile)
        a, b = _scaled(fe, t.args[1], tile), _scaled(fe, t.args[2], tile)
        return fe._assign(f"tl.where({c}, {a}, {b})")
    return fe._assign(f"{fe.emit(t)} * {_lit(LOG2E)}")


def _mentions(t: Term, known: dict) -> bool:
    return any(s in known for s in t.walk())


def _as_tile(v: str) -> str:
    """v (a variable of any shape the tile broadcasts from, or a literal) as a float
    [BLOCK_M, BLOCK_N] tile, without an add per element."""
    if _is_literal(v):  # a known mask folded a select or a count away
        return f"tl.full([BLOCK_M, BLOCK_N], {v}, tl.float32)"
    return f"tl.broadcast_to(({v}).to(tl.float32), [BLOCK_M, BLOCK_N])"


def _is_literal(v: str) -> bool:
    if v in ("True", "False") or v.startswith("float("):
        return True
    try:
        float(v)
        return True
    except ValueError:
        return False


def _is_float_tile(t: Term, nest: LoopNest) -> bool:
    """t is already a float [BLOCK_M, BLOCK_N] tile: no broadcast needed (x + 0.0 is not
    free: IEEE keeps −0 + 0 = +0, so the compiler must emit the add)."""
    bool_op = isinstance(t, Elem) and t.op in SCALAR_OPS and SCALAR_OPS[t.op].result == "bool"
    return {nest.row, nest.stream} <= set(t.axes) and not bool_op and not isinstance(t, Input)


def combine_kernel(nest: LoopNest) -> str:
    r = nest.row
    params = _sig_inputs(nest, tail_only=True) + kernel_params(nest) + _constexprs(nest) + \
        ["N_PARTS"]
    L = _prologue(nest, False)
    L.append(f"n_g = tl.num_programs(1)")
    if nest.shift is not None:
        L.append("big = tl.full([BLOCK_M], float(\"-inf\"), tl.float32)")
        L.append("for p in range(N_PARTS):  # M = max_p m_p")
        L.append(f"    big = tl.maximum(big, tl.load(st_max_ptr + (p * n_g + pid_g) * sz_{r} + "
                 f"ix_{r}, mask=ok_{r}, other=float(\"-inf\")))")
        L.append("m_safe = tl.where(big == float(\"-inf\"), 0.0, big)")
    for c in nest.components:
        shape = "[BLOCK_M, BLOCK_E]" if c.kind == "dot" else "[BLOCK_M]"
        L.append(f"acc_{c.name} = tl.full({shape}, {_ident(c.monoid)}, tl.float32)")
    L.append("for p in range(N_PARTS):")
    B = [f"base = (p * n_g + pid_g) * sz_{r}"]
    if nest.shift is not None:
        B.append(f"m_p = tl.load(st_max_ptr + base + ix_{r}, mask=ok_{r}, other=float(\"-inf\"))")
        B.append("beta = tl.exp2(m_p - m_safe)  # the part's scale relative to the global max")
    for c in nest.components:
        if c.kind == "dot":
            ld = (f"tl.load(st_{c.name}_ptr + (base + ix_{r}[:, None]) * BLOCK_E + "
                  f"ix_{nest.value}[None, :], mask=ok_{r}[:, None], other=0.0)")
        else:
            ld = f"tl.load(st_{c.name}_ptr + base + ix_{r}, mask=ok_{r}, other=0.0)"
        if c.shift_power:
            sc = " * ".join(["beta"] * c.shift_power)
            ld = f"{ld} * ({sc})" + ("[:, None]" if c.kind == "dot" else "")
        if c.monoid == "sum":
            B.append(f"acc_{c.name} = acc_{c.name} + {ld}")
        else:
            fn = "tl.maximum" if c.monoid == "max" else "tl.minimum"
            B.append(f"acc_{c.name} = {fn}(acc_{c.name}, {ld})")
    L += _indent(B)
    L += _tail_store(nest, {c.name: f"acc_{c.name}" for c in nest.components})
    return _function("_combine_kernel", params, L)


def _function(name: str, params: list[str], body: list[str]) -> str:
    head = f"@triton.jit\ndef {name}(\n" + "".join(f"    {p},\n" for p in params) + "):\n"
    return head + "\n".join(_indent(body)) + "\n"


HELPERS = '''def _cdiv(a, b):
    # host-side ceil(a / b) and next power of two: in Triton 3.6 and 3.9 triton.cdiv and
    # triton.next_power_of_2 are ConstexprFunctions, ~6 µs per call from host code, and a
    # launch computes eight (an eager decoding step's time is mostly host time)
    return -(-a // b)


def _next_pow2(n):
    return 1 << max(0, n - 1).bit_length()


# rows per combine program, whatever the stream kernel's BLOCK_M: the combine only streams the
# partial states, so small programs fill the SMs.  With BLOCK_M rows (36 programs of 128 at
# 384 queries × 12 heads, a 128 × 128 fp32 accumulator on 4 warps) it took longer than the
# stream kernel itself (run 11: split p=32 at 1.33× the best measured)
COMBINE_ROWS = 16


@triton.jit
def _tanh(x):
    # sign(x)·(1 − e^(−2|x|)) / (1 + e^(−2|x|)): no overflow for large |x|
    t = tl.exp(-2.0 * tl.abs(x))
    r = (1.0 - t) / (1.0 + t)
    return tl.where(x < 0, -r, r)
'''


def launcher_source(nest: LoopNest) -> str:
    """`_launch(t, sz, out, cfg)`: t maps input names to tensors, sz axis names to sizes."""
    ins = [f"t[{n!r}], *t[{n!r}].stride()" for n in _kernel_inputs(nest)]
    ins_tail = [f"t[{n!r}], *t[{n!r}].stride()" for n in _kernel_inputs(nest, tail_only=True)]
    blocks = {}
    for a in nest.axes:
        if a in nest.group or a in (nest.row, nest.stream):
            continue
        blocks[_block_name(nest, a)] = f"max(16, _next_pow2(sz[{a!r}]))"
    r, j = nest.row, nest.stream
    gsize = " * ".join(f"sz[{a!r}]" for a in nest.group) or "1"
    lines = [
        "def _launch(t, sz, out, cfg):",
        "    \"\"\"Run the kernels: split-KV when cfg['splits'] > 1 (one program per part, then "
        "the combine).\"\"\"",
        f"    bm, bn = cfg['block_m'], cfg['block_n']",
        f"    n_g = {gsize}",
        f"    n_j = sz[{j!r}]",
        f"    parts = max(1, min(cfg.get('splits', 1), _cdiv(n_j, bn)))",
        f"    chunk = _cdiv(_cdiv(n_j, parts), bn) * bn  # whole key blocks per part",
        f"    parts = _cdiv(n_j, chunk) if n_j else 1",
        f"    blocks = dict({', '.join(f'{k}={v}' for k, v in blocks.items())})",
        "    dev = out.device",
        f"    prec = 'ieee' if out.dtype == torch.float32 else 'tf32'",
    ]
    if nest.stats:  # column statistics (lowering.codegen.prepass) become inputs before the stream kernel
        lines.append("    t = _prepass(t, sz, cfg, n_g, blocks, prec, dev)")
    st = []
    for c in nest.components:
        shape = f"(parts, n_g, sz[{r!r}], blocks['BLOCK_E'])" if c.kind == "dot" else \
            f"(parts, n_g, sz[{r!r}])"
        st.append(f"torch.empty({shape}, device=dev, dtype=torch.float32) if parts > 1 else out")
    maxbuf = (f"torch.empty((parts, n_g, sz[{r!r}]), device=dev, dtype=torch.float32) "
              "if parts > 1 else out") if nest.shift is not None else "out"
    lines.append(f"    states = [{', '.join(st)}]")
    lines.append(f"    st_max = {maxbuf}")
    common = "out, *out.stride(), *states, st_max"
    sizes = ", ".join(f"sz[{a!r}]" for a in nest.axes)
    lines += [
        f"    ins = [{', '.join(ins)}]",
        f"    grid = (_cdiv(sz[{r!r}], bm), n_g, parts)",
        f"    _stream_kernel[grid](*ins, {common}, chunk if parts > 1 else max(n_j, 1), {sizes}, "
        f"BLOCK_M=bm, BLOCK_N=bn, **blocks, DOT_PRECISION=prec, SPLIT=parts > 1, "
        f"num_warps=cfg['num_warps'], num_stages=cfg['num_stages'])",
        "    if parts > 1:",
        f"        _combine_kernel[(_cdiv(sz[{r!r}], COMBINE_ROWS), n_g)]("
        f"{''.join(x + ', ' for x in ins_tail)}{common}, chunk, {sizes}, BLOCK_M=COMBINE_ROWS, "
        f"BLOCK_N=bn, **blocks, DOT_PRECISION=prec, N_PARTS=parts, num_warps=4)",
        "    return out",
    ]
    return "\n".join(lines) + "\n"
