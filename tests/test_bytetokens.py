"""The byte tokenizer gives the same token stream as the default tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logreg_cli.bytetokens import hash_tokens, stream_from_documents, token_hashes
from logreg_cli.config import FeaturizerConfig
from logreg_cli.data import read_corpus
from logreg_cli.featurize import Featurizer
from logreg_cli.ngrams import TokenStream
from logreg_cli.tokenize import make_tokenizer

from conftest import corpus_dir


def assert_same_stream(documents: list[str], *, lowercase: bool = True, normalization: str | None = "NFKC") -> None:
    tokenize = make_tokenizer(lowercase=lowercase, normalization=normalization)
    expected = TokenStream.from_token_lists([tokenize(document) for document in documents])
    actual = stream_from_documents(documents, tokenize, lowercase=lowercase, normalization=normalization)
    assert actual.tokens == expected.tokens
    np.testing.assert_array_equal(actual.ids, expected.ids)
    np.testing.assert_array_equal(actual.rows, expected.rows)
    np.testing.assert_array_equal(actual.lengths, expected.lengths)


@pytest.mark.parametrize("document, tokens", [
    ("Don't stop", ["don't", "stop"]),
    ("It costs 3.14 or 1,000,000", ["it", "costs", "3.14", "or", "1,000,000"]),
    ("2.5x 1990s a1.5 1.5.6a", ["2.5", "x", "1990s", "a1", "5", "1.5.6", "a"]),
    ("c++ and c# but not abc++ or 1.5c#", ["c++", "and", "c#", "but", "not", "abc", "or", "1.5", "c"]),
    ("see www.example.com or http://a.b/c", ["see", "www.example.com", "or", "http://a.b/c"]),
    ("1.5'a 5'10.5 l'homme", ["1.5", "a", "5'10", "5", "l'homme"]),
    ("naïve café 3.14", ["naïve", "café", "3.14"]),
    ("Ça coûte £5 «Übermaß» É++ l'été 2½ µs", ["ça", "coûte", "5", "übermass", "é++", "l'été", "21", "2", "μs"]),
    ("Ça coûte £5 «Über» É++ l'été ×2", ["ça", "coûte", "5", "über", "é++", "l'été", "2"]),
    ("", []),
])
def test_examples(document: str, tokens: list[str]) -> None:
    assert make_tokenizer()(document) == tokens
    stream = stream_from_documents([document], make_tokenizer(), lowercase=True, normalization="NFKC")
    assert [stream.tokens[i] for i in stream.ids] == tokens
    assert_same_stream([document, document.upper(), "x"])


ASCII_PIECES = st.sampled_from(list("aAbZ019_ '.,#+:/w\n\t-") + ["www.", "http://", "c++", "1.5", "'s", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(ASCII_PIECES, max_size=30).map("".join), max_size=8), st.booleans())
def test_random_documents(documents: list[str], lowercase: bool) -> None:
    assert_same_stream(documents, lowercase=lowercase)


# Every Latin-1 character, so both the covered ones and the others (which send the document to re) come up.
LATIN1_PIECES = ASCII_PIECES | st.characters(min_codepoint=0x80, max_codepoint=0xFF) | st.sampled_from(["Ü", "ß", "\u2019"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(LATIN1_PIECES, max_size=30).map("".join), max_size=8), st.booleans(),
       st.sampled_from([None, "NFC", "NFKC", "NFD", "NFKD"]))
def test_random_latin1_documents(documents: list[str], lowercase: bool, normalization: str | None) -> None:
    assert_same_stream(documents, lowercase=lowercase, normalization=normalization)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_any_text(documents: list[str]) -> None:
    assert_same_stream(documents)


def test_chunks_and_long_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    import logreg_cli.bytetokens as bytetokens

    monkeypatch.setattr(bytetokens, "CHUNK_BYTES", 64)
    documents = ["word " * 50, "short one", "3.14 " * 30 + "don't", "", "x"] * 3
    assert_same_stream(documents)


@pytest.mark.parametrize("name", ["sms_spam", "movie_review_polarity_v2", "imdb_aclimdb", "20newsgroups_bydate"])
def test_real_corpora(name: str) -> None:
    directory = corpus_dir(name)
    documents = read_corpus(str(directory / "test.tsv")).documents
    assert_same_stream(documents)


@pytest.mark.parametrize("ngram_max", [1, 2, 3])
def test_transform_by_hashes_matches_strings(monkeypatch: pytest.MonkeyPatch, ngram_max: int) -> None:
    documents = ["Don't stop at 3.14, c++ fans", "naïve café", "the the the cat", "", "x y z x y", "1,000 cats' toys"]
    featurizer = Featurizer(FeaturizerConfig(ngram_max=ngram_max)).fit(documents[:4])
    assert featurizer._looks_up_token_hashes()
    by_hashes = featurizer.transform(documents)
    monkeypatch.setattr(Featurizer, "_looks_up_token_hashes", lambda self: False)
    by_strings = featurizer.transform(documents)
    np.testing.assert_array_equal(by_hashes.indptr, by_strings.indptr)
    np.testing.assert_array_equal(by_hashes.indices, by_strings.indices)
    np.testing.assert_array_equal(by_hashes.data, by_strings.data)


def test_hash_tokens_matches_documents() -> None:
    tokens = ["don't", "3.14", "café", "c++", "x"]
    hashes, lengths = token_hashes([" ".join(tokens)], make_tokenizer(), lowercase=True, normalization="NFKC")
    np.testing.assert_array_equal(lengths, [5])
    np.testing.assert_array_equal(hashes, hash_tokens(tokens))


def test_long_token_same_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    import logreg_cli.bytetokens as bytetokens

    tokens = ["x" * 300 + "yz", "short", "a" * 64, "b" * 65]
    expected = hash_tokens(tokens)
    monkeypatch.setattr(bytetokens, "CHUNK_BYTES", 64)
    np.testing.assert_array_equal(hash_tokens(tokens), expected)
    assert_same_stream([" ".join(tokens), "x" * 1000])


@pytest.mark.parametrize("name", ["movie_review_polarity_v2", "20newsgroups_bydate"])
def test_real_transform_by_hashes(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    directory = corpus_dir(name)
    featurizer = Featurizer(FeaturizerConfig(ngram_max=2)).fit(read_corpus(str(directory / "train.tsv")).documents)
    documents = read_corpus(str(directory / "test.tsv")).documents
    by_hashes = featurizer.transform(documents)
    monkeypatch.setattr(Featurizer, "_looks_up_token_hashes", lambda self: False)
    by_strings = featurizer.transform(documents)
    np.testing.assert_array_equal(by_hashes.indices, by_strings.indices)
    np.testing.assert_array_equal(by_hashes.data, by_strings.data)
