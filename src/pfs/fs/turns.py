"""Long pure-Python work split across turns of the event loop.

A listing of tens of thousands of entries takes tens of milliseconds to build or encode; done in
one go it holds every other request for that long. Done in slices with a yield to the loop in
between, other requests are served between slices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Items handled per loop turn: a few milliseconds of work at most.
PER_TURN = 1000


async def map_in_turns(
    fn: Callable[[T], R], items: Sequence[T], per_turn: int = PER_TURN
) -> list[R]:
    """``[fn(item) for item in items]``, yielding to the event loop every ``per_turn`` items."""
    if len(items) <= per_turn:
        return [fn(item) for item in items]
    results: list[R] = []
    for start in range(0, len(items), per_turn):
        if start:
            await asyncio.sleep(0)
        results.extend(fn(item) for item in items[start : start + per_turn])
    return results
