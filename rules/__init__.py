"""Rewrite rules, one module per family; each rule is named and states its equation."""
