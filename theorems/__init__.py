"""Statements (streamability, fusion theorems, the normalised-contraction lemma) and certificates."""
