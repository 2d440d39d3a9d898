"""The trained classifier and its ``.npz`` model file.

A model file holds plain arrays only: the weights, the label names, the
featurizer (settings, vocabulary, idf), the resolved config, the training
history and a format version. ``predict`` and ``eval`` need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from logreg_cli.errors import ModelFileError
from logreg_cli.featurize import Featurizer
from logreg_cli.io import array_to_json, arrays_to_strings, json_to_array, load_arrays, save_arrays, strings_to_arrays
from logreg_cli.losses import sigmoid, softmax
from logreg_cli.sparse import CSRMatrix

FORMAT_VERSION = 1
MODEL_KEYS = ("file_kind", "format_version", "weights", "labels_bytes", "labels_offsets",
              "featurizer_settings", "vocabulary_bytes", "vocabulary_offsets", "featurizer_fingerprint")
FEATURES_KEYS = ("file_kind", "format_version", "format", "shape", "data", "indices", "indptr", "y",
                 "labels_bytes", "labels_offsets", "featurizer_settings", "vocabulary_bytes",
                 "vocabulary_offsets", "featurizer_fingerprint")


@dataclass
class LogisticModel:
    """Logistic regression over the features of one featurizer.

    Attributes
    ----------
    labels : label names; position is the label index. A binary model's
        probability is that of ``labels[1]``.
    weights : ndarray, shape (n_features,) for binary or (n_features, n_labels)
        for softmax; row 0 belongs to the bias feature.
    featurizer : the featurizer whose columns the weights belong to.
    config : the resolved config the model was trained with.
    training : summary and per-epoch history of training.
    threshold : binary models only: predict ``labels[1]`` when its probability
        is at least this; None predicts the more probable label.
    """

    labels: list[str]
    weights: np.ndarray
    featurizer: Featurizer
    config: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None

    @property
    def kind(self) -> str:
        return "binary" if self.weights.ndim == 1 else "softmax"

    def logits(self, X: CSRMatrix) -> np.ndarray:
        """Return ``X @ weights``, shape ``(n_documents,)`` or ``(n_documents, n_labels)``."""
        return X.dot(self.weights)

    def predict_probabilities(self, X: CSRMatrix) -> np.ndarray:
        """Return the probability of every label, shape ``(n_documents, n_labels)``."""
        logits = self.logits(X)
        if self.kind == "binary":
            positive = sigmoid(logits)
            return np.column_stack([1.0 - positive, positive])
        return softmax(logits)

    def predict(self, X: CSRMatrix) -> np.ndarray:
        """Return the index of the most probable label of each document.

        Ties go to the lower label index, so an empty document gets the same
        label on every run. A binary model with a ``threshold`` uses it instead.
        """
        return self.labels_from_probabilities(self.predict_probabilities(X))

    def labels_from_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """Return the predicted label index of each row of ``probabilities``, shape ``(n_documents,)``."""
        if self.threshold is not None and self.kind == "binary":
            return (probabilities[:, 1] >= self.threshold).astype(np.int64)
        return np.argmax(probabilities, axis=1)

    def save(self, path: str | Path) -> None:
        """Write the model file atomically. Refuses non-finite weights."""
        if not np.isfinite(self.weights).all():
            raise ValueError("refusing to save a model with non-finite weights")
        labels_bytes, labels_offsets = strings_to_arrays(self.labels)
        arrays = {
            "file_kind": np.array("model"),
            "format_version": np.array(FORMAT_VERSION),
            "weights": self.weights,
            "labels_bytes": labels_bytes,
            "labels_offsets": labels_offsets,
            "config": json_to_array(self.config),
            "training": json_to_array(self.training),
            **self.featurizer.to_arrays(),
        }
        if self.threshold is not None:
            # Optional key: files written before thresholds existed load with threshold None.
            arrays["threshold"] = np.array(float(self.threshold))
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> LogisticModel:
        """Read a model file written by :meth:`save`.

        Raises
        ------
        ModelFileError
            When the file is missing, damaged, of another kind or format version.
        """
        source = str(path)
        arrays = load_arrays(path, what="model file", required=("file_kind",))
        check_file_kind(arrays, "model", source)
        missing = [key for key in MODEL_KEYS if key not in arrays]
        if missing:
            raise ModelFileError(f"{source}: not a valid model file: missing {', '.join(missing)}")
        labels = arrays_to_strings(arrays["labels_bytes"], arrays["labels_offsets"])
        featurizer = Featurizer.from_arrays(arrays, source=source)
        weights = np.asarray(arrays["weights"], dtype=np.float64)
        expected_rows = featurizer.n_features
        if weights.shape[0] != expected_rows or (weights.ndim == 2 and weights.shape[1] != len(labels)):
            raise ModelFileError(
                f"{source}: weights of shape {weights.shape} do not match {expected_rows} features and {len(labels)} labels"
            )
        config = array_to_json(arrays["config"]) if "config" in arrays else {}
        training = array_to_json(arrays["training"]) if "training" in arrays else {}
        threshold = None
        if "threshold" in arrays:
            threshold = float(arrays["threshold"][()])
            if weights.ndim != 1 or not 0.0 <= threshold <= 1.0:
                raise ModelFileError(f"{source}: invalid threshold {threshold!r}; a binary model's threshold lies in [0, 1]")
        return cls(labels, weights, featurizer, config, training, threshold)


def check_file_kind(arrays: dict[str, np.ndarray], expected: str, source: str) -> None:
    """Raise ModelFileError unless the arrays are a ``expected`` file of our format version."""
    kind = str(arrays["file_kind"][()])
    if kind != expected:
        raise ModelFileError(f"{source}: this is a {kind} file, expected a {expected} file")
    version = int(arrays["format_version"][()]) if "format_version" in arrays else None
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{source}: format version {version} is not supported (this logreg-cli reads version {FORMAT_VERSION}); "
            "write the file again with this version"
        )


@dataclass
class FeaturesFile:
    """A features file: the matrix, the label index of every document and the featurizer."""

    X: CSRMatrix
    y: np.ndarray
    labels: list[str]
    featurizer: Featurizer

    def save(self, path: str | Path) -> None:
        labels_bytes, labels_offsets = strings_to_arrays(self.labels)
        arrays = {
            **self.X.to_arrays(),
            "file_kind": np.array("features"),
            "format_version": np.array(FORMAT_VERSION),
            "y": self.y.astype(np.int64),
            "labels_bytes": labels_bytes,
            "labels_offsets": labels_offsets,
            **self.featurizer.to_arrays(),
        }
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> FeaturesFile:
        source = str(path)
        arrays = load_arrays(path, what="features file", required=("file_kind",))
        check_file_kind(arrays, "features", source)
        missing = [key for key in FEATURES_KEYS if key not in arrays]
        if missing:
            raise ModelFileError(f"{source}: not a valid features file: missing {', '.join(missing)}")
        X = CSRMatrix.from_arrays(arrays)
        y = np.asarray(arrays["y"], dtype=np.int64)
        labels = arrays_to_strings(arrays["labels_bytes"], arrays["labels_offsets"])
        featurizer = Featurizer.from_arrays(arrays, source=source)
        if X.n_columns != featurizer.n_features or y.shape != (X.n_rows,):
            raise ModelFileError(f"{source}: matrix of shape {X.shape} does not match its vocabulary or labels")
        if str(arrays["featurizer_fingerprint"][()]) != featurizer.fingerprint():
            raise ModelFileError(f"{source}: the featurizer fingerprint does not match the stored vocabulary; the file is damaged")
        return cls(X, y, labels, featurizer)


def is_features_file(path: str | Path) -> bool:
    """Return whether ``path`` looks like an ``.npz`` archive (a features file) rather than text."""
    try:
        with open(path, "rb") as stream:
            return stream.read(4) == b"PK\x03\x04"
    except OSError:
        return False
