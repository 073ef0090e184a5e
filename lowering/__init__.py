"""From a proven stream form to a loop nest, Triton source, and the cost model that ranks them."""
