"""The whole generated source of one loop nest: helpers, the streaming and combine kernels
(lowering.codegen.emit), the column-statistics pre-pass kernels where the nest has any
(lowering.codegen.prepass), and the launcher.  It sits above both so that neither imports the
other's caller."""
from __future__ import annotations

from wirefuse.lowering.codegen.emit import (HELPERS, combine_kernel, launcher_source,
                                            stream_kernel)
from wirefuse.lowering.codegen.prepass import prepass_source
from wirefuse.lowering.loopnest.nest import LoopNest


def kernel_source(nest: LoopNest) -> str:
    """The Triton kernels (needs `import torch, triton, triton.language as tl`) and the launcher."""
    return "\n\n".join([HELPERS, stream_kernel(nest), combine_kernel(nest)] +
                       ([prepass_source(nest)] if nest.stats else []) + [launcher_source(nest)])
