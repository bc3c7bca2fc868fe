from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"


@pytest.fixture
def derivations() -> Path:
    return DERIVATIONS


def _oracle_problem() -> str | None:
    """Why latex2sympy2, the independent parse oracle, cannot run here (None when it can)."""
    try:
        import latex2sympy2  # noqa: F401
    except Exception as e:  # noqa: BLE001 - on Python 3.13 its antlr 4.7.2 fails on `typing.io`
        return f"{type(e).__name__}: {e}"
    return None


def pytest_report_header(config):
    problem = _oracle_problem()
    return None if problem is None else f"latex2sympy2 oracle unavailable ({problem}): its tests skip"


def pytest_terminal_summary(terminalreporter):
    problem = _oracle_problem()
    if problem is not None:
        terminalreporter.write_line(f"NOTE: the latex2sympy2 parse oracle could not run here ({problem}); "
                                    f"its cross-checks in tests/test_latex_in.py were skipped", yellow=True)
