"""The logreg command end to end on small corpora: results, messages and exit codes."""

import json
import os
import signal

import numpy as np
import pytest
from click.testing import CliRunner

from logreg_cli.cli import main
from logreg_cli.config import load_config
from logreg_cli.model import FeaturesFile, LogisticModel


def invoke(*arguments, input=None):
    return CliRunner().invoke(main, [str(a) for a in arguments], input=input, catch_exceptions=False)


@pytest.fixture
def trained(tmp_path, tiny_corpus):
    train, test = tiny_corpus
    model = tmp_path / "model.npz"
    result = invoke("-q", "train", train, "-o", model, "--set", "trainer.validation_fraction=0",
                    "--set", "trainer.learning_rate=2")
    assert result.exit_code == 0, result.output
    return model, train, test


def test_featurize_train_eval_predict_round_trip(tmp_path, tiny_corpus):
    train, test = tiny_corpus
    features = tmp_path / "train.npz"
    model = tmp_path / "model.npz"
    assert invoke("featurize", train, "-o", features).exit_code == 0
    loaded = FeaturesFile.load(features)
    assert loaded.X.shape[0] == 8
    assert loaded.labels == ["neg", "pos"]
    assert np.all(loaded.X.to_dense()[:, 0] == 1.0)

    result = invoke("train", features, "-o", model, "--set", "trainer.validation_fraction=0",
                    "--set", "trainer.learning_rate=2")
    assert result.exit_code == 0
    assert "epoch    1  train_loss" in result.output

    report = invoke("eval", model, test)
    assert report.exit_code == 0
    assert "accuracy" in report.output

    predictions = invoke("predict", model, test)
    assert predictions.exit_code == 0
    rows = [line.split("\t") for line in predictions.stdout.splitlines()]
    assert [row[0] for row in rows] == ["pos", "neg"]
    assert all(0.5 < float(row[1]) <= 1.0 for row in rows)


def test_eval_json_has_required_keys(trained):
    model, _, test = trained
    result = invoke("eval", model, test, "--json")
    report = json.loads(result.stdout)
    assert report["accuracy"] == 1.0
    assert set(report["macro"]) >= {"precision", "recall", "f1"}
    assert set(report["per_label"]) == {"neg", "pos"}
    assert report["confusion_matrix"]["matrix"] == [[1, 0], [0, 1]]


def test_eval_writes_report_file(tmp_path, trained):
    model, _, test = trained
    output = tmp_path / "report.json"
    assert invoke("eval", model, test, "--json", "-o", output).exit_code == 0
    assert json.loads(output.read_text())["accuracy"] == 1.0
    assert not list(tmp_path.glob(".*.tmp"))


def test_predict_reads_stdin_and_keeps_blank_lines(trained):
    model, _, _ = trained
    result = invoke("predict", model, "-", input="great fun\n\nawful dull\n")
    lines = result.stdout.split("\n")
    assert lines[-1] == ""
    assert len(lines[:-1]) == 3
    assert lines[0].startswith("pos\t")
    assert lines[2].startswith("neg\t")


@pytest.mark.parametrize("extra", [(), ("--explain", "--top-k", "2"), ("--output-format", "jsonl", "--probabilities")])
def test_predict_text_in_blocks_same_output(tmp_path, trained, monkeypatch, extra):
    import logreg_cli.cli as cli
    import logreg_cli.pipeline as pipeline

    model, _, _ = trained
    lines = ["great fun", "", "awful dull", "zzz qqq", "fun fun great", "dull", "qqq"] * 3
    text_file = tmp_path / "input.txt"
    text_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    streamed = invoke("predict", model, text_file, *extra)
    reader = pipeline.iter_text_documents
    monkeypatch.setattr(pipeline, "iter_text_documents",
                        lambda path, options: reader(path, options, block_size=2, read_size=5))
    in_blocks = invoke("predict", model, text_file, *extra)
    monkeypatch.setattr(cli, "streams_predictions", lambda path, config: False)
    whole = invoke("predict", model, text_file, *extra)

    assert whole.exit_code == 0
    assert len(whole.stdout.splitlines()) == len(lines)
    assert streamed.stdout == whole.stdout
    assert in_blocks.stdout == whole.stdout
    # The documents without a known word are counted over all blocks, in one warning.
    assert in_blocks.stderr.count("have no n-gram in the model's vocabulary") == 1
    assert "6 of 21 documents" in in_blocks.stderr


@pytest.mark.parametrize("extra", [(), ("--explain",)])
def test_predict_tsv_in_blocks_same_output(tmp_path, trained, monkeypatch, extra):
    import logreg_cli.cli as cli
    import logreg_cli.pipeline as pipeline

    model, _, _ = trained
    lines = ["pos\tgreat fun", "", "neg\tawful dull", "neg\tzzz qqq", "pos\tfun fun great", "neg\tdull"] * 3
    tsv_file = tmp_path / "input.tsv"
    tsv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reader = pipeline.iter_labelled_chunks
    chunks = []

    def small_chunks(path, options):
        for chunk in reader(path, options, block_size=2, read_size=5):
            chunks.append(chunk)
            yield chunk

    monkeypatch.setattr(pipeline, "iter_labelled_chunks", small_chunks)
    in_blocks = invoke("predict", model, tsv_file, *extra)
    monkeypatch.setattr(cli, "streams_predictions", lambda path, config: False)
    whole = invoke("predict", model, tsv_file, *extra)

    assert len(chunks) == 9  # 18 lines, 2 at a time
    assert whole.exit_code == 0
    assert len(whole.stdout.splitlines()) == 15
    assert in_blocks.stdout == whole.stdout
    # One warning each for the blank lines and for the documents without a known word, over all blocks.
    assert in_blocks.stderr.count("skipped 3 blank lines (2, 8, 14)") == 1
    assert in_blocks.stderr.count("have no n-gram in the model's vocabulary") == 1


def test_predict_probabilities_columns(trained):
    model, _, test = trained
    rows = [line.split("\t") for line in invoke("predict", model, test, "--probabilities").stdout.splitlines()]
    assert all(len(row) == 4 for row in rows)
    for label, probability, p_neg, p_pos in rows:
        assert float(p_neg) + float(p_pos) == pytest.approx(1.0, abs=2e-6)
        assert probability == (p_pos if label == "pos" else p_neg)


def test_predict_output_file_matches_stdout(tmp_path, trained):
    model, _, test = trained
    output = tmp_path / "predictions.tsv"
    assert invoke("predict", model, test, "-o", output).exit_code == 0
    assert output.read_text() == invoke("predict", model, test).stdout


def test_train_with_config_runs_experiment(tmp_path, tiny_corpus):
    train, test = tiny_corpus
    config = tmp_path / "experiment.yaml"
    config.write_text(
        f"data:\n  train: {train}\n  test: {test}\ntrainer:\n  validation_fraction: 0\n  learning_rate: 2\n",
        encoding="utf-8",
    )
    model = tmp_path / "model.npz"
    result = invoke("train", "-c", config, "-o", model)
    assert result.exit_code == 0
    assert "accuracy" in result.output
    loaded = LogisticModel.load(model)
    assert loaded.labels == ["neg", "pos"]
    assert loaded.config["trainer"]["learning_rate"] == 2.0


def test_featurize_with_model_vocabulary_matches(tmp_path, trained):
    model, _, test = trained
    features = tmp_path / "test.npz"
    assert invoke("featurize", test, "-o", features, "--vocabulary-from", model).exit_code == 0
    assert json.loads(invoke("eval", model, features, "--json").stdout)["accuracy"] == 1.0


def test_init_config_loads_back(tmp_path):
    config = tmp_path / "defaults.yaml"
    config.write_text(invoke("init-config").stdout, encoding="utf-8")
    assert load_config(config) == load_config(None)


@pytest.mark.parametrize("command", ["featurize", "train", "eval", "predict", "init-config"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) > 3


def _error(result):
    assert "Traceback" not in result.output
    return result.output.strip()


def test_missing_training_file_error(tmp_path):
    result = invoke("train", tmp_path / "absent.tsv", "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert _error(result).startswith("error: ")
    assert "absent.tsv" in result.output
    assert "not found" in result.output


def test_line_without_tab_error(tmp_path):
    corpus = tmp_path / "bad.tsv"
    corpus.write_text("pos\tgood\nneg bad\n", encoding="utf-8")
    result = invoke("train", corpus, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert "bad.tsv:2" in _error(result)
    assert "tab" in result.output


def test_empty_training_file_error(tmp_path):
    corpus = tmp_path / "empty.tsv"
    corpus.write_text("\n\n", encoding="utf-8")
    result = invoke("train", corpus, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert "empty.tsv" in _error(result)
    assert not (tmp_path / "m.npz").exists()


def test_single_label_error(tmp_path):
    corpus = tmp_path / "spam.tsv"
    corpus.write_text("".join(f"spam\tbuy now {i}\n" for i in range(6)), encoding="utf-8")
    result = invoke("train", corpus, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert "only one label ('spam', 6 documents)" in _error(result)
    assert not (tmp_path / "m.npz").exists()


def test_unknown_config_key_error(tmp_path, tiny_corpus):
    config = tmp_path / "bad.yaml"
    config.write_text("trainer:\n  learning_rat: 0.1\n", encoding="utf-8")
    result = invoke("train", "-c", config, tiny_corpus[0], "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert "bad.yaml" in _error(result)
    assert "trainer.learning_rat" in result.output


def test_wrong_config_type_error(tmp_path, tiny_corpus):
    config = tmp_path / "bad.yaml"
    config.write_text("trainer:\n  max_epochs: many\n", encoding="utf-8")
    result = invoke("train", "-c", config, tiny_corpus[0], "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert "trainer.max_epochs must be a whole number, got 'many'; the default is 100" in _error(result)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.learning_rate=0", "trainer.learning_rate must be greater than 0"),
        ("trainer.max_epochs=0", "trainer.max_epochs must be at least 1"),
        ("trainer.l2=-1", "trainer.l2 must be at least 0"),
        ("trainer.method=newton", "trainer.method must be one of"),
        ("trainer", "expected section.key=value"),
        ("featurizer.lowercase=maybe", "featurizer.lowercase must be true or false, got 'maybe'; the default is true"),
        ("trainer.learning_rate=yes", "trainer.learning_rate must be a number, got true; the default is 4.0"),
        ("featurizer.min_df=few", "featurizer.min_df must be a number, got 'few'; the default is 1"),
        ("featurizer.char_ngrams=3", "featurizer.char_ngrams must be a list or null, got 3"),
    ],
)
def test_bad_override_error(tmp_path, tiny_corpus, override, message):
    result = invoke("train", tiny_corpus[0], "-o", tmp_path / "m.npz", "--set", override)
    assert result.exit_code == 1
    assert message in _error(result)


def test_invalid_yaml_names_line(tmp_path, tiny_corpus):
    config = tmp_path / "broken.yaml"
    config.write_text("trainer:\n  l2: [1,\n", encoding="utf-8")
    result = invoke("train", "-c", config, tiny_corpus[0])
    assert result.exit_code == 1
    assert "broken.yaml:" in _error(result)
    assert "invalid YAML" in result.output


def test_usage_error_exit_code():
    result = invoke("eval")
    assert result.exit_code == 2


def test_model_file_not_a_model(tmp_path, tiny_corpus):
    fake = tmp_path / "model.npz"
    fake.write_bytes(b"not a zip file at all")
    result = invoke("predict", fake, tiny_corpus[1])
    assert result.exit_code == 1
    assert "model.npz" in _error(result)


def test_existing_model_kept_when_training_fails(tmp_path, trained):
    model, _, _ = trained
    before = model.read_bytes()
    corpus = tmp_path / "spam.tsv"
    corpus.write_text("spam\tbuy\nspam\tnow\n", encoding="utf-8")
    assert invoke("train", corpus, "-o", model).exit_code == 1
    assert model.read_bytes() == before


def test_missing_output_folder_fails_before_training(tmp_path, tiny_corpus):
    result = invoke("train", tiny_corpus[0], "-o", tmp_path / "absent" / "m.npz")
    assert result.exit_code == 1
    assert "does not exist" in _error(result)
    assert "epoch" not in result.output


def test_missing_test_file_fails_before_training(tmp_path, tiny_corpus):
    model = tmp_path / "m.npz"
    result = invoke("train", tiny_corpus[0], "--test", tmp_path / "missing.tsv", "-o", model)
    assert result.exit_code == 1
    assert _error(result) == f"error: {tmp_path / 'missing.tsv'}: file not found; check the path"
    assert "epoch" not in result.output
    assert not model.exists()


@pytest.mark.parametrize("content", [b"", b"\n \n\t\r\n"])
def test_empty_test_file_fails_before_training(tmp_path, tiny_corpus, content):
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(content)
    model = tmp_path / "m.npz"
    result = invoke("train", tiny_corpus[0], "--test", empty, "-o", model)
    assert result.exit_code == 1
    assert _error(result).startswith(f"error: {empty}: no documents found")
    assert "epoch" not in result.output
    assert not model.exists()


def test_config_data_path_error_names_key(tmp_path):
    config = tmp_path / "paths.yaml"
    config.write_text("data:\n  train: nowhere/train.tsv\n", encoding="utf-8")
    result = invoke("train", "-c", config, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert "paths.yaml: data.train: nowhere/train.tsv not found" in _error(result)


def test_eval_on_unrelated_labels_error(tmp_path, trained):
    model, _, _ = trained
    other = tmp_path / "other.tsv"
    other.write_text("ham\tsee you soon\nspam\twin cash now\n", encoding="utf-8")
    result = invoke("eval", model, other)
    assert result.exit_code == 1
    assert "none of its labels (ham, spam) is a label of the model (neg, pos)" in _error(result)


def test_single_label_error_stays_one_line(tmp_path):
    corpus = tmp_path / "odd.tsv"
    corpus.write_bytes("pos\u2028pos\tgood\n".encode("utf-8"))
    result = invoke("-q", "train", corpus, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1
    assert len(_error(result).splitlines()) == 1
    assert "'pos\\u2028pos'" in result.output


def test_featurize_same_features_from_every_format(tmp_path):
    rows = [("neg", "awful, boring film"), ("neg", 'dull "plot"'), ("pos", "great fun"), ("pos", "wonderful cast")]
    inputs = {
        "train.tsv": "".join(f"{label}\t{text}\n" for label, text in rows),
        "train.csv": "label,text\n" + "".join(f'{label},"{text.replace(chr(34), chr(34) * 2)}"\n' for label, text in rows),
        "train.jsonl": "".join(json.dumps({"label": label, "text": text}) + "\n" for label, text in rows),
        "train.ft": "".join(f"__label__{label} {text}\n" for label, text in rows),
    }
    paths = []
    for name, content in inputs.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        paths.append(tmp_path / name)
    for number, (label, text) in enumerate(rows):
        folder = tmp_path / "folder" / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{number}.txt").write_text(text + "\n", encoding="utf-8")
    paths.append(tmp_path / "folder")

    matrices = []
    for number, path in enumerate(paths):
        output = tmp_path / f"features-{number}.npz"
        result = invoke("-q", "featurize", path, "-o", output)
        assert result.exit_code == 0, (path, result.output)
        features = FeaturesFile.load(output)
        matrices.append((features.X.to_dense(), features.y.tolist(), features.labels, features.featurizer.feature_names()))
    for dense, y, labels, names in matrices[1:]:
        assert np.array_equal(dense, matrices[0][0])
        assert y == matrices[0][1]
        assert labels == matrices[0][2]
        assert names == matrices[0][3]


def test_invalid_threads_rejected_first(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGREG_THREADS", "abc")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "missing.npz"), str(tmp_path / "missing.txt")])
    assert result.exit_code == 1
    assert "LOGREG_THREADS='abc' is invalid" in result.output
    assert "missing" not in result.output


@pytest.mark.parametrize("command, example", [("train", "model.npz"), ("featurize", "features.npz")])
def test_output_folder_is_error_line(tmp_path, tiny_corpus, command, example):
    train, _ = tiny_corpus
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke(command, train, "-o", folder)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {folder}: is a folder, but -o/--output needs a file name")
    assert f"such as {folder / example}" in result.stderr
    assert "Usage:" not in result.stderr


@pytest.mark.parametrize("flags, example", [([], "report.txt"), (["--json"], "report.json")])
def test_eval_output_folder_example(tmp_path, flags, example):
    folder = tmp_path / "out"
    folder.mkdir()
    # --json after -o: the example still follows it.
    result = invoke("eval", tmp_path / "model.npz", tmp_path / "test.tsv", "-o", folder, *flags)
    assert result.exit_code == 1
    assert f"such as {folder / example}" in result.stderr


def test_ctrl_c_while_saving_keeps_model(tmp_path, tiny_corpus, monkeypatch):
    train, _ = tiny_corpus
    model = tmp_path / "model.npz"
    save = LogisticModel.save

    def interrupted_save(self, path):
        os.kill(os.getpid(), signal.SIGINT)  # held until the file is complete
        save(self, path)

    monkeypatch.setattr(LogisticModel, "save", interrupted_save)
    result = invoke("train", train, "-o", model, "--set", "trainer.validation_fraction=0")
    assert result.exit_code == 130
    assert "error: interrupted after training; saved the weights of epoch" in result.stderr
    assert LogisticModel.load(model).labels == ["neg", "pos"]


def test_ctrl_c_during_test_keeps_model(tmp_path, tiny_corpus, monkeypatch):
    train, test = tiny_corpus
    model = tmp_path / "model.npz"

    def interrupted_evaluation(*arguments, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr("logreg_cli.cli.evaluate_file", interrupted_evaluation)
    result = invoke("train", train, "--test", test, "-o", model, "--set", "trainer.validation_fraction=0")
    assert result.exit_code == 130
    assert f"to {model}" in result.stderr
    assert model.is_file()


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_output_folder_checked_first(tmp_path, command):
    # The model does not exist either, but the output path is checked before any file is read.
    target = tmp_path / "missing" / "out.txt"
    result = invoke(command, tmp_path / "model.npz", tmp_path / "input.tsv", "-o", target)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {target}: the folder {target.parent} does not exist")


def test_output_under_file_names_file(tmp_path, tiny_corpus):
    existing_file = tmp_path / "existing_file"
    existing_file.write_text("x")
    result = invoke("train", tiny_corpus[0], "-o", existing_file / "model.npz")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {existing_file / 'model.npz'}: {existing_file} is a file, not a folder")


def test_validation_same_as_test_warns(tmp_path, tiny_corpus):
    train, test = tiny_corpus
    result = invoke("train", train, "--validation", test, "--test", test, "-o", tmp_path / "model.npz")
    assert result.exit_code == 0
    assert "data.validation and data.test are the same file" in result.stderr


def test_validation_same_as_train_warns(tmp_path, tiny_corpus):
    train, _ = tiny_corpus
    result = invoke("train", train, "--validation", train, "-o", tmp_path / "model.npz")
    assert result.exit_code == 0
    assert "data.validation and data.train are the same file" in result.stderr


def test_stream_cache_without_streaming_warns(tmp_path, tiny_corpus):
    result = invoke("train", tiny_corpus[0], "-o", tmp_path / "model.npz", "--set", "trainer.stream_cache=true")
    assert result.exit_code == 0
    assert "trainer.stream_cache applies only with trainer.streaming" in result.stderr


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_run_output_file_is_error(tmp_path, command):
    existing = tmp_path / "model.npz"
    existing.write_bytes(b"")
    result = invoke(command, "-c", tmp_path / "config.yaml", "-o", existing)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {existing}: is a file, but -o/--output names a folder to write into")
    assert "Usage:" not in result.stderr
