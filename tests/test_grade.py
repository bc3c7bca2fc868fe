r"""`symbackprop grade`: a whole class graded against one spec, with and without a rubric.

The class is written into a temporary directory from the article's worked solution
(derivations/seed_scalar.claims) and its typical mistakes (seed_scalar_mistakes.claims),
and from the matrix solution (seed_matrix.claims) with a transposed, a sign, a missing
factor and a constant mistake.
"""
import csv
import io
import json

from pathlib import Path

import pytest

from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop.verification.grade import Grader, grade, load_rubric
from symbackprop.verification.submissions import markdown_math, tex_math

# ---- the scalar class ---------------------------------------------------------------
A2 = r"\frac{\partial L}{\partial a_2} = 2(a_2 - y) = -1.350"  # 2 claims
LOCAL = r"\frac{\partial a_2}{\partial z_2} = a_2(1 - a_2) = 0.219"  # 2 claims, in no step
Z2 = r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2} \cdot a_2(1 - a_2) = -0.296"  # 2
W2 = r"dL/dw_2 = \frac{\partial L}{\partial z_2} a_1 = -0.217"  # 2
B = r"\frac{\partial L}{\partial b} = \frac{\partial L}{\partial z_2}"  # 1
W1 = r"\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial z_1} \cdot x = 0.058 \times 2.0 = 0.116"  # 3


def solution(**replace):
    """The right solution, one line each (line 1 a comment); a step replaced by a mistake."""
    steps = {"A2": A2, "LOCAL": LOCAL, "Z2": Z2, "W2": W2, "B": B, "W1": W1}
    steps.update(replace)
    return "% homework 3\n" + "\n".join(s for s in steps.values() if s is not None) + "\n"


GRACE_TEX = r"""\documentclass{article}
\usepackage{amsmath}
% \frac{\partial L}{\partial w_1} = 5 is a comment, not a claim
\begin{document}
The gradient of the loss, where $x = 3$ inline is prose.
\begin{align*}
  \frac{\partial L}{\partial a_2} &= 2(a_2 - y) = -1.350 \\
  \frac{\partial L}{\partial z_2} &= \frac{\partial L}{\partial a_2} \cdot a_2(1 - a_2) \\
    &= -0.296
\end{align*}
Then, by the chain rule (so the $w_2 = 7$ is ignored too),
\begin{equation}
  \frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial z_2} a_1 = -0.271
\end{equation}
and
\[ \frac{\partial L}{\partial b} = \frac{\partial L}{\partial z_2} \]
$$\frac{\partial L}{\partial w_1} = 0.116$$
\end{document}
"""

HEIDI_MD = r"""# Homework 3

Some prose with $a = b$ inline and 100% effort.

$$
\frac{\partial L}{\partial a_2} = 2(a_2 - y)
$$

```python
x = 1  # $$ y = 2 $$
```

```math
\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2} \cdot a_2(1 + a_2)
```

$$\frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial z_2} a_1$$ and $$\frac{\partial L}{\partial b} = -0.296$$

$$
\begin{aligned}
\frac{\partial L}{\partial w_1} &= \frac{\partial L}{\partial z_1} x \\
&= 0.116
\end{aligned}
$$
"""

FRANK = "\ufeff% frank\r\n" + "\r\n".join([
    A2.replace(" = ", "\t=\t"),
    "\t" + LOCAL,
    "",
    Z2,
    W2,
    "dL/db\t=\t-0.592",  # line 7: off by a factor 2
    W1,
]) + "\r\n"

RUBRIC = r"""
[[step]]
name = "dL/da2"
target = '\frac{\partial L}{\partial a_2}'
points = 1

[[step]]
name = "dL/dz2"
target = 'dL/dz_2'
points = 2

[[step]]
name = "dL/dw2"
target = '\partial L / \partial w_2'
points = 1

[[step]]
target = '\frac{dL}{db}'  # named after its target, ∂L/∂b

[[step]]
name = "dL/dw1"
target = '\frac{\partial L}{\partial w_1}'
points = 2
"""
STEPS = ["dL/da2", "dL/dz2", "dL/dw2", "∂L/∂b", "dL/dw1"]

#: name → (file, score/7 with the rubric, (correct, claims) without, lines of wrong claims)
EXPECTED = {
    "alice": ("alice.claims", 7, (12, 12), []),
    "bob": ("bob.claims", 6, (10, 12), [5, 5]),  # sign
    "carol": ("carol.claims", 6, (11, 12), [4]),  # missing factor
    "dave": ("dave.claims", 6, (10, 11), [7]),  # wrong number
    "erin": ("erin.claims", 5, (9, 11), [5, 6]),  # malformed lines, dL/da2 missing
    "frank": ("frank.txt", 6, (11, 12), [7]),  # BOM, CRLF, tabs
    "grace": ("grace.tex", 6.5, (7, 8), [13]),
    "heidi": ("heidi.md", 5, (5, 6), [14]),
    "ivan": ("ivan.claims", 0, (0, 0), []),  # not UTF-8
    "judy": ("judy.md", 0, (0, 0), []),  # no math at all
}


@pytest.fixture(scope="module")
def scalar_class(tmp_path_factory):
    d = tmp_path_factory.mktemp("class")
    files = {
        "alice.claims": solution(),
        "bob.claims": solution(W2=r"dL/dw_2 = -\frac{\partial L}{\partial z_2} a_1 = 0.217"),
        "carol.claims": solution(Z2=r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2} = -0.296"),
        "dave.claims": solution(W1=r"\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial z_1} \cdot x = 0.126"),
        "erin.claims": "% erin\n" + "\n".join([LOCAL, Z2, W2, r"\frac{\partial L}{\partial b} = 2(a_2 - y",
                                              "the answer is below", W1]) + "\n",
        "grace.tex": GRACE_TEX,
        "heidi.md": HEIDI_MD,
        "judy.md": "# Homework\n\nI did not finish; sorry.\n",
    }
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "frank.txt").write_bytes(FRANK.encode("utf-8"))
    (d / "ivan.claims").write_bytes("% Ivan's réponse\n\\frac{\\partial L}{\\partial w_1} = 0.116\n".encode("latin-1"))
    # not submissions: hidden, other kinds, a subdirectory
    (d / ".alice.claims.swp").write_text("x = 1\n")
    (d / ".hidden.claims").write_text("dL/dw_1 = 0.116\n")
    (d / "notes.pdf").write_bytes(b"%PDF-1.4 \xff\xfe")
    (d / "README").write_text("dL/dw_1 = 0.116\n")
    (d / "old").mkdir()
    (d / "old" / "zoe.claims").write_text("dL/dw_1 = 0.116\n")
    (d / "rubric.toml").write_text(RUBRIC, encoding="utf-8")  # not a submission either
    return d


@pytest.fixture(scope="module")
def spec(derivations):
    return str(derivations / "seed_scalar.toml")


@pytest.fixture(scope="module")
def derivations():
    return Path(__file__).resolve().parent.parent / "derivations"


@pytest.fixture(scope="module")
def graded(spec, scalar_class):
    """The API's report, with and without the rubric."""
    return (grade(spec, scalar_class, rubric=scalar_class / "rubric.toml"),
            grade(spec, scalar_class))


def cli(capsys, *argv):
    try:
        code = main(["grade", *argv])
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def wrong_lines(student):
    return [c["line"] for c in student["claims"] if c["verdict"] != "correct"]


# ---- the API ------------------------------------------------------------------------
def test_api_scores_with_rubric(graded):
    report = graded[0]
    assert [s.name for s in report] == sorted(EXPECTED)
    for s in report:
        file, score, _, lines = EXPECTED[s.name]
        assert (s.file, s.score, s.max) == (file, score, 7), s.name
        assert [v.line for v in s.verdicts if not v.correct] == lines, s.name
    assert report.summary == {"students": 10, "mean": 4.75, "median": 6.0, "max": 7.0}
    assert report["erin"].missing == ["dL/da2"]
    assert report["ivan"].missing == STEPS and "not UTF-8" in report["ivan"].error
    assert "line 1" in report["ivan"].error  # where the bad byte is
    assert "no claims" in report["judy"].error


def test_api_scores_without_rubric(graded):
    report = graded[1]
    for s in report:
        _, _, (right, claims), _ = EXPECTED[s.name]
        assert (s.score, s.max) == (right, claims), s.name
        assert s.missing == []
    # the columns: every target claimed, in the order first seen (alice's order)
    assert report.columns == ["∂L/∂a_2", "∂a_2/∂z_2", "∂L/∂z_2", "∂L/∂w_2", "∂L/∂b", "∂L/∂w_1"]


def test_points_split_among_a_steps_claims(graded):
    carol = graded[0]["carol"]
    z2 = [(v.verdict, p, s) for v, p, s in zip(carol.verdicts, carol.points, carol.steps) if s == "dL/dz2"]
    assert z2 == [("incorrect", 0.0, "dL/dz2"), ("correct", 1.0, "dL/dz2")]
    assert carol.earned["dL/dz2"] == 1.0
    alice = graded[0]["alice"]
    assert [p for p, s in zip(alice.points, alice.steps) if s == "dL/dw1"] == pytest.approx([2 / 3] * 3)
    assert alice.earned["dL/dw1"] == 2.0
    # a claim on a target outside the rubric earns nothing, and names no step
    assert [(p, s) for v, p, s in zip(alice.verdicts, alice.points, alice.steps)
            if v.target == "∂a_2/∂z_2"] == [(0.0, None), (0.0, None)]
    # a malformed claim on a step counts as a wrong claim on it; a line with no target, on none
    erin = graded[0]["erin"]
    errors = [(v.line, s) for v, s in zip(erin.verdicts, erin.steps) if v.verdict == "error"]
    assert errors == [(5, "∂L/∂b"), (6, None)]


def test_mistakes_are_diagnosed(graded):
    report = graded[0]
    kind = {name: [v.diagnosis.kind for v in report[name].verdicts if not v.correct] for name in EXPECTED}
    assert kind["bob"] == ["sign", "sign"]
    assert kind["carol"] == ["missing_factor"]
    assert len(kind["dave"]) == 1 and "0.126" in report["dave"].first_wrong.diagnosis.message  # a wrong value
    assert kind["frank"] == ["constant_factor"]
    assert kind["erin"] == ["error", "error"]


def test_tex_and_markdown_read_only_the_math(graded):
    grace = graded[0]["grace"]
    assert [(v.line, v.target) for v in grace.verdicts] == [
        (7, "∂L/∂a_2"), (7, "∂L/∂a_2"), (8, "∂L/∂z_2"), (9, "∂L/∂z_2"),
        (13, "∂L/∂w_2"), (13, "∂L/∂w_2"), (16, "∂L/∂b"), (17, "∂L/∂w_1")]
    heidi = graded[0]["heidi"]
    assert [(v.line, v.target) for v in heidi.verdicts] == [
        (6, "∂L/∂a_2"), (14, "∂L/∂z_2"), (17, "∂L/∂w_2"), (17, "∂L/∂b"), (21, "∂L/∂w_1"), (22, "∂L/∂w_1")]


def test_bom_crlf_tabs(graded):
    frank = graded[1]["frank"]
    assert frank.verdicts[0].claim.startswith(r"\frac{\partial L}{\partial a_2} = 2(a_2 - y)")
    assert [v.line for v in frank.verdicts] == [2, 2, 3, 3, 5, 5, 6, 6, 7, 8, 8, 8]
    assert frank.verdicts[8].claim == "dL/db = -0.592" and not frank.verdicts[8].correct


def test_identical_claims_are_judged_once(spec, scalar_class):
    grader = Grader(spec)
    calls = []
    check = grader.verifier.check
    grader.verifier.check = lambda claim: calls.append(claim) or check(claim)
    report = grader.grade(scalar_class)
    total = sum(len(s.verdicts) for s in report)
    assert total == 84 and len(calls) < total / 2
    # each verdict carries the line of its own student's file
    assert [v.line for v in report["alice"].verdicts][:2] == [2, 2]
    assert [v.line for v in report["frank"].verdicts][:2] == [2, 2]
    assert [v.line for v in report["grace"].verdicts][:2] == [7, 7]


def test_mapping_of_files(spec):
    report = grade(spec, {"x.tex": "\\[ dL/dw_1 = 0.116 \\]", "y": "dL/dw_1 = 0.116\ndL/db = 1",
                          "z.md": b"$$dL/dw_1 = 0.116$$\n"})
    assert [(s.name, s.file, s.score, s.max) for s in report] == [
        ("x", "x.tex", 1, 1), ("y", "y", 1, 2), ("z", "z.md", 1, 1)]


def test_readers():
    assert tex_math("a % $$x = 1$$\n\\[y = 2\\]") == " " * 2 + "\n\\[y = 2\\]"
    assert tex_math("\\\\[2pt] $$z = 1$$") == " " * 8 + "$$z = 1$$"  # \\[2pt] is a line break
    assert markdown_math("~~~math\nx = 1\n~~~\nuse `$$` and $$y = 2$$") == "$$\nx = 1\n$$\n" + " " * 13 + "$$y = 2$$"


# ---- the command line -----------------------------------------------------------------
def test_cli_json_with_rubric(capsys, spec, scalar_class):
    code, out, err = cli(capsys, spec, str(scalar_class), "--rubric", str(scalar_class / "rubric.toml"),
                         "--format", "json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["schema_version"] == 1 and data["spec"] == spec
    assert data["rubric"] == [{"step": "dL/da2", "target": "∂L/∂a_2", "points": 1.0},
                              {"step": "dL/dz2", "target": "∂L/∂z_2", "points": 2.0},
                              {"step": "dL/dw2", "target": "∂L/∂w_2", "points": 1.0},
                              {"step": "∂L/∂b", "target": "∂L/∂b", "points": 1.0},
                              {"step": "dL/dw1", "target": "∂L/∂w_1", "points": 2.0}]
    assert data["summary"] == {"students": 10, "mean": 4.75, "median": 6.0, "max": 7.0}
    students = {s["name"]: s for s in data["students"]}
    assert list(students) == sorted(EXPECTED)
    for name, (file, score, _, lines) in EXPECTED.items():
        s = students[name]
        assert (s["file"], s["score"], s["max"]) == (file, score, 7.0), name
        assert wrong_lines(s) == lines, name
        assert ("error" in s) == (name in ("ivan", "judy"))
        assert sum(c["points"] for c in s["claims"]) == pytest.approx(score)
    assert students["erin"]["missing"] == ["dL/da2"]
    claim = students["bob"]["claims"][6]
    assert claim["line"] == 5 and claim["verdict"] == "incorrect" and claim["diagnosis"]["kind"] == "sign"
    assert claim["step"] == "dL/dw2" and claim["points"] == 0 and claim["target"] == "∂L/∂w_2"
    assert students["ivan"]["claims"] == [] and students["ivan"]["missing"] == STEPS


def test_cli_json_without_rubric(capsys, spec, scalar_class):
    code, out, _ = cli(capsys, spec, str(scalar_class), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["rubric"] is None
    for s in data["students"]:
        _, _, (right, claims), _ = EXPECTED[s["name"]]
        assert (s["score"], s["max"], len(s["claims"])) == (right, claims, claims)
        assert all(c["points"] == (c["verdict"] == "correct") for c in s["claims"])
    assert data["students"][0]["claims"][0]["step"] == "∂L/∂a_2"


def test_cli_csv(capsys, spec, scalar_class, tmp_path):
    out_file = tmp_path / "grades.csv"  # the format from the extension
    code, out, err = cli(capsys, spec, str(scalar_class), "--rubric", str(scalar_class / "rubric.toml"),
                         "-o", str(out_file))
    assert code == 0 and out == err == ""
    rows = list(csv.reader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert rows[0] == ["student", "score", "max", *STEPS]
    assert {r[0]: r[1:3] for r in rows[1:]} == {n: [f"{e[1]:g}", "7"] for n, e in EXPECTED.items()}
    assert {r[0]: r[3:] for r in rows[1:]}["grace"] == ["1", "2", "0.5", "1", "2"]
    assert {r[0]: r[3:] for r in rows[1:]}["erin"] == ["0", "2", "1", "0", "2"]

    code, out, _ = cli(capsys, spec, str(scalar_class), "--format", "csv", "-o", "-")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["student", "score", "max", "∂L/∂a_2", "∂a_2/∂z_2", "∂L/∂z_2", "∂L/∂w_2", "∂L/∂b", "∂L/∂w_1"]
    assert {r[0]: r[1:3] for r in rows[1:]} == {n: [str(e[2][0]), str(e[2][1])] for n, e in EXPECTED.items()}
    assert {r[0]: r[3:] for r in rows[1:]}["dave"] == ["2", "2", "2", "2", "1", "1"]


def test_cli_markdown(capsys, spec, scalar_class):
    code, out, _ = cli(capsys, spec, str(scalar_class), "--rubric", str(scalar_class / "rubric.toml"),
                       "--format", "markdown")
    assert code == 0
    assert "| student | score | max | dL/da2 | dL/dz2 | dL/dw2 | ∂L/∂b | dL/dw1 |" in out
    assert "| grace | 6.5 | 7 | 1 | 2 | 0.5 | 1 | 2 |" in out
    assert "| ivan | 0 | 7 | 0 | 0 | 0 | 0 | 0 |" in out
    assert "10 students: mean 4.75, median 6, highest 7." in out
    feedback = {line.split("**")[1]: line for line in out.splitlines() if line.startswith("- **")}
    assert feedback["alice"] == "- **alice**: all correct"
    assert "line 5, ∂L/∂w_2:" in feedback["bob"] and "sign" in feedback["bob"]
    assert "line 4, ∂L/∂z_2:" in feedback["carol"] and "missing factor" in feedback["carol"]
    assert "line 13" in feedback["grace"] and "line 14" in feedback["heidi"]
    assert "not UTF-8" in feedback["ivan"]
    assert "missing: dL/da2" in feedback["erin"] and "line 5" in feedback["erin"]


def test_cli_text(capsys, spec, scalar_class):
    code, out, err = cli(capsys, spec, str(scalar_class), "--rubric", str(scalar_class / "rubric.toml"))
    assert code == 0 and err == ""
    lines = out.splitlines()
    scores = {line.split()[0]: line.split()[1] for line in lines if not line.startswith(" ")}
    assert scores.pop("10") == "students:"
    assert scores == {n: f"{e[1]:g}/7" for n, e in EXPECTED.items()}
    bob = lines.index("bob    6/7")
    assert lines[bob + 1].startswith("  ✗ line 5: dL/dw_2 = -") and "sign" in lines[bob + 2]
    assert lines[bob + 5] == "carol  6/7"
    erin = lines.index("erin   5/7")
    assert lines[erin + 1].startswith("  ! line 5: ") and "unbalanced '('" in lines[erin + 2]
    assert lines[erin + 3] == "  ! line 6: the answer is below" and "'='" in lines[erin + 4]
    assert lines[erin + 5] == "  missing: dL/da2"
    assert lines[lines.index("ivan   0/7") + 1].startswith("  ! not graded: not UTF-8")
    assert lines[-1] == "10 students: mean 4.75, median 6, highest 7"


def test_cli_chinese(capsys, spec, scalar_class):
    code, out, _ = cli(capsys, spec, str(scalar_class), "--lang", "zh", "--rubric", str(scalar_class / "rubric.toml"))
    assert code == 0 and "第 5 行" in out and "缺少：dL/da2" in out and out.splitlines()[-1].startswith("10 名学生")


# ---- the matrix class --------------------------------------------------------------------
@pytest.fixture(scope="module")
def matrix_class(tmp_path_factory, derivations):
    d = tmp_path_factory.mktemp("matrix")
    right = (derivations / "seed_matrix.claims").read_text(encoding="utf-8")
    mistakes = {
        "transposed": (r"A_1^\top \cdot \frac{\partial L}{\partial Z_2}", r"\frac{\partial L}{\partial Z_2}^\top A_1"),
        "sign": (r"\frac{\partial L}{\partial Z_2} \cdot W_2^\top", r"-\frac{\partial L}{\partial Z_2} \cdot W_2^\top"),
        "factor": (r"\frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2)", r"\frac{2}{m}(A_2 - Y)"),
        "constant": (r"\frac{2}{m}(A_2 - Y)", r"\frac{1}{m}(A_2 - Y)"),
    }
    (d / "right.claims").write_text(right, encoding="utf-8")
    for name, (a, b) in mistakes.items():
        assert a in right
        (d / f"{name}.claims").write_text(right.replace(a, b, 1), encoding="utf-8")
    (d / "rubric.toml").write_text(
        "[[step]]\ntarget = 'dL/dW_2'\npoints = 3\n[[step]]\nname = 'dZ2'\ntarget = 'dL/dZ_2'\n", encoding="utf-8")
    return d


def test_matrix_class(capsys, derivations, matrix_class):
    spec = str(derivations / "seed_matrix.toml")
    code, out, _ = cli(capsys, spec, str(matrix_class), "--format", "json")
    assert code == 0
    students = {s["name"]: s for s in json.loads(out)["students"]}
    assert {n: (s["score"], s["max"]) for n, s in students.items()} == {
        "constant": (5, 6), "factor": (5, 6), "right": (6, 6), "sign": (5, 6), "transposed": (5, 6)}
    wrong = {n: [(c["line"], c["diagnosis"]["kind"]) for c in s["claims"] if c["verdict"] != "correct"]
             for n, s in students.items()}
    assert wrong == {"constant": [(7, "constant_factor")], "factor": [(7, "missing_factor")], "right": [],
                     "sign": [(13, "sign")], "transposed": [(9, "transpose")]}
    report = grade(spec, matrix_class, rubric=matrix_class / "rubric.toml")
    assert [s.name for s in report.rubric.steps] == ["∂L/∂W_2", "dZ2"]
    assert {s.name: (s.score, s.max) for s in report} == {
        "constant": (3, 4), "factor": (3, 4), "right": (4, 4), "sign": (4, 4), "transposed": (1, 4)}


# ---- what cannot be graded: exit 2, one line naming the file -----------------------------
@pytest.mark.parametrize("rubric,needles", [
    ("[[step]]\ntarget = 'dL/dq'\n", ["step 1", "unknown name 'q'"]),
    ("[[step]]\nname = 'w'\ntarget = 'dL/dw_1'\npoints = -1\n", ["step 1 ('w')", "positive number"]),
    ("[[step]]\ntarget = 'dL/dw_1'\npoints = '2'\n", ["step 1", "positive number"]),
    ("[[step]]\ntarget = 'dL/dw_1'\n[[step]]\nname = 'again'\ntarget = '\\frac{\\partial L}{\\partial w_1}'\n",
     ["step 2 ('again')", "∂L/∂w_1 is also step 1's"]),
    ("[[step]]\nname = 'a'\ntarget = 'dL/dw_1'\n[[step]]\nname = 'a'\ntarget = 'dL/db'\n", ["step 2 ('a')", "also step 1's"]),
    ("[[step]]\ntarget = 'dL/dw_1'\npoint = 2\n", ["step 1", "unknown key 'point'"]),
    ("[[step]]\nname = 'x'\n", ["step 1 ('x')", "needs target"]),
    ("[[steps]]\ntarget = 'dL/dw_1'\n", ["unknown key 'steps'"]),
    ("", ["no steps"]),
    ("[[step]\n", ["broken TOML"]),
])
def test_bad_rubric(capsys, spec, scalar_class, tmp_path, rubric, needles):
    path = tmp_path / "bad.toml"
    path.write_text(rubric, encoding="utf-8")
    code, out, err = cli(capsys, spec, str(scalar_class), "--rubric", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"symbackprop: error: {path}") and "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


@pytest.mark.parametrize("args,needle", [
    (["{spec}", "{tmp}/nowhere"], "submissions directory not found: {tmp}/nowhere"),
    (["{spec}", "{tmp}/empty"], "no submissions in {tmp}/empty"),
    (["{spec}", "{spec}"], "not a directory"),
    (["{tmp}/missing.toml", "{class}"], "spec file not found: {tmp}/missing.toml"),
    (["{spec}", "{class}", "--rubric", "{tmp}/no.toml"], "rubric file not found: {tmp}/no.toml"),
    (["{spec}", "{class}", "-o", "{tmp}/grades.xlsx"], "cannot tell the format"),
    (["{spec}", "{class}", "--format", "pdf"], "invalid choice"),
])
def test_cannot_grade_exit_2(capsys, spec, scalar_class, tmp_path, args, needle):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.pdf").write_bytes(b"")
    fill = {"spec": spec, "tmp": str(tmp_path), "class": str(scalar_class)}
    code, out, err = cli(capsys, *[a.format(**fill) for a in args])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle.format(**fill) in err and "Traceback" not in err


def test_api_raises_one_line_errors(spec, tmp_path):
    with pytest.raises(SymbackpropError, match="no submissions"):
        grade(spec, {})
    with pytest.raises(SymbackpropError, match=r"rubric: step 1: points"):
        grade(spec, {"a": "dL/dw_1 = 0.116"}, rubric={"step": [{"target": "dL/dw_1", "points": 0}]})
    rubric = load_rubric({"step": [{"target": "x", "points": 1.5}]}, lambda t: t.upper())
    assert [(s.name, s.label, float(s.points)) for s in rubric.steps] == [("X", "X", 1.5)]
