"""Code generation: the IR printed as NumPy or JAX, and the exported gradient module."""
