"""Compile a Derivation to straight-line NumPy (or JAX) code.

The code is the worked solution, executed: one statement per forward node, then
one statement per adjoint in the derivation's backward order, each printed from
the *same* SymPy expression the solution shows (``d_z_2 = d_a_2*a_2*(1 - a_2)``:
σ' from the stored activation, never σ recomputed). Common subexpressions are
computed once; nothing of SymPy is needed at run time.

>>> from symbackprop.reader.forward import network_from_latex
>>> from symbackprop.backprop import backprop
>>> net = network_from_latex(r'''
... z = w x
... a = \\sigma(z)
... L = (a - y)^2''', params=["w"])
>>> f = backprop(net).compile()
>>> loss, grads = f(w=0.5, x=2.0, y=1.0)
>>> round(float(grads["w"]), 6)
-0.211508

Every argument may be an array: all of them broadcast together, so one call
evaluates many points, and the loss and each gradient come back with the
broadcast shape.

Arguments are the spec's canonical names. A name that is not a Python
identifier gets one (``w_1,2`` → ``w_1_2``, ``\\hat{y}`` → ``y_hat``, ``\\lambda``
→ ``lambda_``; the module's ``IDENTIFIERS`` lists them all), and
``loss_and_grad(**arrays)`` then accepts either spelling as a keyword:
``loss_and_grad(**{"w_1,2": w})`` or ``loss_and_grad(w_1_2=w)``. The returned
gradients are keyed by canonical name, in the order of ``PARAMS``.

Stability: the code computes the derivation's own stable forms
(:mod:`symbackprop.stable`): σ and softplus with no overflow, ``log σ(z)``,
``log(1 − σ(z))`` (also as ``log a`` of a node ``a = σ(z)``, from ``z``) and
``log(1 + e^z)`` as softplus terms, ``log softmax`` row by row, and a chain
``∂L/∂a · σ'(z)`` whose ``∂L/∂a`` divides by ``a`` or ``1 − a`` (binary
cross-entropy on a stored sigmoid) multiplied out, ``(1 − y)·a − y·σ(−z)``: the
loss and the gradient are finite wherever they are ordinary numbers, at
``z = ±1000`` too. NumPy code runs under ``np.errstate(under="ignore")``: a value
below the smallest normal double rounds to 0 (``e^(-800)``) without a warning or,
under ``np.seterr(all="raise")``, an error; overflow and invalid operations are not
hidden. σ' stays ``a*(1 - a)`` from the stored activation, exact to 4.4e-16
absolute (``σ'(40)`` is 0 there, not 4.2e-18, where the derivation's number is exact).

Printing goes through :class:`~symbackprop.codegen.printer.GradientPrinter`, a
subclass of SymPy's ``NumPyPrinter`` that prints the IR (``_print_ir_<Class>``, as
expressions or as calls writing into an array, ``out=``). The statements come from
:mod:`symbackprop.codegen.program`, the work arrays of a matrix network from
:mod:`symbackprop.codegen.inplace`; :func:`module_source` prints the module and
:meth:`~symbackprop.derivation.Derivation.compile` compiles it.
"""
from __future__ import annotations

import linecache
from typing import Callable, Optional

from symbackprop.codegen.inplace import (BLOCK_ENTRIES, MIN_ROWS, WORK, batch_dimension, blocks_driver,
                                         inplace_body, work_dims)
from symbackprop.codegen.printer import (RESERVED, GradientPrinter, Namespace, docstring_safe,
                                         helper_source, tuple_source)
from symbackprop.codegen.program import STATEMENT_HEADINGS, GradientProgram, gradient_program
from symbackprop import ir as O
from symbackprop.derivation import Derivation
from symbackprop.errors import SymbackpropError

# ---- printing: shared parts ------------------------------------------------------------
def _printer(program: GradientProgram, backend: str, names: dict | None = None,
             row_sums_by_blas: bool = False) -> GradientPrinter:
    return GradientPrinter({"backend": backend, "identifiers": names or program.identifiers,
                            "dims": program.dim_identifiers,
                            "adjoints": program.adjoints, "row_sums_by_blas": row_sums_by_blas})


def _dims_code(program: GradientProgram, printer: GradientPrinter) -> list[str]:
    """Bind the dimension names from the arguments' shapes; check every shape against them."""
    ident, dim = program.identifiers, program.dim_identifiers
    bound: set = set()
    lines, checked = [], []
    for a in program.arguments:
        shape = program.shapes[a]
        new = [x for x in shape if isinstance(x, str) and x not in bound]
        if new and len(set(new)) == len(shape):
            lines.append(f"        {', '.join(dim[x] for x in shape)}{',' if len(shape) == 1 else ''}"
                         f" = {ident[a]}.shape")
            bound.update(new)
            continue
        if new:
            targets = [dim[x] if isinstance(x, str) and x in new and x not in shape[:i] else "_"
                       for i, x in enumerate(shape)]
            lines.append(f"        {', '.join(targets)}{',' if len(shape) == 1 else ''} = {ident[a]}.shape")
            bound.update(new)
        checked.append(a)
    out = ["    try:"] + lines
    if checked:
        actual = ", ".join(f"{ident[a]}.shape" for a in checked)
        declared = ", ".join(shape_code(program.shapes[a], dim) for a in checked)
        out.append(f"        well_shaped = ({actual}{',' if len(checked) == 1 else ''}) == "
                   f"({declared}{',' if len(checked) == 1 else ''})")
    else:
        out.append("        well_shaped = True")
    out += ["    except ValueError:", "        well_shaped = False", "    if not well_shaped:",
            f"        _shape_error({', '.join(ident[a] for a in program.arguments)})"]
    return out


def shape_code(shape, ident) -> str:
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

def _expression_body(program: GradientProgram, printer: GradientPrinter) -> list[str]:
    lines, current = [], None
    for s in program.statements:
        if s.kind in STATEMENT_HEADINGS and s.kind != current:
            current = s.kind
            lines.append(STATEMENT_HEADINGS[s.kind])
        lines.append(f"    {printer.code(s.target)} = {printer.code(s.expr)}")
    return lines


# ---- the module ----------------------------------------------------------------------------
def module_source(d: Derivation, backend: str = "numpy", *, origin: Optional[str] = None,
                  inplace: Optional[bool] = None) -> str:
    """Source of a standalone module computing ``d``'s loss and gradients.

    It imports only the backend's array module (plus ``erf`` when a GELU needs
    it) and defines ``PARAMS``, ``INPUTS``, ``SHAPES``, ``IDENTIFIERS`` and
    ``loss_and_grad(**arrays)``. A matrix network's module takes a batch of any
    size that fits ``SHAPES``; ``inplace`` (default: for NumPy) writes into work
    arrays kept between calls. A scalar network's module takes numbers or arrays
    that broadcast together.
    """
    program = gradient_program(d)
    if d.is_scalar:
        return _scalar_module(program, backend, origin)
    inplace = backend == "numpy" if inplace is None else inplace
    printer = _printer(program, backend, row_sums_by_blas=inplace)
    be = printer.backend
    if inplace and be.name != "numpy":
        raise SymbackpropError(f"in-place code is for NumPy; {be.name} arrays are immutable")
    ident = program.identifiers
    names = Namespace(set(ident.values()) | set(program.dim_identifiers.values())
                      | set(program.adjoints.values()) | RESERVED)
    batch = batch_dimension(program) if inplace else None
    sized = dict(program.dim_identifiers)
    if batch is not None:
        sized[batch] = names.add("rows")
    if inplace:
        body, work = inplace_body(program, printer, names, ident, sized)
    else:
        body, work = _expression_body(program, printer), []
    if batch is not None and not any(tuple(w[:1]) == (batch,) for w in work):
        batch = None  # nothing of the batch's size is stored: no blocks
        sized = dict(program.dim_identifiers)
        names = Namespace(set(ident.values()) | set(program.dim_identifiers.values())
                      | set(program.adjoints.values()) | RESERVED)
        body, work = inplace_body(program, printer, names, ident, sized)

    arguments = program.arguments
    needs_mapping = any(ident[a] != a for a in arguments)
    helpers = sorted(printer.helpers - {"erf"})
    if needs_mapping:
        helpers.append("_by_identifier")

    out = [_docstring(program, be, origin, needs_mapping, inplace, batch, "erf" in printer.helpers), ""]
    out += _constants(program, printer, "declared shape of every argument (dimension names are "
                      "bound by the arrays)")
    if helpers:
        out += ["", "", helper_source(helpers, be.name)]
    out += ["", "", SHAPE_ERROR.format(np=be.alias).strip("\n")]
    if work:
        dims = work_dims(program, work)
        arrays = ", ".join(f"{be.alias}.empty({shape_code(s, sized)})" for s in work)
        out += ["", "", WORK.format(dims=", ".join(sized[x] for x in dims), arrays=arrays).strip("\n")]
    out += ["", ""]

    signature = _signature(program, " for one batch; each gradient has its parameter's shape")
    out += signature[:2]
    dtype = f", dtype={be.alias}.float64" if be.name == "numpy" else ""
    function = signature[2:] + [f"    {ident[a]} = {be.alias}.asarray({ident[a]}{dtype})"
                                for a in arguments]
    function += _dims_code(program, printer)
    grads = ", ".join(f"{p!r}: {printer.code(g) if g is not None else f'{be.alias}.zeros_like({ident[p]})'}"
                      for p, g in program.gradients.items())
    result = f"    return {ident[program.loss]}, {{{grads}}}"
    if batch is None:
        out += underflow_to_zero(function + body + [result], be)
        return "\n".join(out) + "\n"

    # the statements go into a function of some rows of the batch, called per block
    parameters = [ident[a] for a in arguments] + [program.dim_identifiers[x] for x in program.dims]
    function += blocks_driver(program, ident, work, batch, "_loss_and_grad_of_rows", parameters,
                              names, sized[batch])
    out += underflow_to_zero(function, be)
    first_rows = next(a for a in arguments if tuple(program.shapes[a][:1]) == (batch,))
    out += ["", "", f"def _loss_and_grad_of_rows({', '.join(parameters)}):",
            f'    """The sums over some rows of a batch of {program.dim_identifiers[batch]} rows that make up the loss and '
            'the gradients."""',
            f"    {sized[batch]} = {ident[first_rows]}.shape[0]"]
    out += body + [result]
    return "\n".join(out) + "\n"


def _scalar_module(program: GradientProgram, backend: str, origin: Optional[str]) -> str:
    """Every argument a number or an array; all broadcast together, and so do the results."""
    printer = _printer(program, backend)
    be = printer.backend
    ident = program.identifiers
    body = _expression_body(program, printer)
    arguments = program.arguments
    needs_mapping = any(ident[a] != a for a in arguments)
    helpers = sorted((printer.helpers - {"erf"}) | {"_expand"})  # for outputs some arguments miss
    if needs_mapping:
        helpers.append("_by_identifier")
    text = [f"{program.title or 'A symbackprop network'}: loss and gradients.", "",
            ("Generated by symbackprop" + (f" from {origin}" if origin else "")
             + (f"; needs {be.module} and {be.erf}.erf." if "erf" in printer.helpers
                else f"; needs only {be.module}.")), "", *program.formulas, "",
            "Every argument is a number or an array; all broadcast together, so one call",
            "evaluates many points, and the loss and each gradient have the broadcast shape."]
    if needs_mapping:
        text += ["", "Some names are not Python identifiers: pass them by canonical name,",
                 "loss_and_grad(**{'w_1,2': ...}), or by the identifier in IDENTIFIERS."]
    out = ['"""' + docstring_safe("\n".join(text)) + '\n"""', ""]
    out += _constants(program, printer, "every argument is a number (or an array of numbers, "
                      "broadcast together)")
    out += ["", "", helper_source(helpers, be.name), "", ""]
    signature = _signature(program, "; every value broadcasts over the arguments")
    out += signature[:2]
    # NumPy numbers, not Python floats: an overflow is inf with NumPy's warning, not an OverflowError
    floats = [f"    {ident[a]} = {be.alias}.asarray({ident[a]}, dtype=float)[()]" for a in arguments] \
        if be.name == "numpy" else []
    function = signature[2:] + floats + body
    # an output that not every argument enters gets the broadcast shape of them all
    uses = _arguments_used(program)
    outputs = {program.loss: O.Var(program.loss, ())} | program.gradients
    partial = {k for k, e in outputs.items() if e is None or uses[_key(e)] != set(arguments)}
    if partial:
        shapes = ", ".join(f"{be.alias}.shape({ident[a]})" for a in arguments)
        function.append(f"    _shape = {be.alias}.broadcast_shapes({shapes})")

    def output(k, e) -> str:
        text = printer.code(e) if e is not None else "0.0"
        return f"_expand({text}, _shape)" if k in partial else text

    grads = ", ".join(f"{p!r}: {output(p, g)}" for p, g in program.gradients.items())
    function.append(f"    return {output(program.loss, outputs[program.loss])}, {{{grads}}}")
    return "\n".join(out + underflow_to_zero(function, be)) + "\n"


def underflow_to_zero(lines: list[str], be) -> list[str]:
    """A function's body, for NumPy under ``errstate(under="ignore")``: a result below the
    smallest normal double (~2e-308: ``e^(-800)``, a product of two tiny gradients) rounds to 0
    or a subnormal, as IEEE arithmetic does, without a warning or, under
    ``np.seterr(all="raise")``, an error. Overflow and invalid operations are not hidden."""
    if be.name != "numpy":
        return lines
    return ([f'    with {be.alias}.errstate(under="ignore"):  # a value below ~1e-308 rounds to 0']
            + [f"    {line}" if line.strip() else line for line in lines])


def _constants(program: GradientProgram, printer: GradientPrinter, shapes_are: str) -> list[str]:
    """The module's imports, ``PARAMS``, ``INPUTS``, ``SHAPES`` and ``IDENTIFIERS``."""
    be, ident, arguments = printer.backend, program.identifiers, program.arguments
    lines = [f"import {be.module} as {be.alias}"]
    if "erf" in printer.helpers:
        lines.append(f"from {be.erf} import erf  # NumPy has no erf (GELU)")
    lines += ["", f"PARAMS = {tuple_source(program.params)}", f"INPUTS = {tuple_source(program.inputs)}",
              f"#: {shapes_are}",
              "SHAPES = {" + ", ".join(f"{a!r}: {tuple(program.shapes[a])!r}" for a in arguments) + "}",
              "#: canonical name -> Python identifier of every argument",
              "IDENTIFIERS = {" + ", ".join(f"{a!r}: {ident[a]!r}" for a in arguments) + "}"]
    return lines


def _signature(program: GradientProgram, says: str) -> list[str]:
    """``def loss_and_grad(…):``, its docstring, and the arguments taken by canonical name too."""
    ident, arguments = program.identifiers, program.arguments
    mapping = any(ident[a] != a for a in arguments)
    loss = docstring_safe(program.loss)
    lines = ["def loss_and_grad(**arrays):" if mapping else
             "def loss_and_grad(*, " + ", ".join(ident[a] for a in arguments) + "):",
             f'    """Return ``({loss}, {{param: ∂{loss}/∂param}})``{says}."""']
    if mapping:
        lines.append("    arrays = _by_identifier(arrays)")
        lines += [f"    {ident[a]} = arrays[{ident[a]!r}]" for a in arguments]
    return lines


def _key(e) -> tuple:
    return (type(e).__name__, e.name)


def _arguments_used(program: GradientProgram) -> dict:
    """Each statement's target -> the arguments its value depends on."""
    uses: dict = {("Var", a): {a} for a in program.arguments}
    for s in program.statements:
        uses[_key(s.target)] = set().union(*(uses.get(_key(n), set()) for n in O.walk(s.expr)
                                             if isinstance(n, (O.Var, O.Adj))))
    return uses


def compile_derivation(d: Derivation, backend: str = "numpy") -> Callable:
    """``loss_and_grad(**arrays) -> (loss, {param: gradient})`` for ``d``, as a Python function.

    The function's ``source`` attribute holds the module it was compiled from.
    """
    source = module_source(d, backend)
    title = "".join(c for c in (d.network.title or "network") if c.isprintable())[:60] or "network"
    filename = f"<symbackprop: {title}>"  # a code object's name: printable, no NUL
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": "symbackprop_compiled"}
    exec(compile(source, filename, "exec"), namespace)  # our own generated code, not user text
    fn = namespace["loss_and_grad"]
    fn.source = source
    fn.params = namespace["PARAMS"]
    fn.inputs = namespace["INPUTS"]
    return fn


def _docstring(program: GradientProgram, be, origin: Optional[str], mapping: bool, inplace: bool,
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
    return '"""' + docstring_safe("\n".join(text)) + '\n"""'
