r"""Progress of long commands on standard error: ``\rclosed forms 12/40``.

Only the command line shows it (:func:`enable`), and only when standard error is a terminal:
a pipe, a file, a notebook or a test sees nothing. A count is written once the work has run
``delay`` seconds, so quick commands stay silent, and the line is cleared at the end.

>>> import io
>>> class Terminal(io.StringIO):
...     def isatty(self):
...         return True
>>> out = Terminal()
>>> with Progress("closed forms", 3, stream=out, delay=0) as tick:
...     for i in range(3):
...         tick(i + 1)
>>> out.getvalue().split("\r")[1:4]
['closed forms 1/3', 'closed forms 2/3', 'closed forms 3/3']
>>> with Progress("quiet", 3, stream=io.StringIO(), delay=0) as tick:  # not a terminal
...     tick(1)
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

_enabled = False
#: seconds of work before a count is shown
DELAY = 0.5


def enable(on: bool = True) -> None:
    """Show progress (the command line calls this)."""
    global _enabled
    _enabled = on


class Progress:
    """A context manager: ``tick(done)`` (or ``tick(done, total)``) updates the count."""

    def __init__(self, what: str, total: int, *, stream: Optional[TextIO] = None,
                 delay: Optional[float] = None, clock: Callable[[], float] = time.monotonic):
        self.what, self.total, self.clock = what, total, clock
        self.delay = DELAY if delay is None else delay
        self.stream = stream if stream is not None else sys.stderr
        explicit = stream is not None
        try:
            tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):  # closed or not a file
            tty = False
        self.active = tty and (explicit or _enabled)
        self.start = clock()
        self.width = 0

    def __enter__(self) -> "Progress":
        return self

    def __call__(self, done: int, total: Optional[int] = None) -> None:
        if total is not None:
            self.total = total
        if not self.active or self.clock() - self.start < self.delay:
            return
        text = f"{self.what} {done}/{self.total}"
        self.stream.write("\r" + text + " " * max(0, self.width - len(text)))
        self.stream.flush()
        self.width = len(text)

    def __exit__(self, *exc) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def progress(what: str, total: int, **options) -> Progress:
    """:class:`Progress` of ``what``, ``total`` steps."""
    return Progress(what, total, **options)
