"""wirefuse: prove attention variants streamable by equality saturation, check the certificates,
and export the fused kernels to torch.

    trace(fn, axes) -> Term               a PyTorch function as a term over named axes
    evaluate(term, **tensors) -> Tensor   the float64 reference semantics of a term
    prove(fn, axes=, stream=) -> Proof    egglog search, certificate, independent check
    check(cert) -> CheckResult            the independent checker (needs no egglog)
    export(fn, axes=, stream=)            a Triton kernel registered as a torch custom op
    explain(fn, axes=, stream=, sizes=)   candidates ranked by the napkin cost model
    draw(term, stream=)                   the string diagram as SVG

The heavier pieces (egglog, triton) load on first use, so `import wirefuse` and the checker
work on a machine that has neither.
"""
from importlib import import_module

from wirefuse.rewrite.errors import AxisSpecError, TraceError, UserError
from wirefuse.rewrite import Term, evaluate, parse

# name -> (module, attribute), imported on first access (PEP 562)
_LAZY = {
    "trace": (".rewrite.trace.tracer", "trace"),
    "check": (".theorems.checker", "check"),
    "prove": (".search.prover", "prove"),
    "Proof": (".search.prover", "Proof"),
    "export": (".kernels.export", "export"),
    "explain": (".lowering.cost.ranking", "explain"),
    "best_candidate": (".lowering.cost.ranking", "best_candidate"),
    "draw": (".draw.diagram", "draw"),
}

__all__ = ["Term", "evaluate", "parse", "TraceError", "UserError", "AxisSpecError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module, __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wirefuse' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
