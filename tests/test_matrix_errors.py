"""Shape errors and malformed matrix LaTeX: one line naming the node and the shapes, exit 2."""
import pytest

from symbackprop.cli import main
from symbackprop.errors import ShapeError
from symbackprop.backprop import backprop
from symbackprop.reader.forward import network_from_latex


def spec(forward: str, shapes: dict, params=("W",), values: dict | None = None) -> str:
    text = 'forward = """\n' + forward.replace("\\", "\\\\") + '\n"""\n'
    text += "params = [" + ", ".join(f'"{p}"' for p in params) + "]\n[shapes]\n"
    text += "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in shapes.items())
    if values:
        text += "[values]\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return text


MLP = {"X": ["m", "n_in"], "W": ["n_in", "n_1"]}
BIAS = {**MLP, "b": ["n_1"]}
BAD = {
    "product does not conform": (
        spec("Z = X W\nL = \\sum Z", {"X": ["m", 3], "W": [4, 2]}),
        ["line 2", "Z:", "X (m×3)", "W (4×2)", "3 ≠ 4"]),
    "transposed product": (
        spec("Z = X W^\\top\nL = \\sum Z", MLP, ["W"]),
        ["line 2", "Z:", "X (m×n_in)", "Wᵀ (n_1×n_in)", "n_in ≠ n_1"]),
    "hadamard of different shapes": (
        spec("Z = X \\odot W\nL = \\sum Z", MLP),
        ["line 2", "Z:", "Hadamard", "m×n_in", "n_in×n_1"]),
    "bias of the wrong length": (
        spec("Z = X W + c\nL = \\sum Z", {**MLP, "c": ["n_in"]}),
        ["line 2", "Z:", "m×n_1", "n_in", "n_1 ≠ n_in"]),
    "values contradict a declared dimension": (
        spec("Z = X W + b\nL = \\sum Z", BIAS, ["W", "b"],
             {"X": [[0, 0], [0, 1]], "W": [[1, 2, 3], [4, 5, 6], [7, 8, 9]], "b": [0, 0, 0]}),
        ["'W'", "3×3", "n_in×n_1", "n_in = 2", "'X'"]),
    "values contradict a concrete shape": (
        spec("Z = X W\nL = \\sum Z", {"X": [2, 2], "W": [2, 1]}, ["W"],
             {"X": [[0, 0], [0, 1]], "W": [[1, 2]]}),
        ["'W'", "1×2", "2×1"]),
    "a bias given as a row of a matrix": (
        spec("Z = X W + b\nL = \\sum Z", BIAS, ["W", "b"],
             {"X": [[0, 0]], "W": [[1], [2]], "b": [[0]]}),
        ["'b'", "1×1", "n_1"]),
    "an empty value": (
        spec("Z = X W\nL = \\sum Z", MLP, ["W"], {"X": [], "W": [[1], [2]]}),
        ["'X'", "empty"]),
    "ragged values": (
        spec("Z = X W\nL = \\sum Z", MLP, ["W"], {"X": [[0, 0], [1]], "W": [[1], [2]]}),
        ["'X'", "rectangular"]),
    "loss is not a scalar": (
        spec("Z = X W\nL = \\sum_{i} Z", MLP),
        ["'L'", "scalar", "n_1"]),
    "a matrix power": (
        spec("Z = X W\nL = \\sum Z^2", MLP),
        ["line 3", "ambiguous", "\\odot"]),
    "unbalanced brace": (
        spec("Z = X W^{\\top\nL = \\sum Z", MLP),
        ["line 2", "never closed"]),
    "unknown function": (
        spec("Z = \\mathrm{softmx}(X W)\nL = \\sum Z", MLP),
        ["line 2", "softmx"]),
    "second derivative": (
        spec("Z = \\sigma''(X W)\nL = \\sum Z", MLP),
        ["line 2", "first derivatives"]),
    "a leaf without a shape": (
        spec("Z = X W + c\nL = \\sum Z", MLP),
        ["line 2", "'c'", "no shape"]),
    "a shape for a node that is not there": (
        spec("Z = X W\nL = \\sum Z", {**MLP, "V": [2, 2]}),
        ["'V'", "not in the forward pass"]),
    "a shape for a defined node": (
        spec("Z = X W\nL = \\sum Z", {**MLP, "Z": ["m", "n_1"]}),
        ["'Z'", "inferred"]),
    "a malformed shape": (
        spec("Z = X W\nL = \\sum Z", {"X": "m", "W": ["n_in", "n_1"]}),
        ["shape of 'X'", "list of dimensions"]),
    "a dimension named like a node": (
        spec("Z = X W\nL = \\sum Z", {"X": ["W", "n"], "W": ["n", 2]}),
        ["'W'", "both a dimension and a node"]),
    "a log of a negative number": (
        spec("Z = X W\nL = \\sum \\ln Z", {"X": [1, 1], "W": [1, 1]}, ["W"],
             {"X": [[1.0]], "W": [[-2.0]]}),
        ["'L'", "not a real number"]),
    "a gradient in the forward pass": (
        spec("Z = X W\nL = \\sum \\frac{\\partial L}{\\partial Z}", MLP),
        ["line 3", "∂"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_one_line_exit_2(tmp_path, capsys, case):
    text, needles = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["derive", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_shape_error_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"line 1: Z: cannot multiply X \(m×3\) by W \(4×2\)"):
        network_from_latex("Z = X W\nL = \\sum Z", params=["W"], shapes={"X": ["m", 3], "W": [4, 2]})
    net = network_from_latex("Z = X W\nL = \\sum Z", params=["W"], shapes={"X": ["m", "n"], "W": ["n", 2]})
    with pytest.raises(ShapeError, match="values of 'W' have shape 3×2"):
        backprop(net, {"X": [[1.0, 2.0]], "W": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]})
