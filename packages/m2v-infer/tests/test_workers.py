"""Worker processes: the same vectors bit for bit, order, bounded streaming, typed errors,
and no process left behind whatever happens to the caller (Ctrl-C, an exception, garbage
collection, being killed).

Pools start real worker processes (forkserver) on this machine; the tests keep their
number small (one pool shared by most tests) so the module stays fast.
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_infer import (
    DEFAULT_MODEL_DIR,
    InvalidArgumentError,
    InvalidInputError,
    StaticModel,
    WorkerError,
    WorkerPool,
)
from m2v_infer._runner import plan_workers
from m2v_testkit import alive, children_of, still_running


@pytest.fixture(scope="module")
def pool(potion: StaticModel) -> Iterator[WorkerPool]:
    with potion.workers(2) as started:
        yield started
    assert not still_running(started.pids)


def test_vectors_are_bit_identical_to_one_process(
    pool: WorkerPool, potion: StaticModel, parity_corpus: list[str]
) -> None:
    assert pool.num_workers == 2
    assert len(set(pool.pids)) == 2
    texts = parity_corpus * 2
    expected = potion.encode(texts, num_workers=1)
    assert np.array_equal(pool.encode(texts, batch_size=500), expected)
    for options in (
        {"normalize": False},
        {"dimensions": 64},
        {"max_length": None},
        {"max_length": 16, "normalize": False, "dimensions": 200},
    ):
        one = potion.encode(texts, num_workers=1, **options)
        assert np.array_equal(pool.encode(texts, batch_size=333, **options), one), options
    assert pool.encode("one text").shape == (256,)
    assert pool.encode([]).shape == (0, 256)


def test_encode_with_num_workers_starts_and_stops_its_own_pool(
    potion: StaticModel, real_corpus: list[str]
) -> None:
    before = set(children_of(os.getpid()))
    got = potion.encode(real_corpus, num_workers=2, batch_size=700)
    assert np.array_equal(got, potion.encode(real_corpus, num_workers=1))
    assert not still_running(list(set(children_of(os.getpid())) - before))


def test_quantized_and_int8_models(real_corpus: list[str], potion_path: Path) -> None:
    """The bundled int8 model (scale applied) and a float16 copy: the table workers map is
    the effective float32 one, so results match one process exactly."""
    texts = real_corpus[:1500]
    for model in (
        StaticModel.from_pretrained(DEFAULT_MODEL_DIR),
        StaticModel.from_pretrained(potion_path, quantize_to="float16", dimensionality=100),
    ):
        expected = model.encode(texts, num_workers=1)
        assert np.array_equal(model.encode(texts, num_workers=2, batch_size=256), expected)


def test_encode_iter_streams_an_unbounded_generator_in_order(
    pool: WorkerPool, potion: StaticModel, real_corpus: list[str]
) -> None:
    consumed = 0

    def endless() -> Iterator[str]:
        nonlocal consumed
        for text in itertools.cycle(real_corpus):
            consumed += 1
            yield text

    stream = pool.encode_iter(endless(), batch_size=256)
    first = [next(stream) for _ in range(6)]
    # In flight at most two batches per worker beyond what was yielded: bounded reading.
    assert consumed <= (6 + 2 * pool.num_workers + 1) * 256
    stream.close()
    expected = potion.encode(real_corpus[: 6 * 256], num_workers=1)
    assert np.array_equal(np.concatenate(first), expected)
    # The pool is usable again after an abandoned stream.
    assert np.array_equal(pool.encode(real_corpus[:300]), expected[:300])


def test_auto_starts_workers_only_past_the_break_even(
    potion: StaticModel, real_corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``"auto"`` (the default) starts processes for long inputs only; a stream of unknown
    length is read ahead to the break-even to find out, and comes back whole, in order."""
    from m2v_infer._workers import auto_threshold

    started: list[int] = []
    real_start = StaticModel._start_pool

    def counting(self: StaticModel, count: int) -> Any:
        started.append(count)
        return real_start(self, count)

    monkeypatch.setattr(StaticModel, "_start_pool", counting)
    cores = len(os.sched_getaffinity(0))
    short = real_corpus[:500]
    assert np.array_equal(potion.encode(short), potion.encode(short, num_workers=1))
    assert started == []
    count = auto_threshold(cores) + 1000
    texts = list(itertools.islice(itertools.cycle(real_corpus), count))
    batches = list(potion.encode_iter(iter(texts), batch_size=4000))
    assert sum(len(batch) for batch in batches) == count
    assert all(len(batch) == 4000 for batch in batches[:-1])
    assert np.array_equal(np.concatenate(batches), potion.encode(texts, num_workers=1))
    assert started == ([cores] if cores > 1 else [])


def test_plan_workers() -> None:
    cores = len(os.sched_getaffinity(0))
    assert plan_workers(3, ["a"], 1, 10) == (3, ["a"])
    assert plan_workers("auto", ["a"] * 5, 5, 10)[0] == 1
    assert plan_workers("auto", ["a"] * 10, 10, 10)[0] == min(cores, 10) or cores < 2
    count, texts = plan_workers("auto", iter(range(5)), None, 10)
    assert (count, list(texts)) == (1, [0, 1, 2, 3, 4])
    count, texts = plan_workers("auto", iter(range(25)), None, 10)
    assert list(texts) == list(range(25))
    assert count == (cores if cores > 1 else 1)
    with pytest.raises(InvalidArgumentError, match="num_workers"):
        plan_workers(0, [], 0, 10)


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True])
def test_bad_num_workers(potion: StaticModel, bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="num_workers"):
        potion.encode(["x"] * 3, num_workers=bad)
    with pytest.raises(InvalidArgumentError, match="num_workers"):
        potion.workers(bad)


def test_a_text_a_worker_cannot_encode_is_a_typed_error_naming_it(
    pool: WorkerPool, real_corpus: list[str]
) -> None:
    texts = list(real_corpus[:3000])
    texts[2345] = "caf\udce9 au lait"  # a byte that was not UTF-8, decoded surrogateescape
    with pytest.raises(InvalidInputError, match="lone surrogate U\\+DCE9") as caught:
        pool.encode(texts, batch_size=500)
    assert caught.value.index == 2345
    texts[2345] = 42  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="not a str") as caught:
        pool.encode(texts, batch_size=500)
    assert caught.value.index == 2345
    assert not pool.closed  # a bad text is the input's fault: the workers carry on
    assert pool.encode(["still fine"]).shape == (1, 256)


def test_the_same_error_in_one_process(potion: StaticModel) -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate") as caught:
        potion.encode(["fine", "\ud800"], num_workers=1)
    assert caught.value.index == 1


def test_one_call_at_a_time(pool: WorkerPool, real_corpus: list[str]) -> None:
    stream = pool.encode_iter(real_corpus, batch_size=100)
    next(stream)
    with pytest.raises(InvalidArgumentError, match="one call at a time"):
        pool.encode(["x"])
    stream.close()
    assert pool.encode(["x"]).shape == (1, 256)


def test_progress_bar_counts_every_worker(
    pool: WorkerPool, real_corpus: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pool.encode(real_corpus, show_progress_bar=True, batch_size=250)
    count = len(real_corpus)
    assert f"{count}/{count}" in capsys.readouterr().err


def test_a_worker_that_dies_is_reported_and_the_pool_stops(
    potion: StaticModel, real_corpus: list[str]
) -> None:
    pool = potion.workers(2)
    pids = pool.pids
    stream = pool.encode_iter(itertools.cycle(real_corpus), batch_size=200)
    next(stream)
    os.kill(pids[0], signal.SIGKILL)
    with pytest.raises(WorkerError, match=f"worker process {pids[0]} died") as caught:
        for _ in stream:
            pass
    assert caught.value.code == "worker-failed"
    assert pool.closed
    assert not still_running(pids)


def test_not_enough_shared_memory_is_a_clear_error(
    potion: StaticModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import m2v_infer._workers as workers

    class Tiny:
        f_bavail, f_frsize = 10, 4096

    with potion.workers(1) as pool:
        monkeypatch.setattr(workers.os, "statvfs", lambda _: Tiny())
        with pytest.raises(InvalidArgumentError, match=r"/dev/shm has 0\.0 MiB free"):
            pool.encode(["x"] * 10, batch_size=5000)


_SCRIPT = """
import faulthandler, gc, os, signal, sys, time, itertools
from m2v_infer import StaticModel

faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test's stack dump on a hang
# A background job of a shell without job control (`(pytest &)`) starts with SIGINT
# ignored, and Python then keeps it ignored: install Ctrl-C's usual handler explicitly.
signal.signal(signal.SIGINT, signal.default_int_handler)

def main():
    mode, path = sys.argv[1], sys.argv[2]
    model = StaticModel.from_pretrained(path)
    texts = itertools.cycle(["a short text to embed, again and again"] * 100)
    pool = model.workers(2)
    print(" ".join(map(str, pool.pids)), flush=True)
    if mode == "exception":
        try:
            with pool:
                for _ in pool.encode_iter(texts, batch_size=100):
                    raise RuntimeError("the caller failed")
        except RuntimeError:
            print("raised", flush=True)
    elif mode == "gc":
        del pool
        gc.collect()
        print("collected", flush=True)
    elif mode in ("sigint", "sigkill"):
        print("encoding", flush=True)
        for _ in pool.encode_iter(texts, batch_size=100):
            pass
    time.sleep(30 if mode in ("exception", "gc") else 0)

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("mode", ["exception", "gc", "sigint", "sigkill"])
def test_no_orphan_processes(mode: str, potion_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    errors = tmp_path / "stderr.txt"  # a file, not a pipe nobody reads: it cannot fill up
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(script), mode, str(potion_path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        pids = [int(pid) for pid in process.stdout.readline().split()]
        assert len(pids) == 2, errors.read_text()
        assert all(alive(pid) for pid in pids)
        print(process.stdout.readline().strip())  # raised / collected / encoding
        if mode == "sigint":
            time.sleep(0.5)
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # say where the caller was stuck
                process.send_signal(signal.SIGUSR1)
                time.sleep(1.0)
                pytest.fail(f"the caller did not exit after SIGINT:\n{errors.read_text()}")
            assert process.returncode != 0
        elif mode == "sigkill":
            time.sleep(0.5)
            process.kill()
            process.wait(30)
        # exception / gc: the caller is still running (sleeping) but its workers are gone
        assert not still_running(pids), f"orphan workers after {mode}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_threads_inside_the_caller_do_not_break_workers(
    potion: StaticModel, real_corpus: list[str]
) -> None:
    """The caller runs threads (as servers do); workers are forked from the forkserver,
    never from this threaded process."""
    stop = threading.Event()

    def keep_encoding() -> None:
        while not stop.is_set():
            potion.encode(real_corpus[:50], num_workers=1)

    busy = threading.Thread(target=keep_encoding)
    busy.start()
    try:
        got = potion.encode(real_corpus, num_workers=2)
    finally:
        stop.set()
        busy.join()
    assert np.array_equal(got, potion.encode(real_corpus, num_workers=1))
    gc.collect()
