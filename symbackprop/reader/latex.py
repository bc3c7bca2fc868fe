r"""Our own reader for the LaTeX a forward pass is written in.

A small tokenizer and a precedence-climbing parser turn one side of an
equation into a tree of frozen dataclasses (:class:`Num`, :class:`Name`,
:class:`Call`, :class:`BinOp`, …); :func:`tree_to_sympy` lowers a scalar tree to
SymPy. Nothing the user writes is ever passed to ``eval``, ``sympify`` or
``parse_expr``; text that looks like Python is refused outright.

>>> parse(r"\sigma(z_1)")
Call(func='sigmoid', args=(Name(canonical='z_1', latex='z_1'),), prime=0)
>>> parse("w_{2} a_1 + b")
BinOp(op='+', left=BinOp(op='*', left=Name(canonical='w_2', latex='w_{2}'), right=Name(canonical='a_1', latex='a_1')), right=Name(canonical='b', latex='b'))
>>> parse_equation("L = (a_2 - y)^2")
('L', '(a_2 - y)^2', 4)
>>> import sympy as sp
>>> names = ("a_2", "y")
>>> tree_to_sympy(parse("(a_2 - y)^2", names), {n: sp.Symbol(n) for n in names})
(a_2 - y)**2
>>> canonical_name(r"\hat{y}_{1}"), latex_name("w_1,2")
('\\hat{y}_1', 'w_{1,2}')
>>> parse("e^{-z}")
Call(func='exp', args=(Neg(x=Name(canonical='z', latex='z')),), prime=0)
>>> parse("e^{-z}", known={"e"}).base
Name(canonical='e', latex='e')

Grammar, loosest first: ``+ -``; ``\odot``/``\circ``; products (``\cdot``,
``\times``, ``/``, juxtaposition); unary minus; powers and postfix (``^``,
``^\top``). Without parentheses a function takes the next atom with its
subscript and power (``\tanh z_1``, ``\ln x^2`` = ln(x²)); ``\sum`` takes the
rest of the Hadamard product it starts (``\sum Y \odot \ln P`` sums the product).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Callable, Collection, Mapping, Optional, Union, Iterator

import sympy as sp

from symbackprop.errors import LatexSyntaxError
from symbackprop.functions import ACTIVATIONS
from symbackprop.limits import MAX_REPEAT, MAX_TREE_DEPTH, number_problem, power_problem


# ---- syntax tree -----------------------------------------------------------
def _pos():
    """Source offset of a node: not part of equality or repr."""
    return field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Num:
    value: str  # as written: "2", "0.5", "2.5e-3"
    pos: int = _pos()


@dataclass(frozen=True)
class Name:
    canonical: str  # "w_1,2", "\\hat{y}_1", "n_in"
    latex: str = field(compare=False)  # as written in the source; equality is by canonical
    pos: int = _pos()


@dataclass(frozen=True)
class Const:
    name: str  # "e" (Euler's number) or "pi"
    pos: int = _pos()


@dataclass(frozen=True)
class Call:
    func: str  # "sigmoid", "relu", "tanh", "exp", "log", "sqrt", "max", "abs", …
    args: tuple
    prime: int = 0
    pos: int = _pos()


@dataclass(frozen=True)
class BinOp:
    op: str  # "+", "-", "*", "/", "odot"
    left: "Tree"
    right: "Tree"
    pos: int = _pos()


@dataclass(frozen=True)
class Neg:
    x: "Tree"
    pos: int = _pos()


@dataclass(frozen=True)
class Pow:
    base: "Tree"
    exp: "Tree"
    pos: int = _pos()


@dataclass(frozen=True)
class Transpose:
    x: "Tree"
    pos: int = _pos()


@dataclass(frozen=True)
class Norm:
    x: "Tree"
    pos: int = _pos()


@dataclass(frozen=True)
class Sum:
    x: "Tree"
    index: Optional[str] = None
    pos: int = _pos()
    upper: Optional[str] = None  #: a name as the upper bound (``\\sum_{i=1}^{m}``): the summed dimension


@dataclass(frozen=True)
class Partial:
    of: Name
    wrt: Name
    pos: int = _pos()


@dataclass(frozen=True)
class Derivative:
    """The operator form: ``\\frac{\\partial}{\\partial a}(a - y)^2`` differentiates ``x`` by ``wrt``."""
    x: "Tree"
    wrt: Name
    pos: int = _pos()


Tree = Union[Num, Name, Const, Call, BinOp, Neg, Pow, Transpose, Norm, Sum, Partial, Derivative]

# ---- vocabulary ------------------------------------------------------------
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
    "xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta "
    "Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell".split()
)
_DECORATIONS = frozenset("hat bar tilde vec dot ddot check widehat widetilde overline".split())
_WRAPPERS = frozenset("mathbf boldsymbol bm mathsf mathit mathnormal".split())  # transparent
_TEXT_CMDS = frozenset("mathrm text textrm textit operatorname".split())  # read {raw} text
_SPACING = frozenset([",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "limits",
                      *"big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr".split()])
_OPS = {"cdot": "*", "times": "*", "odot": "odot", "circ": "odot",
        "gt": ">", "ge": ">", "geq": ">", "lt": "<", "le": "<", "leq": "<"}  # comparisons: in 𝟙[…] only
_BARS = {"|": "|", "\\|": "||", "\\vert": "|", "\\lvert": "|", "\\rvert": "|",
         "\\Vert": "||", "\\lVert": "||", "\\rVert": "||"}
_DELIMS = {"(": "(", ")": ")", "[": "[", "]": "]", **_BARS}  # after \left / \right
_ELEMENTARY = {"tanh": "tanh", "exp": "exp", "ln": "log", "log": "log", "sqrt": "sqrt",
               "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh",
               "max": "max", "min": "min", "abs": "abs"}
_FUNC_CMDS = {**{k: v for k, v in _ELEMENTARY.items() if k != "abs"}, "sigma": "sigmoid"}


def _key(word: str) -> str:
    return re.sub(r"[\s_\-]", "", word.lower())


#: functions of a whole matrix, read here and lowered to the IR by symbackprop.reader.lower
_MATRIX_FUNCS = {"softmax": "softmax"}
#: lower-case key, as written inside \operatorname{…}, -> Call.func
_FUNC_KEYS = {**{_key(k): cls.__name__ for k, cls in ACTIVATIONS.items()}, **_ELEMENTARY,
              **_MATRIX_FUNCS}


def _matrix_only(name: str) -> Callable[..., sp.Expr]:
    def refuse(*args, **kwargs):
        raise LatexSyntaxError(f"matrix notation '\\operatorname{{{name}}}' in a scalar expression")
    return refuse


_SYMPY_FUNCS: dict[str, Callable[..., sp.Expr]] = {
    **{cls.__name__: cls for cls in ACTIVATIONS.values()},
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "root": sp.root, "max": sp.Max,
    "min": sp.Min, "abs": sp.Abs, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "step": lambda x, evaluate=True: sp.Heaviside(x, 0),  # 𝟙[x > 0], as rules.step
    **{name: _matrix_only(name) for name in _MATRIX_FUNCS},
}
_KNOWN_FUNCS = (", ".join("\\" + k for k in _FUNC_CMDS)
                + ", \\operatorname{…} of " + ", ".join(sorted(set(_FUNC_KEYS) - set(_FUNC_CMDS))))
#: function names that, written without a backslash, would silently become products
_FUNC_WORDS = frozenset(_FUNC_CMDS) | frozenset(ACTIVATIONS) | {"sigmoid", "relu"}
#: what an activation may be declared as in a spec's ``activations`` (``{ phi = "relu" }``)
_DECLARABLE = {k: v for k, v in _FUNC_KEYS.items() if v not in ("max", "min", *_MATRIX_FUNCS)}
_ALPHABETS = frozenset("mathcal mathscr mathfrak".split())  # \mathcal{L}: part of the name
#: Chinese, Japanese and Korean characters: a run of them is one name (苹果, 支付金额, りんご)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{_CJK}]+")
#: the characters of a name written in \text{…}, \mathrm{…}, \operatorname{…}
_TEXT_NAME = re.compile(f"[A-Za-z{_CJK}][A-Za-z0-9_{_CJK}]*")
#: Unicode Greek letters read as their LaTeX commands (ε, ϵ are \epsilon; φ, ϕ are \phi)
_UNICODE_GREEK = {
    **dict(zip("αβγδεϵζηθϑικλμνξπϖρϱσςτυφϕχψω",
               "alpha beta gamma delta epsilon epsilon zeta eta theta vartheta iota kappa lambda mu nu "
               "xi pi varpi rho varrho sigma varsigma tau upsilon phi phi chi psi omega".split())),
    **dict(zip("ΓΔΘΛΞΠΣΥΦΨΩ", "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split())),
    "ℓ": "ell",
}
#: Unicode operators as their LaTeX spelling
_UNICODE_OPS = {"×": "*", "·": "*", "⋅": "*", "−": "-", "⊙": "odot", "∘": "odot"}
#: combining accents (x̂ = x + U+0302, and precomposed letters such as ŷ) as decorations
_COMBINING = {"\u0302": "hat", "\u0304": "bar", "\u0305": "bar", "\u0303": "tilde",
              "\u0307": "dot", "\u0308": "ddot", "\u030c": "check", "\u20d7": "vec"}
_SUPERSCRIPT_DIGITS = {"¹": "1", "²": "2", "³": "3"}

_PYTHON = [
    (re.compile(r"(?<![\\\w])(lambda|import|exec|eval)\b"), "keyword"),
    (re.compile(r"`"), "backtick"),
    (re.compile(r'"'), "quote"),
    (re.compile(r"(?<![\w}'\])])'[\w .]+'"), "quoted string"),  # not the primes of y' … x'
    (re.compile(r"(?<!\\);"), "';' (did you mean '\\;'?)"),
    (re.compile(r"(?<!\\):"), "':' (did you mean '\\:'?)"),
    (re.compile(r"__"), "'__'"),
    (re.compile(r"\*\*"), "'**' (write ^ for powers)"),
    (re.compile(r"(?<![\\\d])\.[A-Za-z_]"), "attribute access"),
]


# ---- tokenizer -------------------------------------------------------------
@dataclass(frozen=True)
class _Tok:
    kind: str  # num word text cmd eof, or the punctuation itself: _ ^ ' { } ( ) [ ] | || + - / = , * odot
    text: str
    pos: int
    end: int


_NUM = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?P<sci>[eE][+-]?\d+)?")
_CMD = re.compile(r"\\([A-Za-z]+|.)")


def _accented(text: str, i: int) -> Optional[tuple[str, str, int]]:
    """``(letter, decoration, end)`` of an accented letter at ``i`` (x̂, ŷ, μ̂), else None."""
    c = text[i]
    plain = (c.isascii() and c.isalpha()) or c in _UNICODE_GREEK
    if plain and i + 1 < len(text) and text[i + 1] in _COMBINING:
        return c, _COMBINING[text[i + 1]], i + 2
    d = unicodedata.normalize("NFD", c)
    if len(d) == 2 and d[0].isascii() and d[0].isalpha() and d[1] in _COMBINING:
        return d[0], _COMBINING[d[1]], i + 1
    return None


def _tokenize(text: str, known: frozenset[str]) -> list[_Tok]:
    for pattern, what in _PYTHON:
        m = pattern.search(text)
        if m:
            raise LatexSyntaxError(f"looks like Python code, not LaTeX: {what} '{m.group()}'", text, m.start())
    toks: list[_Tok] = []
    i, n = 0, len(text)

    def add(kind: str, s: str, start: int, end: int) -> None:
        toks.append(_Tok(kind, s, start, end))

    def letter(c: str, start: int, end: int) -> None:
        if c in _UNICODE_GREEK:
            add("cmd", "\\" + _UNICODE_GREEK[c], start, end)
        else:
            add("word", c, start, end)

    while i < n:
        c = text[i]
        accented = _accented(text, i) if not c.isspace() and c != "\\" else None
        if c.isspace() or c == "~":
            i += 1
        elif (c.isascii() and c.isdigit()) or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUM.match(text, i)
            end = m.start("sci") if m.group("sci") and m.group("sci")[0] in known else m.end()
            add("num", text[i:end], i, end)
            i = end
        elif accented:  # x̂ → \hat{x}
            base, accent, end = accented
            add("cmd", "\\" + accent, i, end)
            add("{", "{", i, end)
            letter(base, i, end)
            add("}", "}", i, end)
            i = end
        elif c.isascii() and c.isalpha():
            end = i
            while end < n and text[end].isascii() and text[end].isalpha() and not _accented(text, end):
                end += 1
            add("word", text[i:end], i, end)
            i = end
        elif c in _UNICODE_GREEK:
            letter(c, i, i + 1)
            i += 1
        elif _CJK_RUN.match(text, i):
            m = _CJK_RUN.match(text, i)
            add("cjk", m.group(), i, m.end())
            i = m.end()
        elif c in _UNICODE_OPS:
            add(_UNICODE_OPS[c], c, i, i + 1)
            i += 1
        elif c in _SUPERSCRIPT_DIGITS:  # σ² = σ^2
            add("^", "^", i, i + 1)
            add("num", _SUPERSCRIPT_DIGITS[c], i, i + 1)
            i += 1
        elif c in "′″":  # y′ = y'
            for _ in range(1 + (c == "″")):
                add("'", "'", i, i + 1)
            i += 1
        elif c == "\\":
            m = _CMD.match(text, i)
            if not m:
                raise LatexSyntaxError("dangling '\\'", text, i)
            name, end = m.group(1), m.end()
            if name in _SPACING:
                pass
            elif name in ("left", "right"):
                while end < n and text[end].isspace():
                    end += 1
                d = _CMD.match(text, end) if text.startswith("\\", end) else None
                delim = d.group() if d else text[end:end + 1]
                if delim not in _DELIMS:
                    raise LatexSyntaxError(f"unsupported delimiter after '\\{name}'", text, i)
                end += len(delim)
                add(_DELIMS[delim], text[i:end], i, end)
            elif name in _OPS:
                add(_OPS[name], m.group(), i, end)
            elif m.group() in _BARS:
                add(_BARS[m.group()], m.group(), i, end)
            elif name in _TEXT_CMDS:
                t = re.compile(r"\s*(?:\{([^{}]*)\}|([A-Za-z]))").match(text, end)
                content = "" if not t else (t.group(2) or t.group(1).replace("\\_", "_")).strip()
                if not re.fullmatch(f"[A-Za-z0-9{_CJK}][A-Za-z0-9{_CJK} _\\-]*", content):
                    raise LatexSyntaxError(f"'\\{name}' needs plain text in braces", text, i)
                add("text", content, i, t.end())
                end = t.end()
            else:
                add("cmd", m.group(), i, end)
            i = end
        elif text.startswith("||", i):
            add("||", "||", i, i + 2)
            i += 2
        elif c in "_^'{}()[]|+-/=,*<>":
            add(c, c, i, i + 1)
            i += 1
        else:
            raise LatexSyntaxError(f"unexpected character '{c}'", text, i)
    add("eof", "", n, n)
    return toks


# ---- parser ----------------------------------------------------------------
_CLOSE = {"(": ")", "[": "]", "{": "}", "|": "|", "||": "||"}


class _NoMatch(Exception):
    """A tentative parse (d-notation, ^{T}) did not apply: backtrack."""


def _split_canonical(canonical: str) -> tuple[str, Optional[str]]:
    """``(base, subscript)`` of a canonical name; a layer index stays with the subscript's end
    (``a_1^(2)`` → ``("a", "1^(2)")``) or the base (``W^[1]`` → ``("W^[1]", None)``)."""
    depth = 0
    for i, c in enumerate(canonical):
        depth += (c == "{") - (c == "}")
        if c == "_" and depth == 0:
            return canonical[:i], canonical[i + 1:]
    return canonical, None


@functools.lru_cache(maxsize=16)
def _long_bases(known: frozenset, functions: frozenset) -> list[str]:
    """Multi-letter bases of the known names, longest first; a forward pass reads every line
    against the same names, so this is computed once per pass, not once per line."""
    bases = {_split_canonical(k)[0] for k in known | functions}
    return sorted((b for b in bases if len(b) > 1 and b.isascii() and b.isalpha()),
                  key=len, reverse=True)


#: a plain identifier with underscores, as code writes names: apple_price, x_ij, w_12
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")


def _dotted(letters: str) -> str:
    return "·".join(letters)


class _Parser:
    def __init__(self, text: str, known: Collection[str], allow_partial: bool, *,
                 functions: Optional[Mapping[str, str]] = None, strict: bool = False,
                 lhs: bool = False):
        self.text = text
        self.known = frozenset(known)
        self.functions = dict(functions or {})
        self.long_bases = _long_bases(self.known, frozenset(self.functions))
        self.allow_partial = allow_partial
        self.strict = strict  # a run of letters must be one reading only (forward passes)
        self.lhs = lhs  # reading a left-hand side: one name, whatever its superscript
        self.toks = _tokenize(text, self.known)
        self.i = 0
        self.prev: Optional[_Tok] = None
        self.closers: list[Optional[str]] = []  # innermost '|'/'||' group, None inside brackets
        self.raised: Optional[Tree] = None  # a name that came with its power: A^{[1]2}
        self.depth = 0  # nesting, in the units of nested()

    # -- token helpers
    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, kind: str, text: Optional[str] = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (text is None or tok.text == text)

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
            self.prev = tok
        return tok

    def take(self, n: int = 1) -> _Tok:
        """Consume the first ``n`` characters of a word or number token."""
        tok = self.toks[self.i]
        if len(tok.text) <= n:
            return self.next()
        head = _Tok(tok.kind, tok.text[:n], tok.pos, tok.pos + n)
        self.toks[self.i] = _Tok(tok.kind, tok.text[n:], tok.pos + n, tok.end)
        self.prev = head
        return head

    def show(self, tok: _Tok) -> str:
        return "end of input" if tok.kind == "eof" else f"'{self.text[tok.pos:tok.end]}'"

    def error(self, message: str, pos: int) -> LatexSyntaxError:
        return LatexSyntaxError(message, self.text, pos)

    def number(self, tok: _Tok) -> Num:
        """The number ``tok`` as written, refused at its column when a double cannot hold it
        (``1e999999``, an integer of 400 digits): before anything computes with it."""
        problem = number_problem(tok.text)
        if problem:
            raise self.error(problem, tok.pos)
        return Num(tok.text, pos=tok.pos)

    def save(self):
        return self.i, list(self.toks), self.prev, list(self.closers), self.depth

    def restore(self, state) -> None:
        self.i, toks, self.prev, closers, self.depth = state
        self.toks, self.closers = list(toks), list(closers)

    def close(self, opener: _Tok) -> _Tok:
        want, tok = _CLOSE[opener.kind], self.peek()
        if tok.kind == want:
            return self.next()
        if tok.kind == "eof":
            raise self.error(f"unbalanced {self.show(opener)}: never closed", opener.pos)
        want = "\\|" if want == "||" else want
        raise self.error(f"expected '{want}' to close {self.show(opener)} (column {opener.pos + 1}), "
                         f"found {self.show(tok)}", tok.pos)

    def greedy_len(self, word: str) -> int:
        return next((len(b) for b in self.long_bases if word.startswith(b)), 1)

    def written(self, start: int) -> str:
        return self.text[start:self.prev.end].strip() if self.prev else ""

    # -- grammar
    def expr(self) -> Tree:
        self.nested(+1)
        left = self.odot()
        while self.peek().kind in ("+", "-"):
            op = self.next()
            left = BinOp(op.kind, left, self.odot(), pos=op.pos)
        self.nested(-1)
        return left

    def nested(self, step: int) -> None:
        """Count nesting: deeper than :data:`MAX_DEPTH` levels is an error, never a RecursionError
        in the parser or in anything that walks the tree later.

        A group costs two units (its expression and its term), a sign two, and every other way
        the parser recurses (a script's group, a function's argument, ``\\sum``, a command as the
        argument of ``\\frac`` or ``\\sqrt``) one or two more, so that a unit is at most four of
        the parser's Python frames: the limit, ``2 * MAX_DEPTH`` units, stays well inside
        Python's recursion limit whatever the construct. (An error leaves the count as it is: the
        parse stops, or a tentative parse restores it with the rest of its state.)
        """
        self.depth += step
        if self.depth > 2 * MAX_DEPTH:
            raise self.error(f"expression nested more than {MAX_DEPTH} levels deep", self.peek().pos)

    def odot(self) -> Tree:
        left = self.product()
        while self.at("odot"):
            op = self.next()
            left = BinOp("odot", left, self.product(), pos=op.pos)
        return left

    def starts_factor(self) -> bool:
        kind = self.peek().kind
        if kind in ("|", "||"):
            return not (self.closers and self.closers[-1] == kind)
        return kind in ("num", "word", "text", "cjk", "cmd", "(", "[", "{")

    def product(self) -> Tree:
        left = self.unary()
        while True:
            if self.peek().kind in ("*", "/"):
                op = self.next()
                left = BinOp(op.kind, left, self.unary(), pos=op.pos)
            elif self.starts_factor():
                pos = self.peek().pos
                left = BinOp("*", left, self.power(), pos=pos)
            else:
                return left

    def unary(self) -> Tree:
        if self.peek().kind in ("-", "+"):
            op = self.next()
            self.nested(+2)
            x = self.unary()
            self.nested(-2)
            return Neg(x, pos=op.pos) if op.kind == "-" else x
        return self.power()

    def power(self) -> Tree:
        self.nested(+1)
        base = self.atom()
        raised = base is self.raised and base is not None
        while True:
            tok = self.peek()
            if tok.kind == "^":
                if raised:
                    raise self.error("double superscript: use braces, as in {x^2}^3", tok.pos)
                caret, raised = self.next(), True
                if self.transpose_mark():
                    base = Transpose(base, pos=caret.pos)
                elif self.at("{") and self.peek(1).kind == "odot":
                    base = self.hadamard_power(base, caret)
                else:
                    base = Pow(base, self.script_arg(caret), pos=caret.pos)
            elif tok.kind == "'":
                raise self.error("a prime (') must follow a function name, as in \\sigma'(z)", tok.pos)
            elif tok.kind == "_":
                raise self.error("a subscript '_' must directly follow a name", tok.pos)
            else:
                self.nested(-1)
                return base

    def hadamard_power(self, base: Tree, caret: _Tok) -> Tree:
        """``A^{\\circ 2}``: the elementwise (Hadamard) power, ``A ⊙ A``."""
        opener, circ = self.next(), self.next()
        k = self.peek()
        if k.kind != "num" or not k.text.isdigit() or int(k.text) < 1:
            raise self.error(f"expected a whole number after {self.show(circ)}, as in A^{{\\circ 2}}", k.pos)
        if len(k.text) > 4 or int(k.text) > MAX_REPEAT:
            raise self.error(f"the Hadamard power {k.text} is more than {MAX_REPEAT} factors written out", k.pos)
        self.next()
        self.close(opener)
        out = base
        for _ in range(int(k.text) - 1):
            out = BinOp("odot", out, base, pos=caret.pos)
        return out

    def transpose_mark(self) -> bool:
        """After '^': consume ``\\top``, ``T``, ``{T}``, ``{\\mathsf T}``, … if present."""
        t_free = "T" not in self.known
        tok = self.peek()
        if tok.kind == "cmd" and tok.text in ("\\top", "\\intercal"):
            self.next()
            return True
        if tok.kind == "word" and tok.text[0] == "T" and t_free:
            self.take()
            return True
        if tok.kind != "{":
            return False
        state = self.save()
        opener = self.next()
        tok = self.next()
        if tok.kind == "cmd" and tok.text == "\\mathsf":  # ^{\mathsf T} or ^{\mathsf{T}}
            braced = self.at("{")
            if braced:
                self.next()
            tok = self.take() if self.at("word") else self.next()
            if braced and self.at("}"):
                self.next()
        ok = ((tok.kind == "cmd" and tok.text in ("\\top", "\\intercal"))
              or (tok.kind in ("word", "text") and tok.text == "T" and t_free))
        if ok and (self.at("}") or tok.kind == "cmd"):  # ^{\top …: only a '}' may follow
            self.close(opener)
            return True
        self.restore(state)
        return False

    def script_arg(self, op: _Tok, split_digits: bool = False) -> Tree:
        """The argument of ``^``/``_``/``\\frac``/``\\sqrt``: a braced group or one token."""
        tok = self.peek()
        if tok.kind in ("{", "cmd"):  # these recurse: counted (nested)
            self.nested(+2)
            node = self.group() if tok.kind == "{" else self.atom()
            self.nested(-2)
            return node
        if tok.kind == "num":
            if len(tok.text) > 1 and not (split_digits and tok.text.isdigit()):  # \frac12, not \frac 0.5
                raise self.error(f"ambiguous '{op.text}{tok.text}': write {op.text}{{{tok.text}}}", op.pos)
            return self.number(self.take())
        if tok.kind in ("word", "text"):
            t = self.take() if tok.kind == "word" else self.next()
            return self.letter(t.text, t.pos, subscript=False)
        if tok.kind == "-":
            raise self.error(f"write {op.text}{{-…}} with braces", tok.pos)
        raise self.error(f"dangling {self.show(op)}: nothing after it", op.pos)

    def group(self) -> Tree:
        opener = self.next()
        self.closers.append(opener.kind if opener.kind in ("|", "||") else None)
        if self.at(_CLOSE[opener.kind]):
            raise self.error(f"nothing inside {self.show(opener)}", opener.pos)
        node = self.expr()
        self.closers.pop()
        self.close(opener)
        return node

    def atom(self) -> Tree:
        tok = self.peek()
        kind = tok.kind
        if kind == "num":
            return self.number(self.next())
        if kind == "word":
            return self.word()
        if kind == "text":
            return self.text_name()
        if kind == "cjk":
            self.next()
            return self.name_from(tok.text, tok.pos)
        if kind in ("(", "[", "{"):
            return self.group()
        if kind == "|":
            return Call("abs", (self.group(),), pos=tok.pos)
        if kind == "||":
            return Norm(self.group(), pos=tok.pos)
        if kind == "cmd":
            return self.command()
        if kind == "eof":
            if self.prev is None:
                raise self.error("empty expression", 0)
            raise self.error(f"expected an expression after {self.show(self.prev)}", self.prev.pos)
        after = f" after {self.show(self.prev)}" if self.prev else ""
        raise self.error(f"expected an expression{after}, found {self.show(tok)}", tok.pos)

    # -- names
    def fresh(self, tok: _Tok) -> bool:
        """Does ``tok`` start a run of letters in the source (not the rest of a split word)?"""
        return tok.pos == 0 or not (self.text[tok.pos - 1].isascii() and self.text[tok.pos - 1].isalpha())

    def known_identifier(self, tok: _Tok) -> Optional[Tree]:
        """``apple_price``, ``x_ij``, ``w_12``: an identifier with underscores that is a node of the
        network (or a declared function) is that name; a shorter name it starts with is ambiguous."""
        if tok.kind != "word" or not self.fresh(tok):
            return None
        m = _IDENTIFIER.match(self.text, tok.pos)
        ident = m.group()
        if "_" not in ident or not (ident in self.known or ident in self.functions):
            return None
        base, rest = ident.split("_", 1)
        short = f"{base}_{rest[0]}"
        if short != ident and short in self.known and not self.lhs:
            raise self.error(f"ambiguous '{ident}': the name {ident} or the name {short} followed by "
                             f"{rest[1:]}; write {base}_{{{rest}}} for {ident} or {short}\\, {rest[1:]} "
                             f"for the product", tok.pos)
        end = m.end()
        while self.peek().kind != "eof" and self.peek().end <= end:
            self.next()
        if self.peek().pos < end:
            self.take(end - self.peek().pos)
        return self.name_from(ident, tok.pos, identifier=True)

    def check_run(self, tok: _Tok) -> None:
        """In a forward pass, ``tax`` is refused unless one reading fits: the name 'tax' (a node)
        or the product t·a·x (every letter a node)."""
        if not (self.strict and self.fresh(tok) and len(tok.text) > 1):
            return
        run, pieces, i = tok.text, [], 0
        while i < len(run):
            n = self.greedy_len(run[i:])
            pieces.append(run[i:i + n])
            i += n
        after = self.text[tok.end:tok.end + 1]
        tail = pieces[:-1] if after in ("_", "^", "'") else pieces
        unknown = [p for p in tail if len(p) == 1 and p not in self.known and p not in self.functions]
        if not unknown:
            return
        ident = _IDENTIFIER.match(self.text, tok.pos).group()
        as_text = ident.replace("_", "\\_")
        raise self.error(f"ambiguous '{ident}': one name '{ident}' or the product {_dotted(pieces)}"
                         f"{'…' if ident != run else ''} ('{unknown[0]}' is not a node); write "
                         f"\\text{{{as_text}}} for one name (or give it a value, list it in params or "
                         f"define it), or {' '.join(pieces)} with spaces for the product", tok.pos)

    def word(self) -> Tree:
        tok = self.peek()
        ident = self.known_identifier(tok)
        if ident is not None:
            return ident
        n = self.greedy_len(tok.text)
        if n == 1 and tok.text in _FUNC_WORDS and not self.functions.get(tok.text):
            raise self.error(f"'{tok.text}' reads as a product of letters: write \\{tok.text} or "
                             f"\\operatorname{{{tok.text}}} for the function", tok.pos)
        if (self.allow_partial and "d" not in self.known and tok.text[0] == "d" and n == 1):
            state = self.save()
            try:
                return self.inline_d()
            except (LatexSyntaxError, _NoMatch):
                self.restore(state)
        self.check_run(tok)
        piece = self.take(n)
        return self.letter(piece.text, piece.pos)

    def letter(self, base: str, pos: int, subscript: bool = True) -> Tree:
        """A single letter (or known multi-letter base): e, e^{…}, or a name."""
        if base == "e" and "e" not in self.known and not self.at("_"):
            if self.at("^") and subscript:
                return Call("exp", (self.script_arg(self.next()),), pos=pos)
            return Const("e", pos=pos)
        return self.name_from(base, pos, subscript)

    def primes(self) -> str:
        """``'``, ``''`` after a name (or ``^{\\prime}``): part of the name, y' ≠ y."""
        out = ""
        while True:
            if self.at("'"):
                self.next()
                out += "'"
            elif self.at("^") and self.peek(1).kind == "cmd" and self.peek(1).text == "\\prime":
                self.next(), self.next()
                out += "'"
            elif (self.at("^") and self.peek(1).kind == "{" and self.peek(2).kind == "cmd"
                  and self.peek(2).text == "\\prime"):
                self.next(), self.next()
                while self.at("cmd", "\\prime"):
                    self.next()
                    out += "'"
                if not self.at("}"):
                    raise self.error("expected '}' after \\prime", self.peek().pos)
                self.next()
            else:
                return out

    def name_from(self, base: str, start: int, subscript: bool = True, *, identifier: bool = False) -> Tree:
        r"""The name that starts with ``base``: its primes, subscript and superscript.

        A superscript is part of the name when it is a layer index (``w^{(1)}``, ``W^{[2]}``), a
        label of two or more letters (``y^{target}``, ``y^{\text{pred}}``), a prime
        (``x^{\prime}``), or, like ``\sigma_B^2``, when the name with it is a node of the network
        and the name without it is not; otherwise it is a power. Both nodes: an error.
        """
        if not subscript:
            return Name(base, self.written(start), pos=start)
        prime_at: list[int] = []

        def primes() -> str:
            pos = self.peek().pos
            out = self.primes()
            if out:
                prime_at.append(pos)
            return out

        stem, sub, sup, wrap = base, None, None, None
        if identifier:
            stem, sub = _split_canonical(base)
        stem += primes()
        if self.at("^"):
            sup, sub, wrap = self.superscript(stem, sub, start)
            stem += primes()
        if self.at("_") and (sub is None or identifier):  # \text{apple\_price}_1: apple_price_1
            more = self.subscript(stem if sub is None else f"{stem}_{sub}")
            sub = more if sub is None else f"{sub}_{more}"
            stem += primes()
        if sup is None and wrap is None and self.at("^"):
            sup, sub, wrap = self.superscript(stem, sub, start)
            stem += primes()
        canonical = stem + (f"_{sub}" if sub is not None else "") + (f"^{sup}" if sup is not None else "")
        # a declared function: \phi(z), g(z), g^{[1]}(Z^{[1]}), g^{[1]'}(Z^{[1]})
        n_primes = len(stem) - len(stem.rstrip("'"))
        bare = canonical.replace("'", "")
        if bare in self.functions and not self.lhs:
            if wrap is not None and wrap[0] == "prime":
                n_primes += wrap[1]
            elif wrap is not None:
                raise self.error(f"the function {self.written(start)} needs an argument", start)
            fake = _Tok("cmd", bare, start, self.prev.end)
            return self.function(self.functions[bare], fake, primes=n_primes, written=f"'{self.written(start)}'")
        if wrap is not None and wrap[0] == "prime":
            canonical = canonical + "'" * wrap[1]
            prime_at.append(wrap[2])
        if prime_at and not self.lhs and canonical not in self.known:
            raise self.error(f"a prime (') must follow a function name, as in \\sigma'(z), or belong to "
                             f"a name that is a node: define {canonical} (or give it a value) to use it",
                             prime_at[0])
        shown = self.written(start) if wrap is None else re.sub(r"^\{(.*)\}$", r"\1", latex_name(canonical))
        name = Name(canonical, shown, pos=start)
        if self.at("(") and not self.lhs and sub is None and canonical not in self.known:
            shown = self.written(start)
            raise self.error(
                f"ambiguous '{shown}(': the function {shown} applied to (…), or {shown} times (…)? "
                f"Declare the function in the spec (activations = {{ {_activation_key(canonical)} = \"relu\" }}), "
                f"or make {shown} a node (give it a value, list it in params or define it) and write "
                f"{shown} \\cdot (…) for the product", start)
        if wrap is None or wrap[0] == "prime":
            return name
        if wrap[0] == "pow":
            self.raised = Pow(name, wrap[1], pos=wrap[2])
        else:
            self.raised = Transpose(name, pos=wrap[2])
        return self.raised

    def superscript(self, stem: str, sub: Optional[str], start: int):
        """At '^' after a name: ``(sup, sub, wrap)``; ``sup`` None when the superscript is not part
        of the name (then nothing is consumed, unless ``wrap`` is a power already read)."""
        state = self.save()
        caret = self.next()
        tok = self.peek()
        if tok.kind in ("(", "["):
            self.restore(state)
            raise self.error(f"ambiguous '^{tok.text}': write ^{{{tok.text}…{_CLOSE[tok.kind]}}} "
                             f"for a layer index (part of the name) or ^{{…}} for a power", caret.pos)
        layer = self.layer_index(caret)
        if layer is not None:
            return layer[0], sub, layer[1]
        self.restore(state)
        self.next()
        label = self.label(caret)
        if label is not None:
            return label, sub, None
        self.restore(state)
        self.next()
        simple = self.simple_superscript()
        if simple is None:
            self.restore(state)
            return None, sub, None
        after = self.subscript(stem) if sub is None and self.at("_") else None
        plain = stem + (f"_{sub or after}" if (sub or after) is not None else "")
        candidate = f"{plain}^{simple}"
        if self.lhs:
            return simple, sub or after, None
        if candidate in self.known:
            if plain in self.known:
                shown = self.text[start:self.prev.end]
                raise self.error(f"ambiguous '{shown}': the name {candidate} or {plain} to the power "
                                 f"{simple} (both are nodes); rename one, or write ({latex_name(plain)})^"
                                 f"{{{simple}}} for the power", caret.pos)
            return simple, sub or after, None
        self.restore(state)
        if after is None:
            return None, sub, None
        # x^2_B: LaTeX sets it as x_B^2, the power of x_B
        caret = self.next()
        exp = self.script_arg(caret)
        return None, self.subscript(stem), ("pow", exp, caret.pos)

    def layer_index(self, caret: _Tok):
        """After '^': ``{(1)}``, ``{[l]}``, ``{[2](i)}`` — a layer (or example) index, part of the
        name (Nielsen's ``w^{(2)}``, Ng's ``W^{[1]}``, ``a^{[2](i)}``), never a power; Ng's
        ``W^{[2]T}`` (transpose), ``A^{[1]2}`` (power) and ``g^{[1]'}`` (derivative) after it.
        Returns ``(index, wrap)`` or None (nothing consumed then is the caller's to restore)."""
        if not self.at("{"):
            return None
        self.next()
        groups = []
        while self.peek().kind in ("(", "["):
            opener = self.next()
            parts = []
            while not self.at(_CLOSE[opener.kind]):
                t = self.next()
                if t.kind in ("num", "word", "+", "-"):
                    parts.append(t.text)
                elif t.kind == "cmd" and t.text[1:] in _GREEK:
                    parts.append(t.text)
                else:  # ^{(a + b)^2}-like: an ordinary power after all
                    return None
            self.next()
            if not parts or (any(p in "+-" for p in parts) and not any(p[0].isalpha() or p[0] == "\\"
                                                                        for p in parts)):
                return None  # ^{(1 - 1)}: arithmetic, a power; ^{(l+1)} is a layer
            groups.append(f"{opener.text}{''.join(parts)}{_CLOSE[opener.kind]}")
        if not groups:
            return None
        wrap = None
        tok = self.peek()
        if tok.kind == "'" or (tok.kind == "cmd" and tok.text == "\\prime"):
            k = 0
            while self.at("'") or self.at("cmd", "\\prime"):
                self.next()
                k += 1
            wrap = ("prime", k, caret.pos)
        elif (tok.kind == "cmd" and tok.text in ("\\top", "\\intercal")) or (
                tok.kind == "word" and tok.text == "T"):
            if tok.kind == "word" and "T" in self.known:
                raise self.error(f"ambiguous 'T' in {self.show(caret)}{{…T}}: the transpose or the node T; "
                                 f"write ^{{…\\top}} for the transpose", tok.pos)
            self.next()
            wrap = ("T", None, caret.pos)
        elif tok.kind == "num":
            self.next()
            wrap = ("pow", self.number(tok), caret.pos)
        if not self.at("}"):
            return None
        self.next()
        return "".join(groups), wrap

    def label(self, caret: _Tok) -> Optional[str]:
        """After '^': ``{target}``, ``{\\text{pred}}``, ``\\mathrm{true}`` — a word of two or more
        letters is a label, part of the name (``y^{target}``), never a product of letters."""
        braced = self.at("{")
        if braced:
            self.next()
        tok = self.peek()
        if tok.kind == "text" or (tok.kind == "word" and (braced or self.lhs)):
            word = tok.text
        else:
            return None
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]+", word):
            return None
        self.next()
        if braced:
            if not self.at("}"):
                return None
            self.next()
        if word in self.known:
            raise self.error(f"ambiguous '^{{{word}}}': a label (part of the name) or the power by the "
                             f"node {word}; write ^{{({word})}}… or rename one", caret.pos)
        return word

    def simple_superscript(self) -> Optional[str]:
        """After '^': one digit, ``{12}``, one letter or a Greek letter, braced or not."""
        braced = self.at("{")
        if braced:
            self.next()
        tok = self.peek()
        if tok.kind == "num" and tok.text.isdigit() and (braced or len(tok.text) == 1):
            out = self.next().text
        elif tok.kind == "word" and (len(tok.text) == 1 or not braced):
            out = self.take().text
        elif tok.kind == "cmd" and tok.text[1:] in _GREEK:
            out = self.next().text
        else:
            return None
        if braced:
            if not self.at("}"):
                return None
            self.next()
        return out

    def subscript(self, stem: str = "") -> str:
        under = self.next()
        tok = self.peek()
        if tok.kind == "{":
            opener, parts = self.next(), []
            while not self.at("}"):
                t = self.next()
                if t.kind in ("num", "word", "text", "cjk") or t.kind in (",", "+", "-"):
                    parts.append(t.text.replace(" ", ""))
                elif t.kind == "cmd" and t.text[1:] in _GREEK:
                    parts.append(t.text)
                elif t.kind == "cmd" and t.text[1:] in _ALPHABETS:
                    parts.append(self.alphabet_letter(t))
                elif t.kind == "eof":
                    raise self.error("unbalanced '{': no matching '}'", opener.pos)
                else:
                    raise self.error(f"unexpected {self.show(t)} in a subscript", t.pos)
            self.next()
            if not parts:
                raise self.error("empty subscript", opener.pos)
            return "".join(parts)
        if tok.kind in ("num", "word") and len(tok.text) > 1 and not (tok.kind == "num" and not tok.text.isdigit()):
            whole, first = f"{stem}_{tok.text}", f"{stem}_{tok.text[0]}"
            if (whole in self.known or self.lhs) and (first not in self.known or self.lhs):
                return self.next().text
            kind = "one name" if whole in self.known else "one subscript"
            raise self.error(f"ambiguous '_{tok.text}': {kind} {stem}_{{{tok.text}}} or {first} followed by "
                             f"{tok.text[1:]}; write _{{{tok.text}}} for the subscript or {first}\\, {tok.text[1:]} "
                             f"for the product", under.pos)
        if tok.kind == "num" and len(tok.text) > 1:
            raise self.error(f"ambiguous '_{tok.text}': write _{{{tok.text}}}", under.pos)
        if tok.kind in ("num", "word"):
            return self.take().text
        if tok.kind in ("text", "cjk") or (tok.kind == "cmd" and tok.text[1:] in _GREEK):
            return self.next().text
        if tok.kind == "cmd" and tok.text[1:] in _ALPHABETS:  # Ioffe's \mu_\mathcal{B}
            return self.alphabet_letter(self.next())
        raise self.error("dangling '_': expected a subscript after it", under.pos)

    def alphabet_letter(self, cmd: _Tok) -> str:
        r"""After ``\mathcal``: ``{B}`` or ``B``; returns ``\mathcal{B}``."""
        braced = self.at("{") and self.next()
        inner = self.single_letter(cmd)
        if braced:
            if not self.at("}"):
                raise self.error(f"{self.show(cmd)} takes a single letter", cmd.pos)
            self.next()
        return f"{cmd.text}{{{inner}}}"

    def single_letter(self, cmd: _Tok) -> str:
        tok = self.peek()
        if tok.kind == "word":
            return self.take().text
        if tok.kind == "cmd" and tok.text[1:] in _GREEK:
            return self.next().text
        raise self.error(f"expected a letter after {self.show(cmd)}", cmd.pos)

    def name_only(self, after: _Tok) -> Name:
        node = self.atom()
        if not isinstance(node, Name):
            raise self.error(f"expected a name after {self.show(after)}", after.pos)
        return node

    def text_name(self) -> Tree:
        tok = self.next()
        content = tok.text
        if content in self.functions:
            return self.function(self.functions[content], tok)
        if _key(content) in _FUNC_KEYS and content not in self.long_bases and content not in self.known:
            return self.function(_FUNC_KEYS[_key(content)], tok)
        if not _TEXT_NAME.fullmatch(content):
            raise self.error(f"{self.show(tok)} is not a name (letters, digits and \\_ only)", tok.pos)
        if len(content) > 1 and self.peek().kind in ("(", "[") and content not in self.known:
            raise self.error(f"unknown function {self.show(tok)}; known functions: {_KNOWN_FUNCS}; "
                             f"or declare it in the spec: activations = {{ {content} = \"relu\" }}", tok.pos)
        if len(content) == 1 and content.isascii():
            return self.letter(content, tok.pos)
        return self.name_from(content, tok.pos, identifier="_" in content)

    # -- commands
    def sigma_is_name(self) -> bool:
        """After ``\\sigma``: is ``^2``, ``^2_B`` … a declared name (σ², σ_B²) rather than σ's power?"""
        if not self.at("^"):
            return False
        state = self.save()
        try:
            node = self.name_from("\\sigma", self.prev.pos)
            return not (isinstance(node, Name) and node.canonical == "\\sigma")
        except LatexSyntaxError:
            return False
        finally:
            self.restore(state)

    def command(self) -> Tree:
        tok = self.peek()
        name = tok.text[1:]
        if name in _GREEK:
            self.next()
            if (name == "sigma" and not self.at("_") and not self.sigma_is_name() and not self.lhs
                    and (self.peek().kind in ("(", "[", "'") or "\\sigma" not in self.known)):
                return self.function("sigmoid", tok)
            if name == "pi" and "\\pi" not in self.known and not self.at("_"):
                return Const("pi", pos=tok.pos)
            return self.name_from(tok.text, tok.pos)
        if name in _DECORATIONS or name in _ALPHABETS:
            self.next()
            braced = self.at("{") and self.next()
            inner = self.single_letter(tok)
            sub = None
            if braced and self.at("_") and name in _DECORATIONS:  # \hat{y_1} = \hat{y}_1
                sub = self.subscript(f"{tok.text}{{{inner}}}")
            if braced and not self.at("}"):
                raise self.error(f"{self.show(tok)} must decorate a single letter", tok.pos)
            if braced:
                self.next()
            base = f"{tok.text}{{{inner}}}"
            return self.name_from(base if sub is None else f"{base}_{sub}", tok.pos, identifier=sub is not None)
        if name in _WRAPPERS:
            self.next()
            node = self.group() if self.at("{") else self.atom()
            if isinstance(node, Name):
                canonical = node.canonical
                if self.at("_") and _split_canonical(canonical)[1] is None:
                    canonical = f"{canonical}_{self.subscript(canonical)}"
                node = Name(canonical, self.text[tok.pos:self.prev.end], pos=tok.pos)
            return node
        if name in ("frac", "dfrac", "tfrac"):
            return self.frac()
        if name == "sqrt":
            self.next()
            index = self.group() if self.at("[") else None
            x = self.script_arg(tok)
            return Call("sqrt", (x,), pos=tok.pos) if index is None else Call("root", (x, index), pos=tok.pos)
        if name == "mathbb":
            return self.indicator()
        if name == "sum":
            return self.sum()
        if name == "partial":
            return self.inline_partial()
        if name in _FUNC_CMDS:
            return self.function(_FUNC_CMDS[name], self.next())
        if name in ("top", "intercal"):
            raise self.error(f"{self.show(tok)} must follow '^'", tok.pos)
        raise self.error(f"unknown command {self.show(tok)}; known functions: {_KNOWN_FUNCS}", tok.pos)

    def function(self, func: str, tok: _Tok, *, primes: int = 0, written: Optional[str] = None) -> Tree:
        written = written or self.show(tok)
        log_base = None
        if func == "log" and self.at("_"):
            log_base = self.script_arg(self.next())
        while self.at("'"):
            self.next()
            primes += 1
        power = self.script_arg(self.next()) if self.at("^") else None
        if self.peek().kind in ("(", "["):
            opener = self.next()
            self.closers.append(None)
            if self.at(_CLOSE[opener.kind]):
                raise self.error(f"{written} has an empty argument list", opener.pos)
            self.nested(+1)
            args = [self.expr()]
            self.nested(-1)
            while self.at(","):
                self.next()
                args.append(self.expr())
            self.closers.pop()
            self.close(opener)
        elif func in ("max", "min"):
            raise self.error(f"{written} needs parentheses, as in \\max(0, z)", tok.pos)
        elif self.starts_factor():
            self.nested(+1)
            args = [self.power()]
            self.nested(-1)
        elif func == "sigmoid" and power is not None and tok.text == "\\sigma":
            raise self.error("'\\sigma^…' needs an argument: for the sigmoid's power write \\sigma^2(z); "
                             "for σ² as a name (a variance) define it on a left-hand side or give it a value",
                             tok.pos)
        else:
            raise self.error(f"{written} needs an argument", tok.pos)
        if func in ("max", "min"):
            if primes:
                raise self.error(f"{written} cannot take a prime", tok.pos)
            if len(args) < 2:
                raise self.error(f"{written} needs at least two arguments", tok.pos)
            zero = [isinstance(a, Num) and float(a.value) == 0 for a in args]
            if func == "max" and len(args) == 2 and any(zero):
                func, args = "relu", [args[1] if zero[0] else args[0]]
        elif not (len(args) == 1 or (len(args) == 2 and func in ("leaky_relu", "elu"))):
            raise self.error(f"{written} takes one argument, got {len(args)}", tok.pos)
        if log_base is not None:
            args.append(log_base)
        call = Call(func, tuple(args), primes, pos=tok.pos)
        return call if power is None else Pow(call, power, pos=tok.pos)

    def frac(self) -> Tree:
        tok = self.next()
        if self.at("{") and self.peek(2).kind == "}" and (
                (self.peek(1).kind == "cmd" and self.peek(1).text == "\\partial")
                or (self.allow_partial and "d" not in self.known and self.peek(1).kind in ("word", "text")
                    and self.peek(1).text == "d")):
            return self.derivative(tok)
        if self.at("{") and self.peek(1).kind == "cmd" and self.peek(1).text == "\\partial":
            if not self.allow_partial:
                raise self.error("∂ notation is not allowed here", self.peek(1).pos)
            of, wrt = self.partial_group(), self.partial_group()
            return Partial(of, wrt, pos=tok.pos)
        if self.allow_partial and "d" not in self.known and self.at("{"):
            state = self.save()
            try:
                of, wrt = self.d_group(), self.d_group()
                return Partial(of, wrt, pos=tok.pos)
            except (LatexSyntaxError, _NoMatch):
                self.restore(state)
        num = self.script_arg(tok, split_digits=True)
        return BinOp("/", num, self.script_arg(tok, split_digits=True), pos=tok.pos)

    def indicator(self) -> Call:
        """``\\mathbb{1}[x > 0]`` (ReLU's derivative as printed): a step function of ``x - 0``."""
        tok = self.next()
        if not (self.at("{") and self.peek(1).kind == "num" and self.peek(1).text == "1"
                and self.peek(2).kind == "}"):
            raise self.error("only \\mathbb{1}[x > 0], the indicator, is understood of \\mathbb", tok.pos)
        self.next(), self.next(), self.next()
        opener = self.peek()
        if opener.kind not in ("[", "("):
            raise self.error("expected [x > 0] after \\mathbb{1}", opener.pos)
        self.next()
        self.closers.append(None)
        self.nested(+1)
        left = self.expr()
        self.nested(-1)
        rel = self.peek()
        if rel.kind not in (">", "<"):
            raise self.error(f"expected '>' or '<' in \\mathbb{{1}}[…], found {self.show(rel)}", rel.pos)
        self.next()
        right = self.expr()
        self.closers.pop()
        self.close(opener)
        big, small = (left, right) if rel.kind == ">" else (right, left)
        zero = isinstance(small, Num) and float(small.value) == 0
        return Call("step", (big if zero else BinOp("-", big, small, pos=rel.pos),), pos=tok.pos)

    def derivative(self, tok: _Tok) -> Derivative:
        """``\\frac{\\partial}{\\partial v} expr`` or ``\\frac{d}{dv} expr``: the rest of the product."""
        if not self.allow_partial:
            raise self.error("∂ notation is not allowed here", tok.pos)
        partial = self.peek(1).kind == "cmd"
        self.next(), self.next(), self.next()
        if partial:
            wrt = self.partial_group()
        else:
            state = self.save()
            try:
                wrt = self.d_group()
            except _NoMatch:
                self.restore(state)
                raise self.error("expected {d v} after \\frac{d}", self.peek().pos) from None
        if not self.starts_factor():
            raise self.error(f"'{self.text[tok.pos:self.prev.end]}' needs an expression to differentiate", tok.pos)
        self.nested(+1)
        x = self.product()
        self.nested(-1)
        return Derivative(x, wrt, pos=tok.pos)

    def partial_group(self) -> Name:
        opener = self.next()
        if opener.kind != "{" or not self.at("cmd", "\\partial"):
            raise self.error("expected {\\partial …} in a \\frac of partials", opener.pos)
        name = self.name_only(self.next())
        self.close(opener)
        return name

    def d_mark(self) -> _Tok:
        """Consume the 'd' of d-notation (a 'd' letter or \\mathrm{d}) or fail."""
        tok = self.peek()
        if tok.kind == "text" and tok.text == "d":
            return self.next()
        if tok.kind == "word" and tok.text[0] == "d" and self.greedy_len(tok.text) == 1:
            return self.take()
        raise _NoMatch

    def d_group(self) -> Name:
        opener = self.next()
        if opener.kind != "{":
            raise _NoMatch
        name = self.name_only(self.d_mark())
        if not self.at("}"):
            raise _NoMatch
        self.next()
        return name

    def inline_d(self) -> Partial:
        d = self.d_mark()
        of = self.name_only(d)
        if not self.at("/"):
            raise _NoMatch
        self.next()
        return Partial(of, self.name_only(self.d_mark()), pos=d.pos)

    def inline_partial(self) -> Partial:
        tok = self.next()
        if not self.allow_partial:
            raise self.error("∂ notation is not allowed here", tok.pos)
        of = self.name_only(tok)
        if not self.at("/"):
            raise self.error("expected '/' after '\\partial …', as in \\partial L / \\partial w", self.peek().pos)
        self.next()
        if not self.at("cmd", "\\partial"):
            raise self.error("expected '\\partial' after '/'", self.peek().pos)
        return Partial(of, self.name_only(self.next()), pos=tok.pos)

    def sum(self) -> Sum:
        tok = self.next()
        index, upper, bounds = None, None, set()
        while self.peek().kind in ("_", "^") and self.peek().kind not in bounds:
            op = self.next()
            bounds.add(op.kind)
            if op.kind == "^":
                bound = self.script_arg(op)
                upper = bound.canonical if isinstance(bound, Name) else None
            elif self.at("{"):
                opener = self.next()
                index = self.single_letter(op) if not self.at("word") else self.next().text
                if self.at("="):
                    self.next()
                    self.expr()  # lower bound: checked, not kept
                self.close(opener)
            else:
                index = self.single_letter(op)
        if not self.starts_factor() and self.peek().kind not in ("-", "+"):
            raise self.error("'\\sum' needs a term to sum", tok.pos)
        self.nested(+1)
        x = self.odot()
        self.nested(-1)
        return Sum(x, index, pos=tok.pos, upper=upper)


# ---- entry points ----------------------------------------------------------
#: groups and signs nested deeper than this are refused (a textbook formula nests a few levels)
MAX_DEPTH = 100


def parse(text: str, known: Collection[str] = (), *, allow_partial: bool = False,
          functions: Optional[Mapping[str, str]] = None, strict: bool = False) -> Tree:
    """Parse one LaTeX expression; ``known`` canonical names guide letter runs.

    ``functions`` maps declared function names to functions (``{"\\\\phi": "relu"}``, from
    :func:`declared_functions`); ``strict`` (forward passes) refuses a run of letters that is
    neither a node nor a product of nodes (``tax`` when there is no node ``tax`` or ``t``).
    """
    p = _Parser(text, known, allow_partial, functions=functions, strict=strict)
    if p.at("eof"):
        raise LatexSyntaxError("empty expression", text, 0)
    node = p.expr()
    tok = p.peek()
    if tok.kind in (")", "]", "}", "|", "||"):
        raise p.error(f"unbalanced {p.show(tok)}", tok.pos)
    if tok.kind == "=":
        raise p.error("unexpected '=' (one equation per line, 'name = expression')", tok.pos)
    if tok.kind != "eof":
        raise p.error(f"unexpected {p.show(tok)}", tok.pos)
    deep = too_deep(node)
    if deep is not None:
        raise p.error(f"expression more than {MAX_TREE_DEPTH} operations deep (a sum or product of "
                      f"that many terms, or operations inside each other); split it over several "
                      f"lines, one named part per line", max(deep.pos, 0))
    return node


def _children(node) -> list:
    out = []
    for f in fields(node):
        v = getattr(node, f.name)
        if isinstance(v, tuple):
            out += [x for x in v if is_dataclass(x)]
        elif is_dataclass(v):
            out.append(v)
    return out


def _heights(tree: Tree) -> dict[int, int]:
    """The height of every node of a syntax tree (a leaf is 1), by ``id``: computed without
    recursion, so a tree too deep for the recursive walks can be measured and refused."""
    heights: dict[int, int] = {}
    todo = [(tree, False)]
    while todo:
        node, done = todo.pop()
        if id(node) in heights:
            continue
        kids = _children(node)
        if done or not kids:
            heights[id(node)] = 1 + max((heights[id(k)] for k in kids), default=0)
        else:
            todo.append((node, True))
            todo += [(k, False) for k in kids if id(k) not in heights]
    return heights


def too_deep(tree: Tree, limit: int = MAX_TREE_DEPTH) -> Optional[Tree]:
    """The first node, in reading order, of the operations deeper than ``limit`` (None when the
    tree is within it): in ``w_1 + … + w_150`` the '+' after the 100th term."""
    heights = _heights(tree)
    if heights[id(tree)] <= limit:
        return None
    first, todo = None, [tree]
    while todo:
        node = todo.pop()
        h = heights[id(node)]
        if h == limit + 1 and (first is None or 0 <= node.pos < first.pos or first.pos < 0):
            first = node
        elif h > limit + 1:
            todo += _children(node)
    return first


def parse_equation(text: str) -> tuple[str, str, int]:
    """Split ``lhs = rhs`` at its one top-level '='; returns (lhs, rhs, offset of rhs)."""
    depth, eqs = 0, []
    for i, c in enumerate(text):
        depth += (c in "{([") - (c in "})]")
        if c == "=" and depth == 0:
            eqs.append(i)
    if not eqs:
        raise LatexSyntaxError(f"expected 'name = expression', found no '=' in '{text}'")
    if len(eqs) > 1:
        raise LatexSyntaxError("more than one '=' in an equation", text, eqs[1])
    eq = eqs[0]
    lhs, rhs = text[:eq].strip(), text[eq + 1:]
    offset = eq + 1 + len(rhs) - len(rhs.lstrip())
    if not lhs:
        raise LatexSyntaxError("nothing on the left of '='", text, eq)
    if not rhs.strip():
        raise LatexSyntaxError("nothing on the right of '='", text, eq)
    return lhs, rhs.strip(), offset


def parse_name(text: str) -> tuple[str, str]:
    r"""Read a left-hand side, which must be exactly one name: (canonical, latex as written).

    A plain letter run is one name here (``dZ_2``, ``loss``, ``apple_price``), and so is a
    superscript (``\sigma_B^2``, ``z^l_j``): a left-hand side cannot be a power.
    """
    run = re.match(r"\s*([A-Za-z]+)((?:_[A-Za-z0-9]+)*)", text)
    known = {"e", "E", "T", "d", "\\sigma", "\\pi"}
    if run:
        known |= {run.group(1), run.group(1) + run.group(2)}
    p = _Parser(text, known, False, lhs=True)
    node = p.atom() if not p.at("eof") else None
    if not isinstance(node, Name) or not p.at("eof"):
        where = p.peek().pos if isinstance(node, Name) else 0
        raise LatexSyntaxError("the left-hand side must be a single name, like z_1 or \\hat{y}", text, where)
    return node.canonical, node.latex


_LAYER_SUFFIX = re.compile(r"\^((?:[(\[][^()\[\]{}]*[)\]])+)$")


def canonical_name(latex: str) -> str:
    r"""Canonical spelling of one name: ``w_{1,2}`` → ``w_1,2``, ``\mathbf{W}_{1}`` → ``W_1``,
    ``\text{apple\_price}`` → ``apple_price``, ``y_1^{target}`` → ``y_1^target``,
    ``\sigma^2_B`` → ``\sigma_B^2``, ``μ_B`` → ``\mu_B``.

    A name already in canonical spelling is returned unchanged (``w_10``, ``w_1,2``, ``W^[1]``).
    """
    try:
        return parse_name(latex)[0]
    except LatexSyntaxError:
        text = "".join(latex.split())
        layer = _LAYER_SUFFIX.search(text)
        if layer:  # already canonical: w^(1), a_1^[2], a^[2](i)
            return f"{canonical_name(text[:layer.start()])}^{layer.group(1)}"
        base, sub = _split_canonical(text)
        if sub and "{" not in text and "}" not in text and parse_name(base)[0] == base:
            return text
        raise


def declared_function(key: str) -> str:
    r"""The canonical name a spec's ``activations`` key declares: ``phi``, ``\phi`` and ``φ`` are
    all ``\phi`` (a Greek letter's name is that letter); ``g^[1]`` is Ng's ``g^{[1]}``."""
    bare = key.strip()
    if bare in _GREEK:
        return "\\" + bare
    return canonical_name(bare)


def declared_functions(activations: Mapping[str, str]) -> dict[str, str]:
    r"""``{"phi": "relu", "g": "tanh"}`` → ``{"\\phi": "relu", "g": "tanh"}``: canonical names to
    the functions they are (the ``func`` of :class:`Call`); an unknown function or a name that is
    already a function is a :class:`LatexSyntaxError` naming it."""
    out = {}
    for key, value in activations.items():
        name = declared_function(key)
        if name in ("\\sigma", "\\pi", "e") or (name.isascii() and _key(name) in _FUNC_KEYS):
            raise LatexSyntaxError(f"'{key}' is already a function or a constant; declare another name")
        func = _DECLARABLE.get(_key(value)) if isinstance(value, str) else None
        if func is None:
            raise LatexSyntaxError(f"unknown function {value!r} for '{key}'; one of: "
                                   f"{', '.join(sorted(_DECLARABLE))}")
        out[name] = func
    return out


def _activation_key(canonical: str) -> str:
    """How to write ``canonical`` as a key of ``activations = { … }``."""
    bare = canonical.lstrip("\\")
    if canonical.startswith("\\") and bare in _GREEK:
        return bare
    return canonical if re.fullmatch(r"[A-Za-z0-9_]+", canonical) else f'"{canonical}"'


def _is_word(text: str) -> bool:
    return len(text) > 1 and bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text))


def _top_level_caret(canonical: str) -> int:
    depth = 0
    for i, c in enumerate(canonical):
        depth += (c == "{") - (c == "}")
        if c == "^" and depth == 0:
            return i
    return -1


def latex_name(canonical: str) -> str:
    r"""LaTeX for a canonical name: ``z_1`` → ``z_{1}``, ``loss`` → ``\mathrm{loss}``,
    ``apple_price`` → ``\mathrm{apple\_price}``, ``苹果`` → ``\text{苹果}``; a name with a
    superscript is one group, so that a printed power or transpose of it is not a double
    superscript: ``a_1^(2)`` → ``{a_{1}^{(2)}}``, ``W^[1]`` → ``{W^{[1]}}`` (``{W^{[1]}}^{\top}``),
    ``y^target`` → ``{y^{\mathrm{target}}}``, ``\sigma_B^2`` → ``{\sigma_{B}^{2}}``."""
    layer = _LAYER_SUFFIX.search(canonical)
    if layer:
        return f"{{{latex_name(canonical[:layer.start()])}^{{{layer.group(1)}}}}}"
    caret = _top_level_caret(canonical)
    if caret > 0:
        sup = canonical[caret + 1:]
        shown = rf"\mathrm{{{sup}}}" if _is_word(sup) else sup
        return f"{{{latex_name(canonical[:caret])}^{{{shown}}}}}"
    base, sub = _split_canonical(canonical)
    primes = len(base) - len(base.rstrip("'"))
    base = base.rstrip("'")
    if _CJK_RUN.search(base):
        base = rf"\text{{{base}}}"
    elif len(base) > 1 and not base.startswith("\\"):
        if sub is not None and (len(sub) > 1 and not sub.replace(",", "").isdigit()
                                and re.fullmatch(r"[A-Za-z0-9_]+", sub)):
            escaped = sub.replace("_", "\\_")
            return rf"\mathrm{{{base}\_{escaped}}}" + "'" * primes
        base = rf"\mathrm{{{base}}}"
    base += "'" * primes
    return base if sub is None else f"{base}_{{{sub}}}"


def walk_tree(node) -> Iterator:
    """Every node of a syntax tree, parents first (without recursion: a long line is a deep tree)."""
    todo = [node]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, tuple):
            todo += reversed(node)
        elif is_dataclass(node):
            todo += reversed([getattr(node, f.name) for f in fields(node)])


def free_names(node: Tree) -> set[str]:
    """Canonical names used in a tree (including both sides of a partial)."""
    return {n.canonical for n in walk_tree(node) if isinstance(n, Name)}


# ---- lowering --------------------------------------------------------------
_MATRIX = {Transpose: "^\\top", Norm: "\\|…\\|", Sum: "\\sum"}


def tree_to_sympy(node: Tree, symbols: Mapping[str, sp.Symbol], *, evaluate: bool = True,
             partial: Optional[Callable[[str, str], sp.Expr]] = None, text: str = "") -> sp.Expr:
    """Lower a scalar tree to SymPy.

    ``symbols`` maps canonical names to SymPy symbols; ``partial(of, wrt)``
    (canonical names) gives the value of a :class:`Partial`. With
    ``evaluate=False`` the author's order is kept for display. Pass the source
    ``text`` to get columns in error messages.
    """
    def err(message: str, n) -> LatexSyntaxError:
        return LatexSyntaxError(message, text, n.pos) if text and n.pos >= 0 else LatexSyntaxError(message)

    def neg(x: sp.Expr) -> sp.Expr:
        if evaluate or x.is_Number:
            return -x
        if x.is_Mul:
            return sp.Mul(-1, *x.args, evaluate=False)
        return sp.Mul(-1, x, evaluate=False)

    def low(n) -> sp.Expr:
        if isinstance(n, Num):
            problem = number_problem(n.value)
            if problem:
                raise err(problem, n)
            return sp.Integer(n.value) if n.value.isdigit() else sp.Float(n.value)
        if isinstance(n, Name):
            if n.canonical not in symbols:
                raise err(f"unknown symbol '{n.canonical}'; known: {', '.join(sorted(symbols)) or 'none'}", n)
            return symbols[n.canonical]
        if isinstance(n, Const):
            return sp.E if n.name == "e" else sp.pi
        if isinstance(n, Neg):
            return neg(low(n.x))
        if isinstance(n, Pow):
            base, exp = low(n.base), low(n.exp)
            problem = power_problem(base, exp) if evaluate else None
            if problem:  # 9^{9^{9}}: refused before SymPy computes it
                raise err(problem, n)
            return sp.Pow(base, exp, evaluate=evaluate)
        if isinstance(n, BinOp) and n.op in ("+", "-"):
            terms, left = [], n
            while isinstance(left, BinOp) and left.op in ("+", "-"):
                terms.append(low(left.right) if left.op == "+" else neg(low(left.right)))
                left = left.left
            terms.append(low(left))
            return sp.Add(*reversed(terms), evaluate=evaluate)
        if isinstance(n, BinOp):
            factors, left = [], n
            while isinstance(left, BinOp) and left.op in ("*", "/", "odot"):
                right = low(left.right)
                factors.append(sp.Pow(right, -1, evaluate=evaluate) if left.op == "/" else right)
                left = left.left
            factors.append(low(left))
            factors.reverse()
            if len(factors) > 1 and factors[0] == 1:
                factors.pop(0)  # \frac{1}{x}: print as a fraction, not "1 \frac{1}{x}"
            return sp.Mul(*factors, evaluate=evaluate) if len(factors) > 1 else factors[0]
        if isinstance(n, Call):
            fn = _SYMPY_FUNCS[n.func]
            args = [low(a) for a in n.args]
            if n.prime:
                t = sp.Dummy("t")
                return sp.diff(fn(t, *args[1:]), t, n.prime).xreplace({t: args[0]})
            if n.func in ("log", "root"):
                return fn(*args)
            return fn(*args, evaluate=evaluate)
        if isinstance(n, Derivative):
            if n.wrt.canonical not in symbols:
                raise err(f"unknown symbol '{n.wrt.canonical}'; known: {', '.join(sorted(symbols)) or 'none'}", n.wrt)
            return sp.diff(low(n.x), symbols[n.wrt.canonical])
        if isinstance(n, Partial):
            if partial is None:
                raise err("∂ notation is not allowed here", n)
            return partial(n.of.canonical, n.wrt.canonical)
        if type(n) in _MATRIX:
            raise err(f"matrix notation '{_MATRIX[type(n)]}' in a scalar expression", n)
        raise TypeError(f"not a syntax tree node: {n!r}")

    return low(node)
