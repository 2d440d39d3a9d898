"""A small compressed sparse row (CSR) matrix in NumPy.

Only what featurizing and training need: products with dense weights, row
gathers for shuffling and batches, and stacking. The arrays follow the layout
of ``scipy.sparse.csr_matrix`` (``data``, ``indices``, ``indptr``, ``shape``),
so ``scipy.sparse.load_npz`` opens the features files we write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from logreg_cli.parallel import map_in_threads, run_in_threads

INDEX_DTYPE = np.int64
# Stored values times weight columns multiplied at once in ``dot``: bounds its temporary memory (8 bytes each).
DOT_BLOCK_VALUES = 1 << 20
# Below this many stored values, threads cost more than they save (a minibatch step, for one).
PARALLEL_MIN_VALUES = 1 << 18
# Ranges of stored values that ``transpose_dot`` sums separately (on threads) for a large matrix.
# Each range computes the products of this many stored values at once, which bounds its temporary memory.
TRANSPOSE_DOT_RANGES = 2
TRANSPOSE_DOT_STEP = 1 << 20
# From this many rows per batch on, ``row_batches`` gathers each batch's rows instead of making a
# shuffled copy of the whole matrix, which spares that copy's memory.
GATHER_MIN_BATCH = 8


def distinct_with_inverse(values: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct entries of ``values`` and the position of each entry among them.

    Does what ``np.unique(values, return_inverse=True)`` does, but without
    sorting, through ``scratch``: an int32 or int64 array with a slot for
    every possible value, which the call overwrites. The distinct entries
    come in no particular order. A batch of AdaGrad on IMDb bigrams spent
    0.8 ms of a 1.9 ms step in ``np.unique``, and about 0.2 ms here. An int32
    ``scratch`` is half the memory to touch: 0.08 ms instead of 0.13 ms for
    its two passes over 23,000 values at random places among 2^21 slots.
    """
    if values.size > np.iinfo(scratch.dtype).max:
        return np.unique(values, return_inverse=True)
    positions = np.arange(values.size, dtype=scratch.dtype)
    scratch[values] = positions
    # After the scatter each distinct value's slot contains the position of its last occurrence.
    last = scratch[values]
    is_last = last == positions
    # The rank of each last occurrence among them is its value's position among the distinct entries.
    # Ranking the small positions array spares a second scatter into the large scratch array.
    ranks = np.cumsum(is_last)
    ranks -= 1
    return values[is_last], ranks[last]


def _width(weights: np.ndarray) -> int:
    return 1 if weights.ndim == 1 else weights.shape[1]


@dataclass
class CSRMatrix:
    """Sparse matrix of shape ``(n_rows, n_columns)`` in CSR layout.

    Row ``i`` holds the values ``data[indptr[i]:indptr[i + 1]]`` in the columns
    ``indices[indptr[i]:indptr[i + 1]]``. Column indices within a row are
    sorted and unique.
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]
    _row_ids: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return self.shape[0]

    @property
    def n_columns(self) -> int:
        return self.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1] - self.indptr[0])

    def row_ids(self) -> np.ndarray:
        """Return the row index of every stored value, shape ``(nnz,)``, and keep it for the next call."""
        if self._row_ids is None:
            self._row_ids = np.repeat(np.arange(self.n_rows, dtype=INDEX_DTYPE), np.diff(self.indptr))
        return self._row_ids

    def rows_of_values(self, begin: int, end: int) -> np.ndarray:
        """Return the row index of the stored values at positions ``begin`` to ``end - 1``, not kept.

        For a large matrix, the products over all values use this range by
        range instead of :meth:`row_ids`, whose cached array of 8 bytes per
        value (65 MB for IMDb's bigrams) would last as long as the matrix.
        """
        first = int(np.searchsorted(self.indptr, begin, side="right")) - 1
        last = int(np.searchsorted(self.indptr, end, side="left"))
        bounds = np.clip(self.indptr[first : last + 1], begin, end)
        return np.repeat(np.arange(first, last, dtype=INDEX_DTYPE), np.diff(bounds))

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """Multiply by dense ``weights`` of shape ``(n_columns,)`` or ``(n_columns, k)``.

        Blocks of rows run on several threads. For a large matrix and k
        columns, the product is one 1-D ``reduceat`` per column of ``weights``
        over a transposed copy of them, which took 0.11 s where one 2-D
        ``reduceat`` over ``(n_values, k)`` products took 0.17 s (one thread,
        1.9 million values, k = 20), with the same sums. A small matrix, such
        as one minibatch against the full weights, keeps the 2-D form,
        because copying the weights would cost more.
        """
        out = np.zeros((self.n_rows,) + weights.shape[1:], dtype=np.result_type(self.data, weights))
        by_label = None
        if weights.ndim == 2 and self.nnz >= PARALLEL_MIN_VALUES:
            by_label = np.ascontiguousarray(weights.T)
        # Rows go in blocks so that the products of a block stay small.
        width = 1 if by_label is not None else _width(weights)
        block_rows = max(1, int(self.n_rows * DOT_BLOCK_VALUES / max(1, self.nnz * width)))

        def multiply(start: int) -> None:
            stop = min(start + block_rows, self.n_rows)
            begin, end = self.indptr[start], self.indptr[stop]
            if begin == end:
                return
            data, indices = self.data[begin:end], self.indices[begin:end]
            starts = self.indptr[start:stop] - begin
            non_empty = self.indptr[start:stop] < self.indptr[start + 1 : stop + 1]
            # reduceat on an empty segment returns the next element instead of 0, so empty rows are skipped.
            if by_label is not None:
                rows = out[start:stop]
                for label, label_weights in enumerate(by_label):  # a loop over labels, not over documents
                    products = label_weights[indices]
                    products *= data  # in place: one temporary array instead of two
                    rows[non_empty, label] = np.add.reduceat(products, starts[non_empty])
                return
            products = weights[indices]
            products *= data if weights.ndim == 1 else data[:, None]
            out[start:stop][non_empty] = np.add.reduceat(products, starts[non_empty], axis=0)

        run_in_threads(multiply, range(0, self.n_rows, block_rows))
        return out

    def transpose_dot(self, values: np.ndarray) -> np.ndarray:
        """Return ``X.T @ values`` for dense ``values`` of shape ``(n_rows,)`` or ``(n_rows, k)``.

        For a large matrix the columns of ``values`` (labels) are summed on several threads at once.
        """
        small = self.nnz < PARALLEL_MIN_VALUES
        if values.ndim == 1:
            if small:
                return np.bincount(self.indices, weights=self.data * values[self.row_ids()], minlength=self.n_columns)
            # Each thread sums the products of a range of stored values into its own output, a step of
            # values at a time, and the ranges' sums are added. The ranges and steps do not depend on
            # the number of threads, so neither does the rounding.
            bounds = np.linspace(self.indptr[0], self.indptr[-1], TRANSPOSE_DOT_RANGES + 1).astype(INDEX_DTYPE)

            def range_sums(piece: tuple[int, int]) -> np.ndarray:
                sums = np.zeros(self.n_columns)
                for begin in range(piece[0], piece[1], TRANSPOSE_DOT_STEP):
                    end = min(begin + TRANSPOSE_DOT_STEP, piece[1])
                    products = values[self.rows_of_values(begin, end)]
                    products *= self.data[begin:end]
                    np.add.at(sums, self.indices[begin:end], products)
                return sums

            total, *rest = map_in_threads(range_sums, list(zip(bounds[:-1].tolist(), bounds[1:].tolist())))
            for sums in rest:
                total += sums
            return total
        rows = self.row_ids() if small else self.rows_of_values(int(self.indptr[0]), int(self.indptr[-1]))
        by_label = np.ascontiguousarray(values.T)

        def label_sums(label: int) -> np.ndarray:
            return np.bincount(self.indices, weights=self.data * by_label[label][rows], minlength=self.n_columns)

        # A loop over labels, not over documents. Threads pay off only for a large matrix.
        run = map if small else map_in_threads
        return np.stack(list(run(label_sums, range(values.shape[1]))), axis=1)

    def transpose_dot_compact(self, values: np.ndarray,
                              scratch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(columns, X.T @ values)`` restricted to the columns that hold a value.

        Cheaper than ``transpose_dot`` when a batch touches few of many
        columns. The product has one row per entry of ``columns``. Without
        ``scratch``, ``columns`` is sorted. With ``scratch``, an int32 or int64 array
        of ``n_columns`` entries that the call overwrites, the columns are
        found without sorting and come in no particular order.
        """
        if scratch is None:
            columns, inverse = np.unique(self.indices, return_inverse=True)
        else:
            columns, inverse = distinct_with_inverse(self.indices, scratch)
        rows = self.row_ids()
        if values.ndim == 1:
            return columns, np.bincount(inverse, weights=self.data * values[rows], minlength=columns.size)
        out = np.empty((columns.size, values.shape[1]), dtype=np.float64)
        for column in range(values.shape[1]):
            out[:, column] = np.bincount(inverse, weights=self.data * values[rows, column], minlength=columns.size)
        return columns, out

    def row_batches(self, order: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, CSRMatrix]]:
        """Yield ``(rows, batch)``: consecutive ``batch_size`` entries of ``order`` and those rows of the matrix.

        With fewer than ``GATHER_MIN_BATCH`` rows per batch, one shuffled copy
        of the matrix costs less than a gather per batch, so the batches are
        slices of that copy.
        """
        shuffled = self.take_rows(order) if batch_size < GATHER_MIN_BATCH else None
        for start in range(0, order.size, batch_size):
            rows = order[start : start + batch_size]
            yield rows, shuffled.slice_rows(start, start + batch_size) if shuffled is not None else self.take_rows(rows)

    def take_rows(self, rows: np.ndarray) -> CSRMatrix:
        """Return the rows listed in ``rows``, in that order."""
        rows = np.asarray(rows, dtype=INDEX_DTYPE)
        lengths = (self.indptr[rows + 1] - self.indptr[rows]).astype(INDEX_DTYPE)
        indptr = np.zeros(rows.size + 1, dtype=INDEX_DTYPE)
        np.cumsum(lengths, out=indptr[1:])
        # Position of every gathered value in the old arrays: its row's old start plus its offset in the row.
        positions = np.repeat(self.indptr[rows] - indptr[:-1], lengths) + np.arange(indptr[-1], dtype=INDEX_DTYPE)
        return CSRMatrix(self.data[positions], self.indices[positions], indptr, (rows.size, self.n_columns))

    def slice_rows(self, start: int, stop: int) -> CSRMatrix:
        """Return rows ``start`` to ``stop - 1`` without copying the values."""
        stop = min(stop, self.n_rows)
        begin, end = self.indptr[start], self.indptr[stop]
        indptr = self.indptr[start : stop + 1] - begin
        return CSRMatrix(self.data[begin:end], self.indices[begin:end], indptr, (stop - start, self.n_columns))

    def row_norms(self, skip_first_column: bool = False) -> np.ndarray:
        """Return the Euclidean norm of every row, shape ``(n_rows,)``."""
        squares = self.data**2
        if skip_first_column:
            squares = np.where(self.indices == 0, 0.0, squares)
        out = np.zeros(self.n_rows)
        non_empty = self.indptr[:-1] < self.indptr[1:]
        if squares.size:
            out[non_empty] = np.add.reduceat(squares, self.indptr[:-1][non_empty])
        return np.sqrt(out)

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.data.dtype)
        dense[self.row_ids(), self.indices] = self.data
        return dense

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> CSRMatrix:
        dense = np.asarray(dense, dtype=np.float64)
        rows, columns = np.nonzero(dense)
        indptr = np.zeros(dense.shape[0] + 1, dtype=INDEX_DTYPE)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return cls(dense[rows, columns], columns.astype(INDEX_DTYPE), indptr, dense.shape)

    @classmethod
    def vstack(cls, blocks: Iterable[CSRMatrix], *, n_blocks: int | None = None) -> CSRMatrix:
        """Stack matrices with the same number of columns on top of each other, as they arrive.

        ``blocks`` may be a generator, so that no block has to be kept once it
        is copied: with a list of blocks and a concatenated copy, the matrix
        would exist twice. Each block is copied into arrays sized for
        ``n_blocks`` blocks like the first one (default: ``len(blocks)``).
        Pages of ``np.empty`` that are never written take no memory, and
        ``ndarray.resize`` trims the arrays at the end or grows them by a
        quarter when the guess falls short.
        """
        if n_blocks is None:
            n_blocks = len(blocks)
        data = indices = None
        indptr_pieces = [np.zeros(1, dtype=INDEX_DTYPE)]
        n_rows = n_columns = size = 0
        for block in blocks:
            start, stop = int(block.indptr[0]), int(block.indptr[-1])
            nnz = stop - start
            if data is None:
                capacity = max(nnz * n_blocks + nnz // 8, 1)
                data, indices = np.empty(capacity), np.empty(capacity, dtype=INDEX_DTYPE)
                n_columns = block.n_columns
            elif size + nnz > data.size:
                capacity = max(size + nnz, data.size + data.size // 4)
                data.resize(capacity, refcheck=False)
                indices.resize(capacity, refcheck=False)
            data[size : size + nnz] = block.data[start:stop]
            indices[size : size + nnz] = block.indices[start:stop]
            indptr_pieces.append(block.indptr[1:] - start + size)
            size += nnz
            n_rows += block.n_rows
            del block  # so that the block is freed while the next one is computed
        if data is None:
            raise ValueError("vstack needs at least one matrix")
        data.resize(size, refcheck=False)
        indices.resize(size, refcheck=False)
        return cls(data, indices, np.concatenate(indptr_pieces).astype(INDEX_DTYPE, copy=False), (n_rows, n_columns))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays in the layout that ``scipy.sparse.save_npz`` writes."""
        return {
            "format": np.array(b"csr"),
            "shape": np.array(self.shape, dtype=np.int64),
            "data": self.data,
            "indices": self.indices,
            "indptr": self.indptr,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> CSRMatrix:
        shape = tuple(int(n) for n in arrays["shape"])
        return cls(
            np.asarray(arrays["data"], dtype=np.float64),
            np.asarray(arrays["indices"], dtype=INDEX_DTYPE),
            np.asarray(arrays["indptr"], dtype=INDEX_DTYPE),
            (shape[0], shape[1]),
        )
