from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"


@pytest.fixture
def derivations() -> Path:
    return DERIVATIONS
