"""Stream form → loop nest: the per-tile computation, column statistics and causal masks."""
