"""The tokens of a corpus as integer arrays, and the pieces n-gram features are built from.

A :class:`TokenStream` holds every token of every document in one array of
integer ids, so that word n-grams can be formed with NumPy arithmetic on ids
instead of joining strings in Python. Character n-grams are computed once per
distinct token and spread over the documents by array indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

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

    def chunks(self, max_positions: int = CHUNK_POSITIONS) -> Iterator[tuple[int, TokenStream]]:
        """Yield ``(first_document, stream)`` for consecutive groups of whole documents.

        Each group holds at most ``max_positions`` tokens, unless one document alone holds more.
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
            yield start, piece
            start = stop

    def ngram_starts(self, starts: np.ndarray, n: int) -> np.ndarray:
        """Return the positions of ``starts`` where an n-gram fits inside the document."""
        starts = starts[starts + (n - 1) < self.ids.size]
        return starts[self.rows[starts + (n - 1)] == self.rows[starts]]

    def document_token_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(rows, ids, counts)`` of the distinct (document, token) pairs, sorted by row then id."""
        n_tokens = max(len(self.tokens), 1)
        keys, counts = np.unique(self.rows * n_tokens + self.ids, return_counts=True)
        rows, ids = np.divmod(keys, n_tokens)
        return rows, ids, counts


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
    id_array = np.array(ids, dtype=INDEX_DTYPE)
    known = id_array >= 0
    if not known.all():
        owner = np.repeat(np.arange(len(tokens), dtype=INDEX_DTYPE), counts[1:])
        counts[1:] = np.bincount(owner[known], minlength=len(tokens))
        id_array = id_array[known]
    return np.cumsum(counts), id_array


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
    if weights is None:
        keys, values = np.unique(keys, return_counts=True)
        values = values.astype(np.float64)
    else:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if keys.size else np.zeros(0, dtype=INDEX_DTYPE)
        values = np.add.reduceat(np.asarray(weights, dtype=np.float64)[order], starts) if keys.size else np.zeros(0)
        keys = keys[starts]
    out_rows, out_columns = np.divmod(keys, n_columns)
    return out_rows, out_columns, values


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
