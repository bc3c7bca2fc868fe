"""Rendering a :class:`~symbackprop.derivation.Derivation`: LaTeX, Markdown, text, JSON."""
