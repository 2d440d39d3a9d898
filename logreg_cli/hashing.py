"""The hashing trick: n-grams go to columns through a stable hash, with no vocabulary.

Every token is hashed once per distinct token with BLAKE2b (8-byte digest of
its UTF-8 bytes), so the columns are the same in every process and for every
PYTHONHASHSEED, unlike Python's ``hash()``. The hash of a word n-gram is built
from the hashes of its tokens with 64-bit multiply-and-mix arithmetic in NumPy
(the SplitMix64 finalizer), so no n-gram string is ever formed. Character
n-grams are hashed as strings with a different BLAKE2b personalization, so a
character n-gram and a word with the same letters land in unrelated columns.

Column = the low ``hash_bits`` bits of the 64-bit hash; the top bit gives the
sign (+1 or -1). Two n-grams that share a column collide: their counts add up
with their signs, so on average collisions cancel instead of piling up, and a
document where they cancel exactly has no value stored in that column. With
2^k columns and m distinct n-grams about m^2 / 2^(k+1) pairs collide, so
choose k with 2^k well above the number of distinct n-grams.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from logreg_cli.ngrams import TokenStream, char_ngram_table, entries_to_csr, expand_rows, sum_entries
from logreg_cli.sparse import INDEX_DTYPE, CSRMatrix

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


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: spreads every input bit over all 64 output bits."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX_1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX_2
    return values ^ (values >> np.uint64(31))


def hashed_count_matrix(stream: TokenStream, *, hash_bits: int, ngram_max: int,
                        char_range: tuple[int, int] | None) -> CSRMatrix:
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

    Returns
    -------
    CSRMatrix, shape (n_documents, 2 ** hash_bits)
        Signed sums; entries that cancel to 0 are not stored.
    """
    n_columns = 1 << hash_bits
    mask = np.uint64(n_columns - 1)
    token_hashes = stable_hash(stream.tokens)
    char_table = None
    if char_range is not None:
        grams_of = {}

        def lookup(gram: str) -> int:
            return grams_of.setdefault(gram, len(grams_of))

        indptr, ids = char_ngram_table(stream.tokens, char_range[0], char_range[1], lookup)
        gram_hashes = stable_hash(list(grams_of), person=_CHAR_PERSON)
        char_table = (indptr, gram_hashes[ids])

    pieces = []
    for first_document, _, chunk in stream.chunks():
        hashes, rows = [], []
        position_hashes = token_hashes[chunk.ids]
        level = position_hashes
        starts = np.arange(chunk.ids.size, dtype=INDEX_DTYPE)
        for n in range(1, ngram_max + 1):
            if n > 1:
                # The n-gram at a start mixes the hash of the (n - 1)-gram there with the hash of its last token.
                starts = chunk.ngram_starts(starts, n)
                longer = np.zeros(chunk.ids.size, dtype=np.uint64)
                longer[starts] = _mix(level[starts] * _MULTIPLIER + position_hashes[starts + (n - 1)])
                level = longer
            hashes.append(level[starts])
            rows.append(chunk.rows[starts])
        if char_table is not None:
            pair_rows, pair_ids, pair_counts = chunk.document_token_counts()
            char_rows, char_hashes, char_counts = expand_rows(pair_rows, pair_ids, pair_counts, *char_table)
            hashes.append(char_hashes)
            rows.append(char_rows)
        all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
        all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=INDEX_DTYPE)
        signs = 1.0 - 2.0 * (all_hashes >> _SIGN_SHIFT).astype(np.float64)
        columns = (all_hashes & mask).astype(INDEX_DTYPE)
        if char_table is not None:
            word_entries = all_rows.size - char_rows.size
            signs[word_entries:] *= char_counts
        out_rows, out_columns, values = sum_entries(all_rows, columns, signs, chunk.n_documents, n_columns)
        nonzero = values != 0.0
        pieces.append((out_rows[nonzero] + first_document, out_columns[nonzero], values[nonzero]))
    return entries_to_csr(pieces, stream.n_documents, n_columns)
