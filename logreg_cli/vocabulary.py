"""The learned vocabulary of word and character n-grams, and its pruning.

Word n-grams are never joined into strings while counting. The documents are
counted a group at a time (:func:`count_chunk_ngrams`, on several threads):
every token has a 64-bit hash, and the n-gram that starts at a position gets
a hash mixed from its (n - 1)-token prefix's hash and its last token's hash.
Numbering the hashes of a group (``hashtable.factorize``) gives its distinct
n-grams and their counts, and one sort of (n-gram, document) pairs their
document frequencies. :class:`WordCandidates` merges the groups in
tables of hashes (``hashtable.py``) and keeps the token ids of each n-gram,
so the token arrays of the whole corpus never exist at once. For word
bigrams of IMDb's training and test files together (50,000 reviews), that
lowered the peak memory of ``fit_transform`` from 1.4 GB to 1.0 GB, and for
three copies of them from 3.2 GB to 1.6 GB (35 s to 22 s), with the same
matrix (2 cores, ``benchmarks/bench.py`` machine in docs/benchmarks.md).

Columns are sorted by descending number of occurrences in the training
corpus. Ties put word n-grams before character n-grams. Tied word n-grams
follow the code point order of their token tuples, where a shorter n-gram
comes before the longer ones it starts. Tied character n-grams follow code
point order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from logreg_cli.bytetokens import HashedTokens, hash_tokens
from logreg_cli.config import FeaturizerConfig
from logreg_cli.errors import DataError, ModelFileError
from logreg_cli.hashtable import IdTable, factorize, scramble
from logreg_cli.io import arrays_to_strings, strings_to_arrays
from logreg_cli.ngrams import (
    TokenStream,
    char_ngram_table,
    count_entries,
    expand_rows,
    first_of_runs,
    ngram_starts,
    sorted_unique,
    sum_entries,
)
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix

logger = logging.getLogger(__name__)

WORD, CHAR = 0, 1
# Rows whose digits fit in this many bits are sorted as one int64 key each (see _order_of_rows).
ONE_KEY_BITS = 63


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
        token_ids = self.token_ids_of(stream.tokens)[stream.ids]
        rows, columns = self._word_entries(token_ids, stream.rows)
        extra = None
        if self.char_range is not None:
            char_index = tables["char_index"]
            char_table = char_ngram_table(stream.tokens, *self.char_range, lambda gram: char_index.get(gram, -1))
            extra = _char_entries(stream, char_table, self.n_columns)
        return count_entries(rows, columns, extra, stream.n_documents, self.n_columns)

    def token_ids_of(self, strings: Sequence[str]) -> np.ndarray:
        """Return the index into ``self.tokens`` of each string, or -1 for a string outside the vocabulary."""
        index = self._lookup_tables()["token_index"]
        return np.fromiter(map(index.get, strings, repeat(-1)), dtype=INDEX_DTYPE, count=len(strings))

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
class ChunkNgrams:
    """The distinct word n-grams of a group of documents, counted by :func:`count_chunk_ngrams`.

    Entry ``n - 1`` of each list is about the n-grams of n tokens.

    Attributes
    ----------
    keys : list of ndarray of uint64
        The distinct n-gram hashes, in order of first appearance. The hash of a unigram is its token hash.
    totals, df : list of ndarray
        Occurrences of each n-gram, and the number of documents that contain it.
    firsts : list of ndarray
        Index into ``hashes`` of the first token of each n-gram's first occurrence.
    hashes : ndarray of uint64
        Token hashes of the group, stop words removed.
    lengths : ndarray
        Number of tokens of each document, stop words included.
    tokens : HashedTokens
        The first occurrence of each distinct token, in the order of ``keys[0]``, to decode.
    """

    keys: list[np.ndarray]
    totals: list[np.ndarray]
    df: list[np.ndarray]
    firsts: list[np.ndarray]
    hashes: np.ndarray
    lengths: np.ndarray
    tokens: HashedTokens | None = None


# Odd multiplier that combines the hash of an n-gram's prefix with its last token's hash.
_EXTEND = np.uint64(0x9E3779B97F4A7C15)


def count_chunk_ngrams(chunk: HashedTokens, ngram_max: int, dropped: np.ndarray | None = None) -> ChunkNgrams:
    """Count the word n-grams of one group of documents, without their strings.

    ``dropped`` contains the hashes of stop words, which are removed before the
    n-grams are formed. An n-gram's hash mixes its prefix's hash with its last
    token's hash, so n-grams of every length are counted alike.

    NOTE: two n-grams of the same length with the same 64-bit hash would be
    counted as one, as two tokens would be (see ``bytetokens.py``). For a
    few million distinct n-grams the chance is below 1e-6 (the birthday bound).
    """
    hashes = chunk.hashes
    rows = np.repeat(np.arange(chunk.lengths.size, dtype=INDEX_DTYPE), chunk.lengths)
    positions = None
    if dropped is not None and dropped.size:
        positions = np.flatnonzero(~np.isin(hashes, dropped))
        hashes, rows = hashes[positions], rows[positions]
    row_bits = max(chunk.lengths.size - 1, 0).bit_length()
    starts = np.arange(hashes.size, dtype=INDEX_DTYPE)
    keys = hashes
    counted = ChunkNgrams([], [], [], [], hashes, chunk.lengths)
    for n in range(1, ngram_max + 1):
        if n > 1:
            # An n-gram fits where its last token lies in the same document as its first.
            ends = starts + (n - 1)
            fits = ends < hashes.size
            fits[fits] = rows[ends[fits]] == rows[starts[fits]]
            starts = starts[fits]
            keys = keys[fits] * _EXTEND
            keys ^= hashes[starts + (n - 1)]
            keys = scramble(keys)
        for values, part in zip(_distinct_ngrams(keys, rows[starts], starts, row_bits),
                                (counted.keys, counted.totals, counted.df, counted.firsts)):
            part.append(values)
    if ngram_max >= 1:
        # Keep only the tokens that may need decoding, not the positions of every token.
        firsts = counted.firsts[0]
        counted.tokens = chunk.take(firsts if positions is None else positions[firsts])
    return counted


def _distinct_ngrams(keys: np.ndarray, rows: np.ndarray, starts: np.ndarray,
                     row_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the distinct keys in order of first appearance, their totals, document frequencies and first starts."""
    ids, firsts = factorize(keys)
    # Each occurrence's n-gram number packed with its document: distinct packed values are the distinct
    # (n-gram, document) pairs.
    pairs = ids << row_bits
    pairs |= rows
    if (firsts.size - 1).bit_length() + row_bits <= 32:
        pairs = pairs.astype(np.uint32)  # 32-bit keys sort faster
    pairs.sort()
    # A group contains fewer than 2**31 tokens, so int32 halves the memory of the results waiting to be merged.
    df = np.bincount(pairs[first_of_runs(pairs)] >> row_bits, minlength=firsts.size).astype(np.int32)
    totals = np.bincount(ids, minlength=firsts.size).astype(np.int32)
    return keys[firsts], totals, df, starts[firsts].astype(np.int32)


class WordCandidates:
    """The distinct word n-grams of a corpus, merged from the counts of its groups of documents.

    Token ids and n-gram ids follow the order of first appearance, and
    unigram ids are token ids. With ``keep_token_ids`` (only without stop words),
    ``token_ids`` keeps ``(ids, lengths)`` of every group: the token id of
    each position (int32) and the number of tokens of each document, so
    that the documents can be featurized without tokenizing them again.
    """

    def __init__(self, ngram_max: int, *, keep_token_ids: bool = False) -> None:
        self.ngram_max = ngram_max
        self.tokens: list[str] = []
        self.keep_token_ids = keep_token_ids
        self.token_ids: list[tuple[np.ndarray, np.ndarray]] = []
        self._tables = [IdTable() for _ in range(ngram_max)]
        self._totals = [np.zeros(0, dtype=INDEX_DTYPE) for _ in range(ngram_max)]
        self._df = [np.zeros(0, dtype=INDEX_DTYPE) for _ in range(ngram_max)]
        self._tuples = [np.zeros((0, n), dtype=INDEX_DTYPE) for n in range(1, ngram_max + 1)]

    def add(self, counted: ChunkNgrams) -> None:
        """Merge the n-grams of one group of documents."""
        token_table = self._tables[0]
        for index, (keys, totals, df, firsts) in enumerate(zip(counted.keys, counted.totals, counted.df, counted.firsts)):
            table = self._tables[index]
            ids = table.lookup(keys)
            new = np.flatnonzero(ids < 0)
            # New n-grams get their ids in hash order, so that IdTable.insert finds their slots without a sort.
            new = new[np.argsort(keys[new])]
            if new.size:
                size = table.size
                if index == 0:
                    self.tokens.extend(counted.tokens.decode(new))
                else:
                    # Every token of the group is in the token table already.
                    spots = firsts[new][:, None] + np.arange(index + 1)
                    new_tuples = token_table.lookup(counted.hashes[spots].ravel()).reshape(spots.shape)
                    self._tuples[index] = _with_rows(self._tuples[index], size, new_tuples)
                table.insert(keys[new])
                ids[new] = np.arange(size, size + new.size)
                self._totals[index] = _with_rows(self._totals[index], size, np.zeros(new.size, dtype=INDEX_DTYPE))
                self._df[index] = _with_rows(self._df[index], size, np.zeros(new.size, dtype=INDEX_DTYPE))
            self._totals[index][ids] += totals
            self._df[index][ids] += df
        if self.keep_token_ids:
            self.token_ids.append((token_table.lookup(counted.hashes).astype(np.int32), counted.lengths))

    def take_levels(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Return the totals, document frequencies and token ids of the n-grams of each length, and free the hash tables.

        Entry ``n - 1`` is about the n-grams of n tokens, whose token ids have
        shape ``(count, n)``. No group can be added afterwards.
        """
        levels = []
        for n, table in enumerate(self._tables, start=1):
            size = table.size
            tuples = np.arange(size, dtype=INDEX_DTYPE)[:, None] if n == 1 else self._tuples[n - 1][:size]
            levels.append((self._totals[n - 1][:size], self._df[n - 1][:size], tuples))
        self._tables = []  # the tables take most of the memory, and only add needs them
        return levels


def _with_rows(array: np.ndarray, size: int, rows: np.ndarray) -> np.ndarray:
    """Put ``rows`` after the first ``size`` rows of ``array``, growing it by doubling when full."""
    needed = size + rows.shape[0]
    if needed > array.shape[0]:
        grown = np.zeros((max(needed, 2 * array.shape[0]),) + array.shape[1:], dtype=array.dtype)
        grown[:size] = array[:size]
        array = grown
    array[size:needed] = rows
    return array


def fit_vocabulary(words: WordCandidates | None, char_stream: TokenStream | None, settings: FeaturizerConfig, *,
                   n_documents: int, source: str) -> tuple[NgramVocabulary, np.ndarray]:
    """Learn the n-gram vocabulary of a training corpus.

    Parameters
    ----------
    words : WordCandidates or None
        The word n-grams of the training documents, when ``settings.ngram_max >= 1``.
    char_stream : TokenStream or None
        Tokens of the training documents, stop words removed, when ``settings.char_ngrams`` is set.
    settings : FeaturizerConfig
        Uses ngram_max, char_ngrams, min_count, min_df, max_df and max_features.
    n_documents : int
        Number of training documents.
    source : str
        Name of the training corpus, for messages.

    Returns
    -------
    vocabulary : NgramVocabulary
    document_frequency : ndarray, shape (vocabulary.n_columns,)
        Number of training documents that contain each column's n-gram.

    Raises
    ------
    DataError
        When no n-gram survives pruning; the message names the setting to change.
    """
    width = max(settings.ngram_max, 1)
    levels = words.take_levels() if words is not None else []
    # Token ids in code point order: the tie order of word n-grams.
    names = words.tokens if words is not None else []
    order = sorted(range(len(names)), key=names.__getitem__)
    code_point_rank = np.empty(len(order), dtype=INDEX_DTYPE)
    code_point_rank[order] = np.arange(len(order), dtype=INDEX_DTYPE)
    char_grams: list[str] = []
    char_counts = []
    if char_stream is not None:
        char_grams, char_totals, char_df = _char_candidates(char_stream, settings.char_ngrams)
        char_counts = [(char_totals, char_df)]

    counts = [(totals, df) for totals, df, _ in levels] + char_counts
    totals = np.concatenate([c[0] for c in counts]) if counts else np.zeros(0, dtype=INDEX_DTYPE)
    df = np.concatenate([c[1] for c in counts]) if counts else np.zeros(0, dtype=INDEX_DTYPE)
    offsets = np.cumsum([0] + [c[0].size for c in counts])
    kinds = np.concatenate([np.full(c[0].size, kind, dtype=np.int8)
                            for c, kind in zip(counts, [WORD] * len(levels) + [CHAR] * len(char_counts))])
    kept = _prune(totals, df, n_documents, settings, source)

    # Sort the kept candidates: descending count, then kind, then the tie rank within the kind.
    word_kept = kept[kinds[kept] == WORD]
    # int32 halves these arrays and the ones made from them, because fresh memory is costly to touch
    # (docs/benchmarks.md).
    tuples = np.full((word_kept.size, width), -1, dtype=np.int32)
    for n, (_, _, level_tuples) in enumerate(levels, start=1):
        # word_kept is sorted, so the kept n-grams of each length are one slice of it.
        low, high = np.searchsorted(word_kept, offsets[n - 1 : n + 1])
        ids = word_kept[low:high] - offsets[n - 1]
        for position in range(n):
            tuples[low:high, position] = code_point_rank[level_tuples[ids, position]]
    del levels
    max_total = int(totals.max())
    bound = len(names) + 1
    # Tuple digits: the -1 padding becomes 0, so a prefix sorts before the longer n-grams it starts.
    digits = [column + 1 for column in tuples.T]
    if not char_counts:
        # Word n-grams alone: descending count, then tuple order, in one sort.
        word_order = _order_of_rows([max_total - totals[word_kept], *digits], [max_total + 1] + [bound] * width)
        if settings.max_features is not None:
            word_order = word_order[: settings.max_features]
        ranked = word_ranked = word_kept[word_order]
    else:
        rank = np.zeros(totals.size, dtype=INDEX_DTYPE)
        rank[word_kept[_order_of_rows(digits, [bound] * width)]] = np.arange(word_kept.size)
        rank[offsets[-2]:] = np.arange(len(char_grams))
        ranked = kept[_order_of_rows([max_total - totals[kept], kinds[kept], rank[kept]], [max_total + 1, 2, rank.size])]
        if settings.max_features is not None:
            ranked = ranked[: settings.max_features]
        word_ranked = ranked[kinds[ranked] == WORD]
        position = np.full(totals.size, -1, dtype=INDEX_DTYPE)
        position[word_kept] = np.arange(word_kept.size)
        word_order = position[word_ranked]
    del digits
    column_of = np.full(totals.size, -1, dtype=INDEX_DTYPE)
    column_of[ranked] = np.arange(ranked.size)

    # Word n-grams in column order, their tokens renumbered by first appearance.
    ngrams = tuples[word_order]
    del tuples
    # Tokens in order of first appearance: scattering the positions backwards leaves the first one of each
    # token. The -1 padding lands in an extra last slot, which is then left out.
    appearances = ngrams.ravel()
    first = np.full(len(names) + 1, -1, dtype=np.int32 if appearances.size < 2**31 else INDEX_DTYPE)
    first[appearances[::-1]] = np.arange(appearances.size - 1, -1, -1, dtype=first.dtype)
    appeared = np.flatnonzero(first[:-1] >= 0)
    token_order = appeared[np.argsort(first[appeared])]
    # The extra last entry maps the -1 padding to itself.
    renumber = np.full(len(names) + 1, -1, dtype=INDEX_DTYPE)
    renumber[token_order] = np.arange(token_order.size)
    ngrams = renumber[ngrams]

    char_ranked = ranked[kinds[ranked] == CHAR]
    char_range = None
    if settings.char_ngrams is not None:
        char_range = (int(settings.char_ngrams[0]), int(settings.char_ngrams[1]))
    vocabulary = NgramVocabulary(
        tokens=[names[order[index]] for index in token_order.tolist()],
        ngrams=ngrams,
        word_columns=column_of[word_ranked],
        char_ngrams=[char_grams[index] for index in (char_ranked - offsets[-2]).tolist()],
        char_columns=column_of[char_ranked],
        char_range=char_range,
    )
    logger.info("%s: kept %s of %s distinct n-grams as the vocabulary", source, f"{vocabulary.n_columns:,}", f"{totals.size:,}")
    return vocabulary, df[ranked]


def _order_of_rows(columns: Sequence[np.ndarray], bounds: Sequence[int]) -> np.ndarray:
    """Return the order that sorts distinct rows lexicographically, given their columns, first column first.

    Column ``j`` contains non-negative integers below ``bounds[j]``. When
    the digits fit in ``ONE_KEY_BITS`` bits, each row becomes one int64 key
    (a number with those digits), and one sort costs less than ``np.lexsort``
    over the columns.
    """
    if sum(max(bound - 1, 1).bit_length() for bound in bounds) > ONE_KEY_BITS:
        return np.lexsort(columns[::-1])
    keys = np.zeros(columns[0].size, dtype=np.int64)
    for column, bound in zip(columns, bounds):
        keys *= bound
        keys += column
    return np.argsort(keys)


def _char_candidates(stream: TokenStream, char_range: list[int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the distinct character n-grams in code point order, with their totals and document frequencies."""
    index: dict[str, int] = {}
    indptr, ids = char_ngram_table(stream.tokens, char_range[0], char_range[1],
                                   lambda gram: index.setdefault(gram, len(index)))
    grams = list(index)
    # Renumber the n-grams in code point order, their tie order.
    order = sorted(range(len(grams)), key=grams.__getitem__)
    renumber = np.empty(len(grams), dtype=INDEX_DTYPE)
    renumber[order] = np.arange(len(grams))
    grams = [grams[i] for i in order]
    _, gram_ids, values = _char_entries(stream, (indptr, renumber[ids]), len(grams))
    totals = np.bincount(gram_ids, weights=values, minlength=len(grams)).astype(INDEX_DTYPE)
    df = np.bincount(gram_ids, minlength=len(grams)).astype(INDEX_DTYPE)
    return grams, totals, df


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
