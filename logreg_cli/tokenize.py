r"""Turn a document into tokens with one compiled regular expression.

The default pattern (``DEFAULT_TOKEN_PATTERN``) runs on text that was first
normalized with ``unicodedata.normalize`` (NFKC unless configured otherwise)
and case-folded with ``str.casefold``. What it produces:

- Words of any script, combining marks included, so Devanagari "हिन्दी" is one
  token where a plain ``\w+`` splits it at the vowel signs. An apostrophe
  followed by a word character stays inside the word ("don't", "l'homme");
  leading and trailing apostrophes are dropped. U+2019 RIGHT SINGLE QUOTATION
  MARK is mapped to "'" whenever normalization is on. Underscores count as word
  characters, as in Python's ``\w``.
- One-character tokens ("a", "5").
- Numbers: digits with "." or "," between digits stay whole ("3.14",
  "1,000,000"). A letter after such a number starts a new token ("2.5x" ->
  "2.5", "x"), but a word that starts with digits stays whole ("1990s").
- Emoji: each emoji is one token, including skin-tone modifiers, variation
  selectors, keycaps ("1️⃣"), flags (two regional indicators) and zero-width
  joiner sequences ("👨‍👩‍👧"). Symbols in U+2600-U+27BF such as "★" and "✓"
  count as emoji too.
- "c++" and "c#": a single letter followed by "++" or "#" keeps the suffix
  ("c++", "c#", "f#"); longer words drop it ("abc++" -> "abc").
- URLs that start with ``http://``, ``https://`` or ``www.`` (in any case) are
  one token. A URL ends before whitespace, a quote, a bracket or an angle
  bracket, and trailing ``.,;:!?`` is left out.
- Everything else, punctuation included, separates tokens, and so does every
  character for which ``str.isspace`` is true (U+00A0, U+2009, U+3000 too).
- Scripts written without spaces (Chinese, Japanese, Thai) are not segmented
  into words: each run of letters between punctuation or spaces is one token.

Speed: with the default settings the tokenizer is one ``findall`` over the
normalized, case-folded text. The pattern starts with a single character class
so that ``re`` can skip non-token characters quickly, and then branches on the
next character. Most branches begin with a literal or a character class, so
``re`` rejects them after testing one character.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable

from logreg_cli.errors import ConfigError

NORMALIZATION_FORMS = ("NFC", "NFKC", "NFD", "NFKD")

NUMBER_TOKEN = "<num>"
URL_TOKEN = "<url>"

# Combining marks (general categories Mn, Mc, Me) in the Basic Multilingual
# Plane, as (first, last) code point ranges. Scanning all 1,114,112 code points
# at import took 0.11 s on an AMD EPYC server core, so the table is fixed. It was
# generated with Python 3.11.7 (unicodedata.unidata_version 14.0.0) by:
#
#     marks = [cp for cp in range(0x10000)
#              if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")]
#     ranges = []
#     for cp in marks:
#         if ranges and ranges[-1][1] == cp - 1:
#             ranges[-1][1] = cp
#         else:
#             ranges.append([cp, cp])
#
# tests/test_tokenize.py compares it with unicodedata when the Unicode version
# is 14.0.0.
_BMP_COMBINING_MARK_RANGES: tuple[tuple[int, int], ...] = (
    (0x0300, 0x036F), (0x0483, 0x0489), (0x0591, 0x05BD), (0x05BF, 0x05BF),
    (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7), (0x0610, 0x061A),
    (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4),
    (0x06E7, 0x06E8), (0x06EA, 0x06ED), (0x0711, 0x0711), (0x0730, 0x074A),
    (0x07A6, 0x07B0), (0x07EB, 0x07F3), (0x07FD, 0x07FD), (0x0816, 0x0819),
    (0x081B, 0x0823), (0x0825, 0x0827), (0x0829, 0x082D), (0x0859, 0x085B),
    (0x0898, 0x089F), (0x08CA, 0x08E1), (0x08E3, 0x0903), (0x093A, 0x093C),
    (0x093E, 0x094F), (0x0951, 0x0957), (0x0962, 0x0963), (0x0981, 0x0983),
    (0x09BC, 0x09BC), (0x09BE, 0x09C4), (0x09C7, 0x09C8), (0x09CB, 0x09CD),
    (0x09D7, 0x09D7), (0x09E2, 0x09E3), (0x09FE, 0x09FE), (0x0A01, 0x0A03),
    (0x0A3C, 0x0A3C), (0x0A3E, 0x0A42), (0x0A47, 0x0A48), (0x0A4B, 0x0A4D),
    (0x0A51, 0x0A51), (0x0A70, 0x0A71), (0x0A75, 0x0A75), (0x0A81, 0x0A83),
    (0x0ABC, 0x0ABC), (0x0ABE, 0x0AC5), (0x0AC7, 0x0AC9), (0x0ACB, 0x0ACD),
    (0x0AE2, 0x0AE3), (0x0AFA, 0x0AFF), (0x0B01, 0x0B03), (0x0B3C, 0x0B3C),
    (0x0B3E, 0x0B44), (0x0B47, 0x0B48), (0x0B4B, 0x0B4D), (0x0B55, 0x0B57),
    (0x0B62, 0x0B63), (0x0B82, 0x0B82), (0x0BBE, 0x0BC2), (0x0BC6, 0x0BC8),
    (0x0BCA, 0x0BCD), (0x0BD7, 0x0BD7), (0x0C00, 0x0C04), (0x0C3C, 0x0C3C),
    (0x0C3E, 0x0C44), (0x0C46, 0x0C48), (0x0C4A, 0x0C4D), (0x0C55, 0x0C56),
    (0x0C62, 0x0C63), (0x0C81, 0x0C83), (0x0CBC, 0x0CBC), (0x0CBE, 0x0CC4),
    (0x0CC6, 0x0CC8), (0x0CCA, 0x0CCD), (0x0CD5, 0x0CD6), (0x0CE2, 0x0CE3),
    (0x0D00, 0x0D03), (0x0D3B, 0x0D3C), (0x0D3E, 0x0D44), (0x0D46, 0x0D48),
    (0x0D4A, 0x0D4D), (0x0D57, 0x0D57), (0x0D62, 0x0D63), (0x0D81, 0x0D83),
    (0x0DCA, 0x0DCA), (0x0DCF, 0x0DD4), (0x0DD6, 0x0DD6), (0x0DD8, 0x0DDF),
    (0x0DF2, 0x0DF3), (0x0E31, 0x0E31), (0x0E34, 0x0E3A), (0x0E47, 0x0E4E),
    (0x0EB1, 0x0EB1), (0x0EB4, 0x0EBC), (0x0EC8, 0x0ECD), (0x0F18, 0x0F19),
    (0x0F35, 0x0F35), (0x0F37, 0x0F37), (0x0F39, 0x0F39), (0x0F3E, 0x0F3F),
    (0x0F71, 0x0F84), (0x0F86, 0x0F87), (0x0F8D, 0x0F97), (0x0F99, 0x0FBC),
    (0x0FC6, 0x0FC6), (0x102B, 0x103E), (0x1056, 0x1059), (0x105E, 0x1060),
    (0x1062, 0x1064), (0x1067, 0x106D), (0x1071, 0x1074), (0x1082, 0x108D),
    (0x108F, 0x108F), (0x109A, 0x109D), (0x135D, 0x135F), (0x1712, 0x1715),
    (0x1732, 0x1734), (0x1752, 0x1753), (0x1772, 0x1773), (0x17B4, 0x17D3),
    (0x17DD, 0x17DD), (0x180B, 0x180D), (0x180F, 0x180F), (0x1885, 0x1886),
    (0x18A9, 0x18A9), (0x1920, 0x192B), (0x1930, 0x193B), (0x1A17, 0x1A1B),
    (0x1A55, 0x1A5E), (0x1A60, 0x1A7C), (0x1A7F, 0x1A7F), (0x1AB0, 0x1ACE),
    (0x1B00, 0x1B04), (0x1B34, 0x1B44), (0x1B6B, 0x1B73), (0x1B80, 0x1B82),
    (0x1BA1, 0x1BAD), (0x1BE6, 0x1BF3), (0x1C24, 0x1C37), (0x1CD0, 0x1CD2),
    (0x1CD4, 0x1CE8), (0x1CED, 0x1CED), (0x1CF4, 0x1CF4), (0x1CF7, 0x1CF9),
    (0x1DC0, 0x1DFF), (0x20D0, 0x20F0), (0x2CEF, 0x2CF1), (0x2D7F, 0x2D7F),
    (0x2DE0, 0x2DFF), (0x302A, 0x302F), (0x3099, 0x309A), (0xA66F, 0xA672),
    (0xA674, 0xA67D), (0xA69E, 0xA69F), (0xA6F0, 0xA6F1), (0xA802, 0xA802),
    (0xA806, 0xA806), (0xA80B, 0xA80B), (0xA823, 0xA827), (0xA82C, 0xA82C),
    (0xA880, 0xA881), (0xA8B4, 0xA8C5), (0xA8E0, 0xA8F1), (0xA8FF, 0xA8FF),
    (0xA926, 0xA92D), (0xA947, 0xA953), (0xA980, 0xA983), (0xA9B3, 0xA9C0),
    (0xA9E5, 0xA9E5), (0xAA29, 0xAA36), (0xAA43, 0xAA43), (0xAA4C, 0xAA4D),
    (0xAA7B, 0xAA7D), (0xAAB0, 0xAAB0), (0xAAB2, 0xAAB4), (0xAAB7, 0xAAB8),
    (0xAABE, 0xAABF), (0xAAC1, 0xAAC1), (0xAAEB, 0xAAEF), (0xAAF5, 0xAAF6),
    (0xABE3, 0xABEA), (0xABEC, 0xABED), (0xFB1E, 0xFB1E), (0xFE00, 0xFE0F),
    (0xFE20, 0xFE2F),
)

# NOTE: outside the BMP the word class takes whole ranges instead of the exact
# combining marks: U+101FD-U+1E94A (historic scripts up to Adlam) and the
# variation selectors U+E0100-U+E01EF. With the exact 110 ranges findall took
# 1.9 times as long on the IMDb training corpus, because re tests each range
# at the end of every token. The price is that the punctuation and symbols of
# those historic scripts stay inside a word they touch.
_ASTRAL_MARK_CLASS = r"\U000101FD-\U0001E94A\U000E0100-\U000E01EF"

# Characters that can start an emoji: pictographs in the BMP (watch,
# hourglass, media keys, miscellaneous symbols, dingbats, stars, squares) and
# the pictographic blocks U+1F000-U+1FAFF, without the regional indicators and
# the skin-tone modifiers, which are listed separately.
_EMOJI_BASE_CLASS = (
    r"\u231A\u231B\u23E9-\u23FA\u2600-\u27BF\u2B1B\u2B1C\u2B50\u2B55"
    r"\U0001F000-\U0001F1E5\U0001F200-\U0001F3FA\U0001F400-\U0001FAFF"
)
_REGIONAL_INDICATOR_CLASS = r"\U0001F1E6-\U0001F1FF"
# Skin tones, emoji and keycap variation selectors, tag characters (used in
# subdivision flags).
_EMOJI_MODIFIER_CLASS = r"\U0001F3FB-\U0001F3FF\uFE0F\u20E3\U000E0020-\U000E007F"

# Word characters of the Latin script, listed so that re finds them in the
# class's bitmap. Otherwise every character costs a Unicode category lookup
# for \w, which made findall about 10% slower on the IMDb training corpus.
_LATIN_WORD_CLASS = r"0-9A-Za-z_\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F"

# Characters that end a URL: whitespace, quotes, brackets, angle brackets.
_URL_STOP = r"\s<>\"'\u2018\u2019\u201C\u201D()\[\]{}"


def _format_ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(rf"\u{first:04X}-\u{last:04X}" for first, last in ranges)


# "+" after a quantifier makes it possessive, which the re module accepts from Python 3.11 on.
_POSSESSIVE = "+" if sys.version_info >= (3, 11) else ""


def _build_default_pattern() -> str:
    marks = _format_ranges(_BMP_COMBINING_MARK_RANGES) + _ASTRAL_MARK_CLASS
    # Characters after the first one of a word: \w, combining marks, the zero
    # width non-joiner and joiner (inside Persian and Indic words), and an
    # apostrophe when a word character follows it. Possessive quantifiers
    # (*+, Python 3.11+) spare re the bookkeeping for backtracking. Nothing
    # after them could match what they would give back, so plain greedy
    # quantifiers find the same tokens on Python 3.10.
    word_char = rf"[{_LATIN_WORD_CLASS}\w\u200C\u200D{marks}]"
    word_rest = rf"{word_char}*{_POSSESSIVE}(?:['\u2019]\w{word_char}*{_POSSESSIVE})*{_POSSESSIVE}"

    emoji_start = _EMOJI_BASE_CLASS + _REGIONAL_INDICATOR_CLASS
    emoji_joined = rf"(?:\u200D[{emoji_start}][{_EMOJI_MODIFIER_CLASS}]*)*"
    url_rest = rf"[^{_URL_STOP}]*[^{_URL_STOP}.,;:!?]"

    # The match starts with one character class, and the branches below look
    # at what follows that first character. The URL and number branches come
    # before the plain word branch, which would otherwise take their first
    # letters or digits.
    branches = (
        # http://, https:// and www. in any case. Each branch starts with one
        # literal because re tests a literal faster than a class.
        rf"t(?<=[hH]t)[tT][pP][sS]?://{url_rest}",
        rf"T(?<=[hH]T)[tT][pP][sS]?://{url_rest}",
        rf"w(?<=[wW]w)[wW]\.{url_rest}",
        rf"W(?<=[wW]W)[wW]\.{url_rest}",
        # A number with "." or "," between digits. The first class lists ASCII
        # digits only, because a class with \d costs a category lookup for
        # every token.
        # NOTE: a number whose second character is a non-ASCII digit therefore
        # splits at the separator ("१२.५" -> "१२", "५"), while "१.५" stays whole.
        rf"[0-9.,](?<=\d[0-9.,])(?:(?<=\d)\d*{_POSSESSIVE}[.,]|(?<=[.,]))\d+{_POSSESSIVE}(?:[.,]\d+{_POSSESSIVE})*{_POSSESSIVE}",
        # A word that continues with a word character. \B matches between two
        # word characters, and also between an emoji and a character that is
        # not a word character, where the class after it fails.
        rf"\B[{_LATIN_WORD_CLASS}\w]{word_rest}",
        # c++ and c#: one letter that does not follow a word character
        r"\+\+(?<=(?<!\w)[^\W\d_]\+\+)",
        r"#(?<=(?<!\w)[^\W\d_]#)",

        # A flag: two regional indicators
        rf"[{_REGIONAL_INDICATOR_CLASS}](?<=[{_REGIONAL_INDICATOR_CLASS}]{{2}}){emoji_joined}",
        # An emoji with modifiers, and a zero-width joiner sequence
        rf"[{_EMOJI_MODIFIER_CLASS}](?<=[{_EMOJI_BASE_CLASS}].)[{_EMOJI_MODIFIER_CLASS}]*{emoji_joined}",
        rf"\u200D(?<=[{emoji_start}]\u200D)[{emoji_start}][{_EMOJI_MODIFIER_CLASS}]*{emoji_joined}",

        # A word whose second character is an apostrophe ("l'homme")
        rf"['\u2019](?<=\w['\u2019])\w{word_rest}",
        # A word whose second character is a combining mark or joiner
        rf"[\u200C\u200D{marks}](?<=\w.){word_rest}",
        # A one-character token
        r"",
    )
    return rf"[{_LATIN_WORD_CLASS}\w{emoji_start}](?:" + "|".join(branches) + ")"


DEFAULT_TOKEN_PATTERN: str = _build_default_pattern()
"""Regular expression (Python ``re`` syntax) used when ``token_pattern`` is None."""

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_URL_START_RE = re.compile(r"(?:https?://|www\.)", re.IGNORECASE)


def validate_token_pattern(pattern: str) -> None:
    """Raise ConfigError unless ``pattern`` is usable as ``featurizer.token_pattern``.

    Parameters
    ----------
    pattern : str
        Regular expression in Python ``re`` syntax. With one capture group the
        tokens are what the group captured, as in ``re.findall``.

    Raises
    ------
    ConfigError
        When the pattern is not a string, does not compile (the message
        contains the ``re`` error and its position), has more than one capture
        group, or matches the empty string.
    """
    if not isinstance(pattern, str):
        raise ConfigError(
            f"featurizer.token_pattern: expected a string but got {type(pattern).__name__} {pattern!r}; "
            "write the regular expression in quotes, or use null for the default pattern"
        )
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ConfigError(
            f"featurizer.token_pattern: invalid regular expression {pattern!r}: {error}; "
            "fix the expression (Python re syntax), or use null for the default pattern"
        ) from None
    if compiled.groups > 1:
        raise ConfigError(
            f"featurizer.token_pattern: {pattern!r} has {compiled.groups} capture groups but at most 1 is allowed; "
            "make the other groups non-capturing with (?:...)"
        )
    if compiled.fullmatch("") is not None:
        raise ConfigError(
            f"featurizer.token_pattern: {pattern!r} matches the empty string, so it would produce empty tokens; "
            "use + instead of * for the repeated part"
        )


def make_tokenizer(
    *,
    token_pattern: str | None = None,
    lowercase: bool = True,
    normalization: str | None = "NFKC",
    replace_numbers: bool = False,
    replace_urls: bool = False,
) -> Callable[[str], list[str]]:
    """Build a function that splits one document into tokens.

    The returned function normalizes the document (``unicodedata.normalize``,
    skipped when the text is already normalized), maps U+2019 to "'" when
    normalization is on, applies ``str.casefold`` when ``lowercase`` is true,
    and returns ``re.findall(pattern, text)``.

    Parameters
    ----------
    token_pattern : str or None
        Regular expression for one token; None uses ``DEFAULT_TOKEN_PATTERN``.
    lowercase : bool
        Fold case with ``str.casefold`` ("Straße" -> "strasse").
    normalization : {"NFC", "NFKC", "NFD", "NFKD"} or None
        Unicode normalization form applied first; None leaves the text as is.
        NFKC folds full-width letters and ligatures ("ﬁ" -> "fi").
    replace_numbers : bool
        Replace each token made of digits, with "." or "," between digits, by
        ``"<num>"``.
    replace_urls : bool
        Replace each token that starts with ``http://``, ``https://`` or
        ``www.`` by ``"<url>"``.

    Returns
    -------
    Callable[[str], list[str]]
        Function from a document to its tokens, in order of appearance.

    Raises
    ------
    ConfigError
        When ``token_pattern`` is invalid (see ``validate_token_pattern``) or
        ``normalization`` is not one of the forms above.
    """
    if normalization is not None and normalization not in NORMALIZATION_FORMS:
        raise ConfigError(
            f"featurizer.normalization: invalid value {normalization!r}; "
            f"use one of {', '.join(NORMALIZATION_FORMS)} or null"
        )
    if token_pattern is None:
        find_tokens = _compile_default_pattern().findall
    else:
        validate_token_pattern(token_pattern)
        find_tokens = re.compile(token_pattern).findall

    prepare = _make_text_preparer(normalization, lowercase)
    if not (replace_numbers or replace_urls):
        if prepare is None:
            return find_tokens

        def tokenize(document: str) -> list[str]:
            return find_tokens(prepare(document))

        return tokenize

    replace = _make_token_replacer(replace_numbers, replace_urls)

    def tokenize_and_replace(document: str) -> list[str]:
        text = document if prepare is None else prepare(document)
        return [replace(token) for token in find_tokens(text)]

    return tokenize_and_replace


@functools.cache
def _compile_default_pattern() -> re.Pattern[str]:
    # Compiling takes about 20 ms, so it waits for the first tokenizer instead
    # of slowing down every import (and so every command, --help included).
    return re.compile(DEFAULT_TOKEN_PATTERN)


def _make_text_preparer(normalization: str | None, lowercase: bool) -> Callable[[str], str] | None:
    if normalization is None:
        return str.casefold if lowercase else None

    is_normalized = unicodedata.is_normalized
    normalize = unicodedata.normalize

    def prepare(text: str) -> str:
        # is_normalized is a quick check that avoids copying most texts.
        if not is_normalized(normalization, text):
            text = normalize(normalization, text)
        if "\u2019" in text:
            text = text.replace("\u2019", "'")
        return text.casefold() if lowercase else text

    return prepare


def _make_token_replacer(replace_numbers: bool, replace_urls: bool) -> Callable[[str], str]:
    is_number = _NUMBER_RE.fullmatch
    is_url = _URL_START_RE.match

    def replace(token: str) -> str:
        if replace_numbers and is_number(token):
            return NUMBER_TOKEN
        if replace_urls and is_url(token):
            return URL_TOKEN
        return token

    return replace
