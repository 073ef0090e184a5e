"""Kernels the cost-model validation times when the generated ones are not at hand.

Needs only torch and triton (the device machine has no egglog and no wirefuse install).  These
are plain hand-written Triton loops with the structure the lowering emits for a stream form
(docs/theory.md §2): one program per (row block, batch·head[, split]), fp32 state accumulators,
`tl.dot` for both contractions; softmax keeps the running max m (the shift) and rescales.

* `fused(q, k, v, variant, BLOCK_M, BLOCK_N, num_warps, num_stages)`
* `split(q, k, v, variant, p, ...)`: p chunks of keys folded in parallel into fp32 partial states,
  then `_combine` applies ⊙ over the p states and the tail.
* `unfused(q, k, v, variant)`: the user's PyTorch, op by op (eager).
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

SCALE = 0.088  # the constant in the reference normal forms (≈ 1/sqrt(128))


@triton.jit
def _stream_fold(Q, K, V, O, PM, PZ, Nq, Nk, chunk, scale,
                 sqb, sqn, skb, skn, svb, svn, sob, son,
                 SOFTMAX: tl.constexpr, SPLIT: tl.constexpr, BLOCK_M: tl.constexpr,
                 BLOCK_N: tl.constexpr, D: tl.constexpr, E: tl.constexpr):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    sp = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    offs_e = tl.arange(0, E)
    q = tl.load(Q + bh * sqb + offs_m[:, None] * sqn + offs_d[None, :],
                mask=offs_m[:, None] < Nq, other=0.0)
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    z = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, E], tl.float32)
    start = sp * chunk
    end = tl.minimum(start + chunk, Nk)
    for n0 in range(start, end, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        valid = offs_n < end
        k = tl.load(K + bh * skb + offs_n[:, None] * skn + offs_d[None, :],
                    mask=valid[:, None], other=0.0)
        s = tl.dot(q, tl.trans(k)) * scale
        if SOFTMAX:
            s = tl.where(valid[None, :], s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(s - m_new[:, None])
            z = z * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None]
            m_i = m_new
        else:
            p = tl.where(valid[None, :], s, 0.0)
            z += tl.sum(p * p, 1)
        v = tl.load(V + bh * svb + offs_n[:, None] * svn + offs_e[None, :],
                    mask=valid[:, None], other=0.0)
        acc += tl.dot(p.to(v.dtype), v)
    if SPLIT:
        # partial states, fp32: PO[sp, bh, m, e], PM/PZ[sp, bh, m]
        base = (sp * tl.num_programs(1) + bh) * Nq
        tl.store(O + (base + offs_m[:, None]) * E + offs_e[None, :], acc,
                 mask=offs_m[:, None] < Nq)
        tl.store(PM + base + offs_m, m_i, mask=offs_m < Nq)
        tl.store(PZ + base + offs_m, z, mask=offs_m < Nq)
    else:
        if SOFTMAX:
            out = acc / z[:, None]
        else:
            out = acc / tl.sqrt(z)[:, None]
        tl.store(O + bh * sob + offs_m[:, None] * son + offs_e[None, :],
                 out.to(O.dtype.element_ty), mask=offs_m[:, None] < Nq)


@triton.jit
def _combine(PO, PM, PZ, O, Nq, S, BH, sob, son, SOFTMAX: tl.constexpr, BLOCK_M: tl.constexpr,
             E: tl.constexpr):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_e = tl.arange(0, E)
    rmask = offs_m < Nq
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    z = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, E], tl.float32)
    for sp in range(0, S):
        base = (sp * BH + bh) * Nq
        o = tl.load(PO + (base + offs_m[:, None]) * E + offs_e[None, :], mask=rmask[:, None],
                    other=0.0)
        zs = tl.load(PZ + base + offs_m, mask=rmask, other=0.0)
        if SOFTMAX:
            ms = tl.load(PM + base + offs_m, mask=rmask, other=float("-inf"))
            m_new = tl.maximum(m_i, ms)
            a = tl.where(m_i == m_new, 1.0, tl.exp(m_i - m_new))
            b = tl.where(ms == m_new, 1.0, tl.exp(ms - m_new))
            acc = acc * a[:, None] + o * b[:, None]
            z = z * a + zs * b
            m_i = m_new
        else:
            acc += o
            z += zs
    if SOFTMAX:
        out = acc / z[:, None]
    else:
        out = acc / tl.sqrt(z)[:, None]
    tl.store(O + bh * sob + offs_m[:, None] * son + offs_e[None, :], out.to(O.dtype.element_ty),
             mask=rmask[:, None])


def _flat(x):
    b, h, n, d = x.shape
    return x.reshape(b * h, n, d)


def split(q, k, v, variant: str, p: int, BLOCK_M=64, BLOCK_N=64, num_warps=4, num_stages=2):
    """Split-KV (p > 1) or the plain fused kernel (p == 1)."""
    B, H, Nq, D = q.shape
    Nk, E = k.shape[2], v.shape[3]
    qf, kf, vf = _flat(q), _flat(k), _flat(v)
    out = torch.empty(B * H, Nq, E, device=q.device, dtype=q.dtype)
    sm = variant == "softmax"
    grid_m = triton.cdiv(Nq, BLOCK_M)
    if p == 1:
        _stream_fold[(grid_m, B * H, 1)](
            qf, kf, vf, out, out, out, Nq, Nk, Nk, SCALE,
            qf.stride(0), qf.stride(1), kf.stride(0), kf.stride(1), vf.stride(0), vf.stride(1),
            out.stride(0), out.stride(1), SOFTMAX=sm, SPLIT=False, BLOCK_M=BLOCK_M,
            BLOCK_N=BLOCK_N, D=D, E=E, num_warps=num_warps, num_stages=num_stages)
        return out.reshape(B, H, Nq, E)
    chunk = triton.cdiv(triton.cdiv(Nk, p), BLOCK_N) * BLOCK_N
    po = torch.empty(p, B * H, Nq, E, device=q.device, dtype=torch.float32)
    pm = torch.empty(p, B * H, Nq, device=q.device, dtype=torch.float32)
    pz = torch.empty(p, B * H, Nq, device=q.device, dtype=torch.float32)
    _stream_fold[(grid_m, B * H, p)](
        qf, kf, vf, po, pm, pz, Nq, Nk, chunk, SCALE,
        qf.stride(0), qf.stride(1), kf.stride(0), kf.stride(1), vf.stride(0), vf.stride(1),
        0, 0, SOFTMAX=sm, SPLIT=True, BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, D=D, E=E,
        num_warps=num_warps, num_stages=num_stages)
    cbm = 16 if Nq <= 16 else 32
    _combine[(triton.cdiv(Nq, cbm), B * H)](po, pm, pz, out, Nq, p, B * H, out.stride(0),
                                            out.stride(1), SOFTMAX=sm, BLOCK_M=cbm, E=E,
                                            num_warps=4)
    return out.reshape(B, H, Nq, E)


def fused(q, k, v, variant, **cfg):
    return split(q, k, v, variant, 1, **cfg)


def unfused(q, k, v, variant: str):
    """What a researcher writes in PyTorch: scores, normaliser, values, op by op."""
    s = (q @ k.transpose(-1, -2)) * SCALE
    if variant == "softmax":
        w = torch.softmax(s, dim=-1)
    else:
        w = s / s.norm(dim=-1, keepdim=True)
    return w @ v


def reference(q, k, v, variant: str):
    """float64 on the device: the check every timed kernel must pass first."""
    return unfused(q.double(), k.double(), v.double(), variant)


def rel_err(out, ref) -> float:
    return float((out.double() - ref).norm() / ref.norm())


__all__ = ["fused", "split", "unfused", "reference", "rel_err", "SCALE", "math"]
