"""AdaGrad, Adam and L-BFGS: agreement with scikit-learn, exact lazy L2, reproducibility."""

import numpy as np
import pytest

from logreg_cli.config import TrainerConfig, load_config
from logreg_cli.losses import loss_and_gradient
from logreg_cli.optimizers import EPSILON, LBFGS, AdaptiveOptimizer, gather_rows, scatter_rows
from logreg_cli.train import initial_weights, train
from test_train import _problem as train_problem, centred, sklearn_weights


def _problem(seed, n_documents=300, n_features=15, n_labels=2, density=0.4):
    return train_problem(seed, n_documents, n_features, n_labels, density)


def _settings(**changes):
    values = dict(method="lbfgs", learning_rate=0.1, batch_size=16, max_epochs=500, l2=0.01, tolerance=1e-24,
                  patience=0, validation_fraction=0.0, seed=0)
    values.update(changes)
    return TrainerConfig(**values)


def _accuracy(weights, X, y):
    logits = X.dot(weights)
    predicted = (logits > 0).astype(int) if weights.ndim == 1 else np.argmax(logits, axis=1)
    return float(np.mean(predicted == y))


@pytest.mark.parametrize("seed, n_labels", [(1, 2), (2, 4)])
def test_lbfgs_matches_sklearn(seed, n_labels):
    dense, X, y = _problem(seed, n_labels=n_labels)
    settings = _settings()
    kind = "binary" if n_labels == 2 else "softmax"
    result = train(X, y, initial_weights(X.n_columns, n_labels, kind), settings)
    assert centred(result.weights) == pytest.approx(sklearn_weights(dense, y, settings.l2), abs=1e-4)
    assert result.stop_reason.startswith("converged")


def test_lbfgs_weighted_loss_matches_sklearn():
    dense, X, y = _problem(3)
    settings = _settings()
    class_weights = np.array([1.0, 3.0])
    result = train(X, y, initial_weights(X.n_columns, 2, "binary"), settings, class_weights=class_weights)
    reference = sklearn_weights(dense, y, settings.l2, sample_weight=class_weights[y])
    assert result.weights[1:] == pytest.approx(reference[1:], abs=1e-4)


def test_lbfgs_cached_evaluation_equals_fresh_one():
    _, X, y = _problem(4)
    settings = _settings()
    optimizer = LBFGS(settings)
    weights = optimizer.run_epoch(np.zeros(X.n_columns), X, y)
    weights = optimizer.run_epoch(weights, X, y)
    cross_entropy, gradient = optimizer.cached_evaluation(weights)
    loss, fresh_gradient = loss_and_gradient(weights, X, y, settings.l2)
    assert cross_entropy == pytest.approx(loss - settings.l2 * np.sum(weights[1:] ** 2), abs=1e-12)
    assert gradient == pytest.approx(fresh_gradient, abs=1e-12)


def test_lbfgs_cached_evaluation_misses_other_weights():
    _, X, y = _problem(4)
    optimizer = LBFGS(_settings())
    weights = optimizer.run_epoch(np.zeros(X.n_columns), X, y)
    assert optimizer.cached_evaluation(weights + 1.0) is None


@pytest.mark.parametrize("method, learning_rate", [("adagrad", 0.5), ("adam", 0.02)])
@pytest.mark.parametrize("n_labels", [2, 3])
def test_adaptive_reaches_optimum_accuracy(method, learning_rate, n_labels):
    _, X, y = _problem(5, n_labels=n_labels)
    kind = "binary" if n_labels == 2 else "softmax"
    optimum = train(X, y, initial_weights(X.n_columns, n_labels, kind), _settings())
    settings = _settings(method=method, learning_rate=learning_rate, max_epochs=60)
    result = train(X, y, initial_weights(X.n_columns, n_labels, kind), settings)
    assert _accuracy(result.weights, X, y) >= _accuracy(optimum.weights, X, y) - 0.01
    assert result.history[-1].objective == pytest.approx(optimum.history[-1].objective, abs=2e-3)


@pytest.mark.parametrize("method", ["adagrad", "adam", "lbfgs"])
def test_same_seed_gives_identical_weights(method):
    _, X, y = _problem(6, n_labels=3)
    settings = _settings(method=method, max_epochs=5, seed=7)
    first = train(X, y, initial_weights(X.n_columns, 3, "softmax"), settings)
    second = train(X, y, initial_weights(X.n_columns, 3, "softmax"), settings)
    assert np.array_equal(first.weights, second.weights)


def test_adaptive_other_seed_gives_other_weights():
    _, X, y = _problem(6, n_labels=3)
    first = train(X, y, initial_weights(X.n_columns, 3, "softmax"), _settings(method="adam", max_epochs=3, seed=1))
    second = train(X, y, initial_weights(X.n_columns, 3, "softmax"), _settings(method="adam", max_epochs=3, seed=2))
    assert not np.array_equal(first.weights, second.weights)


def _dense_adagrad_epoch(weights, dense, y, settings, order):
    """Reference AdaGrad: every row is updated at every step, absent features with a zero gradient."""
    squares = np.zeros_like(weights)
    dense, y = dense[order], y[order]
    for start in range(0, len(y), settings.batch_size):
        batch, batch_y = dense[start : start + settings.batch_size], y[start : start + settings.batch_size]
        if weights.ndim == 1:
            errors = 1.0 / (1.0 + np.exp(-(batch @ weights))) - batch_y
        else:
            logits = batch @ weights
            errors = np.exp(logits - logits.max(axis=1, keepdims=True))
            errors /= errors.sum(axis=1, keepdims=True)
            errors[np.arange(len(batch_y)), batch_y] -= 1.0
        gradient = batch.T @ errors / len(batch_y)
        squares += gradient**2
        rates = settings.learning_rate / (np.sqrt(squares) + EPSILON)
        weights = weights - rates * gradient
        weights[1:] /= 1.0 + 2.0 * rates[1:] * settings.l2
    return weights


@pytest.mark.parametrize("n_labels", [2, 3])
def test_adagrad_lazy_l2_equals_dense_steps(n_labels):
    # Sparse documents, so that most batches miss most features and the lazy shrinking matters.
    dense, X, y = _problem(7, n_documents=64, n_features=30, n_labels=n_labels, density=0.08)
    settings = _settings(method="adagrad", learning_rate=0.5, batch_size=4, l2=0.05)
    shape = (X.n_columns,) if n_labels == 2 else (X.n_columns, n_labels)
    start = np.random.default_rng(0).normal(size=shape)
    optimizer = AdaptiveOptimizer(settings, start.shape)
    lazy = optimizer.run_epoch(start, X, y, rng=np.random.default_rng(3))
    order = np.random.default_rng(3).permutation(X.n_rows)
    expected = _dense_adagrad_epoch(start.copy(), dense, y, settings, order)
    assert lazy == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_adaptive_strong_l2_shrinks_weights():
    # 2 * rate * l2 is far above 1 here: an explicit decay step w - 2 * rate * l2 * w would flip the weights'
    # signs and blow them up, while the proximal step shrinks them towards zero.
    _, X, y = _problem(8)
    settings = _settings(method="adagrad", learning_rate=100.0, l2=10.0)
    optimizer = AdaptiveOptimizer(settings, (X.n_columns,))
    weights = optimizer.run_epoch(np.full(X.n_columns, 5.0), X, y, rng=np.random.default_rng(0))
    assert np.all(np.isfinite(weights))
    assert np.max(np.abs(weights[1:])) < 0.1


def test_config_accepts_new_methods():
    for method in ("adagrad", "adam", "lbfgs"):
        config = load_config(None, [f"trainer.method={method}"])
        assert config.trainer.method == method


@pytest.mark.parametrize("schedule, expected", [
    ("constant", [0.8, 0.8, 0.8, 0.8]),
    ("inverse_sqrt", [0.8, 0.8 / np.sqrt(2), 0.8 / np.sqrt(3), 0.4]),
    ("linear", [0.8, 0.6, 0.4, 0.2]),
])
def test_schedule_sets_epoch_learning_rates(schedule, expected):
    _, X, y = _problem(9)
    settings = _settings(method="minibatch", learning_rate=0.8, max_epochs=4, schedule=schedule)
    result = train(X, y, initial_weights(X.n_columns, 2, "binary"), settings)
    assert [record.learning_rate for record in result.history] == pytest.approx(expected)


def test_schedule_reaches_adaptive_optimizer():
    _, X, y = _problem(9)
    constant = train(X, y, initial_weights(X.n_columns, 2, "binary"),
                     _settings(method="adagrad", learning_rate=0.5, max_epochs=3))
    decayed = train(X, y, initial_weights(X.n_columns, 2, "binary"),
                    _settings(method="adagrad", learning_rate=0.5, max_epochs=3, schedule="inverse_sqrt"))
    assert decayed.history[0].learning_rate == 0.5
    assert decayed.history[2].learning_rate == pytest.approx(0.5 / np.sqrt(3))
    assert not np.array_equal(constant.weights, decayed.weights)


@pytest.mark.parametrize("shape", [(50,), (50, 1), (50, 7)])
def test_gather_scatter_rows_equal_indexing(shape):
    rng = np.random.default_rng(5)
    array = rng.normal(size=shape)
    rows = rng.permutation(50)[:20]
    assert np.array_equal(gather_rows(array, rows), array[rows])
    values = rng.normal(size=(20,) + shape[1:])
    expected = array.copy()
    expected[rows] = values
    scatter_rows(array, rows, values)
    assert np.array_equal(array, expected)


def test_scatter_rows_takes_transposed_view():
    array = np.zeros((6, 3))
    values = np.arange(6.0).reshape(3, 2).T  # not C-contiguous
    scatter_rows(array, np.array([4, 1]), values)
    assert np.array_equal(array[[4, 1]], values)
    assert np.count_nonzero(array) == 5


def test_zero_tolerance_logs_progressive_loss(caplog):
    _, X, y = _problem(9)
    with caplog.at_level("INFO", logger="logreg_cli.train"):
        train(X, y, initial_weights(X.n_columns, 2, "binary"), _settings(method="adagrad", max_epochs=1, tolerance=0.0))
    assert "train_loss is progressive" in caplog.text


@pytest.mark.parametrize("method, n_labels", [("adagrad", 2), ("adam", 3)])
def test_zero_tolerance_skips_full_pass(method, n_labels):
    _, X, y = _problem(9, n_labels=n_labels)
    kind = "binary" if n_labels == 2 else "softmax"
    measured = train(X, y, initial_weights(X.n_columns, n_labels, kind),
                     _settings(method=method, max_epochs=4, tolerance=1e-300))
    skipped = train(X, y, initial_weights(X.n_columns, n_labels, kind),
                    _settings(method=method, max_epochs=4, tolerance=0.0))
    assert np.array_equal(skipped.weights, measured.weights)
    assert all(np.isnan(record.gradient_norm_sq) for record in skipped.history)
    assert all(record.gradient_norm_sq > 0 for record in measured.history)
    # The progressive loss of epoch 1 starts from zero weights, so it is above the loss measured after the epoch.
    assert skipped.history[0].train_loss > measured.history[0].train_loss
    first_batch_loss = np.log(n_labels)  # uniform probabilities at zero weights
    assert skipped.history[0].train_loss < first_batch_loss
