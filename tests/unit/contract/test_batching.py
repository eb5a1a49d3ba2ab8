import asyncio

import pytest

from pantau_shared.batching import MicroBatcher


async def test_callers_in_the_same_turn_share_one_call() -> None:
    calls: list[list[int]] = []

    def double(items):
        calls.append(list(items))
        return [i * 2 for i in items]

    batcher = MicroBatcher(double)
    assert await asyncio.gather(*(batcher(i) for i in range(5))) == [0, 2, 4, 6, 8]
    assert calls == [[0, 1, 2, 3, 4]]
    assert await batcher(7) == 14
    assert calls[-1] == [7]


async def test_batches_are_capped_and_errors_reach_every_caller() -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(lambda items: sizes.append(len(items)) or list(items), max_batch=3)
    await asyncio.gather(*(batcher(i) for i in range(7)))
    assert sizes == [3, 3, 1]

    def broken(items):
        raise ValueError("model file damaged")

    failing = MicroBatcher(broken)
    results = await asyncio.gather(failing(1), failing(2), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    with pytest.raises(ValueError):
        await failing(3)
