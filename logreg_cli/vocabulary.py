"""The learned vocabulary of word and character n-grams, and its pruning.

Word n-grams are never joined into strings while counting. Every token gets
an integer id, and the n-gram that starts at position i gets the key
``prefix_id * n_tokens + id[i + n - 1]``, where ``prefix_id`` is the id of the
(n - 1)-gram at position i. Sorting keys with NumPy then gives distinct
n-grams, their counts and their document frequencies. Because token ids follow
the code point order of the tokens, the ids of the n-grams of one length
follow the order of their token tuples, which is the tie order of the columns.

Columns are sorted by descending number of occurrences in the training
corpus. Ties put word n-grams before character n-grams. Tied word n-grams
follow the code point order of their token tuples, where a shorter n-gram
comes before the longer ones it starts. Tied character n-grams follow code
point order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from logreg_cli.bytetokens import hash_tokens
from logreg_cli.config import FeaturizerConfig
from logreg_cli.errors import DataError, ModelFileError
from logreg_cli.hashtable import IdTable, scramble
from logreg_cli.io import arrays_to_strings, strings_to_arrays
from logreg_cli.ngrams import (
    KeyPairs,
    TokenStream,
    char_ngram_table,
    count_entries,
    count_pairs,
    csr_from_pairs,
    expand_rows,
    ngram_starts,
    sorted_unique,
    sum_entries,
)
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix

logger = logging.getLogger(__name__)

WORD, CHAR = 0, 1


@dataclass
class NgramVocabulary:
    """Word and character n-grams and the column of each.

    Attributes
    ----------
    tokens : list of str
        Every token that occurs in a word n-gram of the vocabulary. With
        unigrams only and no character n-grams, ``tokens[j]`` is column ``j``.
    ngrams : ndarray, shape (n_word_features, ngram_max)
        Indices into ``tokens`` of each word n-gram, padded with -1 at the end.
    word_columns : ndarray, shape (n_word_features,)
        Column of each word n-gram, counted from 0 (the bias feature is not
        part of this numbering).
    char_ngrams : list of str
        Character n-grams, spaces included.
    char_columns : ndarray, shape (n_char_features,)
        Column of each character n-gram.
    char_range : (int, int) or None
        Lengths of the character n-grams.
    """

    tokens: list[str]
    ngrams: np.ndarray
    word_columns: np.ndarray
    char_ngrams: list[str] = field(default_factory=list)
    char_columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=INDEX_DTYPE))
    char_range: tuple[int, int] | None = None
    _tables: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def n_columns(self) -> int:
        return int(self.word_columns.size + self.char_columns.size)

    @property
    def ngram_max(self) -> int:
        return int(self.ngrams.shape[1])

    def feature_names(self) -> list[str]:
        """Return the name of every column: tokens joined by spaces, and ``char[...]`` for character n-grams."""
        names = [""] * self.n_columns
        for row, column in zip(self.ngrams.tolist(), self.word_columns.tolist()):
            names[column] = " ".join(self.tokens[index] for index in row if index >= 0)
        for gram, column in zip(self.char_ngrams, self.char_columns.tolist()):
            names[column] = f"char[{gram}]"
        return names

    def count_matrix(self, stream: TokenStream) -> CSRMatrix:
        """Count the n-grams of every document, shape ``(n_documents, n_columns)``.

        N-grams outside the vocabulary are ignored.
        """
        tables = self._lookup_tables()
        token_ids = np.fromiter(map(tables["token_index"].get, stream.tokens, repeat(-1)),
                                dtype=INDEX_DTYPE, count=len(stream.tokens))[stream.ids]
        rows, columns = self._word_entries(token_ids, stream.rows)
        extra = None
        if self.char_range is not None:
            char_index = tables["char_index"]
            char_table = char_ngram_table(stream.tokens, *self.char_range, lambda gram: char_index.get(gram, -1))
            extra = _char_entries(stream, char_table, self.n_columns)
        return count_entries(rows, columns, extra, stream.n_documents, self.n_columns)

    def count_token_ids(self, token_ids: np.ndarray, rows: np.ndarray, n_documents: int) -> CSRMatrix:
        """Count the word n-grams of documents given as indices into ``tokens`` (-1 for other tokens).

        ``rows`` is the document of each position, non-decreasing. Only for
        vocabularies without character n-grams.
        """
        assert self.char_range is None
        entry_rows, columns = self._word_entries(token_ids, rows)
        return count_entries(entry_rows, columns, None, n_documents, self.n_columns)

    def _word_entries(self, token_ids: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the (row, column) of every word n-gram occurrence that is in the vocabulary."""
        tables = self._lookup_tables()
        n_tokens = max(len(self.tokens), 1)
        # Every known position gets the column of its n-gram by table lookups, without sorting by n-gram.
        starts = np.flatnonzero(token_ids >= 0)
        columns = tables["unigram_columns"][token_ids[starts]]
        found_rows = [rows[starts[columns >= 0]]]
        found_columns = [columns[columns >= 0]]
        level_ids = token_ids
        for n, table, level_columns in zip(range(2, self.ngram_max + 1), tables["prefix_tables"], tables["level_columns"]):
            if table.size == 0:
                break  # no vocabulary n-gram is this long
            # The n-gram at a start is known when its (n - 1)-token prefix and its last token are known.
            starts = ngram_starts(rows, starts, n)
            last = token_ids[starts + (n - 1)]
            starts, last = starts[last >= 0], last[last >= 0]
            slots = table.lookup(scramble(level_ids[starts] * n_tokens + last))
            starts, slots = starts[slots >= 0], slots[slots >= 0]
            columns = level_columns[slots]
            found_rows.append(rows[starts[columns >= 0]])
            found_columns.append(columns[columns >= 0])
            if n < self.ngram_max:
                level_ids = np.full(token_ids.size, -1, dtype=INDEX_DTYPE)
                level_ids[starts] = slots
        return np.concatenate(found_rows), np.concatenate(found_columns)

    def token_ids_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Return the index into ``tokens`` of each token hash of ``bytetokens``, or -1 for other tokens."""
        tables = self._lookup_tables()
        if "token_hashes" not in tables:
            tables["token_hashes"] = IdTable.of(hash_tokens(self.tokens))
        return tables["token_hashes"].lookup(hashes)

    def prepare_lookups(self, *, with_token_hashes: bool = False) -> None:
        """Build the lookup tables of the counting methods now, so that threads can share them."""
        self._lookup_tables()
        if with_token_hashes:
            self.token_ids_of_hashes(np.zeros(0, dtype=np.uint64))

    def _lookup_tables(self) -> dict:
        """Build (once) the arrays that map token ids and n-gram prefixes to columns."""
        if self._tables is not None:
            return self._tables
        n_tokens = max(len(self.tokens), 1)
        lengths = (self.ngrams >= 0).sum(axis=1)
        unigram_columns = np.full(n_tokens, -1, dtype=INDEX_DTYPE)
        unigrams = lengths == 1
        unigram_columns[self.ngrams[unigrams, 0]] = self.word_columns[unigrams]
        # Level n maps the key of every n-token prefix of a vocabulary n-gram to its index among the
        # sorted keys, so that a prefix that is not itself a feature still leads to the longer n-grams.
        prefixes, level_columns = [], []
        prefix_ids = self.ngrams[:, 0].copy()
        for n in range(2, self.ngram_max + 1):
            longer = lengths >= n
            keys = prefix_ids[longer] * n_tokens + self.ngrams[longer, n - 1]
            if n == self.ngram_max:
                # The longest n-grams are distinct, so their keys need no sorting.
                prefixes.append(IdTable.of(scramble(keys)))
                level_columns.append(self.word_columns[longer])
                break
            table = sorted_unique(keys)
            next_ids = np.full(lengths.size, -1, dtype=INDEX_DTYPE)
            next_ids[longer] = np.searchsorted(table, keys)
            columns = np.full(table.size, -1, dtype=INDEX_DTYPE)
            ends = lengths == n
            columns[next_ids[ends]] = self.word_columns[ends]
            prefixes.append(IdTable.of(scramble(table)))
            level_columns.append(columns)
            prefix_ids = next_ids
        self._tables = {
            "token_index": dict(zip(self.tokens, range(len(self.tokens)))),
            "unigram_columns": unigram_columns,
            "prefix_tables": prefixes,
            "level_columns": level_columns,
            "char_index": dict(zip(self.char_ngrams, self.char_columns.tolist())),
        }
        return self._tables

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return plain arrays that describe the vocabulary.

        With unigrams only and no character n-grams this is just
        ``vocabulary_bytes`` and ``vocabulary_offsets``, the tokens in column order.
        """
        blob, offsets = strings_to_arrays(self.tokens)
        arrays = {"vocabulary_bytes": blob, "vocabulary_offsets": offsets}
        if self.ngram_max > 1:
            arrays["vocabulary_ngrams"] = self.ngrams
        if self.char_range is not None:
            char_blob, char_offsets = strings_to_arrays(self.char_ngrams)
            arrays.update({
                "vocabulary_word_columns": self.word_columns,
                "char_vocabulary_bytes": char_blob,
                "char_vocabulary_offsets": char_offsets,
                "char_vocabulary_columns": self.char_columns,
            })
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: FeaturizerConfig, *, source: str) -> NgramVocabulary:
        """Rebuild a vocabulary written by :meth:`to_arrays`.

        Raises
        ------
        ModelFileError
            When the arrays do not describe a consistent vocabulary.
        """
        tokens = arrays_to_strings(arrays["vocabulary_bytes"], arrays["vocabulary_offsets"])
        n_tokens = len(tokens)
        ngram_max = max(settings.ngram_max, 1)
        if "vocabulary_ngrams" in arrays:
            ngrams = np.asarray(arrays["vocabulary_ngrams"], dtype=INDEX_DTYPE)
        elif settings.ngram_max == 0:
            ngrams = np.zeros((0, 1), dtype=INDEX_DTYPE)
        else:
            ngrams = np.arange(n_tokens, dtype=INDEX_DTYPE)[:, None]
        if ngrams.ndim != 2 or ngrams.shape[1] != ngram_max or (ngrams.size and (ngrams.max() >= n_tokens or ngrams[:, 0].min() < 0)):
            raise ModelFileError(f"{source}: the word n-grams of the vocabulary do not match featurizer.ngram_max={settings.ngram_max} "
                                 f"and its {n_tokens} tokens; the file is damaged")
        n_word = ngrams.shape[0]
        word_columns = np.asarray(arrays.get("vocabulary_word_columns", np.arange(n_word)), dtype=INDEX_DTYPE)
        char_range = None
        char_grams: list[str] = []
        char_columns = np.zeros(0, dtype=INDEX_DTYPE)
        if settings.char_ngrams is not None:
            if "char_vocabulary_bytes" not in arrays or "char_vocabulary_columns" not in arrays:
                raise ModelFileError(f"{source}: featurizer.char_ngrams is set but the file contains no character n-grams; the file is damaged")
            char_range = (int(settings.char_ngrams[0]), int(settings.char_ngrams[1]))
            char_grams = arrays_to_strings(arrays["char_vocabulary_bytes"], arrays["char_vocabulary_offsets"])
            char_columns = np.asarray(arrays["char_vocabulary_columns"], dtype=INDEX_DTYPE)
        columns = np.concatenate([word_columns, char_columns])
        if (word_columns.size != n_word or char_columns.size != len(char_grams)
                or not np.array_equal(np.sort(columns), np.arange(columns.size))):
            raise ModelFileError(f"{source}: the vocabulary columns are not a permutation of 0..{columns.size - 1}; the file is damaged")
        return cls(tokens, ngrams, word_columns, char_grams, char_columns, char_range)


def _char_entries(stream: TokenStream, table: tuple[np.ndarray, np.ndarray],
                  n_values: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the character n-gram counts ``(rows, ids, counts)`` of every document.

    ``table`` maps each token of ``stream.tokens`` to its n-gram ids (below
    ``n_values``) in CSR layout. The entries are sorted by row, then id.
    """
    pieces = []
    for first_document, _, chunk in stream.chunks():
        pair_rows, pair_ids, pair_counts = chunk.document_token_counts()
        rows, ids, weights = expand_rows(pair_rows, pair_ids, pair_counts, *table)
        rows, ids, values = sum_entries(rows, ids, weights, chunk.n_documents, max(n_values, 1))
        pieces.append((rows + first_document, ids, values))
    if not pieces:
        empty = np.zeros(0, dtype=INDEX_DTYPE)
        return empty, empty, np.zeros(0)
    return tuple(np.concatenate(parts) for parts in zip(*pieces))


@dataclass
class _Candidates:
    """Distinct n-grams of one kind and length found in the training corpus."""

    kind: int
    totals: np.ndarray  # occurrences in the corpus
    df: np.ndarray  # number of documents that contain the n-gram
    # Word n-grams: keys (token ids for unigrams, else prefix id * n_tokens + last token id)
    # with their (key, document) counts.
    pairs: KeyPairs | None = None
    # Character n-grams: the count of each (document, n-gram) pair, sorted by document.
    entries: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def fit_vocabulary(stream: TokenStream, settings: FeaturizerConfig, *, source: str,
                   with_counts: bool) -> tuple[NgramVocabulary, CSRMatrix | None]:
    """Learn the n-gram vocabulary of a training corpus.

    Parameters
    ----------
    stream : TokenStream
        Tokens of the training documents, stop words already removed.
    settings : FeaturizerConfig
        Uses ngram_max, char_ngrams, min_count, min_df, max_df and max_features.
    source : str
        Name of the training corpus, for messages.
    with_counts : bool
        Also return the count matrix of the training documents, which costs
        less here than through :meth:`NgramVocabulary.count_matrix` later.

    Returns
    -------
    vocabulary : NgramVocabulary
    counts : CSRMatrix, shape (n_documents, vocabulary.n_columns), or None

    Raises
    ------
    DataError
        When no n-gram survives pruning; the message names the setting to change.
    """
    candidates: list[_Candidates] = []
    if settings.ngram_max >= 1:
        candidates.extend(_word_candidates(stream, settings.ngram_max))
    char_grams: list[str] = []
    if settings.char_ngrams is not None:
        char_candidates, char_grams = _char_candidates(stream, settings.char_ngrams)
        candidates.append(char_candidates)

    totals = np.concatenate([c.totals for c in candidates])
    df = np.concatenate([c.df for c in candidates])
    offsets = np.cumsum([0] + [c.totals.size for c in candidates])
    kinds = np.concatenate([np.full(c.totals.size, c.kind, dtype=np.int8) for c in candidates])
    kept = _prune(totals, df, stream.n_documents, settings, source)

    # Sort the kept candidates: descending count, then kind, then the tie rank within the kind.
    width = max(settings.ngram_max, 1)
    word_levels = [c for c in candidates if c.kind == WORD]
    word_kept = kept[kinds[kept] == WORD]
    tuples = _word_tuples(word_levels, word_kept, offsets, len(stream.tokens), width)
    rank = np.zeros(totals.size, dtype=INDEX_DTYPE)
    # Tuple order, with the -1 padding putting a prefix before the longer n-grams it starts.
    rank[word_kept[np.lexsort(tuples.T[::-1])]] = np.arange(word_kept.size)
    if settings.char_ngrams is not None:
        rank[offsets[-2]:] = np.arange(len(char_grams))
    ranked = kept[np.lexsort((rank[kept], kinds[kept], -totals[kept]))]
    if settings.max_features is not None:
        ranked = ranked[: settings.max_features]
    column_of = np.full(totals.size, -1, dtype=INDEX_DTYPE)
    column_of[ranked] = np.arange(ranked.size)

    # Word n-grams in column order, their tokens renumbered by first appearance.
    word_ranked = ranked[kinds[ranked] == WORD]
    position = np.full(totals.size, -1, dtype=INDEX_DTYPE)
    position[word_kept] = np.arange(word_kept.size)
    ngrams = tuples[position[word_ranked]]
    distinct, first = np.unique(ngrams[ngrams >= 0], return_index=True)
    token_order = distinct[np.argsort(first)]
    renumber = np.full(len(stream.tokens), -1, dtype=INDEX_DTYPE)
    renumber[token_order] = np.arange(token_order.size)
    ngrams = np.where(ngrams >= 0, renumber[np.maximum(ngrams, 0)], -1).astype(INDEX_DTYPE)

    char_ranked = ranked[kinds[ranked] == CHAR]
    char_range = None
    if settings.char_ngrams is not None:
        char_range = (int(settings.char_ngrams[0]), int(settings.char_ngrams[1]))
    vocabulary = NgramVocabulary(
        tokens=[stream.tokens[index] for index in token_order.tolist()],
        ngrams=ngrams,
        word_columns=column_of[word_ranked],
        char_ngrams=[char_grams[index] for index in (char_ranked - offsets[-2]).tolist()],
        char_columns=column_of[char_ranked],
        char_range=char_range,
    )
    logger.info("%s: kept %s of %s distinct n-grams as the vocabulary", source, f"{vocabulary.n_columns:,}", f"{totals.size:,}")
    if not with_counts:
        return vocabulary, None
    # The count matrix below is the peak of fitting; the ranking arrays are not needed for it.
    del totals, df, kinds, kept, word_kept, tuples, rank, ranked, position, ngrams, word_ranked, char_ranked

    levels = [(level.pairs, column_of[offsets[index]:offsets[index + 1]]) for index, level in enumerate(word_levels)]
    extra = None
    if settings.char_ngrams is not None:
        rows, ids, values = candidates[-1].entries
        columns = column_of[offsets[-2] + ids]
        extra = (rows[columns >= 0], columns[columns >= 0], values[columns >= 0])
    return vocabulary, csr_from_pairs(levels, extra, stream.n_documents, vocabulary.n_columns)


def _word_candidates(stream: TokenStream, ngram_max: int) -> list[_Candidates]:
    n_documents = stream.n_documents
    n_tokens = max(len(stream.tokens), 1)
    # The prefix id of a bigram is the token id of its first token. Longer n-grams use the
    # key index of their (n - 1)-token prefix, which count_pairs returns per occurrence.
    level_ids = stream.ids
    levels = []
    for n in range(1, ngram_max + 1):
        if n == 1:
            pairs = count_pairs(stream.ids, stream.rows, n_documents)
        else:
            # Rows never decrease, so an n-gram fits in its document when its first and last rows are equal.
            starts = np.flatnonzero(stream.rows[n - 1 :] == stream.rows[: stream.rows.size - (n - 1)])
            keys = level_ids[starts] * n_tokens + stream.ids[starts + (n - 1)]
            pairs = count_pairs(keys, stream.rows[starts], n_documents, with_ids=n < ngram_max)
            if n < ngram_max:
                level_ids = np.full(stream.ids.size, -1, dtype=INDEX_DTYPE)
                level_ids[starts] = pairs.ids
        levels.append(_Candidates(WORD, pairs.totals, pairs.document_frequency, pairs=pairs))
    return levels


def _char_candidates(stream: TokenStream, char_range: list[int]) -> tuple[_Candidates, list[str]]:
    index: dict[str, int] = {}
    indptr, ids = char_ngram_table(stream.tokens, char_range[0], char_range[1],
                                   lambda gram: index.setdefault(gram, len(index)))
    grams = list(index)
    # Renumber the n-grams in code point order, their tie order.
    order = sorted(range(len(grams)), key=grams.__getitem__)
    renumber = np.empty(len(grams), dtype=INDEX_DTYPE)
    renumber[order] = np.arange(len(grams))
    grams = [grams[i] for i in order]
    rows, gram_ids, values = _char_entries(stream, (indptr, renumber[ids]), len(grams))
    totals = np.bincount(gram_ids, weights=values, minlength=len(grams)).astype(INDEX_DTYPE)
    df = np.bincount(gram_ids, minlength=len(grams))
    return _Candidates(CHAR, totals, df, entries=(rows, gram_ids, values)), grams


def _word_tuples(levels: list[_Candidates], selected: np.ndarray, offsets: np.ndarray, n_tokens: int,
                 width: int) -> np.ndarray:
    """Return the token ids of the selected word candidates, shape ``(selected.size, width)``, -1 padded."""
    tuples = np.full((selected.size, width), -1, dtype=INDEX_DTYPE)
    for length in range(1, len(levels) + 1):
        inside = np.flatnonzero((selected >= offsets[length - 1]) & (selected < offsets[length]))
        ids = selected[inside] - offsets[length - 1]
        # Walk from the last token back. A key combines the prefix id and the last token id,
        # and the prefix id of a bigram is already a token id.
        for position in range(length - 1, 0, -1):
            ids, tuples[inside, position] = np.divmod(levels[position].pairs.keys[ids], n_tokens)
        tuples[inside, 0] = levels[0].pairs.keys[ids] if length == 1 else ids
    return tuples


def _prune(totals: np.ndarray, df: np.ndarray, n_documents: int, settings: FeaturizerConfig, source: str) -> np.ndarray:
    """Return the indices of the candidates that pass min_count, min_df and max_df."""
    if not totals.any():
        raise DataError(
            f"{source}: no features left after tokenizing {n_documents} documents (no token was found); "
            "check featurizer.token_pattern, featurizer.stop_words and the text column"
        )
    # The thresholds of scikit-learn: an integer min_df is a number of documents, a float a fraction.
    min_documents = settings.min_df if isinstance(settings.min_df, int) else settings.min_df * n_documents
    max_documents = settings.max_df * n_documents
    steps = (
        (totals >= settings.min_count,
         f"no n-gram occurs at least min_count={settings.min_count} times", "lower featurizer.min_count"),
        (df >= min_documents,
         f"no n-gram is in at least min_df={settings.min_df} documents", "lower featurizer.min_df"),
        (df <= max_documents,
         f"every n-gram is in more than max_df={settings.max_df} of the documents", "raise featurizer.max_df"),
    )
    mask = np.ones(totals.size, dtype=bool)
    for passed, reason, fix in steps:
        mask &= passed
        if not mask.any():
            raise DataError(
                f"{source}: no features left after tokenizing {n_documents} documents ({reason}); "
                f"{fix}, or check featurizer.token_pattern and the text column"
            )
    return np.flatnonzero(mask)
