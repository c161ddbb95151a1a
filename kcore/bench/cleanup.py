"""Everything a scenario starts is registered here and removed when the scenario ends, whatever
happens (return, exception, Ctrl-C): child processes, Docker containers, temp dirs, listeners.

Undo actions run last-in first-out, each one even if an earlier one failed; their errors are
collected and raised together afterwards, so one stuck piece never leaves the others behind.
Listeners are checked, not closed: a port still accepting connections after cleanup means a
piece was not stopped, and is reported as an error.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

STOP_TIMEOUT = 10.0
T = TypeVar("T")


class CleanupError(RuntimeError):
    """Some undo actions failed; `errors` holds their messages."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("cleanup failed: " + "; ".join(errors))
        self.errors = errors


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL after `timeout`; always reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class Cleanup:
    """A stack of undo actions for one scenario; use as a context manager."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._listeners: list[tuple[str, int]] = []

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        errors = self.close()
        if errors and exc is None:
            raise CleanupError(errors)

    def callback(self, what: str, undo: Callable[[], object]) -> None:
        """Run `undo` at cleanup; `what` names it in error messages."""
        self._undo.append((what, undo))

    def enter(self, manager: AbstractContextManager[T], what: str) -> T:
        """Enter `manager` now and exit it at cleanup."""
        value = manager.__enter__()
        self.callback(what, lambda: manager.__exit__(None, None, None))
        return value

    def process(self, process: subprocess.Popen[bytes], what: str = "") -> None:
        self.callback(what or f"process {process.pid}", lambda: stop_process(process))

    def container(self, container_id: str) -> None:
        """Force-remove a Docker container (through the docker CLI) at cleanup."""
        argv = ["docker", "rm", "-f", "-v", container_id]

        def remove() -> None:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0 and "No such container" not in done.stderr:
                raise RuntimeError(done.stderr.strip())

        self.callback(f"container {container_id[:12]}", remove)

    def tempdir(self, prefix: str = "kcore-bench-") -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self.callback(f"temp dir {path}", lambda: shutil.rmtree(path))
        return path

    def listener(self, host: str, port: int) -> None:
        """Check at cleanup (after every undo action) that nothing listens on host:port."""
        self._listeners.append((host, port))

    def close(self) -> list[str]:
        """Run every undo action (LIFO), then the listener checks; return the errors."""
        errors = []
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # one failure must not stop the rest of the cleanup
                errors.append(f"{what}: {exc}")
        for host, port in self._listeners:
            with contextlib.suppress(OSError):
                if port_open(host, port):
                    errors.append(f"{host}:{port} still accepts connections")
        self._listeners.clear()
        return errors
