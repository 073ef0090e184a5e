"""The rule table compiled to egglog: pattern variables, fact analyses and rewrite families."""
