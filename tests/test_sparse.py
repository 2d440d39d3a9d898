"""The CSR matrix against dense NumPy arithmetic and scipy's file layout."""

import numpy as np
import pytest

from logreg_cli.io import load_arrays, save_arrays
from logreg_cli.sparse import CSRMatrix, distinct_with_inverse


@pytest.fixture
def dense():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(9, 7)) * (rng.random((9, 7)) < 0.35)
    values[4] = 0.0  # an empty row
    return values


def test_dot_matches_dense(dense):
    X = CSRMatrix.from_dense(dense)
    rng = np.random.default_rng(1)
    vector, matrix = rng.normal(size=7), rng.normal(size=(7, 3))
    assert X.dot(vector) == pytest.approx(dense @ vector, abs=1e-12)
    assert X.dot(matrix) == pytest.approx(dense @ matrix, abs=1e-12)


def test_transpose_dot_matches_dense(dense):
    X = CSRMatrix.from_dense(dense)
    rng = np.random.default_rng(2)
    vector, matrix = rng.normal(size=9), rng.normal(size=(9, 3))
    assert X.transpose_dot(vector) == pytest.approx(dense.T @ vector, abs=1e-12)
    assert X.transpose_dot(matrix) == pytest.approx(dense.T @ matrix, abs=1e-12)
    columns, compact = X.transpose_dot_compact(matrix)
    assert compact == pytest.approx((dense.T @ matrix)[columns], abs=1e-12)
    assert set(columns.tolist()) == set(np.flatnonzero(np.any(dense != 0, axis=0)).tolist())


def test_take_and_slice_rows(dense):
    X = CSRMatrix.from_dense(dense)
    order = np.array([8, 4, 0, 0, 3])
    assert X.take_rows(order).to_dense() == pytest.approx(dense[order])
    assert X.slice_rows(2, 6).to_dense() == pytest.approx(dense[2:6])
    assert X.slice_rows(7, 100).to_dense() == pytest.approx(dense[7:])


def test_vstack_and_row_norms(dense):
    X = CSRMatrix.from_dense(dense)
    stacked = CSRMatrix.vstack([X.slice_rows(0, 3), X.slice_rows(3, 9)])
    assert stacked.to_dense() == pytest.approx(dense)
    assert X.row_norms() == pytest.approx(np.linalg.norm(dense, axis=1))
    assert X.row_norms(skip_first_column=True) == pytest.approx(np.linalg.norm(dense[:, 1:], axis=1))


@pytest.mark.parametrize("n_blocks", [1, 3, 40])
def test_vstack_of_generator_any_size_guess(dense, n_blocks):
    # n_blocks is the guess that sizes the arrays: too small makes them grow, too large trims them.
    X = CSRMatrix.from_dense(dense)
    blocks = [X.slice_rows(start, start + 2) for start in range(0, 9, 2)] + [X.slice_rows(4, 5)]
    stacked = CSRMatrix.vstack(iter(blocks), n_blocks=n_blocks)
    assert stacked.shape == (10, 7)
    assert stacked.to_dense() == pytest.approx(np.vstack([dense, dense[4:5]]))
    assert np.array_equal(stacked.data, np.concatenate([block.data for block in blocks]))
    assert np.array_equal(stacked.indices, np.concatenate([block.indices for block in blocks]))
    assert stacked.indptr[0] == 0
    assert np.array_equal(np.diff(stacked.indptr), np.concatenate([np.diff(block.indptr) for block in blocks]))
    assert stacked.data.size == stacked.nnz


def test_scipy_opens_saved_matrix(tmp_path, dense):
    sparse = pytest.importorskip("scipy.sparse")
    X = CSRMatrix.from_dense(dense)
    path = tmp_path / "features.npz"
    save_arrays(path, {**X.to_arrays(), "extra": np.arange(3)})
    loaded = sparse.load_npz(path)
    assert loaded.toarray() == pytest.approx(dense)
    again = CSRMatrix.from_arrays(load_arrays(path, what="features file", required=("data",)))
    assert again.to_dense() == pytest.approx(dense)


@pytest.mark.parametrize("scratch_dtype", [np.int32, np.int64])
def test_transpose_dot_compact_with_scratch(dense, scratch_dtype):
    X = CSRMatrix.from_dense(dense)
    values = np.random.default_rng(3).normal(size=(9, 3))
    sorted_columns, sorted_product = X.transpose_dot_compact(values)
    columns, product = X.transpose_dot_compact(values, np.zeros(X.n_columns, dtype=scratch_dtype))
    order = np.argsort(columns)
    np.testing.assert_array_equal(columns[order], sorted_columns)
    np.testing.assert_array_equal(product[order], sorted_product)


@pytest.mark.parametrize("scratch_dtype", [np.int8, np.int32])
def test_distinct_with_inverse_rebuilds_values(scratch_dtype):
    # 300 values do not fit the positions of an int8 scratch array, so that call falls back to np.unique.
    values = np.random.default_rng(5).integers(0, 50, 300)

    distinct, inverse = distinct_with_inverse(values, np.zeros(50, dtype=scratch_dtype))

    np.testing.assert_array_equal(distinct[inverse], values)
    assert np.sort(distinct).tolist() == np.unique(values).tolist()
