"""Threads give the same results as one thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from logreg_cli import parallel
from logreg_cli.config import FeaturizerConfig
from logreg_cli.errors import ConfigError
from logreg_cli.featurize import TRANSFORM_CHUNK, Featurizer


def test_thread_count_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "3")
    assert parallel.thread_count() == 3


@pytest.mark.parametrize("value", ["0", "-2", "two", ""])
def test_thread_count_invalid(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOGREG_THREADS", value)
    with pytest.raises(ConfigError, match="LOGREG_THREADS"):
        parallel.thread_count()


def test_map_keeps_order_and_nests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "4")

    def inner(value: int) -> list[int]:
        return list(parallel.map_in_threads(lambda x: x * value, range(5)))

    results = list(parallel.map_in_threads(inner, range(10)))
    assert results == [[x * value for x in range(5)] for value in range(10)]


def test_map_queues_at_most_two_items_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "2")
    started = []
    results = parallel.map_in_threads(lambda x: started.append(x) or x, range(50))
    assert next(results) == 0
    # The first result is handed over once 2 threads x 2 items were submitted, and not before.
    assert len(started) <= 4
    assert list(results) == list(range(1, 50))


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.integers(0, 3000), elements=st.integers(-50, 50)), st.integers(1, 5))
def test_sort_in_threads_matches_sort(values: np.ndarray, threads: int) -> None:
    expected = np.sort(values)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOGREG_THREADS", str(threads))
        patch.setattr(parallel, "_MIN_PARALLEL_SORT", 0)
        parallel.sort_in_threads(values)
    np.testing.assert_array_equal(values, expected)


@settings(max_examples=80, deadline=None)
@given(arrays(np.uint32, st.integers(0, 3000),
              elements=st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 65535, 65536, 2**32 - 1])))
def test_sort_keys_sorts_uint32_by_halves(values: np.ndarray) -> None:
    expected = np.sort(values)

    parallel.sort_keys(values)

    np.testing.assert_array_equal(values, expected)


def test_sort_keys_other_arrays_fall_back_to_sort() -> None:
    strided = np.array([5, 0, 3, 0, 1, 0, 2**32 - 1, 0], dtype=np.uint32)[::2]
    large = np.random.default_rng(0).integers(0, 2**32, (1 << 20) + 1, dtype=np.uint32)
    signed = np.array([3, -1, 2], dtype=np.int64)
    for values in (strided, large, signed):
        expected = np.sort(values)
        parallel.sort_keys(values)
        np.testing.assert_array_equal(values, expected)


def test_transform_same_with_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["the cat sat on the mat", "dogs don't like 3.14 cats", "naïve café owners", "c++ and c# code"]
    documents = [f"{base[index % 4]} {index % 7}" for index in range(2 * TRANSFORM_CHUNK + 5)]
    featurizer = Featurizer(FeaturizerConfig(ngram_max=3)).fit(documents[:50])
    results = []
    for threads in ("1", "2"):
        monkeypatch.setenv("LOGREG_THREADS", threads)
        results.append(featurizer.transform(documents))
    single, threaded = results
    np.testing.assert_array_equal(single.indptr, threaded.indptr)
    np.testing.assert_array_equal(single.indices, threaded.indices)
    np.testing.assert_array_equal(single.data, threaded.data)


def test_training_same_with_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from logreg_cli.config import TrainerConfig
    from logreg_cli.train import initial_weights, train

    rng = np.random.default_rng(0)
    words = np.array([f"w{index}" for index in range(500)])
    documents = [" ".join(rng.choice(words, 60)) for _ in range(3000)]
    y = np.array([int(document.count("w1 ") > document.count("w2 ")) for document in documents])
    X = Featurizer(FeaturizerConfig(ngram_max=2)).fit_transform(documents)
    assert X.nnz > 2**18  # large enough for the threaded products
    results = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("LOGREG_THREADS", threads)
        for method in ("lbfgs", "adagrad"):
            settings = TrainerConfig(method=method, learning_rate=0.5, max_epochs=4, l2=1e-4, patience=0)
            results.append(train(X, y, initial_weights(X.n_columns, 2, "binary"), settings).weights)
    for threads_index in (1, 2):
        for method_index in (0, 1):
            np.testing.assert_array_equal(results[2 * threads_index + method_index], results[method_index])


def test_prefetch_keeps_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "2")
    threads = []

    def items():
        for value in range(20):
            threads.append(threading.current_thread().name)
            yield value

    assert list(parallel.prefetch(items())) == list(range(20))
    assert all(name.startswith("logreg-prefetch") for name in threads)


def test_prefetch_one_thread_runs_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "1")
    threads = []

    def items():
        for value in range(3):
            threads.append(threading.current_thread())
            yield value

    assert list(parallel.prefetch(items())) == [0, 1, 2]
    assert threads == [threading.current_thread()] * 3


def test_prefetch_raises_item_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "2")

    def items():
        yield 1
        raise ConfigError("line 2 is malformed")

    results = parallel.prefetch(items())
    assert next(results) == 1
    with pytest.raises(ConfigError, match="line 2 is malformed"):
        next(results)


def test_prefetch_closes_on_early_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGREG_THREADS", "2")
    events = []

    def items():
        try:
            for value in range(100):
                events.append(value)
                yield value
        finally:
            events.append("closed")

    results = parallel.prefetch(items())
    assert next(results) == 0
    results.close()
    # Item 1 is either not started (and cancelled) or finished before the source is closed.
    assert events in ([0, "closed"], [0, 1, "closed"])
