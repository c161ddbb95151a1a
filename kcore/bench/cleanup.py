"""Everything a scenario starts is registered here and removed when the scenario ends, whatever
happens (return, exception, Ctrl-C): child processes, Docker containers, temp dirs, listeners.

Undo actions run last-in first-out, each one even if an earlier one failed; their errors are
collected and raised together afterwards, so one stuck piece never leaves the others behind.
Listeners are checked, not closed: a port still accepting connections after cleanup means a
piece was not stopped, and is reported as an error. Child processes started while the stack
was open and still running after the undo actions are killed and reported the same way.
"""

from __future__ import annotations

import contextlib
import os
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


def live_children() -> dict[int, str]:
    """This process's running (not zombie) children: pid -> command line. Python's
    multiprocessing resource tracker is left out: it lives as long as its parent by design."""
    me, found = os.getpid(), {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == me and state != "Z" and "resource_tracker" not in cmdline:
            found[int(entry.name)] = cmdline.strip()
    return found


def kill_new_children(before: dict[int, str]) -> list[str]:
    """SIGKILL children that were not running at `before`; describe each one killed."""
    leaked = {pid: cmd for pid, cmd in live_children().items() if pid not in before}
    for pid in leaked:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return [f"process {pid} ({cmd[:80]}) was still running" for pid, cmd in leaked.items()]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class Cleanup:
    """A stack of undo actions for one scenario; use as a context manager."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._listeners: list[tuple[str, int]] = []
        self._children = live_children()

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
        """Run every undo action (LIFO), then kill child processes started since this stack
        was made and check the listeners; return the errors (leftovers count as errors)."""
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
        errors += kill_new_children(self._children)
        return errors
