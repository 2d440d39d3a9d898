"""The trained classifier and its ``.npz`` model file.

A model file holds plain arrays only: the weights, the label names, the
featurizer (settings, vocabulary, idf), the resolved config, the training
history and a format version. ``predict`` and ``eval`` need nothing else.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from logreg_cli.errors import ModelFileError
from logreg_cli.featurize import Featurizer
from logreg_cli.io import (
    ZIP_SIGNATURE, array_to_json, arrays_to_strings, check_npz_start, json_to_array, load_arrays, rewrite_hint,
    save_arrays, strings_to_arrays,
)
from logreg_cli.losses import sigmoid, softmax
from logreg_cli.sparse import CSRMatrix

FORMAT_VERSION = 1
Loaded = TypeVar("Loaded")

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
    train_document_hashes : uint64 array, shape (n_distinct, 2), from
        ``data.document_hashes`` of the training documents, so ``eval`` can warn
        about test documents that occur in training; None when unknown.
    """

    labels: list[str]
    weights: np.ndarray
    featurizer: Featurizer
    config: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    train_document_hashes: np.ndarray | None = None

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
        if self.train_document_hashes is not None:
            # Also optional. Without it, eval skips the check for test documents that occur in training.
            arrays["train_document_hashes"] = np.unique(self.train_document_hashes.astype(np.uint64), axis=0)
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> LogisticModel:
        """Read a model file written by :meth:`save`.

        Raises
        ------
        ModelFileError
            When the file is missing, damaged, of another kind or format version.
        """
        return _load_checked(path, "model", MODEL_KEYS, cls._from_arrays)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], source: str) -> LogisticModel:
        labels = arrays_to_strings(arrays["labels_bytes"], arrays["labels_offsets"])
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ModelFileError(f"{source}: not a valid model file: expected at least 2 distinct labels, found {labels!r}")
        featurizer = Featurizer.from_arrays(arrays, source=source)
        weights = _numeric_array(arrays["weights"], "weights", source, "model file")
        expected_rows = featurizer.n_features
        if weights.ndim not in (1, 2) or weights.shape[0] != expected_rows or (
            weights.shape[1] != len(labels) if weights.ndim == 2 else len(labels) != 2
        ):
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
        hashes = _document_hashes(arrays, "train_document_hashes", source, n_rows=None, what="model file")
        return cls(labels, weights, featurizer, config, training, threshold, hashes)


def _numeric_array(array: np.ndarray, name: str, source: str, what: str) -> np.ndarray:
    """Return ``array`` as float64, or raise ModelFileError when it is not numbers or not finite."""
    if array.dtype.kind not in "fiu":
        raise ModelFileError(f"{source}: not a valid {what}: {name} has dtype {array.dtype}, expected numbers; "
                             f"{rewrite_hint(what)}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ModelFileError(f"{source}: {name} contain NaN or infinite values; the file is damaged, so "
                             f"{rewrite_hint(what)}")
    return values


def _document_hashes(arrays: dict[str, np.ndarray], key: str, source: str, *, n_rows: int | None,
                     what: str) -> np.ndarray | None:
    if key not in arrays:
        return None
    hashes = arrays[key]
    if hashes.dtype != np.uint64 or hashes.ndim != 2 or hashes.shape[1] != 2 or (n_rows is not None and hashes.shape[0] != n_rows):
        raise ModelFileError(f"{source}: {key} has dtype {hashes.dtype} and shape {hashes.shape}, expected uint64 "
                             f"of shape (n, 2); the file is damaged, so {rewrite_hint(what)}")
    return hashes


def load_file_of_kind(path: str | Path, kind: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read a ``kind`` file ("model" or "features") and check its kind, format version and keys."""
    arrays = load_arrays(path, what=f"{kind} file", required=("file_kind",))
    check_file_kind(arrays, kind, str(path))
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise ModelFileError(f"{path}: not a valid {kind} file: missing {', '.join(missing)}; {rewrite_hint(kind)}")
    return arrays


def check_file_kind(arrays: dict[str, np.ndarray], expected: str, source: str) -> None:
    """Raise ModelFileError unless the arrays are a ``expected`` file of our format version."""
    kind_array = arrays["file_kind"]
    if kind_array.shape != () or kind_array.dtype.kind != "U":
        raise ModelFileError(f"{source}: not a valid {expected} file: file_kind is not a text value")
    kind = str(kind_array[()])
    if kind != expected:
        raise _wrong_kind(source, kind, expected)
    version_array = arrays.get("format_version")
    version = None
    if version_array is not None and version_array.shape == () and version_array.dtype.kind in "iu":
        version = int(version_array[()])
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{source}: format version {version} is not supported (this logreg-cli reads version {FORMAT_VERSION}); "
            f"{rewrite_hint(expected)} of this version"
        )


@dataclass
class FeaturesFile:
    """A features file: the matrix, the label index of every document and the featurizer.

    ``document_hashes`` (uint64, shape (n_documents, 2), from ``data.document_hashes``)
    lets a model trained on the file, or an eval of the file, check for documents
    shared between training and test; None when the file was written without them.
    """

    X: CSRMatrix
    y: np.ndarray
    labels: list[str]
    featurizer: Featurizer
    document_hashes: np.ndarray | None = None

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
        if self.document_hashes is not None:
            arrays["document_hashes"] = self.document_hashes.astype(np.uint64)
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> FeaturesFile:
        return _load_checked(path, "features", FEATURES_KEYS, cls._from_arrays)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], source: str) -> FeaturesFile:
        _check_csr_arrays(arrays, source)
        X = CSRMatrix.from_arrays(arrays)
        y = np.asarray(arrays["y"], dtype=np.int64)
        labels = arrays_to_strings(arrays["labels_bytes"], arrays["labels_offsets"])
        featurizer = Featurizer.from_arrays(arrays, source=source)
        if X.n_columns != featurizer.n_features or y.shape != (X.n_rows,):
            raise ModelFileError(f"{source}: matrix of shape {X.shape} does not match its vocabulary or labels")
        if y.size and (y.min() < 0 or y.max() >= len(labels)):
            raise ModelFileError(f"{source}: label indices outside 0..{len(labels) - 1}; the file is damaged")
        if str(arrays["featurizer_fingerprint"][()]) != featurizer.fingerprint():
            raise ModelFileError(f"{source}: the featurizer fingerprint does not match the stored vocabulary; the file is damaged")
        hashes = _document_hashes(arrays, "document_hashes", source, n_rows=X.n_rows, what="features file")
        return cls(X, y, labels, featurizer, hashes)


def _load_checked(path: str | Path, kind: str, keys: tuple[str, ...],
                  build: Callable[[dict[str, np.ndarray], str], Loaded]) -> Loaded:
    """Read a file of ``kind`` ("model" or "features") and build its object with ``build(arrays, source)``.

    A file that unzips can still contain arrays of the wrong type or shape,
    and those give a ModelFileError that names the ``logreg`` command to write it again, not a traceback.
    """
    source = str(path)
    arrays = load_file_of_kind(path, kind, keys)
    try:
        return build(arrays, source)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise ModelFileError(f"{source}: not a valid {kind} file ({error}); {rewrite_hint(kind)}") from None


def _check_csr_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Raise ModelFileError unless data, indices, indptr and shape form a valid CSR matrix."""
    shape, indptr, indices = arrays["shape"], arrays["indptr"], arrays["indices"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or indptr.ndim != 1 or indptr.dtype.kind not in "iu" \
            or indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ModelFileError(f"{source}: not a valid features file: the matrix arrays have the wrong type or shape")
    n_rows, n_columns = (int(n) for n in shape)
    data = _numeric_array(arrays["data"], "the matrix values", source, "features file")
    if (indptr.size != n_rows + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0)
            or indptr[-1] != indices.size or data.shape != indices.shape):
        raise ModelFileError(f"{source}: not a valid features file: the row pointers do not match the stored values")
    if indices.size and (indices.min() < 0 or indices.max() >= n_columns):
        raise ModelFileError(f"{source}: not a valid features file: column indices outside 0..{n_columns - 1}")


def _wrong_kind(source: str | Path, kind: str, expected: str) -> ModelFileError:
    fix = ("pass the model file that logreg train wrote" if expected == "model"
           else "pass a corpus, or a features file that logreg featurize wrote")
    return ModelFileError(f"{source}: this is a {kind} file, expected a {expected} file; {fix}")


def stored_file_kind(path: str | Path) -> str:
    """Return the ``file_kind`` stored in an ``.npz`` file ("model" or "features"), or "" when unreadable.

    A damaged file gives "", so that the loader that runs next reports what is wrong with it.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            return str(archive["file_kind"][()]) if "file_kind" in archive.files else ""
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        return ""


def is_features_file(path: str | Path) -> bool:
    """Return whether ``path`` looks like an ``.npz`` archive (a features file) rather than text.

    A name ending in ``.npz`` counts too, so that an empty or damaged archive
    gets the features file's error message rather than a corpus reader's.
    """
    if str(path) != "-" and Path(path).suffix.lower() == ".npz":
        return True
    try:
        with open(path, "rb") as stream:
            return stream.read(4) == ZIP_SIGNATURE
    except OSError:
        return False


def check_features_archive(path: str | Path) -> None:
    """Raise ModelFileError when ``path`` is not a readable ``.npz`` archive or is a model file.

    Only the start of the file, the archive's index and its ``file_kind`` are read. A truncated copy
    loses the index at the end of the archive, so this finds it before a long
    training run instead of when the file is finally read.
    """
    check_npz_start(path, "features file")
    try:
        with zipfile.ZipFile(path):
            pass
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path}: not a valid features file: the file is truncated or damaged ({error}); "
                             f"{rewrite_hint('features file')}") from None
    if stored_file_kind(path) == "model":
        raise _wrong_kind(path, "model", "features")
