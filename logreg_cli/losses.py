"""Sigmoid, softmax, cross-entropy and their gradients, stable for any logits.

No function here overflows in ``exp`` or takes ``log(0)``: the sigmoid and the
losses are written with ``exp(-|z|)`` and log-sum-exp, so logits of any size
give finite results equal to their exact limits.
"""

from __future__ import annotations

import numpy as np

from logreg_cli.sparse import CSRMatrix


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Return ``1 / (1 + exp(-z))`` elementwise without overflow."""
    z = np.asarray(z, dtype=np.float64)
    small = np.exp(-np.abs(z))  # in (0, 1], never overflows
    return np.where(z >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def softplus(z: np.ndarray) -> np.ndarray:
    """Return ``log(1 + exp(z))`` elementwise, exact for large ``|z|``."""
    z = np.asarray(z, dtype=np.float64)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the softmax of each row of ``logits``, shape ``(n_documents, n_labels)``."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Return ``log(softmax(logits))`` per row, finite for any finite logits."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def binary_cross_entropy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the cross-entropy of each document for binary labels ``y`` in {0, 1}.

    ``-[y log p + (1 - y) log(1 - p)]`` with ``p = sigmoid(z)`` equals
    ``softplus(-z)`` when ``y = 1`` and ``softplus(z)`` when ``y = 0``, which
    stays exact where ``p`` rounds to 0 or 1.
    """
    signs = 1.0 - 2.0 * np.asarray(y, dtype=np.float64)
    return softplus(signs * logits)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return ``-log softmax(logits)[i, y[i]]`` for each document ``i``."""
    return -log_softmax(logits)[np.arange(logits.shape[0]), y]


def l2_penalty(weights: np.ndarray, l2: float) -> float:
    """Return ``l2 * sum of squared weights``, leaving out row 0 (the bias feature)."""
    if l2 == 0.0:
        return 0.0  # without squaring millions of hashed weights
    return float(l2 * np.sum(weights[1:] ** 2))


def loss_and_gradient(weights: np.ndarray, X: CSRMatrix, y: np.ndarray, l2: float,
                      sample_weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Return the mean cross-entropy plus the L2 penalty, and its gradient.

    Parameters
    ----------
    weights : ndarray, shape (n_features,) for a binary model or (n_features, n_labels) for softmax
    X : CSRMatrix, shape (n_documents, n_features); column 0 is the bias feature
    y : ndarray of int, shape (n_documents,); label indices (0 or 1 for binary)
    l2 : float; strength of the penalty ``l2 * sum(weights[1:] ** 2)``
    sample_weights : ndarray, shape (n_documents,), optional; the weight of each
        document's cross-entropy. The mean is then ``sum(w_i * CE_i) / n_documents``,
        scikit-learn's convention, so its ``C = 1 / (2 * l2 * n_documents)`` still
        gives the same optimum.

    Returns
    -------
    loss : float
    gradient : ndarray, same shape as ``weights``
    """
    cross_entropy, gradient = cross_entropy_and_gradient(weights, X, y, l2, sample_weights)
    return cross_entropy + l2_penalty(weights, l2), gradient


def cross_entropy_and_gradient(weights: np.ndarray, X: CSRMatrix, y: np.ndarray, l2: float,
                               sample_weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Return the mean cross-entropy without the penalty, and the gradient of the loss with it."""
    logits = X.dot(weights)
    n_documents = X.n_rows
    if weights.ndim == 1:
        per_document = binary_cross_entropy(logits, y)
        errors = sigmoid(logits) - y
    else:
        per_document = softmax_cross_entropy(logits, y)
        errors = softmax(logits)
        errors[np.arange(n_documents), y] -= 1.0
    if sample_weights is not None:
        per_document = per_document * sample_weights
        errors = errors * (sample_weights if errors.ndim == 1 else sample_weights[:, None])
    gradient = X.transpose_dot(errors / n_documents)
    if l2 != 0.0:
        gradient[1:] += 2.0 * l2 * weights[1:]
    return float(per_document.mean()), gradient


def mean_loss(weights: np.ndarray, X: CSRMatrix, y: np.ndarray, sample_weights: np.ndarray | None = None) -> float:
    """Return the mean cross-entropy (without the penalty) of ``weights`` on ``X``, weighted as in :func:`loss_and_gradient`."""
    return mean_loss_of_logits(X.dot(weights), y, sample_weights)


def mean_loss_of_logits(logits: np.ndarray, y: np.ndarray, sample_weights: np.ndarray | None = None) -> float:
    """Return the mean cross-entropy of ``logits`` (one column for a binary model, one per label otherwise)."""
    per_document = binary_cross_entropy(logits, y) if logits.ndim == 1 else softmax_cross_entropy(logits, y)
    if sample_weights is not None:
        per_document = per_document * sample_weights
    return float(per_document.mean())
