"""A client process of the multi-process concurrency suite: it waits at a
barrier shared with the other client processes, then sends all its `add`
calls at once, each on its own connection, and reports what came back."""

from __future__ import annotations

import asyncio
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx

Answer = tuple[int, Any]  # HTTP status, the JSON body (or the text when not JSON)
# What a process reports: its index, when the barrier released it and when its
# last answer came (time.monotonic(): one clock for every process of the host).
Report = tuple[int, float, float, list[Answer]]


def burst(
    url: str,
    key: str,
    service: int,
    index: int,
    calls: int,
    barrier: Barrier,
    results: Queue[Report],
) -> None:
    """Process target: `calls` concurrent adds of distinct links, sent when
    every process has reached the barrier; its Report goes to `results`."""
    results.put(asyncio.run(_send(url, key, service, index, calls, barrier)))


async def _send(
    url: str, key: str, service: int, index: int, calls: int, barrier: Barrier
) -> Report:
    limits = httpx.Limits(max_connections=calls, max_keepalive_connections=calls)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        barrier.wait(timeout=60)  # blocks this process's loop: nothing runs yet anyway
        released = time.monotonic()

        async def add(call: int) -> Answer:
            body = {
                "key": key,
                "action": "add",
                "service": str(service),
                "link": f"https://example.com/p/{index}/{call}",
                "quantity": "100",
            }
            response = await client.post("/api/v2", data=body)
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, response.text

        answers = list(await asyncio.gather(*(add(call) for call in range(calls))))
        return index, released, time.monotonic(), answers
