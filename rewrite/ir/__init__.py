"""The term language: named-axis string diagrams as terms, their evaluator, printer, parser, JSON
form and networkx view."""
