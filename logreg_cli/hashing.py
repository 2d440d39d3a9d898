"""The hashing trick: n-grams go to columns through a stable hash, with no vocabulary.

Every token gets a 64-bit hash that does not depend on the process or on
PYTHONHASHSEED, unlike Python's ``hash()``. The hash of a word n-gram is
built from the hashes of its tokens with 64-bit multiply-and-mix arithmetic
in NumPy (the SplitMix64 finalizer), so no n-gram string is ever formed.

Two schemes give the token hashes (``HASH_SCHEMES``):

- ``bytes`` (new featurizers): the 64-bit polynomial hash of the token's
  UTF-8 bytes that ``bytetokens.py`` computes for all tokens at once. The
  tokens are then hashed without decoding a single one, as the vocabulary's
  lookups are, and a group of documents is counted with one sort of packed
  keys.
- ``blake2b`` (files written before the ``bytes`` scheme, which store no
  scheme): BLAKE2b with an 8-byte digest of each distinct token's UTF-8
  bytes, so those models keep their columns.

Character n-grams are hashed as strings with BLAKE2b and a personalization
of their own in both schemes, so a character n-gram and a word with the same
letters land in unrelated columns.

Column = the low ``hash_bits`` bits of the 64-bit n-gram hash; the top bit
gives the sign (+1 or -1). Two n-grams that share a column collide: their
counts add up with their signs, so on average collisions cancel instead of
piling up, and a document where they cancel exactly has no value stored in
that column. With 2^k columns and m distinct n-grams about m^2 / 2^(k+1)
pairs collide, so choose k with 2^k well above the number of distinct n-grams.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from logreg_cli.bytetokens import hash_tokens
from logreg_cli.ngrams import TokenStream, char_ngram_table, entries_to_csr, expand_rows, first_of_runs, ngram_starts, run_lengths, sum_entries
from logreg_cli.parallel import sort_keys
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix

HASH_SCHEMES = ("bytes", "blake2b")
# The scheme of new featurizers. A file that names no scheme was written with "blake2b".
HASH_SCHEME = "bytes"

_WORD_PERSON = b"logreg-word"
_CHAR_PERSON = b"logreg-char"
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so multiplying is a bijection on 64-bit integers
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SIGN_SHIFT = np.uint64(63)


def stable_hash(strings: Sequence[str], *, person: bytes = _WORD_PERSON) -> np.ndarray:
    """Return the 64-bit BLAKE2b hash of each string's UTF-8 bytes, shape ``(len(strings),)``, uint64."""
    digests = b"".join(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, person=person).digest()
        for text in strings
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def word_token_hashes(tokens: Sequence[str], scheme: str) -> np.ndarray:
    """Return the 64-bit hash of each token under ``scheme`` (one of ``HASH_SCHEMES``), uint64."""
    if scheme == "blake2b":
        return stable_hash(tokens)
    return hash_tokens(tokens)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: spreads every input bit over all 64 output bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX_1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX_2
    return values ^ (values >> np.uint64(31))


def word_ngram_hashes(position_hashes: np.ndarray, rows: np.ndarray, ngram_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the hash and the row of every word n-gram of 1 to ``ngram_max`` tokens.

    ``position_hashes`` contains the hash of every token position and ``rows``
    its document, non-decreasing. The n-gram at a start mixes the hash of the
    (n - 1)-gram there with the hash of its last token.
    """
    hashes, found_rows = [], []
    level = position_hashes
    starts = np.arange(position_hashes.size, dtype=INDEX_DTYPE)
    for n in range(1, ngram_max + 1):
        if n > 1:
            starts = ngram_starts(rows, starts, n)
            longer = np.zeros(position_hashes.size, dtype=np.uint64)
            longer[starts] = _mix(level[starts] * _MULTIPLIER + position_hashes[starts + (n - 1)])
            level = longer
        hashes.append(level[starts])
        found_rows.append(rows[starts])
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=INDEX_DTYPE)
    return np.concatenate(hashes), np.concatenate(found_rows)


def count_hashed_ngrams(position_hashes: np.ndarray, lengths: np.ndarray, *, hash_bits: int, ngram_max: int) -> CSRMatrix:
    """Sum the signed counts of the word n-grams of some documents in 2^hash_bits columns.

    ``position_hashes`` contains the hash of every token, document after
    document, and ``lengths`` the number of tokens of each document. Each
    occurrence becomes one integer key, its row, column and sign packed
    together, so one sort without weights groups the occurrences of each
    (row, column) by sign. The sort is on 32-bit keys when they fit. The word
    n-grams get the same columns and values as in :func:`hashed_count_matrix`.
    """
    n_rows = lengths.size
    rows = np.repeat(np.arange(n_rows, dtype=INDEX_DTYPE), lengths)
    hashes, rows = word_ngram_hashes(position_hashes, rows, ngram_max)
    del position_hashes
    key_bits = hash_bits + 1
    keys = (hashes & np.uint64((1 << hash_bits) - 1)) << np.uint64(1)
    keys |= hashes >> _SIGN_SHIFT
    del hashes
    keys |= rows.astype(np.uint64) << np.uint64(key_bits)
    del rows
    if max(n_rows - 1, 0).bit_length() + key_bits <= 32:
        keys = keys.astype(np.uint32)
    sort_keys(keys)
    starts = first_of_runs(keys)
    counts = run_lengths(starts, keys.size).astype(np.float64)
    keys = keys[starts].astype(np.uint64)
    counts[(keys & np.uint64(1)).astype(bool)] *= -1.0
    # Entries of one (row, column) are now neighbours: one or two, of opposite signs.
    keys >>= np.uint64(1)
    cells = first_of_runs(keys)
    values = np.add.reduceat(counts, cells) if counts.size else counts
    keys = keys[cells]
    stored = values != 0.0
    keys, values = keys[stored], values[stored]
    columns = (keys & np.uint64((1 << hash_bits) - 1)).astype(INDEX_DTYPE)
    indptr = np.zeros(n_rows + 1, dtype=INDEX_DTYPE)
    np.cumsum(np.bincount((keys >> np.uint64(hash_bits)).astype(INDEX_DTYPE), minlength=n_rows), out=indptr[1:])
    return CSRMatrix(values, columns, indptr, (n_rows, 1 << hash_bits))


def hashed_count_matrix(stream: TokenStream, *, hash_bits: int, ngram_max: int,
                        char_range: tuple[int, int] | None, scheme: str = HASH_SCHEME) -> CSRMatrix:
    """Sum the signed counts of every document's n-grams in 2^hash_bits columns.

    Parameters
    ----------
    stream : TokenStream
        Tokens of the documents, stop words already removed.
    hash_bits : int
        The matrix has ``2 ** hash_bits`` columns.
    ngram_max : int
        Word n-grams of 1 up to this many tokens; 0 for none.
    char_range : (int, int) or None
        Lengths of the character n-grams, or None for none.
    scheme : str
        How tokens are hashed, one of ``HASH_SCHEMES``.

    Returns
    -------
    CSRMatrix, shape (n_documents, 2 ** hash_bits)
        Signed sums; entries that cancel to 0 are not stored.
    """
    if char_range is None:
        # Word n-grams alone: the packed-key count, on the hashes of every position.
        return count_hashed_ngrams(word_token_hashes(stream.tokens, scheme)[stream.ids], stream.lengths,
                                   hash_bits=hash_bits, ngram_max=ngram_max)
    n_columns = 1 << hash_bits
    mask = np.uint64(n_columns - 1)
    token_hashes = word_token_hashes(stream.tokens, scheme)
    grams_of: dict[str, int] = {}
    indptr, ids = char_ngram_table(stream.tokens, char_range[0], char_range[1],
                                   lambda gram: grams_of.setdefault(gram, len(grams_of)))
    char_table = (indptr, stable_hash(list(grams_of), person=_CHAR_PERSON)[ids])

    pieces = []
    for first_document, _, chunk in stream.chunks():
        word_hashes, word_rows = word_ngram_hashes(token_hashes[chunk.ids], chunk.rows, ngram_max)
        pair_rows, pair_ids, pair_counts = chunk.document_token_counts()
        char_rows, char_hashes, char_counts = expand_rows(pair_rows, pair_ids, pair_counts, *char_table)
        all_hashes = np.concatenate([word_hashes, char_hashes])
        all_rows = np.concatenate([word_rows, char_rows])
        signs = 1.0 - 2.0 * (all_hashes >> _SIGN_SHIFT).astype(np.float64)
        columns = (all_hashes & mask).astype(INDEX_DTYPE)
        signs[word_hashes.size:] *= char_counts
        out_rows, out_columns, values = sum_entries(all_rows, columns, signs, chunk.n_documents, n_columns)
        nonzero = values != 0.0
        pieces.append((out_rows[nonzero] + first_document, out_columns[nonzero], values[nonzero]))
    return entries_to_csr(pieces, stream.n_documents, n_columns)
