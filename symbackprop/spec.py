"""Spec files: a network written as a TOML file whose ``forward`` is LaTeX.

A spec is data only: nothing in it is ever executed. The keys::

    title = "The article's example"        # optional; or { en = "…", zh = "…" }
    forward = '''
    z_1 = w_1 x
    a_1 = \\sigma(z_1)
    L = (a_1 - y)^2
    '''
    params = ["w_1"]                        # trainable leaves
    loss = "L"                              # optional: the last line by default
    learning_rate = 0.1                     # optional: adds the update table
    digits = 3                              # optional display precision
    mode = "exact"                          # or "hand": carry rounded values
    lang = "en"                             # or "zh"
    [values]                                # optional: a numeric worked solution
    x = 2.0

>>> net = network_from_latex("z = w x\\nL = (z - y)^2", params=["w"])
>>> net.order
('w', 'x', 'z', 'y', 'L')
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import latex_in
from .errors import LatexSyntaxError, SpecError, SymbackpropError
from .latex_in import canonical_name
from .network import Network, node_symbol

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"title", "forward", "params", "loss", "learning_rate", "digits", "mode", "lang",
        "values", "shapes"}


@dataclass
class Spec:
    """A loaded spec: the network plus how to present it."""

    network: Network
    values: dict[str, Any] | None = None
    learning_rate: float | None = None
    digits: int = 3
    mode: str = "exact"
    lang: str = "en"
    title: str | None = None
    shapes: dict[str, list] = field(default_factory=dict)
    path: Path | None = None


def load_spec(path: str | Path) -> Spec:
    """Read a TOML spec file; every problem is a :class:`SpecError` naming the spot."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read spec file {path}: {e}") from None
    return spec_from_toml(text, path)


def spec_from_toml(text: str, path: Path | None = None) -> Spec:
    """Build a :class:`Spec` from TOML text."""
    where = f"{path}" if path else "spec"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{where}: broken TOML: {e}") from None
    return spec_from_dict(data, path, first_line=_forward_first_line(text))


_FORWARD_KEY = re.compile(r"\s*forward\s*=\s*('{3}|\"{3}|'|\")(.*)$")


def _forward_first_line(text: str) -> int:
    """File line on which the ``forward`` string's first line stands (1 if not found)."""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _FORWARD_KEY.match(line)
        if m:
            multi = len(m.group(1)) == 3
            return number + 1 if multi and not m.group(2).strip() else number
    return 1


def spec_from_dict(data: Mapping[str, Any], path: Path | None = None, *,
                   first_line: int = 1) -> Spec:
    """Build a :class:`Spec` from already-parsed TOML data."""
    where = f"{path}: " if path else ""
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise SpecError(f"{where}unknown key '{unknown[0]}'; allowed keys: {', '.join(sorted(KEYS))}")
    forward = data.get("forward")
    if not isinstance(forward, str) or not forward.strip():
        raise SpecError(f"{where}'forward' must be a non-empty string of LaTeX lines (the spec is empty)")
    params = data.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise SpecError(f"{where}'params' must be a list of names, e.g. params = [\"w_1\", \"b\"]")
    values = data.get("values")
    if values is not None and not isinstance(values, dict):
        raise SpecError(f"{where}'values' must be a table: [values]")
    values = {canonical_name(k): v for k, v in values.items()} if values else None
    for name, v in (values or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float, list)):
            raise SpecError(f"{where}value of '{name}' must be a number, got {v!r}")
    shapes = data.get("shapes")
    if shapes is not None and not isinstance(shapes, dict):
        raise SpecError(f"{where}'shapes' must be a table: [shapes]")
    shapes = {canonical_name(k): v for k, v in (shapes or {}).items()}
    # shapes, or a value that is a list: batched matrix form (symbackprop.matrix)
    matrix = bool(shapes) or any(isinstance(v, list) for v in (values or {}).values())

    title, titles = _titles(data.get("title"), where)
    loss = data.get("loss")
    if loss is not None and not isinstance(loss, str):
        raise SpecError(f"{where}'loss' must be a node name")
    try:
        if matrix:
            from .matrix.network import network_from_latex as matrix_network

            network = matrix_network(forward, params=params, loss=canonical_name(loss) if loss else None,
                                     shapes=shapes, values=values, title=title,
                                     first_line=first_line)
        else:
            network = network_from_latex(
                forward, params=params, loss=canonical_name(loss) if loss else None,
                known=set(values or ()) | set(shapes), title=title,
                first_line=first_line,
            )
    except SymbackpropError as e:
        raise type(e)(f"{where}{e}") from None
    network.titles = titles
    if values is not None:
        unknown_values = [k for k in values if k not in network]
        if unknown_values:
            raise SpecError(f"{where}[values] names '{unknown_values[0]}', which is not in the "
                            f"forward pass; nodes: {', '.join(network.order)}")
    lr = data.get("learning_rate")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
        raise SpecError(f"{where}'learning_rate' must be a number, got {lr!r}")
    digits = data.get("digits", 3)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 15:
        raise SpecError(f"{where}'digits' must be a whole number from 0 to 15, got {digits!r}")
    mode = data.get("mode", "exact")
    if mode not in ("exact", "hand"):
        raise SpecError(f"{where}'mode' must be \"exact\" or \"hand\", got {mode!r}")
    lang = data.get("lang", "en")
    if lang not in ("en", "zh"):
        raise SpecError(f"{where}'lang' must be \"en\" or \"zh\", got {lang!r}")
    return Spec(network, values, lr, digits, mode, lang, title, shapes, path)


def _titles(raw, where: str) -> tuple[str | None, dict[str, str]]:
    """``title = "…"``, or one per language: ``title = { en = "…", zh = "…" }``."""
    if raw is None or isinstance(raw, str):
        return raw, {}
    if isinstance(raw, dict) and raw and all(isinstance(v, str) for v in raw.values()):
        unknown = sorted(set(raw) - {"en", "zh"})
        if not unknown:
            return raw.get("en", next(iter(raw.values()))), dict(raw)
        raise SpecError(f"{where}'title' has a title for unknown language '{unknown[0]}'; use en, zh")
    raise SpecError(f"{where}'title' must be a string or a table of strings by language, "
                    f"e.g. title = {{ en = \"…\", zh = \"…\" }}")


def _forward_lines(forward: str, first_line: int = 1) -> Iterable[tuple[int, str]]:
    """(line number, text) of each equation; blank lines, ``%`` comments, ``\\\\`` and ``&`` dropped."""
    for number, raw in enumerate(forward.splitlines(), start=first_line):
        text = raw.split("%", 1)[0] if "%" in raw and "\\%" not in raw else raw
        text = text.strip()
        if text.endswith(r"\\"):
            text = text[:-2].rstrip()
        text = text.replace("&=", "=").replace("&", " ")
        if text and not text.startswith((r"\begin", r"\end")):
            yield number, text


@dataclass
class ForwardLine:
    """One checked line of a forward pass: ``name = rhs``, parsed."""

    number: int  #: line of the spec file
    name: str  #: canonical name defined
    rhs: str  #: the right-hand side as written
    tree: latex_in.Node  #: its syntax tree
    leaves: list[str]  #: names used here for the first time, in reading order


def read_forward(forward: str, *, params: Iterable[str] = (), known: Iterable[str] = (),
                 first_line: int = 1, constants: Iterable[str] = ()) -> list[ForwardLine]:
    """Parse a forward pass line by line and check its names.

    Redefinitions, cycles and names used before their definition are
    :class:`SpecError` naming the line, counted from ``first_line`` (the spec
    file's line). ``constants`` are names that are not leaves (dimensions).
    """
    lines = []
    defined_at: dict[str, int] = {}
    for number, text in _forward_lines(forward, first_line):
        try:
            lhs, rhs, offset = latex_in.parse_equation(text)
            name, _ = latex_in.parse_name(lhs)
        except LatexSyntaxError as e:
            raise SpecError(f"line {number}: {e}") from None
        if name in defined_at:
            raise SpecError(f"line {number}: '{name}' is defined again (first defined on line "
                            f"{defined_at[name]}); every name is defined once")
        defined_at[name] = number
        lines.append((number, name, rhs))
    if not lines:
        raise SpecError("the forward pass is empty: write one 'name = expression' per line")

    names = set(defined_at) | set(params) | set(known)
    seen, out = set(constants), []
    for number, name, rhs in lines:
        try:
            tree = latex_in.parse(rhs, names)
        except LatexSyntaxError as e:
            raise SpecError(f"line {number}: {e}") from None
        used = latex_in.free_names(tree)
        if name in used:
            raise SpecError(f"line {number}: '{name}' is defined in terms of itself (a cycle)")
        for u in sorted(used):
            if u in defined_at and defined_at[u] > number:
                raise SpecError(f"line {number}: '{u}' is used before it is defined "
                                f"(on line {defined_at[u]})")
        leaves = sorted(used - seen, key=lambda u: _first_position(rhs, u))
        seen |= used | {name}
        out.append(ForwardLine(number, name, rhs, tree, leaves))
    return out


def network_from_latex(forward: str, *, params: Iterable[str] = (), loss: str | None = None,
                       known: Iterable[str] = (), title: str | None = None,
                       first_line: int = 1) -> Network:
    """The network whose forward pass is ``forward``: one ``name = LaTeX`` per line.

    Errors name the line, counted from ``first_line`` (the spec file's line).
    """
    params = [canonical_name(p) for p in params]
    lines = read_forward(forward, params=params, known=known, first_line=first_line)
    net = Network(params=params, loss_name=loss, title=title)
    for line in lines:
        for u in line.leaves:
            net.leaf(u)
        symbols = {n: node_symbol(n) for n in net.order}
        try:
            expr = latex_in.to_sympy(line.tree, symbols)
            display = latex_in.to_sympy(line.tree, symbols, evaluate=False)
        except LatexSyntaxError as e:
            raise SpecError(f"line {line.number}: {e}") from None
        net.define(line.name, expr, display=display, line=line.number)
    net.validate()
    return net


def _first_position(text: str, name: str) -> int:
    """Where ``name`` first appears in ``text`` (to declare leaves in reading order)."""
    base, _, sub = name.partition("_")
    candidates = [name, f"{base}_{{{sub}}}"] if sub else [name]
    found = [text.find(c) for c in candidates if text.find(c) >= 0]
    return min(found) if found else len(text)
