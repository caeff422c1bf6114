"""A virtual clock for the scheduler: sleeping costs no real time, and time moves only to
the earliest wake-up once every task is waiting, so a simulated month runs in milliseconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class VirtualClock:
    def __init__(self, start: float) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def _settle(self) -> None:
        for _ in range(50):  # let every runnable task reach its next await
            await asyncio.sleep(0)

    async def advance_to(self, end: float, max_steps: int = 100_000) -> None:
        """Wake sleepers in time order until the next wake-up is past `end`; then time = end."""
        await self._settle()
        for _ in range(max_steps):
            while self._sleepers and self._sleepers[0][2].cancelled():
                heapq.heappop(self._sleepers)
            if not self._sleepers or self._sleepers[0][0] > end:
                break
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            future.set_result(None)
            await self._settle()
        else:
            raise AssertionError("the clock was asked to step more than max_steps times")
        self.now = max(self.now, end)
        await self._settle()

    def jump(self, seconds: float) -> None:
        """Time passes with nobody watching (the daemon was down)."""
        self.now += seconds
