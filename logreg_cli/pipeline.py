"""The steps behind the commands: read, featurize, split, train, evaluate, predict.

Each function takes the resolved config and file paths, calls the core
modules and returns values; ``cli.py`` only parses options and prints.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logreg_cli.config import Config
from logreg_cli.data import (
    Corpus, ReadOptions, document_hashes, find_duplicates, iter_labelled_chunks, iter_text_documents,
    no_documents_error, overlap_message_from_hashes, read_corpus, read_documents, streams_labelled, streams_text,
)
from logreg_cli.errors import ConfigError, DataError, ModelFileError
from logreg_cli.featurize import Featurizer
from logreg_cli.metrics import ClassificationReport, evaluate
from logreg_cli.model import FeaturesFile, LogisticModel, check_features_archive, is_features_file
from logreg_cli.sparse import CSRMatrix
from logreg_cli.thresholds import choose_threshold
from logreg_cli.train import EpochRecord, TrainResult, initial_weights, resolve_class_weights, train

logger = logging.getLogger(__name__)


def read_options(config: Config) -> ReadOptions:
    """Return the reader settings of the ``data`` section."""
    data = config.data
    return ReadOptions(
        format=data.format, encoding=data.encoding, encoding_errors=data.encoding_errors,
        label_column=data.label_column, text_column=data.text_column, header=data.header,
        label_key=data.label_key, text_key=data.text_key, fasttext_prefix=data.fasttext_prefix,
    )


def check_config_data_paths(config: Config, config_path: str | None, *, given: Sequence[str] = ()) -> None:
    """Raise ConfigError for a ``data.train/validation/test`` path from the config file that does not exist.

    Keys in ``given`` came from the command line, where the reader's own
    message is clear enough. Relative paths are read from the current folder.
    The test corpus is read only after training, so a missing or empty test
    file raises DataError here, and a damaged features file ModelFileError,
    whichever way it was given, rather than after a training run.
    Logs a warning when ``data.validation`` is the same file as ``data.test`` or ``data.train``, and when
    ``trainer.stream_cache`` is set without ``trainer.streaming``.
    """
    for key in ("train", "validation", "test"):
        path = getattr(config.data, key)
        if path is None or path == "-":
            continue
        if not Path(path).exists():
            if key not in given:
                source = config_path if config_path is not None else "--set"
                raise ConfigError(
                    f"{source}: data.{key}: {path} not found (relative paths start at the current folder, {Path.cwd()}); "
                    f"fix the path or pass --set data.{key}=PATH"
                )
            if key == "test":
                raise DataError(f"{path}: file not found; check the path")
        elif key == "test" and Path(path).is_file() and is_features_file(path):
            check_features_archive(path)
        elif key == "test" and Path(path).is_file() and not _has_text(path):
            raise no_documents_error(path)
    train, validation, test = config.data.train, config.data.validation, config.data.test
    if _same_file(validation, test):
        logger.warning("data.validation and data.test are the same file (%s): early stopping and the test score "
                       "both use it, so the test score overstates accuracy on new documents; use a separate validation file",
                       test)
    if _same_file(validation, train):
        logger.warning("data.validation and data.train are the same file (%s): the validation loss then measures "
                       "documents the model trains on, so early stopping stops late or not at all; use a separate validation file or "
                       "leave data.validation unset to hold out part of the training file", train)
    if config.trainer.stream_cache and not config.trainer.streaming:
        logger.warning("trainer.stream_cache applies only with trainer.streaming (--stream), so it is ignored")


def _same_file(first: str | None, second: str | None) -> bool:
    """Tell whether two paths name one existing file; None and "-" (stdin) name none."""
    if first in (None, "-") or second in (None, "-"):
        return False
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _has_text(path: str) -> bool:
    """Tell whether a file contains any byte other than ASCII whitespace, reading 1 MiB at a time."""
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            if block.strip():
                return True
    return False


def read_training_corpus(path: str, config: Config) -> Corpus:
    """Read a labelled corpus and check that it can be trained on.

    Raises
    ------
    DataError
        When the corpus has no documents or a single label.
    """
    corpus = read_corpus(path, read_options(config))
    if not corpus.documents:
        raise DataError(f"{_name(path)}: no documents found; each line must be 'label<TAB>text'")
    counts = Counter(corpus.labels)
    if len(counts) < 2:
        (label, count), = counts.items()
        raise DataError(
            f"{_name(path)} has only one label ({label!r}, {count} documents); "
            "a classifier needs documents of at least 2 labels"
        )
    for message in find_duplicates(corpus):
        logger.warning(message)
    return corpus


def label_indices(labels: Sequence[str], names: Sequence[str], *, source: str) -> np.ndarray:
    """Map label names to their positions in ``names``, shape ``(n_documents,)``."""
    position = {name: index for index, name in enumerate(names)}
    try:
        return np.fromiter((position[label] for label in labels), dtype=np.int64, count=len(labels))
    except KeyError as error:
        raise DataError(f"{source}: label {error} is not one of the model's labels ({', '.join(names)})") from None


def featurize_corpus(corpus: Corpus, config: Config, featurizer: Featurizer | None = None,
                     labels: Sequence[str] | None = None) -> FeaturesFile:
    """Fit a featurizer on ``corpus`` (or apply a given one) and return its features file."""
    source = _name(corpus.path)
    if featurizer is None:
        featurizer = Featurizer(config.featurizer)
        X = featurizer.fit_transform(corpus.documents, source=source)
    else:
        X = featurizer.transform(corpus.documents)
    names = list(labels) if labels is not None else sorted(set(corpus.labels))
    y = label_indices(corpus.labels, names, source=source)
    return FeaturesFile(X, y, names, featurizer,
                        document_hashes(corpus.documents) if config.data.overlap_check else None)


def split_validation(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into training and validation, stratified by label.

    Each label gives ``round(fraction * count)`` documents to validation, but
    always leaves at least one in training. Returns sorted index arrays.
    """
    rng = np.random.default_rng(seed)
    validation = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        take = min(int(round(fraction * rows.size)), rows.size - 1)
        validation.append(rng.permutation(rows)[:take])
    val_rows = np.sort(np.concatenate(validation)) if validation else np.array([], dtype=np.int64)
    train_rows = np.setdiff1d(np.arange(y.size), val_rows)
    return train_rows, val_rows


@dataclass
class TrainOutcome:
    """A trained model and how training went."""

    model: LogisticModel
    result: TrainResult
    n_train: int
    n_validation: int
    X_val: CSRMatrix | None = None  # the validation documents, shape (n_validation, n_features)
    y_val: np.ndarray | None = None  # their label indices, shape (n_validation,)


def train_from_config(
    config: Config,
    *,
    show_progress: bool = False,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    resume: LogisticModel | None = None,
) -> TrainOutcome:
    """Read ``config.data.train`` (a corpus or a features file), fit a model and return it.

    The featurizer is fitted on the training part only, after the validation
    part has been split off, so validation measures unseen documents. With
    ``trainer.streaming`` the file is read in chunks instead (see ``stream.py``).
    """
    train_path = config.data.train
    if train_path is None:
        raise DataError("no training corpus given; pass a file or set data.train in the config")
    trainer = config.trainer
    if trainer.streaming:
        # Imported here because stream.py builds on this module.
        from logreg_cli.stream import train_streaming

        return train_streaming(config, show_progress=show_progress, on_epoch=on_epoch, resume=resume)
    validation_path = config.data.validation

    if is_features_file(train_path):
        features = FeaturesFile.load(train_path)
        if resume is not None:
            check_same_featurizer(resume, features.featurizer, train_path)
        train_rows, val_rows = _validation_rows(features.y, config, validation_path)
        X, y = features.X.take_rows(train_rows), features.y[train_rows]
        X_val, y_val = features.X.take_rows(val_rows), features.y[val_rows]
        featurizer, labels = features.featurizer, features.labels
        train_hashes = features.document_hashes if config.data.overlap_check else None
        if validation_path is not None:
            X_val, y_val = validation_from_file(validation_path, config, featurizer, labels)
    else:
        corpus = read_training_corpus(train_path, config)
        # Every document of the file counts as training data for the overlap check, the validation part included.
        train_hashes = document_hashes(corpus.documents) if config.data.overlap_check else None
        labels = resume.labels if resume is not None else sorted(set(corpus.labels))
        y_all = label_indices(corpus.labels, labels, source=_name(train_path))
        train_rows, val_rows = _validation_rows(y_all, config, validation_path)
        train_part = _subset(corpus, train_rows)
        if resume is not None:
            featurizer = resume.featurizer
            X = featurizer.transform(train_part.documents)
        else:
            featurizer = Featurizer(config.featurizer)
            X = featurizer.fit_transform(train_part.documents, source=_name(train_path))
        y = y_all[train_rows]
        if validation_path is not None:
            X_val, y_val = validation_from_file(validation_path, config, featurizer, labels)
        else:
            X_val, y_val = featurizer.transform(_subset(corpus, val_rows).documents), y_all[val_rows]
        del corpus, train_part  # the documents are not needed while training

    if len(set(y.tolist())) < 2:
        raise DataError(f"{_name(train_path)}: the training part contains a single label; add documents of other labels")
    kind = trainer.model
    if kind == "auto":
        kind = "binary" if len(labels) == 2 else "softmax"
    if kind == "binary" and len(labels) != 2:
        raise DataError(f"trainer.model is binary but {_name(train_path)} has {len(labels)} labels; use softmax or auto")
    if resume is not None:
        weights = resume.weights
        if (weights.ndim == 1) != (kind == "binary"):
            raise ModelFileError(f"cannot resume a {resume.kind} model as a {kind} model; set trainer.model: {resume.kind}")
    else:
        weights = initial_weights(featurizer.n_features, len(labels), kind)
    logger.info(
        "training a %s model: %s documents, %s validation documents, %s features, %d labels",
        kind, f"{X.n_rows:,}", f"{X_val.n_rows:,}", f"{X.n_columns:,}", len(labels),
    )
    class_weights = resolve_class_weights(trainer.class_weight, labels, y)
    if class_weights is not None:
        logger.info("class weights: %s", ", ".join(f"{label} {weight:.4g}" for label, weight in zip(labels, class_weights)))
    result = train(X, y, weights, trainer, X_val=X_val, y_val=y_val, show_progress=show_progress, on_epoch=on_epoch,
                   class_weights=class_weights)
    model = LogisticModel(labels, result.weights, featurizer, config.to_dict(), result.summary(),
                          train_document_hashes=resumed_train_hashes(resume, train_hashes))
    model.threshold = choose_threshold(model, trainer, X_val, y_val)
    return TrainOutcome(model, result, X.n_rows, X_val.n_rows, X_val, y_val)


def resumed_train_hashes(resume: LogisticModel | None, train_hashes: np.ndarray | None) -> np.ndarray | None:
    """Return the training-document hashes of a model trained on ``train_hashes``, from ``resume`` when given."""
    if resume is None:
        return train_hashes
    if resume.train_document_hashes is None or train_hashes is None:
        # The documents of one of the two trainings are unknown, so a partial list would understate the overlap.
        return None
    return np.concatenate([resume.train_document_hashes, train_hashes])


def _validation_rows(y: np.ndarray, config: Config, validation_path: str | None) -> tuple[np.ndarray, np.ndarray]:
    fraction = config.trainer.validation_fraction
    if validation_path is not None or fraction == 0.0:
        return np.arange(y.size), np.array([], dtype=np.int64)
    return split_validation(y, fraction, config.trainer.seed)


def validation_from_file(path: str, config: Config, featurizer: Featurizer,
                          labels: Sequence[str]) -> tuple[CSRMatrix, np.ndarray]:
    if is_features_file(path):
        features = FeaturesFile.load(path)
        check_same_featurizer_arrays(featurizer, features.featurizer, path)
        return features.X, label_indices([features.labels[i] for i in features.y], labels, source=path)
    corpus = read_corpus(path, read_options(config))
    known = set(labels)
    keep = [i for i, label in enumerate(corpus.labels) if label in known]
    if len(keep) < len(corpus.labels):
        logger.warning("%s: left out %d validation documents whose label was not seen in training",
                       _name(path), len(corpus.labels) - len(keep))
    corpus = _subset(corpus, np.array(keep, dtype=np.int64))
    return featurizer.transform(corpus.documents), label_indices(corpus.labels, labels, source=path)


def _subset(corpus: Corpus, rows: np.ndarray) -> Corpus:
    picked = rows.tolist()
    return dataclasses.replace(
        corpus,
        documents=[corpus.documents[i] for i in picked],
        labels=[corpus.labels[i] for i in picked],
        line_numbers=[corpus.line_numbers[i] for i in picked],
    )


def check_same_featurizer(model: LogisticModel, featurizer: Featurizer, source: str) -> None:
    check_same_featurizer_arrays(model.featurizer, featurizer, source)


def check_same_featurizer_arrays(expected: Featurizer, found: Featurizer, source: str) -> None:
    """Raise ModelFileError unless ``found`` makes the same columns as ``expected``."""
    if expected.fingerprint() == found.fingerprint():
        return
    widths = ""
    if expected.n_features != found.n_features:
        widths = f" ({found.n_features} features, the model has {expected.n_features})"
    raise ModelFileError(
        f"{source}: features were built with featurizer {found.fingerprint()[:12]}{widths} but the model expects "
        f"{expected.fingerprint()[:12]}; featurize the raw text with the model "
        "(logreg featurize --vocabulary-from MODEL) or pass the text file itself"
    )


@dataclass
class Predictions:
    """Predicted label indices and probabilities of a corpus, with the true labels when known."""

    predicted: np.ndarray  # (n_documents,) label indices into model.labels
    probabilities: np.ndarray  # (n_documents, n_labels)
    true_labels: list[str] | None
    source: str
    X: CSRMatrix | None = None  # the features of the documents, shape (n_documents, n_features)
    line_numbers: list[int] | None = None  # line of each document in a text file; None for a features file
    document_hashes: np.ndarray | None = None  # (n_documents, 2) from data.document_hashes, when known


def predict_file(model: LogisticModel, path: str, config: Config, *, labelled: bool,
                 keep_features: bool = False) -> Predictions:
    """Predict every document of a text file or a features file.

    With ``labelled`` the file must carry labels (for ``eval``); otherwise a
    labelled file's labels are ignored and bare text lines are accepted.
    Text is featurized and predicted a block of documents at a time, so its
    feature matrix is kept in ``Predictions.X`` only with ``keep_features``.
    """
    line_numbers = hashes = None
    X = documents = None
    if path != "-" and is_features_file(path):
        features = FeaturesFile.load(path)
        check_same_featurizer_arrays(model.featurizer, features.featurizer, path)
        X = features.X
        true_labels = [features.labels[i] for i in features.y]
        hashes = features.document_hashes
    elif labelled and streams_labelled(path, read_options(config)):
        return _predict_labelled_chunks(model, path, config, keep_features=keep_features)
    elif labelled:
        corpus = read_corpus(path, read_options(config))
        documents, true_labels = corpus.documents, corpus.labels
        line_numbers = corpus.line_numbers
        if model.train_document_hashes is not None:
            hashes = document_hashes(corpus.documents)
    else:
        documents, true_labels = read_documents(path, read_options(config))
    if documents is not None and keep_features:
        X = model.featurizer.transform(documents)
    if X is not None:
        probabilities = model.predict_probabilities(X)
    else:
        blocks = [model.predict_probabilities(block) for block in model.featurizer.transform_blocks(documents)]
        probabilities = np.concatenate(blocks) if blocks else np.zeros((0, len(model.labels)))
    return Predictions(model.labels_from_probabilities(probabilities), probabilities, true_labels, path, X,
                       line_numbers, hashes)


def _predict_labelled_chunks(model: LogisticModel, path: str, config: Config, *, keep_features: bool) -> Predictions:
    """Predict a labelled TSV file (see ``data.streams_labelled``) a chunk of lines at a time.

    Gives what :func:`predict_file` gives for the whole file, but holds only
    one chunk's documents. ``logreg eval`` of 200,000 IMDb reviews (255 MB)
    peaked at 209 MiB instead of 1,078 MiB.
    """
    true_labels: list[str] = []
    line_numbers: list[int] = []
    hashes, probabilities, matrices = [], [], []
    unknown = 0
    for chunk in iter_labelled_chunks(path, read_options(config)):
        true_labels.extend(chunk.labels)
        line_numbers.extend(chunk.line_numbers)
        if model.train_document_hashes is not None:
            hashes.append(document_hashes(chunk.documents))
        chunk_probabilities, X, chunk_unknown = _predict_documents(model, chunk.documents, keep_features=keep_features)
        probabilities.append(chunk_probabilities)
        unknown += chunk_unknown
        if X is not None:
            matrices.append(X)
    model.featurizer.warn_unknown(unknown, len(true_labels))
    all_probabilities = np.concatenate(probabilities) if probabilities else np.zeros((0, len(model.labels)))
    return Predictions(model.labels_from_probabilities(all_probabilities), all_probabilities, true_labels, path,
                       CSRMatrix.vstack(matrices) if keep_features else None, line_numbers,
                       np.concatenate(hashes) if hashes else None)


def streams_predictions(path: str, config: Config) -> bool:
    """Return whether :func:`predict_text_blocks` can predict ``path``: bare text or TSV lines, not a features file."""
    options = read_options(config)
    return (path == "-" or not is_features_file(path)) and (streams_text(path, options) or streams_labelled(path, options))


def predict_text_blocks(model: LogisticModel, path: str, config: Config, *,
                        keep_features: bool = False) -> Iterator[Predictions]:
    """Predict a text file, a TSV file or stdin (see :func:`streams_predictions`) a block of lines at a time.

    Yields one Predictions per block of documents, in order: together they
    are what :func:`predict_file` gives, but the file is never held whole.
    The labels of a TSV file are ignored, as in :func:`predict_file`. Warns
    once, at the end, about documents without a known n-gram.
    """
    options = read_options(config)
    if streams_labelled(path, options):
        blocks = (chunk.documents for chunk in iter_labelled_chunks(path, options))
    else:
        blocks = iter_text_documents(path, options)
    unknown = n_documents = 0
    for documents in blocks:
        block_probabilities, X, block_unknown = _predict_documents(model, documents, keep_features=keep_features)
        unknown += block_unknown
        n_documents += len(documents)
        yield Predictions(model.labels_from_probabilities(block_probabilities), block_probabilities, None, path, X)
    model.featurizer.warn_unknown(unknown, n_documents)


def _predict_documents(model: LogisticModel, documents: Sequence[str], *,
                       keep_features: bool) -> tuple[np.ndarray, CSRMatrix | None, int]:
    """Return the probabilities, the feature matrix and the count of unknown documents of ``documents``.

    The feature matrix is None without ``keep_features``. The count is of
    documents with tokens but no known n-gram: the caller reports it once
    for the whole file.
    """
    probabilities, matrices = [], []
    unknown = 0
    for X, block_unknown in model.featurizer.blocks_with_unknown(documents):
        probabilities.append(model.predict_probabilities(X))
        unknown += block_unknown
        if keep_features:
            matrices.append(X)
    return np.concatenate(probabilities), CSRMatrix.vstack(matrices) if keep_features else None, unknown


def evaluate_file(model: LogisticModel, path: str, config: Config) -> ClassificationReport:
    """Predict a labelled file and compare with its labels."""
    return evaluate_predictions(model, path, config)[0]


def evaluate_predictions(model: LogisticModel, path: str, config: Config) -> tuple[ClassificationReport, Predictions]:
    """Predict a labelled file, compare with its labels, and return the report and the predictions.

    Warns when test documents also occur in the model's training corpus.

    Raises
    ------
    DataError
        When the file has no documents, or none of the model's labels.
    """
    predictions = predict_file(model, path, config, labelled=True)
    assert predictions.true_labels is not None
    if not predictions.true_labels:
        raise DataError(f"{_name(path)}: no documents to evaluate")
    found = sorted(set(predictions.true_labels))
    if not set(found) & set(model.labels):
        raise DataError(
            f"{_name(path)}: none of its labels ({_shorten(found)}) is a label of the model ({_shorten(model.labels)}); "
            "check that the model and the file belong together"
        )
    predicted = [model.labels[i] for i in predictions.predicted]
    _warn_training_overlap(model, predictions)
    report = evaluate(predictions.true_labels, predicted, model.labels, probabilities=predictions.probabilities,
                      source=_name(path), line_numbers=predictions.line_numbers)
    return report, predictions


def _warn_training_overlap(model: LogisticModel, predictions: Predictions) -> None:
    """Warn when test documents also occur in the model's training corpus; the metrics stay as they are."""
    if model.train_document_hashes is None or predictions.document_hashes is None:
        return
    train_path = model.config.get("data", {}).get("train")
    training = f"the training corpus {train_path}" if train_path else "the model's training corpus"
    message = overlap_message_from_hashes(
        model.train_document_hashes, predictions.document_hashes, _name(predictions.source), training=training,
        test_line_numbers=predictions.line_numbers,
        position_noun="line" if predictions.line_numbers is not None else "document",
    )
    if message is not None:
        logger.warning(message)


@dataclass
class FeatureSummary:
    """Sizes that ``featurize --dry-run`` reports before any training."""

    n_documents: int
    n_labels: int
    kind: str  # binary or softmax, as trainer.model would pick
    n_features: int  # columns of X: bias feature, n-gram features and hand-written features
    n_ngram_features: int  # vocabulary size, or 2^hash_bits when hashing
    hashing: bool  # the n-gram features are hashed columns, not a vocabulary
    used_columns: int  # columns that hold a value in at least one document
    nnz: int  # values stored in X
    features_bytes: int  # data, indices and indptr of X as held in memory
    model_bytes: int  # weights plus featurizer arrays of the model file, before compression


def _count_used_columns(X: CSRMatrix) -> int:
    """Return the number of columns that hold a value in at least one row.

    A mark per column, not ``np.unique``: on IMDb's 9 million stored values
    ``np.unique`` took 2.2 s in NumPy 2.4, most of ``featurize --dry-run``.
    """
    used = np.zeros(X.n_columns, dtype=bool)
    used[X.indices] = True
    return int(np.count_nonzero(used))


def summarize_features(features: FeaturesFile, config: Config) -> FeatureSummary:
    """Return the vocabulary size, the stored values and the model's size for ``features``.

    The model size counts the weights (float64, one row per feature and,
    for softmax, one column per label) and the featurizer's arrays, as
    ``LogisticModel.save`` writes them before compression; the small JSON
    records of the config and the training history are left out.
    """
    X, featurizer = features.X, features.featurizer
    kind = config.trainer.model
    if kind == "auto":
        kind = "binary" if len(features.labels) == 2 else "softmax"
    weights_per_feature = 1 if kind == "binary" else len(features.labels)
    featurizer_bytes = sum(np.asarray(array).nbytes for array in featurizer.to_arrays().values())
    return FeatureSummary(
        n_documents=X.n_rows,
        n_labels=len(features.labels),
        kind=kind,
        n_features=X.n_columns,
        n_ngram_features=featurizer.n_ngram_features,
        hashing=featurizer.hashing,
        used_columns=_count_used_columns(X),
        nnz=X.nnz,
        features_bytes=X.data.nbytes + X.indices.nbytes + X.indptr.nbytes,
        model_bytes=X.n_columns * weights_per_feature * 8 + featurizer_bytes,
    )

def _shorten(labels: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f", ... ({len(labels)} in all)" if len(labels) > limit else "")


def _name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)
