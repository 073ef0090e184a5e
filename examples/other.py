"""Non-attention examples: normalisations and reductions that stream (or not) along an axis.

Each is a plain PyTorch function; EXAMPLES gives the axes, the axis to stream along and the
expected verdict (a mathematical fact: see examples/attention.py's docstring for the criterion).
"""
import torch


def rmsnorm_matmul(x, g, w, eps=1e-6):
    """y_to = Σ_h x_th g_h w_ho / √(Σ_h x_th² / |h| + ε)  (RMSNorm, Zhang & Sennrich 2019, then
    a linear layer; streamed over the hidden axis h: state (Σ_h x g w, Σ_h x²))."""
    rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
    return (x / rms * g) @ w


def layernorm_matmul(x, w, eps=1e-5):
    """y_to = Σ_h (x_th − μ_t) w_ho / √(σ_t² + ε), μ and σ² over h  (LayerNorm without affine,
    Ba et al. 2016, then a linear layer; streamed over h after expanding
    Σ (x − μ)² = Σ x² − |h| μ²: state (Σ x, Σ x², Σ x w, Σ w))."""
    mu = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return ((x - mu) / torch.sqrt(var + eps)) @ w


def vocab_logsumexp(x, w):
    """lse_t = log Σ_c exp(Σ_h x_th w_hc)  (the normaliser of a softmax over a vocabulary c, as in
    a fused cross-entropy; streamed over c: state (max, Σ e^(z − max)))."""
    return torch.logsumexp(x @ w, dim=-1)


def vocab_entropy(x, w):
    """H_t = lse_t − Σ_c p_tc z_tc with z = x w, p = softmax_c(z)  (entropy of the predicted
    distribution; streamed over c: state (Σ e^z, Σ e^z z) plus the running max)."""
    z = x @ w
    p = torch.softmax(z, dim=-1)
    return torch.logsumexp(z, dim=-1) - (p * z).sum(dim=-1)


def vocab_median_logit(x, w):
    """m_t = median_c (x w)_tc  (an order statistic over the vocabulary: not a fold)."""
    return (x @ w).median(dim=-1).values


EXAMPLES = {
    "rmsnorm_matmul": {"axes": "x: t h, g: h, w: h o", "stream": "h", "streamable": True,
                       "expected": "streamable",
                       "note": "1/rms factors out of the sum over h: state (Σ x g w, Σ x²)"},
    "layernorm_matmul": {"axes": "x: t h, w: h o", "stream": "h", "streamable": True,
                         "expected": "streamable",
                         "note": "needs Σ (x − μ)² = Σ x² − 2μ Σ x + |h| μ² and "
                         "Σ (x − μ) w = Σ x w − μ Σ w"},
    "vocab_logsumexp": {"axes": "x: t h, w: h c", "stream": "c", "streamable": True,
                        "expected": "streamable",
                        "note": "m + log Σ e^(z − m): the softmax normaliser alone"},
    "vocab_entropy": {"axes": "x: t h, w: h c", "stream": "c", "streamable": True,
                      "expected": "streamable",
                      "note": "Σ p z = Σ e^z z / Σ e^z: two sums and a max over c"},
    "vocab_median_logit": {"axes": "x: t h, w: h c", "stream": "c", "streamable": False,
                           "expected": "not streamable",
                           "note": "a median over c needs the whole row"},
}
