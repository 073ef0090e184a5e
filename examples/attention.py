"""Attention variants as plain PyTorch, each with its expected streamability along the key axis j.

Shapes: q (b, h, i, d), k (b, h, j, d), v (b, h, j, e); scores s_ij = q_i · k_j / √d.
Sources: Abbott et al., "Accelerating Machine Learning Systems via Category Theory: Applications
to Spherical Attention for Gene Regulatory Networks", arXiv 2505.09326 (normalised contractions
N(x) = a1(x) / b(Σ a2(x)) are streamable, Theorem 1); Khatri et al., "On the Anatomy of
Attention", arXiv 2407.02423 (the taxonomy of score activations and normalisers); and the papers
named below.

Streamable along j means: a finite state, folded chunk by chunk over j with an associative
combine, followed by a tail (docs/theory.md §2).  The verdicts are mathematical facts, not
what a tool happens to say: a normaliser a1(s)/b(Σ_j a2(s)) (any a1, a2, b) is streamable; a
sort, median or threshold search over the whole row is not, and neither is a nonlinearity
applied after the normalisation (f(a1(s)/Z) with f not a power or exponential keeps Z inside
the sum over j; docs/theory.md §8).
"""
import torch
import torch.nn.functional as F

AXES = "q: b h i d, k: b h j d, v: b h j e"


def _scores(q, k):
    return q @ k.mT / q.shape[-1] ** 0.5


# --- streamable: a normalised contraction a1(s) / b(Σ_j a2(s)) over j ------------------------

def softmax(q, k, v):
    """out = Σ_j e^{s_ij} v_j / Σ_j e^{s_ij}  (Vaswani et al. 2017; a1 = a2 = exp, b = id)."""
    return torch.softmax(_scores(q, k), dim=-1) @ v


def spherical(q, k, v, eps=1e-6):
    """out = Σ_j s_ij v_j / √(Σ_j s_ij² + ε)  (arXiv 2505.09326: L2 in place of SoftMax;
    a1 = id, a2 = square, b = √(· + ε); docs/theory.md §5)."""
    s = q @ k.mT / q.shape[-1] ** 0.5
    return (s @ v) / torch.sqrt(s.square().sum(dim=-1, keepdim=True) + eps)


def sigmoid(q, k, v):
    """out = Σ_j σ(s_ij) v_j  (sigmoid attention, Ramapuram et al. 2024; no normaliser)."""
    return torch.sigmoid(_scores(q, k)) @ v


def relu(q, k, v):
    """out = Σ_j relu(s_ij) v_j  (ReLU attention; the elementwise-activation branch of
    arXiv 2407.02423)."""
    return F.relu(_scores(q, k)) @ v


def relu_squared(q, k, v):
    """out = Σ_j relu(s_ij)² v_j  (ReLU², as in Primer-style activations)."""
    return F.relu(_scores(q, k)) ** 2 @ v


def linear(q, k, v):
    """out = Σ_j (q_i · k_j) v_j  (linear attention with identity feature map, Katharopoulos
    et al. 2020, M0 of arXiv 2407.02423; no normaliser)."""
    return (q @ k.transpose(-2, -1)) @ v


def linear_elu(q, k, v):
    """out_i = Σ_j (φ(q_i)·φ(k_j)) v_j / Σ_j φ(q_i)·φ(k_j), φ = elu + 1  (linear attention with
    its normaliser, Katharopoulos et al. 2020; computed quadratically here, as written)."""
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    a = fq @ fk.mT
    return (a @ v) / a.sum(dim=-1, keepdim=True)


def l1(q, k, v):
    """out = Σ_j s_ij v_j / max(Σ_j |s_ij|, ε)  (L1-normalised scores, F.normalize with p=1)."""
    return F.normalize(_scores(q, k), p=1.0, dim=-1) @ v


def pnorm3(q, k, v):
    """out = Σ_j s_ij v_j / (Σ_j |s_ij|³)^{1/3}  (p-norm normaliser, p = 3)."""
    s = _scores(q, k)
    return s / torch.norm(s, p=3, dim=-1, keepdim=True) @ v


def maxabs(q, k, v):
    """out = Σ_j s_ij v_j / max_j |s_ij|  (max-abs normaliser: its state is a max, a monoid)."""
    s = _scores(q, k)
    return (s / s.abs().amax(dim=-1, keepdim=True)) @ v


def softcap(q, k, v, cap=30.0):
    """out = softmax_j(c · tanh(s_ij / c)) v  (logit soft-capping, Gemma 2; c = 30)."""
    s = cap * torch.tanh(_scores(q, k) / cap)
    return torch.softmax(s, dim=-1) @ v


def alibi(q, k, v, bias):
    """out = softmax_j(s_ij + β_hij) v  (additive position bias as an input, ALiBi-like:
    Press et al. 2022 use β_hij = −m_h |i − j|)."""
    return torch.softmax(_scores(q, k) + bias, dim=-1) @ v


def masked(q, k, v, mask):
    """out = softmax_j(s_ij, −∞ where the key is padding) v  (a boolean key-padding mask b j)."""
    s = _scores(q, k).masked_fill(~mask[:, None, None, :], float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def causal(q, k, v, mask):
    """out_i = Σ_{j ≤ i} e^{s_ij} v_j / Σ_{j ≤ i} e^{s_ij}  (causal softmax; the lower-triangular
    mask is a boolean input over i j)."""
    s = _scores(q, k).masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def causal_inline(q, k, v):
    """out_i = Σ_{j ≤ i} e^{s_ij} v_j / Σ_{j ≤ i} e^{s_ij}  (causal softmax with the mask built
    inside from the sizes, torch.tril(torch.ones(n, m)): the positions compared, #j ≤ #i)."""
    s = _scores(q, k)
    mask = torch.tril(torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device))
    return torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v


def alibi_inline(q, k, v, slopes):
    """out = softmax_j(s_ij − m_h |i − j|) v  (ALiBi, Press et al. 2022, with the bias built from
    the positions i and j inside the function; one slope m_h per head)."""
    s = _scores(q, k)
    i = torch.arange(q.shape[-2], device=q.device)
    j = torch.arange(k.shape[-2], device=q.device)
    s = s - slopes[:, None, None] * (i[:, None] - j[None, :]).abs()
    return torch.softmax(s, dim=-1) @ v


def lse(q, k):
    """out_i = log Σ_j e^{s_ij}  (the logsumexp FlashAttention saves for the backward pass)."""
    return torch.logsumexp(_scores(q, k), dim=-1)


def softpick(q, k, v, eps=1e-6):
    """out = Σ_j relu(e^{s_ij} − 1) v_j / (Σ_j |e^{s_ij} − 1| + ε)  (softpick, Zuhri et al.
    2025: rectified, so attention sinks can reach zero)."""
    x = torch.exp(_scores(q, k)) - 1
    return F.relu(x) / (x.abs().sum(dim=-1, keepdim=True) + eps) @ v


def softmax_squared(q, k, v):
    """out = Σ_j softmax_j(s)² v_j = Σ_j e^{2 s} v_j / (Σ_j e^{s})²  (a power of the softmax:
    (a/Z)² = a²/Z², so Z leaves the sum)."""
    return torch.softmax(_scores(q, k), dim=-1) ** 2 @ v


def column_softmax(q, k, v):
    """out = Σ_j softmax_i(s)_ij v_j  (normalised over the query axis i: each key j's weights
    need only that key's column, so the sum over j streams)."""
    return torch.softmax(_scores(q, k), dim=-2) @ v


def gqa(q, k, v):
    """Grouped-query attention: r query heads share each key/value head g (Ainslie et al. 2023);
    q (b, g, r, i, d), k (b, g, j, d), v (b, g, j, e).  Softmax attention per head, with k and v
    broadcast over r."""
    s = q @ k[:, :, None].transpose(-2, -1) / q.shape[-1] ** 0.5
    return torch.softmax(s, dim=-1) @ v[:, :, None]


def mqa(q, k, v):
    """Multi-query attention: every query head shares one key/value head (Shazeer 2019);
    q (b, h, i, d), k (b, j, d), v (b, j, e)."""
    s = q @ k[:, None].transpose(-2, -1) / q.shape[-1] ** 0.5
    return torch.softmax(s, dim=-1) @ v[:, None]


def relu_count(q, k, v):
    """out = Σ_j relu(s_ij) v_j / n  (ReLU divided by the sequence length n = |j|)."""
    return F.relu(_scores(q, k)) / k.shape[-2] @ v


# --- not streamable: the weights need the whole row first -----------------------------------

def sparsemax(q, k, v):
    """out = Σ_j max(s_ij − τ_i, 0) v_j, τ from the sorted row: k* = max{r : 1 + r z_r > Σ_{t≤r}
    z_t}, τ = (Σ_{t≤k*} z_t − 1) / k*  (Martins & Astudillo 2016, written as usual, with a sort)."""
    s = _scores(q, k)
    z, _ = torch.sort(s, dim=-1, descending=True)
    cs = z.cumsum(dim=-1) - 1
    r = torch.arange(1, s.shape[-1] + 1, dtype=s.dtype)
    support = (r * z > cs).sum(dim=-1, keepdim=True)
    tau = cs.gather(-1, support - 1) / support
    return torch.clamp(s - tau, min=0) @ v


def entmax15(q, k, v):
    """out = Σ_j max(s/2 − τ, 0)² v_j, τ by the sort-based exact algorithm  (1.5-entmax,
    Peters et al. 2019)."""
    x = _scores(q, k) / 2
    x = x - x.amax(dim=-1, keepdim=True)
    z, _ = torch.sort(x, dim=-1, descending=True)
    rho = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    mean = z.cumsum(dim=-1) / rho
    mean_sq = (z ** 2).cumsum(dim=-1) / rho
    delta = (1 - rho * (mean_sq - mean ** 2)) / rho
    tau = mean - torch.sqrt(torch.clamp(delta, min=0))
    support = (tau <= z).sum(dim=-1, keepdim=True)
    tau_star = tau.gather(-1, support - 1)
    return torch.clamp(x - tau_star, min=0) ** 2 @ v


def median_norm(q, k, v):
    """out = Σ_j s_ij v_j / median_j |s_ij|  (a median normaliser: an order statistic of the
    whole row, not a fold)."""
    s = _scores(q, k)
    return s / s.abs().median(dim=-1, keepdim=True).values @ v


def exp_after_softmax(q, k, v):
    """out = Σ_j exp(softmax_j(s)_ij) v_j  (a nonlinearity after the normalisation: Z stays
    inside exp, inside the sum over j)."""
    return torch.exp(torch.softmax(_scores(q, k), dim=-1)) @ v


def tanh_after_l2(q, k, v):
    """out = Σ_j tanh(s_ij / ‖s_i‖₂) v_j  (tanh after an L2 normalisation)."""
    s = _scores(q, k)
    return torch.tanh(s / s.norm(dim=-1, keepdim=True)) @ v


def _entry(streamable, note, axes=AXES):
    return {"axes": axes, "stream": "j", "streamable": streamable,
            "expected": "streamable" if streamable else "not streamable", "note": note}


EXAMPLES = {
    "softmax": _entry(True, "a1 = a2 = exp, b = id: state (Σ e^s v, Σ e^s), with a running max"),
    "spherical": _entry(True, "a1 = id, a2 = square, b = √(·+ε): state (Σ s v, Σ s²)"),
    "sigmoid": _entry(True, "no normaliser: a plain contraction over j"),
    "relu": _entry(True, "no normaliser: a plain contraction over j"),
    "relu_squared": _entry(True, "no normaliser: a plain contraction over j"),
    "linear": _entry(True, "a contraction over j (linear splitting)"),
    "linear_elu": _entry(True, "a1 = a2 = id on the positive kernel φ(q)·φ(k): state "
                         "(Σ a v, Σ a)"),
    "l1": _entry(True, "a2 = |·|, b = max(·, ε): state (Σ s v, Σ |s|)"),
    "pnorm3": _entry(True, "a2 = |·|³, b = (·)^(1/3): state (Σ s v, Σ |s|³)"),
    "maxabs": _entry(True, "the normaliser is a max-fold: state (Σ s v, max |s|)"),
    "softcap": _entry(True, "softmax of c·tanh(s/c), an elementwise map of s"),
    "alibi": _entry(True, "the bias is an input over j: the map before the softmax is j-local",
                    AXES + ", bias: h i j"),
    "masked": _entry(True, "masking is elementwise (−∞ gives weight 0); rows need one valid key",
                     AXES + ", mask: b j"),
    "causal": _entry(True, "a boolean mask over i j: elementwise before the softmax",
                     AXES + ", mask: i j"),
    "causal_inline": _entry(True, "the mask #j ≤ #i compares positions: a position along j is "
                            "a per-key leaf, so the map before the softmax is j-local"),
    "alibi_inline": _entry(True, "the bias −m_h |#i − #j| is built from positions, per key: "
                           "j-local, with a running max", AXES + ", slopes: h"),
    "lse": _entry(True, "m + log Σ e^(s−m): state (max s, Σ e^s)", "q: b h i d, k: b h j d"),
    "softpick": _entry(True, "a1 = relu(e^s − 1), a2 = |e^s − 1|, b = · + ε: state (Σ a1 v, "
                       "Σ a2); no running max (relu(e^s − 1) is not shift-covariant)"),
    "softmax_squared": _entry(True, "(e^s/Z)² = e^(2s)/Z²: state (Σ e^(2s) v, Σ e^s)"),
    "column_softmax": _entry(True, "the softmax is over i, so each key's weights are j-local"),
    "relu_count": _entry(True, "divided by n = Σ_j 1, itself a fold"),
    "gqa": _entry(True, "softmax per query head; k, v shared by the r heads of a group (no r "
                  "axis): the same state (Σ e^s v, Σ e^s)", "q: b g r i d, k: b g j d, v: b g j e"),
    "mqa": _entry(True, "softmax per query head; one k, v for all heads (no h axis): the same "
                  "state (Σ e^s v, Σ e^s)", "q: b h i d, k: b j d, v: b j e"),
    "sparsemax": _entry(False, "the threshold τ comes from sorting the whole row over j"),
    "entmax15": _entry(False, "the threshold τ comes from sorting the whole row over j"),
    "median_norm": _entry(False, "a median over j is an order statistic, not a fold"),
    "exp_after_softmax": _entry(False, "exp(e^s/Z) keeps the total Z inside the sum over j"),
    "tanh_after_l2": _entry(False, "tanh(s/‖s‖) keeps the norm over j inside the sum over j"),
}
