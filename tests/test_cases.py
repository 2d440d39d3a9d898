"""Bad inputs that break text classifiers, run through the ``logreg`` command.

Each section covers one kind of input (a case folder under tests/cases/) and
checks the behaviour that docs/errors.md documents: the exact error line and
exit code, the warning, or the value that must come out. Large inputs are
generated here. Subprocess tests cover what CliRunner cannot: signals, closed
pipes, locales and PYTHONHASHSEED.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logreg_cli.cli import main
from logreg_cli.config import load_config
from logreg_cli.data import ReadOptions, read_corpus
from logreg_cli.losses import binary_cross_entropy
from logreg_cli.model import FeaturesFile, LogisticModel
from logreg_cli.pipeline import predict_file, train_from_config

CASES = Path(__file__).parent / "cases"

# Fixed trainer settings for the cases whose expected value needs a fitted model, so a change of
# the defaults does not change what these tests check.
FIT = ("--set", "trainer.validation_fraction=0", "--set", "trainer.method=batch",
       "--set", "trainer.learning_rate=1.0", "--set", "trainer.max_epochs=300", "--set", "trainer.l2=0")


def case(name: str, file: str) -> Path:
    return CASES / name / file


def invoke(*arguments: object, input: bytes | str | None = None) -> Result:
    """Run ``logreg`` in this process and re-raise any exception the command did not turn into an exit code."""
    result = CliRunner().invoke(main, [str(a) for a in arguments], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def run_logreg(*arguments: object, input: bytes | None = None, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m logreg_cli`` in a new process."""
    return subprocess.run([sys.executable, "-m", "logreg_cli", *map(str, arguments)], input=input,
                          capture_output=True, env=env, timeout=timeout, check=False)


def train_model(tmp_path: Path, train: Path, *extra: object, name: str = "model.npz") -> Path:
    model = tmp_path / name
    result = invoke("-q", "train", train, "-o", model, *FIT, *extra)
    assert result.exit_code == 0, result.output
    return model


def predicted_labels(result: Result) -> list[str]:
    return [line.split("\t")[0] for line in result.stdout.splitlines()]


def eval_json(model: Path, test: Path, *extra: object) -> tuple[dict, str]:
    result = invoke("eval", model, test, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- 01 non-UTF-8 bytes

NON_UTF8 = "01-non-utf8-bytes"


def test_latin1_error_names_line_and_column(tmp_path):
    output = tmp_path / "features.npz"

    result = invoke("featurize", case(NON_UTF8, "train_latin1.tsv"), "-o", output)

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "train_latin1.tsv:3:15: invalid UTF-8 byte 0xE9" in result.stderr
    assert "--encoding latin-1" in result.stderr
    assert not output.exists()


def test_cp1252_error_names_line_and_byte(tmp_path):
    result = invoke("train", case(NON_UTF8, "train_cp1252.tsv"), "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert "train_cp1252.tsv:2:8: invalid UTF-8 byte 0x92" in result.stderr
    assert "--encoding cp1252" in result.stderr
    assert not (tmp_path / "model.npz").exists()


def test_latin1_encoding_shares_cafe_feature(tmp_path):
    train_features = tmp_path / "train.npz"
    test_features = tmp_path / "test.npz"

    trained = invoke("-q", "featurize", "--encoding", "latin-1", case(NON_UTF8, "train_latin1.tsv"), "-o", train_features)
    tested = invoke("-q", "featurize", "--vocabulary-from", train_features, case(NON_UTF8, "test_utf8.tsv"),
                    "-o", test_features)

    assert trained.exit_code == 0
    assert tested.exit_code == 0
    vocabulary = FeaturesFile.load(train_features).featurizer.vocabulary
    assert "caf\u00e9" in vocabulary
    column = vocabulary["caf\u00e9"]
    train_X = FeaturesFile.load(train_features).X.to_dense()
    test_X = FeaturesFile.load(test_features).X.to_dense()
    assert train_X[2, column] > 0
    assert test_X[0, column] > 0


def test_cp1252_encoding_decodes_right_quote(tmp_path):
    corpus = read_corpus(str(case(NON_UTF8, "train_cp1252.tsv")), ReadOptions(encoding="cp1252"))
    features = tmp_path / "features.npz"

    result = invoke("-q", "featurize", "--encoding", "cp1252", case(NON_UTF8, "train_cp1252.tsv"), "-o", features)

    assert corpus.documents[1].startswith("don\u2019t")
    assert result.exit_code == 0
    # The tokenizer folds U+2019 to an ASCII apostrophe; decoded as Latin-1, 0x92 would be a control character.
    assert "don't" in FeaturesFile.load(features).featurizer.vocabulary


# --------------------------------------------------------------------------- 02 UTF-8 byte-order mark

BOM = "02-utf8-bom"


def test_bom_labels_exact_and_absent(tmp_path):
    model = train_model(tmp_path, case(BOM, "train.tsv"))

    loaded = LogisticModel.load(model)
    assert loaded.labels == ["neg", "pos"]
    with np.load(model, allow_pickle=False) as archive:
        stored = b"".join(archive[name].tobytes() for name in archive.files)
    assert "\ufeff".encode("utf-8") not in stored
    assert "\ufeff".encode("utf-32-le") not in stored
    assert not any("\ufeff" in token for token in loaded.featurizer.vocabulary)


def test_bom_label_counts_two_each(tmp_path):
    result = invoke("train", case(BOM, "train.tsv"), "-o", tmp_path / "model.npz", *FIT)

    assert result.exit_code == 0
    assert "4 documents, labels: neg 2, pos 2" in result.stderr


def test_bom_csv_header_finds_label(tmp_path):
    model = train_model(tmp_path, case(BOM, "train_header.csv"))

    assert LogisticModel.load(model).labels == ["neg", "pos"]


def test_bom_predict_matches_plain_text(tmp_path):
    model = train_model(tmp_path, case(BOM, "train.tsv"))
    plain = tmp_path / "plain.txt"
    plain.write_bytes(case(BOM, "predict_input.txt").read_bytes()[3:])

    with_bom = invoke("predict", model, case(BOM, "predict_input.txt"))
    without_bom = invoke("predict", model, plain)

    assert with_bom.stdout.count("\n") == 2
    assert predicted_labels(with_bom) == ["pos", "neg"]
    assert with_bom.stdout == without_bom.stdout
    assert LogisticModel.load(model).featurizer.tokenize("\ufeffgreat fun") == ["great", "fun"]


def test_bom_features_file_byte_identical(tmp_path):
    plain = tmp_path / "train.tsv"
    plain.write_bytes(case(BOM, "train.tsv").read_bytes()[3:])

    invoke("featurize", case(BOM, "train.tsv"), "-o", tmp_path / "bom.npz")
    invoke("featurize", plain, "-o", tmp_path / "plain.npz")

    assert (tmp_path / "bom.npz").read_bytes() == (tmp_path / "plain.npz").read_bytes()


# --------------------------------------------------------------------------- 04 blank lines and empty documents

BLANK = "04-empty-lines-and-empty-docs"


def without_line_9(tmp_path: Path) -> Path:
    train = tmp_path / "train.tsv"
    train.write_bytes(b"".join(case(BLANK, "train.tsv").read_bytes().splitlines(keepends=True)[:8]))
    return train


def test_line_without_tab_error_names_line(tmp_path):
    result = invoke("train", case(BLANK, "train.tsv"), "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert "train.tsv:9: expected 'label<TAB>text'" in result.stderr
    assert not (tmp_path / "model.npz").exists()


def test_blank_lines_skipped_with_summary(tmp_path):
    result = invoke("featurize", without_line_9(tmp_path), "-o", tmp_path / "features.npz")

    assert result.exit_code == 0
    assert warnings_in(result.stderr) == [f"warning: {tmp_path / 'train.tsv'}: skipped 2 blank lines (2, 6)"]
    # 2 skipped lines + 6 documents = the 8 lines of the file.
    assert "6 documents, labels: neg 3, pos 3" in result.stderr


def test_empty_text_documents_keep_bias(tmp_path):
    features = tmp_path / "features.npz"

    invoke("-q", "featurize", without_line_9(tmp_path), "-o", features)

    X = FeaturesFile.load(features).X.to_dense()
    assert X.shape[0] == 6
    # Lines 4 and 5 (rows 2 and 3) have a label but no token: only the bias feature is set.
    assert X[2].tolist() == [1.0] + [0.0] * (X.shape[1] - 1)
    assert X[3].tolist() == [1.0] + [0.0] * (X.shape[1] - 1)


def test_predict_keeps_blank_input_lines(tmp_path):
    model = train_model(tmp_path, without_line_9(tmp_path))

    first = invoke("predict", model, case(BLANK, "predict_input.txt"))
    second = invoke("predict", model, case(BLANK, "predict_input.txt"))

    lines = first.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split("\t")[0] == "pos"
    assert lines[2].split("\t")[0] == "neg"
    # The empty and the whitespace-only line both get the bias-only prediction, the same on every run.
    assert lines[1] == lines[3]
    assert first.stdout == second.stdout


# --------------------------------------------------------------------------- 05 empty vocabulary

EMPTY_VOCABULARY = "05-empty-vocabulary"


def test_stop_words_leave_no_features(tmp_path):
    stop_words = tmp_path / "stop_words.txt"
    stop_words.write_text("the\nand\nof\na\nan\nto\nbe\nor\nnot\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"featurizer:\n  lowercase: true\n  stop_words: {stop_words}\n  min_count: 1\n", encoding="utf-8")

    featurized = invoke("featurize", "-c", config, case(EMPTY_VOCABULARY, "train_stopwords.tsv"),
                        "-o", tmp_path / "features.npz")
    trained = invoke("train", "-c", config, case(EMPTY_VOCABULARY, "train_stopwords.tsv"), "-o", tmp_path / "model.npz")

    for result in (featurized, trained):
        assert result.exit_code == 1
        assert "train_stopwords.tsv: no features left after tokenizing 4 documents" in result.stderr
        assert "featurizer.stop_words" in result.stderr
    assert not (tmp_path / "features.npz").exists()
    assert not (tmp_path / "model.npz").exists()


def test_min_count_too_high_names_value(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("featurizer:\n  lowercase: true\n  min_count: 100\n", encoding="utf-8")

    for name in ("train_stopwords.tsv", "train_digits.tsv"):
        result = invoke("train", "-c", config, case(EMPTY_VOCABULARY, name), "-o", tmp_path / "model.npz")

        assert result.exit_code == 1
        assert f"{name}: no features left" in result.stderr
        assert "min_count=100" in result.stderr
    assert not (tmp_path / "model.npz").exists()


def test_punctuation_only_corpus_rejected(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("pos\t!!! ...\nneg\t??? ---\n", encoding="utf-8")

    result = invoke("train", train, "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert "no features left after tokenizing 2 documents (no token was found)" in result.stderr


def test_single_digit_tokens_kept(tmp_path):
    features = tmp_path / "features.npz"

    result = invoke("-q", "featurize", case(EMPTY_VOCABULARY, "train_digits.tsv"), "-o", features)

    assert result.exit_code == 0
    assert set(FeaturesFile.load(features).featurizer.vocabulary) == {"1", "2", "3", "4"}


# --------------------------------------------------------------------------- 06 short tokens, emoji, Indic scripts

TOKENS = "06-tokenization-short-tokens-emoji-indic"


def probe_vocabulary(tmp_path: Path) -> dict[str, int]:
    features = tmp_path / "probe.npz"
    result = invoke("-q", "featurize", case(TOKENS, "featurize_probe.tsv"), "-o", features)
    assert result.exit_code == 0, result.output
    return FeaturesFile.load(features).featurizer.vocabulary


def test_short_tokens_and_emoji_separate_labels(tmp_path):
    model = train_model(tmp_path, case(TOKENS, "train.tsv"))

    report, _ = eval_json(model, case(TOKENS, "train.tsv"))

    assert report["accuracy"] == 1.0
    vocabulary = LogisticModel.load(model).featurizer.vocabulary
    assert {"5", "1", "a", "b", "\U0001f600", "\U0001f61e"} <= set(vocabulary)


def test_devanagari_words_stay_whole(tmp_path):
    vocabulary = probe_vocabulary(tmp_path)

    assert {"\u0939\u093f\u0928\u094d\u0926\u0940", "\u0906\u0927\u0941\u0928\u093f\u0915",
            "\u092e\u093e\u0928\u0915"} <= set(vocabulary)
    assert not {"\u0939", "\u0928", "\u0926"} & set(vocabulary)


def test_unicode_spaces_separate_tokens(tmp_path):
    vocabulary = probe_vocabulary(tmp_path)

    assert {"good", "movie", "night", "ok"} <= set(vocabulary)
    assert not [token for token in vocabulary if set(token) & {"\u2009", "\u00a0", "\u3000"}]


def test_url_and_symbol_tokens_documented(tmp_path):
    vocabulary = probe_vocabulary(tmp_path)

    # docs/errors.md lists these tokens for lines 3 and 4 of featurize_probe.tsv.
    assert {"see", "https://example.org/a?b=1", "now"} <= set(vocabulary)
    assert {"c++", "and", "c#", "cost", "5.99", "3.5"} <= set(vocabulary)
    assert "c" not in vocabulary


# --------------------------------------------------------------------------- 08 label formats

LABELS = "08-label-format-separators-and-numeric-labels"


def test_fasttext_comma_labels_warned(tmp_path):
    result = invoke("train", case(LABELS, "train_fasttext.txt"), "-o", tmp_path / "model.npz", *FIT)

    assert result.exit_code == 0
    found = warnings_in(result.stderr)
    assert any("train_fasttext.txt:2: label 'pos,' contains ','" in line for line in found)
    assert any("train_fasttext.txt:4: label 'neg,awful' contains ','" in line for line in found)
    assert "4 documents, labels: neg 1, neg,awful 1, pos 1, pos, 1" in result.stderr


@pytest.mark.parametrize(
    ("train", "expected"),
    [
        ("train_spaces.tsv", ["very good", "very bad"]),
        ("train_numeric.tsv", ["1", "0"]),
        ("train_signed.tsv", ["+1", "-1"]),
    ],
    ids=["spaces", "numeric", "signed"],
)
def test_labels_come_back_verbatim(tmp_path, train, expected):
    model = train_model(tmp_path, case(LABELS, train))

    result = invoke("predict", model, case(LABELS, "predict_input.txt"))

    assert result.exit_code == 0
    assert predicted_labels(result) == expected
    assert sorted(LogisticModel.load(model).labels) == sorted(expected)


# --------------------------------------------------------------------------- 09 tabs inside the text

def test_tab_in_text_splits_first_tab(tmp_path):
    features = tmp_path / "features.npz"

    result = invoke("-q", "featurize", case("09-tab-inside-text-field", "train.tsv"), "-o", features,
                    "--set", "featurizer.values=counts", "--set", "featurizer.normalize=none")

    assert result.exit_code == 0
    loaded = FeaturesFile.load(features)
    vocabulary = loaded.featurizer.vocabulary
    X = loaded.X.to_dense()
    assert [loaded.labels[i] for i in loaded.y] == ["pos", "neg", "pos", "neg"]
    assert X[0, vocabulary["great"]] == 1.0
    assert X[0, vocabulary["fun"]] == 1.0
    assert X[3, vocabulary["awful"]] == 2.0
    assert X[3, vocabulary["night"]] == 1.0
    assert "great\tfun" not in vocabulary


# --------------------------------------------------------------------------- 11 label not seen in training

UNSEEN = "11-label-in-test-not-in-train"


def test_unseen_label_predictions_sane(tmp_path):
    model = train_model(tmp_path, case(UNSEEN, "train.tsv"))

    result = invoke("predict", model, case(UNSEEN, "test.tsv"))

    assert predicted_labels(result) == ["pos", "pos", "neg", "pos", "neg"]


def test_unseen_label_counted_as_error(tmp_path):
    model = train_model(tmp_path, case(UNSEEN, "train.tsv"))

    report, stderr = eval_json(model, case(UNSEEN, "test.tsv"))

    assert report["accuracy"] == pytest.approx(0.8)
    pos, neg, neutral = (report["per_label"][label] for label in ("pos", "neg", "neutral"))
    assert (pos["true_positives"], pos["false_positives"], pos["false_negatives"]) == (2, 1, 0)
    assert pos["precision"] == pytest.approx(2 / 3)
    assert pos["recall"] == 1.0
    assert pos["f1"] == pytest.approx(0.8)
    assert (neg["precision"], neg["recall"], neg["f1"], neg["support"]) == (1.0, 1.0, 1.0, 2)
    assert (neutral["precision"], neutral["recall"], neutral["f1"], neutral["support"]) == (0.0, 0.0, 0.0, 1)
    assert neutral["precision_undefined"] is True
    assert neutral["seen_in_training"] is False
    assert report["macro"]["precision"] == pytest.approx(0.555556, abs=1e-6)
    assert report["macro"]["recall"] == pytest.approx(0.666667, abs=1e-6)
    assert any("test.tsv:4: label 'neutral' was not seen in training; counted as an error" in line
               for line in warnings_in(stderr))


def test_unseen_label_report_states_averages(tmp_path):
    model = train_model(tmp_path, case(UNSEEN, "train.tsv"))

    result = invoke("eval", model, case(UNSEEN, "test.tsv"))

    assert result.exit_code == 0
    assert "neutral*" in result.stdout
    assert "The macro and weighted averages include these labels." in result.stdout
    assert "nan" not in result.stdout


# --------------------------------------------------------------------------- 12 one label in training

ONE_LABEL = "12-only-one-class-in-training"


def test_single_label_corpus_rejected(tmp_path):
    model = tmp_path / "model.npz"

    result = invoke("train", case(ONE_LABEL, "train.tsv"), "-o", model)

    assert result.exit_code == 1
    assert "train.tsv has only one label ('spam', 6 documents)" in result.stderr
    assert "train_loss" not in result.stderr
    assert not model.exists()


def test_empty_document_keeps_second_label(tmp_path):
    model = train_model(tmp_path, case(ONE_LABEL, "train_one_after_filter.tsv"))

    assert LogisticModel.load(model).labels == ["ham", "spam"]


# --------------------------------------------------------------------------- 13 precision 0/0

IMBALANCE = "13-precision-undefined-no-predicted-positives"


@pytest.mark.parametrize("kind", ["binary", "softmax"])
def test_undefined_precision_reported_as_zero(tmp_path, kind):
    model = train_model(tmp_path, case(IMBALANCE, "train.tsv"), "--set", f"trainer.model={kind}")

    report, stderr = eval_json(model, case(IMBALANCE, "test.tsv"))

    ham, spam = report["per_label"]["ham"], report["per_label"]["spam"]
    assert report["accuracy"] == pytest.approx(0.8)
    assert (ham["precision"], ham["recall"], ham["support"]) == (pytest.approx(0.8), 1.0, 8)
    assert ham["f1"] == pytest.approx(0.888889, abs=1e-6)
    assert (spam["precision"], spam["recall"], spam["f1"], spam["support"]) == (0.0, 0.0, 0.0, 2)
    assert (spam["true_positives"], spam["false_positives"], spam["false_negatives"]) == (0, 0, 2)
    assert spam["precision_undefined"] is True
    assert report["macro"]["f1"] == pytest.approx(0.444444, abs=1e-6)
    assert report["weighted"]["f1"] == pytest.approx(0.711111, abs=1e-6)
    assert "warning: precision for 'spam' is undefined (no document was predicted as 'spam'); reported as 0.0" \
        in warnings_in(stderr)


def test_undefined_precision_table_shows_counts(tmp_path):
    model = train_model(tmp_path, case(IMBALANCE, "train.tsv"))

    result = invoke("eval", model, case(IMBALANCE, "test.tsv"))

    assert "precision is undefined (no document predicted) for spam; reported as 0.0" in result.stdout
    assert "confusion matrix (rows: true label, columns: predicted label)" in result.stdout
    assert re.search(r"^\s*spam\s+2\s+0$", result.stdout, re.MULTILINE)
    assert "nan" not in result.stdout


# --------------------------------------------------------------------------- 15 large scores

def write_large_score_case(folder: Path) -> tuple[Path, Path, Path]:
    """Write the documents of thousands of tokens and a batch config without L2."""
    train = folder / "train.tsv"
    train.write_text(
        "pos\t" + " ".join(["buy"] * 2000) + "\nneg\t" + " ".join(["sell"] * 2000) + "\n"
        "pos\tbuy now\nneg\tsell now\npos\tbuy\nneg\tsell\n", encoding="utf-8")
    documents = folder / "predict_input.txt"
    documents.write_text("buy\nsell\n" + " ".join(["buy"] * 5000) + "\n" + " ".join(["sell"] * 5000) + "\n",
                         encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text("featurizer:\n  lowercase: true\n  min_count: 1\n"
                      "trainer:\n  method: batch\n  learning_rate: 1.0\n  max_epochs: 100\n  l2: 0.0\n  seed: 0\n",
                      encoding="utf-8")
    return train, documents, config


@pytest.mark.parametrize("values", ["defaults", "raw-counts"])
def test_large_scores_train_without_overflow(tmp_path, values):
    train, documents, config = write_large_score_case(tmp_path)
    model = tmp_path / "model.npz"
    raw = ("--set", "featurizer.values=counts", "--set", "featurizer.normalize=none") if values == "raw-counts" else ()

    with warnings.catch_warnings():
        # An overflow in exp or a log(0) anywhere would now raise instead of printing a warning.
        warnings.simplefilter("error", RuntimeWarning)
        trained = invoke("train", "-c", config, train, "-o", model, *raw)
        predicted = invoke("predict", "--probabilities", model, documents)

    assert trained.exit_code == 0, trained.output
    losses = [float(value) for value in re.findall(r"train_loss (\S+)", trained.stderr)]
    assert losses
    assert all(math.isfinite(loss) and loss >= 0.0 for loss in losses)
    assert np.isfinite(LogisticModel.load(model).weights).all()
    assert predicted_labels(predicted) == ["pos", "neg", "pos", "neg"]
    probabilities = [float(value) for line in predicted.stdout.splitlines() for value in line.split("\t")[1:]]
    assert all(0.0 <= p <= 1.0 for p in probabilities)


@pytest.mark.parametrize(("z", "y", "expected"), [(1e4, 0, 1e4), (1e4, 1, 0.0), (-1e4, 1, 1e4), (-1e4, 0, 0.0)])
def test_cross_entropy_exact_at_extreme_logits(z, y, expected):
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = binary_cross_entropy(np.array([z]), np.array([y]))[0]

    assert loss == pytest.approx(expected, rel=1e-12, abs=0.0)


# --------------------------------------------------------------------------- 17 divergence

DIVERGENCE = "17-learning-rate-too-high-divergence"


def trainer_config(folder: Path, name: str, **trainer: object) -> Path:
    config = folder / name
    lines = ["featurizer:", "  lowercase: true", "  min_count: 1", "trainer:"]
    lines += [f"  {key}: {value}" for key, value in trainer.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_divergence_error_keeps_existing_model(tmp_path):
    config = trainer_config(tmp_path, "config_diverge.yaml", method="batch", learning_rate=1000.0, max_epochs=500,
                            l2=0.1, seed=0, validation_fraction=0)
    model = tmp_path / "model.npz"
    shutil.copyfile(train_model(tmp_path, case(DIVERGENCE, "train.tsv"), name="sentinel.npz"), model)
    before = file_digest(model)

    result = invoke("train", "-c", config, case(DIVERGENCE, "train.tsv"), "-o", model)

    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1
    assert re.search(r"training diverged.* epoch \d+", error_lines[0])
    assert "trainer.learning_rate" in error_lines[0]
    assert file_digest(model) == before
    assert temporary_files(tmp_path) == []


def test_divergence_writes_no_new_model(tmp_path):
    config = trainer_config(tmp_path, "config_diverge.yaml", method="batch", learning_rate=1000.0, max_epochs=500,
                            l2=0.1, seed=0, validation_fraction=0)

    result = invoke("train", "-c", config, case(DIVERGENCE, "train.tsv"), "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert not (tmp_path / "model.npz").exists()


def test_large_learning_rate_without_l2_finishes(tmp_path):
    config = trainer_config(tmp_path, "config_big_lr_no_l2.yaml", method="batch", learning_rate=1000.0,
                            max_epochs=500, l2=0.0, seed=0, validation_fraction=0)
    model = tmp_path / "model.npz"

    result = invoke("train", "-c", config, case(DIVERGENCE, "train.tsv"), "-o", model)
    report, _ = eval_json(model, case(DIVERGENCE, "train.tsv"))

    assert result.exit_code == 0, result.output
    losses = [float(value) for value in re.findall(r"train_loss (\S+)", result.stderr)]
    assert losses
    assert all(math.isfinite(loss) and loss >= 0.0 for loss in losses)
    assert np.isfinite(LogisticModel.load(model).weights).all()
    assert report["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("learning_rate", 0, "trainer.learning_rate must be greater than 0"),
        ("learning_rate", -1.0, "trainer.learning_rate must be greater than 0"),
        ("max_epochs", 0, "trainer.max_epochs must be at least 1"),
        ("l2", -0.1, "trainer.l2 must be at least 0"),
    ],
)
def test_config_rejects_bad_trainer_values(tmp_path, key, value, message):
    config = trainer_config(tmp_path, "config.yaml", **{key: value})

    result = invoke("train", "-c", config, case(DIVERGENCE, "train.tsv"), "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {config}: {message}")
    assert result.stderr.count("\n") == 1


# --------------------------------------------------------------------------- 19 features from another vocabulary

VOCABULARIES = "19-predict-with-different-vocabulary"


@pytest.fixture
def model_a(tmp_path):
    features = tmp_path / "featsA.npz"
    assert invoke("-q", "featurize", case(VOCABULARIES, "trainA.tsv"), "-o", features).exit_code == 0
    return train_model(tmp_path, features, name="modelA.npz")


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_features_of_same_width_rejected(tmp_path, model_a, command):
    features_b = tmp_path / "featsB.npz"
    invoke("-q", "featurize", case(VOCABULARIES, "trainB.tsv"), "-o", features_b)
    assert FeaturesFile.load(features_b).X.n_columns == LogisticModel.load(model_a).featurizer.n_features

    result = invoke(command, model_a, features_b)

    assert result.exit_code == 1
    assert result.stdout == ""
    expected = LogisticModel.load(model_a).featurizer.fingerprint()[:12]
    found = FeaturesFile.load(features_b).featurizer.fingerprint()[:12]
    assert f"error: {features_b}: features were built with featurizer {found}" in result.stderr
    assert f"the model expects {expected}" in result.stderr


def test_features_of_other_width_name_both(tmp_path, model_a):
    features_b = tmp_path / "featsB.npz"
    invoke("-q", "featurize", case(VOCABULARIES, "trainB.tsv"), "-o", features_b,
           "--set", "featurizer.min_count=3")

    result = invoke("predict", model_a, features_b)

    assert result.exit_code == 1
    assert "(3 features, the model has 5)" in result.stderr


def test_raw_text_uses_model_vocabulary(model_a):
    predicted = invoke("predict", model_a, case(VOCABULARIES, "testB.tsv"))
    report, stderr = eval_json(model_a, case(VOCABULARIES, "testB.tsv"))

    lines = predicted.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0] == lines[1]
    assert report["accuracy"] == 0.5
    assert any("2 of 2 documents have no" in line for line in warnings_in(stderr))


# --------------------------------------------------------------------------- 21 a 1 MB document

LONG_TOKENS = 150_000


def write_long_document_case(folder: Path) -> tuple[Path, Path]:
    long_pos = "pos\t" + "filler " * LONG_TOKENS + "zebra\n"
    long_neg = "neg\t" + "filler " * LONG_TOKENS + "yak\n"
    train = folder / "train.tsv"
    train.write_text(long_pos + long_neg + "pos\tzebra\nneg\tyak\n" * 3, encoding="utf-8")
    documents = folder / "predict_input.txt"
    documents.write_text(long_pos.split("\t", 1)[1] + "zebra\nyak\n", encoding="utf-8")
    return train, documents


def test_long_document_counts_whole_line(tmp_path):
    train, _ = write_long_document_case(tmp_path)
    features = tmp_path / "features.npz"
    result = invoke("-q", "featurize", train, "-o", features, "--set", "featurizer.values=counts",
                    "--set", "featurizer.normalize=none")

    assert result.exit_code == 0
    loaded = FeaturesFile.load(features)
    vocabulary = loaded.featurizer.vocabulary
    X = loaded.X.to_dense()
    assert X[0, vocabulary["filler"]] == LONG_TOKENS
    assert X[0, vocabulary["zebra"]] == 1
    assert X[0, vocabulary["yak"]] == 0
    assert X[1, vocabulary["yak"]] == 1


def test_long_document_predicts_pos_by_default(tmp_path):
    train, documents = write_long_document_case(tmp_path)
    model = tmp_path / "model.npz"

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trained = invoke("-q", "train", train, "-o", model)
        predicted = invoke("predict", model, documents)

    assert trained.exit_code == 0, trained.output
    # Defaults: binary values scaled to unit L2 norm per document, so the 150,000 repeats of
    # "filler" weigh as much as one token and cannot blow up its weight.
    assert predicted_labels(predicted) == ["pos", "pos", "neg"]
    probabilities = [float(line.split("\t")[1]) for line in predicted.stdout.splitlines()]
    assert all(0.5 <= p <= 1.0 for p in probabilities)


# --------------------------------------------------------------------------- 23 duplicates between train and test

DUPLICATES = "23-duplicates-between-train-and-test"


def test_conflicting_duplicates_warned_on_train(tmp_path):
    result = invoke("train", case(DUPLICATES, "train.tsv"), "-o", tmp_path / "model.npz", *FIT)

    assert result.exit_code == 0
    assert (f"warning: {case(DUPLICATES, 'train.tsv')}: text 'great fun' occurs 3 times with conflicting labels "
            "(lines 1, 7: pos; line 8: neg)") in warnings_in(result.stderr)


def test_eval_warns_about_training_overlap(tmp_path):
    model = train_model(tmp_path, case(DUPLICATES, "train.tsv"))

    report, stderr = eval_json(model, case(DUPLICATES, "test.tsv"))

    assert (f"warning: {case(DUPLICATES, 'test.tsv')}: 2 of 4 test documents (50.0%) also occur verbatim in the "
            f"training corpus {case(DUPLICATES, 'train.tsv')} (test lines 1, 3); 3 (75.0%) after case folding and "
            "whitespace normalization") in warnings_in(stderr)
    # The warning does not change the metrics: all 4 test documents count.
    assert report["n_documents"] == 4
    assert sum(label["support"] for label in report["per_label"].values()) == 4


def test_overlap_found_between_features_files(tmp_path):
    train_features, test_features = tmp_path / "train.npz", tmp_path / "test.npz"
    invoke("-q", "featurize", case(DUPLICATES, "train.tsv"), "-o", train_features)
    invoke("-q", "featurize", "--vocabulary-from", train_features, case(DUPLICATES, "test.tsv"), "-o", test_features)
    model = train_model(tmp_path, train_features)

    result = invoke("eval", model, test_features)

    overlap = [line for line in warnings_in(result.stderr) if "also occur verbatim" in line]
    assert len(overlap) == 1
    assert "2 of 4 test documents (50.0%)" in overlap[0]
    assert "(test documents 1, 3)" in overlap[0]


def test_overlap_check_off_keeps_no_hashes(tmp_path):
    train_features = tmp_path / "train.npz"
    invoke("-q", "featurize", case(DUPLICATES, "train.tsv"), "-o", train_features, "--set", "data.overlap_check=false")
    model = tmp_path / "model.npz"
    invoke("-q", "train", case(DUPLICATES, "train.tsv"), "-o", model, "--set", "data.overlap_check=false", *FIT)

    result = invoke("eval", model, case(DUPLICATES, "test.tsv"))

    assert result.exit_code == 0
    assert "also occur verbatim" not in result.stderr
    assert LogisticModel.load(model).train_document_hashes is None
    assert FeaturesFile.load(train_features).document_hashes is None


def test_model_without_hashes_still_loads(tmp_path):
    model = train_model(tmp_path, case(DUPLICATES, "train.tsv"))
    with np.load(model, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "train_document_hashes"}
    older = tmp_path / "older.npz"
    np.savez_compressed(older, **arrays)

    result = invoke("eval", older, case(DUPLICATES, "test.tsv"))

    assert result.exit_code == 0
    assert LogisticModel.load(older).train_document_hashes is None
    assert "also occur verbatim" not in result.stderr


# --------------------------------------------------------------------------- 24 stdin and stdout in a pipeline

PIPES = "24-stdin-stdout-piping"


@pytest.fixture
def pipe_model(tmp_path):
    return train_model(tmp_path, case(PIPES, "train.tsv"), name="pipe_model.npz")


def test_predict_stdin_matches_file(pipe_model):
    from_stdin = run_logreg("predict", pipe_model, "-", input=case(PIPES, "predict_input.txt").read_bytes())
    from_file = run_logreg("predict", pipe_model, case(PIPES, "predict_input.txt"))

    assert from_stdin.returncode == 0
    assert from_stdin.stdout == from_file.stdout
    lines = from_stdin.stdout.decode("utf-8").splitlines()
    assert len(lines) == 5
    assert [line.split("\t")[0] for line in lines[:2] + lines[3:]] == ["pos", "neg", "neg", "pos"]
    # Logs go to stderr only, so `| wc -l` counts predictions.
    assert b"documents" in from_stdin.stderr
    assert b"documents" not in from_stdin.stdout


def test_stdin_decoded_as_utf8_any_locale(pipe_model):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "LANG", "PYTHONIO"))}
    environment.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    text = "great caf\u00e9 fun\n".encode("utf-8")

    in_c_locale = run_logreg("predict", pipe_model, "-", input=text, env=environment)
    default = run_logreg("predict", pipe_model, "-", input=text)

    assert in_c_locale.returncode == 0, in_c_locale.stderr
    assert in_c_locale.stdout == default.stdout


def test_non_ascii_labels_print_in_c_locale(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("caf\u00e9\tgreat fun\nneg\tawful bore\ncaf\u00e9\tgreat\nneg\tawful\n", encoding="utf-8")
    model = train_model(tmp_path, train)
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "LANG", "PYTHONIO"))}
    environment.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")

    result = run_logreg("predict", model, "-", input=b"great fun\n", env=environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("caf\u00e9\t".encode("utf-8"))
    assert b"Traceback" not in result.stderr


def test_predict_closed_pipe_exits_quietly(tmp_path, pipe_model):
    documents = tmp_path / "many.txt"
    documents.write_text("great fun\nawful bore\n" * 100_000, encoding="utf-8")

    process = subprocess.Popen([sys.executable, "-m", "logreg_cli", "predict", str(pipe_model), str(documents)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first_line = process.stdout.readline()
    process.stdout.close()  # what `| head -n 1` does after its first line
    stderr = process.stderr.read().decode("utf-8")
    process.wait(timeout=60)

    assert first_line.startswith(b"pos\t")
    # 200,000 lines never fit in the pipe buffer, so a write must fail, and that is exit code 141.
    assert process.returncode == 141
    assert "BrokenPipeError" not in stderr
    assert "Exception ignored" not in stderr
    assert "Traceback" not in stderr


def test_train_reads_stdin(tmp_path):
    model = tmp_path / "model.npz"

    result = run_logreg("-q", "train", "-", "-o", model, "--set", "trainer.validation_fraction=0",
                        input=case(PIPES, "train.tsv").read_bytes())

    assert result.returncode == 0, result.stderr
    assert LogisticModel.load(model).labels == ["neg", "pos"]


# --------------------------------------------------------------------------- 25 Ctrl-C during training

def write_long_training_case(folder: Path, extra_tokens: int = 0) -> tuple[Path, Path]:
    """Write 20,000 short documents and a config whose training never ends on its own.

    ``extra_tokens`` more filler tokens per document make tokenizing and featurizing take seconds.
    """
    rng = random.Random(0)
    positive = ["great", "fun", "love", "excellent", "superb", "nice"]
    negative = ["awful", "bore", "hate", "terrible", "dull", "bad"]
    filler = [f"w{i}" for i in range(300)]
    lines = []
    for i in range(20_000):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.sample(positive if label == "pos" else negative, 2) + rng.sample(filler, 8)
        words += rng.choices(filler, k=extra_tokens)
        rng.shuffle(words)
        lines.append(label + "\t" + " ".join(words) + "\n")
    train = folder / "train.tsv"
    train.write_text("".join(lines), encoding="utf-8")
    config = trainer_config(folder, "config_long.yaml", method="stochastic", learning_rate=0.1, max_epochs=1_000_000,
                            l2=0.001, seed=1, patience=0, tolerance=0)
    return train, config


def interrupt_training(folder: Path, model: Path, wait_for: str, extra_tokens: int = 0,
                       stop: signal.Signals = signal.SIGINT, close_stderr: bool = False) -> tuple[int, float, list[str]]:
    """Start training, send ``stop`` once a stderr line contains ``wait_for``, and return the exit code,
    the seconds from the signal to the exit, and the stderr lines written after the signal.

    With ``close_stderr`` the reading end of stderr is closed before the signal, as when Ctrl-C also
    stops the ``tee`` of ``2>&1 | tee log``, and no lines are returned.

    The seconds are returned for debugging only: tests never assert times, and the 30-second wait is a
    guard against a hang."""
    train, config = write_long_training_case(folder, extra_tokens)
    process = subprocess.Popen([sys.executable, "-m", "logreg_cli", "train", "-c", str(config), str(train),
                                "-o", str(model)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        for line in process.stderr:
            if wait_for in line:
                break
        else:
            pytest.fail(f"training ended before writing {wait_for!r}")
        if close_stderr:
            process.stderr.close()
        process.send_signal(stop)
        sent = time.monotonic()
        after = [] if close_stderr else process.stderr.read().splitlines()
        returncode = process.wait(timeout=30)
        return returncode, time.monotonic() - sent, after
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_saves_best_epoch(tmp_path, pipe_model):
    model = tmp_path / "model.npz"
    shutil.copyfile(pipe_model, model)
    sentinel = file_digest(model)

    returncode, seconds, after = interrupt_training(tmp_path, model, "epoch    1  train_loss")

    assert returncode == 130
    assert len(after) == 1
    assert re.fullmatch(r"error: interrupted during epoch \d+; saved the weights of epoch \d+ to .*model\.npz",
                        after[0])
    assert file_digest(model) != sentinel
    assert LogisticModel.load(model).featurizer.n_features > 300
    assert temporary_files(tmp_path) == []


def test_ctrl_c_with_closed_stderr_exits_130(tmp_path):
    model = tmp_path / "model.npz"

    returncode, seconds, after = interrupt_training(tmp_path, model, "epoch    1  train_loss", close_stderr=True)

    assert returncode == 130
    assert LogisticModel.load(model).featurizer.n_features > 300
    assert temporary_files(tmp_path) == []


def test_ctrl_c_in_first_epoch_writes_nothing(tmp_path, pipe_model):
    model = tmp_path / "model.npz"
    shutil.copyfile(pipe_model, model)
    sentinel = file_digest(model)

    returncode, seconds, after = interrupt_training(tmp_path, model, "training a binary model")

    assert returncode == 130
    assert len(after) == 1
    assert re.fullmatch(r"error: interrupted (during epoch 1|before the first epoch ended); no model was written",
                        after[0])
    assert file_digest(model) == sentinel
    assert temporary_files(tmp_path) == []


def test_ctrl_c_while_featurizing_exits_cleanly(tmp_path):
    model = tmp_path / "model.npz"

    # The reader logs the label counts, then the tokenizer and featurizer run for a second or more.
    returncode, seconds, after = interrupt_training(tmp_path, model, "20,000 documents, labels", extra_tokens=100)

    assert returncode == 130
    assert after == ["error: interrupted before the first epoch ended; no model was written"]
    assert not model.exists()
    assert temporary_files(tmp_path) == []


# --------------------------------------------------------------------------- damaged model and features files

def rewrite_arrays(source: Path, target: Path, **changes: np.ndarray | None) -> Path:
    """Copy an .npz file with some arrays replaced (or left out when the value is None)."""
    with np.load(source, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    np.savez_compressed(target, **arrays)
    return target


def damaged_file(kind: str, good: Path, target: Path) -> Path:
    if kind == "pickled":
        np.savez(target, file_kind=np.array("model"), weights=np.array([{"a": 1}], dtype=object))
    elif kind == "npy":
        with open(target, "wb") as stream:
            np.save(stream, np.zeros(3))
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "text":
        target.write_text("pos\tgreat fun\n", encoding="utf-8")
    elif kind == "truncated":
        target.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "other-version":
        rewrite_arrays(good, target, format_version=np.array(99))
    elif kind == "missing-key":
        rewrite_arrays(good, target, labels_offsets=None)
    elif kind == "nan-weights":
        with np.load(good, allow_pickle=False) as archive:
            weights = archive["weights"].copy()
        weights[1] = np.nan
        rewrite_arrays(good, target, weights=weights)
    elif kind == "text-weights":
        with np.load(good, allow_pickle=False) as archive:
            shape = archive["weights"].shape
        rewrite_arrays(good, target, weights=np.full(shape, "x"))
    elif kind == "bad-offsets":
        rewrite_arrays(good, target, labels_offsets=np.array([0, 100, 3]))
    elif kind == "corrupt-member":
        with zipfile.ZipFile(good) as source, zipfile.ZipFile(target, "w") as copy:
            for item in source.infolist():
                data = source.read(item)
                copy.writestr(item, data[:10] if item.filename == "weights.npy" else data)
    return target


DAMAGES = {
    "pickled": "contains pickled objects, which are never loaded",
    "npy": "not a model file: it is a single .npy array",
    "empty": "the file is empty, so it is not a model file",
    "text": "not a model file: the file is not an .npz archive",
    "truncated": "not a valid model file: the file is truncated or damaged",
    "other-version": "format version 99 is not supported",
    "missing-key": "not a valid model file: missing labels_offsets",
    "nan-weights": "weights contain NaN or infinite values",
    "text-weights": "not a valid model file: weights has dtype",
    "bad-offsets": "not a valid model file (the string offsets do not match the packed bytes)",
    "corrupt-member": "not a valid model file",
}


@pytest.mark.parametrize("kind", list(DAMAGES))
def test_damaged_model_file_rejected(tmp_path, pipe_model, kind):
    damaged = damaged_file(kind, pipe_model, tmp_path / "damaged.npz")

    result = invoke("predict", damaged, case(PIPES, "predict_input.txt"))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {damaged}: ")
    assert DAMAGES[kind] in result.stderr
    assert "write it again with logreg train" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", ["truncated", "other-version", "missing-key", "corrupt-member"])
def test_damaged_features_file_rejected(tmp_path, pipe_model, kind):
    features = tmp_path / "features.npz"
    invoke("-q", "featurize", "--vocabulary-from", pipe_model, case(PIPES, "train.tsv"), "-o", features)
    if kind == "corrupt-member":
        with zipfile.ZipFile(features) as source, zipfile.ZipFile(tmp_path / "damaged.npz", "w") as copy:
            for item in source.infolist():
                data = source.read(item)
                copy.writestr(item, data[:10] if item.filename == "indptr.npy" else data)
        damaged = tmp_path / "damaged.npz"
    else:
        damaged = damaged_file(kind, features, tmp_path / "damaged.npz")

    for arguments in (("eval", pipe_model, damaged), ("train", damaged, "-o", tmp_path / "model.npz")):
        result = invoke(*arguments)

        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: {damaged}: ")
        assert "features file" in result.stderr or "format version" in result.stderr
        assert "write it again with logreg featurize" in result.stderr


def test_file_of_wrong_kind_names_fix(tmp_path, pipe_model):
    features = tmp_path / "features.npz"
    invoke("-q", "featurize", "--vocabulary-from", pipe_model, case(PIPES, "train.tsv"), "-o", features)

    as_model = invoke("eval", features, case(PIPES, "train.tsv"))
    as_corpus = invoke("train", pipe_model, "-o", tmp_path / "model.npz")

    assert as_model.exit_code == 1
    assert as_model.stderr.endswith("expected a model file; pass the model file that logreg train wrote\n")
    assert as_corpus.exit_code == 1
    assert as_corpus.stderr.endswith("pass a corpus, or a features file that logreg featurize wrote\n")


def test_empty_npz_read_as_features_file(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")

    result = invoke("train", empty, "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert "the file is empty, so it is not a features file" in result.stderr
    assert "logreg featurize" in result.stderr


def test_damaged_test_file_found_early(tmp_path, pipe_model):
    features = tmp_path / "features.npz"
    invoke("-q", "featurize", "--vocabulary-from", pipe_model, case(PIPES, "train.tsv"), "-o", features)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(features.read_bytes()[:300])

    result = invoke("train", features, "--test", truncated, "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {truncated}: not a valid features file: the file is truncated or damaged")
    assert not (tmp_path / "model.npz").exists()


def test_model_as_test_file_found_early(tmp_path, pipe_model):
    result = invoke("train", case(PIPES, "train.tsv"), "--test", pipe_model, "-o", tmp_path / "model.npz")

    assert result.exit_code == 1
    assert result.stderr == (f"error: {pipe_model}: this is a model file, expected a features file; "
                             "pass a corpus, or a features file that logreg featurize wrote\n")
    assert not (tmp_path / "model.npz").exists()


def test_features_file_with_bad_indices_rejected(tmp_path, pipe_model):
    features = tmp_path / "features.npz"
    invoke("-q", "featurize", "--vocabulary-from", pipe_model, case(PIPES, "train.tsv"), "-o", features)
    with np.load(features, allow_pickle=False) as archive:
        indices = archive["indices"].copy()
    indices[-1] = 10_000
    damaged = rewrite_arrays(features, tmp_path / "damaged.npz", indices=indices)

    result = invoke("eval", pipe_model, damaged)

    assert result.exit_code == 1
    assert "column indices outside" in result.stderr


# --------------------------------------------------------------------------- resume, reproducibility, robustness

def test_resume_continues_from_saved_weights(tmp_path):
    train = case(DIVERGENCE, "train.tsv")
    more = tmp_path / "more.tsv"
    more.write_text(train.read_text(encoding="utf-8") + "pos\tbrand new tokens\n", encoding="utf-8")
    one_epoch = ("--set", "trainer.max_epochs=1", "--set", "trainer.learning_rate=0.5")
    first = train_model(tmp_path, train, *one_epoch, name="first.npz")
    straight = train_model(tmp_path, train, "--set", "trainer.max_epochs=2", "--set", "trainer.learning_rate=0.5",
                           name="straight.npz")

    resumed = invoke("-q", "train", "--resume", first, train, "-o", tmp_path / "resumed.npz", *FIT, *one_epoch)
    extended = invoke("-q", "train", "--resume", first, more, "-o", tmp_path / "extended.npz", *FIT, *one_epoch)

    assert resumed.exit_code == 0
    assert extended.exit_code == 0
    # One batch epoch from the saved weights equals the second epoch of a two-epoch run.
    np.testing.assert_allclose(LogisticModel.load(tmp_path / "resumed.npz").weights,
                               LogisticModel.load(straight).weights, rtol=1e-12, atol=1e-15)
    start = LogisticModel.load(first)
    goes_on = LogisticModel.load(tmp_path / "extended.npz")
    assert goes_on.featurizer.vocabulary == start.featurizer.vocabulary
    assert goes_on.featurizer.fingerprint() == start.featurizer.fingerprint()
    assert "brand" not in goes_on.featurizer.vocabulary


def test_same_seed_bit_identical_across_processes(tmp_path, tiny_corpus):
    train, _ = tiny_corpus
    arrays = []
    for hash_seed in ("0", "12345"):
        model = tmp_path / f"model-{hash_seed}.npz"
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = run_logreg("-q", "train", train, "-o", model, "--set", "trainer.method=minibatch",
                            "--set", "trainer.batch_size=3", "--set", "trainer.validation_fraction=0.25",
                            env=environment)
        assert result.returncode == 0, result.stderr
        with np.load(model, allow_pickle=False) as archive:
            # "training" contains the seconds of each epoch, which differ between runs.
            arrays.append({name: archive[name] for name in archive.files if name != "training"})

    first, second = arrays
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].dtype == second[name].dtype, name
        assert first[name].tobytes() == second[name].tobytes(), name


FRAGMENTS = [b"\t", b"\n", b"\r\n", b" ", b"pos", b"neg", b"great", b"\xef\xbb\xbf", b"\xe9", b"\xff",
             b"__label__", b",", b'"', b"\x00", b"\xe2\x80\xa8", b"1", b"\xf0\x9f\x98\x80"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=4)), max_size=40).map(b"".join))
def test_any_training_bytes_exit_cleanly(content):
    with tempfile.TemporaryDirectory() as folder:
        train = Path(folder) / "train.tsv"
        train.write_bytes(content)

        result = CliRunner().invoke(main, ["-q", "train", str(train), "-o", str(Path(folder) / "model.npz"),
                                           "--set", "trainer.max_epochs=2"])

    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.stderr.splitlines()[-1].startswith("error: ")


def test_repeated_cycles_keep_memory_flat(tmp_path, tiny_corpus):
    train, test = tiny_corpus
    config = load_config(None, ["trainer.max_epochs=5", "trainer.validation_fraction=0.25"])
    config.data.train = str(train)
    sizes = []
    logging.disable(logging.CRITICAL)  # captured log records would grow with every cycle
    tracemalloc.start()
    try:
        for _ in range(30):
            outcome = train_from_config(config)
            predict_file(outcome.model, str(test), config, labelled=False)
            del outcome
            gc.collect()
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)

    # Caches fill during the first cycles; after that a leak of even one corpus per cycle would show.
    assert sizes[-1] - sizes[9] < 64 * 1024



def test_sigterm_saves_best_epoch(tmp_path, pipe_model):
    model = tmp_path / "model.npz"

    returncode, seconds, after = interrupt_training(tmp_path, model, "epoch    1  train_loss", stop=signal.SIGTERM)

    assert returncode == 143
    assert len(after) == 1
    assert re.fullmatch(r"error: interrupted during epoch \d+; saved the weights of epoch \d+ to .*model\.npz", after[0])
    assert LogisticModel.load(model).featurizer.n_features > 300
    assert temporary_files(tmp_path) == []
