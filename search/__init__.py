"""The search: egglog encoding of terms and rules, saturation, extraction, path finding, and the
proof pipeline (`prover.prove`) that every command uses."""
