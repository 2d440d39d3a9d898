"""Turn documents into sparse feature vectors.

Column 0 of every matrix is the bias feature, always 1. Then come the n-gram
features (the "bag of words"): either the columns of a vocabulary of word and
character n-grams learned from the training corpus by :meth:`Featurizer.fit`
(see ``vocabulary.py`` for their order), or ``2 ** hash_bits`` hashed columns
(see ``hashing.py``). Last come the hand-written features declared in the
config (see ``handcrafted.py``), in the order word lists, regular expressions,
document length.

``values`` (counts, binary, tfidf) and ``normalize`` apply to the n-gram
features only; the bias and the hand-written features keep their values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from logreg_cli.bytetokens import HashedTokens, document_ranges, hash_tokens, stream_from_documents, token_hashes
from logreg_cli.config import FeaturizerConfig, check_featurizer_settings
from logreg_cli.errors import ConfigError, DataError, ModelFileError
from logreg_cli.handcrafted import HandcraftedFeatures, load_handcrafted, read_token_file
from logreg_cli.hashing import HASH_SCHEME, HASH_SCHEMES, count_hashed_ngrams, hashed_count_matrix
from logreg_cli.io import array_to_json, arrays_to_strings, json_to_array, strings_to_arrays
from logreg_cli.ngrams import TokenStream
from logreg_cli.parallel import map_in_threads, thread_count
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix
from logreg_cli.tokenize import make_tokenizer
from logreg_cli.vocabulary import ChunkNgrams, NgramVocabulary, WordCandidates, count_chunk_ngrams, fit_vocabulary

logger = logging.getLogger(__name__)

# Documents featurized at once by Featurizer.transform: bounds the memory of the token arrays.
# With 512 rows (9 bits) and up to 2^23 columns, ngrams.count_entries sorts 32-bit keys, and so
# does hashing.count_hashed_ngrams up to hash_bits 22. Against 2,048 rows, evaluating a model on
# IMDb's test file peaked 110 MB lower, and hashed featurizing at hash_bits 22 took 1.26 s instead of 1.5 s.
TRANSFORM_CHUNK = 512

BIAS_FEATURE = "<bias>"

def _document_frequency(blocks: Iterable[CSRMatrix], n_columns: int) -> np.ndarray:
    """Return the number of rows of ``blocks`` that store a value in each of ``n_columns`` columns."""
    document_frequency = np.zeros(n_columns, dtype=INDEX_DTYPE)
    for counts in blocks:
        np.add.at(document_frequency, counts.indices, 1)
    return document_frequency


def _chunks(documents: Sequence[str]) -> list[Sequence[str]]:
    """Split ``documents`` into consecutive slices of at most ``TRANSFORM_CHUNK``; one empty slice for no documents.

    Fewer documents than the threads can take in full slices are split evenly
    among the threads, so that 800 documents on two threads take two slices
    of 400 rather than 512 and 288.
    """
    threads = thread_count()
    size = TRANSFORM_CHUNK
    if len(documents) < TRANSFORM_CHUNK * threads:
        size = max(-(-len(documents) // threads), 1)
    return [documents[start : start + size] for start in range(0, max(len(documents), 1), size)]


class Featurizer:
    """Tokenizer, n-gram features and hand-written features for one training corpus.

    Parameters
    ----------
    settings : FeaturizerConfig
        The ``featurizer`` section of the config.

    Raises
    ------
    ConfigError
        When the settings contradict each other or the token pattern is invalid.
    """

    def __init__(self, settings: FeaturizerConfig) -> None:
        check_featurizer_settings(settings)
        self.settings = settings
        self.ngrams: NgramVocabulary | None = None  # None when hashing or without bag of words
        self.stop_words: list[str] = []
        self.handcrafted = HandcraftedFeatures()
        self.idf: np.ndarray | None = None  # (n_features,) for values: tfidf, 1 outside the n-gram columns
        self.hash_scheme = HASH_SCHEME  # how tokens are hashed when hashing (see hashing.py)
        self.fitted = False
        self._vocabulary: dict[str, int] | None = None
        self._tokenize = make_tokenizer(
            token_pattern=settings.token_pattern,
            lowercase=settings.lowercase,
            normalization=settings.normalization,
            replace_numbers=settings.replace_numbers,
            replace_urls=settings.replace_urls,
        )

    @property
    def hashing(self) -> bool:
        return self.settings.hash_bits > 0

    @property
    def n_ngram_features(self) -> int:
        """Number of n-gram columns: the vocabulary size, or 2^hash_bits."""
        if not self.settings.bag_of_words:
            return 0
        if self.hashing:
            return 1 << self.settings.hash_bits
        return self.ngrams.n_columns if self.ngrams is not None else 0

    @property
    def n_features(self) -> int:
        """Number of columns, the bias feature included."""
        return 1 + self.n_ngram_features + self.handcrafted.n_features

    @property
    def vocabulary(self) -> dict[str, int]:
        """Map of n-gram name to column (1-based; column 0 is the bias feature); empty when hashing.

        Word n-grams are named by their tokens joined with spaces, character
        n-grams as ``char[...]``. NOTE: with a custom token_pattern whose tokens
        contain spaces, a unigram and a bigram can share a name; the columns stay distinct.
        """
        if self._vocabulary is None:
            names = self.ngrams.feature_names() if self.ngrams is not None else []
            self._vocabulary = {name: column for column, name in enumerate(names, start=1)}
        return self._vocabulary

    def feature_names(self) -> list[str]:
        """Return the name of every column, shape ``(n_features,)``."""
        if self.ngrams is not None:
            ngram_names = self.ngrams.feature_names()
        else:
            ngram_names = [f"hash[{column}]" for column in range(self.n_ngram_features)]
        return [BIAS_FEATURE, *ngram_names, *self.handcrafted.feature_names()]

    def tokenize(self, text: str) -> list[str]:
        return self._tokenize(text)

    def _uses_byte_tokens(self) -> bool:
        settings = self.settings
        return settings.token_pattern is None and not (settings.replace_numbers or settings.replace_urls)

    def _looks_up_token_hashes(self) -> bool:
        """Tell whether transform can skip the token strings: word n-grams of a vocabulary, and nothing that reads tokens.

        Reads the stop words and hand-written features, so it is only right once :meth:`fit` has loaded them.
        """
        settings = self.settings
        return (self._uses_byte_tokens() and settings.bag_of_words and not self.hashing and settings.ngram_max >= 1
                and settings.char_ngrams is None and not self.stop_words and not self.handcrafted.n_features)

    def _counts_token_hashes(self) -> bool:
        """Tell whether hashed features can be counted from token hashes alone, without token strings.

        That needs word n-grams hashed by bytes and nothing else that reads
        tokens. Like :meth:`_looks_up_token_hashes`, the answer is only right
        once :meth:`fit` has loaded the hand-written features.
        """
        settings = self.settings
        return (self.hashing and self.hash_scheme == "bytes" and settings.bag_of_words and settings.ngram_max >= 1
                and settings.char_ngrams is None and not self.handcrafted.n_features)

    def _token_stream(self, documents: Sequence[str]) -> TokenStream:
        """Tokenize ``documents``; the default tokenizer works on bytes for most ASCII text (``bytetokens.py``)."""
        if self._uses_byte_tokens():
            return stream_from_documents(documents, self._tokenize, lowercase=self.settings.lowercase,
                                         normalization=self.settings.normalization)
        return TokenStream.from_token_lists(list(map(self._tokenize, documents)))

    def fit(self, documents: Sequence[str], *, source: str = "the training corpus") -> Featurizer:
        """Learn the vocabulary, the idf and the word lists from ``documents``.

        Raises
        ------
        DataError
            When no n-gram survives tokenizing and pruning, or a word list is empty.
        ConfigError
            When a stop-word or word-list file cannot be read.
        """
        self._fit(documents, source, keep=False)
        return self

    def _fit(self, documents: Sequence[str], source: str, *, keep: bool) -> WordCandidates | list[CSRMatrix] | None:
        """Fit, and return what :meth:`fit_transform` can count the matrix from, or None.

        With a vocabulary of word n-grams, that is the n-gram candidates. With
        ``keep``, they also keep the token ids of every document when
        :meth:`_looks_up_token_hashes` allows it. When hashing with ``keep``,
        it is the hashed counts of the documents, a block of ``TRANSFORM_CHUNK``
        rows at a time, when :meth:`_fit_hashed` keeps them.
        """
        settings = self.settings
        words = blocks = None
        self.stop_words = []
        if settings.stop_words is not None:
            self.stop_words = read_token_file(settings.stop_words, "featurizer.stop_words", self._tokenize, single_tokens=False)
        self.handcrafted = load_handcrafted(settings, self._tokenize)
        self.ngrams, self.idf, self._vocabulary = None, None, None
        if settings.bag_of_words:
            document_frequency = None
            if self.hashing:
                blocks, document_frequency = self._fit_hashed(documents, keep=keep)
            else:
                if settings.ngram_max >= 1:
                    # The check reads the stop words and hand-written features, which are loaded now.
                    words = self._word_candidates(documents, keep_token_ids=keep and self._looks_up_token_hashes())
                char_stream = None
                if settings.char_ngrams is not None:
                    char_stream = self._token_stream(documents).without(set(self.stop_words))
                self.ngrams, document_frequency = fit_vocabulary(words, char_stream, settings,
                                                                 n_documents=len(documents), source=source)
            if settings.values == "tfidf":
                self.idf = self.idf_from(document_frequency, len(documents))
        self.fitted = True
        return words if words is not None else blocks

    def _fit_hashed(self, documents: Sequence[str], *, keep: bool) -> tuple[list[CSRMatrix] | None, np.ndarray | None]:
        """Return the count blocks of ``documents`` and the document frequency of every hashed column.

        Only ``values: tfidf`` needs the document frequencies before the
        matrix; otherwise both are None, and :meth:`transform` makes the matrix
        a block at a time. The blocks are kept (else None) when ``keep`` and
        :meth:`_counts_token_hashes` allow counting the matrix from them.
        """
        if self.settings.values != "tfidf":
            return None, None
        if not (keep and self._counts_token_hashes()):
            return None, self.hashed_document_frequency(documents)
        blocks = list(map_in_threads(self._ngram_counts, _chunks(documents)))
        return blocks, _document_frequency(blocks, self.n_ngram_features)

    def hashed_document_frequency(self, documents: Sequence[str]) -> np.ndarray:
        """Return how many of ``documents`` have a value in each hashed column, shape ``(n_ngram_features,)``.

        Counts a block of documents at a time, on several threads, with the
        stop words of the fitted featurizer removed.
        """
        return _document_frequency(map_in_threads(self._ngram_counts, _chunks(documents)), self.n_ngram_features)

    def idf_from(self, document_frequency: np.ndarray, n_documents: int) -> np.ndarray:
        """Return the idf of every column, shape ``(n_features,)``, from the document frequency of each n-gram column.

        Smoothed, as if one extra document held every n-gram once: ln((1 + n) / (1 + df)) + 1.
        The bias and the hand-written features get 1.
        """
        ngram_idf = np.log((1.0 + n_documents) / (1.0 + document_frequency)) + 1.0
        return np.concatenate([[1.0], ngram_idf, np.ones(self.handcrafted.n_features)])

    def fit_transform(self, documents: Sequence[str], *, source: str = "the training corpus") -> CSRMatrix:
        """Fit on ``documents`` and return their feature matrix, shape ``(n_documents, n_features)``.

        The vocabulary is learned a group of documents at a time, so that the
        token arrays of the whole corpus never exist at once. With word n-grams
        alone, the matrix is counted from the token ids kept from that pass (4
        bytes per token). Hashed word n-grams are counted once, in blocks that
        become the matrix. Otherwise the documents are tokenized a second time.
        """
        reusable = self._fit(documents, source, keep=True)
        if isinstance(reusable, list):
            blocks = reusable

            def assemble(index: int) -> CSRMatrix:
                counts, blocks[index] = blocks[index], None  # freed once assembled
                return self._assemble(None, None, counts)

            return CSRMatrix.vstack(map_in_threads(assemble, range(len(blocks))), n_blocks=len(blocks))
        # Only the kept token ids are needed from here on: the candidates' other arrays are freed first.
        groups = reusable.token_ids if reusable is not None and reusable.keep_token_ids else None
        tokens = reusable.tokens if groups is not None else None
        del reusable
        if groups is None:
            return self._transform(documents, warn=False)
        assert self.ngrams is not None
        self.ngrams.prepare_lookups()  # once, before the threads share them
        vocabulary_ids = self.ngrams.token_ids_of(tokens)
        del tokens

        def featurize(index: int) -> CSRMatrix:
            ids, lengths = groups[index]
            groups[index] = None  # freed once featurized
            return self._assemble(None, None, self._count_token_ids(vocabulary_ids[ids], lengths))

        return CSRMatrix.vstack(map_in_threads(featurize, range(len(groups))), n_blocks=len(groups))

    def transform(self, documents: Sequence[str]) -> CSRMatrix:
        """Return the feature matrix of ``documents``, shape ``(n_documents, n_features)``.

        N-grams outside the vocabulary are ignored, so a document with none of
        its n-grams in the vocabulary has only the bias and hand-written features.
        Documents are featurized ``TRANSFORM_CHUNK`` at a time, on several
        threads (see ``parallel.py``), so the token arrays of a large file never exist all at once.
        """
        return self._transform(documents, warn=True)

    def transform_blocks(self, documents: Sequence[str]) -> Iterator[CSRMatrix]:
        """Yield the feature matrix of ``documents`` as consecutive blocks of at most ``TRANSFORM_CHUNK`` rows.

        A caller that needs one block at a time, such as prediction, never
        holds the whole matrix. Warns, as :meth:`transform` does, after the last block.
        """
        yield from self._blocks(documents, warn=True)

    def blocks_with_unknown(self, documents: Sequence[str]) -> Iterator[tuple[CSRMatrix, int]]:
        """Yield what :meth:`transform_blocks` yields, each block with its count of documents without a known n-gram.

        Nothing is logged: a caller that transforms a file in several calls
        passes the total to :meth:`warn_unknown` once, at the end.
        """
        if not self.fitted:
            raise DataError("the featurizer has not been fitted; fit it on a training corpus or load it from a model file")
        if self.ngrams is not None:
            self.ngrams.prepare_lookups(with_token_hashes=self._looks_up_token_hashes())  # once, before the threads share them
        yield from map_in_threads(self._transform_chunk, _chunks(documents))

    def warn_unknown(self, unknown: int, n_documents: int) -> None:
        """Log how many of ``n_documents`` documents have tokens but no n-gram of the vocabulary, when any."""
        if unknown:
            self._warn_unknown(unknown, n_documents)

    def _transform(self, documents: Sequence[str], *, warn: bool) -> CSRMatrix:
        n_blocks = max(-(-len(documents) // TRANSFORM_CHUNK), 1)
        return CSRMatrix.vstack(self._blocks(documents, warn=warn), n_blocks=n_blocks)

    def _blocks(self, documents: Sequence[str], *, warn: bool) -> Iterator[CSRMatrix]:
        unknown = 0
        for block, block_unknown in self.blocks_with_unknown(documents):
            unknown += block_unknown
            yield block
        if warn:
            self.warn_unknown(unknown, len(documents))

    def _transform_chunk(self, documents: Sequence[str]) -> tuple[CSRMatrix, int]:
        """Featurize one chunk; also return how many of its documents have tokens but no known n-gram."""
        if self._looks_up_token_hashes():
            # Word n-grams only: look the token hashes up in the vocabulary, without decoding any token.
            hashes, lengths = token_hashes(documents, self._tokenize, lowercase=self.settings.lowercase,
                                            normalization=self.settings.normalization)
            counts = self._count_token_ids(self.ngrams.token_ids_of_hashes(hashes), lengths)
            unknown = int(np.count_nonzero((np.diff(counts.indptr) == 0) & (lengths > 0)))
            return self._assemble(documents, None, counts), unknown
        if self._counts_token_hashes():
            return self._assemble(None, None, self._ngram_counts(documents)), 0
        stream = self._token_stream(documents)
        counts = None
        unknown = 0
        if self.settings.bag_of_words:
            ngram_stream = stream.without(set(self.stop_words))
            counts = self._count_ngrams(ngram_stream)
            if self.ngrams is not None:
                unknown = int(np.count_nonzero((np.diff(counts.indptr) == 0) & (ngram_stream.lengths > 0)))
        return self._assemble(documents, stream, counts), unknown

    def _count_token_ids(self, token_ids: np.ndarray, lengths: np.ndarray) -> CSRMatrix:
        """Count the word n-grams of documents given as vocabulary token ids and the number of tokens of each."""
        rows = np.repeat(np.arange(lengths.size, dtype=INDEX_DTYPE), lengths)
        return self.ngrams.count_token_ids(token_ids, rows, lengths.size)

    def _word_candidates(self, documents: Sequence[str], *, keep_token_ids: bool) -> WordCandidates:
        """Count the word n-grams of ``documents`` a group at a time, on several threads."""
        ngram_max = self.settings.ngram_max
        dropped = hash_tokens(self.stop_words) if self.stop_words else None

        def count(bounds: tuple[int, int]) -> ChunkNgrams:
            return count_chunk_ngrams(self._hashed_tokens(documents[bounds[0] : bounds[1]]), ngram_max, dropped)

        words = WordCandidates(ngram_max, keep_token_ids=keep_token_ids)
        for counted in map_in_threads(count, list(document_ranges(documents))):
            words.add(counted)
        return words

    def _hashed_tokens(self, documents: Sequence[str]) -> HashedTokens:
        """Tokenize ``documents`` into token hashes, on their bytes where the default tokenizer allows it."""
        if self._uses_byte_tokens():
            return HashedTokens(documents, self._tokenize, self.settings.lowercase, self.settings.normalization)
        return HashedTokens.from_token_lists(list(map(self._tokenize, documents)))

    def _ngram_counts(self, documents: Sequence[str]) -> CSRMatrix:
        """Count the n-grams of some documents, stop words removed, before ``values`` apply."""
        if not self._counts_token_hashes():
            return self._count_ngrams(self._token_stream(documents).without(set(self.stop_words)))
        # Hashed word n-grams from the token hashes, with no token decoded to a string.
        tokens = self._hashed_tokens(documents)
        hashes, lengths = tokens.hashes, tokens.lengths
        if self.stop_words:
            not_stop_word = ~np.isin(hashes, hash_tokens(self.stop_words))
            rows = np.repeat(np.arange(lengths.size, dtype=INDEX_DTYPE), lengths)
            hashes, lengths = hashes[not_stop_word], np.bincount(rows[not_stop_word], minlength=lengths.size)
        return count_hashed_ngrams(hashes, lengths, hash_bits=self.settings.hash_bits, ngram_max=self.settings.ngram_max)

    def _count_ngrams(self, stream: TokenStream) -> CSRMatrix:
        settings = self.settings
        if self.hashing:
            char_range = tuple(settings.char_ngrams) if settings.char_ngrams is not None else None
            return hashed_count_matrix(stream, hash_bits=settings.hash_bits, ngram_max=settings.ngram_max,
                                       char_range=char_range, scheme=self.hash_scheme)
        assert self.ngrams is not None
        return self.ngrams.count_matrix(stream)

    def _warn_unknown(self, unknown: int, n_documents: int) -> None:
        rest = "the bias and the hand-written features" if self.n_features > self.n_ngram_features + 1 else "the bias"
        verb, pronoun = ("has", "it is") if unknown == 1 else ("have", "they are")
        logger.warning(
            "%s of %s documents %s no n-gram in the model's vocabulary; %s predicted from %s alone",
            f"{unknown:,}", f"{n_documents:,}", verb, pronoun, rest,
        )

    def _ngram_values(self, counts: CSRMatrix) -> CSRMatrix:
        """Turn n-gram counts into feature values; hashed counts may be negative, so signs are kept.

        Changes ``counts.data`` in place, so that no extra copy of the values
        exists at the peak of featurizing; callers do not use the counts afterwards.
        """
        settings = self.settings
        data = counts.data
        if settings.values == "binary":
            np.sign(data, out=data)
        elif settings.values == "tfidf":
            if settings.sublinear_tf:
                signs = np.sign(data)
                np.abs(data, out=data)
                np.log(data, out=data)
                data += 1.0
                data *= signs
                del signs
            assert self.idf is not None
            data *= np.take(self.idf[1:], counts.indices)
        if settings.normalize == "l2":
            norms = counts.row_norms()
            norms[norms == 0.0] = 1.0
            np.divide(data, np.repeat(norms, np.diff(counts.indptr)), out=data)
        return counts

    def _assemble(self, documents: Sequence[str] | None, stream: TokenStream | None, counts: CSRMatrix | None) -> CSRMatrix:
        """Put the bias feature, the n-gram values and the hand-written values side by side.

        ``documents`` and ``stream`` may be None when there are no hand-written
        features, which are the only ones that read them.
        """
        n_documents = len(documents) if documents is not None else counts.n_rows
        n_ngrams = self.n_ngram_features
        ngram_lengths = np.zeros(n_documents, dtype=INDEX_DTYPE)
        ngrams = None
        if counts is not None:
            ngrams = self._ngram_values(counts)
            ngram_lengths = np.diff(ngrams.indptr)
        handcrafted = None
        handcrafted_lengths = np.zeros(n_documents, dtype=INDEX_DTYPE)
        if self.handcrafted.n_features:
            handcrafted = self.handcrafted.compute(documents, stream)
            handcrafted_lengths = np.count_nonzero(handcrafted, axis=1).astype(INDEX_DTYPE)

        indptr = np.zeros(n_documents + 1, dtype=INDEX_DTYPE)
        np.cumsum(1 + ngram_lengths + handcrafted_lengths, out=indptr[1:])
        data = np.empty(int(indptr[-1]))
        indices = np.empty(int(indptr[-1]), dtype=INDEX_DTYPE)
        row_starts = indptr[:-1]
        data[row_starts] = 1.0
        indices[row_starts] = 0
        hand_positions = None
        if handcrafted is not None:
            rows, columns = np.nonzero(handcrafted)
            firsts = np.concatenate(([0], np.cumsum(handcrafted_lengths)[:-1]))
            hand_positions = row_starts[rows] + 1 + ngram_lengths[rows] + (np.arange(rows.size) - firsts[rows])
            data[hand_positions] = handcrafted[rows, columns]
            indices[hand_positions] = 1 + n_ngrams + columns
        if ngrams is not None:
            # The n-gram values fill every slot that is neither a bias feature nor a hand-written
            # feature, in order. A mask of those slots costs less memory than an index per value.
            is_ngram = np.ones(data.size, dtype=bool)
            is_ngram[row_starts] = False
            if hand_positions is not None:
                is_ngram[hand_positions] = False
            data[is_ngram] = ngrams.data
            indices[is_ngram] = ngrams.indices + 1
        return CSRMatrix(data, indices, indptr, (n_documents, self.n_features))

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Return the learned state (everything but the settings) as plain arrays."""
        if self.ngrams is not None:
            arrays = self.ngrams.to_arrays()
        else:
            arrays = {"vocabulary_bytes": np.zeros(0, dtype=np.uint8), "vocabulary_offsets": np.zeros(1, dtype=np.int64)}
        if self.stop_words:
            arrays["stop_words_bytes"], arrays["stop_words_offsets"] = strings_to_arrays(self.stop_words)
        if self.handcrafted.n_features:
            arrays["handcrafted_features"] = json_to_array(self.handcrafted.to_json())
        if self.idf is not None:
            arrays["idf"] = self.idf
        if self.hashing:
            arrays["hash_scheme"] = np.array(self.hash_scheme)
        return arrays

    def fingerprint(self) -> str:
        """Return a SHA-256 of the settings and the learned state.

        Two featurizers with the same fingerprint give the same columns, so a
        model may only read features whose fingerprint equals its own. The
        paths of the stop-word and word-list files are left out and their
        stored contents are hashed instead, so moving a file changes nothing.
        """
        settings = dataclasses.asdict(self.settings)
        settings["stop_words"] = None
        if settings["word_lists"]:
            settings["word_lists"] = [{k: v for k, v in entry.items() if k != "file"} for entry in settings["word_lists"]]
        digest = hashlib.sha256()
        digest.update(json.dumps(settings, sort_keys=True).encode())
        for name, array in sorted(self._state_arrays().items()):
            digest.update(name.encode() + b"\0")
            digest.update(str(array.dtype).encode() + str(array.shape).encode())
            digest.update(str(array[()]).encode() if array.dtype.kind == "U" else np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return plain arrays that describe this featurizer completely (no pickle needed)."""
        return {
            "featurizer_settings": json_to_array(dataclasses.asdict(self.settings)),
            **self._state_arrays(),
            "featurizer_fingerprint": np.array(self.fingerprint()),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], *, source: str) -> Featurizer:
        """Rebuild a featurizer written by :meth:`to_arrays`.

        Raises
        ------
        ModelFileError
            When the settings or the stored state are invalid.
        """
        try:
            settings = FeaturizerConfig(**array_to_json(arrays["featurizer_settings"]))
            featurizer = cls(settings)
        except (TypeError, ValueError, ConfigError) as error:
            raise ModelFileError(f"{source}: invalid featurizer settings ({error})") from None
        if settings.bag_of_words and not featurizer.hashing:
            featurizer.ngrams = NgramVocabulary.from_arrays(arrays, settings, source=source)
        if featurizer.hashing:
            # Files written before the bytes scheme name none, and hashed their tokens with BLAKE2b.
            scheme = str(arrays["hash_scheme"][()]) if "hash_scheme" in arrays else "blake2b"
            if scheme not in HASH_SCHEMES:
                raise ModelFileError(f"{source}: unknown hash_scheme {scheme!r} (this logreg-cli supports "
                                     f"{', '.join(HASH_SCHEMES)}); upgrade logreg-cli or train the model again")
            featurizer.hash_scheme = scheme
        if "stop_words_bytes" in arrays:
            featurizer.stop_words = arrays_to_strings(arrays["stop_words_bytes"], arrays["stop_words_offsets"])
        elif settings.stop_words is not None:
            raise ModelFileError(f"{source}: featurizer.stop_words is set but the file contains no stop words; the file is damaged")
        if "handcrafted_features" in arrays:
            featurizer.handcrafted = HandcraftedFeatures.from_json(array_to_json(arrays["handcrafted_features"]), source=source)
        elif settings.word_lists or settings.regexes or settings.document_length != "none":
            raise ModelFileError(f"{source}: the settings declare hand-written features but the file contains none; the file is damaged")
        featurizer.idf = np.asarray(arrays["idf"], dtype=np.float64) if "idf" in arrays else None
        if settings.values == "tfidf" and settings.bag_of_words and featurizer.idf is None:
            raise ModelFileError(f"{source}: values are tfidf but the idf array is missing; write the file again")
        if featurizer.idf is not None and featurizer.idf.shape != (featurizer.n_features,):
            raise ModelFileError(f"{source}: the idf array has shape {featurizer.idf.shape} but there are "
                                 f"{featurizer.n_features} features; the file is damaged")
        featurizer.fitted = True
        return featurizer

