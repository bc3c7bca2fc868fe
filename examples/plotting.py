"""The examples' one dependency on matplotlib, optional: no matplotlib, no plot, a note."""
from __future__ import annotations


def pyplot(path: str):
    """``matplotlib.pyplot`` (file backend), or None with a note when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path} (pip install matplotlib)")
        return None
    return plt


def save(fig, path: str) -> None:
    """Write ``fig`` to ``path`` (the format follows the extension) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot written to {path}")
