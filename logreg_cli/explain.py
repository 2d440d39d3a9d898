"""Looking inside a model: its settings and top features, and why it predicted each label.

``describe_model`` gathers what ``logreg inspect`` shows. ``explain_documents``
splits each document's logit into one contribution per feature, value times
weight, and keeps the features that pushed most toward the predicted label.
``prediction_records`` and the two formatters turn predictions into the TSV
and JSON Lines output of ``logreg predict``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from logreg_cli.model import LogisticModel
from logreg_cli.sparse import CSRMatrix


def top_features(model: LogisticModel, k: int) -> dict[str, list[tuple[str, float]]]:
    """Return the ``k`` features with the largest weights for each label, largest first.

    A binary model has one weight per feature. Positive weights push toward
    ``labels[1]`` and negative weights toward ``labels[0]``, so ``labels[1]``
    gets the ``k`` largest positive weights and ``labels[0]`` the ``k`` most
    negative ones. Features of the other sign are left out, so a list may be
    shorter than ``k``. A softmax model has one weight column per label, and
    each label gets the ``k`` largest entries of its column. The bias feature
    is never listed.

    Returns
    -------
    dict
        label -> list of (feature, weight) pairs.
    """
    names = np.asarray(model.featurizer.feature_names(), dtype=object)[1:]
    weights = model.weights[1:]
    if model.kind == "binary":
        order = np.argsort(-weights, kind="stable")
        positive = [(str(names[i]), float(weights[i])) for i in order[:k] if weights[i] > 0]
        order = np.argsort(weights, kind="stable")
        negative = [(str(names[i]), float(weights[i])) for i in order[:k] if weights[i] < 0]
        return {model.labels[1]: positive, model.labels[0]: negative}
    result = {}
    for column, label in enumerate(model.labels):
        order = np.argsort(-weights[:, column], kind="stable")[:k]
        result[label] = [(str(names[i]), float(weights[i, column])) for i in order]
    return result


def describe_model(model: LogisticModel, *, top_k: int = 10) -> dict[str, Any]:
    """Gather a model's labels, sizes, settings, training summary and top features.

    Returns
    -------
    dict
        Keys ``kind``, ``labels``, ``n_features`` (the bias feature included),
        ``n_ngram_features``, ``n_handcrafted_features``, ``hash_scheme`` (None
        without hashing), ``threshold``, ``bias`` (label -> weight of the bias feature),
        ``featurizer`` and ``trainer`` (the settings), ``training`` (best
        epoch, epochs run, stop reason and the losses of the best epoch) and
        ``top_features`` (label -> list of ``{"feature", "weight"}``).
    """
    if model.kind == "binary":
        bias = {model.labels[1]: float(model.weights[0])}
    else:
        bias = {label: float(model.weights[0, column]) for column, label in enumerate(model.labels)}
    history = model.training.get("history", [])
    best_epoch = model.training.get("best_epoch")
    best = history[best_epoch - 1] if best_epoch and 0 < best_epoch <= len(history) else None
    training = {
        "best_epoch": best_epoch,
        "epochs": len(history),
        "stop_reason": model.training.get("stop_reason"),
        "interrupted": model.training.get("interrupted", False),
        "train_loss": best["train_loss"] if best else None,
        "val_loss": best["val_loss"] if best else None,
        "val_accuracy": best["val_accuracy"] if best else None,
    }
    return {
        "kind": model.kind,
        "labels": list(model.labels),
        "n_features": model.featurizer.n_features,
        "n_ngram_features": model.featurizer.n_ngram_features,
        "n_handcrafted_features": model.featurizer.handcrafted.n_features,
        "hash_scheme": model.featurizer.hash_scheme if model.featurizer.hashing else None,
        "threshold": model.threshold,
        "bias": bias,
        "featurizer": dataclasses.asdict(model.featurizer.settings),
        "trainer": dict(model.config.get("trainer", {})),
        "training": training,
        "top_features": {
            label: [{"feature": name, "weight": weight} for name, weight in pairs]
            for label, pairs in top_features(model, top_k).items()
        },
    }


def format_model_description(description: dict[str, Any], *, source: str = "") -> str:
    """Render :func:`describe_model` as text for a terminal."""
    labels = description["labels"]
    lines = [f"model: {source}"] if source else []
    lines.append(f"kind: {description['kind']}, {len(labels)} labels: {', '.join(labels)}")
    parts = ["the bias feature"]
    if description["hash_scheme"] is not None:
        parts.append(f"{description['n_ngram_features']:,} hashed n-gram columns, tokens hashed by {description['hash_scheme']}")
    elif description["n_ngram_features"]:
        parts.append(f"a vocabulary of {description['n_ngram_features']:,} n-grams")
    if description["n_handcrafted_features"]:
        count = description["n_handcrafted_features"]
        parts.append(f"{count} hand-written feature{'s' if count > 1 else ''}")
    lines.append(f"features: {description['n_features']:,} ({'; '.join(parts)})")
    threshold = description["threshold"]
    if description["kind"] == "binary":
        lines.append(f"threshold: {threshold:.6f} (predicts {labels[1]!r} when its probability is at least this)"
                     if threshold is not None else "threshold: none (predicts the more probable label)")
    lines.append("bias weight: " + ", ".join(f"{label} {weight:+.4f}" for label, weight in description["bias"].items()))

    training = description["training"]
    if training["best_epoch"] is not None:
        summary = f"training: kept epoch {training['best_epoch']} of {training['epochs']} ({training['stop_reason']})"
        if training["train_loss"] is not None:
            summary += f"; at that epoch train_loss {training['train_loss']:.6f}"
        if training["val_loss"] is not None:
            summary += f", val_loss {training['val_loss']:.6f}, val_accuracy {training['val_accuracy']:.4f}"
        lines.append(summary)
    for section in ("featurizer", "trainer"):
        lines.append("")
        lines.append(f"{section}:")
        for key, value in description[section].items():
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")

    for label, features in description["top_features"].items():
        lines.append("")
        if description["kind"] == "binary":
            sign = "positive" if label == labels[1] else "negative"
            lines.append(f"top {len(features)} features for {label!r} ({sign} weights):")
        else:
            lines.append(f"top {len(features)} features for {label!r}:")
        width = max((len(item["feature"]) for item in features), default=0)
        for item in features:
            lines.append(f"  {item['weight']:+9.4f}  {item['feature']:<{width}}".rstrip())
    return "\n".join(lines) + "\n"


def explain_documents(model: LogisticModel, X: CSRMatrix, predicted: np.ndarray, k: int) -> list[dict[str, Any]]:
    """Return, per document, the ``k`` features that pushed most toward its predicted label.

    A feature's contribution is its value times its weight for the
    predicted label. For a binary model that weight is the single weight
    when the prediction is ``labels[1]`` and its negative for ``labels[0]``,
    so a positive contribution always supports the predicted label. For a
    softmax model it is the weight in the predicted label's column. The
    contributions plus the bias sum to the logit of the predicted label
    (binary: the logit of ``labels[1]``, negated for ``labels[0]``).

    Parameters
    ----------
    model : the model that made the predictions
    X : CSRMatrix, shape (n_documents, n_features); the documents' features
    predicted : ndarray of int, shape (n_documents,); predicted label indices
    k : number of features to keep per document

    Returns
    -------
    list of dict, one per document
        ``bias``: the bias feature's contribution; ``features``: up to ``k``
        dicts ``{"feature", "value", "weight", "contribution"}``, largest
        contribution first (these can be negative when a document has few
        features).
    """
    names = model.featurizer.feature_names()
    rows = X.row_ids()
    if model.kind == "binary":
        sign = np.where(predicted == 1, 1.0, -1.0)
        value_weights = model.weights[X.indices] * sign[rows]
        bias = model.weights[0] * sign
    else:
        value_weights = model.weights[X.indices, predicted[rows]]
        bias = model.weights[0, predicted]
    contributions = X.data * value_weights

    # Drop the bias column, then sort each document's values by contribution, largest first.
    keep = X.indices != 0
    rows, columns = rows[keep], X.indices[keep]
    values, weights, contributions = X.data[keep], value_weights[keep], contributions[keep]
    order = np.lexsort((-contributions, rows))
    rows, columns, values, weights, contributions = (a[order] for a in (rows, columns, values, weights, contributions))
    starts = np.searchsorted(rows, np.arange(X.n_rows))
    ends = np.searchsorted(rows, np.arange(X.n_rows), side="right")

    explanations = []
    for document in range(X.n_rows):
        stop = min(ends[document], starts[document] + k)
        features = [
            {"feature": names[column], "value": float(value), "weight": float(weight), "contribution": float(contribution)}
            for column, value, weight, contribution in zip(
                columns[starts[document]:stop].tolist(), values[starts[document]:stop].tolist(),
                weights[starts[document]:stop].tolist(), contributions[starts[document]:stop].tolist())
        ]
        explanations.append({"bias": float(bias[document]), "features": features})
    return explanations


def prediction_records(model: LogisticModel, predicted: np.ndarray, probabilities: np.ndarray, *,
                       top_k: int = 0, include_probabilities: bool = False, X: CSRMatrix | None = None,
                       explain_k: int = 0) -> list[dict[str, Any]]:
    """Build one record per document for ``logreg predict``.

    Parameters
    ----------
    model : the model that made the predictions
    predicted : ndarray of int, shape (n_documents,); predicted label indices
    probabilities : ndarray, shape (n_documents, n_labels)
    top_k : add the ``top_k`` most probable labels (at most the number of labels); 0 adds none
    include_probabilities : add the probability of every label
    X : CSRMatrix, shape (n_documents, n_features); needed when ``explain_k`` > 0
    explain_k : add an explanation with this many features (see :func:`explain_documents`); 0 adds none

    Returns
    -------
    list of dict
        ``label`` and ``probability`` (of that label), then, as asked,
        ``top`` (list of ``{"label", "probability"}``), ``probabilities``
        (label -> probability) and ``explanation``.
    """
    labels = model.labels
    chosen = probabilities[np.arange(predicted.size), predicted]
    top_k = min(top_k, len(labels))
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k] if top_k else None
    explanations = explain_documents(model, X, predicted, explain_k) if explain_k and X is not None else None

    records = []
    for document, (index, probability) in enumerate(zip(predicted.tolist(), chosen.tolist())):
        record: dict[str, Any] = {"label": labels[index], "probability": probability}
        if ranked is not None:
            record["top"] = [{"label": labels[i], "probability": float(probabilities[document, i])}
                             for i in ranked[document].tolist()]
        if include_probabilities:
            record["probabilities"] = dict(zip(labels, probabilities[document].tolist()))
        if explanations is not None:
            record["explanation"] = explanations[document]
        records.append(record)
    return records


def format_records_tsv(records: list[dict[str, Any]]) -> str:
    """Render prediction records as TSV, one line per document and no header.

    Columns: the label and its probability; then, when present, the top
    labels as label/probability pairs; the probability of every label in
    model order; and the explanation as ``feature=contribution`` items
    separated by ``"; "``.
    """
    lines = []
    for record in records:
        fields = [record["label"], f"{record['probability']:.6f}"]
        for item in record.get("top", []):
            fields += [item["label"], f"{item['probability']:.6f}"]
        if "probabilities" in record:
            fields += [f"{p:.6f}" for p in record["probabilities"].values()]
        if "explanation" in record:
            fields.append("; ".join(f"{_escape(item['feature'])}={item['contribution']:+.4f}"
                                    for item in record["explanation"]["features"]))
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


def format_records_jsonl(records: list[dict[str, Any]]) -> str:
    """Render prediction records as JSON Lines, one object per document."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def _escape(feature: str) -> str:
    # A custom token pattern could let a tab or line break into a feature and break the TSV layout.
    return feature.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
