"""Loop nest → Triton source: the kernel emitter and the per-tile prepass kernels."""
