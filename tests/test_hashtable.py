"""The NumPy hash table finds every inserted key and no other."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logreg_cli import hashtable
from logreg_cli.hashtable import IdTable, factorize, scramble


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**40), max_size=300, unique=True), min_size=1, max_size=4), st.integers(1, 6))
def test_inserts_then_lookups(batches: list[list[int]], bits: int) -> None:
    table = IdTable(bits=bits)
    inserted: dict[int, int] = {}
    for batch in batches:
        new = [key for key in batch if key not in inserted]
        table.insert(scramble(np.array(new, dtype=np.int64)))
        for key in new:
            inserted[key] = len(inserted)
    keys = np.array(sorted(inserted) + [2**41, 2**41 + 1], dtype=np.int64)
    expected = np.array([inserted.get(key, -1) for key in keys.tolist()])
    np.testing.assert_array_equal(table.lookup(scramble(keys)), expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**12 - 1), max_size=300, unique=True), min_size=1, max_size=4), st.integers(1, 6))
def test_sorted_inserts_with_shared_first_slots(batches: list[list[int]], bits: int) -> None:
    # Sorted hashes take the path without np.unique. Keys of 12 bits in the top bits share first slots.
    table = IdTable(bits=bits)
    inserted: dict[int, int] = {}
    for batch in batches:
        new = sorted(key for key in batch if key not in inserted)
        table.insert(np.array(new, dtype=np.uint64) << np.uint64(52) | np.uint64(1))
        for key in new:
            inserted[key] = len(inserted)
    keys = np.arange(2**12, dtype=np.uint64)
    expected = np.array([inserted.get(key, -1) for key in keys.tolist()])
    np.testing.assert_array_equal(table.lookup(keys << np.uint64(52) | np.uint64(1)), expected)


def test_colliding_first_slots() -> None:
    # Hashes whose top bits are equal share a first slot, and some wrap past the last slot.
    hashes = (np.arange(40, dtype=np.uint64) | np.uint64(0xFFFF000000000000))
    table = IdTable(bits=4)
    table.insert(hashes[:20])
    table.insert(hashes[20:])
    np.testing.assert_array_equal(table.lookup(hashes), np.arange(40))
    assert table.lookup(np.array([7], dtype=np.uint64))[0] == -1


def test_scramble_is_one_to_one() -> None:
    keys = np.arange(100_000, dtype=np.int64)
    assert np.unique(scramble(keys)).size == keys.size


def expected_numbers(values: list[int]) -> tuple[list[int], list[int]]:
    """Return the numbers in order of first appearance and the first positions, by a dict."""
    seen: dict[int, int] = {}
    firsts = []
    for position, value in enumerate(values):
        if value not in seen:
            seen[value] = len(seen)
            firsts.append(position)
    return [seen[value] for value in values], firsts


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=500))
def test_factorize_scrambled_duplicates(values: list[int]) -> None:
    numbers, firsts = factorize(scramble(np.array(values, dtype=np.int64)))
    expected, expected_firsts = expected_numbers(values)
    np.testing.assert_array_equal(numbers, expected)
    np.testing.assert_array_equal(firsts, expected_firsts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**6 - 1), max_size=500))
def test_factorize_shared_first_slots(values: list[int]) -> None:
    # Keys that differ only in their low bits all want the same first slot, so most of them probe on.
    hashes = np.array(values, dtype=np.uint64) | np.uint64(1 << 60)
    numbers, firsts = factorize(hashes)
    expected, expected_firsts = expected_numbers(values)
    np.testing.assert_array_equal(numbers, expected)
    np.testing.assert_array_equal(firsts, expected_firsts)


def test_factorize_wraps_past_last_slot() -> None:
    # Hashes whose first slot is the last one probe on from slot 0.
    hashes = np.array([2**64 - 1, 2**64 - 2, 2**64 - 1, 5, 2**64 - 3], dtype=np.uint64)
    numbers, firsts = factorize(hashes)
    np.testing.assert_array_equal(numbers, [0, 1, 0, 2, 3])
    np.testing.assert_array_equal(firsts, [0, 1, 3, 4])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**5 - 1), max_size=300))
def test_stable_order_matches_argsort(slots: list[int]) -> None:
    values = np.array(slots, dtype=np.intp)
    np.testing.assert_array_equal(hashtable._stable_order(values, 5), np.argsort(values, kind="stable"))
