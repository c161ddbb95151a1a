"""The cleanup stack: LIFO, every action runs even after a failure, processes are stopped
(SIGKILL after a SIGTERM that is ignored), temp dirs go, and open listeners are reported."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kcore.bench.cleanup import Cleanup, CleanupError, stop_process


def test_undo_runs_last_in_first_out() -> None:
    order: list[int] = []
    with Cleanup() as cleanup:
        for i in range(3):
            cleanup.callback(f"step {i}", lambda i=i: order.append(i))
    assert order == [2, 1, 0]


def test_a_failing_action_does_not_stop_the_others() -> None:
    ran: list[str] = []

    def boom() -> None:
        raise OSError("stuck")

    cleanup = Cleanup()
    cleanup.callback("first", lambda: ran.append("first"))
    cleanup.callback("broken", boom)
    cleanup.callback("last", lambda: ran.append("last"))
    with pytest.raises(CleanupError, match="broken: stuck"), cleanup:
        pass
    assert ran == ["last", "first"]


def test_processes_and_temp_dirs_are_removed() -> None:
    cleanup = Cleanup()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    cleanup.process(proc)  # type: ignore[arg-type]
    tmp = cleanup.tempdir()
    (tmp / "file").write_text("x")
    assert cleanup.close() == []
    assert proc.poll() is not None
    assert not tmp.exists()


def test_stop_process_kills_what_ignores_sigterm() -> None:
    code = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
           "print('ready', flush=True); time.sleep(60)"  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    stop_process(proc, timeout=0.5)  # type: ignore[arg-type]
    assert proc.returncode == -9
    proc.stdout.close()


def test_an_open_listener_is_reported() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    cleanup = Cleanup()
    cleanup.listener("127.0.0.1", port)
    try:
        assert cleanup.close() == [f"127.0.0.1:{port} still accepts connections"]
    finally:
        sock.close()
    cleanup.listener("127.0.0.1", port)
    assert cleanup.close() == []


def test_entered_context_managers_exit_at_cleanup() -> None:
    import contextlib

    events: list[str] = []

    @contextlib.contextmanager
    def piece() -> object:
        events.append("enter")
        yield 42
        events.append("exit")

    cleanup = Cleanup()
    assert cleanup.enter(piece(), "piece") == 42  # type: ignore[arg-type]
    assert events == ["enter"]
    cleanup.close()
    assert events == ["enter", "exit"]


def test_a_child_nobody_registered_is_killed_and_reported() -> None:
    cleanup = Cleanup()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    errors = cleanup.close()
    assert len(errors) == 1 and f"process {proc.pid}" in errors[0]
    proc.wait(5)  # already reaped by the cleanup
    assert not Path(f"/proc/{proc.pid}").exists()
