"""Tokenize ASCII documents with NumPy on their bytes, for the default tokenizer.

``Featurizer`` needs the tokens of a corpus as a :class:`TokenStream`: the
distinct tokens in code point order and one integer id per token position.
Building it from ``re.findall`` creates one Python string per position and
looks each one up in a dict, which took 2.5 s of the 7.2 s that word bigrams
of the IMDb training file cost. This module builds the same stream without a
Python object per position (1.4 s instead of 2.8 s on that file, on one thread):

1. ASCII documents without URLs are tokenized on their bytes by the rules of
   ``_plain_tokens``, which give the default pattern's tokens for such text.
   So are documents whose other characters are all Latin-1 letters that
   normalization and case folding keep as one Latin-1 letter ("é", "Ä"),
   or Latin-1 punctuation and symbols that separate tokens ("£", "«"):
   the rules run on their Latin-1 bytes, and the tokens are hashed in
   UTF-8. Every other document goes through the tokenizer as before, and
   its tokens are joined with spaces and then handled on their bytes too.
2. Every token gets a 64-bit polynomial hash of its bytes, computed for all
   tokens at once from prefix sums. Distinct hashes stand for distinct tokens,
   and the first occurrence of each new hash is decoded to a string.
3. The distinct strings are sorted and the ids renumbered in that order, so the
   stream equals ``TokenStream.from_token_lists`` of the tokenizer's output.

When transforming with a vocabulary of word n-grams, the token hashes are
looked up in a table of the vocabulary's hashes directly (:func:`token_hashes`,
:func:`hash_tokens`), and no token is decoded at all.

NOTE: two different tokens with the same 64-bit hash would become one token.
For a vocabulary of a million tokens the chance is about 3e-8 (the birthday
bound), and tests/test_bytetokens.py compares both streams on the real corpora.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from logreg_cli.hashtable import IdTable
from logreg_cli.ngrams import TokenStream
from logreg_cli.parallel import map_in_threads
from logreg_cli.sparse import INDEX_DTYPE
from logreg_cli.tokenize import make_tokenizer

# Bytes of the documents handled at once: bounds the uint64 arrays of the hash (8 bytes per input byte).
CHUNK_BYTES = 1 << 21

_WORD_BYTES = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_IS_WORD = np.zeros(256, dtype=bool)
_IS_WORD[np.frombuffer(_WORD_BYTES, dtype=np.uint8)] = True
_IS_DIGIT = np.zeros(256, dtype=bool)
_IS_DIGIT[np.frombuffer(b"0123456789", dtype=np.uint8)] = True
_IS_LETTER = _IS_WORD.copy()
_IS_LETTER[_IS_DIGIT | (np.arange(256) == ord("_"))] = False

_APOSTROPHE, _SPACE, _NEWLINE = ord("'"), ord(" "), ord("\n")
_HASH, _PLUS, _DOT, _COMMA, _COLON, _SLASH, _W = (ord(c) for c in "#+.,:/w")

# Normalization forms that keep the covered Latin-1 letters as they are (NFD and NFKD split "é" in two).
LATIN1_NORMALIZATIONS = (None, "NFC", "NFKC")


def _latin1_tables() -> tuple[bytes, bytes, bytes]:
    """Return the Latin-1 bytes above 0x7F that the byte rules cover, and two tables for ``bytes.translate``.

    Covered are letters that NFKC and ``str.casefold`` keep as one Latin-1
    letter ("É" -> "é"; not "ß", "µ" or "ª"), and characters that the default
    tokenizer treats as a space (checked on a sample), which NFKC keeps or
    turns into a space ("£", "×", U+00A0; not "½" or "´"). The first table
    lowercases ASCII and covered letters, as ``str.casefold`` does. The second
    turns covered letters into "a" and the other covered bytes into spaces,
    so that the ASCII rules see a letter or a separator in their place.
    """
    tokenize = make_tokenizer()
    sample = "a b 1 2 c ++ d # l ' e www . x"
    expected = tokenize(sample)
    covered, lower, classes = bytearray(), bytearray(range(256)), bytearray(range(256))
    lower[ord("A"):ord("Z") + 1] = bytes(range(ord("a"), ord("z") + 1))
    for code in range(0x80, 0x100):
        char = chr(code)
        folded = char.casefold()
        normal = unicodedata.normalize("NFKC", char)
        if (unicodedata.category(char) in ("Lu", "Ll") and normal == char and len(folded) == 1
                and ord(folded) < 0x100 and unicodedata.normalize("NFKC", folded) == folded):
            covered.append(code)
            lower[code] = ord(folded)
            classes[code] = ord("a")
        elif normal in (char, " ") and not char.isalnum() and tokenize(sample.replace(" ", char)) == expected:
            covered.append(code)
            classes[code] = ord(" ")
    return bytes(covered), bytes(lower), bytes(classes)


_LATIN1_COVERED, _LATIN1_LOWER, _LATIN1_CLASSES = _latin1_tables()

# Odd 64-bit multiplier of the polynomial hash, and its inverse modulo 2^64.
_BASE = 0x9E3779B97F4A7C15
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def stream_from_documents(documents: Sequence[str], tokenize: Callable[[str], list[str]], *,
                          lowercase: bool, normalization: str | None) -> TokenStream:
    """Return the token stream of ``documents``, equal to ``TokenStream.from_token_lists``.

    ``tokenize`` must be the default tokenizer (``make_tokenizer`` with no
    token_pattern and no replacements) with the given ``lowercase`` and
    ``normalization``. It is called only for the documents that the byte
    rules do not cover.
    """
    n_documents = len(documents)
    lengths = np.zeros(n_documents, dtype=INDEX_DTYPE)
    names: list[str] = []  # token strings, in order of first appearance
    table = IdTable()
    id_pieces: list[np.ndarray] = []

    for (first, stop), chunk in _tokenized_chunks(documents, tokenize, lowercase, normalization):
        lengths[first:stop] = chunk.lengths
        ids = table.lookup(chunk.hashes)
        missing = np.flatnonzero(ids < 0)
        if missing.size:
            # Decode the first occurrence of every new hash and give the new hashes the next ids.
            new, first_seen = np.unique(chunk.hashes[missing], return_index=True)
            names.extend(chunk.decode(missing[first_seen]))
            table.insert(new)
            ids[missing] = table.lookup(chunk.hashes[missing])
        id_pieces.append(ids)

    # Renumber the ids in code point order of the tokens, as from_token_lists does.
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(order), dtype=INDEX_DTYPE)
    rank[order] = np.arange(len(order), dtype=INDEX_DTYPE)
    ids = rank[np.concatenate(id_pieces)] if id_pieces else np.zeros(0, dtype=INDEX_DTYPE)
    tokens = [names[index] for index in order]
    rows = np.repeat(np.arange(n_documents, dtype=INDEX_DTYPE), lengths)
    return TokenStream(tokens, ids, rows, lengths)


def token_hashes(documents: Sequence[str], tokenize: Callable[[str], list[str]], *,
                 lowercase: bool, normalization: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Return the hash of every token of ``documents`` in order, and the number of tokens of each document.

    The hashes are those of :func:`hash_tokens`, so a vocabulary can look
    tokens up without decoding them. ``tokenize`` is as for :func:`stream_from_documents`.
    """
    chunks = [chunk for _, chunk in _tokenized_chunks(documents, tokenize, lowercase, normalization)]
    if not chunks:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=INDEX_DTYPE)
    return np.concatenate([chunk.hashes for chunk in chunks]), np.concatenate([chunk.lengths for chunk in chunks])


def hash_tokens(tokens: Sequence[str]) -> np.ndarray:
    """Return the 64-bit hash of each token, as the tokenizing above computes it."""
    return HashedTokens.from_token_lists([tokens]).hashes


def _tokenized_chunks(documents: Sequence[str], tokenize: Callable[[str], list[str]], lowercase: bool,
                      normalization: str | None):
    """Yield ``((first, stop), HashedTokens)`` for consecutive ranges of documents, tokenized on several threads."""
    ranges = list(document_ranges(documents))

    def tokenized(bounds: tuple[int, int]) -> HashedTokens:
        return HashedTokens(documents[bounds[0]:bounds[1]], tokenize, lowercase, normalization)

    chunks = map_in_threads(tokenized, ranges)
    yield from zip(ranges, chunks)


def document_ranges(documents: Sequence[str]):
    """Yield ``(first, stop)`` ranges of documents with about CHUNK_BYTES characters each."""
    sizes = np.fromiter(map(len, documents), dtype=INDEX_DTYPE, count=len(documents))
    ends = np.cumsum(sizes + 1)
    first = 0
    while first < len(documents):
        base = int(ends[first - 1]) if first else 0
        stop = int(np.searchsorted(ends, base + CHUNK_BYTES, side="right"))
        stop = max(stop, first + 1)
        yield first, stop
        first = stop


class HashedTokens:
    """The tokens of some documents as hashes, in stream order, and where each token's bytes are.

    Attributes
    ----------
    hashes : ndarray of uint64, shape (n_positions,)
    lengths : ndarray, shape (n_documents,)
        Number of tokens of each document.
    """

    def __init__(self, documents: Sequence[str], tokenize: Callable[[str], list[str]], lowercase: bool,
                 normalization: str | None) -> None:
        n_documents = len(documents)
        is_ascii = np.fromiter(map(str.isascii, documents), dtype=bool, count=n_documents)
        by_rules = is_ascii.copy()  # documents tokenized by the byte rules
        groups = []

        # ASCII documents: the rules and the hashes read the same bytes.
        plain = np.flatnonzero(is_ascii)
        plain_texts = [documents[i] for i in plain.tolist()]
        buffer = "\n".join(plain_texts).encode("ascii")
        if lowercase:
            buffer = buffer.lower()
        text = np.frombuffer(buffer, dtype=np.uint8)
        token_starts, token_ends, rows, flagged = _rule_tokens(text, _starts(map(len, plain_texts), plain.size))
        by_rules[plain[flagged]] = False
        if token_starts.size:
            groups.append((buffer, text, token_starts, token_ends, plain[rows]))

        # Documents of ASCII and covered Latin-1 characters: the rules read their Latin-1 bytes, the hashes UTF-8.
        if normalization in LATIN1_NORMALIZATIONS and not is_ascii.all():
            latin, latin_texts = [], []
            for index in np.flatnonzero(~is_ascii).tolist():
                encoded = _latin1_bytes(documents[index])
                if encoded is not None:
                    latin.append(index)
                    latin_texts.append(encoded)
            if latin:
                latin_rows = np.array(latin, dtype=INDEX_DTYPE)
                joined = b"\n".join(latin_texts)
                if lowercase:
                    joined = joined.translate(_LATIN1_LOWER)
                rule_text = np.frombuffer(joined.translate(_LATIN1_CLASSES), dtype=np.uint8)
                token_starts, token_ends, rows, flagged = _rule_tokens(rule_text, _starts(map(len, latin_texts), len(latin)))
                by_rules[latin_rows] = True
                by_rules[latin_rows[flagged]] = False
                if token_starts.size:
                    # A byte above 0x7F is two bytes in UTF-8: shift each position by the number of them before it.
                    shift = np.zeros(rule_text.size + 1, dtype=INDEX_DTYPE)
                    np.cumsum(np.frombuffer(joined, dtype=np.uint8) >= 0x80, out=shift[1:])
                    utf8 = joined.decode("latin-1").encode("utf-8")
                    groups.append((utf8, np.frombuffer(utf8, dtype=np.uint8), token_starts + shift[token_starts],
                                   token_ends + shift[token_ends], latin_rows[rows]))

        others = np.flatnonzero(~by_rules)
        if others.size:
            joined_tokens = [" ".join(tokenize(documents[i])).encode("utf-8", "surrogatepass") for i in others.tolist()]
            other_buffer = b"\n".join(joined_tokens)
            other_text = np.frombuffer(other_buffer, dtype=np.uint8)
            other_starts, other_ends = _runs((other_text != _SPACE) & (other_text != _NEWLINE))
            rows = others[np.searchsorted(_starts(map(len, joined_tokens), others.size), other_starts, side="right") - 1]
            groups.append((other_buffer, other_text, other_starts, other_ends, rows))

        self.lengths = np.zeros(n_documents, dtype=INDEX_DTYPE)
        found = []
        for buffer_bytes, text_bytes, token_starts, token_ends, rows in groups:
            group_counts = np.bincount(rows, minlength=n_documents)
            self.lengths += group_counts
            hashes = _hash_runs(text_bytes, token_starts, token_ends)
            found.append((buffer_bytes, token_starts, token_ends, hashes, rows, group_counts))

        # Put the tokens of both groups in document order.
        document_starts = np.zeros(n_documents + 1, dtype=INDEX_DTYPE)
        np.cumsum(self.lengths, out=document_starts[1:])
        n_positions = int(document_starts[-1])
        self.hashes = np.empty(n_positions, dtype=np.uint64)
        self._group = np.empty(n_positions, dtype=np.int8)
        self._starts = np.empty(n_positions, dtype=INDEX_DTYPE)
        self._ends = np.empty(n_positions, dtype=INDEX_DTYPE)
        self._buffers = []
        for index, (buffer_bytes, token_starts, token_ends, hashes, rows, group_counts) in enumerate(found):
            group_starts = np.concatenate(([0], np.cumsum(group_counts)[:-1]))
            positions = document_starts[rows] + np.arange(rows.size) - group_starts[rows]
            self.hashes[positions] = hashes
            self._group[positions] = index
            self._starts[positions] = token_starts
            self._ends[positions] = token_ends
            self._buffers.append(buffer_bytes)

    @classmethod
    def from_token_lists(cls, token_lists: Sequence[Sequence[str]]) -> HashedTokens:
        """Hash tokens that a tokenizer returned as strings, one list per document, as the byte rules hash them."""
        chunk = cls.__new__(cls)
        encoded = [token.encode("utf-8", "surrogatepass") for tokens in token_lists for token in tokens]
        chunk.lengths = np.fromiter(map(len, token_lists), dtype=INDEX_DTYPE, count=len(token_lists))
        buffer = b"\n".join(encoded)
        chunk._starts = _starts(map(len, encoded), len(encoded))
        chunk._ends = chunk._starts + np.fromiter(map(len, encoded), dtype=INDEX_DTYPE, count=len(encoded))
        chunk.hashes = _hash_runs(np.frombuffer(buffer, dtype=np.uint8), chunk._starts, chunk._ends)
        chunk._group = np.zeros(len(encoded), dtype=np.int8)
        chunk._buffers = [buffer]
        return chunk

    def take(self, positions: np.ndarray) -> HashedTokens:
        """Return the tokens at ``positions`` alone, so that they can be decoded after the rest is dropped."""
        chunk = HashedTokens.__new__(HashedTokens)
        chunk.lengths = np.zeros(0, dtype=INDEX_DTYPE)  # no longer grouped by document
        chunk.hashes = self.hashes[positions]
        chunk._group, chunk._starts, chunk._ends = self._group[positions], self._starts[positions], self._ends[positions]
        chunk._buffers = self._buffers
        return chunk

    def decode(self, positions: np.ndarray) -> list[str]:
        """Return the token at each of ``positions`` as a string."""
        buffers = self._buffers
        return [buffers[group][start:end].decode("utf-8", "surrogatepass")
                for group, start, end in zip(self._group[positions].tolist(), self._starts[positions].tolist(),
                                              self._ends[positions].tolist())]


def _starts(sizes, count: int) -> np.ndarray:
    """Return where each of ``count`` texts starts in their join with one separator byte."""
    starts = np.zeros(count, dtype=INDEX_DTYPE)
    if count:
        np.cumsum(np.fromiter(sizes, dtype=INDEX_DTYPE, count=count)[:-1] + 1, out=starts[1:])
    return starts


def _latin1_bytes(text: str) -> bytes | None:
    """Return the Latin-1 bytes of ``text`` when all its characters are ASCII or covered, else None."""
    try:
        encoded = text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return encoded if encoded.translate(None, _LATIN1_COVERED).isascii() else None


def _rule_tokens(text: np.ndarray, text_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokenize texts joined by newlines with the byte rules.

    Returns ``(starts, ends, rows, flagged)``. The first three give each
    token's position in ``text`` and its text (an index into
    ``text_starts``). ``flagged`` lists the texts with a URL or a construct
    that the rules may get wrong: they must go to the tokenizer, so their
    tokens are left out.
    """
    token_starts, token_ends, unsure = _plain_tokens(text)
    flagged = np.unique(np.searchsorted(text_starts, np.concatenate([_url_positions(text), unsure]), side="right") - 1)
    rows = np.searchsorted(text_starts, token_starts, side="right") - 1
    if flagged.size and rows.size:
        is_flagged = np.zeros(text_starts.size, dtype=bool)
        is_flagged[flagged] = True
        unflagged = ~is_flagged[rows]
        token_starts, token_ends, rows = token_starts[unflagged], token_ends[unflagged], rows[unflagged]
    return token_starts, token_ends, rows, flagged


def _url_positions(text: np.ndarray) -> np.ndarray:
    """Return positions in ``text`` where "://" or "www." (in any case) occurs."""
    positions = np.flatnonzero((text == _COLON) | (text == _DOT))
    if positions.size == 0:
        return positions
    padded = np.concatenate((np.zeros(3, dtype=np.uint8), text, np.zeros(3, dtype=np.uint8)))
    at = positions + 3
    byte = padded[at]
    hit = (byte == _COLON) & (padded[at + 1] == _SLASH) & (padded[at + 2] == _SLASH)
    lowered = [padded[at - k] | 0x20 for k in (1, 2, 3)]
    hit |= (byte == _DOT) & (lowered[0] == _W) & (lowered[1] == _W) & (lowered[2] == _W)
    return positions[hit]


def _plain_tokens(text: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the tokens of the default pattern in ASCII text without URLs.

    Returns ``(starts, ends, unsure)``: where each token starts and ends, and
    positions whose documents these rules may get wrong (a number followed by
    an apostrophe inside a word, as in "1.5'a"), to be tokenized by ``re`` instead.

    The rules, in the order the pattern applies them:

    - A word is a run of ``[0-9A-Za-z_]``; an apostrophe between two such
      bytes joins them ("don't", "l'homme").
    - A word of one letter followed by "++" or "#" keeps the suffix ("c++", "c#").
    - A word that starts with a digit and continues with "." or "," and more
      digits, any number of times, starts with a number token ("3.14",
      "1,000"); the number ends where this stops, and the rest of the word,
      if any, is a token of its own ("2.5x" -> "2.5", "x").
    """
    mask = _IS_WORD[text]
    apostrophes = np.flatnonzero(text[1:-1] == _APOSTROPHE) + 1
    mask[apostrophes[mask[apostrophes - 1] & mask[apostrophes + 1]]] = True
    starts, ends = _runs(mask)
    if starts.size == 0:
        return starts, ends, starts
    padded = np.concatenate((text, np.zeros(2, dtype=np.uint8)))

    # c++ and c#
    single = np.flatnonzero((ends - starts == 1) & _IS_LETTER[text[starts]])
    after = ends[single]
    plus = single[(padded[after] == _PLUS) & (padded[after + 1] == _PLUS)]
    ends[plus] += 2
    ends[single[padded[after] == _HASH]] += 1

    # Numbers: chains of digit runs joined by one "." or ",".
    digit_starts, digit_ends = _runs(_IS_DIGIT[text])
    if digit_starts.size < 2:
        return starts, ends, np.zeros(0, dtype=INDEX_DTYPE)
    separator = padded[digit_ends]
    linked = np.zeros(digit_starts.size, dtype=bool)
    linked[:-1] = ((separator[:-1] == _DOT) | (separator[:-1] == _COMMA)) & (digit_starts[1:] == digit_ends[:-1] + 1)
    # A number starts at a word that starts with a digit run linked to the next one.
    run_of_word = np.searchsorted(digit_starts, starts)
    run_of_word = np.minimum(run_of_word, digit_starts.size - 1)
    opens = (digit_starts[run_of_word] == starts) & linked[run_of_word]
    if not opens.any():
        return starts, ends, np.zeros(0, dtype=INDEX_DTYPE)
    # The number ends with the last digit run of its chain.
    chain = np.cumsum(np.concatenate(([0], ~linked[:-1])))
    chain_end = digit_ends[np.searchsorted(chain, chain, side="right") - 1]
    number_words = np.flatnonzero(opens)
    # Only the first such word of a chain opens a number; the number takes the rest of the chain.
    chain_of = chain[run_of_word[number_words]]
    number_words = number_words[np.concatenate(([True], chain_of[1:] != chain_of[:-1]))]
    number_starts = starts[number_words]
    number_ends = chain_end[run_of_word[number_words]]

    # Words that start inside a number (after its first byte) are replaced by what is left of them after it.
    inside = np.searchsorted(number_starts, starts, side="right") - 1
    covered = (inside >= 0) & (starts < number_ends[np.maximum(inside, 0)])
    word_ends = ends.copy()
    word_ends[number_words] = number_ends
    # The word that contains the number's last byte, if it goes on past the number.
    last_word = np.searchsorted(starts, number_ends - 1, side="right") - 1
    rest = ends[last_word] > number_ends
    covered[number_words] = False
    rest_starts, rest_ends = number_ends[rest], ends[last_word[rest]]
    unsure = rest_starts[text[rest_starts] == _APOSTROPHE]
    new_starts = np.concatenate([starts[~covered], rest_starts])
    new_ends = np.concatenate([word_ends[~covered], rest_ends])
    order = np.argsort(new_starts, kind="stable")
    return new_starts[order], new_ends[order], unsure


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the start and end (exclusive) of every run of True in ``mask``."""
    edges = np.diff(mask.view(np.int8), prepend=0, append=0)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


# The largest tables of _powers made so far; smaller requests take a slice of them.
_power_tables: tuple[np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64))


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return BASE**i and BASE**-i modulo 2^64 for i below ``size`` (at least; the arrays may be longer).

    Pieces are at most CHUNK_BYTES long, even for longer tokens, so the
    tables stay below 16 bytes times CHUNK_BYTES.
    """
    global _power_tables
    if _power_tables[0].size < size:
        size = _round_up(size)
        powers = np.full(size, _BASE, dtype=np.uint64)
        powers[0] = 1
        inverse = np.full(size, _BASE_INVERSE, dtype=np.uint64)
        inverse[0] = 1
        # Threads may both build the tables; either result is the same.
        _power_tables = (np.cumprod(powers, dtype=np.uint64), np.cumprod(inverse, dtype=np.uint64))
    return _power_tables


def _hash_runs(text: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return a 64-bit hash of the bytes ``text[starts[i]:ends[i]]`` for every i.

    The hash is sum(byte_j * BASE**j) over the token's bytes modulo 2^64,
    taken from prefix sums over the text in pieces of CHUNK_BYTES, then
    mixed with the length and scrambled so that short tokens spread over all bits.
    """
    hashes = np.empty(starts.size, dtype=np.uint64)
    first = 0
    while first < starts.size:
        base = int(starts[first])
        # Whole tokens only: a piece ends after the last token that ends within CHUNK_BYTES of its start.
        stop = int(np.searchsorted(ends, base + CHUNK_BYTES, side="right"))
        if stop == first:
            # One token longer than CHUNK_BYTES: hash it piece by piece.
            hashes[first] = _long_token_hash(text, base, int(ends[first]))
            first += 1
            continue
        end = int(ends[stop - 1])
        powers, inverse = _powers(end - base)
        prefix = np.zeros(end - base + 1, dtype=np.uint64)
        np.cumsum(text[base:end] * powers[: end - base], out=prefix[1:])
        local_starts = starts[first:stop] - base
        local_ends = ends[first:stop] - base
        value = (prefix[local_ends] - prefix[local_starts]) * inverse[local_starts]
        value ^= (local_ends - local_starts).astype(np.uint64) * _MIX
        hashes[first:stop] = value
        first = stop
    hashes ^= hashes >> np.uint64(31)
    hashes *= _MIX
    hashes ^= hashes >> np.uint64(29)
    return hashes


def _long_token_hash(text: np.ndarray, start: int, end: int) -> np.uint64:
    """Return what _hash_runs computes for ``text[start:end]`` before scrambling, CHUNK_BYTES at a time.

    The sum over the token is the sum over its pieces, each piece's own sum
    times BASE to the power of the piece's offset in the token.
    """
    total = 0
    for offset in range(0, end - start, CHUNK_BYTES):
        piece = text[start + offset : min(start + offset + CHUNK_BYTES, end)]
        powers, _ = _powers(piece.size)
        piece_sum = int(np.sum(piece * powers[: piece.size], dtype=np.uint64))
        total = (total + piece_sum * pow(_BASE, offset, 1 << 64)) % (1 << 64)
    return np.uint64(total ^ ((end - start) * int(_MIX)) % (1 << 64))


def _round_up(size: int) -> int:
    """Round up to a power of two, at least 4096, so that _powers rebuilds its tables a few times at most.

    Small inputs get small tables: the tables for CHUNK_BYTES take 32 MB.
    """
    return max(4096, 1 << max(size - 1, 0).bit_length())
