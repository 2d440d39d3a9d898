"""Classification metrics: accuracy, per-label precision/recall/F1, averages and ranking scores.

``evaluate`` compares true labels with predicted labels (and, optionally, the model's
probabilities) and returns a ``ClassificationReport``. ``format_report`` renders it as a
fixed-width table and ``report_to_dict`` as JSON-ready data. ``threshold_curve`` scores every
decision threshold of a binary model, and ``accuracy`` is the small helper that training uses
on label indices.

Edge cases follow one explicit rule instead of an epsilon. A ratio whose denominator is 0
(precision with no predicted document, recall with no test document) is reported as 0.0 and
logged as a warning, so no metric is ever NaN and no division raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from logreg_cli.errors import DataError

logger = logging.getLogger(__name__)

# -log(tiny) is about 708.4, the loss of a document whose true label got probability 0.
_TINY = np.finfo(float).tiny

# Rows of a probabilities matrix may miss 1 by rounding, but not by more than this.
_ROW_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LabelScores:
    """Scores and counts of one label.

    ``precision_undefined`` is true when no document was predicted with this label, so
    precision is 0/0 and is reported as 0.0. Recall is undefined (and reported as 0.0)
    exactly when ``support`` is 0. ``seen_in_training`` is false for a label that occurs
    only in the test corpus; the model cannot predict such a label.
    """

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision_undefined: bool
    seen_in_training: bool


@dataclass(frozen=True)
class Averages:
    """Precision, recall and F1 averaged over labels."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassificationReport:
    """Result of ``evaluate``.

    Attributes
    ----------
    labels : list of str
        The model labels in model order, then the labels seen only in the true labels,
        sorted. This order indexes ``per_label`` and both axes of ``confusion_matrix``.
    n_documents : int
        Number of evaluated documents.
    accuracy : float
        Fraction of documents whose predicted label equals the true label.
    per_label : list of LabelScores
        One entry per label of ``labels``, in the same order.
    macro : Averages
        Unweighted mean over all labels of ``labels``, including labels not seen in training.
    weighted : Averages
        Mean over all labels weighted by support, including labels not seen in training.
    confusion_matrix : np.ndarray
        int64, shape ``(n_labels, n_labels)``. Rows are true labels and columns are predicted
        labels.
    log_loss : float or None
        Mean cross-entropy of the probabilities, over the documents whose true label is a model
        label. None when no probabilities were given or no document has a model label.
    roc_auc, pr_auc : float or None
        Area under the ROC curve and average precision of ``labels[1]`` against ``labels[0]``.
        None unless the model has exactly 2 labels, probabilities were given and both
        labels occur in the true labels.
    """

    labels: list[str]
    n_documents: int
    accuracy: float
    per_label: list[LabelScores]
    macro: Averages
    weighted: Averages
    confusion_matrix: np.ndarray
    log_loss: float | None
    roc_auc: float | None
    pr_auc: float | None


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute the fraction of equal entries in two label arrays.

    Parameters
    ----------
    y_true, y_pred : np.ndarray
        Shape ``(n_documents,)``. Label indices (int) or label names; both arrays must use
        the same encoding.

    Returns
    -------
    float
        Accuracy in [0, 1].

    Raises
    ------
    DataError
        If the shapes differ or the arrays are empty.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise DataError(
            f"cannot compute accuracy: the true labels have shape {y_true.shape} but the "
            f"predicted labels have shape {y_pred.shape}; pass one prediction per document"
        )
    if y_true.size == 0:
        raise DataError("cannot compute accuracy of an empty corpus; pass at least one document")
    return float(np.mean(y_true == y_pred))


def evaluate(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    *,
    probabilities: np.ndarray | None = None,
    source: str | None = None,
    line_numbers: Sequence[int] | None = None,
) -> ClassificationReport:
    """Compare predicted labels with true labels and compute the classification metrics.

    Rules for the edge cases:

    - A label of ``y_true`` that is not in ``labels`` (not seen in training) is appended to
      the report's labels, after the model labels and sorted. The model cannot predict it,
      so each of its documents counts as an error. One warning is logged per such label.
      The macro and weighted averages include these labels.
    - Precision of a label that no document was predicted with is 0/0. It is reported as
      0.0 with ``precision_undefined`` set and a warning. The warning is skipped for labels
      not seen in training because their own warning already explains it.
    - Recall of a model label that no test document has is 0/0. It is reported as 0.0 with
      a warning.
    - F1 is ``2 * TP / (2 * TP + FP + FN)``, the harmonic mean of precision and recall. It is
      0.0 when TP is 0, which covers precision + recall = 0.
    - Log loss is the mean of ``-log(max(p, tiny))`` over documents, where p is the
      probability of the true label and ``tiny = np.finfo(float).tiny``. The result is
      finite, at most about 708.4 per document, even when p is 0. There is no clipping
      at the top, so p = 1 costs exactly 0. Documents whose true label is not a model label
      have no probability column, so they are left out of log loss, ROC-AUC and PR-AUC
      (with a warning that gives their number).
    - ROC-AUC and PR-AUC are computed only for models with 2 labels. Column 1 of
      ``probabilities``, the probability of ``labels[1]``, is the score of the positive label.
      PR-AUC is average precision: the sum over distinct thresholds of
      ``(R_k - R_{k-1}) * P_k``, with no interpolation. When one of the two labels does not
      occur in ``y_true``, both are None and a warning is logged.

    Parameters
    ----------
    y_true : sequence of str
        True label of each document, shape ``(n_documents,)``.
    y_pred : sequence of str
        Predicted label of each document, shape ``(n_documents,)``. Every value must be in
        ``labels``.
    labels : sequence of str
        The model labels in model order, shape ``(n_model_labels,)``, without duplicates.
    probabilities : np.ndarray, optional
        Shape ``(n_documents, n_model_labels)``, column j the probability of ``labels[j]``.
        Values are in [0, 1] and each row sums to 1 (within 1e-6).
    source : str, optional
        The test file. With it, the warning about a label not seen in training
        names the file and the lines of its documents.
    line_numbers : sequence of int, optional
        Line of each document in ``source``, shape ``(n_documents,)``; the
        default is the 1-based position.

    Returns
    -------
    ClassificationReport

    Raises
    ------
    DataError
        If the inputs are empty or have mismatched lengths, ``labels`` has duplicates, a
        predicted label is not in ``labels``, or ``probabilities`` has the wrong shape or
        values.
    """
    model_labels = _check_labels(labels)
    true_names = _as_label_array(y_true, "true labels")
    pred_names = _as_label_array(y_pred, "predicted labels")
    if true_names.shape != pred_names.shape:
        raise DataError(
            f"cannot evaluate: the true labels have length {true_names.size} but the "
            f"predicted labels have length {pred_names.size}; pass one prediction per document"
        )
    n_documents = true_names.size
    if n_documents == 0:
        raise DataError("cannot evaluate an empty corpus; pass at least one document")
    if probabilities is not None:
        probabilities = _check_probabilities(probabilities, n_documents, len(model_labels))

    # Unseen labels go after the model labels, so model indices stay valid report indices.
    index_of = {label: i for i, label in enumerate(model_labels)}
    true_uniques = np.unique(true_names).tolist()
    unseen = sorted(set(true_uniques) - set(model_labels))
    report_labels = model_labels + unseen
    index_of.update({label: len(model_labels) + i for i, label in enumerate(unseen)})

    unknown_predictions = sorted(set(np.unique(pred_names).tolist()) - set(model_labels))
    if unknown_predictions:
        raise DataError(
            f"predicted label {unknown_predictions[0]!r} is not a model label "
            f"(model labels: {', '.join(model_labels)}); evaluate predictions made by the "
            f"model that has these labels"
        )

    y = _encode(true_names, index_of)
    y_hat = _encode(pred_names, index_of)
    n_labels = len(report_labels)
    matrix = np.bincount(y * n_labels + y_hat, minlength=n_labels * n_labels)
    matrix = matrix.reshape(n_labels, n_labels).astype(np.int64)

    unseen_locations = None
    if source is not None and unseen:
        positions = line_numbers if line_numbers is not None else range(1, n_documents + 1)
        lines_by_index: dict[int, list[int]] = {}
        for index, line in zip(y.tolist(), positions):
            if index >= len(model_labels):
                lines_by_index.setdefault(index, []).append(int(line))
        unseen_locations = {report_labels[index]: (source, lines) for index, lines in lines_by_index.items()}
    per_label = _score_labels(matrix, report_labels, n_model_labels=len(model_labels), unseen_locations=unseen_locations)
    macro, weighted = _average(per_label)

    seen = y < len(model_labels)
    n_left_out = int(n_documents - np.count_nonzero(seen))
    log_loss_value: float | None = None
    roc_auc_value: float | None = None
    pr_auc_value: float | None = None
    if probabilities is not None:
        if n_left_out:
            scores_named = "log loss leaves"
            if len(model_labels) == 2:
                scores_named = "log loss, ROC-AUC and PR-AUC leave"
            logger.warning(
                "%s out %d test %s whose label was not seen in training",
                scores_named,
                n_left_out,
                _plural(n_left_out, "document"),
            )
        log_loss_value = _log_loss(probabilities[seen], y[seen])
        if len(model_labels) == 2:
            roc_auc_value, pr_auc_value = _binary_ranking_scores(
                y[seen] == 1, probabilities[seen, 1], model_labels
            )

    return ClassificationReport(
        labels=report_labels,
        n_documents=int(n_documents),
        accuracy=float(np.trace(matrix) / n_documents),
        per_label=per_label,
        macro=macro,
        weighted=weighted,
        confusion_matrix=matrix,
        log_loss=log_loss_value,
        roc_auc=roc_auc_value,
        pr_auc=pr_auc_value,
    )


def _check_labels(labels: Sequence[str]) -> list[str]:
    if isinstance(labels, str):
        raise DataError(
            f"labels must be a list of label names, not the single string {labels!r}"
        )
    model_labels = [str(label) for label in labels]
    if not model_labels:
        raise DataError("cannot evaluate a model without labels; pass the model's label list")
    if len(set(model_labels)) != len(model_labels):
        duplicates = sorted({label for label in model_labels if model_labels.count(label) > 1})
        raise DataError(
            f"the model labels contain duplicates ({', '.join(duplicates)}); "
            f"each label must occur once"
        )
    return model_labels


def _as_label_array(values: Sequence[str], description: str) -> np.ndarray:
    if isinstance(values, str):
        raise DataError(
            f"the {description} must be a list with one label per document, not a string"
        )
    array = np.asarray(values, dtype=np.str_)
    if array.ndim != 1:
        raise DataError(
            f"the {description} must be a flat list with one label per document, "
            f"but they have shape {array.shape}"
        )
    return array


def _encode(names: np.ndarray, index_of: dict[str, int]) -> np.ndarray:
    """Map label names to indices with one dict look-up per distinct label."""
    uniques, inverse = np.unique(names, return_inverse=True)
    codes = np.array([index_of[name] for name in uniques.tolist()], dtype=np.int64)
    return codes[inverse.reshape(-1)]


def _check_probabilities(probabilities: np.ndarray, n_documents: int, n_labels: int) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.shape != (n_documents, n_labels):
        raise DataError(
            f"probabilities have shape {probabilities.shape} but ({n_documents}, {n_labels}) "
            f"was expected (one row per document, one column per model label)"
        )
    if not np.all(np.isfinite(probabilities)):
        raise DataError("probabilities contain NaN or infinite values; check the model weights")
    if np.any(probabilities < 0) or np.any(probabilities > 1):
        raise DataError(
            f"probabilities must lie in [0, 1], but they range from {probabilities.min():g} "
            f"to {probabilities.max():g}; pass probabilities, not logits"
        )
    row_errors = np.abs(probabilities.sum(axis=1) - 1.0)
    worst = int(np.argmax(row_errors))
    if row_errors[worst] > _ROW_SUM_TOLERANCE:
        raise DataError(
            f"probabilities of document {worst + 1} sum to "
            f"{probabilities[worst].sum():.6g}, not 1; pass the softmax or sigmoid output"
        )
    return probabilities


def _score_labels(
    matrix: np.ndarray, labels: list[str], *, n_model_labels: int,
    unseen_locations: dict[str, tuple[str, list[int]]] | None = None,
) -> list[LabelScores]:
    true_positives = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    false_positives = predicted - true_positives
    false_negatives = support - true_positives

    precision = _divide_or_zero(true_positives, predicted)
    recall = _divide_or_zero(true_positives, support)
    f1 = _divide_or_zero(2 * true_positives, 2 * true_positives + false_positives + false_negatives)

    scores = []
    for i, label in enumerate(labels):
        seen_in_training = i < n_model_labels
        if not seen_in_training and unseen_locations and label in unseen_locations:
            logger.warning(_unseen_label_message(label, *unseen_locations[label]))
        elif not seen_in_training:
            logger.warning(
                "label %r occurs in %d test %s but was not seen in training; "
                "each counts as an error",
                label,
                support[i],
                _plural(int(support[i]), "document"),
            )
        elif predicted[i] == 0:
            logger.warning(
                "precision for %r is undefined (no document was predicted as %r); "
                "reported as 0.0",
                label,
                label,
            )
        if support[i] == 0:
            logger.warning(
                "recall for %r is undefined (no test document has the label %r); "
                "reported as 0.0",
                label,
                label,
            )
        scores.append(
            LabelScores(
                label=label,
                precision=float(precision[i]),
                recall=float(recall[i]),
                f1=float(f1[i]),
                support=int(support[i]),
                predicted=int(predicted[i]),
                true_positives=int(true_positives[i]),
                false_positives=int(false_positives[i]),
                false_negatives=int(false_negatives[i]),
                precision_undefined=bool(predicted[i] == 0),
                seen_in_training=seen_in_training,
            )
        )
    return scores


def _unseen_label_message(label: str, source: str, lines: list[int]) -> str:
    if len(lines) == 1:
        return (f"{source}:{lines[0]}: label {label!r} was not seen in training; counted as an error "
                "(its precision, 0/0, is reported as 0.0)")
    listed = ", ".join(str(line) for line in lines[:10]) + (", …" if len(lines) > 10 else "")
    return (f"{source}: label {label!r} on lines {listed} was not seen in training; each of these "
            f"{len(lines)} documents counts as an error (its precision, 0/0, is reported as 0.0)")


def _divide_or_zero(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Divide elementwise, with 0.0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    result = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def _average(per_label: list[LabelScores]) -> tuple[Averages, Averages]:
    table = np.array([[s.precision, s.recall, s.f1] for s in per_label])
    support = np.array([s.support for s in per_label], dtype=float)
    macro = table.mean(axis=0)
    # support sums to n_documents > 0 because every true label is in the report.
    weighted = support @ table / support.sum()
    return (
        Averages(precision=float(macro[0]), recall=float(macro[1]), f1=float(macro[2])),
        Averages(precision=float(weighted[0]), recall=float(weighted[1]), f1=float(weighted[2])),
    )


def _log_loss(probabilities: np.ndarray, y: np.ndarray) -> float | None:
    if y.size == 0:
        logger.warning("log loss is undefined because no test document has a model label")
        return None
    true_probabilities = probabilities[np.arange(y.size), y]
    return float(-np.mean(np.log(np.maximum(true_probabilities, _TINY))))


def _binary_ranking_scores(
    is_positive: np.ndarray, scores: np.ndarray, labels: list[str]
) -> tuple[float | None, float | None]:
    n_positive = int(np.count_nonzero(is_positive))
    n_negative = is_positive.size - n_positive
    if n_positive == 0 or n_negative == 0:
        missing = labels[1] if n_positive == 0 else labels[0]
        logger.warning(
            "ROC-AUC and PR-AUC are undefined because no test document has the label %r",
            missing,
        )
        return None, None
    return _roc_auc(is_positive, scores), _average_precision(is_positive, scores)


def _roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Compute ROC-AUC as the Mann-Whitney U statistic, ties counting one half."""
    n_positive = np.count_nonzero(is_positive)
    n_negative = is_positive.size - n_positive
    ranks = _average_ranks(scores)
    rank_sum = ranks[is_positive].sum()
    return float((rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Rank values from 1 upwards. Tied values share the mean of their ranks."""
    uniques, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ranks_before = np.cumsum(counts) - counts
    mean_ranks = ranks_before + (counts + 1) / 2
    return mean_ranks[inverse.reshape(-1)]


def _counts_by_threshold(
    is_positive: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count true and false positives at each distinct score used as threshold.

    A document is predicted positive when its score is >= the threshold. The thresholds are
    returned in decreasing order.
    """
    order = np.argsort(scores, kind="stable")[::-1]
    sorted_scores = scores[order]
    cumulative_positives = np.cumsum(is_positive[order])
    # The last index of each run of equal scores, so tied documents switch together.
    last_of_run = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    true_positives = cumulative_positives[last_of_run]
    false_positives = last_of_run + 1 - true_positives
    return sorted_scores[last_of_run], true_positives, false_positives


def _average_precision(is_positive: np.ndarray, scores: np.ndarray) -> float:
    _, true_positives, false_positives = _counts_by_threshold(is_positive, scores)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / true_positives[-1]
    recall_gain = np.diff(recall, prepend=0.0)
    return float(recall_gain @ precision)


def threshold_curve(y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Compute precision, recall and F1 of a binary decision at every useful threshold.

    A document is predicted positive when its score is >= the threshold. The thresholds are
    the distinct scores in increasing order, so each threshold predicts at least one document
    as positive and precision is always defined. F1 is ``2 * TP / (2 * TP + FP + FN)``, so
    equal F1 values compare exactly equal.

    Parameters
    ----------
    y_true : np.ndarray
        bool, shape ``(n_documents,)``; True for documents of the positive label. An int
        array of 0 and 1 is also accepted.
    scores : np.ndarray
        float, shape ``(n_documents,)``; higher means more likely positive, for example the
        probability of the positive label.

    Returns
    -------
    dict
        ``"thresholds"``, ``"precision"``, ``"recall"``, ``"f1"``: float arrays of shape
        ``(n_thresholds,)``, thresholds increasing. ``"best_threshold"``: the threshold with
        the highest F1, the higher threshold on ties. ``"best_f1"``: that F1. When no document
        is positive, recall and F1 are 0.0 everywhere (with a warning) and the best
        threshold is the highest score.

    Raises
    ------
    DataError
        If the arrays are empty or differ in length, ``y_true`` is not boolean, or
        ``scores`` are not finite.
    """
    is_positive = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    if is_positive.ndim != 1 or is_positive.shape != scores.shape:
        raise DataError(
            f"threshold curve: y_true has shape {is_positive.shape} but scores have shape "
            f"{scores.shape}; pass one flag and one score per document"
        )
    if is_positive.size == 0:
        raise DataError("threshold curve: the corpus is empty; pass at least one document")
    if is_positive.dtype != bool:
        if not np.all((is_positive == 0) | (is_positive == 1)):
            raise DataError(
                "threshold curve: y_true must be boolean (True for the positive label) "
                "or contain only 0 and 1"
            )
        is_positive = is_positive.astype(bool)
    if not np.all(np.isfinite(scores)):
        raise DataError("threshold curve: scores contain NaN or infinite values")

    thresholds, true_positives, false_positives = _counts_by_threshold(is_positive, scores)
    n_positive = true_positives[-1]
    if n_positive == 0:
        logger.warning(
            "threshold curve: no document is positive, so recall and F1 are reported as 0.0"
        )
    false_negatives = n_positive - true_positives
    precision = true_positives / (true_positives + false_positives)
    recall = _divide_or_zero(true_positives, np.full(true_positives.shape, n_positive))
    f1 = _divide_or_zero(2 * true_positives, 2 * true_positives + false_positives + false_negatives)

    # Thresholds are still decreasing here, so argmax picks the higher threshold on ties.
    best = int(np.argmax(f1))
    return {
        "thresholds": thresholds[::-1].copy(),
        "precision": precision[::-1].copy(),
        "recall": recall[::-1].copy(),
        "f1": f1[::-1].copy(),
        "best_threshold": float(thresholds[best]),
        "best_f1": float(f1[best]),
    }


def report_to_dict(report: ClassificationReport) -> dict[str, Any]:
    """Convert a report to plain Python types that ``json.dumps`` accepts.

    Absent scores become None (JSON null). ``"averages_include_unseen_labels"`` is always
    True: it records that the macro and weighted averages count labels not seen in training.

    Parameters
    ----------
    report : ClassificationReport

    Returns
    -------
    dict
        Keys ``n_documents``, ``accuracy``, ``macro``, ``weighted``, ``per_label`` (label to
        scores and counts), ``confusion_matrix`` (``labels`` and ``matrix``, rows true,
        columns predicted), ``log_loss``, ``roc_auc``, ``pr_auc`` and
        ``averages_include_unseen_labels``.
    """
    return {
        "n_documents": int(report.n_documents),
        "accuracy": float(report.accuracy),
        "macro": _averages_to_dict(report.macro),
        "weighted": _averages_to_dict(report.weighted),
        "per_label": {
            scores.label: {
                "precision": float(scores.precision),
                "recall": float(scores.recall),
                "f1": float(scores.f1),
                "support": int(scores.support),
                "predicted": int(scores.predicted),
                "true_positives": int(scores.true_positives),
                "false_positives": int(scores.false_positives),
                "false_negatives": int(scores.false_negatives),
                "precision_undefined": bool(scores.precision_undefined),
                "seen_in_training": bool(scores.seen_in_training),
            }
            for scores in report.per_label
        },
        "confusion_matrix": {
            "labels": list(report.labels),
            "matrix": np.asarray(report.confusion_matrix, dtype=np.int64).tolist(),
        },
        "log_loss": _optional_float(report.log_loss),
        "roc_auc": _optional_float(report.roc_auc),
        "pr_auc": _optional_float(report.pr_auc),
        "averages_include_unseen_labels": True,
    }


def _averages_to_dict(averages: Averages) -> dict[str, float]:
    return {
        "precision": float(averages.precision),
        "recall": float(averages.recall),
        "f1": float(averages.f1),
    }


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def format_report(report: ClassificationReport, *, digits: int = 4) -> str:
    """Render a report as a fixed-width text table followed by the confusion matrix.

    The table has one row per label (precision, recall, f1-score, support), then accuracy
    and the macro and weighted averages. Labels not seen in training are marked with ``*``.
    Notes below the table list the labels whose precision or recall is undefined and
    reported as 0.0. Log loss, ROC-AUC and PR-AUC follow when the report has them.

    Parameters
    ----------
    report : ClassificationReport
    digits : int
        Decimal places of the scores.

    Returns
    -------
    str
        Multi-line text ending with a newline.
    """
    names = [s.label if s.seen_in_training else s.label + "*" for s in report.per_label]
    name_width = max(len("weighted avg"), *(len(name) for name in names))
    score_width = max(len("precision"), digits + 2)
    header_cells = ["precision", "recall", "f1-score", "support"]
    header = " " * name_width + "".join(f"  {cell:>{score_width}}" for cell in header_cells)

    def row(name: str, values: list[float | None], support: int) -> str:
        cells = "".join(
            f"  {'':>{score_width}}" if value is None else f"  {value:>{score_width}.{digits}f}"
            for value in values
        )
        return f"{name:>{name_width}}{cells}  {support:>{score_width}}"

    lines = [header, ""]
    for name, scores in zip(names, report.per_label):
        lines.append(row(name, [scores.precision, scores.recall, scores.f1], scores.support))
    lines.append("")
    lines.append(row("accuracy", [None, None, report.accuracy], report.n_documents))
    for name, averages in (("macro avg", report.macro), ("weighted avg", report.weighted)):
        lines.append(
            row(name, [averages.precision, averages.recall, averages.f1], report.n_documents)
        )

    lines.extend(_format_notes(report, digits))
    lines.append("")
    lines.extend(_format_confusion_matrix(report))
    return "\n".join(lines) + "\n"


def _format_notes(report: ClassificationReport, digits: int) -> list[str]:
    unseen = [s for s in report.per_label if not s.seen_in_training]
    no_prediction = [
        s.label for s in report.per_label if s.precision_undefined and s.seen_in_training
    ]
    no_support = [s.label for s in report.per_label if s.support == 0]

    notes = []
    if unseen:
        notes.append(
            "* not seen in training: each test document with this label counts as an error."
        )
        notes.append("  The macro and weighted averages include these labels.")
    if no_prediction:
        notes.append(
            f"precision is undefined (no document predicted) for {', '.join(no_prediction)}; "
            f"reported as 0.0"
        )
    if no_support:
        notes.append(
            f"recall is undefined (no test document) for {', '.join(no_support)}; "
            f"reported as 0.0"
        )

    n_left_out = sum(s.support for s in unseen)
    left_out = (
        f" (leaves out {n_left_out} {_plural(n_left_out, 'document')} with a label not "
        f"seen in training)"
        if n_left_out
        else ""
    )
    if report.log_loss is not None:
        notes.append(f"log loss: {report.log_loss:.{digits}f}{left_out}")
    if report.roc_auc is not None:
        notes.append(f"ROC-AUC: {report.roc_auc:.{digits}f}{left_out}")
    if report.pr_auc is not None:
        notes.append(f"PR-AUC (average precision): {report.pr_auc:.{digits}f}{left_out}")
    return [""] + notes if notes else []


def _format_confusion_matrix(report: ClassificationReport) -> list[str]:
    matrix = np.asarray(report.confusion_matrix)
    labels = report.labels
    row_width = max(len(label) for label in labels)
    column_widths = [
        max(len(label), len(str(int(matrix[:, j].max(initial=0)))))
        for j, label in enumerate(labels)
    ]
    lines = ["confusion matrix (rows: true label, columns: predicted label)"]
    lines.append(
        " " * row_width
        + "".join(f"  {label:>{width}}" for label, width in zip(labels, column_widths))
    )
    for i, label in enumerate(labels):
        counts = "".join(
            f"  {int(count):>{width}}" for count, width in zip(matrix[i], column_widths)
        )
        lines.append(f"{label:>{row_width}}{counts}")
    return lines


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"
