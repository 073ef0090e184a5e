"""The napkin GPU cost model: hardware figures, operation counts, the model, and the ranking."""
