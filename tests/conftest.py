"""Session-wide test setup.

Without a GPU, Triton kernels run under its interpreter, which must be switched on before the
first `import triton` anywhere in the process (any test module, doctest or helper may be the
first), so it is set here, before collection.  On a CUDA machine the variable is left alone and
the `gpu`-marked tests run on the device.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
