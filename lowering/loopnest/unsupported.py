"""The one error of lowering: a stream form the Triton generator cannot lay out.

It has a module of its own because every lowering step raises it (lowering/loopnest/nest.py,
lowering/loopnest/colstats.py, lowering/codegen/emit.py) and none of them should import another
just for the class.
"""
from wirefuse.rewrite.errors import UserError


class Unsupported(UserError):
    """The stream form is correct but the Triton generator does not support its shape."""
