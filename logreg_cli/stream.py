"""Train on a training file too large for memory, one chunk of documents at a time.

With ``trainer.streaming: true`` the training file (TSV) is read in chunks of
``trainer.chunk_size`` lines. Only one chunk's text and features (two
with prefetching, below) are in memory at a time, besides the weights, the
optimizer's statistics and the validation corpus:

1. A first pass reads the labels (and, for ``values: tfidf``, the document
   frequency of every hashed column).
2. Every epoch reads the file again from the start. Each chunk is
   featurized with the hashing trick (``featurizer.hash_bits`` > 0, so no
   vocabulary has to be learned first), its documents are shuffled, and the
   optimizer takes one step per batch of ``trainer.batch_size`` documents.
3. After each epoch the validation loss decides, as in ``train.train``,
   which epoch's weights are kept and when to stop. Without
   ``data.validation`` there is no early stopping and the last epoch is kept.

With ``trainer.stream_prefetch: true`` the next chunk is read and
featurized on another thread while the optimizer steps through the current
one, so two chunks' features are in memory at once. The chunks and the
weights are the same either way.

With ``trainer.stream_cache: true`` the first epoch also writes each chunk's
features and labels to a temporary folder, and later epochs read them from
there instead of reading and featurizing the text again. The folder is
deleted when training ends. The weights are the same as without the cache.

Documents are shuffled within a chunk only, so a file sorted by label must
be shuffled beforehand. The training loss of an epoch record is progressive,
since a full pass to measure it at the end of the epoch would double the
reading: the mean cross-entropy of each batch just before the step on it
(adagrad, adam), or of each chunk just before the steps on that chunk
(minibatch, stochastic). The full gradient is not measured, so
``gradient_norm_sq`` is NaN and ``trainer.tolerance`` plays no part.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from tqdm import tqdm

from logreg_cli.config import Config, TrainerConfig
from logreg_cli.data import Corpus, ReadOptions, detect_format, document_hashes, iter_labelled_chunks
from logreg_cli.errors import ConfigError, DataError, location
from logreg_cli.featurize import Featurizer
from logreg_cli.losses import mean_loss
from logreg_cli.model import LogisticModel, is_features_file
from logreg_cli.optimizers import ADAPTIVE_METHODS, AdaptiveOptimizer
from logreg_cli.parallel import prefetch
from logreg_cli.pipeline import TrainOutcome, label_indices, read_options, resumed_train_hashes, validation_from_file
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix
from logreg_cli.thresholds import choose_threshold
from logreg_cli.train import (EpochPass, EpochRecord, TrainResult, initial_weights, minibatch_epoch,
                              resolve_class_weights, run_epochs)

logger = logging.getLogger(__name__)

STREAMING_METHODS = ("minibatch", "stochastic") + ADAPTIVE_METHODS


def iter_chunks(path: str, options: ReadOptions, chunk_size: int, *, log: bool = False) -> Iterator[Corpus]:
    """Read a TSV corpus file and yield it as consecutive corpora of ``chunk_size`` lines.

    Lines are parsed as ``data.read_corpus`` parses TSV, with the same
    errors (``data.iter_labelled_chunks``). Its warning about blank lines
    and its count of documents are logged only with ``log``, because the
    file is read once per epoch. A chunk of blank lines only is not yielded.

    Parameters
    ----------
    path : str
        A TSV file; ``"-"`` (stdin) cannot be read twice, so it is rejected.
    options : ReadOptions
        Format (``auto`` or ``tsv``), encoding and column settings.
    chunk_size : int
        Lines per chunk. The last chunk may have fewer, and blank lines hold no document.

    Yields
    ------
    Corpus
        Documents, labels and 1-based line numbers of the file.

    Raises
    ------
    DataError
        The file is missing, unreadable or has no documents, a byte cannot
        be decoded, or a line is malformed. The message names the file and line.
    ConfigError
        The format is not TSV, the path is stdin, or a column is given by name.
    """
    path = os.fspath(path)
    _check_streamable(path, options)
    yield from iter_labelled_chunks(path, options, block_size=chunk_size, log=log)


def _check_streamable(path: str, options: ReadOptions) -> None:
    if path == "-":
        raise ConfigError("trainer.streaming reads the training file once per epoch, so it cannot read stdin; pass a file")
    if is_features_file(path):
        raise ConfigError(
            f"{location(path)} is a features file, which is loaded whole; trainer.streaming reads a TSV text corpus, "
            "so train on the features file without streaming or stream the text file"
        )
    file_format = detect_format(path) if options.format == "auto" else options.format
    if file_format != "tsv":
        raise ConfigError(
            f"trainer.streaming reads TSV files only, but {location(path)} is read as {file_format}; "
            "convert it to label<TAB>text lines or set trainer.streaming: false"
        )
    for key in ("label_column", "text_column"):
        if not isinstance(getattr(options, key), int):
            raise ConfigError(f"data.{key}: trainer.streaming needs a 0-based column index, not a column name")
    if options.label_column == options.text_column:
        raise ConfigError("data.label_column and data.text_column are the same column; the label and the text must differ")
    try:
        "a\n".encode(options.encoding)
    except LookupError:
        raise ConfigError(f"data.encoding: unknown encoding {options.encoding!r}; use a Python codec name such as utf-8") from None
    if not "a\n".encode(options.encoding).endswith(b"a\n"):
        raise ConfigError(
            f"data.encoding: trainer.streaming splits lines at the byte 0x0A, which {options.encoding} does not keep "
            "for a line end; convert the file to UTF-8"
        )


def check_streaming_settings(config: Config) -> None:
    """Raise ConfigError unless ``config`` can train in streaming mode."""
    trainer = config.trainer
    if trainer.method not in STREAMING_METHODS:
        raise ConfigError(
            f"trainer.method {trainer.method} needs the whole training corpus for each step, so it cannot stream; "
            f"use one of {', '.join(STREAMING_METHODS)}, or set trainer.streaming: false"
        )
    if config.featurizer.hash_bits == 0:
        raise ConfigError(
            "trainer.streaming needs featurizer.hash_bits > 0 (for example 20), because a vocabulary would have "
            "to be learned from the whole corpus first; set featurizer.hash_bits"
        )
    if trainer.tune_threshold and config.data.validation is None:
        raise ConfigError("trainer.tune_threshold with trainer.streaming needs data.validation (or --validation)")
    chosen = os.environ.get("TMPDIR")
    if trainer.stream_cache and chosen and not (os.path.isdir(chosen) and os.access(chosen, os.W_OK | os.X_OK)):
        # tempfile would quietly fall back to /tmp, which may be the small disk that the user meant to avoid.
        raise ConfigError(f"TMPDIR={chosen} is not a writable folder, so the streaming cache has nowhere to go; "
                          "set TMPDIR to a writable folder or set trainer.stream_cache: false")


def train_streaming(
    config: Config,
    *,
    show_progress: bool = False,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    resume: LogisticModel | None = None,
) -> TrainOutcome:
    """Fit a model on ``config.data.train`` read in chunks, and return it as ``train_from_config`` does.

    Raises
    ------
    ConfigError
        When the method, the featurizer or the file format cannot stream (see
        :func:`check_streaming_settings` and :func:`iter_chunks`).
    DataError
        When the file is unreadable or malformed, or has fewer than 2 labels.
    TrainingError
        When the loss or the weights become non-finite, or the training
        loss grows for several epochs in a row.
    """
    check_streaming_settings(config)
    train_path = config.data.train
    if train_path is None:
        raise DataError("no training corpus given; pass a file or set data.train in the config")
    trainer = config.trainer
    options = read_options(config)

    # First pass: the labels, a sample to fit the featurizer on, and the idf if needed.
    label_counts, n_chunks, sample, train_hashes = _scan(train_path, options, trainer.chunk_size,
                                                         hashes=config.data.overlap_check)
    if len(label_counts) < 2:
        raise DataError(f"{train_path} has only one label; a classifier needs documents of at least 2 labels")
    if resume is not None:
        unknown = sorted(set(label_counts) - set(resume.labels))
        if unknown:
            raise DataError(f"{train_path}: label {unknown[0]!r} is not one of the model's labels ({', '.join(resume.labels)})")
        labels, featurizer = list(resume.labels), resume.featurizer
    else:
        labels = sorted(label_counts)
        featurizer = Featurizer(config.featurizer)
        featurizer.fit(sample, source=train_path)
        if config.featurizer.values == "tfidf":
            featurizer.idf = _streamed_idf(train_path, options, trainer.chunk_size, featurizer)
    del sample
    n_documents = sum(label_counts.values())

    kind = trainer.model
    if kind == "auto":
        kind = "binary" if len(labels) == 2 else "softmax"
    if kind == "binary" and len(labels) != 2:
        raise DataError(f"trainer.model is binary but {train_path} has {len(labels)} labels; use softmax or auto")
    weights = resume.weights.copy() if resume is not None else initial_weights(featurizer.n_features, len(labels), kind)
    y_counts = np.array([label_counts.get(label, 0) for label in labels])
    class_weights = resolve_class_weights(trainer.class_weight, labels, np.repeat(np.arange(len(labels)), y_counts))

    X_val, y_val = _validation(config, featurizer, labels)
    logger.info(
        "streaming a %s model: %s documents in %s of up to %s, %s validation documents, %s features, %d labels",
        kind, f"{n_documents:,}", _chunks_word(n_chunks), f"{trainer.chunk_size:,}", f"{X_val.n_rows:,}",
        f"{featurizer.n_features:,}", len(labels),
    )
    if X_val.n_rows == 0:
        logger.warning("streaming without data.validation: no early stopping, the last epoch's weights are kept")

    with ChunkCache() if trainer.stream_cache else nullcontext() as cache:
        result = _run_epochs(weights, train_path, options, labels, featurizer, trainer, X_val, y_val, class_weights,
                             n_chunks=n_chunks, show_progress=show_progress, on_epoch=on_epoch, cache=cache)
    model = LogisticModel(labels, result.weights, featurizer, config.to_dict(), result.summary(),
                          train_document_hashes=resumed_train_hashes(resume, train_hashes))
    model.threshold = choose_threshold(model, trainer, X_val, y_val)
    return TrainOutcome(model, result, n_documents, X_val.n_rows, X_val, y_val)


def _scan(path: str, options: ReadOptions, chunk_size: int, *,
          hashes: bool) -> tuple[Counter, int, list[str], np.ndarray | None]:
    """Return the label counts, the number of chunks, the first chunk's documents and the distinct document hashes.

    Without ``hashes`` (``data.overlap_check: false``) the documents are not hashed and the hashes are None.
    """
    label_counts: Counter = Counter()
    n_chunks = 0
    sample: list[str] = []
    found = []
    # The first pass reports blank lines and the label counts, as reading the file whole does.
    for chunk in iter_chunks(path, options, chunk_size, log=True):
        label_counts.update(chunk.labels)
        if hashes:
            # 16 bytes per distinct document, for the overlap check of eval, as train_from_config stores them.
            found.append(np.unique(document_hashes(chunk.documents), axis=0))
        if n_chunks == 0:
            sample = chunk.documents
        n_chunks += 1
    # A file without documents stops in iter_chunks with no_documents_error, so there was at least one chunk.
    return label_counts, n_chunks, sample, np.unique(np.concatenate(found), axis=0) if hashes else None


def _streamed_idf(path: str, options: ReadOptions, chunk_size: int, featurizer: Featurizer) -> np.ndarray:
    """Return the smoothed idf of every column, shape ``(n_features,)``, from one more pass over the file."""
    document_frequency = np.zeros(featurizer.n_ngram_features, dtype=np.int64)
    n_documents = 0
    for chunk in iter_chunks(path, options, chunk_size):
        document_frequency += featurizer.hashed_document_frequency(chunk.documents)
        n_documents += len(chunk.documents)
    return featurizer.idf_from(document_frequency, n_documents)


def _validation(config: Config, featurizer: Featurizer, labels: list[str]) -> tuple[CSRMatrix, np.ndarray]:
    path = config.data.validation
    if path is None:
        return featurizer.transform([]), np.zeros(0, dtype=np.int64)
    # The validation corpus is held in memory, as in train_from_config.
    return validation_from_file(path, config, featurizer, labels)


def _run_epochs(
    weights: np.ndarray, path: str, options: ReadOptions, labels: list[str], featurizer: Featurizer,
    trainer: TrainerConfig, X_val: CSRMatrix, y_val: np.ndarray, class_weights: np.ndarray | None,
    *, n_chunks: int, show_progress: bool, on_epoch: Callable[[EpochRecord], None] | None, cache: ChunkCache | None = None,
) -> TrainResult:
    """Run the epoch loop of ``train.train``, each epoch a pass over the file's chunks (or ``cache``, once it is full)."""
    rng = np.random.default_rng(trainer.seed)
    optimizer = AdaptiveOptimizer(trainer, weights.shape) if trainer.method in ADAPTIVE_METHODS else None
    batch_size = 1 if trainer.method == "stochastic" else trainer.batch_size

    def run_pass(weights: np.ndarray, epoch: int, epoch_settings: TrainerConfig) -> EpochPass:
        loss_sum, seen = 0.0, 0
        working = optimizer.begin(weights) if optimizer is not None else weights
        if optimizer is not None:
            optimizer.learning_rate = epoch_settings.learning_rate
        chunks = _chunk_features(path, options, trainer.chunk_size, featurizer, labels, cache)
        if trainer.stream_prefetch:
            chunks = prefetch(chunks)  # the next chunk is read and featurized while the steps go through this one
        for X, y in tqdm(chunks, total=n_chunks, disable=not show_progress, leave=False, desc=f"epoch {epoch}", unit="chunk"):
            sample_weights = None if class_weights is None else class_weights[y]
            seen += X.n_rows

            # Steps on this chunk, its documents shuffled. The loss of each batch is measured before its step.
            if optimizer is not None:
                loss_sum += optimizer.take_steps(working, X, y, rng=rng, sample_weights=sample_weights, epoch=epoch)
            else:
                loss_sum += mean_loss(working, X, y, sample_weights) * X.n_rows
                working = minibatch_epoch(working, X, y, rng.permutation(X.n_rows), batch_size, epoch_settings,
                                          show_progress=False, epoch=epoch, class_weights=class_weights)
        weights = optimizer.finish(working) if optimizer is not None else working
        # The full gradient would cost another pass over the file, so it is not measured.
        return EpochPass(weights, loss_sum / max(seen, 1), float("nan"))

    return run_epochs(np.array(weights, dtype=np.float64), trainer, run_pass, X_val=X_val, y_val=y_val,
                      class_weights=class_weights, on_epoch=on_epoch)


def _chunk_features(path: str, options: ReadOptions, chunk_size: int, featurizer: Featurizer, labels: list[str],
                    cache: ChunkCache | None) -> Iterator[tuple[CSRMatrix, np.ndarray]]:
    """Yield ``(X, y)`` of each chunk of the file, from ``cache`` when a whole pass is in it."""
    if cache is not None and cache.full:
        yield from cache.chunks()
        return
    for chunk in iter_chunks(path, options, chunk_size):
        X = featurizer.transform(chunk.documents)
        y = label_indices(chunk.labels, labels, source=path)
        del chunk
        if cache is not None:
            cache.add(X, y)
        yield X, y
    if cache is not None:
        cache.full = True
        logger.info("streaming cache: %s, %s bytes in %s", _chunks_word(cache.count), f"{cache.bytes:,}", cache.folder)


def _chunks_word(count: int) -> str:
    return f"{count:,} chunk" if count == 1 else f"{count:,} chunks"


class ChunkCache:
    """The features and labels of every chunk of one pass, in a temporary folder, read back one chunk at a time.

    Each chunk is one uncompressed ``.npz`` file of plain arrays, read with
    ``allow_pickle=False``. Column indices are stored as int32 and values as
    float32 where that loses nothing (binary and count values), so a stored
    value takes 8 to 16 bytes, and the chunks read back are the same arrays.
    Use it as a context manager: leaving it deletes the folder.
    """

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory | None = None
        self.count = 0
        self.bytes = 0
        self.full = False

    def __enter__(self) -> ChunkCache:
        try:
            self._folder = tempfile.TemporaryDirectory(prefix="logreg-stream-cache-")
        except OSError as error:
            raise DataError(f"cannot create the streaming cache folder ({error.strerror}); set TMPDIR to a writable "
                            "folder or set trainer.stream_cache: false") from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    @property
    def folder(self) -> Path:
        assert self._folder is not None, "ChunkCache is used outside its with block"
        return Path(self._folder.name)

    def add(self, X: CSRMatrix, y: np.ndarray) -> None:
        """Write the next chunk's features and labels."""
        path = self.folder / f"{self.count:06d}.npz"
        indices = X.indices.astype(np.int32) if X.n_columns <= np.iinfo(np.int32).max else X.indices
        data = X.data.astype(np.float32)
        if not np.array_equal(data, X.data):
            data = X.data
        try:
            with open(path, "wb") as handle:
                np.savez(handle, data=data, indices=indices, indptr=X.indptr, shape=np.array(X.shape, dtype=np.int64), y=y)
        except OSError as error:
            raise DataError(f"{path}: cannot write the streaming cache ({error.strerror}) after {self.bytes:,} bytes; "
                            "free disk space, set TMPDIR to a larger disk, or set trainer.stream_cache: false") from None
        self.bytes += path.stat().st_size
        self.count += 1
        if self.count == 1 or self.count % 10 == 0:
            logger.debug("streaming cache: %s, %s bytes in %s", _chunks_word(self.count), f"{self.bytes:,}", self.folder)

    def chunks(self) -> Iterator[tuple[CSRMatrix, np.ndarray]]:
        """Yield ``(X, y)`` of every chunk written, in order."""
        for index in range(self.count):
            with np.load(self.folder / f"{index:06d}.npz", allow_pickle=False) as arrays:
                shape = tuple(int(size) for size in arrays["shape"])
                data = arrays["data"].astype(np.float64)
                indices = arrays["indices"].astype(INDEX_DTYPE)
                yield CSRMatrix(data, indices, arrays["indptr"], shape), arrays["y"]
