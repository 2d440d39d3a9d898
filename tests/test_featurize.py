"""Tests for the featurizer: n-grams, pruning, values, hashing, hand-written features and the file format."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logreg_cli import featurize as featurize_module
from logreg_cli import vocabulary
from logreg_cli.bytetokens import hash_tokens
from logreg_cli.cli import main
from logreg_cli.config import load_config
from logreg_cli.data import ReadOptions, read_corpus
from logreg_cli.errors import ConfigError, DataError, ModelFileError
from logreg_cli.featurize import Featurizer
from logreg_cli.hashing import stable_hash
from logreg_cli.model import FeaturesFile
from logreg_cli.ngrams import char_ngrams
from logreg_cli.sparse import CSRMatrix

from conftest import corpus_dir

REPOSITORY = Path(__file__).resolve().parents[1]

# Repeated words, a word that is a prefix of longer n-grams, punctuation, an
# apostrophe, a number, an empty document and a document of one short token.
CORPUS = [
    "The film was great, a great film and a fun film.",
    "A dull plot; the acting was dull and the plot was dull.",
    "Great acting! Great plot? Not a dull moment in the film.",
    "I didn't like it: the worst film of 2008, a waste.",
    "",
    "a",
    "The plot of the film was the plot of a great film.",
    "Fun, fun, fun: the best film I've seen in years.",
]

TEXTBOOK = [
    ("pos", "This is a great film!"),
    ("neg", "Worst crap I've ever seen."),
    ("neg", "Great plot but bad acting."),
    ("pos", "The film was made in 2008."),
]


# The expected matrices below were written for binary values and plain tf-idf counts, so the
# tests pin those settings instead of following the defaults; each test's overrides come after.
PINNED = ("values=binary", "sublinear_tf=false")


def make_featurizer(*overrides: str) -> Featurizer:
    return Featurizer(load_config(None, [f"featurizer.{item}" for item in (*PINNED, *overrides)]).featurizer)


def dense(X: CSRMatrix) -> np.ndarray:
    out = np.zeros(X.shape)
    rows = np.repeat(np.arange(X.n_rows), np.diff(X.indptr))
    out[rows, X.indices] = X.data
    return out


def assert_same_matrix(X: CSRMatrix, Y: CSRMatrix) -> None:
    assert X.shape == Y.shape
    assert np.array_equal(X.indptr, Y.indptr)
    assert np.array_equal(X.indices, Y.indices)
    assert np.array_equal(X.data, Y.data)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- Agreement with scikit-learn ---------------------------------------------------------

# (our overrides, scikit-learn vectorizer arguments). The stop-word file contains "the", "a" and "of".
SKLEARN_CASES = {
    "unigram-counts": (["values=counts", "normalize=none"], {"kind": "count"}),
    "unigram-binary-l2": (["values=binary"], {"kind": "count", "binary": True, "norm": "l2"}),
    "bigram-counts": (["ngram_max=2", "values=counts", "normalize=none"], {"kind": "count", "ngram_range": (1, 2)}),
    "trigram-tfidf-l2": (["ngram_max=3", "values=tfidf"], {"kind": "tfidf", "ngram_range": (1, 3), "norm": "l2"}),
    "bigram-tfidf-sublinear-raw": (["ngram_max=2", "values=tfidf", "sublinear_tf=true", "normalize=none"],
                                   {"kind": "tfidf", "ngram_range": (1, 2), "sublinear_tf": True, "norm": None}),
    "min-df-count-max-df": (["ngram_max=2", "values=counts", "normalize=none", "min_df=2", "max_df=0.5"],
                            {"kind": "count", "ngram_range": (1, 2), "min_df": 2, "max_df": 0.5}),
    "min-df-fraction": (["ngram_max=2", "values=tfidf", "min_df=0.25"],
                        {"kind": "tfidf", "ngram_range": (1, 2), "min_df": 0.25, "norm": "l2"}),
    "stop-words-bigram": (["ngram_max=2", "values=counts", "normalize=none", "stop_words=STOP"],
                          {"kind": "count", "ngram_range": (1, 2), "stop_words": ["the", "a", "of"]}),
    "char-wb": (["ngram_max=0", "char_ngrams=[2, 5]", "values=counts", "normalize=none"],
                {"kind": "char", "ngram_range": (2, 5)}),
    "words-and-chars-tfidf": (["ngram_max=2", "char_ngrams=[3, 4]", "values=tfidf"],
                              {"kind": "union", "ngram_range": (1, 2), "char_range": (3, 4), "norm": "l2"}),
}


def sklearn_matrix(featurizer: Featurizer, documents: list[str], options: dict):
    """Return scikit-learn's matrix and its column names for the same settings."""
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
    from sklearn.preprocessing import normalize
    import scipy.sparse

    options = dict(options)
    kind = options.pop("kind")
    norm = options.pop("norm", None)
    char_range = options.pop("char_range", None)
    # Our tokenizer does the case folding, so scikit-learn must not lowercase again.
    word_arguments = {"tokenizer": featurizer.tokenize, "lowercase": False, "token_pattern": None}
    # Character n-grams "inside word boundaries" of our tokens: scikit-learn splits at spaces.
    char_arguments = {"analyzer": "char_wb", "preprocessor": lambda text: " ".join(featurizer.tokenize(text)),
                      "lowercase": False}
    if kind == "count":
        vectorizer = CountVectorizer(**word_arguments, **options)
        matrix = vectorizer.fit_transform(documents)
        names = vectorizer.get_feature_names_out().tolist()
        return (normalize(matrix, norm=norm) if norm else matrix), names
    if kind == "tfidf":
        vectorizer = TfidfVectorizer(**word_arguments, norm=norm, **options)
        return vectorizer.fit_transform(documents), vectorizer.get_feature_names_out().tolist()
    if kind == "char":
        vectorizer = CountVectorizer(**char_arguments, **options)
        matrix = vectorizer.fit_transform(documents)
        return matrix, [f"char[{name}]" for name in vectorizer.get_feature_names_out()]
    words = CountVectorizer(**word_arguments, **options)
    chars = CountVectorizer(**char_arguments, ngram_range=char_range)
    counts = scipy.sparse.hstack([words.fit_transform(documents), chars.fit_transform(documents)]).tocsr()
    names = words.get_feature_names_out().tolist() + [f"char[{name}]" for name in chars.get_feature_names_out()]
    return TfidfTransformer(norm=norm).fit_transform(counts), names


def check_against_sklearn(documents: list[str], overrides: list[str], options: dict, stop_file: Path) -> None:
    overrides = [item.replace("STOP", str(stop_file)) for item in overrides]
    featurizer = make_featurizer(*overrides)
    X = featurizer.fit_transform(documents)
    expected, expected_names = sklearn_matrix(featurizer, documents, options)

    import scipy.sparse

    names = featurizer.feature_names()[1:]
    assert sorted(names) == sorted(expected_names)
    ours = scipy.sparse.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape)
    assert np.all(ours[:, 0].toarray() == 1.0)
    column_of = {name: column for column, name in enumerate(expected_names)}
    reordered = expected.tocsc()[:, [column_of[name] for name in names]]
    # Sparse comparison: the dense matrices of the real corpus would take gigabytes.
    difference = abs(ours[:, 1:] - reordered)
    assert difference.nnz == 0 or difference.max() <= 1e-12


@pytest.fixture
def stop_file(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "stop.txt", ["# stop words", "The", "a", "", "of"])


@pytest.mark.parametrize("case", list(SKLEARN_CASES))
def test_featurizer_matches_sklearn_inline(case, stop_file):
    overrides, options = SKLEARN_CASES[case]
    check_against_sklearn(CORPUS, overrides, options, stop_file)


@pytest.mark.parametrize("case", list(SKLEARN_CASES))
def test_featurizer_matches_sklearn_sms_spam(case, stop_file):
    corpus = read_corpus(corpus_dir("sms_spam") / "train.tsv", ReadOptions())
    overrides, options = SKLEARN_CASES[case]
    check_against_sklearn(corpus.documents, overrides, options, stop_file)


def test_max_features_matches_sklearn_without_ties():
    # The three most frequent tokens occur 9 (the), 8 (film) and 7 (a) times and the fourth 5 times,
    # so the cut falls between two counts and the order of ties does not matter.
    check_against_sklearn(CORPUS, ["values=counts", "normalize=none", "max_features=3"],
                          {"kind": "count", "max_features": 3}, Path("unused"))


# --- Vocabulary order and pruning --------------------------------------------------------

def test_vocabulary_order_count_then_code_points():
    featurizer = make_featurizer("ngram_max=2")
    featurizer.fit(["b a", "a b", "c"])
    # a and b occur twice; "a b", "b a" and c once. Ties go by code points, a unigram before its bigrams.
    assert featurizer.feature_names() == ["<bias>", "a", "b", "a b", "b a", "c"]


@pytest.mark.parametrize("overrides", [["ngram_max=3"], ["ngram_max=2", "max_features=12", "min_df=2"],
                                       ["ngram_max=2", "char_ngrams=[2, 3]", "max_features=40"]])
def test_packed_ranking_matches_lexsort(overrides, monkeypatch):
    packed = make_featurizer(*overrides)
    X = packed.fit_transform(CORPUS)
    monkeypatch.setattr(vocabulary, "ONE_KEY_BITS", 0)  # forces np.lexsort over the columns
    lexsorted = make_featurizer(*overrides)
    assert_same_matrix(lexsorted.fit_transform(CORPUS), X)
    assert lexsorted.feature_names() == packed.feature_names()
    np.testing.assert_array_equal(lexsorted.ngrams.ngrams, packed.ngrams.ngrams)


def test_max_features_ties_keep_code_point_order():
    featurizer = make_featurizer("max_features=2")
    featurizer.fit(["zeta beta", "alpha gamma"])
    assert list(featurizer.vocabulary) == ["alpha", "beta"]


def test_vocabulary_independent_of_hash_seed(tmp_path):
    script = (
        "import json, sys\n"
        "from logreg_cli.config import load_config\n"
        "from logreg_cli.featurize import Featurizer\n"
        "documents = json.loads(sys.stdin.read())\n"
        "featurizer = Featurizer(load_config(None, ['featurizer.ngram_max=3', 'featurizer.char_ngrams=[2, 3]']).featurizer)\n"
        "X = featurizer.fit_transform(documents)\n"
        "print(json.dumps([featurizer.feature_names(), X.indices.tolist(), X.data.tolist()]))\n"
    )
    outputs = [run_python(script, seed, json.dumps(CORPUS)) for seed in ("0", "1", "12345")]
    assert outputs[0] == outputs[1]
    assert outputs[0] == outputs[2]


def test_min_df_count_keeps_shared_ngrams():
    featurizer = make_featurizer("min_df=3")
    featurizer.fit(["red fish", "red cat", "red dog", "blue fish", "blue cat"])
    assert set(featurizer.vocabulary) == {"red"}


def test_min_df_fraction_rounds_like_sklearn():
    # 0.4 of 5 documents is 2.0, and a document frequency of exactly 2 passes.
    featurizer = make_featurizer("min_df=0.4")
    featurizer.fit(["red fish", "red cat", "red dog", "blue fish", "blue cat"])
    assert set(featurizer.vocabulary) == {"red", "blue", "fish", "cat"}


def test_max_df_drops_common_ngrams():
    featurizer = make_featurizer("max_df=0.5")
    featurizer.fit(["red fish", "red cat", "red dog", "blue fish"])
    assert set(featurizer.vocabulary) == {"fish", "cat", "dog", "blue"}


def test_min_count_counts_occurrences_not_documents():
    featurizer = make_featurizer("min_count=2")
    featurizer.fit(["fish fish", "cat", "dog dog"])
    assert set(featurizer.vocabulary) == {"fish", "dog"}


def test_stop_words_removed_before_bigrams(tmp_path):
    stop = write_lines(tmp_path / "stop.txt", ["of"])
    featurizer = make_featurizer("ngram_max=2", f"stop_words={stop}")
    featurizer.fit(["cup of tea"])
    assert set(featurizer.vocabulary) == {"cup", "tea", "cup tea"}
    assert featurizer.stop_words == ["of"]


def test_stop_words_apply_case_folding(tmp_path):
    stop = write_lines(tmp_path / "stop.txt", ["THE"])
    featurizer = make_featurizer(f"stop_words={stop}")
    featurizer.fit(["The cat"])
    assert set(featurizer.vocabulary) == {"cat"}


def test_empty_vocabulary_names_min_df():
    featurizer = make_featurizer("min_df=5")
    with pytest.raises(DataError) as error:
        featurizer.fit(["red fish", "blue cat"], source="train.tsv")
    assert str(error.value).startswith("train.tsv: no features left after tokenizing 2 documents")
    assert "lower featurizer.min_df" in str(error.value)


def test_empty_vocabulary_names_max_df():
    featurizer = make_featurizer("max_df=0.4")
    with pytest.raises(DataError, match="raise featurizer.max_df"):
        featurizer.fit(["red fish", "red fish"], source="train.tsv")


def test_empty_vocabulary_all_stop_words(tmp_path):
    stop = write_lines(tmp_path / "stop.txt", ["red", "fish"])
    featurizer = make_featurizer(f"stop_words={stop}")
    with pytest.raises(DataError, match="featurizer.stop_words"):
        featurizer.fit(["red fish", "fish"], source="train.tsv")


def test_missing_stop_word_file_names_key(tmp_path):
    featurizer = make_featurizer(f"stop_words={tmp_path / 'absent.txt'}")
    with pytest.raises(ConfigError, match=r"featurizer.stop_words: file .*absent.txt not found"):
        featurizer.fit(["red fish"])


def test_char_ngrams_short_token_once():
    assert char_ngrams("a", 2, 5) == [" a", "a ", " a "]


def test_char_ngrams_counts_repeats():
    assert char_ngrams("aaa", 2, 2) == [" a", "aa", "aa", "a "]


def test_transform_ignores_unknown_ngrams():
    featurizer = make_featurizer("ngram_max=2", "values=counts", "normalize=none")
    featurizer.fit(["red fish"])
    X = featurizer.transform(["red red fish blue"])
    row = dict(zip(featurizer.feature_names(), dense(X)[0]))
    assert row == {"<bias>": 1.0, "red": 2.0, "fish": 1.0, "red fish": 1.0}


def test_transform_finds_trigram_whose_prefix_was_pruned():
    # max_df drops "x y" (in 3 of 4 documents) but keeps "x y z" (in 1).
    featurizer = make_featurizer("ngram_max=3", "values=counts", "normalize=none", "max_df=0.5")
    featurizer.fit(["x y z", "x y", "x y w", "q"])
    assert "x y" not in featurizer.vocabulary
    X = featurizer.transform(["x y z"])
    row = {name: value for name, value in zip(featurizer.feature_names(), dense(X)[0]) if value}
    assert row == {"<bias>": 1.0, "z": 1.0, "y z": 1.0, "x y z": 1.0}


@pytest.mark.parametrize("overrides", [
    ["ngram_max=3"],
    ["ngram_max=2", "char_ngrams=[1, 3]", "values=tfidf"],
    ["hash_bits=6", "ngram_max=2"],
    ["hash_bits=6", "ngram_max=3", "values=tfidf", "stop_words=STOP"],
    ["hash_bits=6", "ngram_max=2", "values=tfidf", "regexes=[{name: exclamation, pattern: '!', value: count}]"],
    # Stop words and hand-written features read the tokens, so fit_transform must not count from kept token ids.
    ["ngram_max=2", "stop_words=STOP"],
    ["ngram_max=2", "regexes=[{name: exclamation, pattern: '!', value: count}]"],
])
def test_transform_matches_fit_transform(overrides, stop_file):
    featurizer = make_featurizer(*[item.replace("STOP", str(stop_file)) for item in overrides])
    X = featurizer.fit_transform(CORPUS)
    assert_same_matrix(featurizer.transform(CORPUS), X)


def test_rows_have_sorted_unique_columns():
    X = make_featurizer("ngram_max=3", "char_ngrams=[2, 4]").fit_transform(CORPUS)
    for row in range(X.n_rows):
        columns = X.indices[X.indptr[row]:X.indptr[row + 1]]
        assert columns[0] == 0
        assert np.all(np.diff(columns) > 0)


# --- Values and normalization --------------------------------------------------------------

def test_l2_norm_leaves_out_bias_and_handcrafted():
    featurizer = make_featurizer("values=counts", "document_length=count")
    X = dense(featurizer.fit_transform(["red red fish"]))
    np.testing.assert_allclose(X[0], [1.0, 2 / np.sqrt(5), 1 / np.sqrt(5), 3.0], rtol=0, atol=1e-15)


def test_tfidf_smoothed_idf_values():
    featurizer = make_featurizer("values=tfidf", "normalize=none")
    X = dense(featurizer.fit_transform(["red fish", "red"]))
    idf_fish = np.log(3 / 2) + 1.0
    assert featurizer.feature_names() == ["<bias>", "red", "fish"]
    np.testing.assert_allclose(X, [[1.0, 1.0, idf_fish], [1.0, 1.0, 0.0]], rtol=0, atol=1e-15)


def test_sublinear_tf_uses_log_count():
    featurizer = make_featurizer("values=tfidf", "sublinear_tf=true", "normalize=none")
    X = dense(featurizer.fit_transform(["red red red"]))
    np.testing.assert_allclose(X[0], [1.0, 1.0 + np.log(3.0)], rtol=0, atol=1e-15)


# --- Hashing -------------------------------------------------------------------------------

def run_python(script: str, seed: str, stdin: str = "") -> str:
    environment = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run([sys.executable, "-c", script], input=stdin, capture_output=True, text=True,
                            env=environment, cwd=REPOSITORY, check=True)
    return result.stdout


def test_hashing_identical_across_processes_and_seeds():
    script = (
        "import json, sys\n"
        "from logreg_cli.config import load_config\n"
        "from logreg_cli.featurize import Featurizer\n"
        "documents = json.loads(sys.stdin.read())\n"
        "settings = load_config(None, ['featurizer.hash_bits=12', 'featurizer.ngram_max=3',\n"
        "                              'featurizer.char_ngrams=[2, 4]', 'featurizer.values=tfidf',\n"
        "                              'featurizer.sublinear_tf=false']).featurizer\n"
        "X = Featurizer(settings).fit_transform(documents)\n"
        "print(json.dumps([X.indptr.tolist(), X.indices.tolist(), X.data.tolist()]))\n"
    )
    first = run_python(script, "1", json.dumps(CORPUS))
    second = run_python(script, "2", json.dumps(CORPUS))
    assert first == second
    X = make_featurizer("hash_bits=12", "ngram_max=3", "char_ngrams=[2, 4]", "values=tfidf").fit_transform(CORPUS)
    indptr, indices, data = json.loads(first)
    assert indptr == X.indptr.tolist()
    assert indices == X.indices.tolist()
    assert data == X.data.tolist()


def test_legacy_hash_is_blake2b_of_utf8():
    expected = int.from_bytes(hashlib.blake2b("café".encode(), digest_size=8, person=b"logreg-word").digest(), "little")
    assert int(stable_hash(["café"])[0]) == expected


def test_bytes_token_hash_is_pinned():
    # Saved models depend on these columns: a change to the token hash must fail here, not move columns silently.
    assert int(hash_tokens(["owl"])[0]) == 0x7FC221F31A6C5446


@pytest.mark.parametrize("scheme, token_hash", [("bytes", hash_tokens), ("blake2b", stable_hash)])
def test_hashed_token_column_and_sign(scheme, token_hash):
    featurizer = make_featurizer("hash_bits=10", "values=counts", "normalize=none")
    featurizer.hash_scheme = scheme
    X = dense(featurizer.fit_transform(["owl owl"]))
    value = int(token_hash(["owl"])[0])
    column = 1 + (value & 1023)
    sign = -1.0 if value >> 63 else 1.0
    assert X.shape == (1, 1 + 1024)
    assert X[0, column] == 2.0 * sign
    assert np.count_nonzero(X[0]) == 2


def test_hashing_collisions_sum_with_signs():
    featurizer = make_featurizer("hash_bits=1", "values=counts", "normalize=none")
    tokens = ["alpha", "beta", "gamma", "delta", "epsilon"]
    X = dense(featurizer.fit_transform([" ".join(tokens)]))
    hashes = [int(h) for h in hash_tokens(tokens)]
    expected = np.zeros(2)
    for token_hash in hashes:
        expected[token_hash & 1] += -1.0 if token_hash >> 63 else 1.0
    np.testing.assert_array_equal(X[0, 1:], expected)


HASHED_CORPUS = [*CORPUS, "Café crème, déjà vu: the film of the year.", "see http://example.com/film now", "the the the"]


@pytest.mark.parametrize("overrides", [
    ["hash_bits=4", "ngram_max=3", "values=counts", "normalize=none"],
    ["hash_bits=12", "ngram_max=2", "values=tfidf", "sublinear_tf=true", "stop_words=STOP"],
    ["hash_bits=10", "ngram_max=2", "values=binary", "token_pattern='[a-z]+'"],
])
def test_hashed_fast_path_matches_strings(overrides, stop_file, monkeypatch):
    overrides = [item.replace("STOP", str(stop_file)) for item in overrides]
    fast = make_featurizer(*overrides)
    X = fast.fit_transform(HASHED_CORPUS)
    assert fast._counts_token_hashes()
    # The same settings through token strings (TokenStream), the path of character n-grams and word lists.
    monkeypatch.setattr(Featurizer, "_counts_token_hashes", lambda self: False)
    slow = make_featurizer(*overrides)
    assert_same_matrix(slow.fit_transform(HASHED_CORPUS), X)
    np.testing.assert_array_equal(slow.idf if slow.idf is not None else 0, fast.idf if fast.idf is not None else 0)


def test_hashed_fast_path_real_corpus(monkeypatch):
    documents = read_corpus(corpus_dir("sms_spam") / "train.tsv", ReadOptions()).documents
    fast = make_featurizer("hash_bits=18", "ngram_max=2", "values=tfidf", "sublinear_tf=true")
    X = fast.fit_transform(documents)
    monkeypatch.setattr(Featurizer, "_counts_token_hashes", lambda self: False)
    assert_same_matrix(make_featurizer("hash_bits=18", "ngram_max=2", "values=tfidf", "sublinear_tf=true")
                       .fit_transform(documents), X)


def test_missing_hash_scheme_means_blake2b(tmp_path):
    # Files written before the bytes scheme name no scheme. They must keep their BLAKE2b columns.
    legacy = make_featurizer("hash_bits=10", "ngram_max=2", "values=tfidf")
    legacy.hash_scheme = "blake2b"
    X = legacy.fit_transform(CORPUS)
    arrays = legacy.to_arrays()
    assert str(arrays.pop("hash_scheme")) == "blake2b"
    loaded = Featurizer.from_arrays(arrays, source="old.npz")
    assert loaded.hash_scheme == "blake2b"
    assert_same_matrix(loaded.transform(CORPUS), X)
    current = make_featurizer("hash_bits=10", "ngram_max=2", "values=tfidf")
    assert current.hash_scheme == "bytes"
    assert not np.array_equal(current.fit_transform(CORPUS).indices, X.indices)
    with pytest.raises(ModelFileError, match=r"old.npz: unknown hash_scheme 'md5'.*upgrade logreg-cli or train the model again"):
        Featurizer.from_arrays({**arrays, "hash_scheme": np.array("md5")}, source="old.npz")


def test_hashing_stores_no_vocabulary():
    featurizer = make_featurizer("hash_bits=8", "ngram_max=2")
    featurizer.fit(CORPUS)
    arrays = featurizer.to_arrays()
    assert featurizer.ngrams is None
    assert featurizer.vocabulary == {}
    assert arrays["vocabulary_bytes"].size == 0
    assert featurizer.n_features == 1 + 256


def test_hashing_rejects_pruning_keys():
    with pytest.raises(ConfigError, match=r"featurizer.min_df=2 prunes a vocabulary, but featurizer.hash_bits=8"):
        make_featurizer("hash_bits=8", "min_df=2")


def test_contradicting_keys_name_their_source(tmp_path):
    config = tmp_path / "hashed.yaml"
    config.write_text("featurizer:\n  hash_bits: 20\n  min_df: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as from_file:
        load_config(config)
    assert str(from_file.value).startswith(f"{config}: featurizer.min_df=2 prunes a vocabulary")
    with pytest.raises(ConfigError) as from_override:
        load_config(None, ["featurizer.bag_of_words=false"])
    assert str(from_override.value).startswith("--set featurizer.bag_of_words=false: featurizer.bag_of_words is false")


# --- Hand-written features -----------------------------------------------------------------

@pytest.fixture
def lexicons(tmp_path: Path) -> tuple[Path, Path]:
    positive = write_lines(tmp_path / "positive.txt", ["# good words", "Great", "fun", "very good"])
    negative = write_lines(tmp_path / "negative.txt", ["bad", "dull"])
    return positive, negative


def word_list_overrides(positive: Path, negative: Path, value: str) -> str:
    return (f"word_lists=[{{name: positive, file: '{positive}', value: {value}}}, "
            f"{{name: negative, file: '{negative}', value: {value}}}]")


def test_word_list_presence_count_proportion(lexicons):
    documents = ["great fun, great plot", "dull", ""]
    expected = {
        "presence": [[1, 1, 0], [1, 0, 1], [1, 0, 0]],
        "count": [[1, 3, 0], [1, 0, 1], [1, 0, 0]],
        "proportion": [[1, 0.75, 0], [1, 0, 1], [1, 0, 0]],
    }
    for value, rows in expected.items():
        featurizer = make_featurizer("bag_of_words=false", word_list_overrides(*lexicons, value))
        np.testing.assert_allclose(dense(featurizer.fit_transform(documents)), rows, rtol=0, atol=1e-15)


def test_word_list_skips_multi_token_lines(lexicons, caplog):
    featurizer = make_featurizer("bag_of_words=false", word_list_overrides(*lexicons, "presence"))
    featurizer.fit(["x"])
    assert featurizer.handcrafted.word_lists[0].words == ["fun", "great"]
    assert "1 lines are not exactly one token" in caplog.text


def test_regex_presence_and_count_on_raw_text():
    featurizer = make_featurizer(
        "bag_of_words=false",
        "regexes=[{name: exclamation, pattern: '!', value: count}, {name: year, pattern: '\\b(19|20)\\d\\d\\b'}]",
    )
    X = dense(featurizer.fit_transform(["Wow!! Great!", "Made in 2008.", "nothing"]))
    assert featurizer.feature_names() == ["<bias>", "regex:exclamation", "regex:year"]
    np.testing.assert_array_equal(X, [[1, 3, 0], [1, 0, 1], [1, 0, 0]])


def test_document_length_count_and_log():
    count = dense(make_featurizer("bag_of_words=false", "document_length=count").fit_transform(["a b c", ""]))
    log = dense(make_featurizer("bag_of_words=false", "document_length=log").fit_transform(["a b c", ""]))
    np.testing.assert_array_equal(count, [[1, 3], [1, 0]])
    np.testing.assert_allclose(log, [[1, np.log(4.0)], [1, 0]], rtol=0, atol=1e-15)


def test_handcrafted_columns_follow_ngrams(lexicons):
    featurizer = make_featurizer("values=tfidf", word_list_overrides(*lexicons, "count"), "document_length=count")
    X = dense(featurizer.fit_transform(["great great plot", "dull plot"]))
    names = featurizer.feature_names()
    assert names[-3:] == ["word_list:positive", "word_list:negative", "document_length:count"]
    # tf-idf and the L2 norm leave the hand-written values alone.
    np.testing.assert_array_equal(X[:, -3:], [[2, 0, 3], [0, 1, 2]])
    np.testing.assert_allclose(np.linalg.norm(X[:, 1:-3], axis=1), [1.0, 1.0], rtol=0, atol=1e-12)


def test_textbook_vectors_through_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(REPOSITORY)
    corpus = write_lines(tmp_path / "textbook.tsv", [f"{label}\t{text}" for label, text in TEXTBOOK])
    output = tmp_path / "textbook.npz"
    result = CliRunner().invoke(main, ["featurize", "-c", "configs/textbook.yaml", str(corpus), "-o", str(output)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with np.load(output, allow_pickle=False) as archive:
        X = CSRMatrix(archive["data"], archive["indices"], archive["indptr"], tuple(archive["shape"]))
    assert dense(X).tolist() == [[1, 1, 0], [1, 0, 1], [1, 1, 1], [1, 0, 0]]


def test_bag_of_words_off_needs_handcrafted():
    with pytest.raises(ConfigError, match="featurizer.bag_of_words is false and no hand-written feature"):
        make_featurizer("bag_of_words=false")


def test_ngram_max_zero_needs_char_ngrams():
    with pytest.raises(ConfigError, match="featurizer.ngram_max is 0 and featurizer.char_ngrams is null"):
        make_featurizer("ngram_max=0")


# --- Config validation of the featurizer keys -----------------------------------------------

@pytest.mark.parametrize("override, message", [
    ("char_ngrams=[3, 2]", "featurizer.char_ngrams must be null or [min, max] with 1 <= min <= max"),
    ("char_ngrams=[0, 2]", "featurizer.char_ngrams must be null or [min, max] with 1 <= min <= max"),
    ("min_df=0", "featurizer.min_df must be at least 1 as a number of documents"),
    ("min_df=1.5", "featurizer.min_df as a fraction of the documents must be in (0, 1]"),
    ("max_df=0", "featurizer.max_df must be greater than 0.0"),
    ("hash_bits=31", "featurizer.hash_bits must be at most 30"),
    ("word_lists=[{name: pos}]", "featurizer.word_lists[0]: 'file' must be a non-empty string"),
    ("word_lists=[pos.txt]", "featurizer.word_lists[0] must be a mapping"),
    ("word_lists=[{name: pos, file: p.txt, value: sum}]",
     "featurizer.word_lists[0]: value must be one of presence, count, proportion"),
    ("word_lists=[{name: pos, file: p.txt, weight: 2}]", "featurizer.word_lists[0]: unknown key 'weight'"),
    ("word_lists=[{name: pos, file: a.txt}, {name: pos, file: b.txt}]", "the name 'pos' is used twice"),
    ("regexes=[{name: paren, pattern: '('}]", "featurizer.regexes[0]: invalid regular expression '('"),
    ("regexes=[{name: empty, pattern: 'x*'}]", "featurizer.regexes[0]: 'x*' matches the empty string"),
    ("regexes=[{name: count, pattern: 'x', value: proportion}]", "value must be one of presence, count"),
])
def test_featurizer_keys_reject_invalid(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(None, [f"featurizer.{override}"])
    assert message in str(error.value)


def test_featurizer_key_error_names_config_file(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("featurizer:\n  char_ngrams: [5]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{config}: featurizer.char_ngrams must be null or \[min, max\]"):
        load_config(config)


def test_featurizer_new_key_defaults():
    settings = load_config(None).featurizer
    assert settings.ngram_max == 1
    assert settings.char_ngrams is None
    assert settings.min_df == 1
    assert settings.max_df == 1.0
    assert settings.stop_words is None
    assert settings.hash_bits == 0
    assert settings.bag_of_words is True
    assert settings.word_lists is None
    assert settings.regexes is None
    assert settings.document_length == "none"
    assert settings.values == "tfidf"
    assert settings.sublinear_tf is True
    assert settings.normalize == "l2"


# --- File format ------------------------------------------------------------------------------

ROUND_TRIP_CASES = {
    "unigrams": ["values=binary"],
    "trigrams-tfidf": ["ngram_max=3", "values=tfidf", "sublinear_tf=true", "min_df=2"],
    "chars-only": ["ngram_max=0", "char_ngrams=[2, 3]", "max_features=40"],
    "words-chars-stop": ["ngram_max=2", "char_ngrams=[3, 3]", "stop_words=STOP"],
    "hashing-tfidf": ["hash_bits=9", "ngram_max=2", "char_ngrams=[2, 2]", "values=tfidf"],
    "handcrafted": ["bag_of_words=false", "WORDS", "regexes=[{name: bang, pattern: '!', value: count}]",
                    "document_length=log"],
    "everything": ["ngram_max=2", "values=tfidf", "stop_words=STOP", "WORDS", "document_length=count",
                   "regexes=[{name: bang, pattern: '!'}]"],
}


@pytest.mark.parametrize("case", list(ROUND_TRIP_CASES))
def test_arrays_round_trip_without_source_files(case, tmp_path, stop_file, lexicons):
    overrides = [item.replace("STOP", str(stop_file)).replace("WORDS", word_list_overrides(*lexicons, "count"))
                 for item in ROUND_TRIP_CASES[case]]
    featurizer = make_featurizer(*overrides)
    X = featurizer.fit_transform(CORPUS)
    path = tmp_path / "features.npz"
    FeaturesFile(X, np.zeros(X.n_rows, dtype=np.int64), ["label"], featurizer).save(path)
    # The stop words and word lists live in the file, so prediction needs no list file.
    for source_file in (stop_file, *lexicons):
        source_file.unlink()
    loaded = FeaturesFile.load(path).featurizer
    assert loaded.fingerprint() == featurizer.fingerprint()
    assert loaded.feature_names() == featurizer.feature_names()
    assert_same_matrix(loaded.transform(CORPUS), X)


def test_scipy_opens_features_file(tmp_path):
    sparse = pytest.importorskip("scipy.sparse")
    corpus = write_lines(tmp_path / "train.tsv", [f"{label}\t{text}" for label, text in TEXTBOOK])
    output = tmp_path / "features.npz"
    result = CliRunner().invoke(main, ["featurize", str(corpus), "-o", str(output), "--set", "featurizer.ngram_max=2",
                                       "--set", "featurizer.values=tfidf"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    matrix = sparse.load_npz(output)
    features = FeaturesFile.load(output)
    assert matrix.shape == features.X.shape
    np.testing.assert_array_equal(matrix.toarray(), dense(features.X))


def test_fingerprint_follows_word_list_content_not_path(tmp_path):
    first = write_lines(tmp_path / "first.txt", ["great"])
    moved = write_lines(tmp_path / "moved.txt", ["great"])
    changed = write_lines(tmp_path / "changed.txt", ["good"])
    fingerprints = []
    for path in (first, moved, changed):
        featurizer = make_featurizer("bag_of_words=false", f"word_lists=[{{name: positive, file: '{path}'}}]")
        featurizer.fit(["great film"])
        fingerprints.append(featurizer.fingerprint())
    assert fingerprints[0] == fingerprints[1]
    assert fingerprints[0] != fingerprints[2]


def test_fingerprint_differs_between_ngram_settings():
    unigrams = make_featurizer("ngram_max=1").fit(CORPUS)
    bigrams = make_featurizer("ngram_max=2").fit(CORPUS)
    assert unigrams.fingerprint() != bigrams.fingerprint()


def test_unigram_file_keeps_plain_vocabulary_arrays():
    featurizer = make_featurizer().fit(["b a b"])
    arrays = featurizer.to_arrays()
    assert "vocabulary_ngrams" not in arrays
    assert "char_vocabulary_bytes" not in arrays
    assert arrays["vocabulary_bytes"].tobytes() == b"ba"


def test_transform_before_fit_raises():
    with pytest.raises(DataError, match="has not been fitted"):
        make_featurizer().transform(["red"])


@pytest.mark.parametrize("overrides", [(), ("ngram_max=2", "values=tfidf", "sublinear_tf=true")])
def test_transform_in_chunks_equals_whole(monkeypatch, overrides):
    featurizer = make_featurizer(*overrides)
    featurizer.fit(CORPUS)
    whole = featurizer.transform(CORPUS).to_dense()
    monkeypatch.setattr("logreg_cli.featurize.TRANSFORM_CHUNK", 3)
    chunked = featurizer.transform(CORPUS).to_dense()
    assert chunked.shape == whole.shape
    assert np.array_equal(chunked, whole)


@pytest.mark.parametrize("overrides", [
    ("ngram_max=3",),
    ("ngram_max=2", "stop_words=STOP", "min_df=2"),
    ("ngram_max=2", "max_features=25", "values=tfidf"),
    ("ngram_max=2", r"token_pattern=[A-Za-z']+", "lowercase=false"),
    ("ngram_max=2", "char_ngrams=[2, 3]"),
])
def test_fit_in_groups_equals_fit_at_once(monkeypatch, stop_file, overrides):
    # With 40 bytes per group the vocabulary is merged from a group of one or two documents at a time.
    overrides = [item.replace("STOP", str(stop_file)) for item in overrides]
    documents = CORPUS * 2 + ["Ünïcode words, and a URL: https://example.com/film the film"]
    whole = make_featurizer(*overrides)
    expected = whole.fit_transform(documents)
    monkeypatch.setattr("logreg_cli.bytetokens.CHUNK_BYTES", 40)
    grouped = make_featurizer(*overrides)
    matrix = grouped.fit_transform(documents)
    assert grouped.feature_names() == whole.feature_names()
    assert np.array_equal(dense(matrix), dense(expected))
    if whole.idf is not None:
        assert np.array_equal(grouped.idf, whole.idf)


def test_chunks_split_small_inputs_evenly(monkeypatch):
    monkeypatch.setenv("LOGREG_THREADS", "2")
    assert featurize_module.TRANSFORM_CHUNK == 512
    assert [len(chunk) for chunk in featurize_module._chunks(["text"] * 800)] == [400, 400]
    assert [len(chunk) for chunk in featurize_module._chunks(["text"] * 1500)] == [512, 512, 476]
    assert [len(chunk) for chunk in featurize_module._chunks(["text"])] == [1]
    assert [len(chunk) for chunk in featurize_module._chunks([])] == [0]
