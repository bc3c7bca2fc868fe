"""Verdicts, diagnoses and the report of a whole worked solution, as text or JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from symbackprop.render.phrases import phrase

SCHEMA_VERSION = 1  #: of the verify JSON (symbackprop/schemas/verify.schema.json)
VERDICTS = ("correct", "incorrect", "error")
#: diagnosis kinds of an incorrect claim
KINDS = ("sign", "constant_factor", "missing_factor", "extra_factor", "wrong_factor", "missing_term",
         "shape_mismatch", "transpose", "rounding", "value", "other")


@dataclass
class Diagnosis:
    """What is wrong (or, for a correct claim, how it was confirmed).

    ``kind`` is one of :data:`KINDS`, ``"none"`` for a correct claim, or
    ``"error"`` when the claim could not be checked; ``details`` carries the
    facts behind the message (the factor in LaTeX, the counterexample, …).
    """

    kind: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, **self.details}


@dataclass
class Verdict:
    """The judgement of one claim."""

    claim: str  #: ``lhs = rhs`` as written
    target: str  #: ``∂L/∂w_1``, ``∂a_2/∂z_2`` or a node name ("" if unreadable)
    verdict: str  #: "correct", "incorrect" or "error"
    diagnosis: Diagnosis
    line: int | None = None  #: line of the claims file
    method: str | None = None  #: "numeric", "precision", "hand" for a correct claim
    #: which readings hold: "given" (at the spec's values), "inputs" (any parameters, the given
    #: inputs), "general" (any values, any sizes); None where a reading has no case
    holds: dict[str, bool | None] | None = None
    meant: str | None = None  #: "local" or "total": how an ambiguous ∂y/∂x was read

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    def __repr__(self) -> str:
        mark = {"correct": "✓", "incorrect": "✗", "error": "!"}.get(self.verdict, "?")
        where = f"line {self.line}: " if self.line is not None else ""
        kind = "" if self.diagnosis.kind in ("none", "error") else f" [{self.diagnosis.kind}]"
        return f"Verdict({mark} {where}{self.claim}{kind})"


    def to_json(self) -> dict:
        out = {"claim": self.claim, "target": self.target, "verdict": self.verdict,
               "diagnosis": self.diagnosis.to_json()}
        if self.line is not None:
            out["line"] = self.line
        if self.method is not None:
            out["method"] = self.method
        if self.holds is not None:
            out["holds"] = dict(self.holds)
        if self.meant is not None:
            out["meant"] = self.meant
        return out


@dataclass
class Report:
    """Verdicts of a worked solution, in order; the first wrong step is named.

    >>> r = Report([Verdict("x = 1", "x", "correct", Diagnosis("none", "equal"))])
    >>> r.ok, r.exit_code, r.first_wrong is None
    (True, 0, True)
    """

    verdicts: list[Verdict]
    lang: str = "en"

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self.verdicts)

    def __len__(self) -> int:
        return len(self.verdicts)

    def __getitem__(self, i: int) -> Verdict:
        return self.verdicts[i]

    @property
    def ok(self) -> bool:
        """Every claim is correct."""
        return all(v.correct for v in self.verdicts)

    @property
    def verdict(self) -> str:
        """``"error"`` if any claim could not be checked, else ``"incorrect"`` if any is wrong."""
        kinds = {v.verdict for v in self.verdicts}
        return "error" if "error" in kinds else "incorrect" if "incorrect" in kinds else "correct"

    @property
    def first_wrong(self) -> Verdict | None:
        """The first claim that is not correct (wrong or unreadable)."""
        return next((v for v in self.verdicts if not v.correct), None)

    @property
    def diagnosis(self) -> Diagnosis | None:
        """Diagnosis of the first wrong step (None when all are correct)."""
        v = self.first_wrong
        return None if v is None else v.diagnosis

    @property
    def exit_code(self) -> int:
        """0 all correct, 1 some incorrect, 3 some could not be read (2 is kept for a broken spec)."""
        return {"correct": 0, "incorrect": 1, "error": 3}[self.verdict]

    def __repr__(self) -> str:
        counts = {k: sum(v.verdict == k for v in self.verdicts) for k in VERDICTS}
        parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        first = self.first_wrong
        tail = "" if first is None else f"; first wrong: {first.target or first.claim}"
        return f"Report({len(self.verdicts)} claims: {parts or 'none'}{tail})"

    def to_markdown(self, lang: str | None = None) -> str:
        """A table, one row per claim: mark, line, claim (as math), verdict and diagnosis."""
        lang = lang or self.lang
        rows = ["| | line | claim | " + phrase("v_verdict", lang) + " |", "|---|---|---|---|"]
        for v in self.verdicts:
            mark = {"correct": "✓", "incorrect": "✗", "error": "!"}[v.verdict]
            claim = v.claim.replace("|", "\\vert ").replace("\n", " ")
            message = v.diagnosis.message.replace("|", "\\|").replace("\n", " ")
            line = "" if v.line is None else str(v.line)
            rows.append(f"| {mark} | {line} | ${claim}$ | {phrase('v_' + v.verdict, lang)}: {message} |")
        first = self.first_wrong
        if first is None:
            rows.append("\n" + phrase("v_all_correct" if len(self) > 1 else "v_one_correct", lang, n=len(self)))
        return "\n".join(rows) + "\n"

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.to_markdown()

    def to_json(self) -> dict:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION,
                               "claims": [v.to_json() for v in self.verdicts], "ok": self.ok}
        first = self.first_wrong
        if first is not None:
            out["first_wrong"] = self.verdicts.index(first)
        return out

    def to_text(self, lang: str | None = None, *, errors: bool = True) -> str:
        """One line per claim, the diagnosis under a wrong one, and the first wrong step.

        With ``errors=False`` unreadable claims are left out (the command line
        prints them on stderr).
        """
        lang = lang or self.lang
        lines = []
        for v in self.verdicts:
            if v.verdict == "error" and not errors:
                continue
            mark = {"correct": "✓", "incorrect": "✗", "error": "!"}[v.verdict]
            where = f"{phrase('v_line', lang, n=v.line)}: " if v.line is not None else ""
            lines.append(f"{mark} {phrase('v_' + v.verdict, lang)}: {where}{v.claim}")
            lines.append(f"    {v.diagnosis.message}")
        first = self.first_wrong
        if first is None:
            lines.append(phrase("v_all_correct" if len(self.verdicts) > 1 else "v_one_correct", lang,
                                n=len(self.verdicts)))
        elif len(self.verdicts) > 1:
            where = (phrase("v_line", lang, n=first.line) if first.line is not None
                     else phrase("v_claim", lang, n=self.verdicts.index(first) + 1))
            lines.append(phrase("v_first_wrong", lang, where=where, target=first.target))
        return "\n".join(lines) + "\n"
