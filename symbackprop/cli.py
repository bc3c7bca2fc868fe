"""The ``symbackprop`` command line.

Every user mistake is reported as one line on stderr with exit status 2. A spec
argument may be a file, ``-`` (standard input) or a bundled example's name
(``symbackprop examples`` lists them); ``-o -`` writes to standard output.

Exit status: 0 success; 1 a verdict against you (a wrong claim, a failing
gradient check); 2 bad input or usage (a broken spec, a missing file); 3 for
``verify``, a claim that cannot be read (the submitter's malformed line).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from symbackprop.derive import backprop, derive
from symbackprop.errors import SymbackpropError
from symbackprop.progress import enable as enable_progress
from symbackprop.render.latex import HEADINGS
from symbackprop.bundled import read_spec

SPEC_HELP = "TOML spec file (- for standard input, or a bundled example's name)"
FORMATS = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".json": "json",
           ".txt": "text", ".pdf": "pdf"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other input error
        self.exit(2, f"{self.prog}: error: {message}\n")


def _write(output: str | None, text: str) -> None:
    """``text`` to the file ``output``, or to standard output for ``-`` or no file."""
    if not output or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise SymbackpropError(f"cannot write {output}: {e.strerror}") from None


def _derive(args) -> int:
    spec = read_spec(args.spec)
    d = derive(spec, digits=args.digits, mode=args.mode, lang=args.lang)
    fmt = args.format
    if fmt is None and args.output and args.output != "-":
        fmt = FORMATS.get(Path(args.output).suffix.lower())
        if fmt is None:
            raise SymbackpropError(f"cannot tell the format from '{args.output}'; use --format")
    fmt = fmt or "text"
    options = {"lang": args.lang or spec.lang, "closed_forms": args.expand}
    latex = {"heading": args.heading} if args.heading else {}
    if args.heading and fmt not in ("latex", "pdf"):
        raise SymbackpropError(f"--heading is for LaTeX (--format latex or pdf), not {fmt}")
    if args.sty is not None and fmt != "latex":
        raise SymbackpropError(f"--sty is for LaTeX fragments (--format latex), not {fmt}")
    if args.sty is not None:  # the package a fragment asks for, into DIR or beside -o FILE
        from symbackprop.render.latex import write_sty

        write_sty(args.sty or (Path(args.output).parent if args.output else Path(".")))
    if fmt == "pdf":
        from symbackprop.render.pdf import write_pdf

        if not args.output:
            raise SymbackpropError("--format pdf needs -o FILE.pdf (or -o - for standard output)")
        if args.output == "-":
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "solution.pdf"
                write_pdf(d, out, **options, **latex)
                sys.stdout.buffer.write(out.read_bytes())
            return 0
        write_pdf(d, Path(args.output), **options, **latex)
        return 0
    if fmt == "json":
        text = json.dumps(d.to_json(**options), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "latex":
        standalone = args.standalone if args.standalone is not None else bool(args.output and args.output != "-")
        text = d.to_latex(standalone=standalone, **options, **latex)
    elif fmt == "markdown":
        text = d.to_markdown(**options)
    else:
        text = d.to_text(**options)
    _write(args.output, text)
    return 0


def _graph(args) -> int:
    from symbackprop.render.graph import write_graph

    spec = read_spec(args.spec)
    d = derive(spec, digits=args.digits, lang=args.lang)
    write_graph(d, Path(args.output), lang=args.lang or spec.lang)
    return 0


def _export(args) -> int:
    from symbackprop.codegen.module import module_source

    spec = read_spec(args.spec)
    origin = spec.path.name if spec.path is not None else "spec"
    _write(args.output, module_source(backprop(spec.network), args.backend, origin=origin))
    return 0


def _check(args) -> int:
    from symbackprop.check import gradient_check

    spec = read_spec(args.spec)
    report = gradient_check(spec.network, spec.values, eps=args.eps, seed=args.seed)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(report.to_text())
    return 0 if report.passed else 1


def _verify(args) -> int:
    from symbackprop.verification.command import run

    return run(args)


def _grade(args) -> int:
    from symbackprop.verification.grade import run

    return run(args)


def _serve(args) -> int:
    from symbackprop.web import serve

    return serve(args.host, args.port, open_browser=args.open)


def _examples(args) -> int:
    from symbackprop import bundled

    if not args.name:
        width = max(len(n) for n in bundled.names())
        for name in bundled.names():
            claims = " (+ claims)" if bundled.claims_path(name) else ""
            sys.stdout.write(f"{name.ljust(width)}  {bundled.title(name)}{claims}\n")
        return 0
    if args.claims:
        p = bundled.claims_path(args.name)
        if p is None:
            bundled.path(args.name)  # an unknown name says so, with a "did you mean"
            raise SymbackpropError(f"the example '{args.name}' has no claims file")
    else:
        p = bundled.path(args.name)
    sys.stdout.write(p.read_text(encoding="utf-8"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from symbackprop import __version__

    parser = _Parser(prog="symbackprop", description="Symbolic backpropagation, step by step.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="exit status: 0 success; 1 a verdict against you (verify: a wrong claim; "
                            "check: a gradient that disagrees);\n  2 bad input or usage (a broken spec, "
                            "a missing file; one line on stderr); 3 verify: a claim that\n  cannot be "
                            "read (the submitter's line). grade exits 0 once the class is graded.")
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    try:
        import shtab

        shtab.add_argument_to(parser, ["--print-completion"], help="print a shell completion script "
                                                                   "(bash, zsh or tcsh) and exit")
    except ImportError:  # pragma: no cover - shtab is a dependency
        pass
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("derive", help="write the worked solution of a spec")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--format", choices=["text", "markdown", "latex", "json", "pdf"])
    p.add_argument("-o", "--output", help="output file (format from its extension)")
    p.add_argument("--lang", choices=["en", "zh"])
    p.add_argument("--digits", type=int, help="decimals shown (default 3)")
    p.add_argument("--mode", choices=["exact", "hand"],
                   help="carry full precision (exact) or rounded values (hand)")
    p.add_argument("--expand", nargs="?", const="nodes", choices=["nodes", "leaves"],
                   help="add closed forms of the gradients, in node names (default) or leaves")
    p.add_argument("--standalone", action=argparse.BooleanOptionalAction, default=None,
                   help="LaTeX: a complete document (default when writing a .tex file); "
                        "else a fragment to \\input, whose first lines name the preamble it needs")
    p.add_argument("--heading", choices=list(HEADINGS), metavar="LEVEL",
                   help="LaTeX: the sectioning command of the solution's headings, one of "
                        f"{', '.join(HEADINGS)} (default section; the steps go one level below)")
    p.add_argument("--sty", nargs="?", const="", metavar="DIR",
                   help="LaTeX: also write symbackprop.sty, the package a fragment asks for "
                        "(\\usepackage{symbackprop}), into DIR (default: beside -o FILE, or here)")
    p.set_defaults(run=_derive)

    p = sub.add_parser("graph", help="draw the computational graph with values and gradients")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("-o", "--output", required=True,
                   help="picture file: .svg, .png, .pdf (Graphviz), .dot, or .tex (TikZ)")
    p.add_argument("--lang", choices=["en", "zh"], help="language of the legend")
    p.add_argument("--digits", type=int, help="decimals shown (default 3)")
    p.set_defaults(run=_graph)

    p = sub.add_parser("export", help="write the gradient as a standalone NumPy (or JAX) module")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("-o", "--output", help="Python file to write (default: standard output)")
    p.add_argument("--backend", choices=["numpy", "jax"], default="numpy")
    p.set_defaults(run=_export)

    p = sub.add_parser("check", help="gradient check: central differences and autograd "
                                     "(exit 1 unless every error < 1e-5)")
    p.add_argument("spec", help=SPEC_HELP)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--eps", type=float, default=1e-5, help="finite-difference step (default 1e-5)")
    p.add_argument("--seed", type=int, default=0, help="seed of random values for leaves without one")
    p.set_defaults(run=_check)

    p = sub.add_parser("examples", help="list the bundled example specs, or print one "
                                        "(symbackprop examples seed_scalar | symbackprop derive -)")
    p.add_argument("name", nargs="?", help="the example to print")
    p.add_argument("--claims", action="store_true", help="print its worked solution (claims file) instead")
    p.set_defaults(run=_examples)

    from symbackprop.verification.command import add_arguments

    p = sub.add_parser("verify", help="check hand-derived gradients written in LaTeX "
                                      "(exit 0 all correct, 1 some incorrect, 3 a claim could not be read, "
                                      "2 a broken spec or usage)")
    add_arguments(p)
    p.set_defaults(run=_verify)

    from symbackprop.verification.grade import add_arguments as add_grade_arguments

    p = sub.add_parser("grade", help="grade a class: one worked solution per student, scored by a "
                                     "rubric (exit 0 graded, 2 error)")
    add_grade_arguments(p)
    p.set_defaults(run=_grade)

    p = sub.add_parser("serve", help="start the web playground: write a spec, see its worked solution, "
                                     "check your own steps as you type (pip install 'symbackprop[web]')")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 for a free one)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except BrokenPipeError:  # `symbackprop --print-completion bash | head`
        return 0
    # long commands show their progress on standard error, when it is a terminal (not `serve`)
    enable_progress(getattr(args, "command", None) in ("derive", "check", "grade"))
    try:
        return args.run(args)
    except SymbackpropError as e:
        print(f"symbackprop: error: {e}".replace("\n", " "), file=sys.stderr)
        return 2
    except RecursionError:
        print("symbackprop: error: expression nested too deeply", file=sys.stderr)
        return 2
    except (OverflowError, MemoryError) as e:  # a number or an expression too large to compute
        print(f"symbackprop: error: too large to compute ({type(e).__name__}: {e})".replace("\n", " "),
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # `symbackprop derive … | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    finally:
        enable_progress(False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
