"""Pipeline helpers: the sizes that `featurize --dry-run` reports, and prediction a block at a time."""

from pathlib import Path

from click.testing import CliRunner

from logreg_cli.cli import main
from logreg_cli.config import load_config
from logreg_cli.data import read_corpus
from logreg_cli.pipeline import featurize_corpus, summarize_features

THREE_LABELS = "a\tred red blue\nb\tgreen\nc\tblue green\nb\tred\n"


def _summary(tmp_path: Path, text: str, *overrides: str):
    path = tmp_path / "train.tsv"
    path.write_text(text, encoding="utf-8")
    config = load_config(None, ["featurizer.normalization=null", *overrides])
    return summarize_features(featurize_corpus(read_corpus(str(path)), config), config)


def test_summarize_features_counts_vocabulary(tmp_path):
    summary = _summary(tmp_path, THREE_LABELS)
    assert summary.n_documents == 4
    assert summary.n_ngram_features == 3
    assert summary.n_features == 4
    assert summary.used_columns == 4
    # Each document stores its bias feature and one value per distinct token: 3 + 2 + 3 + 2.
    assert summary.nnz == 10


def test_summarize_features_sizes_softmax_model(tmp_path):
    summary = _summary(tmp_path, THREE_LABELS)
    assert summary.kind == "softmax"
    assert summary.n_labels == 3
    # float64 weights of 4 features x 3 labels, plus the vocabulary and settings arrays.
    assert summary.model_bytes > 4 * 3 * 8
    assert summary.model_bytes < 4 * 3 * 8 + 2000
    assert summary.features_bytes == 10 * 8 + 10 * 8 + 5 * 8


def test_summarize_features_hashing_counts_used_columns(tmp_path):
    summary = _summary(tmp_path, THREE_LABELS, "featurizer.hash_bits=10")
    assert summary.n_ngram_features == 1024
    assert summary.n_features == 1025
    assert summary.used_columns == 4


def test_cli_featurize_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(THREE_LABELS, encoding="utf-8")
    result = CliRunner().invoke(main, ["-q", "featurize", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "vocabulary size: 3 n-gram features" in result.output
    assert "stored values: 10 (2.5 per document)" in result.output
    assert "model size: " in result.output
    assert list(tmp_path.iterdir()) == [path]


def test_cli_featurize_without_output_fails(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(THREE_LABELS, encoding="utf-8")
    result = CliRunner().invoke(main, ["featurize", str(path)])
    assert result.exit_code == 2
    assert "pass --dry-run" in result.output


def test_predict_file_in_blocks_equals_whole_matrix(tmp_path, monkeypatch, caplog):
    from logreg_cli.pipeline import predict_file, train_from_config

    lines = [f"{'pos' if i % 2 else 'neg'}\t{'good fine' if i % 2 else 'bad poor'} word{i % 7}" for i in range(60)]
    lines.append("pos\tunseen tokens only")
    (tmp_path / "train.tsv").write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("\n".join(lines[40:]) + "\n", encoding="utf-8")
    config = load_config(None, ["trainer.max_epochs=5", f"data.train={tmp_path / 'train.tsv'}"])
    model = train_from_config(config).model
    # Blocks of 3 documents: the 21 test documents make 7 blocks.
    monkeypatch.setattr("logreg_cli.featurize.TRANSFORM_CHUNK", 3)
    whole = predict_file(model, str(tmp_path / "test.tsv"), config, labelled=True, keep_features=True)
    caplog.clear()
    with caplog.at_level("WARNING"):
        blocks = predict_file(model, str(tmp_path / "test.tsv"), config, labelled=True)
    assert whole.X is not None
    assert whole.X.n_rows == 21
    assert blocks.X is None
    assert (blocks.probabilities == whole.probabilities).all()
    assert (blocks.predicted == whole.predicted).all()
    # The document without a known n-gram is reported once, after the last block.
    unknown = [record for record in caplog.records if "no n-gram in the model's vocabulary" in record.getMessage()]
    assert len(unknown) == 1
    assert unknown[0].getMessage().startswith("1 of 21 documents")


def test_predict_labelled_chunks_equal_whole_file(tmp_path, monkeypatch, caplog):
    from logreg_cli import pipeline
    from logreg_cli.pipeline import predict_file, train_from_config

    lines = [f"{'pos' if i % 2 else 'neg'}\t{'good fine' if i % 2 else 'bad poor'} word{i % 7}" for i in range(60)]
    (tmp_path / "train.tsv").write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    # A blank line, the last line without a newline, a training document and a document without a known n-gram.
    test_lines = lines[40:50] + ["", "neg\tunseen tokens only"] + lines[50:] + [lines[0]]
    (tmp_path / "test.tsv").write_text("\n".join(test_lines), encoding="utf-8")
    config = load_config(None, ["trainer.max_epochs=5", f"data.train={tmp_path / 'train.tsv'}"])
    model = train_from_config(config).model
    assert model.train_document_hashes is not None
    # Chunks of 4 lines.
    original = pipeline.iter_labelled_chunks
    monkeypatch.setattr(pipeline, "iter_labelled_chunks",
                        lambda path, options: original(path, options, block_size=4, read_size=64))
    results, logs = [], []
    for streams in (False, True):
        monkeypatch.setattr(pipeline, "streams_labelled", lambda path, options, streams=streams: streams)
        caplog.clear()
        with caplog.at_level("INFO"):
            results.append(predict_file(model, str(tmp_path / "test.tsv"), config, labelled=True, keep_features=True))
        logs.append([record.getMessage() for record in caplog.records])
    whole, chunked = results

    assert chunked.true_labels == whole.true_labels
    assert chunked.line_numbers == whole.line_numbers
    assert chunked.line_numbers[-2:] == [22, 23]
    assert (chunked.probabilities == whole.probabilities).all()
    assert (chunked.document_hashes == whole.document_hashes).all()
    assert chunked.X.n_rows == whole.X.n_rows == 22
    assert (chunked.X.indices == whole.X.indices).all()
    assert logs[1] == logs[0]
    assert any("skipped 1 blank line (11)" in message for message in logs[1])
