"""wirefuse: prove attention variants streamable by equality saturation, check the certificates,
and export the fused kernels to torch.

Public API (filled in as the stages land):
    trace(fn, axes) -> Term          evaluate(term, **tensors) -> Tensor
"""
from .errors import AxisSpecError, TraceError, UserError
from .rewrite import Term, evaluate, parse
from .rewrite.trace_torch import trace
from .lowering.cost_search import best_candidate, explain

__all__ = ["Term", "evaluate", "parse", "TraceError", "UserError", "AxisSpecError"]
__all__ += ["trace"]
from .rewrite.check import check  # noqa: E402  (the independent certificate checker)
__all__ += ["check"]
from .kernels.export import export  # noqa: E402  (prove, generate, load a Triton custom op)
__all__ += ["export"]
from .prover import Proof, prove  # noqa: E402  (egglog search + independent check)
__all__ += ["prove", "Proof"]
from .rewrite.draw import draw  # noqa: E402  (SVG string diagram of a term / stream form)
__all__ += ["draw"]
