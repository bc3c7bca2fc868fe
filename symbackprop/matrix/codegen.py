r"""Compile a matrix Derivation to NumPy (or JAX) code: the batched formulas, executed.

The program is the worked solution's: one statement per forward node, then one
per adjoint in the derivation's backward order, each the step's own VJP
expression (``dW_2 = A_1.T @ dZ_2``, ``db_2 = dZ_2.sum(axis=0)``), with

* σ' from the stored activation (``A_2*(1 - A_2)``, never σ recomputed), from
  the rule registry's textbook form (:func:`~.rules.textbook_prime`);
* biases by broadcasting (``X @ W_1 + b_1``) and bias gradients as row sums;
* each common subexpression computed once (``A_2 - Y`` of the loss and of
  ``∂L/∂A_2``), and only what the gradients need (∂L/∂X is not computed);
* numerically stable forms where the solution's would overflow: ``ln σ(Z)`` and
  ``ln(1 − σ(Z))`` as softplus terms, ``ln softmax(Z)`` row by row, and the
  fused rules (sigmoid + binary cross-entropy: ``(A − Y)/m``). Softmax with
  cross-entropy uses the form exact for every ``Y``, ``(P ⊙ rowsum(Y) − Y)/m``,
  which is the textbook's ``(P − Y)/m`` when each row of ``Y`` sums to 1.

For NumPy the statements run in place: each operation writes into a work array
(``np.multiply(dA_2, A_2, out=w1)``), chosen by liveness so that a value's array
is reused once it is dead, and the work arrays are kept per input size inside
the module, so a call with the same sizes allocates only its gradients. When the
loss is a sum over the rows of the batch (a mean over the samples) a large batch
goes through the statements in blocks of rows, whose work arrays stay in cache,
and the blocks' losses and gradients are added (:func:`batch_dimension`). For
JAX the same statements are printed as expressions (``jax.jit`` fuses them).

>>> from symbackprop import load_spec
>>> from symbackprop.matrix import backprop
>>> spec = load_spec("derivations/seed_matrix.toml")
>>> f = backprop(spec.network).compile()
>>> loss, grads = f(**spec.values)
>>> grads["b_1"].shape, round(float(loss), 6)
((4,), 0.275587)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from itertools import count
from typing import Optional

import sympy as sp

from ..codegen import (RESERVED, GradientPrinter, _Namespace, _safe, _tuple, helper_source,
                       python_identifier)
from ..errors import SymbackpropError
from . import ops as O
from .backprop import derive_steps
from .derivation import MatrixDerivation
from .printing import to_text
from .rules import textbook_prime
from .shapes import space_text


# ---- the program -----------------------------------------------------------------
@dataclass
class Statement:
    """``target = expr``: a forward node, an adjoint or a common subexpression."""

    target: O.Expr  #: a Var (node or temporary) or an Adj
    expr: O.Expr
    kind: str  #: "forward", "backward" or "common"
    shown: Optional[O.Expr] = None  #: the formula before common subexpressions were taken out


@dataclass
class MatrixProgram:
    """Straight-line code for a matrix derivation, ready to print."""

    title: Optional[str]
    loss: str
    params: tuple[str, ...]
    inputs: tuple[str, ...]
    shapes: dict[str, tuple]  #: argument -> declared shape
    dims: tuple[str, ...]  #: dimension names, in order of first appearance
    identifiers: dict[str, str]  #: node, temporary or dimension name -> identifier
    adjoints: dict[str, str]  #: node name -> identifier of its adjoint
    statements: list[Statement]
    gradients: dict[str, Optional[O.Adj]]  #: param -> its adjoint, None when the loss ignores it
    formulas: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> tuple[str, ...]:
        return self.params + self.inputs


def matrix_program(d: MatrixDerivation) -> MatrixProgram:
    """The statements that compute ``d``'s loss and gradients, for any arrays of its shapes."""
    net = d.network
    leaves = [n for n in net.order if net.node(n).is_leaf]
    params = tuple(net.params)
    inputs = tuple(n for n in leaves if n not in params)
    shapes = {n: net.node(n).shape for n in leaves}
    dims = tuple(dict.fromkeys(x for n in leaves for x in shapes[n] if isinstance(x, str)))

    names = _Namespace(RESERVED)
    identifiers = {x: names.add(python_identifier(x)) for x in dims}
    identifiers.update({n: names.add(python_identifier(n)) for n in net.order})

    definitions = {n: net.node(n).expr for n in net.order if not net.node(n).is_leaf}
    named = {e: net.node(n).var for n, e in definitions.items()}
    steps = derive_steps(net)  # every shortcut; one with a condition on Y in its exact form
    backward = [Statement(O.Adj(s.node, s.shape), _code_form(_adjoint(s), named), "backward")
                for s in steps]
    forward = [Statement(net.node(n).var, _constants_outside(_stable_logs(e, definitions)),
                         "forward", e) for n, e in definitions.items()]
    statements = _needed(forward, backward, net.loss, params)
    adjoints = {s.target.name: names.add("d" + identifiers[s.target.name])
                for s in statements if isinstance(s.target, O.Adj)}
    statements = _common_subexpressions(statements, names, identifiers)

    computed = {s.target.name for s in statements if isinstance(s.target, O.Adj)}
    gradients = {p: (O.Adj(p, shapes[p]) if p in computed else None) for p in params}
    program = MatrixProgram(net.title, net.loss, params, inputs, shapes, dims, identifiers,
                            adjoints, statements, gradients)
    program.formulas = _formulas(d, steps, statements)
    return program


def _adjoint(step) -> O.Expr:
    """The step's adjoint, a fused rule with a condition on the targets in its exact form."""
    total = None
    for t in step.terms:
        e = t.expr
        if t.fused is not None and t.fused.assumption == "rows_sum_to_one":
            # -c Σ Y ⊙ ln softmax(Z): ∂L/∂Z = k (P ⊙ rowsum(Y) − Y), k (P − Y) when rows sum to 1
            k, body = (e.coeff, e.x) if isinstance(e, O.Scale) else (sp.Integer(1), e)
            p, y = body.a, body.b
            e = O.scale(k, O.sub(O.hadamard(p, O.reduce_sum(y, (-1,), keepdims=True)), y))
        total = e if total is None else O.add(total, e)
    return total


def _code_form(e: O.Expr, named: dict) -> O.Expr:
    """``f'(Z)`` in the stored activation's name (``A ⊙ (1 − A)``) wherever the rules give one.

    ReLU's ``𝟙[Z > 0]`` is ``𝟙[H > 0]`` of its output ``H``, so ``Z`` need not be kept.
    """
    def stored(n: O.Expr):
        if isinstance(n, O.Prime):
            return textbook_prime(n, named)
        if isinstance(n, O.Apply) and n.func == "step" and O.Apply("relu", n.x) in named:
            return O.Apply("step", named[O.Apply("relu", n.x)])
        return None

    e = O.replace(e, lambda n: textbook_prime(n, named) if isinstance(n, O.Prime) else None)
    return O.replace(e, stored)


def _constants_outside(e: O.Expr) -> O.Expr:
    """``Y ⊙ (−s)`` as ``−(Y ⊙ s)``, bottom up, so that constants gather and cancel
    (the softplus form of binary cross-entropy loses its minus signs)."""
    if not e.children:
        return e
    kids = [_constants_outside(c) for c in e.children]
    if isinstance(e, O.Hadamard):
        (ca, a), (cb, b) = (_coefficient(k) for k in kids)
        if ca != 1 or cb != 1:
            return O.scale(ca * cb, O.hadamard(a, b))
    return O.rebuild(e, kids)


def _coefficient(e: O.Expr) -> tuple:
    return (e.coeff, e.x) if isinstance(e, O.Scale) else (sp.Integer(1), e)


def _stable_logs(e: O.Expr, definitions: dict) -> O.Expr:
    """``ln σ(z) = −softplus(−z)``, ``ln(1 − σ(z)) = −softplus(z)``, ``ln softmax(z)`` by rows.

    Also through a node (``ln A`` for ``A = σ(Z)``): each is finite where σ or
    softmax has rounded to 0 or 1.
    """
    def inner(x: O.Expr) -> O.Expr:
        return definitions.get(x.name, x) if isinstance(x, O.Var) else x

    def rewrite(n: O.Expr):
        if not (isinstance(n, O.Apply) and n.func == "log"):
            return None
        x = inner(n.x)
        if isinstance(x, O.Apply) and x.func == "sigmoid":
            return O.neg(O.Apply("softplus", O.neg(x.x)))
        if isinstance(x, O.Softmax):
            return O.LogSoftmax(x.x)
        if isinstance(n.x, O.Sub) and isinstance(n.x.a, O.Scalar) and n.x.a.value == 1:
            s = inner(n.x.b)
            if isinstance(s, O.Apply) and s.func == "sigmoid":
                return O.neg(O.Apply("softplus", s.x))
        return None

    return O.replace(e, rewrite)


def _needed(forward: list[Statement], backward: list[Statement], loss: str,
            params: tuple[str, ...]) -> list[Statement]:
    """The loss, the parameters' adjoints, and what they are computed from, in order."""
    by_adjoint = {s.target.name: s for s in backward}
    wanted = {p for p in params if p in by_adjoint}
    todo = list(wanted)
    while todo:
        for a in O.adjoints_in(by_adjoint[todo.pop()].expr):
            if a not in wanted:
                wanted.add(a)
                todo.append(a)
    backward = [s for s in backward if s.target.name in wanted]
    by_node = {s.target.name: s for s in forward}
    nodes, todo = {loss}, [loss]
    for s in backward:
        todo += sorted(O.names_in(s.expr))
    while todo:
        n = todo.pop()
        nodes.add(n)
        if n in by_node:
            todo += [u for u in sorted(O.names_in(by_node[n].expr)) if u not in nodes]
    return [s for s in forward if s.target.name in nodes] + backward


_NOT_SHARED = (O.Var, O.Adj, O.Scalar, O.Transpose, O.Broadcast)


def _common_subexpressions(statements: list[Statement], names: _Namespace,
                           identifiers: dict) -> list[Statement]:
    """Each repeated subexpression computed once, into a temporary placed before its first use.

    A statement whose whole expression is repeated later is that temporary itself.
    """
    seen, repeated = set(), set()

    def find(e: O.Expr) -> None:
        if isinstance(e, _NOT_SHARED[:3]):
            return
        if e in seen:
            if not isinstance(e, _NOT_SHARED):
                repeated.add(e)
            return
        seen.add(e)
        for c in e.children:
            find(c)

    for s in statements:
        find(s.expr)

    held: dict[O.Expr, O.Expr] = {}  # repeated expression -> the Var or Adj holding it
    out: list[Statement] = []
    temporaries = count()

    def rebuild(e: O.Expr) -> O.Expr:
        if e in held:
            return held[e]
        if not e.children:
            return e
        kids = [rebuild(c) for c in e.children]
        new = e if all(k is c for k, c in zip(kids, e.children)) else _with_children(e, kids)
        if e in repeated:
            name = names.add(f"t{next(temporaries)}")
            identifiers[name] = name
            held[e] = O.Var(name, e.shape)
            out.append(Statement(held[e], new, "common", e))
            return held[e]
        return new

    for s in statements:
        if s.expr in repeated and s.expr not in held:
            kids = [rebuild(c) for c in s.expr.children]
            held[s.expr] = s.target
            out.append(Statement(s.target, _with_children(s.expr, kids), s.kind, s.shown or s.expr))
        else:
            out.append(Statement(s.target, rebuild(s.expr), s.kind, s.shown or s.expr))
    return out


def _with_children(e: O.Expr, kids: list[O.Expr]) -> O.Expr:
    """``e`` with new operands, as it is (no tidying: the structure is already the one to print)."""
    if not kids:
        return e
    return dataclasses.replace(e, **dict(zip(e._kids, kids)))


def _formulas(d: MatrixDerivation, steps, statements: list[Statement]) -> list[str]:
    net, loss = d.network, d.loss
    computed = {s.target.name for s in statements if s.kind != "common"}
    lines = ["Forward pass:"]
    for n in net.order:
        node = net.node(n)
        if not node.is_leaf and n in computed:
            lines.append(f"    {n} = {to_text(node.expr, loss)}  ∈ {space_text(node.shape)}")
    lines += ["", f"Backward pass (∂{loss}/∂v = Σ over consumers c of the VJP of ∂{loss}/∂c):"]
    for s in steps:
        if s.node in computed:
            formula = to_text(s.textbook, loss)
            lines.append(f"    ∂{loss}/∂{s.node} = {formula}  ∈ {space_text(s.shape)}")
    if any(t.fused is not None and t.fused.assumption for s in steps for t in s.terms
           if s.node in computed):
        lines += ["", "Softmax with cross-entropy is computed as (1/m)(P ⊙ rowsum(Y) − Y), exact for",
                  "any Y and the formula above when every row of Y sums to 1."]
    return lines


# ---- printing: shared parts ------------------------------------------------------------
def _printer(program: MatrixProgram, backend: str, names: dict | None = None,
             row_sums_by_blas: bool = False) -> GradientPrinter:
    return GradientPrinter({"backend": backend, "identifiers": names or program.identifiers,
                            "adjoints": program.adjoints, "row_sums_by_blas": row_sums_by_blas})


def _dims_code(program: MatrixProgram, printer: GradientPrinter) -> list[str]:
    """Bind the dimension names from the arguments' shapes; check every shape against them."""
    ident = program.identifiers
    bound: set = set()
    lines, checked = [], []
    for a in program.arguments:
        shape = program.shapes[a]
        new = [x for x in shape if isinstance(x, str) and x not in bound]
        if new and len(set(new)) == len(shape):
            lines.append(f"        {', '.join(ident[x] for x in shape)}{',' if len(shape) == 1 else ''}"
                         f" = {ident[a]}.shape")
            bound.update(new)
            continue
        if new:
            targets = [ident[x] if isinstance(x, str) and x in new and x not in shape[:i] else "_"
                       for i, x in enumerate(shape)]
            lines.append(f"        {', '.join(targets)}{',' if len(shape) == 1 else ''} = {ident[a]}.shape")
            bound.update(new)
        checked.append(a)
    out = ["    try:"] + lines
    if checked:
        actual = ", ".join(f"{ident[a]}.shape" for a in checked)
        declared = ", ".join(_shape_code(program.shapes[a], ident) for a in checked)
        out.append(f"        well_shaped = ({actual}{',' if len(checked) == 1 else ''}) == "
                   f"({declared}{',' if len(checked) == 1 else ''})")
    else:
        out.append("        well_shaped = True")
    out += ["    except ValueError:", "        well_shaped = False", "    if not well_shaped:",
            f"        _shape_error({', '.join(ident[a] for a in program.arguments)})"]
    return out


def _shape_code(shape, ident) -> str:
    items = [str(x) if isinstance(x, int) else ident[x] for x in shape]
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


SHAPE_ERROR = '''
def _shape_error(*arrays):
    """Raise ValueError naming the first argument whose shape contradicts SHAPES."""
    sizes = {{}}
    for (name, declared), value in zip(SHAPES.items(), arrays):
        actual = {np}.shape(value)
        if len(actual) != len(declared):
            raise ValueError(f"{{name}} has shape {{actual}}; expected {{len(declared)}} "
                             f"dimensions {{declared}}")
        for dim, size in zip(declared, actual):
            if isinstance(dim, int):
                if size != dim:
                    raise ValueError(f"{{name}} has shape {{actual}}; expected {{declared}}")
            elif sizes.setdefault(dim, (size, name))[0] != size:
                raise ValueError(f"{{name}} has shape {{actual}}; expected {{declared}} with "
                                 f"{{dim}} = {{sizes[dim][0]}} (from {{sizes[dim][1]}})")
    raise ValueError("the arguments' shapes do not fit SHAPES")
'''


# ---- printing: expressions (JAX, and NumPy without work arrays) --------------------------
_HEADINGS = {"forward": "    # forward pass",
             "backward": "    # backward pass: each adjoint from its consumers' adjoints"}


def _expression_body(program: MatrixProgram, printer: GradientPrinter) -> list[str]:
    lines, current = [], None
    for s in program.statements:
        if s.kind in _HEADINGS and s.kind != current:
            current = s.kind
            lines.append(_HEADINGS[s.kind])
        lines.append(f"    {printer.code(s.target)} = {printer.code(s.expr)}")
    return lines


# ---- printing: in place, into work arrays (NumPy) -----------------------------------------
@dataclass
class _Instruction:
    target: O.Expr  #: Var or Adj the value is bound to
    expr: O.Expr  #: one operation on atoms (or a scalar expression)
    output: bool = False  #: a returned gradient: a fresh array
    buffer: Optional[int] = None  #: index of the work array it writes into


def _atomic(e: O.Expr) -> bool:
    if isinstance(e, (O.Var, O.Adj, O.Scalar)):
        return True
    return isinstance(e, (O.Transpose, O.Broadcast)) and _atomic(e.x)  # views


def _instructions(program: MatrixProgram, names: _Namespace,
                  identifiers: dict) -> list[tuple[Statement, list[_Instruction]]]:
    """Three-address code: every array operation its own instruction, temporaries named.

    Returned per statement, in order.
    """
    outputs = {g for g in program.gradients.values() if g is not None}
    temporaries = count()
    out: list[_Instruction] = []

    def operand(e: O.Expr) -> O.Expr:
        if isinstance(e, (O.Var, O.Adj, O.Scalar)):
            return e
        if isinstance(e, (O.Transpose, O.Broadcast)):
            return _with_children(e, [operand(e.x)])
        if not e.shape and all(not c.shape for c in e.children):
            return _with_children(e, [operand(c) for c in e.children])  # scalar arithmetic
        name = names.add(f"u{next(temporaries)}")
        identifiers[name] = name
        t = O.Var(name, e.shape)
        emit(t, e)
        return t

    def emit(target: O.Expr, e: O.Expr, output: bool = False) -> None:
        e = _products_of_arrays_first(e)
        if not e.shape:
            expr = scalar(e)
        elif _atomic(e):
            expr = operand(e)
        else:
            expr = _with_children(e, [operand(c) for c in e.children])
        out.append(_Instruction(target, expr, output))

    def scalar(e: O.Expr) -> O.Expr:
        return _with_children(e, [operand(c) if c.shape else scalar(c) for c in e.children])

    program_code = []
    for s in program.statements:
        start = len(out)
        emit(s.target, s.expr, s.target in outputs)
        program_code.append((s, out[start:]))
    return program_code


def _products_of_arrays_first(e: O.Expr) -> O.Expr:
    """``dA ⊙ (A ⊙ (1 − A))`` as ``(dA ⊙ A) ⊙ (1 − A)``: factors already computed go first.

    Each product can then be written over a factor that dies with it, so a chain
    needs no array beyond its operands'.
    """
    if not isinstance(e, O.Hadamard):
        return e
    factors, todo = [], [e]
    while todo:
        f = todo.pop(0)
        if isinstance(f, O.Hadamard):
            todo[:0] = [f.a, f.b]
        else:
            factors.append(f)
    if len(factors) < 3:
        return e
    ordered = [f for f in factors if _atomic(f)] + [f for f in factors if not _atomic(f)]
    acc = ordered[0]
    for f in ordered[1:]:
        acc = O.Hadamard(acc, f)
    return acc


def _note(program: MatrixProgram, s: Statement) -> str:
    lhs = s.target.name if isinstance(s.target, O.Var) else f"∂{program.loss}/∂{s.target.name}"
    return f"{lhs} = {to_text(s.shown or s.expr, program.loss)}"


def _allocate(instructions: list[_Instruction], printer: GradientPrinter) -> list[tuple]:
    """Give each array a work array by liveness; returns the work arrays' shapes.

    An elementwise operation may write over an operand that dies with it (``out=`` an
    input, the same shape); a matrix product never does (NumPy would copy).
    """
    def key(e):
        return (type(e).__name__, e.name) if isinstance(e, (O.Var, O.Adj)) else None

    last_use: dict = {}
    for i, ins in enumerate(instructions):
        for leaf in O.walk(ins.expr):
            k = key(leaf)
            if k is not None:
                last_use[k] = i
    holder: dict = {}  # value -> work array index
    shapes: list[tuple] = []
    free: list[int] = []
    for i, ins in enumerate(instructions):
        k = key(ins.target)
        if _atomic(ins.expr):  # an alias: the same array under another name
            src = key(_base(ins.expr))
            if src in holder and not ins.output:
                holder[k] = holder[src]
                last_use[src] = max(last_use.get(src, i), last_use.get(k, i))
            continue
        if ins.output or not printer.writes_into(ins.expr):
            continue
        dying = [c for c in O.walk(ins.expr)
                 if isinstance(c, (O.Var, O.Adj)) and key(c) in holder and last_use.get(key(c)) == i]
        chosen = None
        if not isinstance(ins.expr, (O.MatMul, O.Sum)):
            for c in ins.expr.children:  # the operand itself, not a view of it
                if c in dying and tuple(c.shape) == tuple(ins.target.shape):
                    chosen = holder[key(c)]
                    break
        if chosen is None:
            chosen = next((b for b in free if shapes[b] == tuple(ins.target.shape)), None)
            if chosen is not None:
                free.remove(chosen)
        if chosen is None:
            shapes.append(tuple(ins.target.shape))
            chosen = len(shapes) - 1
        ins.buffer = chosen
        holder[k] = chosen
        for c in dying:  # arrays whose value is dead are free again
            b = holder[key(c)]
            if b != chosen and b not in free and not _held_elsewhere(b, holder, last_use, i):
                free.append(b)
        if last_use.get(k, -1) <= i and chosen not in free and not ins.output:
            # computed but never read again (not expected in a dead-code-free program)
            free.append(chosen)
    return shapes


def _held_elsewhere(b: int, holder: dict, last_use: dict, i: int) -> bool:
    """Whether work array ``b`` still holds a value read after instruction ``i`` (an alias)."""
    return any(v == b and last_use.get(k, -1) > i for k, v in holder.items())


def _base(e: O.Expr) -> O.Expr:
    while isinstance(e, (O.Transpose, O.Broadcast)):
        e = e.x
    return e


def _inplace_body(program: MatrixProgram, printer: GradientPrinter, names: _Namespace,
                  identifiers: dict, sized: dict) -> tuple[list[str], list[tuple]]:
    """The statements as in-place instructions; ``sized`` names the sizes of work arrays
    (dimension -> identifier: the batch dimension is the block's rows when in blocks)."""
    code = _instructions(program, names, identifiers)
    instructions = [ins for _, block in code for ins in block]
    shapes = _allocate(instructions, printer)
    buffers = [names.add(f"w{i}") for i in range(len(shapes))]
    lines = []
    if shapes:
        dims = [sized[x] for x in _work_dims(program, shapes)]
        key = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        lines += [f"    work = _WORK.pop({key}, None) or _work_arrays({', '.join(dims)})",
                  f"    {', '.join(buffers)}{',' if len(buffers) == 1 else ''} = work"]
    current = None
    for s, block in code:
        if s.kind in _HEADINGS and s.kind != current:
            current = s.kind
            lines.append(_HEADINGS[s.kind])
        lines.append(f"    # {_note(program, s)}")
        for ins in block:
            target = printer.code(ins.target)
            if ins.buffer is not None:
                lines.append(f"    {target} = {printer.code(ins.expr, out=buffers[ins.buffer])}")
            elif ins.output and _atomic(ins.expr):
                lines.append(f"    {target} = {printer.code(ins.expr)}.copy()")
            else:
                lines.append(f"    {target} = {printer.code(ins.expr)}")
    if shapes:
        lines.append(f"    _WORK[{key}] = work")
    return lines, shapes


def _work_dims(program: MatrixProgram, shapes: list[tuple]) -> list[str]:
    used = {x for s in shapes for x in s if isinstance(x, str)}
    return [x for x in program.dims if x in used]


WORK = '''
#: work arrays by size, reused from call to call (a call takes them out while it runs)
_WORK = {{}}


def _work_arrays({dims}):
    """Work arrays for these sizes; only the last few sizes are kept."""
    while len(_WORK) >= 4:
        _WORK.pop(next(iter(_WORK)))
    return ({arrays},)
'''


# ---- a large batch in blocks of rows --------------------------------------------------------
ROWS, ROWS_T, SUM, CONST, OTHER = "rows", "rows transposed", "sum", "const", "other"
#: entries of the widest work array of a block: 64k float64 (512 KiB) stay in a core's cache
BLOCK_ENTRIES = 65536
#: fewest rows of a block (narrow layers: the per-block cost of the calls decides)
MIN_ROWS = 256


def batch_dimension(program: MatrixProgram) -> Optional[str]:
    """The dimension the computation can be split along, when the loss is a sum over its rows.

    It is the first axis of every input that has it (and of no parameter), each
    node is either computed row by row from such rows (``X W + b``, ``σ``,
    softmax), free of it, or a sum over the rows (``Aᵀ G``, ``Σ_i``, ``‖·‖²``,
    scaled, added); the loss and every gradient are such sums. Then the loss and
    gradients of a batch are the sums of those of its blocks of rows. None when
    the program is not of this form (a norm ``‖A‖``, a term without the rows, …).
    """
    for b in program.dims:
        if _is_batch(program, b):
            return b
    return None


def _is_batch(program: MatrixProgram, b: str) -> bool:
    kinds: dict = {}
    for a in program.arguments:
        shape = tuple(program.shapes[a])
        if b not in shape:
            kinds[("Var", a)] = CONST
        elif a in program.params or shape[0] != b or shape.count(b) != 1:
            return False
        else:
            kinds[("Var", a)] = ROWS
    if ROWS not in kinds.values():
        return False
    for st in program.statements:
        k = _kind(st.expr, kinds, b)
        if k in (OTHER, ROWS_T):
            return False
        kinds[(type(st.target).__name__, st.target.name)] = k
    outputs = [("Var", program.loss)] + [("Adj", g.name) for g in program.gradients.values() if g]
    return all(kinds[o] == SUM for o in outputs)


def _kind(e: O.Expr, kinds: dict, b: str) -> str:
    """How ``e`` depends on the rows of the batch dimension ``b`` (ROWS, SUM, CONST or OTHER).

    A value with ``b`` in its shape must be computed from the rows (it is a block's
    rows in the code, ``𝟏`` of the whole batch's shape would not be).
    """
    k = _kind_of_operation(e, kinds, b)
    shape = tuple(e.shape)
    if k == ROWS:
        return k if shape[:1] == (b,) and shape.count(b) == 1 else OTHER
    if k == ROWS_T:
        return k if shape[-1:] == (b,) and shape.count(b) == 1 else OTHER
    return OTHER if b in shape else k


def _kind_of_operation(e: O.Expr, kinds: dict, b: str) -> str:
    if isinstance(e, (O.Var, O.Adj)):
        return kinds.get((type(e).__name__, e.name), OTHER)
    if isinstance(e, O.Scalar):
        return CONST  # the dimension's size is the whole batch's
    ks = [_kind(c, kinds, b) for c in e.children]
    if OTHER in ks:
        return OTHER
    if all(k == CONST for k in ks):
        return CONST
    k = ks[0]
    if isinstance(e, (O.Add, O.Sub)):
        kinds_ = set(ks)
        return ROWS if kinds_ <= {ROWS, CONST} else SUM if kinds_ == {SUM} else OTHER
    if isinstance(e, (O.Hadamard, O.Div)):
        if set(ks) <= {ROWS, CONST}:
            return ROWS
        linear = ks in ([SUM, CONST], [CONST, SUM]) if isinstance(e, O.Hadamard) else ks == [SUM, CONST]
        return SUM if linear else OTHER
    if isinstance(e, O.Scale):
        return k
    if isinstance(e, O.Transpose):
        return {ROWS: ROWS_T, SUM: SUM}.get(k, OTHER)
    if isinstance(e, O.MatMul):
        return {(ROWS, CONST): ROWS, (ROWS_T, ROWS): SUM, (SUM, CONST): SUM,
                (CONST, SUM): SUM}.get(tuple(ks), OTHER)
    if isinstance(e, (O.Apply, O.Prime, O.Power, O.Softmax, O.LogSoftmax)):
        return ROWS if k == ROWS else OTHER
    if isinstance(e, O.Sum):
        if k == SUM:
            return SUM
        if k != ROWS:
            return OTHER
        return SUM if e.axes is None or 0 in e.axes else ROWS
    if isinstance(e, O.FrobSq):
        return SUM if k == ROWS else OTHER
    return OTHER  # Norm, Broadcast: not split


def _blocks_driver(program: MatrixProgram, ident: dict, work: list[tuple], b: str,
                   function: str, parameters: list[str], names: _Namespace, rows: str) -> list[str]:
    """``loss_and_grad``'s body when a large batch goes through ``function`` in blocks of rows."""
    widths = sorted({" * ".join(str(x) if isinstance(x, int) else ident[x] for x in s[1:]) or "1"
                     for s in work if tuple(s[:1]) == (b,)})
    widest = widths[0] if len(widths) == 1 else f"max({', '.join(widths)})"
    rows_of = {ident[a] for a in program.arguments if tuple(program.shapes[a][:1]) == (b,)}
    m, loss = ident[b], ident[program.loss]

    def call(part: Optional[str]) -> str:
        args = [f"{x}[{part}]" if part and x in rows_of else x for x in parameters]
        return f"{function}({', '.join(args)})"

    start, grads, param = names.add("start"), names.add("grads"), names.add("param")
    loss_k, grads_k = names.add(f"{loss}_k"), names.add(f"{grads}_k")
    return [
        f"    {rows} = max({MIN_ROWS}, {BLOCK_ENTRIES} // {widest})",
        f"    if {m} <= {rows}:",
        f"        return {call(None)}",
        "    # a large batch: blocks of rows whose work arrays stay in cache; the loss and every",
        "    # gradient are sums over the rows, so the blocks' results add up",
        f"    {loss}, {grads} = {call(f':{rows}')}",
        f"    for {start} in range({rows}, {m}, {rows}):",
        f"        {loss_k}, {grads_k} = {call(f'{start}:{start} + {rows}')}",
        f"        {loss} += {loss_k}",
        f"        for {param} in {grads}:",
        f"            {grads}[{param}] += {grads_k}[{param}]",
        f"    return {loss}, {grads}",
    ]


# ---- the module ----------------------------------------------------------------------------
def matrix_module_source(d: MatrixDerivation, backend: str = "numpy", *,
                         origin: Optional[str] = None, inplace: Optional[bool] = None) -> str:
    """Source of a standalone module computing ``d``'s loss and gradients for a batch.

    It imports only the backend's array module and defines ``PARAMS``, ``INPUTS``,
    ``SHAPES``, ``IDENTIFIERS`` and ``loss_and_grad(**arrays)``. ``inplace``
    (default: for NumPy) writes into work arrays kept between calls.
    """
    program = matrix_program(d)
    inplace = backend == "numpy" if inplace is None else inplace
    printer = _printer(program, backend, row_sums_by_blas=inplace)
    be = printer.backend
    if inplace and be.name != "numpy":
        raise SymbackpropError(f"in-place code is for NumPy; {be.name} arrays are immutable")
    ident = program.identifiers
    names = _Namespace(set(ident.values()) | set(program.adjoints.values()) | RESERVED)
    batch = batch_dimension(program) if inplace else None
    sized = dict(ident)
    if batch is not None:
        sized[batch] = names.add("rows")
    if inplace:
        body, work = _inplace_body(program, printer, names, ident, sized)
    else:
        body, work = _expression_body(program, printer), []
    if batch is not None and not any(tuple(w[:1]) == (batch,) for w in work):
        batch = None  # nothing of the batch's size is stored: no blocks
        sized = dict(ident)
        names = _Namespace(set(ident.values()) | set(program.adjoints.values()) | RESERVED)
        body, work = _inplace_body(program, printer, names, ident, sized)

    arguments = program.arguments
    needs_mapping = any(ident[a] != a for a in arguments)
    helpers = sorted(printer.helpers - {"erf"})
    if needs_mapping:
        helpers.append("_by_identifier")

    out = [_docstring(program, be, origin, needs_mapping, inplace, batch, "erf" in printer.helpers), ""]
    out.append(f"import {be.module} as {be.alias}")
    if "erf" in printer.helpers:
        out.append(f"from {be.erf} import erf  # NumPy has no erf (GELU)")
    out += ["", f"PARAMS = {_tuple(program.params)}", f"INPUTS = {_tuple(program.inputs)}"]
    out.append("#: declared shape of every argument (dimension names are bound by the arrays)")
    out.append("SHAPES = {" + ", ".join(f"{a!r}: {tuple(program.shapes[a])!r}" for a in arguments) + "}")
    out.append("#: canonical name -> Python identifier of every argument")
    out.append("IDENTIFIERS = {" + ", ".join(f"{a!r}: {ident[a]!r}" for a in arguments) + "}")
    if helpers:
        out += ["", "", helper_source(helpers, be.name)]
    out += ["", "", SHAPE_ERROR.format(np=be.alias).strip("\n")]
    if work:
        dims = _work_dims(program, work)
        arrays = ", ".join(f"{be.alias}.empty({_shape_code(s, sized)})" for s in work)
        out += ["", "", WORK.format(dims=", ".join(sized[x] for x in dims), arrays=arrays).strip("\n")]
    out += ["", ""]

    if needs_mapping:
        out.append("def loss_and_grad(**arrays):")
    else:
        out.append("def loss_and_grad(*, " + ", ".join(ident[a] for a in arguments) + "):")
    loss = _safe(program.loss)
    out.append(f'    """Return ``({loss}, {{param: ∂{loss}/∂param}})`` for one batch; each gradient has '
               'its parameter\'s shape."""')
    if needs_mapping:
        out.append("    arrays = _by_identifier(arrays)")
        out += [f"    {ident[a]} = arrays[{ident[a]!r}]" for a in arguments]
    dtype = f", dtype={be.alias}.float64" if be.name == "numpy" else ""
    out += [f"    {ident[a]} = {be.alias}.asarray({ident[a]}{dtype})" for a in arguments]
    out += _dims_code(program, printer)
    grads = ", ".join(f"{p!r}: {printer.code(g) if g is not None else f'{be.alias}.zeros_like({ident[p]})'}"
                      for p, g in program.gradients.items())
    result = f"    return {ident[program.loss]}, {{{grads}}}"
    if batch is None:
        out += body + [result]
        return "\n".join(out) + "\n"

    # the statements go into a function of some rows of the batch, called per block
    parameters = [ident[a] for a in arguments] + [ident[x] for x in program.dims]
    out += _blocks_driver(program, ident, work, batch, "_loss_and_grad_of_rows", parameters, names,
                          sized[batch])
    first_rows = next(a for a in arguments if tuple(program.shapes[a][:1]) == (batch,))
    out += ["", "", f"def _loss_and_grad_of_rows({', '.join(parameters)}):",
            f'    """The sums over some rows of a batch of {ident[batch]} rows that make up the loss and '
            'the gradients."""',
            f"    {sized[batch]} = {ident[first_rows]}.shape[0]"]
    out += body + [result]
    return "\n".join(out) + "\n"


def _docstring(program: MatrixProgram, be, origin: Optional[str], mapping: bool, inplace: bool,
               batch: Optional[str], erf: bool) -> str:
    title = program.title or "A symbackprop network in matrix form"
    made = "Generated by symbackprop" + (f" from {origin}" if origin else "")
    needs = f"{be.module} and {be.erf}.erf" if erf else f"only {be.module}"
    text = [f"{title}: loss and gradients for a batch.", "", f"{made}; needs {needs}.", ""]
    text += program.formulas
    text += ["", "Arguments are arrays of the shapes in SHAPES; the dimension names take their sizes",
             "from the arrays, so any batch and layer sizes that fit work. Each gradient has exactly",
             "its parameter's shape (a bias of shape (n,) gets a 1-D gradient)."]
    if inplace:
        text += ["", "The arithmetic is float64 and in place: work arrays are kept per size in this",
                 "module between calls (a call with new sizes allocates them once); the returned",
                 "loss and gradients are fresh arrays."]
    if batch:
        text += ["The loss and the gradients are sums over the rows of the batch, so a large batch",
                 f"goes in blocks of rows (at least {MIN_ROWS}; {BLOCK_ENTRIES} entries in the widest "
                 "work array),", "which stay in cache, and the blocks' results are added."]
    if mapping:
        text += ["", "Some names are not Python identifiers: pass them by canonical name,",
                 "loss_and_grad(**{'W_{1}': ...}), or by the identifier in IDENTIFIERS."]
    return '"""' + _safe("\n".join(text)) + '\n"""'
