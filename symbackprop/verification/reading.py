r"""Reading a claim against one network: its target, and its right side in the IR.

The left side names the target: the loss's gradient in any of the spellings
textbooks use (``\frac{\partial L}{\partial w_1}``, ``\partial L/\partial w_1``,
``dL/dw_1``, ``\nabla_{W} L``, Ng's ``dW^{[1]}`` and ``db``, Nielsen's
``\delta^{[2]}`` for :math:`\partial L/\partial z^{[2]}`), a derivative of a node
by an ancestor (``\frac{\partial y}{\partial x}``), or a node (``z_1``).

Course notes and code are read too: Unicode math as pasted from a rendered page
(``(∂ J)/(∂ c)``, ``ŷ``, ``W²``, ``Aᵀ``), and NumPy as Ng's slides and Kratzert's
blog write it (``np.sum(dZ, axis=1, keepdims=True)``, ``*`` for the elementwise
product, ``**`` for a power, ``1.``, ``dfdx`` for ∂f/∂x). In Ng's convention a
``dZ`` of an inner node is the gradient of the loss summed over the examples,
``m·∂J/∂Z`` when ``J`` is a mean over ``m`` examples, while ``dW`` and ``db``
of the parameters are ``∂J/∂W`` and ``∂J/∂b``.

The right side is lowered to the IR of the network (so scalar and matrix claims
are one case) with placeholders: each partial stands for its true value, each
decimal for the number as written (so its precision is known), and a numeric
matrix (``\begin{bmatrix}…\end{bmatrix}``, ``[[…], […]]``) for its entries.

>>> from symbackprop.reader.forward import network_from_latex
>>> from symbackprop.verification.truth import Truth
>>> from symbackprop.verification.claims import read_claims
>>> net = network_from_latex("z = w x\na = \\sigma(z)\nL = (a - y)^2", params=["w"])
>>> reader = Reader(Truth(net))
>>> claim = read_claims(r"dL/dw = \frac{\partial L}{\partial a}\sigma'(z) x + 0.0")[0]
>>> [t.label for t in reader.targets(claim)]
['∂L/∂w']
>>> low = reader.lower(claim)
>>> sorted(low.partials), sorted(low.numbers), low.numeric
(['∂L/∂a'], ['0.0'], True)
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Optional

import numpy as np

from symbackprop import ir
from symbackprop.backprop import derivative
from symbackprop.errors import LatexSyntaxError, ShapeError, SpecError
from symbackprop.reader import latex as T
from symbackprop.reader.forward import hadamard_powers
from symbackprop.reader.lower import lower
from symbackprop.verification.claims import Claim
from symbackprop.verification.truth import Target, Truth

_NUMBER = re.compile(r"(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?")
_NABLA = re.compile(r"\\nabla\s*_\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\\?[A-Za-z])\s*")
_MATRIX_ENV = re.compile(r"\\begin\{([bpvV]?matrix)\}(.*?)\\end\{\1\}", re.S)
_NESTED = re.compile(r"\[\s*\[[^\[\]]*\](?:\s*,\s*\[[^\[\]]*\])*\s*\]")
_NUM = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_FLAT = re.compile(rf"\[{_NUM}(?:,{_NUM})+\]")  # [0.638, -0.765, 0.096]: a row of numbers


@dataclass(frozen=True)
class PerExample(T.Partial):
    """Ng's ``dZ`` of an inner node: the gradient of the loss summed over the examples."""


@dataclass(frozen=True)
class Written:
    """A decimal number as written: its value and the half unit of its last digit."""

    text: str
    value: float
    half_ulp: float
    decimals: int

    @classmethod
    def read(cls, text: str) -> "Written":
        m = _NUMBER.fullmatch(text)
        if m is None:
            return cls(text, float(text), 0.0, 0)
        decimals = len(m.group("frac") or "")
        exp = int(m.group("exp") or 0)
        half = 0.5 * 10.0 ** (exp - decimals) if m.group("frac") is not None else 0.0
        return cls(text, float(text), half, max(decimals - exp, 0))


@dataclass
class Literal:
    """A numeric matrix as written: its entries and the half unit of each entry's last digit."""

    value: np.ndarray
    half_ulp: np.ndarray
    decimals: int


@dataclass
class Lowered:
    """A claim's right side in the IR, with placeholders for what it refers to."""

    expr: ir.Expr
    partials: dict  #: placeholder name -> readings of the partial (Target, first = default)
    numbers: dict  #: placeholder name -> Written
    literals: dict  #: placeholder name -> Literal
    single: Optional[Written]  #: the right side is this one number (with ``sign``)
    sign: int
    names: set  #: node names the right side uses

    @property
    def numeric(self) -> bool:
        """About the spec's numbers: it has decimals or numeric matrices, or no names at all."""
        return bool(self.numbers or self.literals or not (self.names or self.partials))

    @property
    def decimals(self) -> int:
        ds = [w.decimals for w in self.numbers.values()] + [m.decimals for m in self.literals.values()]
        return max(ds, default=0)


def rebase_error(e: LatexSyntaxError, claim: Claim, col: int) -> LatexSyntaxError:
    """An error in one side, pointing into the row as the person wrote it."""
    if e.position is None or col < 0:
        return e
    message = str(e)
    suffix = f" at column {e.position + 1} in '{e.text}'"
    if message.endswith(suffix):
        message = message[:-len(suffix)]
    return LatexSyntaxError(message, claim.source.rstrip(), col + e.position)


def _nabla(text: str, loss: str) -> str:
    r"""``\nabla_{W} L`` → ``\frac{\partial L}{\partial W}`` (a bare ``\nabla_W`` is of the loss)."""
    out, pos = [], 0
    for m in _NABLA.finditer(text):
        out.append(text[pos:m.start()])
        wrt = m.group(1)
        wrt = wrt[1:-1] if wrt.startswith("{") else wrt
        rest = text[m.end():]
        of = re.match(r"(?:\\[A-Za-z]+|[A-Za-z])(?:_\{[^{}]*\}|_\w)?(?:\^\{[^{}]*\})?", rest)
        if of is not None:
            out.append(f"\\frac{{\\partial {of.group()}}}{{\\partial {wrt}}}")
            pos = m.end() + of.end()
        else:
            out.append(f"\\frac{{\\partial {loss}}}{{\\partial {wrt}}}")
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)


_GREEK = {unicodedata.lookup(f"GREEK SMALL LETTER {n.upper().replace('LAMBDA', 'LAMDA')}"): n for n in (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega")}
_GREEK.update({"ϵ": "epsilon", "ϕ": "phi", "Δ": "Delta", "Σ": "Sigma", "Θ": "Theta", "Φ": "Phi"})
_ACCENTS = {"\u0302": "hat", "\u0304": "bar", "\u0303": "tilde", "\u0307": "dot"}
_SYMBOLS = {"∂": "\\partial ", "∇": "\\nabla ", "·": "\\cdot ", "⋅": "\\cdot ", "×": "\\times ",
            "⊙": "\\odot ", "∘": "\\circ ", "ᵀ": "^\\top ", "′": "'", "²": "^2", "³": "^3", "√": "\\sqrt ",
            "∑": "\\sum ", "≈": "\\approx "}
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def unicode_math(text: str) -> str:
    r"""Math pasted from a rendered page, as LaTeX: ``(∂ J)/(∂ c)``, ``ŷ``, ``W²``, ``Aᵀ``, ``z₁``."""
    if text.isascii():
        return text
    out = []
    for ch in unicodedata.normalize("NFD", text):
        if ch in _ACCENTS and out:
            out[-1] = f"\\{_ACCENTS[ch]}{{{out[-1]}}}"
        elif ch in _GREEK:
            out.append(f"\\{_GREEK[ch]} ")
        elif ch in _SYMBOLS:
            out.append(_SYMBOLS[ch])
        elif ch in "₀₁₂₃₄₅₆₇₈₉":
            out.append("_" + ch.translate(_SUBSCRIPTS))
        else:
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _matching(text: str, i: int) -> int:
    """Index of the bracket closing the one at ``i`` (len(text) if none)."""
    depth = 0
    for j in range(i, len(text)):
        depth += text[j] in "([{"
        depth -= text[j] in ")]}"
        if depth == 0:
            return j
    return len(text)


def code_math(text: str) -> str:
    """NumPy-style pieces of a claim as LaTeX: ``**`` as a power, ``1.`` as ``1.0``,
    ``(\\partial J)/(\\partial c)`` as a partial."""
    text = re.sub(r"(?<![\d.])(\d+)\.(?![\d\w])", r"\1.0", text)
    while "**" in text:
        i = text.index("**")
        j = i + 2
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] in "({":
            end = _matching(text, j)
            text = text[:i] + "^{" + text[j:end + 1] + "}" + text[end + 1:]
        else:
            m = re.match(r"-?[\w.]+", text[j:])
            k = j + (m.end() if m else 0)
            text = text[:i] + "^{" + text[j:k] + "}" + text[k:]
    text = re.sub(r"(?<![\w\\])(\w+(?:\^\{[^{}]*\}|_\{[^{}]*\}|_\w)?)\.T(?!\w)", r"{\1}^\\top ", text)
    for name, latex in _NP_FUNCS.items():  # np.exp(x) → \exp(x); np.sqrt(x) → \sqrt{x}
        while True:
            m = re.search(rf"(?:np|numpy)\s*\.\s*{name}\s*\(", text)
            if m is None:
                break
            end = _matching(text, m.end() - 1)
            inner = text[m.end():end]
            if name == "sqrt":
                text = text[:m.start()] + "\\sqrt{" + inner + "}" + text[end + 1:]
            elif name == "power":
                a, b = (_split_args(inner) + [""])[:2]
                text = text[:m.start()] + f"({a})^{{{b.strip()}}}" + text[end + 1:]
            elif name == "dot":
                a, b = (_split_args(inner) + [""])[:2]
                text = text[:m.start()] + f"({a}) \\cdot ({b})" + text[end + 1:]
            else:
                text = text[:m.start()] + latex + "(" + inner + ")" + text[end + 1:]
    text = re.sub(r"\(\s*\\partial\s*([^()]*?)\s*\)\s*/\s*\(\s*\\partial\s*([^()]*?)\s*\)",
                  r"\\frac{\\partial \1}{\\partial \2}", text)
    return text


_NP_FUNCS = {"sqrt": "", "dot": "", "power": "", "exp": "\\exp", "log": "\\ln", "tanh": "\\tanh"}
_NP_SUM = re.compile(r"(?:np|numpy)\s*\.\s*sum\s*\(")


class Reader:
    """Reads claims against one network: names checked, partials resolved to targets."""

    def __init__(self, truth: Truth):
        self.truth = truth
        net = truth.network
        self.network = net
        self.names = list(net.order)
        self.known = set(self.names)
        self.dims = set(net.dims)
        self.functions = dict(net.functions)
        self.batch = truth.batch_dim()
        self._elementwise = False  #: the claim being read writes NumPy powers
        #: names whose canonical spelling the parser would read otherwise (a layer index), longest first
        self._canonical = sorted((n for n in self.names if re.search(r"\^[(\[]", n)), key=len, reverse=True)

    # ---- spellings -------------------------------------------------------------
    def _prepare(self, text: str) -> str:
        text = code_math(unicode_math(text))
        for name in self._canonical:  # c^(4), the canonical spelling (a spec's key), as c^{(4)}
            text = text.replace(name, T.latex_name(name))
        text = _nabla(text, self.network.loss)

        def known_name(m: re.Match) -> str:  # w5 for w_5, when w_5 is a node and w5 is not
            name = f"{m.group(1)}_{m.group(2)}"
            return name if name in self.known and m.group() not in self.known else m.group()

        return re.sub(r"(?<![\\A-Za-z_^{])([A-Za-z]+)(\d+)(?![\d.])", known_name, text)

    def _spellings(self, tree):
        """Ng's ``dW`` (a ``d`` before a node), ``dfdx`` (∂f/∂x) and ``\\delta`` of a layer."""
        loss = self.network.loss
        loss_name = T.Name(loss, self.network.node(loss).latex or loss)

        def gradient(node: T.Name, pos: int) -> T.Partial:
            if self.batch and not self.network.node(node.canonical).is_leaf and node.canonical != loss:
                return PerExample(loss_name, node, pos=pos)
            return T.Partial(loss_name, node, pos=pos)

        def delta(n: T.Name) -> Optional[T.Partial]:
            m = re.fullmatch(r"\\delta(.*)", n.canonical)
            if m is None:
                return None
            for base in ("z", "Z", "net"):
                if base + m.group(1) in self.known:
                    return T.Partial(loss_name, T.Name(base + m.group(1), base + m.group(1)), pos=n.pos)
            return None

        def is_d(f) -> bool:
            return isinstance(f, T.Name) and f.canonical == "d" and "d" not in self.known

        def is_node(f) -> bool:
            return isinstance(f, T.Name) and f.canonical in self.known

        def product(n: T.BinOp):
            factors, left = [], n
            while isinstance(left, T.BinOp) and left.op == "*":
                factors.append(left.right)
                left = left.left
            factors.append(left)
            factors.reverse()
            out, i = [], 0
            while i < len(factors):
                f = factors[i:i + 4]
                if len(f) == 4 and is_d(f[0]) and is_node(f[1]) and is_d(f[2]) and is_node(f[3]):
                    out.append(T.Partial(f[1], f[3], pos=f[0].pos))  # dfdx: ∂f/∂x
                    i += 4
                elif len(f) >= 2 and is_d(f[0]) and is_node(f[1]):
                    out.append(gradient(f[1], f[0].pos))
                    i += 2
                else:
                    out.append(sub(f[0]))
                    i += 1
            result = out[0]
            for f in out[1:]:
                result = T.BinOp("*", result, f, pos=result.pos)
            return result

        def sub(n):
            if isinstance(n, T.BinOp) and n.op == "*":
                return product(n)
            if isinstance(n, T.Name) and n.canonical not in self.known:
                return delta(n) or n
            if isinstance(n, tuple):
                return tuple(sub(x) for x in n)
            if is_dataclass(n) and not isinstance(n, (T.Name, T.Num, T.Partial)):
                return replace(n, **{f.name: sub(getattr(n, f.name)) for f in fields(n) if f.name != "pos"})
            return n

        return sub(tree)

    def _check_names(self, tree, text: str, extra=()) -> None:
        allowed = self.known | self.dims | set(extra)
        for n in T.walk_tree(tree):
            if isinstance(n, T.Name) and n.canonical not in allowed:
                hint = _did_you_mean(n.canonical, self.names)
                raise LatexSyntaxError(f"unknown name '{n.latex or n.canonical}'{hint}; the network's names "
                                       f"are {', '.join(self.names)}", text, n.pos)

    def _parse(self, text: str, extra=()):
        tree = T.parse(text, self.known | self.dims | set(extra), allow_partial=True, functions=self.functions)
        tree = self._spellings(tree)
        self._check_names(tree, text, extra)
        if self.network.elementwise_powers or self._elementwise:
            tree = hadamard_powers(tree, {**self.network.shapes, **{k: () for k in extra}}, self.dims)
        return tree

    def _targets(self, n: T.Partial, text: str) -> list[Target]:
        try:
            targets = self.truth.alternatives(self.truth.target(n.of.canonical, n.wrt.canonical))
        except SpecError as e:
            raise LatexSyntaxError(str(e), text, n.pos) from None
        if isinstance(n, PerExample):
            return [replace(t, scale=self.batch) for t in targets]
        return targets

    # ---- the two sides ---------------------------------------------------------
    def targets(self, claim: Claim) -> list[Target]:
        """The target of the left side; ``[local, total]`` when ``∂y/∂x`` can mean either."""
        text = self._prepare(claim.lhs)
        self._elementwise = False
        try:
            tree = self._parse(text)
            if isinstance(tree, T.Partial):
                return self._targets(tree, text)
            if isinstance(tree, T.Name):
                return [Target(tree.canonical, None, "value")]
            loss = self.network.loss
            raise LatexSyntaxError(
                f"the left side must be a gradient such as \\frac{{\\partial {loss}}}{{\\partial "
                f"{self.names[0]}}}, a derivative of a node, or a node name", text, 0)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, claim.lhs_col if text == claim.lhs else -1) from None

    def lower(self, claim: Claim) -> Lowered:
        """The right side in the IR; a ShapeError when its products do not conform.

        A ``*`` is read as the elementwise product first (NumPy's), and as a product
        when that does not conform."""
        text = self._prepare(claim.rhs)
        col = claim.rhs_col if text == claim.rhs else -1
        self._elementwise = "**" in claim.rhs or "power" in claim.rhs  # NumPy's powers are elementwise
        try:
            if "*" in text:
                try:
                    return self._lower(text.replace("*", "\\odot "))
                except ShapeError:
                    pass
            return self._lower(text)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, col) from None

    def _lower(self, text: str, prefix: str = "") -> Lowered:
        text, sums = self._np_sums(text, prefix)
        text, literals = _literals(text, prefix)
        extra = set(literals) | set(sums)
        tree = self._parse(text, extra)
        tree, numbers = _number_placeholders(tree)
        shapes = dict(self.network.shapes)
        shapes.update({k: () for k in numbers})
        shapes.update({k: m.value.shape for k, m in literals.items()})
        shapes.update({k: low.expr.shape for k, low in sums.items()})
        partials: dict[str, list[Target]] = {}
        for low in sums.values():
            partials.update(low.partials)
            numbers.update(low.numbers)
            literals.update(low.literals)

        def partial(n: T.Partial) -> ir.Expr:
            targets = self._targets(n, text)
            key = targets[0].label  # named as written, for messages about its shape
            partials.setdefault(key, targets)
            return ir.Var(key, tuple(self.network.node(n.wrt.canonical).shape))

        expr = lower(tree, shapes, loss=self.network.loss, dims=self.dims, text=text,
                     partial=partial, derivative=derivative)
        if sums:  # np.sum(…) placeholders by what they stand for
            expr = ir.replace(expr, lambda e: sums[e.name].expr if isinstance(e, ir.Var) and e.name in sums
                              else None)
        names = {n.canonical for n in T.walk_tree(tree) if isinstance(n, T.Name) and n.canonical in self.known}
        for low in sums.values():
            names |= low.names
        single, sign = _single_number(tree, numbers)
        return Lowered(expr, partials, dict(numbers), literals, single, sign, names)

    def _np_sums(self, text: str, prefix: str) -> tuple[str, dict]:
        """``np.sum(A, axis=1, keepdims=True)``: each lowered on its own, a placeholder in the text."""
        sums: dict[str, Lowered] = {}
        while True:
            m = _NP_SUM.search(text)
            if m is None:
                return text, sums
            end = _matching(text, m.end() - 1)
            args = _split_args(text[m.end():end])
            axis, keep = None, False
            for a in args[1:]:
                k, _, v = a.partition("=")
                k, v = k.strip(), v.strip()
                if k == "axis" and re.fullmatch(r"-?\d", v):
                    axis = int(v)
                elif k == "keepdims":
                    keep = v == "True"
                else:
                    raise LatexSyntaxError(f"np.sum: unknown argument '{a.strip()}'", text, m.start())
            key = T.canonical_name(f"\\Xi_{{{prefix}s{len(sums)}}}")
            inner = self._lower(args[0], prefix=f"{prefix}s{len(sums)}")
            x = inner.expr
            if axis is not None and not -len(x.shape) <= axis < max(len(x.shape), 1):
                raise LatexSyntaxError(f"np.sum: axis {axis} of a {len(x.shape)}-d array", text, m.start())
            inner.expr = ir.reduce_sum(x, None if axis is None else (axis,), keepdims=keep)
            sums[key] = inner
            text = text[:m.start()] + f"\\Xi_{{{prefix}s{len(sums) - 1}}}".ljust(end + 1 - m.start()) + text[end + 1:]

    def transposed(self, claim: Claim):
        """The claim with one name transposed, for each name whose transpose makes it conform."""
        text = self._prepare(claim.rhs)
        names = {n for n in self.known if self.network.node(n).shape and len(self.network.node(n).shape) == 2}
        tree = self._parse(text.replace("*", "\\odot "))
        seen = set()
        for n in T.walk_tree(tree):
            if isinstance(n, T.Name) and n.canonical in names and n.pos >= 0 and n.pos not in seen:
                seen.add(n.pos)
                start = n.pos
                stop = start + len(n.latex)
                variant = text[:start] + "{" + text[start:stop] + "}^\\top " + text[stop:]
                try:
                    yield n.latex, self._lower(variant.replace("*", "\\odot "))
                except (LatexSyntaxError, ShapeError):
                    continue


def _split_args(text: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if c == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _did_you_mean(name: str, names) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _number_placeholders(tree):
    """Decimals become named placeholders (their precision is kept); integers stay exact."""
    numbers: dict[str, Written] = {}

    def sub(node):
        if isinstance(node, T.Num) and not node.value.isdigit():
            key = node.value  # the same number written twice is one placeholder
            numbers[key] = Written.read(node.value)
            return T.Name(key, node.value, pos=node.pos)
        if isinstance(node, tuple):
            return tuple(sub(x) for x in node)
        if is_dataclass(node) and not isinstance(node, (T.Name, T.Num)):
            return replace(node, **{f.name: sub(getattr(node, f.name)) for f in fields(node) if f.name != "pos"})
        return node

    return sub(tree), numbers


def _single_number(tree, numbers) -> tuple[Optional[Written], int]:
    sign = 1
    while isinstance(tree, T.Neg):
        sign, tree = -sign, tree.x
    if isinstance(tree, T.Name) and tree.canonical in numbers:
        return numbers[tree.canonical], sign
    if isinstance(tree, T.Num):
        return Written.read(tree.value), sign
    return None, sign


def _literals(text: str, prefix: str = "") -> tuple[str, dict]:
    """Numeric matrices replaced by placeholder names of the same width (columns kept)."""
    literals: dict[str, Literal] = {}

    def entry(s: str, where: int) -> Written:
        s = s.strip().replace("−", "-")
        sign = -1.0 if s.startswith("-") else 1.0
        body = s.lstrip("+-").strip()
        if not _NUMBER.fullmatch(body) or not body:
            raise LatexSyntaxError(f"an entry of a numeric matrix must be a number, not '{s}'", text, where)
        w = Written.read(body)
        return Written(s, sign * w.value, w.half_ulp, w.decimals)

    def grid(rows: list[list[str]], where: int) -> Literal:
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise LatexSyntaxError("the rows of a numeric matrix must have the same length", text, where)
        ws = [[entry(c, where) for c in r] for r in rows]
        return Literal(np.array([[w.value for w in r] for r in ws]),
                       np.array([[w.half_ulp for w in r] for r in ws]),
                       max(w.decimals for r in ws for w in r))

    def placeholder(m: re.Match, lit: Literal) -> str:
        key = f"\\Xi_{{{prefix}m{len(literals)}}}"  # a name the parser reads; no network uses \Xi
        literals[T.canonical_name(key)] = lit
        return key.ljust(len(m.group()))

    def env(m: re.Match) -> str:
        body = m.group(2).strip().rstrip("\\").strip()
        rows = [r for r in re.split(r"\\\\", body)]
        return placeholder(m, grid([r.split("&") for r in rows if r.strip()], m.start()))

    def nested(m: re.Match) -> str:
        rows = re.findall(r"\[([^\[\]]*)\]", m.group()[1:-1])
        return placeholder(m, grid([r.split(",") for r in rows], m.start()))

    def flat(m: re.Match) -> str:
        return placeholder(m, grid([m.group()[1:-1].split(",")], m.start()))

    text = _MATRIX_ENV.sub(env, text)
    text = _NESTED.sub(nested, text)
    text = _FLAT.sub(flat, text)
    return text, literals
