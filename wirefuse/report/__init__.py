"""The HTML report of one analysis: trace, proof, certificate, diagram and benchmarks."""
