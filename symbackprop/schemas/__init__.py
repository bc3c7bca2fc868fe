"""JSON Schemas (draft 2020-12) of the JSON that symbackprop writes.

One schema per command: ``derive``, ``check``, ``verify`` and ``grade``, shipped
as ``symbackprop/schemas/NAME.schema.json``. Every document carries
``"schema_version": 1``; keys may be added within a version, so readers should
ignore keys they do not know. Each schema stands alone (no reference leaves
its file), so any draft 2020-12 validator can use it as it is.

>>> import symbackprop as sb
>>> schema("verify")["properties"]["schema_version"]
{'const': 1}
>>> validate("derive", sb.derive("derivations/seed_scalar.toml").to_json())

``validate`` needs the ``jsonschema`` package (in the ``test`` extra), which
symbackprop itself does not depend on.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["NAMES", "schema", "validate"]

#: the outputs that have a schema
NAMES = ("derive", "check", "verify", "grade")


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def schema(name: str) -> dict:
    """The schema of ``name``'s JSON output (a fresh dict: changing it changes nothing here)."""
    if name not in NAMES:
        raise ValueError(f"no schema named {name!r}; the schemas are {', '.join(NAMES)}")
    return json.loads(_text(name))


def validate(name: str, data: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``data`` fits the schema of ``name``.

    ``data`` is the parsed JSON (or the dict a ``to_json()`` returns).
    """
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        raise ImportError("symbackprop.schemas.validate needs the jsonschema package, which "
                          "symbackprop does not install: pip install jsonschema "
                          "(symbackprop.schemas.schema(name) works without it)") from None
    Draft202012Validator(schema(name)).validate(data)
