"""Worker processes for the playground: symbolic work off the request thread, under a time bound.

A :class:`WorkerPool` keeps a few processes (``python -m symbackprop.web.pool``, each
importing symbackprop once and then serving jobs from a socket), so that a request never waits for
SymPy to import and no request's work runs in the server process. A job that overruns its
time limit is cut off: its worker is killed — with its whole process group, so that a
pdflatex or dot it started goes too — and a fresh worker takes its place; the request gets
:class:`TimeLimit`. A worker also runs under a memory limit (``RLIMIT_AS``), in the
hardened environment of :data:`symbackprop.web.tasks.HARDENED_ENV`, and is replaced after
``max_jobs`` jobs so that SymPy's caches cannot grow without end.

A request waits at most ``queue_timeout`` seconds for a free worker (then :class:`Busy`),
so a burst of requests queues instead of spawning work without bound.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from typing import Any, Optional

import anyio.to_thread


class PoolError(Exception):
    """A job that did not finish: the request gets the message."""


class TimeLimit(PoolError):
    pass


class Busy(PoolError):
    pass


class WorkerDied(PoolError):
    pass


def worker_main(argv: list[str]) -> None:  # pragma: no cover - runs in the worker
    """A worker: ``python -m symbackprop.web.pool FD MEMORY`` serves jobs from the socket FD."""
    from multiprocessing.connection import Connection

    fd, memory = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    if memory > 0:
        import resource

        try:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        except (ValueError, OSError):
            pass
    from symbackprop.web.tasks import run
    import symbackprop.derive  # noqa: F401  (SymPy and the core, once)
    import symbackprop.verification  # noqa: F401
    import symbackprop.web.html  # noqa: F401

    conn = Connection(fd)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the server is gone
            break
        if message is None:
            break
        name, kwargs = message
        try:
            conn.send(run(name, kwargs))
        except OSError:
            break


class _Worker:
    """One worker process, in a session of its own (so a kill reaches pdflatex and dot too),
    started as ``python -m symbackprop.web.pool``: nothing of the server's ``__main__`` is
    imported again, whatever script started the server."""

    def __init__(self, memory: Optional[int]):
        from multiprocessing.connection import Connection

        from symbackprop.web.tasks import HARDENED_ENV

        ours, theirs = socket.socketpair()
        env = {**os.environ, **HARDENED_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "symbackprop.web.pool", str(theirs.fileno()), str(memory or 0)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # stderr: the server's, for tracebacks
            pass_fds=(theirs.fileno(),), start_new_session=True, env=env, close_fds=True)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False
        self.jobs = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, name: str, kwargs: dict, timeout: float, start_timeout: float):
        """Run one job (blocking; called in a thread): ``(status, result)``."""
        if not self.ready:
            if not self.conn.poll(start_timeout):
                raise WorkerDied(f"a worker did not start within {start_timeout:g} s")
            try:
                self.conn.recv()  # ("ready", pid)
            except (EOFError, OSError):
                raise WorkerDied("a worker failed to start") from None
            self.ready = True
        self.jobs += 1
        try:
            self.conn.send((name, kwargs))
            if not self.conn.poll(timeout):
                raise TimeLimit(f"the work took longer than {timeout:g} s and was stopped; "
                                "a smaller network (or fewer closed forms) will fit")
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerDied("the worker stopped in the middle of the work (out of memory?)") from None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session's group: pdflatex, dot too
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.wait(2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class WorkerPool:
    """``size`` worker processes; ``await pool.run(task, kwargs)`` runs one job.

    ``timeout`` is the default time limit of a job in seconds, ``start_timeout`` how long a
    new worker may take to import, ``memory`` the address-space limit of each worker in bytes
    (None: none).
    """

    def __init__(self, size: int = 2, *, timeout: float = 10.0, start_timeout: float = 120.0,
                 queue_timeout: float = 30.0, memory: Optional[int] = 4 << 30, max_jobs: int = 500):
        self.size, self.timeout, self.start_timeout = max(1, size), timeout, start_timeout
        self.queue_timeout, self.memory, self.max_jobs = queue_timeout, memory, max_jobs
        self._idle: Optional[asyncio.Queue] = None
        self._workers: set[_Worker] = set()
        self.killed = 0  #: workers killed for overrunning (or dying)

    def start(self) -> None:
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            self._idle.put_nowait(self._spawn())

    def _spawn(self) -> _Worker:
        w = _Worker(self.memory if sys.platform.startswith("linux") else None)
        self._workers.add(w)
        return w

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w.pid is not None]

    async def run(self, name: str, kwargs: dict, timeout: Optional[float] = None) -> tuple[str, Any]:
        if self._idle is None:
            raise RuntimeError("the pool is not started")
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.queue_timeout)
        except asyncio.TimeoutError:
            raise Busy(f"the playground is busy (every worker stayed busy for {self.queue_timeout:g} s); "
                       "try again") from None
        healthy = False
        try:
            result = await anyio.to_thread.run_sync(worker.call, name, kwargs, timeout or self.timeout,
                                                    self.start_timeout)
            healthy = True
            return result
        finally:
            if healthy and worker.jobs < self.max_jobs:
                self._idle.put_nowait(worker)
            else:  # overran, died, or served its jobs: a fresh one takes its place
                self.killed += not healthy
                self._workers.discard(worker)
                await anyio.to_thread.run_sync(worker.kill)
                self._idle.put_nowait(self._spawn())

    def close(self) -> None:
        for w in list(self._workers):
            w.stop()
        self._workers.clear()
        self._idle = None


if __name__ == "__main__":  # pragma: no cover - a worker
    worker_main(sys.argv[1:])
