"""Capture a call in a CUDA graph, for timing its GPU work without Python's per-call host time.

Shared by bench/attention.py (a decoding step replayed as a serving loop would) and
bench/costmodel.py (K calls per replay, so that short kernels measure the GPU, not the host).
"""


def warm_up(fn) -> None:
    """Three calls of `fn` on a side stream: Triton compiles and the caching allocator sets up
    its pools there, since neither may happen during a capture."""
    import torch
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)


def capture(fn, calls: int = 1):
    """A torch.cuda.CUDAGraph of `calls` back-to-back calls of `fn` (call warm_up first).
    Raises whatever the capture raises (a peer that cannot be captured), for the caller to
    record."""
    import torch
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return graph


def one_call_ms(fn) -> float:
    """One warm call of `fn` timed with CUDA events (ms; host gaps included)."""
    import torch
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)
