"""Gradient descent: agreement with scikit-learn, update rules, stopping rules."""

import numpy as np
import pytest

from logreg_cli.config import TrainerConfig
from logreg_cli.errors import TrainingError
from logreg_cli.losses import loss_and_gradient
from logreg_cli.sparse import CSRMatrix
from logreg_cli.train import _batch_step, minibatch_epoch, initial_weights, train


def _problem(seed, n_documents=200, n_features=12, n_labels=2, density=0.5):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_documents, n_features)) * (rng.random((n_documents, n_features)) < density)
    dense[:, 0] = 1.0
    true_weights = rng.normal(size=(n_features, n_labels)) * 2
    y = np.argmax(dense @ true_weights + rng.gumbel(size=(n_documents, n_labels)), axis=1)
    return dense, CSRMatrix.from_dense(dense), y


def _settings(**changes):
    values = dict(method="batch", learning_rate=1.0, max_epochs=20000, l2=0.01, tolerance=1e-20,
                  patience=0, validation_fraction=0.0, seed=0)
    values.update(changes)
    return TrainerConfig(**values)


def sklearn_weights(dense, y, l2, sample_weight=None):
    """Fit scikit-learn's LogisticRegression with the same penalty and return its weights in our layout.

    Our loss adds ``l2 * sum of squared weights`` to the mean cross-entropy,
    which is scikit-learn's objective with ``C = 1 / (2 * l2 * n_documents)``.
    The softmax bias is identified only up to a constant shared by all labels,
    so it comes back centred; compare it with :func:`centred`.
    """
    linear_model = pytest.importorskip("sklearn.linear_model")
    reference = linear_model.LogisticRegression(C=1 / (2 * l2 * dense.shape[0]), tol=1e-12, max_iter=10000)
    reference.fit(dense[:, 1:], y, sample_weight=sample_weight)
    if reference.coef_.shape[0] == 1:
        return np.concatenate([reference.intercept_, reference.coef_[0]])
    return np.vstack([reference.intercept_ - reference.intercept_.mean(), reference.coef_.T])


def centred(weights):
    """Return softmax weights with the bias row centred, as :func:`sklearn_weights` returns them."""
    if weights.ndim == 1:
        return weights
    weights = weights.copy()
    weights[0] -= weights[0].mean()
    return weights


@pytest.mark.parametrize("n_labels", [2, 3])
def test_batch_matches_sklearn(n_labels):
    dense, X, y = _problem(4, n_labels=n_labels)
    settings = _settings()
    kind = "binary" if n_labels == 2 else "softmax"
    result = train(X, y, initial_weights(X.n_columns, n_labels, kind), settings)
    reference = sklearn_weights(dense, y, settings.l2)
    assert centred(result.weights) == pytest.approx(reference, abs=1e-3)
    ours, _ = loss_and_gradient(result.weights, X, y, settings.l2)
    theirs, _ = loss_and_gradient(reference, X, y, settings.l2)
    assert ours == pytest.approx(theirs, abs=1e-6)


@pytest.mark.parametrize("n_labels", [2, 4])
def test_minibatch_of_all_equals_batch_step(n_labels):
    _, X, y = _problem(5, n_documents=50, n_labels=n_labels)
    kind = "binary" if n_labels == 2 else "softmax"
    rng = np.random.default_rng(0)
    weights = rng.normal(size=initial_weights(X.n_columns, n_labels, kind).shape)
    settings = _settings(learning_rate=0.3, l2=0.05)
    lazy = minibatch_epoch(weights, X, y, np.arange(X.n_rows), X.n_rows, settings, show_progress=False, epoch=1)
    dense = _batch_step(weights, X, y, settings)
    assert lazy == pytest.approx(dense, abs=1e-12)


def test_minibatch_steps_equal_dense_steps():
    _, X, y = _problem(6, n_documents=40, n_labels=3)
    settings = _settings(learning_rate=0.2, l2=0.1)
    weights = np.zeros((X.n_columns, 3))
    expected = weights.copy()
    for start in range(0, 40, 7):
        expected = _batch_step(expected, X.slice_rows(start, start + 7), y[start : start + 7], settings)
    lazy = minibatch_epoch(weights, X, y, np.arange(X.n_rows), 7, settings, show_progress=False, epoch=1)
    assert lazy == pytest.approx(expected, abs=1e-12)


def test_separable_corpus_reaches_full_accuracy():
    dense = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1]], dtype=float)
    y = np.array([1, 1, 0, 0])
    result = train(CSRMatrix.from_dense(dense), y, np.zeros(3),
                   _settings(method="stochastic", learning_rate=0.5, max_epochs=50, l2=0.0))
    predicted = (dense @ result.weights > 0).astype(int)
    assert predicted.tolist() == y.tolist()


def test_same_seed_gives_identical_weights():
    _, X, y = _problem(7, n_labels=3)
    settings = _settings(method="minibatch", batch_size=8, max_epochs=5, learning_rate=0.5)
    first = train(X, y, np.zeros((X.n_columns, 3)), settings)
    second = train(X, y, np.zeros((X.n_columns, 3)), settings)
    other = train(X, y, np.zeros((X.n_columns, 3)), _settings(method="minibatch", batch_size=8, max_epochs=5,
                                                              learning_rate=0.5, seed=1))
    assert np.array_equal(first.weights, second.weights)
    assert not np.array_equal(first.weights, other.weights)


def test_early_stopping_keeps_best_epoch():
    _, X, y = _problem(8, n_documents=120, n_features=40)
    X_train, y_train = X.slice_rows(0, 60), y[:60]
    X_val, y_val = X.slice_rows(60, 120), y[60:]
    settings = _settings(method="minibatch", batch_size=4, learning_rate=2.0, l2=0.0, max_epochs=200, patience=3)
    result = train(X_train, y_train, np.zeros(X.n_columns), settings, X_val=X_val, y_val=y_val)
    val_losses = [record.val_loss for record in result.history]
    assert result.stop_reason.startswith("early stopping")
    assert result.best_epoch == int(np.argmin(val_losses)) + 1
    assert len(result.history) == result.best_epoch + 3


def test_tolerance_stops_training():
    _, X, y = _problem(9)
    result = train(X, y, np.zeros(X.n_columns), _settings(tolerance=1e-3))
    assert result.stop_reason.startswith("converged")
    assert result.history[-1].gradient_norm_sq < 1e-3
    assert result.history[-2].gradient_norm_sq >= 1e-3


@pytest.mark.parametrize("tolerance, warns", [(1e-20, True), (0.0, False)])
def test_max_epochs_warns_only_with_gradient_test(caplog, tolerance, warns):
    _, X, y = _problem(9)
    with caplog.at_level("WARNING", logger="logreg_cli.train"):
        result = train(X, y, np.zeros(X.n_columns), _settings(method="minibatch", max_epochs=2, tolerance=tolerance))
    assert result.stop_reason == "reached max_epochs=2"
    assert ("before the gradient norm fell below tolerance" in caplog.text) is warns


def test_summary_stores_unmeasured_as_none():
    _, X, y = _problem(9)
    result = train(X, y, np.zeros(X.n_columns), _settings(method="adagrad", max_epochs=2, tolerance=0.0))
    records = result.summary()["history"]
    assert [record["gradient_norm_sq"] for record in records] == [None, None]
    assert all(isinstance(record["train_loss"], float) for record in records)


def test_divergence_raises_training_error():
    _, X, y = _problem(10)
    with pytest.raises(TrainingError, match="diverged"):
        train(X, y, np.zeros(X.n_columns), _settings(learning_rate=1000.0, l2=0.1, max_epochs=500))


def test_huge_learning_rate_without_l2_stays_finite():
    dense = np.array([[1, 3, 0], [1, 2, 0], [1, 0, 4], [1, 0, 1], [1, 5, 0], [1, 0, 2]], dtype=float)
    y = np.array([1, 1, 0, 0, 1, 0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        result = train(CSRMatrix.from_dense(dense), y, np.zeros(3),
                       _settings(learning_rate=1000.0, l2=0.0, max_epochs=100))
    assert np.isfinite(result.weights).all()
    assert all(np.isfinite(record.train_loss) and record.train_loss >= 0 for record in result.history)
    assert ((dense @ result.weights > 0).astype(int) == y).all()
