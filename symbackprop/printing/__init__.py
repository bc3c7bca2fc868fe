"""Printers: LaTeX and text of SymPy expressions and of the IR, and number formats."""
