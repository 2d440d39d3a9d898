"""Streaming training: the chunked TSV reader, and training one chunk at a time."""

import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logreg_cli.cli import main
from logreg_cli.config import load_config
from logreg_cli.data import ReadOptions, document_hashes, read_corpus
from logreg_cli.errors import ConfigError, DataError
from logreg_cli.featurize import Featurizer
from logreg_cli.pipeline import evaluate_file, featurize_corpus, train_from_config
from logreg_cli.stream import iter_chunks

POSITIVE = ["great", "fun", "wonderful", "superb", "moving", "brilliant"]
NEGATIVE = ["awful", "boring", "dull", "tedious", "weak", "clumsy"]
NEUTRAL = ["film", "plot", "cast", "scene", "actor", "story", "the", "a", "and", "was"]


def _write_corpus(path: Path, n_documents: int, seed: int) -> Path:
    """Write ``label<TAB>text`` lines: 8 neutral words and 2 words of the label's list (sometimes 1 of the other's)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_documents):
        label = "pos" if rng.random() < 0.5 else "neg"
        own, other = (POSITIVE, NEGATIVE) if label == "pos" else (NEGATIVE, POSITIVE)
        words = list(rng.choice(NEUTRAL, 8)) + list(rng.choice(own, 2))
        if rng.random() < 0.2:
            words.append(str(rng.choice(other)))
        rng.shuffle(words)
        lines.append(f"{label}\t{' '.join(words)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _config(train: Path, validation: Path | None, *overrides: str):
    # Binary values and a little L2, the settings these expectations were written for, not the defaults.
    config = load_config(None, ["featurizer.values=binary", "featurizer.sublinear_tf=false", "trainer.l2=0.00001",
                                "trainer.streaming=true", "featurizer.hash_bits=12", "trainer.method=adagrad",
                                "trainer.learning_rate=0.5", "trainer.chunk_size=64", "trainer.max_epochs=5", *overrides])
    config.data.train = str(train)
    config.data.validation = str(validation) if validation is not None else None
    return config


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path, Path]:
    return (_write_corpus(tmp_path / "train.tsv", 600, 1), _write_corpus(tmp_path / "val.tsv", 150, 2),
            _write_corpus(tmp_path / "test.tsv", 200, 3))


def test_iter_chunks_yields_every_document(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tone\n\nb\ttwo\r\nc\tthree\td\nd\tfour\n  \t \ne\tfive", encoding="utf-8")
    chunks = list(iter_chunks(str(path), ReadOptions(), 2))
    assert [chunk.documents for chunk in chunks] == [["one"], ["two", "three\td"], ["four"], ["five"]]
    assert [chunk.labels for chunk in chunks] == [["a"], ["b", "c"], ["d"], ["e"]]
    assert [chunk.line_numbers for chunk in chunks] == [[1], [3, 4], [5], [7]]


def test_iter_chunks_agrees_with_read_corpus(corpus):
    train, _, _ = corpus
    whole = read_corpus(str(train))
    chunks = list(iter_chunks(str(train), ReadOptions(), 64))
    assert [len(chunk.documents) for chunk in chunks] == [64] * 9 + [24]
    assert sum((chunk.documents for chunk in chunks), []) == whole.documents
    assert sum((chunk.labels for chunk in chunks), []) == whole.labels
    assert sum((chunk.line_numbers for chunk in chunks), []) == whole.line_numbers


def test_iter_chunks_skips_header_and_bom(tmp_path):
    path = tmp_path / "h.tsv"
    path.write_bytes(b"\xef\xbb\xbftext\tlabel\nhello there\tgreeting\n")
    chunks = list(iter_chunks(str(path), ReadOptions(header=True, label_column=1, text_column=0), 10))
    assert chunks[0].documents == ["hello there"]
    assert chunks[0].labels == ["greeting"]
    assert chunks[0].line_numbers == [2]


def test_iter_chunks_names_line_without_tab(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tone\nb\ttwo\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.tsv:3: expected 'label<TAB>text'"):
        list(iter_chunks(str(path), ReadOptions(), 2))


def test_iter_chunks_names_line_of_invalid_byte(tmp_path):
    path = tmp_path / "latin.tsv"
    path.write_bytes(b"a\tone\nb\ttwo\nc\tcaf\xe9\n")
    with pytest.raises(DataError, match=r"latin\.tsv:3:6: invalid UTF-8 byte 0xE9; if the file is Latin-1"):
        list(iter_chunks(str(path), ReadOptions(), 2))


@pytest.mark.parametrize("bad_line", ["no tab here", "\tno label", " \tblank label"])
def test_iter_chunks_errors_equal_read_corpus(tmp_path, bad_line):
    path = tmp_path / "bad.tsv"
    path.write_text(f"a\tone\nb\ttwo\n{bad_line}\nc\tthree\n", encoding="utf-8")
    with pytest.raises(DataError) as whole:
        read_corpus(str(path))

    with pytest.raises(DataError) as streamed:
        list(iter_chunks(str(path), ReadOptions(), 2))

    assert str(streamed.value) == str(whole.value)
    assert "bad.tsv:3: " in str(streamed.value)


def test_iter_chunks_rejects_other_formats(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"label": "a", "text": "one"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="TSV files only"):
        list(iter_chunks(str(path), ReadOptions(), 2))


def test_iter_chunks_rejects_stdin():
    with pytest.raises(ConfigError, match="cannot read stdin"):
        list(iter_chunks("-", ReadOptions(), 2))


def test_streaming_one_chunk_equals_in_memory(corpus):
    train, validation, _ = corpus
    streamed = train_from_config(_config(train, validation, "trainer.chunk_size=100000"))
    in_memory = train_from_config(_config(train, validation, "trainer.streaming=false"))
    assert streamed.result.best_epoch == in_memory.result.best_epoch
    assert np.allclose(streamed.model.weights, in_memory.model.weights, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["adagrad", "adam", "minibatch"])
def test_streaming_reaches_in_memory_accuracy(corpus, method):
    train, validation, test = corpus
    learning_rate = {"adagrad": "0.5", "adam": "0.05", "minibatch": "4"}[method]
    overrides = (f"trainer.method={method}", f"trainer.learning_rate={learning_rate}", "trainer.max_epochs=20")
    streamed = train_from_config(_config(train, validation, *overrides))
    in_memory = train_from_config(_config(train, validation, *overrides, "trainer.streaming=false"))
    config = _config(train, validation)
    streamed_accuracy = evaluate_file(streamed.model, str(test), config).accuracy
    in_memory_accuracy = evaluate_file(in_memory.model, str(test), config).accuracy
    assert streamed_accuracy >= 0.9
    assert streamed_accuracy == pytest.approx(in_memory_accuracy, abs=0.03)


def record_transform_sizes(monkeypatch) -> list[int]:
    """Make Featurizer.transform append the number of documents of each call to the returned list."""
    sizes: list[int] = []
    original = Featurizer.transform

    def recording_transform(self, documents):
        sizes.append(len(documents))
        return original(self, documents)

    monkeypatch.setattr(Featurizer, "transform", recording_transform)
    return sizes


def test_streaming_featurizes_one_chunk_at_a_time(corpus, monkeypatch):
    train, validation, _ = corpus
    sizes = record_transform_sizes(monkeypatch)
    train_from_config(_config(train, None, "trainer.max_epochs=2"))
    assert max(sizes) == 64
    assert sum(sizes) == 2 * 600


@pytest.mark.parametrize("method", ["adagrad", "minibatch"])
def test_stream_prefetch_gives_same_weights(corpus, monkeypatch, method):
    train, validation, _ = corpus
    monkeypatch.setenv("LOGREG_THREADS", "2")
    overrides = (f"trainer.method={method}", "trainer.max_epochs=3", "trainer.patience=0")
    alone = train_from_config(_config(train, validation, *overrides))
    threads = []
    original = Featurizer.transform

    def recording_transform(self, documents):
        threads.append(threading.current_thread().name)
        return original(self, documents)

    monkeypatch.setattr(Featurizer, "transform", recording_transform)
    prefetched = train_from_config(_config(train, validation, *overrides, "trainer.stream_prefetch=true"))
    assert np.array_equal(prefetched.model.weights, alone.model.weights)
    # The validation file on this thread, then every chunk of the 3 epochs on the prefetch thread.
    assert threads[0] == threading.current_thread().name
    assert len(threads) == 1 + 3 * 10
    assert all(name.startswith("logreg-prefetch") for name in threads[1:])


@pytest.mark.parametrize("method, values", [("adagrad", "binary"), ("minibatch", "binary"), ("adagrad", "tfidf")])
def test_stream_cache_gives_same_weights(corpus, monkeypatch, tmp_path, method, values):
    # Binary values are cached as float32, tf-idf values as float64.
    train, validation, _ = corpus
    cache_parent = tmp_path / "tmp"
    cache_parent.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(cache_parent))
    overrides = (f"trainer.method={method}", f"featurizer.values={values}", "trainer.max_epochs=4", "trainer.patience=0")
    plain = train_from_config(_config(train, validation, *overrides))
    sizes = record_transform_sizes(monkeypatch)
    cached = train_from_config(_config(train, validation, *overrides, "trainer.stream_cache=true"))
    assert np.array_equal(cached.model.weights, plain.model.weights)
    assert len(cached.result.history) == 4
    # The validation file once, then the training file in the first epoch only, 64 documents at a time.
    assert sizes[0] == 150
    assert sizes[1:] == [64] * 9 + [24]
    # The cache folder is gone after training.
    assert list(cache_parent.iterdir()) == []


def test_stream_cache_unwritable_folder_error(corpus, monkeypatch, tmp_path):
    train, validation, _ = corpus
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="cannot create the streaming cache folder"):
        train_from_config(_config(train, validation, "trainer.stream_cache=true"))


def test_stream_cache_rejects_bad_tmpdir(corpus, monkeypatch, tmp_path):
    train, validation, _ = corpus
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"TMPDIR=.*missing is not a writable folder"):
        train_from_config(_config(train, validation, "trainer.stream_cache=true"))


def test_streaming_early_stopping_uses_validation_file(corpus):
    train, validation, _ = corpus
    outcome = train_from_config(_config(train, validation, "trainer.max_epochs=200", "trainer.patience=2"))
    history = outcome.result.history
    assert outcome.n_validation == 150
    assert history[0].val_loss is not None
    assert outcome.result.stop_reason.startswith("early stopping")
    assert outcome.result.best_epoch == len(history) - 2


def test_streaming_without_validation_keeps_last_epoch(corpus):
    train, _, _ = corpus
    outcome = train_from_config(_config(train, None, "trainer.max_epochs=3"))
    assert outcome.result.best_epoch == 3
    assert outcome.result.history[-1].val_loss is None


def test_streaming_progressive_loss_decreases(corpus):
    train, validation, _ = corpus
    history = train_from_config(_config(train, validation, "trainer.patience=0")).result.history
    assert history[-1].train_loss < history[0].train_loss
    assert np.isnan(history[0].gradient_norm_sq)


def test_streaming_tfidf_matches_in_memory_idf(corpus):
    train, validation, _ = corpus
    streamed = train_from_config(_config(train, validation, "featurizer.values=tfidf", "trainer.max_epochs=1"))
    whole = Featurizer(streamed.model.featurizer.settings).fit(read_corpus(str(train)).documents)
    assert np.allclose(streamed.model.featurizer.idf, whole.idf)


def test_streaming_softmax_with_three_labels(tmp_path):
    lines = []
    rng = np.random.default_rng(0)
    for i in range(300):
        label = ["red", "green", "blue"][i % 3]
        lines.append(f"{label}\t{label} {' '.join(rng.choice(NEUTRAL, 6))}\n")
    path = tmp_path / "three.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    outcome = train_from_config(_config(path, path, "trainer.max_epochs=3"))
    assert outcome.model.labels == ["blue", "green", "red"]
    assert outcome.model.weights.shape == (1 + 2**12, 3)
    assert outcome.result.history[-1].val_accuracy == 1.0


def test_streaming_needs_hash_bits(corpus):
    train, validation, _ = corpus
    with pytest.raises(ConfigError, match="featurizer.hash_bits"):
        train_from_config(_config(train, validation, "featurizer.hash_bits=0"))


@pytest.mark.parametrize("method", ["batch", "lbfgs"])
def test_streaming_rejects_full_batch_methods(corpus, method):
    train, validation, _ = corpus
    with pytest.raises(ConfigError, match=f"trainer.method {method}"):
        train_from_config(_config(train, validation, f"trainer.method={method}"))


def test_streaming_single_label_fails(tmp_path):
    path = tmp_path / "one.tsv"
    path.write_text("a\tone\na\ttwo\n", encoding="utf-8")
    with pytest.raises(DataError, match="only one label"):
        train_from_config(_config(path, None))


def test_cli_train_streams_and_predicts(corpus, tmp_path):
    train, validation, test = corpus
    model = tmp_path / "model.npz"
    result = CliRunner().invoke(main, [
        "-q", "train", str(train), "--validation", str(validation), "-o", str(model),
        "--set", "trainer.streaming=true", "--set", "featurizer.hash_bits=12", "--set", "trainer.method=adagrad",
        "--set", "trainer.learning_rate=0.5", "--set", "trainer.chunk_size=100",
    ])
    assert result.exit_code == 0, result.output
    predicted = CliRunner().invoke(main, ["-q", "predict", str(model), str(test)])
    assert predicted.exit_code == 0
    assert len(predicted.output.splitlines()) == 200


def test_streaming_accepts_features_validation_file(corpus, tmp_path):
    train, validation, _ = corpus
    # A features file made with the same hashing featurizer: with hashing, fitting learns nothing from the documents.
    config = _config(train, None)
    featurizer = Featurizer(config.featurizer).fit(read_corpus(str(train)).documents[:10])
    features_path = tmp_path / "val.npz"
    featurize_corpus(read_corpus(str(validation)), config, featurizer, ["neg", "pos"]).save(features_path)
    outcome = train_from_config(_config(train, features_path, "trainer.max_epochs=2"))
    assert outcome.n_validation == 150
    assert outcome.result.history[-1].val_accuracy > 0.8


def test_streaming_rejects_features_training_file(corpus, tmp_path):
    train, validation, _ = corpus
    config = _config(train, None)
    features_path = tmp_path / "train.npz"
    featurize_corpus(read_corpus(str(train)), config).save(features_path)
    with pytest.raises(ConfigError, match="is a features file"):
        train_from_config(_config(features_path, validation))


def test_streamed_model_warns_of_test_overlap(corpus, caplog):
    train, validation, _ = corpus
    outcome = train_from_config(_config(train, validation))
    assert outcome.model.train_document_hashes is not None
    expected = np.unique(document_hashes(read_corpus(str(train)).documents), axis=0)
    assert np.array_equal(outcome.model.train_document_hashes, expected)
    # Evaluating on the training file itself: every test document was seen in training.
    with caplog.at_level("WARNING"):
        evaluate_file(outcome.model, str(train), _config(train, validation))
    overlap = [record.getMessage() for record in caplog.records if "also occur verbatim" in record.getMessage()]
    assert len(overlap) == 1
    assert "600 of 600 test documents (100.0%)" in overlap[0]


def test_streaming_overlap_check_off_hashes_nothing(corpus, monkeypatch):
    train, validation, _ = corpus
    monkeypatch.setattr("logreg_cli.stream.document_hashes", lambda documents: pytest.fail("documents were hashed"))

    outcome = train_from_config(_config(train, validation, "data.overlap_check=false"))

    assert outcome.model.train_document_hashes is None


def test_streaming_warns_once_of_blank_lines(tmp_path, caplog):
    lines = [f"{'pos' if i % 2 else 'neg'}\t{'good fine' if i % 2 else 'bad poor'} word{i}" for i in range(200)]
    lines[49] = lines[150] = ""
    train = tmp_path / "blank.tsv"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with caplog.at_level("INFO"):
        train_from_config(_config(train, None, "trainer.chunk_size=64", "trainer.max_epochs=3"))

    messages = [record.getMessage() for record in caplog.records]
    assert [message for message in messages if "blank line" in message] == [f"{train}: skipped 2 blank lines (50, 151)"]
    assert sum("198 documents, labels: neg 99, pos 99" in message for message in messages) == 1
