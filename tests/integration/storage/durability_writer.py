"""Child process of test_durability: write to a SqliteStore as fast as possible, forever.

Usage: python durability_writer.py DB_PATH RUN_ID. Each acknowledged write is printed (and
flushed) as "create KEY REVISION" or "update KEY REVISION" only after the store returned it,
so every printed line is a write the store promised to keep. The parent SIGKILLs us.
"""

from __future__ import annotations

import asyncio
import sys

from kcore.storage.sqlite import SqliteStore

WRITERS = 32


async def writer(store: SqliteStore, run: str, slot: int) -> None:
    hot = f"/registry/hot/{run}-{slot}"
    await store.create(hot, b"0")
    n = 0
    while True:
        key = f"/registry/pods/{run}/w{slot}-{n}"
        kv = await store.create(key, f"value of {key}".encode())
        sys.stdout.write(f"create {key} {kv.mod_revision}\n")
        updated = await store.update(hot, str(n).encode(), expected_revision=0)
        sys.stdout.write(f"update {hot} {updated.mod_revision}\n")
        sys.stdout.flush()
        n += 1


async def main(path: str, run: str) -> None:
    store = await SqliteStore.open(path)
    print("ready", flush=True)
    await asyncio.gather(*(writer(store, run, slot) for slot in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
