"""Tests for logreg_cli.metrics: hand-computed cases, edge cases and agreement with scikit-learn."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from logreg_cli.errors import DataError
from logreg_cli.metrics import (
    ClassificationReport,
    accuracy,
    evaluate,
    format_report,
    report_to_dict,
    threshold_curve,
)

TOLERANCE = 1e-12


def scores_of(report: ClassificationReport, label: str):
    return report.per_label[report.labels.index(label)]


def evaluate_unseen_label_case() -> ClassificationReport:
    """Evaluate a binary model on a corpus that also has the label 'neutral'."""
    return evaluate(
        ["pos", "pos", "neg", "neutral", "neg"],
        ["pos", "pos", "neg", "pos", "neg"],
        ["neg", "pos"],
    )


def evaluate_never_spam_case() -> ClassificationReport:
    """Evaluate 8 ham and 2 spam documents, all predicted as ham."""
    return evaluate(["ham"] * 8 + ["spam"] * 2, ["ham"] * 10, ["ham", "spam"])


@pytest.fixture
def unseen_label_report() -> ClassificationReport:
    return evaluate_unseen_label_case()


@pytest.fixture
def never_spam_report() -> ClassificationReport:
    return evaluate_never_spam_case()


# A label of the test corpus that the model never saw.


def test_evaluate_unseen_label_accuracy(unseen_label_report):
    assert unseen_label_report.accuracy == pytest.approx(0.8)


def test_evaluate_unseen_label_order(unseen_label_report):
    assert unseen_label_report.labels == ["neg", "pos", "neutral"]


def test_evaluate_unseen_label_pos_scores(unseen_label_report):
    pos = scores_of(unseen_label_report, "pos")
    assert pos.precision == pytest.approx(0.666667, abs=1e-6)
    assert pos.recall == pytest.approx(1.0)
    assert pos.f1 == pytest.approx(0.8)
    assert pos.support == 2
    assert pos.predicted == 3
    assert pos.false_positives == 1


def test_evaluate_unseen_label_neg_scores(unseen_label_report):
    neg = scores_of(unseen_label_report, "neg")
    assert neg.precision == pytest.approx(1.0)
    assert neg.recall == pytest.approx(1.0)
    assert neg.f1 == pytest.approx(1.0)
    assert neg.support == 2


def test_evaluate_unseen_label_neutral_scores(unseen_label_report):
    neutral = scores_of(unseen_label_report, "neutral")
    assert neutral.support == 1
    assert neutral.recall == 0.0
    assert neutral.precision == 0.0
    assert neutral.f1 == 0.0
    assert neutral.precision_undefined is True
    assert neutral.seen_in_training is False
    assert neutral.false_negatives == 1


def test_evaluate_unseen_label_macro_includes_it(unseen_label_report):
    assert unseen_label_report.macro.precision == pytest.approx(0.555556, abs=1e-6)
    assert unseen_label_report.macro.recall == pytest.approx(0.666667, abs=1e-6)
    assert unseen_label_report.macro.f1 == pytest.approx(0.6)


def test_evaluate_unseen_label_confusion_matrix(unseen_label_report):
    expected = np.array([[2, 0, 0], [0, 2, 0], [0, 1, 0]])
    assert unseen_label_report.confusion_matrix.dtype == np.int64
    np.testing.assert_array_equal(unseen_label_report.confusion_matrix, expected)


def test_evaluate_unseen_label_logs_warning(caplog):
    caplog.set_level(logging.WARNING, logger="logreg_cli.metrics")
    evaluate_unseen_label_case()
    messages = [record.getMessage() for record in caplog.records]
    expected = (
        "label 'neutral' occurs in 1 test document but was not seen in training; "
        "each counts as an error"
    )
    assert expected in messages
    assert sum("neutral" in message for message in messages) == 1


# A model label that is never predicted.


def test_evaluate_never_predicted_accuracy(never_spam_report):
    assert never_spam_report.accuracy == pytest.approx(0.8)


def test_evaluate_never_predicted_ham_scores(never_spam_report):
    ham = scores_of(never_spam_report, "ham")
    assert ham.precision == pytest.approx(0.8)
    assert ham.recall == pytest.approx(1.0)
    assert ham.f1 == pytest.approx(0.888889, abs=1e-6)


def test_evaluate_never_predicted_spam_scores(never_spam_report):
    spam = scores_of(never_spam_report, "spam")
    assert spam.precision == 0.0
    assert spam.precision_undefined is True
    assert spam.recall == 0.0
    assert spam.f1 == 0.0
    assert spam.seen_in_training is True


def test_evaluate_never_predicted_averages(never_spam_report):
    assert never_spam_report.macro.f1 == pytest.approx(0.444444, abs=1e-6)
    assert never_spam_report.weighted.f1 == pytest.approx(0.711111, abs=1e-6)


def test_evaluate_never_predicted_warns_precision(caplog):
    caplog.set_level(logging.WARNING, logger="logreg_cli.metrics")
    evaluate_never_spam_case()
    messages = [record.getMessage() for record in caplog.records]
    expected = (
        "precision for 'spam' is undefined (no document was predicted as 'spam'); "
        "reported as 0.0"
    )
    assert expected in messages


# Other edge cases.


def test_evaluate_zero_support_recall_warns(caplog):
    caplog.set_level(logging.WARNING, logger="logreg_cli.metrics")
    report = evaluate(["ham", "ham"], ["ham", "spam"], ["ham", "spam"])
    spam = scores_of(report, "spam")
    messages = [record.getMessage() for record in caplog.records]
    assert spam.recall == 0.0
    assert spam.precision == 0.0
    assert spam.precision_undefined is False
    assert spam.support == 0
    assert any(message.startswith("recall for 'spam' is undefined") for message in messages)


def test_evaluate_no_correct_prediction_is_finite():
    report = evaluate(["a", "b", "c"], ["b", "c", "a"], ["a", "b", "c"])
    values = [report.accuracy, report.macro.f1, report.weighted.f1]
    values += [s.f1 for s in report.per_label]
    assert all(math.isfinite(value) for value in values)
    assert report.accuracy == 0.0
    assert report.macro.f1 == 0.0


def test_evaluate_log_loss_zero_probability_finite():
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0]])
    report = evaluate(["b", "b"], ["a", "b"], ["a", "b"], probabilities=probabilities)
    expected = -math.log(np.finfo(float).tiny) / 2
    assert math.isfinite(report.log_loss)
    assert report.log_loss == pytest.approx(expected)


def test_evaluate_log_loss_skips_unseen_documents(caplog):
    caplog.set_level(logging.WARNING, logger="logreg_cli.metrics")
    probabilities = np.array([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]])
    report = evaluate(
        ["a", "b", "c"], ["a", "b", "a"], ["a", "b"], probabilities=probabilities
    )
    messages = [record.getMessage() for record in caplog.records]
    assert report.log_loss == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)
    assert any("leave out 1 test document" in message for message in messages)


def test_evaluate_auc_none_for_three_labels():
    probabilities = np.full((3, 3), 1 / 3)
    labels = ["a", "b", "c"]
    report = evaluate(labels, labels, labels, probabilities=probabilities)
    assert report.roc_auc is None
    assert report.pr_auc is None
    assert report.log_loss == pytest.approx(math.log(3))


def test_evaluate_auc_none_for_one_true_label():
    probabilities = np.array([[0.5, 0.5], [0.2, 0.8]])
    report = evaluate(["b", "b"], ["a", "b"], ["a", "b"], probabilities=probabilities)
    assert report.roc_auc is None
    assert report.pr_auc is None


def test_evaluate_without_probabilities_has_no_scores():
    report = evaluate(["a", "b"], ["a", "b"], ["a", "b"])
    assert report.log_loss is None
    assert report.roc_auc is None
    assert report.pr_auc is None


def test_evaluate_unknown_prediction_raises():
    with pytest.raises(DataError, match="predicted label 'z' is not a model label"):
        evaluate(["a", "b"], ["a", "z"], ["a", "b"])


def test_evaluate_length_mismatch_raises():
    with pytest.raises(DataError, match="length 2 but the predicted labels have length 1"):
        evaluate(["a", "b"], ["a"], ["a", "b"])


def test_evaluate_empty_corpus_raises():
    with pytest.raises(DataError, match="empty corpus"):
        evaluate([], [], ["a", "b"])


def test_evaluate_duplicate_labels_raises():
    with pytest.raises(DataError, match="duplicates"):
        evaluate(["a"], ["a"], ["a", "b", "a"])


def test_evaluate_probability_shape_raises():
    with pytest.raises(DataError, match=r"shape \(2, 3\) but \(2, 2\)"):
        evaluate(["a", "b"], ["a", "b"], ["a", "b"], probabilities=np.full((2, 3), 1 / 3))


def test_evaluate_probability_row_sum_raises():
    probabilities = np.array([[0.5, 0.5], [0.5, 0.6]])
    with pytest.raises(DataError, match="document 2 sum to 1.1"):
        evaluate(["a", "b"], ["a", "b"], ["a", "b"], probabilities=probabilities)


def test_evaluate_probability_logits_raise():
    probabilities = np.array([[2.0, -1.0], [0.5, 0.5]])
    with pytest.raises(DataError, match="not logits"):
        evaluate(["a", "b"], ["a", "b"], ["a", "b"], probabilities=probabilities)


# accuracy helper.


def test_accuracy_int_arrays():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2])) == pytest.approx(0.75)


def test_accuracy_shape_mismatch_raises():
    with pytest.raises(DataError, match="shape"):
        accuracy(np.array([0, 1]), np.array([0, 1, 1]))


def test_accuracy_empty_raises():
    with pytest.raises(DataError, match="empty corpus"):
        accuracy(np.array([], dtype=int), np.array([], dtype=int))


# threshold_curve.


def test_threshold_curve_hand_example():
    y_true = np.array([True, False, True, True, False])
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.2])
    curve = threshold_curve(y_true, scores)
    np.testing.assert_allclose(curve["thresholds"], [0.2, 0.4, 0.7, 0.8, 0.9])
    np.testing.assert_allclose(curve["precision"], [0.6, 0.75, 2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(curve["recall"], [1.0, 1.0, 2 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(curve["f1"], [0.75, 6 / 7, 2 / 3, 0.4, 0.5])
    assert curve["best_threshold"] == 0.4
    assert curve["best_f1"] == pytest.approx(6 / 7)


def test_threshold_curve_tie_picks_higher():
    # F1 is 2/3 at threshold 1 (TP 2, FP 2) and at threshold 4 (TP 1, FN 1).
    curve = threshold_curve(np.array([True, False, False, True]), np.array([4.0, 3.0, 2.0, 1.0]))
    np.testing.assert_allclose(curve["f1"], [2 / 3, 0.4, 0.5, 2 / 3])
    assert curve["best_threshold"] == 4.0


def test_threshold_curve_tied_scores_grouped():
    curve = threshold_curve(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.1]))
    np.testing.assert_allclose(curve["thresholds"], [0.1, 0.5])
    np.testing.assert_allclose(curve["precision"], [2 / 3, 0.5])
    np.testing.assert_allclose(curve["recall"], [1.0, 0.5])


def test_threshold_curve_no_positive_is_zero(caplog):
    caplog.set_level(logging.WARNING, logger="logreg_cli.metrics")
    curve = threshold_curve(np.array([False, False]), np.array([0.3, 0.6]))
    np.testing.assert_array_equal(curve["recall"], [0.0, 0.0])
    np.testing.assert_array_equal(curve["f1"], [0.0, 0.0])
    assert curve["best_threshold"] == 0.6
    assert any("no document is positive" in record.getMessage() for record in caplog.records)


def test_threshold_curve_non_boolean_raises():
    with pytest.raises(DataError, match="boolean"):
        threshold_curve(np.array([0, 2]), np.array([0.1, 0.2]))


# report_to_dict and format_report.


def test_report_to_dict_json_keys(unseen_label_report):
    data = report_to_dict(unseen_label_report)
    decoded = json.loads(json.dumps(data))
    expected_keys = {
        "n_documents",
        "accuracy",
        "macro",
        "weighted",
        "per_label",
        "confusion_matrix",
        "log_loss",
        "roc_auc",
        "pr_auc",
        "averages_include_unseen_labels",
    }
    assert set(decoded) == expected_keys
    assert decoded["averages_include_unseen_labels"] is True
    assert decoded["log_loss"] is None
    assert decoded["confusion_matrix"]["labels"] == ["neg", "pos", "neutral"]
    assert decoded["confusion_matrix"]["matrix"] == [[2, 0, 0], [0, 2, 0], [0, 1, 0]]
    assert set(decoded["macro"]) == {"precision", "recall", "f1"}


def test_report_to_dict_per_label_fields(unseen_label_report):
    neutral = report_to_dict(unseen_label_report)["per_label"]["neutral"]
    assert set(neutral) == {
        "precision",
        "recall",
        "f1",
        "support",
        "predicted",
        "true_positives",
        "false_positives",
        "false_negatives",
        "precision_undefined",
        "seen_in_training",
    }
    assert neutral["precision_undefined"] is True
    assert neutral["seen_in_training"] is False
    assert neutral["support"] == 1


def test_report_to_dict_plain_types():
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    report = evaluate(["a", "b", "b"], ["a", "b", "a"], ["a", "b"], probabilities=probabilities)
    data = report_to_dict(report)
    assert type(data["accuracy"]) is float
    assert type(data["log_loss"]) is float
    assert type(data["roc_auc"]) is float
    assert type(data["per_label"]["a"]["support"]) is int
    assert type(data["confusion_matrix"]["matrix"][0][0]) is int


def test_format_report_names_labels(unseen_label_report):
    text = format_report(unseen_label_report)
    for label in ["neg", "pos", "neutral"]:
        assert label in text
    assert "accuracy" in text
    assert "0.8000" in text
    assert "confusion matrix" in text


def test_format_report_marks_undefined_precision(never_spam_report):
    text = format_report(never_spam_report)
    assert "precision is undefined (no document predicted) for spam" in text


def test_format_report_matrix_rows():
    report = evaluate(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])
    lines = format_report(report).splitlines()
    assert lines[-2].split() == ["a", "1", "0"]
    assert lines[-1].split() == ["b", "1", "1"]


# Agreement with scikit-learn on random predictions.


def random_case(n_labels: int, with_unseen: bool, seed: int):
    """Draw 400 documents with softmax-like probabilities and predictions from their argmax.

    The true labels are drawn uniformly from the model labels, plus two labels that the model
    does not have when ``with_unseen`` is set.
    """
    rng = np.random.default_rng(seed)
    n_documents = 400
    labels = [f"label{i:02d}" for i in range(n_labels)]
    probabilities = rng.dirichlet(np.ones(n_labels), size=n_documents)
    y_pred = [labels[i] for i in probabilities.argmax(axis=1)]
    true_pool = labels + (["unseen_x", "unseen_a"] if with_unseen else [])
    y_true = [true_pool[i] for i in rng.integers(0, len(true_pool), size=n_documents)]
    return labels, y_true, y_pred, probabilities


CASES = [
    pytest.param(2, False, 1, id="2-labels"),
    pytest.param(2, True, 2, id="2-labels-unseen"),
    pytest.param(3, False, 3, id="3-labels"),
    pytest.param(3, True, 4, id="3-labels-unseen"),
    pytest.param(20, False, 5, id="20-labels"),
    pytest.param(20, True, 6, id="20-labels-unseen"),
]


@pytest.mark.parametrize(("n_labels", "with_unseen", "seed"), CASES)
def test_evaluate_matches_sklearn_counts(n_labels, with_unseen, seed):
    sk_metrics = pytest.importorskip("sklearn.metrics")
    labels, y_true, y_pred, probabilities = random_case(n_labels, with_unseen, seed)
    report = evaluate(y_true, y_pred, labels, probabilities=probabilities)

    expected_matrix = sk_metrics.confusion_matrix(y_true, y_pred, labels=report.labels)
    np.testing.assert_array_equal(report.confusion_matrix, expected_matrix)
    assert report.accuracy == pytest.approx(
        sk_metrics.accuracy_score(y_true, y_pred), rel=0, abs=TOLERANCE
    )


@pytest.mark.parametrize(("n_labels", "with_unseen", "seed"), CASES)
def test_evaluate_matches_sklearn_per_label(n_labels, with_unseen, seed):
    sk_metrics = pytest.importorskip("sklearn.metrics")
    labels, y_true, y_pred, probabilities = random_case(n_labels, with_unseen, seed)
    report = evaluate(y_true, y_pred, labels, probabilities=probabilities)

    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=report.labels, average=None, zero_division=0
    )
    per_label = report.per_label
    np.testing.assert_allclose([s.precision for s in per_label], precision, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose([s.recall for s in per_label], recall, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose([s.f1 for s in per_label], f1, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal([s.support for s in report.per_label], support)


@pytest.mark.parametrize(("n_labels", "with_unseen", "seed"), CASES)
@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_evaluate_matches_sklearn_averages(n_labels, with_unseen, seed, average):
    sk_metrics = pytest.importorskip("sklearn.metrics")
    labels, y_true, y_pred, probabilities = random_case(n_labels, with_unseen, seed)
    report = evaluate(y_true, y_pred, labels, probabilities=probabilities)

    precision, recall, f1, _ = sk_metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=report.labels, average=average, zero_division=0
    )
    averages = getattr(report, average)
    assert averages.precision == pytest.approx(precision, rel=0, abs=TOLERANCE)
    assert averages.recall == pytest.approx(recall, rel=0, abs=TOLERANCE)
    assert averages.f1 == pytest.approx(f1, rel=0, abs=TOLERANCE)


@pytest.mark.parametrize(("n_labels", "with_unseen", "seed"), CASES)
def test_evaluate_matches_sklearn_log_loss(n_labels, with_unseen, seed):
    sk_metrics = pytest.importorskip("sklearn.metrics")
    labels, y_true, y_pred, probabilities = random_case(n_labels, with_unseen, seed)
    report = evaluate(y_true, y_pred, labels, probabilities=probabilities)

    seen = np.isin(y_true, labels)
    expected = sk_metrics.log_loss(np.asarray(y_true)[seen], probabilities[seen], labels=labels)
    assert report.log_loss == pytest.approx(expected, rel=0, abs=TOLERANCE)


@pytest.mark.parametrize("with_unseen", [False, True], ids=["all-seen", "unseen"])
@pytest.mark.parametrize("decimals", [None, 1], ids=["distinct-scores", "tied-scores"])
def test_evaluate_matches_sklearn_binary_auc(with_unseen, decimals):
    sk_metrics = pytest.importorskip("sklearn.metrics")
    labels, y_true, y_pred, probabilities = random_case(2, with_unseen, seed=7)
    if decimals is not None:
        # Rounding creates many tied scores, which exercises the averaged ranks.
        positive = np.round(probabilities[:, 1], decimals)
        probabilities = np.column_stack([1 - positive, positive])
    report = evaluate(y_true, y_pred, labels, probabilities=probabilities)

    seen = np.isin(y_true, labels)
    is_positive = np.asarray(y_true)[seen] == labels[1]
    scores = probabilities[seen, 1]
    assert report.roc_auc == pytest.approx(
        sk_metrics.roc_auc_score(is_positive, scores), rel=0, abs=TOLERANCE
    )
    assert report.pr_auc == pytest.approx(
        sk_metrics.average_precision_score(is_positive, scores), rel=0, abs=TOLERANCE
    )
