"""Decision thresholds of binary models: the configured one, one tuned for F1, and tables over thresholds.

A binary model predicts its second label (``labels[1]``) when that label's
probability is at least the threshold. Without a threshold it predicts the
more probable label, which equals a threshold just above 0.5.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from logreg_cli.config import TrainerConfig
from logreg_cli.errors import ConfigError
from logreg_cli.metrics import threshold_curve
from logreg_cli.model import LogisticModel
from logreg_cli.sparse import CSRMatrix

logger = logging.getLogger(__name__)

# Thresholds that `logreg eval --thresholds` tabulates: 0.05, 0.10, ..., 0.95.
GRID = np.round(np.linspace(0.05, 0.95, 19), 2)


def choose_threshold(model: LogisticModel, settings: TrainerConfig, X_val: CSRMatrix | None,
                     y_val: np.ndarray | None) -> float | None:
    """Return the threshold to store in ``model``: tuned on validation, configured, or None.

    Parameters
    ----------
    model : the trained model
    settings : the ``trainer`` section; reads ``threshold`` and ``tune_threshold``
    X_val : CSRMatrix, shape (n_documents, n_features), or None; validation documents
    y_val : ndarray of int, shape (n_documents,), or None; their label indices

    Raises
    ------
    ConfigError
        When a threshold is asked for a softmax model, or tuning has no validation documents.
    """
    if settings.threshold is None and not settings.tune_threshold:
        return None
    if model.kind != "binary":
        key = "trainer.tune_threshold" if settings.tune_threshold else "trainer.threshold"
        raise ConfigError(
            f"{key} applies to binary models only, but this model is softmax with {len(model.labels)} labels; "
            "remove it from the config"
        )
    if not settings.tune_threshold:
        return settings.threshold
    if X_val is None or y_val is None or X_val.n_rows == 0:
        raise ConfigError(
            "trainer.tune_threshold needs validation documents; set data.validation (or --validation) "
            "or a trainer.validation_fraction above 0"
        )
    curve = threshold_curve(y_val == 1, model.predict_probabilities(X_val)[:, 1])
    if settings.threshold is not None:
        logger.info("the tuned threshold replaces trainer.threshold=%s", settings.threshold)
    logger.info("threshold %.6f gives the highest validation F1 of %r: %.4f",
                curve["best_threshold"], model.labels[1], curve["best_f1"])
    return curve["best_threshold"]


def threshold_report(labels: list[str], y_true: np.ndarray, scores: np.ndarray,
                     thresholds: np.ndarray = GRID) -> dict[str, Any]:
    """Score the decision "``labels[1]`` when its probability >= t" at each threshold t.

    Parameters
    ----------
    labels : the model's two labels; ``labels[1]`` is the positive label
    y_true : ndarray of bool, shape (n_documents,); True for documents of ``labels[1]``
    scores : ndarray of float, shape (n_documents,); probability of ``labels[1]``
    thresholds : ndarray of float, shape (n_thresholds,); the thresholds of the table

    Returns
    -------
    dict
        ``positive_label``; ``table``, one dict per threshold with ``threshold``,
        ``precision``, ``recall``, ``f1`` and ``predicted_positive`` (precision is 0.0
        when no document is predicted positive); ``best_threshold`` and ``best_f1``,
        the highest F1 over every distinct score, from :func:`metrics.threshold_curve`;
        and ``curve``, that function's arrays as lists.
    """
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    curve = threshold_curve(y_true, scores)
    predicted = scores[None, :] >= np.asarray(thresholds)[:, None]  # (n_thresholds, n_documents)
    true_positives = (predicted & y_true[None, :]).sum(axis=1)
    predicted_positive = predicted.sum(axis=1)
    n_positive = int(y_true.sum())
    precision = np.divide(true_positives, predicted_positive, out=np.zeros(len(thresholds)), where=predicted_positive > 0)
    recall = true_positives / n_positive if n_positive else np.zeros(len(thresholds))
    f1_denominator = predicted_positive + n_positive
    f1 = np.divide(2 * true_positives, f1_denominator, out=np.zeros(len(thresholds)), where=f1_denominator > 0)
    table = [
        {"threshold": float(t), "precision": float(p), "recall": float(r), "f1": float(f), "predicted_positive": int(k)}
        for t, p, r, f, k in zip(thresholds, precision, recall, f1, predicted_positive)
    ]
    return {
        "positive_label": labels[1],
        "table": table,
        "best_threshold": curve["best_threshold"],
        "best_f1": curve["best_f1"],
        "curve": {name: curve[name].tolist() for name in ("thresholds", "precision", "recall", "f1")},
    }


def format_threshold_report(report: dict[str, Any]) -> str:
    """Render :func:`threshold_report` as a fixed-width table followed by the best threshold."""
    lines = [f"precision and recall of {report['positive_label']!r} over thresholds "
             f"(predicted when its probability >= threshold)",
             f"{'threshold':>9}  {'precision':>9}  {'recall':>9}  {'f1':>9}  {'predicted':>9}"]
    for row in report["table"]:
        lines.append(f"{row['threshold']:>9.2f}  {row['precision']:>9.4f}  {row['recall']:>9.4f}  "
                     f"{row['f1']:>9.4f}  {row['predicted_positive']:>9d}")
    lines.append("")
    lines.append(f"best threshold for F1: {report['best_threshold']:.6f} (F1 {report['best_f1']:.4f})")
    lines.append("to use it, pass --threshold VALUE to predict and eval, or store it in a model with "
                 "logreg train --set trainer.threshold=VALUE (--tune-threshold picks it on the validation documents)")
    return "\n".join(lines) + "\n"


def set_threshold(model: LogisticModel, threshold: float | None, *, source: str) -> None:
    """Replace the model's threshold for this use (the model file is not changed); None keeps it.

    Raises
    ------
    ConfigError
        When ``model`` is not binary or ``threshold`` lies outside [0, 1].
    """
    if threshold is None:
        return
    if model.kind != "binary":
        raise ConfigError(f"{source}: --threshold applies to binary models only, but this model is softmax "
                          f"with {len(model.labels)} labels")
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold must lie between 0 and 1, got {threshold}")
    model.threshold = float(threshold)
