r"""The bundled example specs, and reading a spec from a path, a name, standard input or text.

The specs of ``derivations/`` ship in the package (as ``symbackprop.derivations``),
so every command can be tried right after ``pip install``::

    symbackprop examples                      # the list
    symbackprop examples seed_scalar | symbackprop derive -

>>> "seed_scalar" in names()
True
>>> read_spec("seed_scalar").network.loss
'L'
>>> read_spec("forward = 'L = w x'\nparams = ['w']").network.params
('w',)
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Union

from symbackprop.errors import SpecError
from symbackprop.spec import Spec, load_spec, spec_from_toml

SpecLike = Union[Spec, str, Path]


def directory() -> Path:
    """Where the bundled specs are: inside the installed package, or the checkout's ``derivations/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "derivations", here.parent / "derivations"):
        if any(candidate.glob("*.toml")):
            return candidate
    raise SpecError("the bundled examples are missing from this installation")  # pragma: no cover


def names() -> list[str]:
    """The bundled examples' names (``seed_scalar``, ``seed_matrix``, …), sorted."""
    return sorted(p.stem for p in directory().glob("*.toml"))


def path(name: str) -> Path:
    """The spec file of a bundled example; a :class:`SpecError` with a "did you mean" otherwise."""
    p = directory() / f"{name}.toml"
    if not p.is_file():
        close = difflib.get_close_matches(name, names(), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise SpecError(f"no bundled example '{name}'{hint} (symbackprop examples lists them)")
    return p


def claims_path(name: str) -> Path | None:
    """The worked solution (claims file) that comes with an example, if any."""
    p = directory() / f"{name}.claims"
    return p if p.is_file() else None


def title(name: str) -> str:
    """The example's title (its spec's ``title``), or its name."""
    try:
        spec = load_spec(path(name))
    except SpecError:  # pragma: no cover - the bundled specs load (tests/test_bundled.py)
        return name
    return spec.network.title or name


def read_text(arg: str | Path, what: str = "file") -> str:
    """A text argument: ``-`` is standard input; a byte-order mark is dropped."""
    if str(arg) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(arg).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"{what} not found: {arg}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SpecError(f"cannot read {what} {arg}: {e}") from None
    return text.lstrip("\ufeff")


def read_spec(spec: SpecLike) -> Spec:
    """A :class:`Spec` from a Spec, a file path, ``-`` (standard input), TOML text, or the name
    of a bundled example."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, str) and "\n" in spec or isinstance(spec, str) and spec.lstrip().startswith("forward"):
        return spec_from_toml(spec.lstrip("\ufeff"))
    if str(spec) == "-":
        return spec_from_toml(read_text("-"), Path("<stdin>"))
    p = Path(spec)
    if not p.exists() and p.suffix == "" and "/" not in str(spec) and str(spec) in names():
        p = path(str(spec))
    if not p.exists() and p.suffix == "":
        close = difflib.get_close_matches(str(spec), names(), n=1, cutoff=0.6)
        if close:
            raise SpecError(f"spec file not found: {spec}; did you mean the bundled example '{close[0]}'?")
    return spec_from_toml(read_text(p, "spec file"), p)
