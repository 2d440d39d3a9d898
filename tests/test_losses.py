"""Textbook values, exact limits and finite-difference checks of the loss functions."""

import numpy as np
import pytest

from logreg_cli.losses import (
    binary_cross_entropy,
    l2_penalty,
    log_softmax,
    loss_and_gradient,
    sigmoid,
    softmax,
    softmax_cross_entropy,
)
from logreg_cli.sparse import CSRMatrix


def test_sigmoid_textbook_value():
    assert sigmoid(np.array(-2.0)) == pytest.approx(0.1192, abs=5e-5)


def test_softmax_textbook_values():
    probabilities = softmax(np.array([[1.45, 0.33, -0.12, 0.01]]))[0]
    # The exact first value is 0.564572; the printed textbook value 0.5647 is off in the last digit.
    assert probabilities == pytest.approx([0.5647, 0.1842, 0.1175, 0.1338], abs=1.5e-4)
    assert probabilities == pytest.approx([0.564572, 0.184208, 0.117457, 0.133763], abs=5e-7)


def test_softmax_textbook_logits_and_prediction():
    weights = np.array([[0.45, -0.12, 0.14, 1.3], [-0.7, 0.9, 0.68, -0.31], [-0.26, 0.05, 0.12, 0.51]]).T
    x = np.array([1.0, 1.0, 1.0, 0.0])
    logits = x @ weights
    probabilities = softmax(logits[None, :])[0]
    assert logits == pytest.approx([0.47, 0.88, -0.09], abs=1e-12)
    assert probabilities == pytest.approx([0.3249, 0.4895, 0.1856], abs=5e-5)
    assert int(np.argmax(probabilities)) == 1


def test_sigmoid_textbook_documents():
    weights = np.array([-1.0, 2.0, -3.0])
    X = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [1, 0, 0]], dtype=float)
    assert sigmoid(X @ weights) == pytest.approx([0.731, 0.018, 0.119, 0.269], abs=5e-4)


def test_stochastic_step_textbook_value():
    weights = np.array([0.04, 0.5])
    X = CSRMatrix.from_dense(np.array([[1.0, 0.82]]))
    _, gradient = loss_and_gradient(weights, X, np.array([1]), l2=0.0)
    assert weights - 0.01 * gradient == pytest.approx([0.0439, 0.5032], abs=5e-5)


@pytest.mark.parametrize(
    ("z", "y", "expected"),
    [
        (800.0, 0, 800.0),
        (800.0, 1, 0.0),
        (-800.0, 1, 800.0),
        (-800.0, 0, 0.0),
        (40.0, 0, 40.0),
        (40.0, 1, 4.248354255291589e-18),
        (0.0, 0, 0.6931471805599453),
        (0.0, 1, 0.6931471805599453),
    ],
)
def test_binary_cross_entropy_exact_limits(z, y, expected):
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = binary_cross_entropy(np.array([z]), np.array([y]))[0]
    assert loss == pytest.approx(expected, rel=1e-12, abs=0.0 if expected else 1e-300)


def test_sigmoid_extreme_scores_finite():
    z = np.array([-1e4, -800.0, 800.0, 1e4])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        values = sigmoid(z)
    assert values.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_softmax_extreme_scores_exact():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        probabilities = softmax(logits)
        log_probabilities = log_softmax(logits)
        losses = softmax_cross_entropy(logits, np.array([1, 0]))
    assert probabilities[0].tolist() == [1.0, 0.0, 0.0]
    assert probabilities[1] == pytest.approx([1 / 3] * 3, rel=1e-15)
    assert np.isfinite(log_probabilities).all()
    assert losses[0] == pytest.approx(2e4, rel=1e-12)
    assert losses[1] == pytest.approx(np.log(3), rel=1e-12)


def test_l2_penalty_skips_bias():
    assert l2_penalty(np.array([10.0, 1.0, -2.0]), 0.5) == pytest.approx(2.5)


def _random_problem(rng, n_documents, n_features):
    dense = rng.random((n_documents, n_features)) * (rng.random((n_documents, n_features)) < 0.4)
    dense[:, 0] = 1.0
    return CSRMatrix.from_dense(dense)


def _finite_difference(weights, X, y, l2, step=1e-6):
    numeric = np.zeros_like(weights)
    flat = numeric.reshape(-1)
    for position in range(weights.size):
        shifted = weights.copy().reshape(-1)
        shifted[position] += step
        plus, _ = loss_and_gradient(shifted.reshape(weights.shape), X, y, l2)
        shifted[position] -= 2 * step
        minus, _ = loss_and_gradient(shifted.reshape(weights.shape), X, y, l2)
        flat[position] = (plus - minus) / (2 * step)
    return numeric


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_binary_gradient_matches_finite_differences(l2):
    rng = np.random.default_rng(1)
    X = _random_problem(rng, 12, 6)
    y = rng.integers(0, 2, 12)
    weights = rng.normal(size=6)
    _, gradient = loss_and_gradient(weights, X, y, l2)
    assert gradient == pytest.approx(_finite_difference(weights, X, y, l2), abs=1e-7)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_softmax_gradient_matches_finite_differences(l2):
    rng = np.random.default_rng(2)
    X = _random_problem(rng, 15, 5)
    y = rng.integers(0, 4, 15)
    weights = rng.normal(size=(5, 4))
    _, gradient = loss_and_gradient(weights, X, y, l2)
    assert gradient == pytest.approx(_finite_difference(weights, X, y, l2), abs=1e-7)
