r"""Grading a whole class: every student's worked solution checked against one spec.

::

    symbackprop grade SPEC SUBMISSIONS_DIR [--rubric FILE] [--format text|json|csv|markdown]
                      [-o FILE] [--lang en|zh]

``SUBMISSIONS_DIR`` holds one file per student, named after the student
(``alice.claims``, ``bob.tex``, ``carol.md``; see :mod:`.submissions` for what
is read from each kind). Every claim is judged by one
:class:`~symbackprop.verification.Verifier` for the class, as
``symbackprop verify`` judges it; identical claims (many students write the
same step) are judged once. A malformed line is an ``"error"`` verdict for
that line only; a file that cannot be read (not UTF-8, unreadable, no claim
in it) is reported for that student, who scores 0, and the rest of the class
is still graded.

**Scoring.** Without a rubric each claim is worth one point: the score is the
number of correct claims, the maximum the number of claims. A rubric (TOML)
names the steps that earn points::

    [[step]]
    name = "dL/dw1"                                  # optional; default: the target, ∂L/∂w_1
    target = '\frac{\partial L}{\partial w_1}'      # a left-hand side, read as claims are
    points = 2                                       # optional; default 1

A claim belongs to the step whose target its left-hand side reads to
(``dL/dw_1`` and ``\frac{\partial L}{\partial w_1}`` are the same step). A
step's points are split evenly among the student's claims on it and each
correct one earns its share, so the chain ``∂L/∂w_1 = <formula> = 0.116``
earns the whole step only when both parts are right; a malformed claim on the
step counts as wrong. Claims on other targets earn 0; a step the student never
claimed earns 0 and is listed as missing. The maximum is the rubric's total,
the same for every student.

**Outputs.** ``text`` (default): one line per student, ``name  score/max``,
with the wrong and unreadable claims indented below it (line, claim,
diagnosis), then the class's mean, median and highest score. ``json``::

    {"schema_version": 1, "spec": "<spec path as given>",
     "rubric": [{"step": name, "target": label, "points": p}] or null,
     "students": [{"name": stem, "file": file name, "score": s, "max": m,
                   "missing": [step names], "error": message (unreadable file only),
                   "claims": [Verdict.to_json() + {"points": earned, "step": name or null}]}],
     "summary": {"students": n, "mean": x, "median": x, "max": highest score}}

Students are sorted by name; without a rubric a claim's ``step`` is its
target (the CSV column it counts in), null when its left side cannot be read.
``csv``: ``student,score,max`` and one column per rubric step (without a
rubric, one per target claimed in the class, in the order first seen), a cell
being the points earned on it. ``markdown``: that table, the class summary,
and for each student the first wrong step with its diagnosis. ``-o FILE``
writes a file (its extension, ``.txt``/``.json``/``.csv``/``.md``, gives the
format when ``--format`` is not given); without ``-o``, or with ``-o -``,
standard output.

**Exit status.** 0 when the class was graded, whatever the scores; 2 when it
could not be (the spec is broken, the directory is missing or holds no
submission, the rubric is bad, a usage mistake), with one line on stderr
naming the file.

>>> r = grade("derivations/seed_scalar.toml", {"alice.claims": "dL/dw_1 = 0.116",
...                                              "bob.claims": "dL/dw_1 = -0.116\ndL/db = -0.296"})
>>> [(s.name, s.score, s.max) for s in r.students]
[('alice', 1.0, 1.0), ('bob', 1.0, 2.0)]
>>> print(r.to_text(), end="")  # doctest: +ELLIPSIS
alice  1/1
bob    1/2
  ✗ line 1: dL/dw_1 = -0.116
      ...sign...
2 students: mean 1, median 1, highest 1
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import sys
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

from symbackprop.errors import SymbackpropError
from symbackprop.render.phrases import phrase
from symbackprop.verification.claims import Claim
from symbackprop.verification.report import Verdict
from symbackprop.verification.submissions import Submission, read_directory, read_mapping

if TYPE_CHECKING:  # the package imports this module: Verifier is imported when a Grader is made
    from symbackprop.verification import Checkable

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCHEMA_VERSION = 1  #: of the grade JSON
OUTPUT_FORMATS = ("text", "json", "csv", "markdown")
_SUFFIXES = {".txt": "text", ".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown"}

_WORDS = {
    "student": {"en": "student", "zh": "学生"},
    "score": {"en": "score", "zh": "得分"},
    "max": {"en": "max", "zh": "满分"},
    "summary": {"en": "{n} students: mean {mean}, median {median}, highest {max}",
                "zh": "{n} 名学生：平均 {mean}，中位数 {median}，最高 {max}"},
    "missing": {"en": "missing: {steps}", "zh": "缺少：{steps}"},
    "unreadable": {"en": "not graded: {error}", "zh": "未评分：{error}"},
    "first_wrong": {"en": "First wrong step", "zh": "第一个错误步骤"},
    "all_correct": {"en": "all correct", "zh": "全部正确"},
    "grades": {"en": "Grades", "zh": "成绩"},
    ", ": {"en": ", ", "zh": "，"},
    ": ": {"en": ": ", "zh": "："},
    "; ": {"en": "; ", "zh": "；"},
}


def _say(key: str, lang: str, **fields) -> str:
    return _WORDS[key].get(lang, _WORDS[key]["en"]).format(**fields)


def _num(x) -> str:
    """A score as people write it: ``7``, ``6.5``, ``0.67``."""
    text = f"{float(x):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _fraction(x) -> Fraction:
    return Fraction(x) if isinstance(x, int) else Fraction(repr(float(x)))


# ---- the rubric -------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One graded step: the target a claim must name, and what it is worth."""

    name: str  #: the column's name
    target: str  #: LaTeX as written in the rubric
    label: str  #: the target it reads to, ``∂L/∂w_1``
    points: Fraction

    def to_json(self) -> dict:
        return {"step": self.name, "target": self.label, "points": float(self.points)}


@dataclass
class Rubric:
    """Steps in order; a claim is matched to a step by the label of its target."""

    steps: list[Step]
    source: str = "rubric"

    def __post_init__(self):
        self.by_label = {s.label: s for s in self.steps}

    @property
    def total(self) -> Fraction:
        return sum((s.points for s in self.steps), Fraction(0))

    def to_json(self) -> list[dict]:
        return [s.to_json() for s in self.steps]


_STEP_KEYS = ("name", "target", "points")


def load_rubric(rubric: Union[str, Path, Mapping, "Rubric"], read_target: Callable[[str], str]) -> Rubric:
    """A rubric from a TOML file (or its parsed table); every problem is one line naming the file
    and the step. ``read_target`` turns a left-hand side into its target's label."""
    if isinstance(rubric, Rubric):
        return rubric
    if isinstance(rubric, (str, Path)):
        from symbackprop.bundled import read_text

        where = str(rubric)
        text = read_text(rubric, "rubric file")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SymbackpropError(f"{where}: broken TOML: {e}") from None
    elif isinstance(rubric, Mapping):
        where, data = "rubric", rubric
    else:
        raise TypeError(f"a rubric is a TOML file's path or its table, not {type(rubric).__name__}")
    extra = [k for k in data if k != "step"]
    if extra:
        raise SymbackpropError(f"{where}: unknown key '{extra[0]}'; a rubric is a list of "
                               f"[[step]] tables with name, target and points")
    steps_data = data.get("step")
    if not isinstance(steps_data, list) or not steps_data:
        raise SymbackpropError(f"{where}: no steps; write one [[step]] table per step, with "
                               f"target = '\\frac{{\\partial L}}{{\\partial w_1}}' and points = 2")
    steps: list[Step] = []
    names: dict[str, int] = {}
    labels: dict[str, int] = {}
    for i, entry in enumerate(steps_data, 1):
        if not isinstance(entry, Mapping):
            raise SymbackpropError(f"{where}: step {i}: not a table; write [[step]] with target and points")
        name = entry.get("name")
        at = f"{where}: step {i}" + (f" ('{name}')" if isinstance(name, str) and name else "")
        unknown = [k for k in entry if k not in _STEP_KEYS]
        if unknown:
            raise SymbackpropError(f"{at}: unknown key '{unknown[0]}'; a step has {', '.join(_STEP_KEYS)}")
        target = entry.get("target")
        if not isinstance(target, str) or not target.strip():
            raise SymbackpropError(f"{at}: needs target, the left-hand side it grades, such as "
                                   f"'\\frac{{\\partial L}}{{\\partial w_1}}'")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise SymbackpropError(f"{at}: name must be a non-empty string")
        points = entry.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, (int, float)) \
                or not math.isfinite(points) or points <= 0:
            raise SymbackpropError(f"{at}: points must be a positive number, not {points!r}")
        try:
            label = read_target(target.strip())
        except SymbackpropError as e:
            raise SymbackpropError(f"{at}: target '{target}': {e}") from None
        name = name.strip() if name is not None else label
        if name in names:
            raise SymbackpropError(f"{at}: the name '{name}' is also step {names[name]}'s")
        if label in labels:
            raise SymbackpropError(f"{at}: the target {label} is also step {labels[label]}'s")
        names[name], labels[label] = i, i
        steps.append(Step(name, target.strip(), label, _fraction(points)))
    return Rubric(steps, where)


# ---- one student ------------------------------------------------------------
@dataclass
class StudentResult:
    """A student's verdicts and points."""

    name: str
    file: str
    score: float
    max: float
    verdicts: list[Verdict] = field(default_factory=list)
    points: list[float] = field(default_factory=list)  #: earned by each claim
    steps: list[str | None] = field(default_factory=list)  #: the step (column) of each claim
    targets: list[str | None] = field(default_factory=list)  #: the target of each claim, ∂L/∂w_1
    earned: dict[str, float] = field(default_factory=dict)  #: column → points earned on it
    missing: list[str] = field(default_factory=list)
    error: str | None = None  #: the submission could not be read

    @property
    def first_wrong(self) -> Verdict | None:
        return next((v for v in self.verdicts if not v.correct), None)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "file": self.file, "score": self.score,
                               "max": self.max, "missing": list(self.missing)}
        if self.error is not None:
            out["error"] = self.error
        out["claims"] = [{**v.to_json(), "points": p, "step": s}
                         for v, p, s in zip(self.verdicts, self.points, self.steps)]
        return out


# ---- the class ----------------------------------------------------------------
@dataclass
class ClassReport:
    """Every student's result; ``to_json``, ``to_csv``, ``to_markdown``, ``to_text``."""

    spec: str
    rubric: Rubric | None
    students: list[StudentResult]
    lang: str = "en"

    exit_code = 0  #: the class was graded

    def __iter__(self):
        return iter(self.students)

    def __len__(self) -> int:
        return len(self.students)

    def __getitem__(self, name: str) -> StudentResult:
        for s in self.students:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def columns(self) -> list[str]:
        """The rubric's step names, or every target claimed in the class, in the order first seen."""
        if self.rubric is not None:
            return [s.name for s in self.rubric.steps]
        seen: dict[str, None] = {}
        for st in self.students:
            for step in st.steps:
                if step is not None:
                    seen.setdefault(step)
        return list(seen)

    @property
    def summary(self) -> dict:
        scores = [s.score for s in self.students]
        if not scores:
            return {"students": 0, "mean": 0.0, "median": 0.0, "max": 0.0}
        return {"students": len(scores), "mean": statistics.fmean(scores),
                "median": float(statistics.median(scores)), "max": max(scores)}

    def to_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "spec": self.spec,
                "rubric": None if self.rubric is None else self.rubric.to_json(),
                "students": [s.to_json() for s in self.students], "summary": self.summary}

    def to_csv(self) -> str:
        columns = self.columns
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["student", "score", "max", *columns])
        for s in self.students:
            w.writerow([s.name, _num(s.score), _num(s.max), *(_num(s.earned.get(c, 0)) for c in columns)])
        return buf.getvalue()

    def _summary_line(self, lang: str) -> str:
        m = self.summary
        return _say("summary", lang, n=m["students"], mean=_num(m["mean"]), median=_num(m["median"]),
                    max=_num(m["max"]))

    def to_text(self, lang: str | None = None) -> str:
        lang = lang or self.lang
        width = max((len(s.name) for s in self.students), default=0)
        lines = []
        for s in self.students:
            lines.append(f"{s.name.ljust(width)}  {_num(s.score)}/{_num(s.max)}")
            if s.error is not None:
                lines.append("  ! " + _say("unreadable", lang, error=s.error))
            for v in s.verdicts:
                if v.correct:
                    continue
                mark = "✗" if v.verdict == "incorrect" else "!"
                where = f"{phrase('v_line', lang, n=v.line)}: " if v.line is not None else ""
                lines.append(f"  {mark} {where}{_one_line(v.claim)}")
                lines.append(f"      {_one_line(v.diagnosis.message)}")
            if s.missing and s.error is None:
                lines.append("  " + _say("missing", lang, steps=", ".join(s.missing)))
        lines.append(self._summary_line(lang))
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.to_markdown()

    def to_markdown(self, lang: str | None = None) -> str:
        lang = lang or self.lang
        columns = self.columns
        head = [_say("student", lang), _say("score", lang), _say("max", lang), *columns]
        lines = [f"# {_say('grades', lang)}: {_md_cell(Path(self.spec).name or self.spec)}"
                 if self.spec else f"# {_say('grades', lang)}", "",
                 "| " + " | ".join(_md_cell(h) for h in head) + " |",
                 "|" + "---|" + "---:|" * (len(head) - 1)]
        for s in self.students:
            cells = [s.name, _num(s.score), _num(s.max), *(_num(s.earned.get(c, 0)) for c in columns)]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        lines += ["", self._summary_line(lang) + ".", "", f"## {_say('first_wrong', lang)}", ""]
        for s in self.students:
            if s.error is not None:
                said = _say("unreadable", lang, error=_one_line(s.error))
            else:
                v = s.first_wrong
                if v is None:
                    said = _say("all_correct", lang)
                else:
                    target = s.targets[s.verdicts.index(v)] if s.targets else v.target
                    where = _say(", ", lang).join(([phrase("v_line", lang, n=v.line)] if v.line is not None else [])
                                                  + ([target] if target else []))
                    said = (where + _say(": ", lang) if where else "") + \
                        f"{_code(v.claim)} — {_one_line(v.diagnosis.message)}"
                if s.missing:
                    said += _say("; ", lang) + _say("missing", lang, steps=", ".join(s.missing))
            lines.append(f"- **{s.name}**{_say(': ', lang)}{said}")
        return "\n".join(lines) + "\n"

    def render(self, fmt: str = "text", lang: str | None = None) -> str:
        """The report in one of :data:`OUTPUT_FORMATS`."""
        if fmt == "json":
            return json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"
        if fmt == "csv":
            return self.to_csv()
        if fmt == "markdown":
            return self.to_markdown(lang)
        if fmt == "text":
            return self.to_text(lang)
        raise SymbackpropError(f"unknown format '{fmt}'; use one of {', '.join(OUTPUT_FORMATS)}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _md_cell(text: str) -> str:
    return _one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def _code(text: str) -> str:
    text = _one_line(text)
    ticks = "`"
    while ticks in text:
        ticks += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


# ---- grading ---------------------------------------------------------------------
class Grader:
    """Grades submissions against one spec (one :class:`Verifier`, verdicts cached by claim)."""

    def __init__(self, spec_or_path: Checkable, *, rubric=None, lang: str | None = None):
        from symbackprop.verification import Verifier

        self.spec_label = _spec_label(spec_or_path)
        self.verifier = Verifier(spec_or_path, lang=lang)
        self.lang = self.verifier.lang
        self._verdicts: dict[tuple, Verdict] = {}
        self._labels: dict[str, str | None] = {}
        self.rubric = None if rubric is None else load_rubric(rubric, self.read_target)

    # -- targets
    def read_target(self, lhs: str) -> str:
        """The label of the target a left-hand side reads to (``dL/dw_1`` → ``∂L/∂w_1``)."""
        judge = self.verifier.judge
        reader = getattr(judge, "reader", judge)
        if hasattr(reader, "target"):
            try:
                return reader.target(Claim(lhs, "0", f"{lhs} = 0")).label
            except SymbackpropError:
                raise
            except Exception as e:  # noqa: BLE001 - never a traceback for a bad target
                raise SymbackpropError(f"cannot read it ({type(e).__name__}: {e})") from None
        v = self.verifier.check(Claim(lhs, lhs, f"{lhs} = {lhs}", 0, len(lhs) + 3))
        if v.verdict == "error":
            raise SymbackpropError(v.diagnosis.message)
        return v.target

    def _label(self, claim: Claim, verdict: Verdict) -> str | None:
        """The target a claim is about (None when its left side cannot be read)."""
        if verdict.verdict != "error":
            return verdict.target
        if not claim.lhs:
            return None
        if claim.lhs not in self._labels:
            try:
                self._labels[claim.lhs] = self.read_target(claim.lhs)
            except SymbackpropError:
                self._labels[claim.lhs] = None
        return self._labels[claim.lhs]

    # -- verdicts
    def check(self, claim: Claim) -> Verdict:
        """The verdict of a claim, judged once per distinct claim and stamped with its line.

        A verdict is the same wherever the claim is written, except an error's
        message, which points at a column of the row: those are kept per row.
        """
        if claim.error is not None:  # the row could not be split: nothing to judge
            return self.verifier.check(claim)
        key = (claim.lhs, claim.rhs, claim.annotation)
        v = self._verdicts.get(key)
        if v is not None and v.verdict == "error":
            key = (*key, claim.source, claim.lhs_col, claim.rhs_col)
            v = self._verdicts.get(key)
        if v is None:
            v = self.verifier.check(claim)
            self._verdicts.setdefault(key, v)
            if v.verdict == "error":
                self._verdicts[(claim.lhs, claim.rhs, claim.annotation, claim.source,
                                claim.lhs_col, claim.rhs_col)] = v
        return v if v.line == claim.line else replace(v, line=claim.line)

    def student(self, sub: Submission) -> StudentResult:
        """One student's result."""
        rubric = self.rubric
        top = rubric.total if rubric is not None else Fraction(0)
        if sub.error is not None:
            missing = [s.name for s in rubric.steps] if rubric is not None else []
            return StudentResult(sub.name, sub.file, 0.0, float(top), missing=missing, error=sub.error)
        verdicts = [self.check(c) for c in sub.claims]
        labels = [self._label(c, v) for c, v in zip(sub.claims, verdicts)]
        if rubric is None:
            steps = labels
            points = [Fraction(int(v.correct)) for v in verdicts]
            top = Fraction(len(verdicts))
            missing: list[str] = []
        else:
            steps = [rubric.by_label[t].name if t in rubric.by_label else None for t in labels]
            count: dict[str, int] = {}
            for s in steps:
                if s is not None:
                    count[s] = count.get(s, 0) + 1
            worth = {s.name: s.points for s in rubric.steps}
            points = [worth[s] / count[s] if s is not None and v.correct else Fraction(0)
                      for s, v in zip(steps, verdicts)]
            missing = [s.name for s in rubric.steps if s.name not in count]
        earned: dict[str, Fraction] = {}
        for s, p in zip(steps, points):
            if s is not None:
                earned[s] = earned.get(s, Fraction(0)) + p
        return StudentResult(sub.name, sub.file, float(sum(points, Fraction(0))), float(top), verdicts,
                             [float(p) for p in points], steps, labels,
                             {k: float(x) for k, x in earned.items()}, missing)

    def grade(self, submissions: Union[str, Path, Mapping[str, Union[str, bytes]]], *,
              progress: Callable[[int, int], None] | None = None) -> ClassReport:
        """Grade a directory of submissions, or ``{file name: content}``; ``progress(done,
        total)`` is called after each student."""
        subs = read_mapping(submissions) if isinstance(submissions, Mapping) else read_directory(submissions)
        results = []
        for s in subs:
            results.append(self.student(s))
            if progress is not None:
                progress(len(results), len(subs))
        return ClassReport(self.spec_label, self.rubric, results, self.lang)


def _spec_label(obj) -> str:
    if isinstance(obj, (str, Path)):
        return str(obj)
    path = getattr(obj, "path", None)
    return str(path) if path is not None else ""


def grade(spec_or_path: Checkable, submissions_dir_or_mapping, rubric=None, lang: str | None = None, *,
          progress: Callable[[int, int], None] | None = None) -> ClassReport:
    r"""Grade a class: each student's claims checked against one spec, scored by a rubric.

    ``spec_or_path`` is what :class:`~symbackprop.verification.Verifier` takes
    (a spec file's path, a :class:`Spec`, …); ``submissions_dir_or_mapping``
    a directory of one file per student or ``{file name: content}``;
    ``rubric`` a TOML file's path, its parsed table, or a :class:`Rubric`
    (None: one point per claim). Raises :class:`SymbackpropError` when the
    class cannot be graded; a student's unreadable file is that student's
    ``error``.
    """
    return Grader(spec_or_path, rubric=rubric, lang=lang).grade(submissions_dir_or_mapping,
                                                                progress=progress)


# ---- the command line --------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="TOML spec file of the network")
    p.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                   help="one .claims, .txt, .tex or .md file per student, named after the student")
    p.add_argument("--rubric", metavar="FILE",
                   help="TOML: [[step]] tables with target and points (default: a point per claim)")
    p.add_argument("--format", choices=list(OUTPUT_FORMATS),
                   help="output format (default: from the extension of -o, else text)")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default, or '-': standard output)")
    p.add_argument("--lang", choices=["en", "zh"])


def run(args: argparse.Namespace) -> int:
    output = args.output if args.output not in (None, "-") else None
    fmt = args.format
    if fmt is None and output:
        fmt = _SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            raise SymbackpropError(f"cannot tell the format from '{output}'; use --format")
    from symbackprop.progress import progress

    with progress("students", 0) as tick:  # on standard error, when it is a terminal
        report = grade(args.spec, args.submissions, rubric=args.rubric, lang=args.lang, progress=tick)
    text = report.render(fmt or "text")
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise SymbackpropError(f"cannot write {output}: {e.strerror}") from None
    else:
        sys.stdout.write(text)
    return report.exit_code
