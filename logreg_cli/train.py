"""Gradient descent for binary and softmax logistic regression.

The loss is the mean cross-entropy plus ``l2 * sum(weights[1:] ** 2)``; row
0, the bias feature's weight, is not penalised. Every step updates all
weights at once from one gradient. The three gradient descent methods
differ only in the documents per step: all of them (batch), one
(stochastic) or ``batch_size`` (minibatch). The methods adagrad, adam and
lbfgs run in ``optimizers.py``, one call per epoch. After each epoch the
full training loss, the squared gradient norm and the validation loss and
accuracy are measured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from logreg_cli.config import TrainerConfig
from logreg_cli.errors import ConfigError, TrainingError
from logreg_cli.losses import (cross_entropy_and_gradient, l2_penalty, loss_and_gradient, mean_loss_of_logits, sigmoid,
                               softmax)
from logreg_cli.optimizers import METHODS as OPTIMIZER_METHODS, AdaptiveOptimizer, make_optimizer, scheduled
from logreg_cli.sparse import CSRMatrix

logger = logging.getLogger(__name__)

# Epochs in a row with a growing training loss after which training counts as diverging.
GROWING_LOSS_EPOCHS = 5
# Fold the lazy L2 scale back into the weights once it gets this small, before it loses precision.
MIN_SCALE = 1e-6


@dataclass
class EpochRecord:
    """Measurements taken after one epoch."""

    epoch: int
    train_loss: float  # mean cross-entropy on the training corpus, without the penalty
    objective: float  # train_loss plus the L2 penalty: what gradient descent minimises
    gradient_norm_sq: float  # squared norm of the full gradient of the objective
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    seconds: float


@dataclass
class TrainResult:
    """Weights of the best epoch and how training went."""

    weights: np.ndarray
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    stop_reason: str = ""
    interrupted: bool = False

    def summary(self) -> dict:
        # NaN (a measure not taken) becomes None, so that the summary stays strict JSON.
        history = [{key: None if isinstance(value, float) and np.isnan(value) else value
                    for key, value in asdict(record).items()} for record in self.history]
        return {
            "best_epoch": self.best_epoch,
            "stop_reason": self.stop_reason,
            "interrupted": self.interrupted,
            "history": history,
        }


def initial_weights(n_features: int, n_labels: int, kind: str) -> np.ndarray:
    """Return zero weights, shape ``(n_features,)`` for binary or ``(n_features, n_labels)`` for softmax."""
    return np.zeros(n_features) if kind == "binary" else np.zeros((n_features, n_labels))


def train(
    X: CSRMatrix,
    y: np.ndarray,
    weights: np.ndarray,
    settings: TrainerConfig,
    *,
    X_val: CSRMatrix | None = None,
    y_val: np.ndarray | None = None,
    show_progress: bool = False,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    class_weights: np.ndarray | None = None,
) -> TrainResult:
    """Fit ``weights`` by gradient descent and return those of the best epoch.

    Parameters
    ----------
    X : CSRMatrix, shape (n_documents, n_features); column 0 is the bias feature
    y : ndarray of int, shape (n_documents,); label indices
    weights : ndarray, shape (n_features,) for binary or (n_features, n_labels) for softmax;
        the starting point (zeros, or a saved model's weights to go on training)
    settings : the ``trainer`` section of the config
    X_val, y_val : validation corpus for early stopping; without it the last epoch is kept
    show_progress : draw a progress bar over the steps of each epoch on stderr
    on_epoch : called with each epoch's record, for logging
    class_weights : ndarray, shape (n_labels,), optional; the weight of each label's
        documents in the loss and its gradient (see :func:`resolve_class_weights`).
        The training and validation losses are then weighted means too.

    Returns
    -------
    TrainResult
        Its ``weights`` are those of the epoch with the lowest validation
        loss (the earlier one on ties), or of the last epoch without
        validation. Ctrl-C ends training early with ``interrupted`` set and
        the best weights so far.

    Raises
    ------
    TrainingError
        When the loss or the weights become non-finite, or the training loss
        grows for several epochs in a row.
    """
    rng = np.random.default_rng(settings.seed)
    weights = np.array(weights, dtype=np.float64)
    batch_size = {"batch": X.n_rows, "stochastic": 1}.get(settings.method, settings.batch_size)
    sample_weights = None if class_weights is None else class_weights[y]
    optimizer = make_optimizer(settings, weights.shape) if settings.method in OPTIMIZER_METHODS else None
    progressive = isinstance(optimizer, AdaptiveOptimizer) and settings.tolerance == 0
    if progressive:
        logger.info("trainer.tolerance is 0, so %s skips the full pass after each epoch and train_loss is progressive: "
                    "the mean loss of each batch just before its step", settings.method)

    def run_pass(weights: np.ndarray, epoch: int, epoch_settings: TrainerConfig) -> EpochPass:
        # Shuffle, then walk through the corpus one batch per step, at this epoch's learning rate.
        if progressive:
            # Without the gradient-norm test the full pass is not needed: report the progressive loss,
            # each batch's loss measured just before its step, as streaming does.
            optimizer.learning_rate = epoch_settings.learning_rate
            working = optimizer.begin(weights)
            loss_sum = optimizer.take_steps(working, X, y, rng=rng, sample_weights=sample_weights,
                                            show_progress=show_progress, epoch=epoch)
            return EpochPass(optimizer.finish(working), loss_sum / max(X.n_rows, 1), float("nan"))
        if optimizer is not None:
            optimizer.learning_rate = epoch_settings.learning_rate
            weights = optimizer.run_epoch(weights, X, y, rng=rng, sample_weights=sample_weights,
                                          show_progress=show_progress, epoch=epoch)
        elif settings.method == "batch":
            weights = _batch_step(weights, X, y, epoch_settings, sample_weights)
        else:
            weights = minibatch_epoch(weights, X, y, rng.permutation(X.n_rows), batch_size, epoch_settings,
                                      show_progress=show_progress, epoch=epoch, class_weights=class_weights)
        # Measure the epoch on the whole training corpus. L-BFGS has already evaluated its new weights there.
        cached = optimizer.cached_evaluation(weights) if optimizer is not None else None
        train_loss, gradient = cached or cross_entropy_and_gradient(weights, X, y, settings.l2, sample_weights)
        return EpochPass(weights, train_loss, float(np.sum(gradient**2)))

    return run_epochs(weights, settings, run_pass, X_val=X_val, y_val=y_val, class_weights=class_weights,
                      on_epoch=on_epoch)


@dataclass
class EpochPass:
    """The outcome of one pass over the training corpus."""

    weights: np.ndarray
    train_loss: float  # mean cross-entropy on the training corpus, without the penalty
    gradient_norm_sq: float  # squared norm of the full gradient, or NaN when the pass does not measure it


def run_epochs(
    weights: np.ndarray,
    settings: TrainerConfig,
    run_pass: Callable[[np.ndarray, int, TrainerConfig], EpochPass],
    *,
    X_val: CSRMatrix | None = None,
    y_val: np.ndarray | None = None,
    class_weights: np.ndarray | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Run epochs of ``run_pass`` until a stopping rule fires, and keep the weights of the best epoch.

    ``run_pass(weights, epoch, epoch_settings)`` makes one pass over the
    training corpus at the epoch's scheduled settings. This loop measures
    the validation corpus, checks for divergence, keeps the best weights and
    applies early stopping, the gradient-norm test (skipped when the
    gradient is NaN) and ``max_epochs``, for in-memory and streaming training alike.
    """
    use_validation = X_val is not None and y_val is not None and X_val.n_rows > 0
    val_sample_weights = None if class_weights is None or not use_validation else class_weights[y_val]
    result = TrainResult(weights=weights.copy())
    best_val_loss = np.inf
    growing = 0
    previous_objective = np.inf
    record = None

    try:
        for epoch in range(1, settings.max_epochs + 1):
            started = time.perf_counter()
            epoch_settings = scheduled(settings, epoch)
            measured = run_pass(weights, epoch, epoch_settings)
            weights = measured.weights
            objective = measured.train_loss + l2_penalty(weights, settings.l2)
            val_loss, val_accuracy = (_validation_measures(weights, X_val, y_val, val_sample_weights) if use_validation
                                      else (None, None))
            record = EpochRecord(
                epoch=epoch,
                train_loss=measured.train_loss,
                objective=objective,
                gradient_norm_sq=measured.gradient_norm_sq,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                learning_rate=epoch_settings.learning_rate,
                seconds=time.perf_counter() - started,
            )
            _check_divergence(weights, record, settings)
            growing = growing + 1 if objective > previous_objective else 0
            previous_objective = objective
            if growing >= GROWING_LOSS_EPOCHS:
                raise TrainingError(
                    f"training diverged: the training loss grew for {growing} epochs in a row up to epoch {epoch} "
                    f"(loss {objective:.6g}); lower trainer.learning_rate (now {settings.learning_rate}) or raise trainer.l2"
                )
            # Keep the best weights before reporting the epoch, so that a Ctrl-C right after the
            # report still saves an epoch the user has seen finish.
            if not use_validation:
                result.weights, result.best_epoch = weights.copy(), epoch
            elif record.val_loss < best_val_loss - settings.min_delta:
                best_val_loss = record.val_loss
                result.weights, result.best_epoch = weights.copy(), epoch
            result.history.append(record)
            if on_epoch is not None:
                on_epoch(record)

            # Decide whether to stop. A NaN gradient norm (not measured) never passes the test.
            if record.gradient_norm_sq < settings.tolerance:
                result.stop_reason = f"converged: squared gradient norm below tolerance={settings.tolerance}"
                break
            if use_validation and settings.patience > 0 and epoch - result.best_epoch >= settings.patience:
                result.stop_reason = f"early stopping: no lower validation loss for {settings.patience} epochs"
                break
        else:
            result.stop_reason = f"reached max_epochs={settings.max_epochs}"
            gradient_tested = settings.tolerance > 0 and record is not None and not np.isnan(record.gradient_norm_sq)
            if gradient_tested and (not use_validation or settings.patience == 0):
                logger.warning(
                    "training stopped at max_epochs=%d before the gradient norm fell below tolerance; "
                    "raise trainer.max_epochs or trainer.learning_rate if the loss was still falling",
                    settings.max_epochs,
                )
    except KeyboardInterrupt:
        result.interrupted = True
        result.stop_reason = f"interrupted during epoch {len(result.history) + 1}"
    return result


def resolve_class_weights(class_weight: str | dict[str, float] | None, labels: Sequence[str],
                          y: np.ndarray) -> np.ndarray | None:
    """Turn the ``trainer.class_weight`` setting into one weight per label.

    Parameters
    ----------
    class_weight : None, ``"balanced"`` or a mapping of label name to weight;
        labels missing from the mapping weigh 1
    labels : label names; position is the label index
    y : ndarray of int, shape (n_documents,); label indices of the training documents

    Returns
    -------
    ndarray, shape (n_labels,), or None when ``class_weight`` is None. For
    ``"balanced"`` a label's weight is ``n_documents / (n_labels * count)``, so
    the mean document weight is 1; a label without training documents weighs 1.

    Raises
    ------
    ConfigError
        When the mapping names a label that is not among ``labels``.
    """
    if class_weight is None:
        return None
    if class_weight == "balanced":
        counts = np.bincount(y, minlength=len(labels)).astype(np.float64)
        weights = np.ones(len(labels))
        present = counts > 0
        weights[present] = y.size / (len(labels) * counts[present])
        return weights
    unknown = sorted(set(class_weight) - set(labels))
    if unknown:
        raise ConfigError(
            f"trainer.class_weight names the label {unknown[0]!r}, which is not in the training corpus; "
            f"the labels are {', '.join(labels)}"
        )
    return np.array([class_weight.get(label, 1.0) for label in labels], dtype=np.float64)


def _batch_step(weights: np.ndarray, X: CSRMatrix, y: np.ndarray, settings: TrainerConfig,
                sample_weights: np.ndarray | None = None) -> np.ndarray:
    _, gradient = loss_and_gradient(weights, X, y, settings.l2, sample_weights)
    return weights - settings.learning_rate * gradient


def minibatch_epoch(
    weights: np.ndarray, X: CSRMatrix, y: np.ndarray, order: np.ndarray, batch_size: int, settings: TrainerConfig,
    *, show_progress: bool, epoch: int, class_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Run one epoch of steps over the documents of ``X`` in ``order`` and return the new weights.

    Each step is the exact update ``W <- W - lr * (G + 2 * l2 * W)`` (bias row
    unpenalised), but the weights are kept as ``scale * V`` so that the L2
    decay of all rows costs one multiplication of ``scale`` and only the rows
    of features present in the batch are touched.
    """
    learning_rate, l2 = settings.learning_rate, settings.l2
    decay = 1.0 - 2.0 * learning_rate * l2
    batches = tqdm(X.row_batches(order, batch_size), total=-(-X.n_rows // batch_size), disable=not show_progress,
                   leave=False, desc=f"epoch {epoch}", unit="batch")
    if decay <= 0.0:
        # The lazy scale would cross zero; such a large step diverges anyway, so take it densely.
        for rows, batch in batches:
            batch_y = y[rows]
            batch_weights = None if class_weights is None else class_weights[batch_y]
            weights = _batch_step(weights, batch, batch_y, settings, batch_weights)
        return weights
    bias = weights[0].copy()
    V = weights.copy()
    V[0] = 0.0
    scale = 1.0
    scratch = np.zeros(X.n_columns, dtype=np.int32)  # for transpose_dot_compact
    binary = weights.ndim == 1
    for rows, batch in batches:
        batch_y = y[rows]
        n_batch = batch.n_rows

        # Forward: logits with the bias added separately, since V[0] stays 0.
        logits = scale * batch.dot(V) + bias

        # Gradient of the mean cross-entropy with respect to the logits.
        if binary:
            errors = (sigmoid(logits) - batch_y) / n_batch
        else:
            errors = softmax(logits)
            errors[np.arange(n_batch), batch_y] -= 1.0
            errors /= n_batch
        if class_weights is not None:
            document_weights = class_weights[batch_y]
            errors *= document_weights if binary else document_weights[:, None]
        columns, gradient = batch.transpose_dot_compact(errors, scratch)

        # Update: decay every row through the scale, then move only the touched rows.
        scale *= decay
        V[columns] -= (learning_rate / scale) * gradient
        V[0] = 0.0
        bias = bias - learning_rate * errors.sum(axis=0)
        if abs(scale) < MIN_SCALE:
            V *= scale
            scale = 1.0
    weights = scale * V
    weights[0] = bias
    return weights


def _validation_measures(weights: np.ndarray, X: CSRMatrix, y: np.ndarray,
                         sample_weights: np.ndarray | None) -> tuple[float, float]:
    """Return the mean loss and the accuracy of ``weights`` on a validation corpus, from one product."""
    logits = X.dot(weights)
    predicted = (logits > 0).astype(np.int64) if weights.ndim == 1 else np.argmax(logits, axis=1)
    return mean_loss_of_logits(logits, y, sample_weights), float(np.mean(predicted == y))


def _check_divergence(weights: np.ndarray, record: EpochRecord, settings: TrainerConfig) -> None:
    if np.isfinite(record.objective) and np.isfinite(weights).all():
        return
    raise TrainingError(
        f"training diverged at epoch {record.epoch}: the loss or the weights became infinite or NaN; "
        f"lower trainer.learning_rate (now {settings.learning_rate}) or raise trainer.l2 (now {settings.l2})"
    )
