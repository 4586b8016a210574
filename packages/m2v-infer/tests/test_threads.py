"""Thread safety: one model encoding from several threads at once gives the same results."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from m2v_infer import StaticModel
from m2v_infer._runner import batched, run_ordered


def test_concurrent_encode_calls_agree(potion: StaticModel, real_corpus: list[str]) -> None:
    chunks = [real_corpus[i::6] for i in range(6)]
    expected = [potion.encode(chunk, num_threads=1) for chunk in chunks]
    settings = [
        {"num_threads": 2, "batch_size": 64},
        {"num_threads": 1, "batch_size": 1024},
        {"num_threads": 3, "batch_size": 17, "max_length": 512},
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [
            pool.submit(potion.encode, chunk, **settings[index % len(settings)])
            for index, chunk in enumerate(chunks * 3)
        ]
        results = [future.result() for future in futures]
    for index, result in enumerate(results):
        assert np.array_equal(result, expected[index % len(chunks)])


def test_concurrent_first_use_builds_the_engine_once(potion_path: Path) -> None:
    model = StaticModel.from_pretrained(potion_path)
    barrier = threading.Barrier(4)
    outputs: list[np.ndarray] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        vector = model.encode(["the same sentence"] * 50, num_threads=2)
        with lock:
            outputs.append(vector)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outputs) == 4
    for output in outputs[1:]:
        assert np.array_equal(output, outputs[0])


def test_concurrent_settings_do_not_leak(potion_path: Path, real_corpus: list[str]) -> None:
    model = StaticModel.from_pretrained(potion_path)
    texts = real_corpus[:600]
    cut = model.encode(texts, max_length=3)
    full = model.encode(texts, max_length=None)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(model.encode, texts, max_length=3 if i % 2 else None, num_threads=2)
            for i in range(8)
        ]
        for index, future in enumerate(futures):
            assert np.array_equal(future.result(), cut if index % 2 else full)


def test_run_ordered_keeps_order_and_raises_in_order() -> None:
    def square(batch: list[int]) -> list[int]:
        if 13 in batch:
            raise KeyError(13)
        return [x * x for x in batch]

    assert list(run_ordered(square, batched(range(10), 3), num_threads=3)) == [
        [0, 1, 4],
        [9, 16, 25],
        [36, 49, 64],
        [81],
    ]
    results = run_ordered(square, batched(range(20), 2), num_threads=4)
    assert next(results) == [0, 1]
    with pytest.raises(KeyError):
        list(results)


def test_run_ordered_close_cancels_pending() -> None:
    started: list[int] = []

    def record(batch: list[int]) -> int:
        started.append(batch[0])
        return batch[0]

    results = run_ordered(record, batched(range(1000), 1), num_threads=2, window=4)
    assert next(results) == 0
    results.close()
    assert len(started) <= 8
