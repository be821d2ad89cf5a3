"""Eval families, one module per group of related families; ``xgen.world.evals`` collects them."""
