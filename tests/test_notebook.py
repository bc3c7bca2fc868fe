"""examples/notebook.ipynb runs under ``jupyter nbconvert --execute`` and shows the article's numbers.

The notebook is committed with its outputs cleared; here it is executed in a kernel whose
``PYTHONPATH`` starts with this repository, so it imports this checkout's symbackprop.
It runs with ``--allow-errors`` so that every failing cell is reported, not only the
first: a display that fails (an object whose ``_repr_latex_`` raises, as ``d.gradient("w_1")``
once did) does not stop a cell, it leaves an error output, which is what is checked.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"

MISSING = [m for m in ("nbconvert", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"{', '.join(MISSING)} not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import nbformat

    out = tmp_path_factory.mktemp("notebook") / "executed.ipynb"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--allow-errors", "--ExecutePreprocessor.timeout=300",
           "--output", str(out), str(NOTEBOOK)]
    # nbconvert starts the kernel in the notebook's folder, examples/, as a user's Jupyter does
    run = subprocess.run(cmd, env=env, cwd=NOTEBOOK.parent, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"nbconvert failed:\n{run.stdout}\n{run.stderr}"
    return nbformat.read(out, as_version=4)


def code_cells(nb) -> dict:
    return {c.id: c for c in nb.cells if c.cell_type == "code"}


def rendered(cell, mime: str | None = None) -> str:
    """A cell's output as text: its streams and (all, or one mime type of) its rich data."""
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream" and mime is None:
            parts.append(o.text)
        for kind, data in o.get("data", {}).items():
            if mime is None or kind == mime:
                parts.append(data if isinstance(data, str) else "".join(data))
    return "\n".join(parts)


def test_the_committed_notebook_has_no_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code")


def test_every_cell_runs_without_errors(executed):
    errors = [f"cell {c.id}: {o.ename}: {o.evalue}" for c in executed.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    stderr = [f"cell {c.id}: {o.text}" for c in executed.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "stream" and o.name == "stderr"
              and "Traceback" in o.text]
    assert not errors + stderr, "\n".join(errors + stderr)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_the_derivations_display_as_markdown(executed):
    cells = code_cells(executed)
    scalar = rendered(cells["scalar"], "text/markdown")
    assert "# Backpropagation by hand" in scalar and "L = 0.456" in scalar and "0.116" in scalar
    matrix = rendered(cells["matrix"], "text/markdown")
    assert "# Backpropagation in matrix form" in matrix and "0.276" in matrix


def test_the_gradient_displays_through_latex(executed):
    # d.gradient("w_1") is the cell's value: Jupyter asks SymPy for its LaTeX
    latex = rendered(code_cells(executed)["gradient"], "text/latex")
    assert latex.replace(" ", "") == r"$\displaystyle\frac{\partialL}{\partialz_{1}}x$"


def test_expansions_in_node_names_and_in_leaves(executed):
    cells = code_cells(executed)
    nodes = rendered(cells["expand"], "text/latex")
    assert r"a_{1}" in nodes and r"\sigma" not in nodes
    leaves = rendered(cells["expand-leaves"], "text/latex")
    assert r"\sigma\left(w_{1} x\right)" in leaves and r"a_{1}" not in leaves


def test_the_article_s_numbers(executed):
    cells = code_cells(executed)
    forward = rendered(cells["forward"])
    assert "L = 0.456" in forward and r"\sigma\left(z_{1}\right) = 0.731" in forward
    backward = rendered(cells["backward"], "text/latex")
    assert r"\frac{\partial L}{\partial w_{1}} = \frac{\partial L}{\partial z_{1}} x = 0.116" in backward
    values = rendered(cells["values"])
    assert "L = 0.456" in values
    assert "{'w_1': 0.116, 'w_2': -0.217, 'b': -0.296}" in values
    assert "expand('w_1', leaves=True) at the spec's values: 0.116" in values


def test_the_notebook_uses_the_one_core_api():
    """No ``symbackprop.matrix`` (gone since the refactoring into one core): IR nodes print themselves."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "symbackprop.matrix" not in code and "matrix_latex" not in code and "matrix_text" not in code
    assert ".definition" not in code  # ForwardStep has .expr (IR) now


def test_the_backward_steps_show_their_local_derivatives(executed):
    backward = rendered(code_cells(executed)["backward"], "text/latex")
    assert r"\frac{\partial a_{2}}{\partial z_{2}} = \sigma'\left(z_{2}\right)" in backward
    assert r"\frac{\partial z_{1}}{\partial w_{1}} = x" in backward
    assert "\\mathtt" not in backward and "\u2202" not in backward


def test_the_matrix_gradient_displays_as_latex(executed):
    # m.gradient("W_1") is the cell's value, an IR node: Jupyter asks its _repr_latex_
    cell = code_cells(executed)["matrix-gradient"]
    assert rendered(cell, "text/latex") == r"$X^{\top} \frac{\partial L}{\partial Z_{1}}$"


def test_the_matrix_steps(executed):
    cell = code_cells(executed)["matrix-steps"]
    latex = rendered(cell, "text/latex")
    assert r"\frac{\partial L}{\partial W_{1}} = X^{\top} \frac{\partial L}{\partial Z_{1}} = X^{\top} \left(" in latex
    assert (r"\frac{\partial L}{\partial Z_{2}} = \frac{\partial L}{\partial A_{2}} \odot \sigma'\left(Z_{2}\right)"
            r" = \frac{2}{m} \left(A_{2} - Y\right) \odot \sigma'\left(Z_{2}\right)") in latex
    text = rendered(cell)
    assert "Xᵀ · ∂L/∂Z_1" in text and "L = 0.276" in text
    assert "[ 0.0079, -0.0054,  0.0025,  0.0084]" in rendered(cell, "text/plain")
