"""Generated and reference kernels, and the torch custom-op wrappers."""
