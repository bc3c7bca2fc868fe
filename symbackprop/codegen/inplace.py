r"""In-place NumPy code: each operation writes into a work array chosen by liveness, and a large
batch goes in blocks of rows."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import count
from typing import Optional

from symbackprop import ir as O
from symbackprop.codegen.printer import GradientPrinter, Namespace
from symbackprop.codegen.program import STATEMENT_HEADINGS, GradientProgram, Statement, with_children
from symbackprop.printing.ir import to_text

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


def _instructions(program: GradientProgram, names: Namespace,
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
            return with_children(e, [operand(e.x)])
        if not e.shape and all(not c.shape for c in e.children):
            return with_children(e, [operand(c) for c in e.children])  # scalar arithmetic
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
            expr = with_children(e, [operand(c) for c in e.children])
        out.append(_Instruction(target, expr, output))

    def scalar(e: O.Expr) -> O.Expr:
        return with_children(e, [operand(c) if c.shape else scalar(c) for c in e.children])

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


def statement_note(program: GradientProgram, s: Statement) -> str:
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
            for c in ins.expr.children:  # the operand itself, not a view of it, and its array
                # has the target's shape (a broadcast view is held in a smaller array)
                if c in dying and shapes[holder[key(c)]] == tuple(ins.target.shape) \
                        and not _held_elsewhere(holder[key(c)], holder, last_use, i):
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


def inplace_body(program: GradientProgram, printer: GradientPrinter, names: Namespace,
                  identifiers: dict, sized: dict) -> tuple[list[str], list[tuple]]:
    """The statements as in-place instructions; ``sized`` names the sizes of work arrays
    (dimension -> identifier: the batch dimension is the block's rows when in blocks)."""
    code = _instructions(program, names, identifiers)
    instructions = [ins for _, block in code for ins in block]
    shapes = _allocate(instructions, printer)
    buffers = [names.add(f"w{i}") for i in range(len(shapes))]
    lines = []
    if shapes:
        dims = [sized[x] for x in work_dims(program, shapes)]
        key = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        lines += [f"    work = _WORK.pop({key}, None) or _work_arrays({', '.join(dims)})",
                  f"    {', '.join(buffers)}{',' if len(buffers) == 1 else ''} = work"]
    current = None
    for s, block in code:
        if s.kind in STATEMENT_HEADINGS and s.kind != current:
            current = s.kind
            lines.append(STATEMENT_HEADINGS[s.kind])
        lines.append(f"    # {statement_note(program, s)}")
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


def work_dims(program: GradientProgram, shapes: list[tuple]) -> list[str]:
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


def batch_dimension(program: GradientProgram) -> Optional[str]:
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


def _is_batch(program: GradientProgram, b: str) -> bool:
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


def blocks_driver(program: GradientProgram, ident: dict, work: list[tuple], b: str,
                   function: str, parameters: list[str], names: Namespace, rows: str) -> list[str]:
    """``loss_and_grad``'s body when a large batch goes through ``function`` in blocks of rows."""
    dim = program.dim_identifiers
    widths = sorted({" * ".join(str(x) if isinstance(x, int) else dim[x] for x in s[1:]) or "1"
                     for s in work if tuple(s[:1]) == (b,)})
    widest = widths[0] if len(widths) == 1 else f"max({', '.join(widths)})"
    rows_of = {ident[a] for a in program.arguments if tuple(program.shapes[a][:1]) == (b,)}
    m, loss = dim[b], ident[program.loss]

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

