"""Turn documents into sparse feature vectors.

Column 0 of every matrix is the bias feature, always 1. The other columns are
the tokens of the vocabulary, learned from the training corpus by
:meth:`Featurizer.fit` and ordered by descending count, ties broken by the
token's code points so that the same corpus always gives the same columns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from itertools import chain, repeat

import numpy as np

from logreg_cli.config import FeaturizerConfig
from logreg_cli.errors import DataError, ModelFileError
from logreg_cli.io import arrays_to_strings, json_to_array, array_to_json, strings_to_arrays
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix
from logreg_cli.tokenize import make_tokenizer

logger = logging.getLogger(__name__)

BIAS_FEATURE = "<bias>"


class Featurizer:
    """Vocabulary and feature values for one training corpus.

    Parameters
    ----------
    settings : FeaturizerConfig
        The ``featurizer`` section of the config.
    """

    def __init__(self, settings: FeaturizerConfig) -> None:
        self.settings = settings
        self.vocabulary: dict[str, int] = {}  # token -> column; columns start at 1 because 0 is the bias feature
        self.idf: np.ndarray | None = None  # (n_features,) for values: tfidf, idf[0] = 1
        self._tokenize = make_tokenizer(
            token_pattern=settings.token_pattern,
            lowercase=settings.lowercase,
            normalization=settings.normalization,
            replace_numbers=settings.replace_numbers,
            replace_urls=settings.replace_urls,
        )

    @property
    def n_features(self) -> int:
        """Number of columns, the bias feature included."""
        return len(self.vocabulary) + 1

    def feature_names(self) -> list[str]:
        return [BIAS_FEATURE, *self.vocabulary]

    def tokenize(self, text: str) -> list[str]:
        return self._tokenize(text)

    def fit(self, documents: Sequence[str], *, source: str = "the training corpus") -> Featurizer:
        """Learn the vocabulary (and idf) from ``documents``.

        Raises
        ------
        DataError
            When no token survives tokenizing and ``min_count``.
        """
        self._fit_tokens([self._tokenize(document) for document in documents], source)
        return self

    def fit_transform(self, documents: Sequence[str], *, source: str = "the training corpus") -> CSRMatrix:
        token_lists = [self._tokenize(document) for document in documents]
        self._fit_tokens(token_lists, source)
        return self._transform_tokens(token_lists, warn_unknown=False)

    def transform(self, documents: Sequence[str]) -> CSRMatrix:
        """Return the feature matrix of ``documents``, shape ``(n_documents, n_features)``.

        Tokens outside the vocabulary are ignored, so a document with none
        of its tokens in the vocabulary has only the bias feature.
        """
        return self._transform_tokens([self._tokenize(document) for document in documents], warn_unknown=True)

    def _fit_tokens(self, token_lists: list[list[str]], source: str) -> None:
        counts = Counter(chain.from_iterable(token_lists))
        settings = self.settings
        kept = [(token, count) for token, count in counts.items() if count >= settings.min_count]
        if not kept:
            reason = "no token was found" if not counts else f"no token occurs at least min_count={settings.min_count} times"
            raise DataError(
                f"{source}: no features left after tokenizing {len(token_lists)} documents ({reason}); "
                "lower featurizer.min_count, or check featurizer.token_pattern and the text column"
            )
        kept.sort(key=lambda item: (-item[1], item[0]))
        if settings.max_features is not None:
            kept = kept[: settings.max_features]
        self.vocabulary = {token: column for column, (token, _) in enumerate(kept, start=1)}
        if settings.values == "tfidf":
            document_frequency = np.zeros(self.n_features)
            matrix = self._count_matrix(token_lists)
            np.add.at(document_frequency, matrix.indices, 1.0)
            n_documents = len(token_lists)
            # Smoothed idf, as if one extra document held every token once: ln((1 + n) / (1 + df)) + 1.
            self.idf = np.log((1.0 + n_documents) / (1.0 + document_frequency)) + 1.0
            self.idf[0] = 1.0
        logger.info("%s: vocabulary of %d tokens from %d distinct", source, len(self.vocabulary), len(counts))

    def _count_matrix(self, token_lists: list[list[str]]) -> CSRMatrix:
        """Return token counts with the bias column set to 1, shape ``(n_documents, n_features)``."""
        n_documents = len(token_lists)
        n_columns = self.n_features
        lengths = np.fromiter(map(len, token_lists), dtype=INDEX_DTYPE, count=n_documents)
        flat = list(chain.from_iterable(token_lists))
        columns = np.fromiter(map(self.vocabulary.get, flat, repeat(-1)), dtype=INDEX_DTYPE, count=len(flat))
        rows = np.repeat(np.arange(n_documents, dtype=INDEX_DTYPE), lengths)
        known = columns >= 0
        # One key per (document, column) pair; the bias key doc * n_columns appears exactly once per document.
        keys = np.concatenate([np.arange(n_documents, dtype=INDEX_DTYPE) * n_columns, rows[known] * n_columns + columns[known]])
        keys, counts = np.unique(keys, return_counts=True)
        rows, columns = np.divmod(keys, n_columns)
        indptr = np.zeros(n_documents + 1, dtype=INDEX_DTYPE)
        np.cumsum(np.bincount(rows, minlength=n_documents), out=indptr[1:])
        return CSRMatrix(counts.astype(np.float64), columns, indptr, (n_documents, n_columns))

    def _transform_tokens(self, token_lists: list[list[str]], *, warn_unknown: bool) -> CSRMatrix:
        matrix = self._count_matrix(token_lists)
        settings = self.settings
        if warn_unknown:
            only_bias = np.diff(matrix.indptr) == 1
            had_tokens = np.fromiter(map(bool, token_lists), dtype=bool, count=len(token_lists))
            unknown = int(np.count_nonzero(only_bias & had_tokens))
            if unknown:
                logger.warning(
                    "%d of %d documents have no token in the model's vocabulary; they are predicted from the bias alone",
                    unknown, len(token_lists),
                )
        if settings.values == "binary":
            matrix.data[:] = 1.0
        elif settings.values == "tfidf":
            if settings.sublinear_tf:
                matrix.data = 1.0 + np.log(matrix.data)
            assert self.idf is not None
            matrix.data = matrix.data * self.idf[matrix.indices]
        if settings.normalize == "l2":
            norms = matrix.row_norms(skip_first_column=True)
            norms[norms == 0.0] = 1.0
            scale = 1.0 / norms[matrix.row_ids()]
            matrix.data = np.where(matrix.indices == 0, matrix.data, matrix.data * scale)
        return matrix

    def fingerprint(self) -> str:
        """Return a SHA-256 of the settings and the ordered vocabulary.

        Two featurizers with the same fingerprint give the same columns, so a
        model may only read features whose fingerprint equals its own.
        """
        digest = hashlib.sha256()
        digest.update(json.dumps(dataclasses.asdict(self.settings), sort_keys=True).encode())
        for token in self.vocabulary:
            digest.update(token.encode("utf-8", "surrogatepass") + b"\0")
        if self.idf is not None:
            digest.update(self.idf.tobytes())
        return digest.hexdigest()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return plain arrays that describe this featurizer completely."""
        blob, offsets = strings_to_arrays(list(self.vocabulary))
        arrays = {
            "featurizer_settings": json_to_array(dataclasses.asdict(self.settings)),
            "vocabulary_bytes": blob,
            "vocabulary_offsets": offsets,
            "featurizer_fingerprint": np.array(self.fingerprint()),
        }
        if self.idf is not None:
            arrays["idf"] = self.idf
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], *, source: str) -> Featurizer:
        """Rebuild a featurizer written by :meth:`to_arrays`."""
        try:
            settings = FeaturizerConfig(**array_to_json(arrays["featurizer_settings"]))
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"{source}: invalid featurizer settings ({error})") from None
        featurizer = cls(settings)
        tokens = arrays_to_strings(arrays["vocabulary_bytes"], arrays["vocabulary_offsets"])
        featurizer.vocabulary = {token: column for column, token in enumerate(tokens, start=1)}
        featurizer.idf = np.asarray(arrays["idf"], dtype=np.float64) if "idf" in arrays else None
        if settings.values == "tfidf" and featurizer.idf is None:
            raise ModelFileError(f"{source}: values are tfidf but the file holds no idf array")
        return featurizer
