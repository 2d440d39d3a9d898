"""Tests for logreg_cli.tokenize: the default pattern, options and pattern checks."""

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logreg_cli import tokenize as tokenize_module
from logreg_cli.errors import ConfigError
from logreg_cli.tokenize import DEFAULT_TOKEN_PATTERN, make_tokenizer, validate_token_pattern

tokenize = make_tokenizer()


# Words, spaces and one-character tokens


def test_default_keeps_devanagari_words_whole():
    # A plain \w+ splits these at the vowel signs and the virama.
    assert tokenize("हिन्दी आधुनिक मानक") == ["हिन्दी", "आधुनिक", "मानक"]


def test_default_keeps_words_with_marks_whole():
    assert tokenize("ภาษาไทย কলকাতা தமிழ்") == ["ภาษาไทย", "কলকাতা", "தமிழ்"]


def test_default_splits_on_unicode_spaces():
    assert tokenize("good\u2009movie\u00a0night\u3000ok") == ["good", "movie", "night", "ok"]


def test_unnormalized_splits_on_unicode_spaces():
    plain = make_tokenizer(normalization=None)

    assert plain("good\u2009movie\u00a0night\u3000ok\u2028end") == ["good", "movie", "night", "ok", "end"]


def test_default_keeps_one_character_tokens():
    assert tokenize("a 5 A b") == ["a", "5", "a", "b"]


def test_default_drops_punctuation():
    assert tokenize('Well... "great", (really)! -- fun; ok?') == ["well", "great", "really", "fun", "ok"]


def test_default_splits_hyphenated_words():
    assert tokenize("well-known co-star") == ["well", "known", "co", "star"]


def test_default_keeps_inner_apostrophes():
    tokens = tokenize("don't 'quoted' students' rock'n'roll l'homme")

    assert tokens == ["don't", "quoted", "students", "rock'n'roll", "l'homme"]


def test_default_maps_curly_apostrophe():
    assert tokenize("don\u2019t") == ["don't"]


def test_default_keeps_persian_zwnj_word():
    assert tokenize("می\u200cخواهم") == ["می\u200cخواهم"]


def test_default_keeps_cjk_run_whole():
    # Scripts without spaces are not segmented, so a run between punctuation is one token.
    assert tokenize("日本語のテキスト、漢字。") == ["日本語のテキスト", "漢字"]


def test_default_keeps_underscores():
    assert tokenize("__init__ snake_case") == ["__init__", "snake_case"]


# Numbers


def test_default_keeps_numbers_whole():
    assert tokenize("2008 3.14 1,000,000 7/10") == ["2008", "3.14", "1,000,000", "7", "10"]


def test_default_number_then_letters():
    assert tokenize("1990s 2.5x v1.2") == ["1990s", "2.5", "x", "v1", "2"]


def test_default_number_non_ascii_digits():
    # The number branch looks for an ASCII digit or separator after the first digit.
    assert tokenize("१.५ १२.५") == ["१.५", "१२", "५"]


def test_default_drops_number_trailing_point():
    assert tokenize("in 2008. then 4,") == ["in", "2008", "then", "4"]


# Emoji


def test_default_keeps_each_emoji():
    assert tokenize("😀😞 great😀 😀great") == ["😀", "😞", "great", "😀", "😀", "great"]


def test_default_keeps_skin_tone_emoji_whole():
    assert tokenize("ok 👍🏽!") == ["ok", "👍🏽"]


def test_default_keeps_zwj_sequence_whole():
    family = "👨\u200d👩\u200d👧"

    assert tokenize(f"{family} {family}") == [family, family]


def test_default_keeps_flags_whole():
    assert tokenize("🇫🇷🇩🇪") == ["🇫🇷", "🇩🇪"]


def test_default_keeps_variation_selector_emoji():
    assert tokenize("❤\ufe0f 1\ufe0f\u20e3") == ["❤\ufe0f", "1\ufe0f\u20e3"]


# C++, C# and URLs


def test_default_keeps_cpp_and_csharp():
    assert tokenize("C++ and C#") == ["c++", "and", "c#"]


def test_default_drops_suffix_after_longer_word():
    assert tokenize("abc++ F#") == ["abc", "f#"]


def test_default_keeps_url_whole():
    tokens = tokenize("See https://example.com/a?b=1&c=2. Or www.example.org, ok")

    assert tokens == ["see", "https://example.com/a?b=1&c=2", "or", "www.example.org", "ok"]


def test_default_url_stops_at_bracket():
    assert tokenize("(http://x.org/a)") == ["http://x.org/a"]


def test_default_scheme_without_url():
    assert tokenize("http: and www") == ["http", "and", "www"]


def test_case_kept_url_uppercase():
    keep_case = make_tokenizer(lowercase=False)

    assert keep_case("HTTP://X.ORG/A Www.Example.com") == ["HTTP://X.ORG/A", "Www.Example.com"]


# Case folding and normalization


def test_default_casefolds():
    assert tokenize("Straße ΣΊΣΥΦΟΣ") == ["strasse", "σίσυφοσ"]


def test_lowercase_false_keeps_case():
    keep_case = make_tokenizer(lowercase=False)

    assert keep_case("Straße C++") == ["Straße", "C++"]


def test_nfkc_folds_fullwidth_and_ligatures():
    assert tokenize("ＦＵＬＬ ﬁne ①") == ["full", "fine", "1"]


def test_normalization_none_keeps_compatibility_forms():
    plain = make_tokenizer(normalization=None)

    assert plain("ＦＵＬＬ") == ["ｆｕｌｌ"]


def test_nfd_keeps_accented_word_whole():
    nfd = make_tokenizer(normalization="NFD")

    assert nfd("Café") == ["cafe\u0301"]


def test_normalization_invalid_raises_config_error():
    with pytest.raises(ConfigError, match=r"featurizer\.normalization: invalid value 'NFX'"):
        make_tokenizer(normalization="NFX")


# Replacement options


def test_replace_numbers_uses_num_token():
    numbers = make_tokenizer(replace_numbers=True)

    assert numbers("3.14 and 2008 but 1990s") == ["<num>", "and", "<num>", "but", "1990s"]


def test_replace_urls_uses_url_token():
    urls = make_tokenizer(replace_urls=True)

    assert urls("go to https://x.org/a or WWW.Y.ORG now 5") == ["go", "to", "<url>", "or", "<url>", "now", "5"]


def test_replace_both_with_custom_pattern():
    both = make_tokenizer(token_pattern=r"\S+", replace_numbers=True, replace_urls=True)

    assert both("see http://x.org 42 ok") == ["see", "<url>", "<num>", "ok"]


# Custom patterns and their validation


def test_custom_pattern_is_used():
    letters = make_tokenizer(token_pattern=r"[a-z]{2,}")

    assert letters("I am 42 and OK") == ["am", "and", "ok"]


def test_custom_pattern_group_gives_tokens():
    hashtags = make_tokenizer(token_pattern=r"#(\w+)")

    assert hashtags("#Fun day #great") == ["fun", "great"]


def test_explicit_default_pattern_matches_default():
    text = "Don't C++ 3.14 😀 https://x.org हिन्दी"

    assert make_tokenizer(token_pattern=DEFAULT_TOKEN_PATTERN)(text) == tokenize(text)


def test_validate_token_pattern_accepts_default():
    assert validate_token_pattern(DEFAULT_TOKEN_PATTERN) is None


def test_validate_token_pattern_invalid_regex():
    with pytest.raises(ConfigError) as caught:
        validate_token_pattern(r"(\w+")
    message = str(caught.value)

    assert "featurizer.token_pattern" in message
    assert "missing ), unterminated subpattern" in message
    assert "'(\\\\w+'" in message


def test_validate_token_pattern_two_groups():
    with pytest.raises(ConfigError, match=r"featurizer\.token_pattern: .* has 2 capture groups"):
        validate_token_pattern(r"(\w)(\w+)")


def test_validate_token_pattern_empty_match():
    with pytest.raises(ConfigError, match=r"featurizer\.token_pattern: .* matches the empty string"):
        validate_token_pattern(r"\w*")


def test_validate_token_pattern_not_string():
    with pytest.raises(ConfigError, match=r"featurizer\.token_pattern: expected a string but got int"):
        validate_token_pattern(5)


def test_make_tokenizer_rejects_invalid_pattern():
    with pytest.raises(ConfigError, match=r"featurizer\.token_pattern: invalid regular expression"):
        make_tokenizer(token_pattern="[a-")


# The hard-coded combining-mark table


def _mark_ranges(first: int, last: int) -> list[tuple[int, int]]:
    ranges: list[list[int]] = []
    for code_point in range(first, last + 1):
        if unicodedata.category(chr(code_point)) not in ("Mn", "Mc", "Me"):
            continue
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1][1] = code_point
        else:
            ranges.append([code_point, code_point])
    return [(start, end) for start, end in ranges]


@pytest.mark.skipif(unicodedata.unidata_version != "14.0.0", reason="the table was generated from Unicode 14.0.0")
def test_bmp_mark_table_matches_unicodedata():
    assert list(tokenize_module._BMP_COMBINING_MARK_RANGES) == _mark_ranges(0, 0xFFFF)


def test_latin_word_class_is_word_characters():
    latin = re.compile(rf"[{tokenize_module._LATIN_WORD_CLASS}]")
    listed = [chr(code_point) for code_point in range(0x250) if latin.match(chr(code_point))]
    not_word = [character for character in listed if not re.match(r"\w", character)]

    assert not_word == []


def test_astral_marks_inside_word_class():
    word_char = re.compile(rf"[{tokenize_module._ASTRAL_MARK_CLASS}]")
    outside = [
        hex(start) for start, end in _mark_ranges(0x10000, sys.maxunicode)
        if not (word_char.match(chr(start)) and word_char.match(chr(end)))
    ]

    assert outside == []


# Properties on arbitrary text


def _prepare(text: str, normalization: str | None, lowercase: bool) -> str:
    if normalization is not None:
        text = unicodedata.normalize(normalization, text).replace("\u2019", "'")
    return text.casefold() if lowercase else text


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(),
    normalization=st.sampled_from([None, "NFC", "NFKC", "NFD", "NFKD"]),
    lowercase=st.booleans(),
    replace_numbers=st.booleans(),
    replace_urls=st.booleans(),
)
def test_tokenizer_tokens_never_contain_whitespace(text, normalization, lowercase, replace_numbers, replace_urls):
    tokenizer = make_tokenizer(
        lowercase=lowercase,
        normalization=normalization,
        replace_numbers=replace_numbers,
        replace_urls=replace_urls,
    )

    tokens = tokenizer(text)

    assert all(token for token in tokens)
    assert not any(character.isspace() for token in tokens for character in token)


# Characters that exercise the branches of the default pattern.
_TRICKY_ALPHABET = st.sampled_from(
    list("aZ5_'.,#+:/ \t\u00a0\u2009\u3000\u2019\u200c\u200d\ufe0f\u20e3")
    + ["\u0301", "\u093f", "\u094d", "क", "日", "😀", "👍", "\U0001f3fd", "\U0001f1eb", "\U0001f1f7", "\U00011000",
       "\U00011038", "\U000e0067", "http://", "www.", "ß", "ﬁ", "Ａ"]
)


@settings(max_examples=500, deadline=None)
@given(text=st.lists(_TRICKY_ALPHABET, max_size=30).map("".join))
def test_default_tokens_are_substrings_in_order(text):
    prepared = _prepare(text, "NFKC", lowercase=True)
    position = 0

    for token in tokenize(text):
        found = prepared.find(token, position)
        assert found >= 0, (token, prepared)
        assert not any(character.isspace() for character in token)
        position = found + len(token)


def default_and_greedy_patterns() -> tuple[re.Pattern, re.Pattern]:
    """Compile the default pattern with possessive quantifiers (as on Python 3.11+) and with greedy ones (3.10)."""
    saved = tokenize_module._POSSESSIVE
    try:
        tokenize_module._POSSESSIVE = "+"
        default = re.compile(tokenize_module._build_default_pattern())
        tokenize_module._POSSESSIVE = ""
        greedy = re.compile(tokenize_module._build_default_pattern())
    finally:
        tokenize_module._POSSESSIVE = saved
    return default, greedy


DEFAULT_PATTERN, GREEDY_PATTERN = default_and_greedy_patterns() if sys.version_info >= (3, 11) else (None, None)
needs_possessive = pytest.mark.skipif(sys.version_info < (3, 11), reason="possessive quantifiers need Python 3.11")

GREEDY_CASES = [
    "1,234.56 and 1.2. or .5, 12,, 3.4.5,6 ١٢٣.٤",
    "l'homme n'est pas l’ami d'aujourd'hui's'",
    "https://example.com/a.b?c=1, www.Example.org. c++ c# abc++ x#",
    "naïve café coöperate क्षत्रिय فارسی‌زبان 🇫🇷 👍🏽 👨‍👩‍👧",
    "o'''neil ''quoted'' don’t rock'n'roll 9'6\" 1990's",
]


@needs_possessive
@pytest.mark.parametrize("text", GREEDY_CASES)
def test_greedy_pattern_same_tokens(text):
    assert GREEDY_PATTERN.findall(text) == DEFAULT_PATTERN.findall(text)
    assert DEFAULT_PATTERN.findall(text)


@needs_possessive
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1.,'’ é\u0301\u200d👍🏽#+:/w")), max_size=40))
def test_greedy_pattern_same_generated_tokens(text):
    assert GREEDY_PATTERN.findall(text) == DEFAULT_PATTERN.findall(text)
