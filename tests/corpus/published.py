"""Published attention (and normalise-and-reduce) variants, written the way their public code
writes them: views and reshapes, in-place masking, torch.finfo minima, masks built from sizes.

Groundwork for generality: much of this lies just past what the tracer, prover and lowering
accept today (tests/corpus/SURVEY.md says where each stops).  Not under examples/, so
tests/test_prove_examples.py does not glob it; tests/test_published_corpus.py loads it by path.

Verdicts are mathematical facts about streaming along the key axis j (a finite state folded
chunk by chunk with an associative combine, then a tail; the criterion of examples/attention.py),
not what the tool says today.  A normalised contraction a1(s)/b(Σ_j a2(s)) streams; so does a
bounded top-k or an ordered (non-commutative) prefix fold.  A threshold fixed by sorting or by a
root search over the whole row, an iteration alternating sums over i and j, or a temperature
chosen from the whole row's entropy does not.  The code is written afresh; each docstring names
the paper (title, arXiv id) and the repository file whose way of writing it follows.
"""
import math

import torch
import torch.nn.functional as F

AXES = "q: b h i d, k: b h j d, v: b h j e"


# --- streamable ------------------------------------------------------------------------------

def gptoss_sinks(q, k, v, sinks):
    """A learned per-head sink logit appended as an extra key column, softmax, column dropped
    ("gpt-oss-120b & gpt-oss-20b Model Card", arXiv 2508.10925; openai/gpt-oss
    gpt_oss/torch/model.py `sdpa`: torch.cat([QK, S], dim=-1), softmax, W[..., :-1]).
    Σ_j e^s v / (Σ_j e^s + e^{S_h}): the sink only adds to the denominator in the tail."""
    qk = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(q.shape[-1])
    s = sinks.reshape(1, -1, 1, 1).expand(qk.shape[0], -1, qk.shape[2], 1)
    w = torch.softmax(torch.cat([qk, s], dim=-1), dim=-1)[..., :-1]
    return torch.einsum("bhij,bhje->bhie", w, v)


def differential(q, k, v, lq1, lk1, lq2, lk2, lambda_init=0.8):
    """softmax1 − λ softmax2 over two query/key halves split by a view ("Differential
    Transformer", arXiv 2410.05258; microsoft/unilm Diff-Transformer/multihead_diffattn.py:
    attn_weights.view(bsz, h, 2, tgt, src), [:, :, 0] − λ [:, :, 1]).  q, k carry 2h heads."""
    b, hh, n, d = q.shape
    w = torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, dim=-1)
    lam = torch.exp(torch.sum(lq1 * lk1, dim=-1)) - torch.exp(torch.sum(lq2 * lk2, dim=-1)) \
        + lambda_init
    w = w.view(b, hh // 2, 2, n, k.shape[-2])
    w = w[:, :, 0] - lam * w[:, :, 1]
    return torch.matmul(w, v) * (1 - lambda_init)


def sigmoid_logn(q, k, v):
    """σ(s − log n), n the key count ("Theory, Analysis, and Best Practices for Sigmoid
    Self-Attention", arXiv 2409.04431; apple/ml-sigmoid-attention
    attention_simulator/src/attention_simulator/layers/attention.py, bias b = −log n)."""
    n = k.shape[-2]
    return torch.sigmoid(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) - math.log(n)) @ v


def softpick_causal(q, k, v, eps=1e-8):
    """Max-shifted softpick relu(e^{x−m} − e^{−m}) / (Σ|·| + ε) under a causal mask sliced from a
    square tril ("Softpick: No Attention Sink, No Massive Activations with Rectified Softmax",
    arXiv 2504.20966; zaydzuhri/softpick-attention naive_softpick_attn.py).  The shift gives
    relu(e^x − 1) / (Σ|e^x − 1| + ε e^m): state (Σ relu(e^x−1) v, Σ|e^x−1|, max x)."""
    q_len, k_len = q.shape[-2], k.shape[-2]
    mask = torch.tril(torch.ones(k_len, k_len))
    x = torch.matmul(q, k.transpose(2, 3)) * q.shape[-1] ** -0.5
    x = x.masked_fill(mask[k_len - q_len:k_len, :k_len] == 0, float("-inf"))
    x_m = torch.max(x, dim=-1, keepdim=True).values
    x_e_1 = torch.exp(x - x_m) - torch.exp(-x_m)
    a = torch.where(x.isfinite(), torch.abs(x_e_1), 0)
    return torch.matmul(F.relu(x_e_1) / (torch.sum(a, dim=-1, keepdim=True) + eps), v)


def _alibi_slopes(n):
    # the geometric slopes of the ALiBi repository, for a power of two heads
    start = 2 ** (-2 ** -(math.log2(n) - 3))
    return [start * start ** i for i in range(n)]


def alibi_fairseq(q, k, v):
    """ALiBi as its repository writes it: bias m_h · j (not −m_h|i − j|: the −m_h i part is
    constant along j and cancels in the softmax) plus a −inf future mask ("Train Short, Test
    Long: Attention with Linear Biases Enables Input Length Extrapolation", arXiv 2108.12409;
    ofirpress/attention_with_linear_biases fairseq/models/transformer.py)."""
    h, n, m = q.shape[1], q.shape[-2], k.shape[-2]
    slopes = torch.tensor(_alibi_slopes(h), dtype=q.dtype)
    alibi = slopes.unsqueeze(1).unsqueeze(1) * torch.arange(m).unsqueeze(0).unsqueeze(0)
    future = torch.triu(torch.full((n, m), float("-inf")), 1)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + alibi + future
    return torch.softmax(s, dim=-1) @ v


def performer_favor(q, k, v, proj, eps=1e-4):
    """FAVOR+ positive random features with ε, the key features shifted by their global max,
    then non-causal linear attention ("Rethinking Attention with Performers", arXiv 2009.14794;
    lucidrains/performer-pytorch performer_pytorch/performer_pytorch.py `softmax_kernel`,
    `linear_attention`).  The max over all keys survives the ε: Σ_j (e^{a_j − M} + ε) w_j =
    e^{−M} Σ e^{a} w + ε Σ w, a max-fold and sums: streamable with rescaling."""
    dn = q.shape[-1] ** -0.25
    ratio = proj.shape[0] ** -0.5

    def features(x, is_query):
        dash = torch.einsum("...id,jd->...ij", dn * x, proj)
        diag = (torch.sum(x ** 2, dim=-1) / 2.0 * dn ** 2).unsqueeze(-1)
        if is_query:
            return ratio * (torch.exp(dash - diag - torch.max(dash, dim=-1, keepdim=True).values) + eps)
        return ratio * (torch.exp(dash - diag - torch.max(dash)) + eps)

    fq, fk = features(q, True), features(k, False)
    d_inv = 1.0 / torch.einsum("...nd,...d->...n", fq, fk.sum(dim=-2))
    context = torch.einsum("...nd,...ne->...de", fk, v)
    return torch.einsum("...de,...nd,...n->...ne", context, fq, d_inv)


def swinv2_cosine(q, k, v, logit_scale, rel_bias):
    """Cosine attention: normalised q, k, a learned clamped log-scale per head, a relative
    position bias 16σ(table) ("Swin Transformer V2: Scaling Up Capacity and Resolution",
    arXiv 2111.09883; microsoft/Swin-Transformer models/swin_transformer_v2.py)."""
    attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    scale = torch.clamp(logit_scale, max=math.log(1.0 / 0.01)).exp()
    attn = attn * scale[:, None, None] + 16 * torch.sigmoid(rel_bias)
    return attn.softmax(dim=-1) @ v


def l2_distance(q, k, v):
    """softmax(−‖q_i − k_j‖² / √d) via torch.cdist ("The Lipschitz Constant of Self-Attention",
    arXiv 2006.04710; lucidrains/x-transformers x_transformers/attend.py `qk_l2_dist_squared`).
    −‖q‖² + 2 q·k − ‖k‖²: a j-local map of the scores."""
    sim = -(torch.cdist(q, k) ** 2) * q.shape[-1] ** -0.5
    return torch.einsum("bhij,bhje->bhie", sim.softmax(dim=-1), v)


def stickbreaking(q, k, v):
    """Stick-breaking weights A_ij = σ(z_ij) Π_{j<t<i} (1 − σ(z_it)) in log space, the product
    a contraction with a strictly-lower-triangular matrix ("Scaling Stick-Breaking Attention: An
    Efficient Implementation and In-depth Study", arXiv 2410.17980; shawntan/stickbreaking-attention
    stickbreaking_attention/sb_ref.py).  Streamable along j with an ordered monoid: folding keys
    from i backwards, state (acc, log Π) with (a1, p1)·(a2, p2) = (a1 + e^{p1} a2, p1 + p2)."""
    n, m = q.shape[-2], k.shape[-2]
    logits = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(n, m, dtype=torch.bool).triu(m - n)  # keys at or after the query
    log_z = F.logsigmoid(logits).masked_fill(mask, -1e5)
    log_beta = F.logsigmoid(-logits).masked_fill(mask, 0)
    cum_weight = torch.tril(torch.ones(m, m), diagonal=-1).to(log_beta)
    log_att = log_z + torch.einsum("bhij,jk->bhik", log_beta, cum_weight)
    return log_att.exp() @ v


def llama4_temperature(q, k, v, attn_scale=0.1, floor_scale=8192.0):
    """Query scaled by log(⌊(pos + 1)/F⌋ + 1) · a + 1 per query position, a length-dependent
    logit temperature ("Scalable-Softmax Is Superior for Attention", arXiv 2501.19399;
    huggingface/transformers src/transformers/models/llama4/modeling_llama4.py, attn_scales).
    The factor depends on i only."""
    pos = torch.arange(q.shape[-2], dtype=q.dtype)
    scales = torch.log(torch.floor((pos + 1.0) / floor_scale) + 1.0) * attn_scale + 1.0
    q = q * scales[:, None]
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def causal_kv_cache(q, k, v):
    """Bottom-right causal mask for decoding with a KV cache, tril(diagonal = k_len − q_len),
    filled with −finfo.max ("FlashAttention-2: Faster Attention with Better Parallelism and
    Work Partitioning", arXiv 2307.08691, bottom-right alignment; lucidrains/x-transformers
    x_transformers/attend.py `create_causal_mask`, ones(i, j).triu(j − i + 1))."""
    q_len, k_len = q.shape[-2], k.shape[-2]
    sim = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5
    keep = torch.ones(q_len, k_len, dtype=torch.bool).tril(diagonal=k_len - q_len)
    sim = sim.masked_fill(~keep, -torch.finfo(sim.dtype).max)
    return sim.softmax(dim=-1) @ v


def gemma2_softcap(q, k, v, bias, cap=50.0, query_pre_attn_scalar=256):
    """Logit soft-capping cap · tanh(s / cap) before an additive float mask (gemma's `mask`
    argument, here `bias`) ("Gemma 2: Improving Open Language Models at a Practical Size",
    arXiv 2408.00118; google/gemma_pytorch gemma/model.py, attn_logit_softcapping)."""
    q = q * query_pre_attn_scalar ** -0.5
    scores = torch.matmul(q, k.transpose(2, 3))
    scores = torch.tanh(scores / cap) * cap
    scores = scores + bias
    return torch.matmul(F.softmax(scores.float(), dim=-1).type_as(q), v)


def zero_kv(q, k, v):
    """A key/value of zeros prepended with F.pad, softmax-off-by-one: Σ e^s v / (1 + Σ e^s)
    ("Efficient Streaming Language Models with Attention Sinks", arXiv 2309.17453, §3.3;
    lucidrains/x-transformers x_transformers/attend.py, add_zero_kv)."""
    k, v = (F.pad(t, (0, 0, 1, 0), value=0.0) for t in (k, v))
    sim = torch.einsum("bhid,bhjd->bhij", q, k) * q.shape[-1] ** -0.5
    return torch.einsum("bhij,bhje->bhie", sim.softmax(dim=-1), v)


def persistent_memory(q, k, v, mem_k, mem_v):
    """Learned memory key/values (h, m, d) concatenated in front of the keys ("Augmenting
    Self-attention with Persistent Memory", arXiv 1907.01470; lucidrains/x-transformers
    x_transformers/x_transformers.py, num_mem_kv).  The m memory slots add a fixed part to the
    state's initial value."""
    b = q.shape[0]
    mk = mem_k.unsqueeze(0).expand(b, -1, -1, -1)
    mv = mem_v.unsqueeze(0).expand(b, -1, -1, -1)
    k, v = torch.cat((mk, k), dim=-2), torch.cat((mv, v), dim=-2)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def merged_heads(x_q, x_k, x_v, heads=2):
    """Heads split from and merged back into (b, n, h·d) by view/transpose/reshape
    ("Attention Is All You Need", arXiv 1706.03762; huggingface/transformers
    src/transformers/models/llama/modeling_llama.py, .view(hidden_shape).transpose(1, 2))."""
    b, n, hd = x_q.shape
    m = x_k.shape[1]
    q = x_q.view(b, n, heads, hd // heads).transpose(1, 2)
    k = x_k.view(b, m, heads, hd // heads).transpose(1, 2)
    v = x_v.view(b, m, heads, -1).transpose(1, 2)
    o = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(hd // heads), dim=-1) @ v
    return o.transpose(1, 2).reshape(b, n, -1)


def gqa_repeat_interleave(q, k, v):
    """Grouped-query attention with key/value heads repeated by torch.repeat_interleave
    ("GQA: Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints",
    arXiv 2305.13245; huggingface/transformers src/transformers/models/llama/modeling_llama.py
    `repeat_kv`, documented as repeat_interleave(x, dim=1, repeats=n_rep))."""
    n_rep = q.shape[1] // k.shape[1]
    k = torch.repeat_interleave(k, dim=1, repeats=n_rep)
    v = torch.repeat_interleave(v, dim=1, repeats=n_rep)
    w = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ v


def padding_finfo_inplace(q, k, v, mask):
    """Key padding by in-place masked_fill_ with torch.finfo(dtype).min, softmax in float32
    and cast back (huggingface/transformers src/transformers/modeling_utils.py
    get_extended_attention_mask; "BERT", arXiv 1810.04805).  Unlike −inf, a fully padded row
    gives uniform weights; still a normalised contraction."""
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores.masked_fill_(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
    probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(probs, v)


def relu_seqlen(q, k, v):
    """relu(s) / L, L the sequence length ("Replacing softmax with ReLU in Vision Transformers",
    arXiv 2309.08586; the paper's big_vision code, written here in PyTorch)."""
    seq_len = k.shape[-2]
    return (F.relu(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])) / seq_len) @ v


def linear_elu_eps(q, k, v, eps=1e-6):
    """elu + 1 features, the contraction over keys done first, 1 / (φ(q)·Σφ(k) + ε) ("Transformers
    are RNNs: Fast Autoregressive Transformers with Linear Attention", arXiv 2006.16236;
    idiap/fast-transformers fast_transformers/attention/linear_attention.py), layout n l h d."""
    Q, K = F.elu(q) + 1, F.elu(k) + 1
    KV = torch.einsum("nshd,nshm->nhmd", K, v)
    Z = 1 / (torch.einsum("nlhd,nhd->nlh", Q, K.sum(dim=1)) + eps)
    return torch.einsum("nlhd,nhmd,nlh->nlhm", Q, KV, Z)


def cosformer(q, k, v, eps=1e-6):
    """ReLU features re-weighted by sin/cos(π/2 · idx / M), M = max(src, tgt), concatenated,
    denominator clamped ("cosFormer: Rethinking Softmax in Attention", arXiv 2202.08791;
    OpenNLPLab/cosFormer cosformer.py, the non-causal right product).  Per-key features."""
    q, k = F.relu(q), F.relu(k)
    tgt, src = q.shape[-2], k.shape[-2]
    m = max(src, tgt)
    idx = math.pi / 2 * torch.arange(1, m + 1).reshape(-1, 1).to(q)
    q_ = torch.cat([q * torch.sin(idx[:tgt] / m), q * torch.cos(idx[:tgt] / m)], dim=-1)
    k_ = torch.cat([k * torch.sin(idx[:src] / m), k * torch.cos(idx[:src] / m)], dim=-1)
    kv_ = torch.einsum("bhld,bhlm->bhdm", k_, v)
    z_ = 1 / torch.clamp_min(torch.einsum("bhld,bhd->bhl", q_, torch.sum(k_, dim=-2)), eps)
    return torch.einsum("bhld,bhdm,bhl->bhlm", q_, kv_, z_)


def random_feature(q, k, v, omega):
    """Random Fourier features [sin(ωx), cos(ωx)] / √D of l2-normalised q, k, then normalised
    linear attention ("Random Feature Attention", arXiv 2103.02143; idiap/fast-transformers
    fast_transformers/feature_maps/fourier_features.py `RandomFourierFeatures`)."""
    def phi(x):
        u = F.normalize(x, dim=-1) @ omega.T
        return torch.cat([torch.sin(u), torch.cos(u)], dim=-1) / math.sqrt(omega.shape[0])
    a = phi(q) @ phi(k).transpose(-2, -1)
    return (a @ v) / a.sum(dim=-1, keepdim=True)


def sparse_topk(q, k, v, topk=2):
    """Keep the scores ≥ the k-th largest, −finfo.max elsewhere ("Explicit Sparse Transformer:
    Concentrated Attention Through Explicit Selection", arXiv 1912.11637; lucidrains/x-transformers
    x_transformers/attend.py, sparse_topk).  Streamable with a bounded state: the k best scores
    (with ties merged) and their weighted values; merging two such lists is associative."""
    sim = torch.einsum("bhid,bhjd->bhij", q, k) * q.shape[-1] ** -0.5
    mask_value = -torch.finfo(sim.dtype).max
    top, _ = sim.topk(topk, dim=-1)
    sim = sim.masked_fill(~(sim >= top[..., -1:]), mask_value)
    return torch.einsum("bhij,bhje->bhie", sim.softmax(dim=-1), v)


def sigsoftmax(q, k, v):
    """softmax(s + log σ(s)) = e^s σ(s) / Σ e^s σ(s) ("Sigsoftmax: Reanalysis of the Softmax
    Bottleneck", arXiv 1805.10829; lucidrains/x-transformers x_transformers/attend.py)."""
    sim = torch.einsum("bhid,bhjd->bhij", q, k) * q.shape[-1] ** -0.5
    sim = sim + sim.sigmoid().log()
    return torch.einsum("bhij,bhje->bhie", sim.softmax(dim=-1), v)


def talking_heads(q, k, v, pre, post):
    """Heads mixed by learned h×h maps before and after the softmax ("Talking-Heads Attention",
    arXiv 2003.02436; lucidrains/x-transformers x_transformers/attend.py, talking_heads as 1×1
    convolutions).  Post-softmax mixing is linear in each head's normalised weights:
    Σ_g P_hg o_g / z_g, a state per head pair."""
    sim = torch.einsum("bhid,bhjd->bhij", q, k) * q.shape[-1] ** -0.5
    sim = torch.einsum("gh,bhij->bgij", pre, sim)
    attn = torch.einsum("gh,bhij->bgij", post, sim.softmax(dim=-1))
    return torch.einsum("bhij,bhje->bhie", attn, v)


def cog_signed(q, k, v):
    """Signed weights sign(s) e^{|s|} / Σ_j e^{|s|} ("More Expressive Attention with Negative
    Weights", arXiv 2411.07176; lucidrains/x-transformers x_transformers/x_transformers.py,
    cog_signed); a1 = sign·exp|·|, a2 = exp|·|."""
    sim = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5
    return (sim.sign() * torch.softmax(sim.abs(), dim=-1)) @ v


# --- not streamable --------------------------------------------------------------------------

def sparsemax_sort(q, k, v):
    """Sparsemax with its threshold from a sorted row ("From Softmax to Sparsemax", arXiv
    1602.02068; deep-spin/entmax entmax/activations.py `_sparsemax_threshold_and_support`).
    Not streamable: τ depends on the support size k*, found by sorting the whole row."""
    X = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    topk, _ = torch.sort(X, dim=-1, descending=True)
    topk_cumsum = topk.cumsum(-1) - 1
    rhos = torch.arange(1, X.shape[-1] + 1, dtype=X.dtype)
    support = rhos * topk > topk_cumsum
    support_size = support.sum(dim=-1).unsqueeze(-1)
    tau = topk_cumsum.gather(-1, support_size - 1) / support_size.to(X.dtype)
    return torch.clamp(X - tau, min=0) @ v


def entmax15_sort(q, k, v):
    """1.5-entmax, exact sort-based threshold ("Sparse Sequence-to-Sequence Models", arXiv
    1905.05702; deep-spin/entmax entmax/activations.py `_entmax_threshold_and_support`).
    Not streamable: τ comes from cumulative moments of the sorted row."""
    X = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])) / 2
    X = X - X.max(dim=-1, keepdim=True).values
    Xsrt, _ = torch.sort(X, dim=-1, descending=True)
    rho = torch.arange(1, X.shape[-1] + 1, dtype=X.dtype)
    mean = Xsrt.cumsum(-1) / rho
    mean_sq = (Xsrt ** 2).cumsum(-1) / rho
    ss = rho * (mean_sq - mean ** 2)
    tau = mean - torch.sqrt(torch.clamp((1 - ss) / rho, min=0))
    support_size = (tau <= Xsrt).sum(dim=-1).unsqueeze(-1)
    tau_star = tau.gather(-1, support_size - 1)
    return torch.clamp(X - tau_star, min=0) ** 2 @ v


def entmax_bisect(q, k, v, alpha=1.5, n_iter=12):
    """α-entmax by bisection on τ ("Adaptively Sparse Transformers", arXiv 1909.00015;
    deep-spin/entmax entmax/root_finding.py `EntmaxBisectFunction`; n_iter 50 there, 12 here).
    Not streamable: every step sums over the whole row at the current τ."""
    X = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])) * (alpha - 1)
    max_val = X.max(dim=-1, keepdim=True).values
    tau_lo = max_val - 1.0
    tau_hi = max_val - (1.0 / X.shape[-1]) ** (alpha - 1)
    f_lo = (torch.clamp(X - tau_lo, min=0) ** (1 / (alpha - 1))).sum(dim=-1, keepdim=True) - 1
    dm = tau_hi - tau_lo
    for _ in range(n_iter):
        dm = dm / 2
        tau_m = tau_lo + dm
        p_m = torch.clamp(X - tau_m, min=0) ** (1 / (alpha - 1))
        f_m = p_m.sum(dim=-1, keepdim=True) - 1
        tau_lo = torch.where(f_m * f_lo >= 0, tau_m, tau_lo)
    p_m = p_m / p_m.sum(dim=-1, keepdim=True)
    return p_m @ v


def sparsemax_bisect(q, k, v, n_iter=12):
    """Sparsemax (α = 2) by the same bisection (deep-spin/entmax entmax/root_finding.py
    `SparsemaxBisectFunction`; "From Softmax to Sparsemax", arXiv 1602.02068).  Not streamable:
    the root τ of Σ_j max(s − τ, 0) = 1 needs the whole row."""
    return entmax_bisect(q, k, v, alpha=2.0, n_iter=n_iter)


def sinkformer(q, k, v, n_it=3):
    """Sinkhorn iterations in log space, alternating normalisation over keys and queries
    ("Sinkformers: Transformers with Doubly Stochastic Attention", arXiv 2110.11773;
    michaelsdr/sinkformers vit-pytorch/vit_pytorch/sinkhorn.py).  Not streamable: after a
    normalisation over i, the next over j divides by Σ_i e^{…}/r_i, which needs every row sum
    r_i, each itself a sum over all of j."""
    C = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    u = torch.zeros_like(C[..., :1])
    w = torch.zeros_like(C[..., :1, :])
    for _ in range(n_it):
        u = -torch.logsumexp(C + w, dim=-1, keepdim=True)
        w = -torch.logsumexp(C + u, dim=-2, keepdim=True)
    return torch.exp(C + u + w) @ v


def nucleus_filter(q, k, v, top_p=0.9):
    """Top-p (nucleus) filtering of the attention row, as the logits warper writes it: sort
    ascending, cumulative softmax mass, drop the tail ≤ 1 − p, scatter back ("The Curious Case
    of Neural Text Degeneration", arXiv 1904.09751; huggingface/transformers
    src/transformers/generation/logits_process.py `TopPLogitsWarper`).  Not streamable: the
    kept set is a mass quantile of the sorted row, of unbounded size."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_remove = cumulative_probs <= (1 - top_p)
    sorted_remove[..., -1:] = 0
    remove = sorted_remove.scatter(-1, sorted_indices, sorted_remove)
    return torch.softmax(scores.masked_fill(remove, float("-inf")), dim=-1) @ v


def min_p_filter(q, k, v, min_p=0.1):
    """Min-p filtering of the attention row: keep weights ≥ p_min · max weight ("Turning Up the
    Heat: Min-p Sampling for Creative and Coherent LLM Outputs", arXiv 2407.01082;
    huggingface/transformers src/transformers/generation/logits_process.py `MinPLogitsWarper`).
    Not streamable: the cut s ≥ max_j s + log p_min moves with the final max, so every key
    within log p_min of the running max must be kept: an unbounded state."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    probs = torch.softmax(scores, dim=-1)
    top_probs = probs.amax(dim=-1, keepdim=True)
    remove = probs < min_p * top_probs
    return torch.softmax(scores.masked_fill(remove, float("-inf")), dim=-1) @ v


def adaptive_temperature(q, k, v):
    """Softmax at an inverse temperature β = max(poly(H), 1) chosen from the row's entropy H
    ("Softmax is not enough (for sharp out-of-distribution)", arXiv 2410.01104; the JAX
    listing in the paper's appendix, written in PyTorch).  Not streamable: e^{β_i s_ij} with
    β_i known only after the whole row has no finite summary for every β."""
    logits = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    p = torch.softmax(logits, dim=-1)
    ent = torch.sum(-p * torch.log(p + 1e-9), dim=-1, keepdim=True)
    poly = (((-0.037 * ent + 0.481) * ent - 2.3) * ent + 4.917) * ent - 1.791
    beta = torch.where(ent > 0.5, torch.clamp(poly, min=1.0), 1.0)
    return torch.softmax(logits * beta, dim=-1) @ v


def _entry(streamable, note, axes=AXES, stream="j"):
    return {"axes": axes, "stream": stream, "streamable": streamable,
            "expected": "streamable" if streamable else "not streamable", "note": note}


EXAMPLES = {
    "gptoss_sinks": _entry(True, "the sink adds e^S_h to the denominator: state (o, z) + tail",
                           AXES + ", sinks: h"),
    "differential": _entry(True, "two normalised contractions: (o1/z1) − λ (o2/z2)",
                           "q: b hh i d, k: b hh j d, v: b h j e, lq1: d, lk1: d, lq2: d, lk2: d"),
    "sigmoid_logn": _entry(True, "elementwise σ(s − log n): a plain contraction"),
    "softpick_causal": _entry(True, "relu(e^x − 1) / (Σ|e^x − 1| + ε e^max): two sums, a max"),
    "alibi_fairseq": _entry(True, "bias m_h j and a causal mask: j-local before the softmax"),
    "performer_favor": _entry(True, "feature sums over j and a global max-fold over j, m",
                              AXES + ", proj: m d"),
    "swinv2_cosine": _entry(True, "normalize(k) is per key: j-local scores",
                            AXES + ", logit_scale: h, rel_bias: h i j"),
    "l2_distance": _entry(True, "−‖q − k‖²: j-local scores"),
    "stickbreaking": _entry(True, "an ordered prefix fold over the keys (non-commutative monoid)"),
    "llama4_temperature": _entry(True, "the temperature depends on the query position only"),
    "causal_kv_cache": _entry(True, "positions compared, #j ≤ #i + (|j| − |i|): j-local mask"),
    "gemma2_softcap": _entry(True, "cap·tanh(s/cap) + mask: j-local", AXES + ", bias: i j"),
    "zero_kv": _entry(True, "the zero key adds e^0 · 0 and e^0: state (o, z), tail z + 1"),
    "persistent_memory": _entry(True, "m fixed memory slots: a part of the sums over m, not j",
                                AXES + ", mem_k: h m d, mem_v: h m e"),
    "merged_heads": _entry(True, "softmax per head; heads split from (h d) by a view",
                           "x_q: b i c, x_k: b j c, x_v: b j c"),
    "gqa_repeat_interleave": _entry(True, "softmax per query head; kv head = query head // r",
                                    "q: b h i d, k: b g j d, v: b g j e"),
    "padding_finfo_inplace": _entry(True, "finfo.min fill: a normalised contraction",
                                    AXES + ", mask: b j"),
    "relu_seqlen": _entry(True, "relu(s)/n: a contraction and a count"),
    "linear_elu_eps": _entry(True, "Σ φ(k) v and Σ φ(k): the contraction over s is the stream",
                             "q: n l h d, k: n s h d, v: n s h e", stream="s"),
    "cosformer": _entry(True, "per-key sin/cos features: sums over j",
                        "q: b h i d, k: b h j d, v: b h j e"),
    "random_feature": _entry(True, "per-key Fourier features: state (Σ a v, Σ a)",
                             AXES + ", omega: r d"),
    "sparse_topk": _entry(True, "a bounded top-k state (k = 2) merged associatively; not a "
                          "sum-monoid"),
    "sigsoftmax": _entry(True, "a1 = a2 = e^s σ(s): state (o, z)"),
    "talking_heads": _entry(True, "post-softmax mixing is linear in o_g / z_g",
                            AXES + ", pre: g h, post: g h"),
    "cog_signed": _entry(True, "a1 = sign(s) e^|s|, a2 = e^|s|"),
    "sparsemax_sort": _entry(False, "τ from sorting the whole row"),
    "entmax15_sort": _entry(False, "τ from sorted cumulative moments of the whole row"),
    "entmax_bisect": _entry(False, "a root search on τ, each step summing the whole row"),
    "sparsemax_bisect": _entry(False, "a root search on τ, each step summing the whole row"),
    "sinkformer": _entry(False, "alternating normalisations over i and j: the j-normaliser "
                         "needs all row sums"),
    "nucleus_filter": _entry(False, "a mass quantile of the sorted row"),
    "min_p_filter": _entry(False, "a cut relative to the final max keeps an unbounded window"),
    "adaptive_temperature": _entry(False, "the temperature needs the whole row's entropy first"),
}
