r"""Reading a claim against one network: its target, and its right side in the IR.

The left side names the target: the loss's gradient in any of the spellings
textbooks use (``\frac{\partial L}{\partial w_1}``, ``\partial L/\partial w_1``,
``dL/dw_1``, ``\nabla_{W} L``, Ng's ``dW^{[1]}`` and ``db``, Nielsen's
``\delta^{[2]}`` for :math:`\partial L/\partial z^{[2]}`), a derivative of a node
by an ancestor (``\frac{\partial y}{\partial x}``), or a node (``z_1``).

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
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Optional

import numpy as np

from symbackprop import ir
from symbackprop.backprop import derivative
from symbackprop.errors import LatexSyntaxError, SpecError
from symbackprop.reader import latex as T
from symbackprop.reader.lower import lower
from symbackprop.verification.claims import Claim
from symbackprop.verification.truth import Target, Truth

_NUMBER = re.compile(r"(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?")
_NABLA = re.compile(r"\\nabla\s*_\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\\?[A-Za-z])\s*")
_MATRIX_ENV = re.compile(r"\\begin\{([bpvV]?matrix)\}(.*?)\\end\{\1\}", re.S)
_NESTED = re.compile(r"\[\s*\[[^\[\]]*\](?:\s*,\s*\[[^\[\]]*\])*\s*\]")


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


class Reader:
    """Reads claims against one network: names checked, partials resolved to targets."""

    def __init__(self, truth: Truth):
        self.truth = truth
        net = truth.network
        self.network = net
        self.names = list(net.order)
        self.known = set(self.names)
        self.dims = set(net.dims)

    # ---- spellings -------------------------------------------------------------
    def _spellings(self, tree):
        """Ng's ``dW`` (a ``d`` before a node) and ``\\delta`` of a layer as gradients of the loss."""
        loss = self.network.loss
        loss_name = T.Name(loss, self.network.node(loss).latex or loss)

        def gradient(node: T.Name, pos: int) -> T.Partial:
            return T.Partial(loss_name, node, pos=pos)

        def delta(n: T.Name) -> Optional[T.Partial]:
            m = re.fullmatch(r"\\delta(.*)", n.canonical)
            if m is None:
                return None
            for base in ("z", "Z"):
                if base + m.group(1) in self.known:
                    return gradient(T.Name(base + m.group(1), base + m.group(1)), n.pos)
            return None

        def product(n: T.BinOp):
            factors, left = [], n
            while isinstance(left, T.BinOp) and left.op == "*":
                factors.append(left.right)
                left = left.left
            factors.append(left)
            factors.reverse()
            out, i = [], 0
            while i < len(factors):
                f = factors[i]
                nxt = factors[i + 1] if i + 1 < len(factors) else None
                if (isinstance(f, T.Name) and f.canonical == "d" and "d" not in self.known
                        and isinstance(nxt, T.Name) and nxt.canonical in self.known):
                    out.append(gradient(nxt, f.pos))
                    i += 2
                    continue
                out.append(sub(f))
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
        tree = T.parse(text, self.known | self.dims | set(extra), allow_partial=True)
        tree = self._spellings(tree)
        self._check_names(tree, text, extra)
        return tree

    def _targets(self, of: str, wrt: str, text: str, pos: int) -> list[Target]:
        try:
            return self.truth.alternatives(self.truth.target(of, wrt))
        except SpecError as e:
            raise LatexSyntaxError(str(e), text, pos) from None

    # ---- the two sides ---------------------------------------------------------
    def targets(self, claim: Claim) -> list[Target]:
        """The target of the left side; ``[local, total]`` when ``∂y/∂x`` can mean either."""
        text = _nabla(claim.lhs, self.network.loss)
        try:
            tree = self._parse(text)
            if isinstance(tree, T.Partial):
                return self._targets(tree.of.canonical, tree.wrt.canonical, text, tree.pos)
            if isinstance(tree, T.Name):
                return [Target(tree.canonical, None, "value")]
            loss = self.network.loss
            raise LatexSyntaxError(
                f"the left side must be a gradient such as \\frac{{\\partial {loss}}}{{\\partial "
                f"{self.names[0]}}}, a derivative of a node, or a node name", text, 0)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, claim.lhs_col if text == claim.lhs else -1) from None

    def lower(self, claim: Claim) -> Lowered:
        """The right side in the IR; a ShapeError when its products do not conform."""
        text = _nabla(claim.rhs, self.network.loss)
        col = claim.rhs_col if text == claim.rhs else -1
        try:
            text, literals = _literals(text)
            tree = self._parse(text, literals)
            tree, numbers = _number_placeholders(tree)
            shapes = dict(self.network.shapes)
            shapes.update({k: () for k in numbers})
            shapes.update({k: m.value.shape for k, m in literals.items()})
            partials: dict[str, list[Target]] = {}
            keys: dict[tuple, str] = {}

            def partial(n: T.Partial) -> ir.Expr:
                key = (n.of.canonical, n.wrt.canonical)
                if key not in keys:  # named as written, for messages about its shape
                    keys[key] = f"∂{key[0]}/∂{key[1]}"
                    partials[keys[key]] = self._targets(*key, text, n.pos)
                if n.wrt.canonical not in shapes:
                    raise LatexSyntaxError(f"unknown node '{n.wrt.canonical}'", text, n.pos)
                return ir.Var(keys[key], tuple(self.network.node(n.wrt.canonical).shape))

            expr = lower(tree, shapes, loss=self.network.loss, dims=self.dims, text=text,
                         partial=partial, derivative=derivative)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, col) from None
        names = {n.canonical for n in T.walk_tree(tree) if isinstance(n, T.Name) and n.canonical in self.known}
        single, sign = _single_number(tree, numbers)
        return Lowered(expr, partials, {k: w for k, w in numbers.items()}, literals, single, sign, names)


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


def _literals(text: str) -> tuple[str, dict]:
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
        key = f"\\Xi_{{{len(literals)}}}"  # a name the parser reads; no network uses \Xi
        literals[T.canonical_name(key)] = lit
        return key.ljust(len(m.group()))

    def env(m: re.Match) -> str:
        body = m.group(2).strip().rstrip("\\").strip()
        rows = [r for r in re.split(r"\\\\", body)]
        return placeholder(m, grid([r.split("&") for r in rows if r.strip()], m.start()))

    def nested(m: re.Match) -> str:
        rows = re.findall(r"\[([^\[\]]*)\]", m.group()[1:-1])
        return placeholder(m, grid([r.split(",") for r in rows], m.start()))

    text = _MATRIX_ENV.sub(env, text)
    text = _NESTED.sub(nested, text)
    return text, literals
