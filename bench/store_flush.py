"""Write cost of one store batch by size: what a shorter [store] flush_interval costs.

A crash (kill -9) loses at most the records of the last flush interval, so a short interval
is cheap insurance if a small batch costs little. Run: .venv/bin/python bench/store_flush.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

from privacy_milter.store import AddressHasher, SqliteStore  # noqa: E402
from test_store import make_record  # noqa: E402

ROUNDS = 40


async def main() -> None:
    hasher = AddressHasher(b"k" * 32)
    record = make_record(hasher)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "meta.db", batch_size=100_000, flush_interval=60)
        await store.start()
        try:
            for size in (1, 10, 50, 200, 500):
                times = []
                for _ in range(ROUNDS):
                    for _ in range(size):
                        store.add(record)
                    started = time.perf_counter()
                    await store.flush()
                    times.append(time.perf_counter() - started)
                per_batch = statistics.median(times) * 1000
                print(f"batch {size:4d}: {per_batch:6.2f} ms per flush, {per_batch * 1000 / size:7.1f} us per record")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
