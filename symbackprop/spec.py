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
    activations = { phi = "relu" }          # optional: \\phi(z) is ReLU(z)
    elementwise_powers = false              # optional: true reads A^{[1]2} of a matrix as A ⊙ A
    [values]                                # optional: a numeric worked solution
    x = 2.0

>>> net = network_from_latex("z = w x\\nL = (z - y)^2", params=["w"])
>>> net.order
('w', 'x', 'z', 'y', 'L')
"""
from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from symbackprop.errors import LatexSyntaxError, SpecError, SymbackpropError, did_you_mean
from symbackprop.network import Network
from symbackprop.reader.forward import network_from_latex
from symbackprop.reader.latex import canonical_name, declared_functions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"title", "forward", "params", "loss", "learning_rate", "digits", "mode", "lang",
        "values", "shapes", "activations", "elementwise_powers"}


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
    activations: dict[str, str] = field(default_factory=dict)  #: declared name → function


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
    except ValueError as e:  # a whole number of more than 4300 digits: Python will not read it
        raise SpecError(f"{where}: {_unreadable_number(text) or e}") from None
    return spec_from_dict(data, path, first_line=_forward_first_line(text))


_LONG_NUMBER = re.compile(r"[-+]?\d[\d_]{4299,}")
_KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-.]+)\s*=")


def _unreadable_number(text: str) -> str | None:
    """Which key's number is too long for Python to read, and on which line."""
    key = None
    for number, line in enumerate(text.splitlines(), start=1):
        k = _KEY.match(line)
        if k:  # the key whose value this line holds (or starts: a list over several lines)
            key = k.group(1).strip("'\"")
        m = _LONG_NUMBER.search(line)
        if m:
            digits = sum(c.isdigit() for c in m.group())
            return (f"line {number}: the value of '{key}' is a number of {digits} digits, "
                    f"outside the range of a double")
    return None


def _digits(n: int) -> int:
    """Decimal digits of a whole number, also of one too long for ``str``."""
    try:
        return len(str(abs(n)))
    except ValueError:  # more than sys.get_int_max_str_digits()
        return int(abs(n).bit_length() * math.log10(2)) + 1


def _depth(v) -> int:
    """How many lists deep ``v`` is (without recursion: a value may be nested thousands deep)."""
    depth = 0
    while isinstance(v, list):
        depth += 1
        v = v[0] if v else None
    return depth


def _out_of_range(v) -> str | None:
    """Why a spec's number (or nested lists of numbers) cannot be a double, or None."""
    if isinstance(v, list):
        return next((p for p in map(_out_of_range, v) if p), None)
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        try:
            float(v)
        except OverflowError:
            return f"a whole number of {_digits(v)} digits is outside the range of a double"
    elif isinstance(v, float) and not math.isfinite(v):
        return f"{v} is not a finite number (TOML reads a number beyond ±1.8e308 as inf)"
    return None


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
    values = _canonical_keys(values, "[values]", where) if values else None
    for name, v in list((values or {}).items()):
        if type(v).__module__ == "numpy" and hasattr(v, "tolist"):  # a NumPy array or number
            v = values[name] = v.tolist()
        if _depth(v) > 32:
            raise SpecError(f"{where}value of '{name}' is nested {_depth(v)} lists deep; a value is a "
                            f"number, a vector or a matrix")
        if isinstance(v, bool) or not isinstance(v, (int, float, list)):
            raise SpecError(f"{where}value of '{name}' must be a number, got {v!r}")
        problem = _out_of_range(v)
        if problem:
            raise SpecError(f"{where}value of '{name}': {problem}")
    shapes = data.get("shapes")
    if shapes is not None and not isinstance(shapes, dict):
        raise SpecError(f"{where}'shapes' must be a table: [shapes]")
    shapes = _canonical_keys(shapes or {}, "[shapes]", where)

    activations = data.get("activations", {})
    if not isinstance(activations, dict) or not all(isinstance(v, str) for v in activations.values()):
        raise SpecError(f"{where}'activations' must be a table of function names, "
                        f"e.g. activations = {{ phi = \"relu\", g = \"tanh\" }}")
    elementwise = data.get("elementwise_powers", False)
    if not isinstance(elementwise, bool):
        raise SpecError(f"{where}'elementwise_powers' must be true or false, got {elementwise!r}")

    title, titles = _titles(data.get("title"), where)
    loss = data.get("loss")
    if loss is not None and not isinstance(loss, str):
        raise SpecError(f"{where}'loss' must be a node name")
    try:
        network = network_from_latex(forward, params=params,
                                     loss=canonical_name(loss) if loss else None, shapes=shapes,
                                     values=values, title=title, first_line=first_line,
                                     activations=activations, elementwise_powers=elementwise)
    except SymbackpropError as e:
        raise type(e)(f"{where}{e}") from None
    network.titles = titles
    if values is not None:
        unknown_values = [k for k in values if k not in network]
        if unknown_values:
            raise SpecError(f"{where}[values] names '{unknown_values[0]}', which is not in the "
                            f"forward pass (nodes: {', '.join(network.order)})"
                            f"{did_you_mean(unknown_values[0], network.order)}")
    lr = data.get("learning_rate")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
        raise SpecError(f"{where}'learning_rate' must be a number, got {lr!r}")
    if lr is not None:
        problem = _out_of_range(lr)
        if problem:
            raise SpecError(f"{where}'learning_rate': {problem}")
        lr = float(lr)
    digits = data.get("digits", 3)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 15:
        shown = (f"a number of {_digits(digits)} digits"
                 if isinstance(digits, int) and abs(digits) > 10**9 else repr(digits))
        raise SpecError(f"{where}'digits' must be a whole number from 0 to 15, got {shown}")
    mode = data.get("mode", "exact")
    if mode not in ("exact", "hand"):
        raise SpecError(f"{where}'mode' must be \"exact\" or \"hand\", got {mode!r}")
    lang = data.get("lang", "en")
    if lang not in ("en", "zh"):
        raise SpecError(f"{where}'lang' must be \"en\" or \"zh\", got {lang!r}")
    return Spec(network, values, lr, digits, mode, lang, title, shapes, path,
                declared_functions(activations))


def _canonical_keys(table: Mapping[str, Any], what: str, where: str) -> dict[str, Any]:
    """A table keyed by canonical names; two spellings of one name (``"\\mu_B"`` and ``"μ_B"``)
    are an error, not a silent overwrite."""
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, v in table.items():
        try:
            name = canonical_name(key)
        except LatexSyntaxError:
            m = re.fullmatch(r"([A-Za-z]+)(\d+)", key)
            hint = f"; did you mean '{m.group(1)}_{m.group(2)}'?" if m else ""
            raise SpecError(f"{where}{what}: '{key}' is not a name as the forward pass writes one"
                            f"{hint}") from None
        if name in out:
            raise SpecError(f"{where}{what} gives '{name}' twice (as '{spelled[name]}' and '{key}')")
        out[name], spelled[name] = v, key
    return out


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
