"""A SqliteStore killed with SIGKILL mid-stream keeps every acknowledged write.

A child process (durability_writer.py) writes as fast as it can and prints each write only
after the store acknowledged it; the test kills it at a random point, reopens the file and
checks every printed write, the file's integrity, and that the revision counter resumes.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kcore.storage.sqlite import SqliteStore

WRITER = Path(__file__).with_name("durability_writer.py")


def run_and_kill(db: Path, run: str, acknowledged: int) -> list[tuple[str, str, int]]:
    """Start the writer, SIGKILL it once it printed `acknowledged` lines, return every
    complete line it printed."""
    child = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), run], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == "ready\n"
        lines = [child.stdout.readline() for _ in range(acknowledged)]
        child.send_signal(signal.SIGKILL)
        lines.extend(child.stdout.readlines())
    finally:
        child.kill()
        child.wait()
    writes = []
    for line in lines:
        if line.endswith("\n"):
            kind, key, revision = line.split()
            writes.append((kind, key, int(revision)))
    return writes


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


async def check_acknowledged(db: Path, writes: list[tuple[str, str, int]]) -> int:
    store = await SqliteStore.open(db)
    try:
        newest: dict[str, int] = {}
        for kind, key, revision in writes:
            kv = await store.get(key)
            assert kv is not None, f"acknowledged {kind} of {key} at {revision} was lost"
            if kind == "create":
                assert kv.mod_revision == revision and kv.value == f"value of {key}".encode()
            newest[key] = max(newest.get(key, 0), revision)
        for key, revision in newest.items():
            kv = await store.get(key)
            assert kv is not None and kv.mod_revision >= revision
        top = max(revision for _, _, revision in writes)
        assert await store.current_revision() >= top
        later = await store.create(f"/registry/after/{top}", b"after restart")
        assert later.mod_revision > top
        return later.mod_revision
    finally:
        await store.close()


@pytest.mark.slow
async def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    last = 0
    for round_ in range(4):
        writes = run_and_kill(db, f"r{round_}", rng.randrange(200, 3000))
        assert writes, f"seed {seed}: the writer acknowledged nothing"
        assert integrity(db) == "ok", f"seed {seed}"
        assert min(revision for _, _, revision in writes) > last, f"seed {seed}"
        last = await check_acknowledged(db, writes)
