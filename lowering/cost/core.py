"""The napkin cost model's arithmetic, as plain numbers in and out (no wirefuse imports).

lowering/cost/model.py turns a stream form into a *profile* (plain data: the roles of its axes, the
inputs' axes, the state components' axes and its work as `[axes, tensor, fp32, sfu]` terms, each
meaning coefficient × the product of those axes' sizes) and a device into *figures*
(hardware.Spec.figures); everything after that is here.  kernels/export.py embeds this module's
source, the profile and the figures into every generated module, so that the module picks its
launch config at run time with the same arithmetic `wirefuse explain` ranks with: one source
of truth.  Hence: standard library only, and no `from __future__` (the source is executed as is).

>>> volume(("b", "i"), {"b": 2, "i": 3})
6.0
>>> counts([[["i", "j"], 0, 1, 2], [["i"], 4, 0, 0]], {"i": 3, "j": 5})
(12.0, 15.0, 30.0)
>>> rank_key(1e-3, {"hbm": 1e-3, "launch": 4e-6}, 2, {"BLOCK_M": 16})[0]
0.001
"""
import math

RESOURCES = ("tensor", "fp32", "sfu", "hbm", "l2", "latency", "chain", "combine", "launch")
MEMORY_NORM = 3  # how sharply HBM bandwidth and loop latency combine (fitted, docs/costmodel.md)
SPLITS = (1, 2, 4, 8, 16, 32, 64)  # split-KV part counts tried (1: the unsplit kernel)
# Tiles of fewer rows run each loop step's compute on the chain of loads in flight (fused_time's
# latency term).  It is wgmma's 64 on the H100, where runs 3-7 measured it on decoding tiles of
# 16; the A100 and fp32 kernels (no wgmma at all) keep the same threshold for want of
# measurements, so it is a constant, not the device's warpgroup_rows.
SERIAL_STEP_ROWS = 64
# FP32 work is counted in instructions (an add, a multiply, a max: one each); the device's FP32
# rate is quoted in FLOP/s with a fused multiply-add counted as 2, so the issue rate is half.
FLOPS_PER_FP32_OP = 2
# One row of an MMA accumulator tile (mma.sync and wgmma alike) lives on a quad of 4 threads:
# a reduction of the score tile along the keys is in-thread adds (counted with the term) plus
# log2(4) = 2 rounds of shuffle + combine on each of the 4 threads, and every per-row update
# (the running max, its rescale factor) runs on all 4 threads.
QUAD = 4
SHUFFLE_ROUNDS = 2


class Rejected(ValueError):
    """The config does not fit the device (SMEM, registers); the message says which."""


def volume(axes, sizes) -> float:
    v = 1.0
    for a in axes:
        v *= sizes[a]
    return v


def counts(work, sizes) -> tuple:
    """(tensor FLOPs, FP32 FLOPs, SFU ops) of a work list `[[axes, tensor, fp32, sfu], ...]`."""
    t = f = s = 0.0
    for axes, ct, cf, cs in work:
        v = volume(axes, sizes)
        t += ct * v
        f += cf * v
        s += cs * v
    return t, f, s


def tile_traffic(inputs: dict, sizes: dict, tiles: dict) -> dict:
    """Elements each input moves from global memory into the programs, re-reads counted.

    `tiles` maps each grid axis to its block size (1 for a batch axis).  An input is loaded
    once per block of every grid axis it does not carry."""
    out = {}
    for name, axes in inputs.items():
        n = volume(axes, sizes)
        for a, blk in tiles.items():
            if a not in axes:
                n *= math.ceil(sizes[a] / blk)
        out[name] = float(n)
    return out


def padded(p: dict, sizes: dict, bm: int, bn: int, chunk: int) -> dict:
    """Sizes as one program's tiles compute them: rows rounded up to BLOCK_M, the stream axis
    of each split (chunk keys) rounded up to BLOCK_N."""
    s = dict(sizes)
    rows = p["rows"]
    if rows:
        m = volume(rows, sizes)
        s[rows[0]] = sizes[rows[0]] * math.ceil(m / bm) * bm / m
    s[p["stream"]] = math.ceil(chunk / bn) * bn
    return s


def causal_visits(rows: int, keys: int, bm: int, bn: int, chunk: int) -> float:
    """The share of (row block, key block) steps a causal kernel runs: the program of row block
    r and the part starting at key s·chunk stops at key min(s·chunk + chunk, (r + 1)·BM), the
    blocks past it being all masked (j > i), and runs whole key blocks up to there.

    >>> causal_visits(256, 256, 64, 64, 256)   # 1 + 2 + 3 + 4 of 4 × 4 blocks
    0.625
    >>> causal_visits(1, 4096, 16, 64, 4096)   # one query row: only its own block
    0.015625
    """
    per_part = math.ceil(chunk / bn)
    parts = math.ceil(keys / chunk)
    row_blocks = math.ceil(rows / bm)
    key = (rows, keys, bm, bn, chunk)
    if key not in _CAUSAL:
        done = 0
        for r in range(row_blocks):
            end = min(keys, (r + 1) * bm)
            whole = end // chunk
            done += whole * per_part + math.ceil((end - whole * chunk) / bn)
        if len(_CAUSAL) > 4096:
            _CAUSAL.clear()
        _CAUSAL[key] = done / (row_blocks * parts * per_part)
    return _CAUSAL[key]


_CAUSAL: dict = {}


def residency(p: dict, sizes: dict, config: dict, elt: int) -> dict:
    """SMEM bytes and registers per thread of one fused program (Triton-style software pipeline).

    SMEM: each streamed input's tile (BLOCK_N keys × its other non-batch axes) is buffered
    `num_stages` times; each other input's tile (BLOCK_M rows) is loaded once.  Registers (fp32):
    every state component's accumulator (BLOCK_M × its value axes), the BLOCK_M × BLOCK_N score
    tile in fp32 and once more in the input dtype for the second contraction, plus ~40 for
    addresses and loop state.  The row-tile inputs (q) hold no registers across the loop: they
    are loaded once into SMEM (counted there), where the tensor core reads its A operand."""
    bm, bn = config["BLOCK_M"], config["BLOCK_N"]
    stages, warps = config["num_stages"], config["num_warps"]
    stream, rows, batch = p["stream"], p["rows"], p["batch"]

    def tile(axes):
        n = 1
        for a in axes:
            n *= bn if a == stream else bm if a in rows else 1 if a in batch else sizes[a]
        return n
    smem = 0
    for axes in p["inputs"].values():
        smem += elt * tile(axes) * (max(1, stages) if stream in axes else 1)
    acc = 0
    for axes in p["states"]:
        acc += tile([a for a in axes if a not in batch])
    scores = bm * bn
    regs_total = acc + scores + scores * elt / 4
    regs = math.ceil(regs_total / (32 * warps)) + 40
    return {"smem_bytes": int(smem), "regs_per_thread": int(regs)}


def occupancy(spec: dict, smem: int, regs: int, warps: int) -> int:
    threads = 32 * warps
    by_smem = spec["smem_per_sm"] // max(smem, 1)
    by_regs = spec["regs_per_sm"] // (math.ceil(regs / 8) * 8 * threads)
    by_threads = spec["max_threads_per_sm"] // threads
    return int(max(0, min(by_smem, by_regs, by_threads, 32)))


def finish(times: dict) -> tuple:
    """(predicted seconds, binding resource).  Predicted = the binding resource's time + the
    combine kernel of a split (it runs after the main kernel) + launches.  HBM bandwidth and
    loop latency limit the same flow of bytes, and where both are near their limit neither is
    reached: they enter as one term, (hbm^k + latency^k)^(1/k) (a soft roofline corner), every
    other as itself."""
    compute = {k: v for k, v in times.items() if k not in ("launch", "combine")}
    bound = max(compute, key=compute.get)
    top = compute[bound]
    if "latency" in compute:
        k = MEMORY_NORM
        memory = (compute["hbm"] ** k + compute["latency"] ** k) ** (1 / k)
        if memory > top:
            top, bound = memory, max(("hbm", "latency"), key=compute.get)
    return top + times.get("combine", 0.0) + times.get("launch", 0.0), bound


def warpgroup_rows(spec: dict, dtype: str) -> int:
    """Rows of the score tile per warpgroup when the kernel's dots are wgmma, else 0.

    The generated kernels run fp32 tensors' dots with input_precision "ieee" (triton_gen's
    DOT_PRECISION), and Triton lowers an IEEE fp32 x fp32 dot to FMAs on the CUDA cores, not
    to any MMA (its supportMMA takes f32 operands only under TF32): no warpgroups to fill.
    Every other dtype (bf16, fp16, fp8, tf32) is wgmma on sm_90, so the device's figure stands
    (0 where the device has no wgmma: the A100, or any GPU whose capability is not 9.x).

    >>> h = {"warpgroup_rows": 64}
    >>> warpgroup_rows(h, "bf16"), warpgroup_rows(h, "tf32"), warpgroup_rows(h, "fp32")
    (64, 64, 0)
    """
    return 0 if dtype == "fp32" else spec.get("warpgroup_rows", 0)


def fit(p: dict, sizes: dict, dtype: str, elt: int, spec: dict, config: dict) -> dict:
    """What one config costs whatever the split count: residency and blocks per SM of one
    program (raising Rejected when it does not fit the device: SMEM, registers, rows a body
    reduction needs whole, warps a wgmma tile needs), and the per-config byte counts.  The
    search asks once per config."""
    stream, rows, batch, inputs = p["stream"], p["rows"], p["batch"], p["inputs"]
    bm, bn = config["BLOCK_M"], config["BLOCK_N"]
    if not sizes[stream]:
        raise Rejected(f"the stream axis {stream} is empty: nothing to fold")
    res = residency(p, sizes, config, elt)
    if res["smem_bytes"] > spec["smem_per_block"]:
        raise Rejected(f"needs {res['smem_bytes']} B of SMEM per block; {spec['name']} gives "
                       f"{spec['smem_per_block']}")
    wg_rows = warpgroup_rows(spec, dtype)
    if wg_rows and bm >= wg_rows and config["num_warps"] != 4 * bm // wg_rows:
        # wgmma gives each warpgroup (4 warps) 64 rows of the score tile; any other split puts
        # two accumulator tiles on one warpgroup's registers (BLOCK_M 128, 4 warps) or cuts each
        # row across warpgroups, so every row reduction and the P operand go through SMEM
        # (BLOCK_M 64, 8 warps: measured 1.6x slower, docs/costmodel_run3.md)
        raise Rejected(f"BLOCK_M={bm} takes {4 * bm // wg_rows} warps on {spec['name']} (one "
                       f"warpgroup per {wg_rows} rows of the score tile), not "
                       f"{config['num_warps']}")
    if res["regs_per_thread"] > 255:
        raise Rejected(f"needs {res['regs_per_thread']} registers per thread (255 at most)")
    occ = occupancy(spec, res["smem_bytes"], res["regs_per_thread"], config["num_warps"])
    if occ < 1:
        raise Rejected("no block fits on one SM")
    m = volume(rows, sizes)
    if p["across"] and bm < m:  # e.g. a column softmax: each key's weight needs every query
        raise Rejected(f"the loop body reduces over {p['across']}, so one program must hold "
                       f"all {int(m)} rows; BLOCK_M={bm} is smaller")
    # Bytes: each input once per block of the grid axes it lacks (tile_traffic); fused_time
    # multiplies the inputs without the stream axis by the split count.
    tiles = {a: 1 for a in batch}
    if rows:  # BLOCK_M tiles the product of the row axes; tile_traffic sees the first one
        tiles[rows[0]] = max(1, bm * (1.0 / volume(rows[1:], sizes)))
    n = sizes[stream]
    return {
        "smem_bytes": res["smem_bytes"], "regs_per_thread": res["regs_per_thread"],
        "blocks_per_sm": occ, "rows": m, "row_blocks": math.ceil(m / bm),
        "groups": int(volume(batch, sizes)),
        "loads": tile_traffic(inputs, sizes, tiles),
        "unique": {name: volume(axes, sizes) for name, axes in inputs.items()},
        "out_elems": volume(p["out_axes"], sizes),
        # one loop step's key tile: every streamed input's BLOCK_N slice
        "key_tile": sum(elt * bn * volume([a for a in axes if a not in batch and a != stream
                                           and a not in rows], sizes)
                        for axes in inputs.values() if stream in axes),
        # one split's partial state per row: every component, plus the running max
        "state_elems": sum(volume(axes, sizes) for axes in p["states"]) + (
            volume(p["shift"], sizes) / n if p["shift"] is not None else 0)}


def fused_time(p: dict, sizes: dict, dtype: str, elt: int, spec: dict, config: dict,
               splits: int = 1, fitted=None) -> tuple:
    """(predicted seconds, binding resource, seconds per resource, detail) of the stream form
    as one kernel (splits=1) or split-KV: `splits` programs per row block, each folding a chunk
    of the stream axis, then a combine kernel (⊙ over the p partial states, then the tail).
    Raises Rejected if the config does not fit; `fitted`: fit()'s answer, when known."""
    stream, inputs = p["stream"], p["inputs"]
    bm, bn = config["BLOCK_M"], config["BLOCK_N"]
    stages = config["num_stages"]
    f = fitted or fit(p, sizes, dtype, elt, spec, config)
    occ, row_blocks, out_elems = f["blocks_per_sm"], f["row_blocks"], f["out_elems"]
    n = sizes[stream]
    share = math.ceil(n / splits)
    if splits > 1 and share < bn:
        raise Rejected(f"{splits} splits leave {share} keys each, fewer than BLOCK_N={bn}")
    # as the launcher cuts the keys: whole key blocks per part, so the last parts may be empty
    # and are not launched (`splits` below is the count of parts that run)
    chunk = math.ceil(share / bn) * bn
    splits = math.ceil(n / chunk)
    programs = f["groups"] * row_blocks * splits
    # Work: the loop (every component's fold, sharing subterms) on padded tiles, then the tail.
    pad = padded(p, sizes, bm, bn, chunk)
    pad[stream] = pad[stream] * splits
    # Causal (the kernel skips key blocks past the diagonal): the loop's work, its tile loads
    # and its steps shrink to the share of blocks visited; the diagonal blocks also compute the
    # mask from indices (a compare and a select per score).
    visited = 1.0
    if p.get("causal"):
        visited = causal_visits(int(volume(p["rows"], sizes)), n, bm, bn, chunk)
    loop = [w for w in p["work"] if stream in w[0]]
    w_tensor, w_fp32, w_sfu = (a * visited + b for a, b in zip(
        counts(loop, pad), counts([w for w in p["work"] if stream not in w[0]], pad)))
    blocks = pad[stream] / bn * visited          # key blocks run, all splits together
    rows = volume(list(p["batch"]) + list(p["rows"]), pad)
    # Per row and key block: each state that is one value per row (a sum over the keys, not a
    # contraction) reduces the score tile across the quad; so does the running max.
    scalar = [axes for axes in p["states"] if all(a in p["batch"] or a in p["rows"] for a in axes)]
    reductions = len(scalar) + (p["shift"] is not None)
    w_fp32 += blocks * rows * QUAD * 2 * SHUFFLE_ROUNDS * reductions
    if p.get("causal"):
        w_fp32 += 2 * f["groups"] * row_blocks * max(1, bm // bn) * bm * bn
    if p["shift"] is not None:
        # running max: max and subtract per element of u; per key block, rescale every
        # accumulator by exp(m_old - m_new) (one multiply per state element) and update the
        # row's max (max, test for -inf, select, subtract, one exp2) on each thread of its quad.
        u = volume(p["shift"], pad) * (visited if stream in p["shift"] else 1.0)
        state = sum(volume(axes, pad) for axes in p["states"])
        w_fp32 += 2 * u + blocks * state + blocks * rows * QUAD * 4
        w_sfu += blocks * rows * QUAD
    # below wgmma's M a Hopper kernel falls back to mma.sync, at about half the rate; where
    # the dots are never wgmma (fp32 IEEE, pre-Hopper) the tile height does not matter
    wg = warpgroup_rows(spec, dtype)
    tensor_rate = spec["tensor"][dtype] * (0.5 if wg and bm < wg else 1.0)
    # Bytes: inputs without the stream axis are read once per split; L2 absorbs re-reads by
    # programs resident together.
    loads = {x: v * splits if stream not in inputs[x] else v * visited
             for x, v in f["loads"].items()}
    unique = f["unique"]
    slots = spec["sms"] * occ
    waves = math.ceil(programs / slots)
    rereads = max(1, math.ceil(row_blocks * splits / slots))   # co-resident sharers hit L2
    hbm_in = sum(min(loads[x], unique[x] * rereads) for x in loads) * elt
    smem_in = sum(loads.values()) * elt
    # fp32 partial states of a split: the main kernel writes them, the combine kernel reads
    # them back and writes the output; it runs after the main kernel, so its time adds
    partial = splits * f["state_elems"] * 4 if splits > 1 else 0.0
    hbm = hbm_in + (partial if splits > 1 else out_elems * elt)
    # Time per resource.  Compute: an SM starts a program whenever one of its `occ` slots frees,
    # not in lockstep waves, so the busiest SM runs ceil(programs / SMs) of them, c_eff at a
    # time, and a last wave that is only partly full costs the programs it holds, not a whole
    # wave (runs 3-10: charging whole waves favoured tiles that lose a co-resident program).
    sms = spec["sms"]
    per_sm = math.ceil(programs / sms)
    c_eff = min(occ, per_sm)
    per_t, per_f, per_s = w_tensor / programs, w_fp32 / programs, w_sfu / programs
    fp32_ops = spec["fp32"] / FLOPS_PER_FP32_OP
    t = {
        "tensor": per_sm * per_t / (tensor_rate / sms),
        "fp32": per_sm * per_f / (fp32_ops / sms),
        "sfu": per_sm * per_s / (spec["sfu"] / sms),
        "hbm": hbm / spec["hbm"],
        "l2": smem_in / spec["l2"],
    }
    # Latency: a program's loop is a chain of dependent steps.  With `fill` key tiles in
    # flight (stages-1, but at most the device's `tiles_in_flight`: on the H100 and H200 a
    # fourth stage measured no faster than three, while a third is 35 % faster than two) one
    # step costs (L + tile/B) / fill: few programs cannot fill HBM (decoding, unsplit).  Plus
    # one L for the first loads and one for the final store; the combine kernel of a split
    # walks the p partial states one after another.
    # The first wave fetches its key tiles from HBM.  A later wave re-reads tiles (prefill: every
    # query block reads all of K and V) that are still in L2 if the groups one wave walks fit
    # there, and then waits for the L2's latency instead of the HBM's.
    lat, stream_bw = spec["loop_latency_s"], spec["program_stream_bytes_per_s"]
    steps = math.ceil(chunk / bn)
    fill = max(1, min(stages - 1, spec["tiles_in_flight"]))
    walked = min(f["groups"], math.ceil(slots / (row_blocks * splits))) * f["key_tile"] / bn * n
    later = spec["l2_latency_s"] if row_blocks > 1 and walked <= spec["l2_bytes"] else lat
    # a causal grid's longest program still walks every block of its part
    runs = max(waves * visited, 1.0)
    walk = lat + (runs - 1) * later + runs * f["key_tile"] / stream_bw
    t["latency"] = steps * walk / fill + waves * 2 * lat
    loads_wait = t["latency"]   # what a two-stage chain waits for, besides its own compute
    if bm < SERIAL_STEP_ROWS:
        # Below wgmma's 64 rows (decoding tiles of 16) the dots are mma.sync: a warp waits for
        # its own products, then runs the step's FP32/SFU phase, and only then issues the load
        # of a later stage, so the step's compute sits on the chain of loads in flight: a loop
        # step is (L + tile/B + compute) / fill.  Runs 3-7: unsplit decoding measured
        # about latency + compute, and softcap's heavier step wants more splits (run 7's miss).
        # It depends on the config, not the sizes: the model stays monotone in them.
        t["latency"] += (t["tensor"] + t["fp32"] + t["sfu"]) / fill
    if splits > 1:  # the combine walks the p partial states one after another
        t["combine"] = max((partial + out_elems * elt) / spec["hbm"], splits * lat)
    # Chain: the tensor core works on tiles as fast as L2 delivers them (the larger of the
    # two); the CUDA-core phases of a step (FP32, SFU) depend on its contraction and feed the
    # next, and the warpgroups of an SM hide only part of them behind the tensor core: the
    # fractions `exposed_fp32` and `exposed_sfu` of their time add (MUFU ops serialise on 16
    # lanes per SM and are hidden least).  Warpgroups of one program wait for each other at
    # every step; a second program on the SM does not, and hides a further part of them
    # (`co_resident`: the factor left exposed), and each program past the second a further
    # part (`further_resident` each: BLOCK_M 64 / BLOCK_N 32 with 4 stages, 2 programs per SM
    # at D=128, measured 10-26 % slower than with 3 stages and 3 programs on MUFU-heavy
    # variants, runs 5-10).  The tile loads into SMEM and the tensor core's operand reads
    # share the SM's shared memory, so the smaller of the two is not wholly hidden under the
    # larger (`exposed_loads`): BLOCK_M 128 halves the loads per row and measured 10-17 %
    # faster than 64 where the FP32/SFU phases are light (runs 3-5).  hardware.py says where
    # these were fitted.
    exposed = 1.0
    if c_eff >= 2:
        exposed = spec["co_resident"] * spec["further_resident"] ** (c_eff - 2)
    # the warpgroups of one program meet at its barriers every step, so their CUDA-core phases
    # run at the same time and hide less behind each other's contractions (`synced_group`, for
    # each warpgroup after the first): BLOCK_M 128 with 8 warps measured 10-20 % slower than
    # two BLOCK_M 64 programs where the MUFU work is heavy (sigmoid, runs 4-8)
    exposed *= spec["synced_group"] ** max(0, config["num_warps"] // 4 - 1)
    feed = max(t["tensor"], t["l2"]) + spec["exposed_loads"] * min(t["tensor"], t["l2"])
    t["chain"] = feed + exposed * (spec["exposed_fp32"] * t["fp32"]
                                   + spec["exposed_sfu"] * t["sfu"])
    if stages < 3:  # at most one tile in flight: a step waits for most of its loads
        t["chain"] += loads_wait
    t["launch"] = spec["launch_s"] * (2 if splits > 1 else 1)
    detail = {"bytes_hbm": hbm + (partial + out_elems * elt if splits > 1 else 0),
              "bytes_to_smem": smem_in + out_elems * elt + 2 * partial,
              "flops_tensor": w_tensor, "flops_fp32": w_fp32, "ops_sfu": w_sfu,
              "programs": programs, "waves": waves, "blocks_per_sm": occ,
              "smem_bytes": f["smem_bytes"], "regs_per_thread": f["regs_per_thread"]}
    total, bound = finish(t)
    return total, bound, t, detail


def rank_key(predicted_s: float, times: dict, splits: int, config: dict) -> tuple:
    """The order of candidates, best first.  Ties (same binding time) go to the candidate whose
    other resources are lighter: real kernels overlap units imperfectly, so the less total
    work, the closer to the bound; then fewer splits, then the config."""
    return (round(predicted_s, 12), sum(times.values()), splits, sorted(config.items()))


def fitting_tiles(configs, rows: float) -> list:
    """The configs whose BLOCK_M is not taller than the rows need (16 being the MMA's least),
    or all of them if none is: a taller tile only adds padded rows, and the model has no
    measurement of such a kernel (a decoding query in a 64-row tile).  The search skips them;
    a BLOCK_M the user fixed is kept whatever the rows.

    >>> [c["BLOCK_M"] for c in fitting_tiles([{"BLOCK_M": m} for m in (16, 64, 128)], 1)]
    [16]
    >>> [c["BLOCK_M"] for c in fitting_tiles([{"BLOCK_M": 64}], 1)]
    [64]
    """
    configs = list(configs)
    out = [c for c in configs if c["BLOCK_M"] <= 16 or c["BLOCK_M"] < 2 * rows]
    return out or configs


def worth_splitting(unsplit_programs: int, sms: int) -> bool:
    """Whether the search tries split-KV beside the unsplit kernel of a config: only where the
    unsplit grid leaves SMs without a program.  Split-KV exists to fill idle SMs; once every SM
    has a program, splitting the keys only trades a wave tail for a combine pass and the
    partial states' traffic, and measured slower at every such shape of runs 2-8 (1.02-2.45x,
    bench/costmodel_measured_run*.json) while the model, which counts wave tails whole,
    sometimes preferred it (run 8's miss; run 9 held it out, docs/costmodel.md).  A split
    count the user fixes is still costed.

    >>> worth_splitting(32, 132), worth_splitting(132, 132), worth_splitting(1920, 132)
    (True, False, False)
    """
    return unsplit_programs < sms


def first_per_tile(ranked):
    """Of candidates `(config, splits, ...)` sorted best first, the first of each tile shape
    (BLOCK_M, BLOCK_N, splits): the short list an exported module times when asked to (its
    TUNE, autotune).  The model predicts a tile's warps and stages variants within a few per
    cent of each other, and is least sure across tile shapes (occupancy, wave tails, the
    per-step overheads of BLOCK_N: docs/costmodel.md), so the timings go there.

    >>> c = lambda m, n, s: {"BLOCK_M": m, "BLOCK_N": n, "num_stages": s}
    >>> [(x[0]["BLOCK_N"], x[0]["num_stages"], x[1]) for x in first_per_tile(
    ...     [(c(64, 64, 3), 1), (c(64, 64, 4), 1), (c(64, 128, 3), 1), (c(64, 64, 3), 2)])]
    [(64, 3, 1), (128, 3, 1), (64, 3, 2)]
    """
    seen = set()
    for c in ranked:
        tile = (c[0]["BLOCK_M"], c[0]["BLOCK_N"], c[1])
        if tile not in seen:
            seen.add(tile)
            yield c


def ranked(p: dict, sizes: dict, dtype: str, elt: int, spec: dict, configs, splits=SPLITS,
           top: int = 1, per_tile: bool = False) -> list:
    """The `top` best (config, splits, predicted seconds, binding resource) over `configs` ×
    `splits` by rank_key (fitting_tiles of them), best first; [] when the device accepts none;
    `per_tile`: only the first of each tile shape (first_per_tile).  When `splits` offers the
    unsplit kernel (1) too, split counts are tried only for configs whose unsplit grid leaves
    SMs idle (worth_splitting); without it they are what the caller fixed."""
    found = []
    for cfg in fitting_tiles(configs, volume(p["rows"], sizes)):
        try:
            fitted = fit(p, sizes, dtype, elt, spec, cfg)
        except Rejected:
            continue
        tried = splits
        if 1 in splits and not worth_splitting(fitted["groups"] * fitted["row_blocks"],
                                                spec["sms"]):
            tried = (1,)
        for s in sorted(tried):
            try:
                total, bound, t, _ = fused_time(p, sizes, dtype, elt, spec, cfg, s, fitted)
            except Rejected:  # too few keys per part: more parts leave fewer still
                break
            found.append((rank_key(total, t, s, cfg), cfg, s, total, bound))
    found.sort(key=lambda x: x[0])
    found = [x[1:] for x in found]
    if per_tile:
        found = list(first_per_tile(found))
    return found[:top]


def choose(p: dict, sizes: dict, dtype: str, elt: int, spec: dict, configs, splits=SPLITS):
    """ranked's first: the best (config, splits, predicted seconds, binding resource), or None
    when the device accepts none of the candidates."""
    best = ranked(p, sizes, dtype, elt, spec, configs, splits)
    return best[0] if best else None


def device_figures(devices: dict, gpu_name: str, sms=None, limits=None, capability=None) -> tuple:
    """(figures, how) for the GPU named `gpu_name` (torch.cuda.get_device_name).

    A name containing a known device's name ("NVIDIA H100 80GB HBM3" -> h100) takes its figures.
    An unknown GPU, or a known one with another SM count (`sms`; e.g. H100 PCIe, 114 SMs), takes
    the H100's figures scaled by SM count: SMs and the whole-chip tensor/FP32/SFU/L2 rates in
    proportion, HBM bandwidth and latencies unchanged (there is no better guess), and the
    per-SM and per-block limits from `limits` (the device's own, where torch reports them).
    `capability`: the device's (major, minor) compute capability, where known; only sm_90 has
    wgmma, so on any other the warpgroup rule is off (warpgroup_rows 0), whatever the name.

    >>> figs = {"h100": {"name": "h100", "sms": 132, "tensor": {"bf16": 1.0}, "fp32": 1.0,
    ...                  "sfu": 1.0, "l2": 1.0, "hbm": 1.0, "warpgroup_rows": 64}}
    >>> device_figures(figs, "NVIDIA H100 80GB HBM3", capability=(9, 0))[1]
    'h100'
    >>> f, how = device_figures(figs, "NVIDIA RTX 6000 Ada Generation", sms=66)
    >>> how, f["sms"], f["tensor"]["bf16"], f["hbm"]
    ('h100 figures scaled by SM count (66 SMs)', 66, 0.5, 1.0)
    >>> f, how = device_figures(figs, "NVIDIA RTX 6000 Ada Generation", 142, None, (8, 9))
    >>> f["warpgroup_rows"], how
    (0, 'h100 figures scaled by SM count (142 SMs), no wgmma on sm_89')
    """
    low = gpu_name.lower().replace("-", " ")
    name = next((d for d in sorted(devices, key=len, reverse=True) if d in low), None)
    base = devices[name] if name else devices["h100"]
    if name and (sms is None or sms == base["sms"]):
        out, how = base, name
    else:
        sms = sms or base["sms"]
        f = sms / base["sms"]
        out = dict(base, sms=sms, fp32=base["fp32"] * f, sfu=base["sfu"] * f, l2=base["l2"] * f,
                   tensor={k: v * f for k, v in base["tensor"].items()})
        out.update({k: v for k, v in (limits or {}).items() if v})
        out["name"] = gpu_name
        how = f"{base['name']} figures scaled by SM count ({sms} SMs)"
    if capability and capability[0] != 9 and out.get("warpgroup_rows"):
        out = dict(out, warpgroup_rows=0)
        how += f", no wgmma on sm_{capability[0]}{capability[1]}"
    return out, how
