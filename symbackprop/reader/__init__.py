"""Readers: the LaTeX of a forward pass or a claim, and its lowering to the IR."""
