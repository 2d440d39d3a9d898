"""The tokens of a corpus as integer arrays, and the pieces n-gram features are built from.

A :class:`TokenStream` stores every token of every document in one array of
integer ids, so that word n-grams can be formed with NumPy arithmetic on ids
instead of joining strings in Python. Character n-grams are computed once per
distinct token and spread over the documents by array indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from logreg_cli.parallel import sort_in_threads
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix

# Token positions per chunk when a matrix is built chunk by chunk: bounds the
# temporary arrays (a few int64 arrays of this length per n-gram length).
CHUNK_POSITIONS = 1 << 22


@dataclass
class TokenStream:
    """All tokens of a corpus, document after document.

    Attributes
    ----------
    tokens : list of str
        The distinct tokens, in code point order.
    ids : ndarray, shape (n_positions,)
        Index into ``tokens`` of every token occurrence.
    rows : ndarray, shape (n_positions,)
        Document index of every token occurrence, non-decreasing.
    lengths : ndarray, shape (n_documents,)
        Number of tokens of each document.
    """

    tokens: list[str]
    ids: np.ndarray
    rows: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_token_lists(cls, token_lists: Sequence[Sequence[str]]) -> TokenStream:
        """Build the stream of tokenized documents (one list of tokens per document)."""
        n_documents = len(token_lists)
        lengths = np.fromiter(map(len, token_lists), dtype=INDEX_DTYPE, count=n_documents)
        flat = list(chain.from_iterable(token_lists))
        # set() and the dict lookups through map() run in C; sorting the distinct tokens
        # makes ids independent of PYTHONHASHSEED and gives the tie order of the vocabulary.
        tokens = sorted(set(flat))
        index = dict(zip(tokens, range(len(tokens))))
        ids = np.fromiter(map(index.__getitem__, flat), dtype=INDEX_DTYPE, count=len(flat))
        rows = np.repeat(np.arange(n_documents, dtype=INDEX_DTYPE), lengths)
        return cls(tokens, ids, rows, lengths)

    @property
    def n_documents(self) -> int:
        return int(self.lengths.size)

    def without(self, words: Collection[str]) -> TokenStream:
        """Return the stream with every occurrence of ``words`` removed."""
        if not words:
            return self
        dropped = np.fromiter((token in words for token in self.tokens), dtype=bool, count=len(self.tokens))
        if not dropped.any():
            return self
        kept = ~dropped[self.ids]
        rows = self.rows[kept]
        lengths = np.bincount(rows, minlength=self.n_documents).astype(INDEX_DTYPE)
        return TokenStream(self.tokens, self.ids[kept], rows, lengths)

    def chunks(self, max_positions: int = CHUNK_POSITIONS) -> Iterator[tuple[int, int, TokenStream]]:
        """Yield ``(first_document, first_position, stream)`` for consecutive groups of whole documents.

        Each group contains at most ``max_positions`` tokens, unless one document alone contains more.
        """
        ends = np.cumsum(self.lengths)
        start = 0
        while start < self.n_documents:
            begin = int(ends[start - 1]) if start else 0
            stop = int(np.searchsorted(ends, begin + max_positions, side="right"))
            stop = max(stop, start + 1)
            end = int(ends[stop - 1])
            piece = TokenStream(self.tokens, self.ids[begin:end], self.rows[begin:end] - start,
                                self.lengths[start:stop])
            yield start, begin, piece
            start = stop

    def ngram_starts(self, starts: np.ndarray, n: int) -> np.ndarray:
        """Return the positions of ``starts`` where an n-gram fits inside the document."""
        return ngram_starts(self.rows, starts, n)

    def document_token_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(rows, ids, counts)`` of the distinct (document, token) pairs, sorted by row then id."""
        n_tokens = max(len(self.tokens), 1)
        keys = np.sort(self.rows * n_tokens + self.ids)
        starts = first_of_runs(keys)
        counts = run_lengths(starts, keys.size)
        rows, ids = np.divmod(keys[starts], n_tokens)
        return rows, ids, counts


def ngram_starts(rows: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Return the positions of ``starts`` where an n-gram fits inside the document; ``rows`` is each position's document."""
    starts = starts[starts + (n - 1) < rows.size]
    return starts[rows[starts + (n - 1)] == rows[starts]]


def char_ngrams(token: str, n_min: int, n_max: int) -> list[str]:
    """Return the character n-grams of ``token`` padded with one space on both sides.

    For each length n from ``n_min`` to ``n_max`` every n characters in a row
    of " token " give one n-gram, repeats included. A padded token of n
    characters or fewer gives itself once, and longer n are skipped, so " a "
    with lengths 2 to 5 gives " a", "a " and " a ".
    """
    padded = f" {token} "
    size = len(padded)
    grams: list[str] = []
    for n in range(n_min, n_max + 1):
        if n >= size:
            grams.append(padded)
            break
        grams.extend([padded[start : start + n] for start in range(size - n + 1)])
    return grams


def char_ngram_table(tokens: Sequence[str], n_min: int, n_max: int,
                     lookup: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray]:
    """Map each token to the ids of its character n-grams.

    ``lookup`` turns an n-gram into an id, or -1 to leave it out. Returns
    ``(indptr, ids)`` in CSR layout: the ids of token ``i`` are
    ``ids[indptr[i]:indptr[i + 1]]``, repeats included.
    """
    ids: list[int] = []
    counts = np.zeros(len(tokens) + 1, dtype=INDEX_DTYPE)
    for position, token in enumerate(tokens, start=1):
        before = len(ids)
        ids.extend(map(lookup, char_ngrams(token, n_min, n_max)))
        counts[position] = len(ids) - before
    return compact_table(np.cumsum(counts), np.array(ids, dtype=INDEX_DTYPE))


def compact_table(indptr: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the -1 entries of a CSR table ``(indptr, values)`` and return the new table."""
    known = values >= 0
    if known.all():
        return indptr, values
    n_keys = indptr.size - 1
    owner = np.repeat(np.arange(n_keys, dtype=INDEX_DTYPE), np.diff(indptr))
    new_indptr = np.zeros(n_keys + 1, dtype=INDEX_DTYPE)
    np.cumsum(np.bincount(owner[known], minlength=n_keys), out=new_indptr[1:])
    return new_indptr, values[known]


def expand_rows(rows: np.ndarray, keys: np.ndarray, weights: np.ndarray, indptr: np.ndarray,
                values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace every ``(row, key, weight)`` by one entry per value of ``key`` in a CSR table.

    Returns ``(rows, values, weights)``, where each output entry repeats the
    row and weight of the entry it came from.
    """
    sizes = indptr[keys + 1] - indptr[keys]
    total = int(sizes.sum())
    out_rows = np.repeat(rows, sizes)
    out_weights = np.repeat(weights, sizes)
    # Position in ``values`` of every output entry: the start of its key's run plus its offset in the run.
    offsets = np.repeat(indptr[keys] - (np.cumsum(sizes) - sizes), sizes) + np.arange(total, dtype=INDEX_DTYPE)
    return out_rows, values[offsets], out_weights


def sum_entries(rows: np.ndarray, columns: np.ndarray, weights: np.ndarray | None, n_rows: int,
                n_columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum entries that share a (row, column) and sort them by row, then column.

    ``weights`` None counts each entry as 1. Returns ``(rows, columns, values)``.
    """
    keys = rows * n_columns + columns
    if keys.size == 0:
        return keys, keys, np.zeros(0)
    if weights is None:
        keys = np.sort(keys)
        starts = first_of_runs(keys)
        values = run_lengths(starts, keys.size).astype(np.float64)
    else:
        order = np.argsort(keys)
        keys = keys[order]
        starts = first_of_runs(keys)
        values = np.add.reduceat(np.asarray(weights, dtype=np.float64)[order], starts)
    keys = keys[starts]
    out_rows, out_columns = np.divmod(keys, n_columns)
    return out_rows, out_columns, values


def first_of_runs(values: np.ndarray) -> np.ndarray:
    """Return the index where each run of equal neighbours in ``values`` starts."""
    if values.size == 0:
        return np.zeros(0, dtype=INDEX_DTYPE)
    changed = np.empty(values.size, dtype=bool)
    changed[0] = True
    np.not_equal(values[1:], values[:-1], out=changed[1:])
    return np.flatnonzero(changed)


def run_lengths(starts: np.ndarray, total: int) -> np.ndarray:
    """Return the length of each run, given where the runs start among ``total`` values."""
    lengths = np.empty(starts.size, dtype=INDEX_DTYPE)
    if starts.size:
        np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
        lengths[-1] = total - starts[-1]
    return lengths


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Return the distinct values, sorted.

    ``np.unique`` without return options takes a hash-table path in NumPy 2.4,
    which took 1.7 s where this took 0.07 s (1.4 million distinct int64 keys,
    NumPy 2.4.6, one core of a shared AMD EPYC virtual machine).
    """
    values = np.sort(values)
    return values[first_of_runs(values)]


def entries_to_csr(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_rows: int, n_columns: int) -> CSRMatrix:
    """Join ``(rows, columns, values)`` pieces, sorted and in row order, into one CSR matrix."""
    if pieces:
        rows = np.concatenate([piece[0] for piece in pieces])
        columns = np.concatenate([piece[1] for piece in pieces]).astype(INDEX_DTYPE, copy=False)
        values = np.concatenate([piece[2] for piece in pieces]).astype(np.float64, copy=False)
    else:
        rows = columns = np.zeros(0, dtype=INDEX_DTYPE)
        values = np.zeros(0)
    indptr = np.zeros(n_rows + 1, dtype=INDEX_DTYPE)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return CSRMatrix(values, columns, indptr, (n_rows, n_columns))


def sorted_csr(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_rows: int, n_columns: int) -> CSRMatrix:
    """Build a CSR matrix, columns ascending in each row, from pieces of distinct (row, column) entries.

    Each piece is ``(rows, columns, counts)`` with non-negative integer
    counts, and no (row, column) may appear twice. When row, column and count
    fit in 63 bits side by side, one ``np.sort`` of the packed entries orders
    them and carries the counts along. For the 9 million entries of IMDb's
    word bigrams that took 1.1 s where regrouping the pairs by column and a
    stable radix sort by row took 1.8 s (both under line_profiler). Fresh
    memory is slow to touch on some virtual machines, so the packed array is
    reused for the column indices.
    """
    total = sum(piece[0].size for piece in pieces)
    indptr = np.zeros(n_rows + 1, dtype=INDEX_DTYPE)
    row_counts = np.zeros(n_rows, dtype=INDEX_DTYPE)
    for rows, _, _ in pieces:
        row_counts += np.bincount(rows, minlength=n_rows)
    np.cumsum(row_counts, out=indptr[1:])
    column_bits = max(n_columns - 1, 0).bit_length()
    count_bits = max((int(counts.max()).bit_length() for _, _, counts in pieces if counts.size), default=0)
    if max(n_rows - 1, 0).bit_length() + column_bits + count_bits > 63:
        rows, columns, counts = (np.concatenate(parts) for parts in zip(*pieces))
        order = np.lexsort((columns, rows))
        return CSRMatrix(counts[order].astype(np.float64), columns[order].astype(INDEX_DTYPE), indptr, (n_rows, n_columns))
    packed = np.empty(total, dtype=np.int64)
    offset = 0
    for rows, columns, counts in pieces:
        view = packed[offset : offset + rows.size]
        np.left_shift(rows, column_bits + count_bits, out=view)
        view |= columns << count_bits
        view |= counts
        offset += rows.size
    sort_in_threads(packed)
    values = np.empty(total)
    np.bitwise_and(packed, (1 << count_bits) - 1, out=values, casting="unsafe")
    packed >>= count_bits
    packed &= (1 << column_bits) - 1
    return CSRMatrix(values, packed, indptr, (n_rows, n_columns))


def count_entries(rows: np.ndarray, columns: np.ndarray, extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                  n_rows: int, n_columns: int) -> CSRMatrix:
    """Count repeated (row, column) entries into a CSR matrix, columns ascending in each row.

    ``extra`` adds ``(rows, columns, counts)`` of distinct entries whose
    columns no entry of ``columns`` uses.
    """
    column_bits = max(n_columns - 1, 0).bit_length()
    width = max(n_rows - 1, 0).bit_length() + column_bits
    if width > 63:
        rows, columns, counts = sum_entries(rows, columns, None, n_rows, n_columns)
    else:
        # 32-bit keys sort about 1.6 times as fast as 64-bit ones (3.4 million keys: 0.12 s against 0.20 s).
        packed = (rows << column_bits) | columns
        if width <= 32:
            packed = packed.astype(np.uint32)
        sort_in_threads(packed)
        starts = first_of_runs(packed)
        counts = run_lengths(starts, packed.size)
        packed = packed[starts].astype(np.int64)
        rows, columns = packed >> column_bits, packed & ((1 << column_bits) - 1)
    if extra is None:
        # The entries are sorted by row, then column, already.
        indptr = np.zeros(n_rows + 1, dtype=INDEX_DTYPE)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return CSRMatrix(counts.astype(np.float64), columns.astype(INDEX_DTYPE), indptr, (n_rows, n_columns))
    return sorted_csr([(rows, columns, counts), (extra[0], extra[1], np.asarray(extra[2]).astype(INDEX_DTYPE))],
                      n_rows, n_columns)
