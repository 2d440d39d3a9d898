"""Experiment runs, sweeps, cross-validation and thresholds, driven through the logreg command."""

import csv
import dataclasses
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import corpus_dir
from logreg_cli.cli import main
from logreg_cli.config import FeaturizerConfig, load_config
from logreg_cli.experiment import HISTORY_COLUMNS, stratified_folds
from logreg_cli.metrics import threshold_curve
from logreg_cli.model import LogisticModel
from logreg_cli.plots import plotting_available as plots_available

POSITIVE = ["great", "fun", "wonderful", "superb", "lovely", "moving"]
NEGATIVE = ["awful", "boring", "dull", "bad", "poor", "tedious"]
NEUTRAL = ["film", "plot", "cast", "acting", "the", "and", "story", "music"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _documents(count: int, seed: int) -> list[str]:
    """Return ``count`` labelled lines: two words of the document's label, one of the other, three neutral."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        label = "pos" if i % 2 == 0 else "neg"
        own, other = (POSITIVE, NEGATIVE) if label == "pos" else (NEGATIVE, POSITIVE)
        words = rng.sample(own, 2) + rng.sample(other, 1) + rng.sample(NEUTRAL, 3)
        rng.shuffle(words)
        lines.append(f"{label}\t{' '.join(words)}")
    return lines


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    """Write a two-label corpus (train and test) and a config that names them; return the config path."""
    (tmp_path / "train.tsv").write_text("\n".join(_documents(80, seed=1)) + "\n", encoding="utf-8")
    (tmp_path / "test.tsv").write_text("\n".join(_documents(20, seed=2)) + "\n", encoding="utf-8")
    config = {
        "data": {"train": str(tmp_path / "train.tsv"), "test": str(tmp_path / "test.tsv")},
        "trainer": {"max_epochs": 15, "validation_fraction": 0.25, "learning_rate": 1.0},
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def three_labels(tmp_path: Path) -> Path:
    """Write a three-label corpus and a config for it; return the config path."""
    topics = {"sport": ["goal", "match", "team", "coach"], "food": ["pasta", "bread", "sauce", "oven"],
              "music": ["guitar", "song", "album", "drums"]}
    rng = random.Random(3)
    lines = []
    for i in range(60):
        label = list(topics)[i % 3]
        lines.append(f"{label}\t{' '.join(rng.sample(topics[label], 2) + rng.sample(NEUTRAL, 2))}")
    (tmp_path / "topics.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump({"data": {"train": str(tmp_path / "topics.tsv")},
                                    "trainer": {"max_epochs": 10, "validation_fraction": 0.25}}), encoding="utf-8")
    return path


def invoke(*arguments):
    return CliRunner().invoke(main, [str(a) for a in arguments], catch_exceptions=False)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# ---------------------------------------------------------------- run


def test_run_writes_every_file(experiment, tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("run", "-c", experiment, "-o", run_dir)
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "model.npz", "metrics.json", "history.csv", "predictions.tsv", "run.log"):
        assert (run_dir / name).is_file(), name
    assert "accuracy" in result.stdout


def test_run_warns_of_test_documents_seen_in_training(experiment, tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("run", "-c", experiment, "--set", f"data.test={tmp_path / 'train.tsv'}", "-o", run_dir)
    assert result.exit_code == 0, result.output
    overlap = [line for line in result.stderr.splitlines() if "also occur verbatim" in line]
    assert len(overlap) == 1
    assert "of 80 test documents" in overlap[0]
    assert "also occur verbatim" in (run_dir / "run.log").read_text(encoding="utf-8")


def test_run_with_empty_test_file_makes_no_folder(experiment, tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "-c", str(experiment), "--set", f"data.test={empty}", "-o", str(run_dir)])
    assert result.exit_code == 1
    assert "no documents found" in result.output
    assert not run_dir.exists()


def test_run_plots_are_valid_pngs(experiment, tmp_path):
    pytest.importorskip("matplotlib")
    run_dir = tmp_path / "run"
    assert invoke("run", "-c", experiment, "-o", run_dir).exit_code == 0
    for name in ("learning_curve.png", "confusion_matrix.png"):
        content = (run_dir / name).read_bytes()
        assert content.startswith(PNG_SIGNATURE), name
        assert len(content) > 5000, name


def test_run_without_matplotlib_succeeds(experiment, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    run_dir = tmp_path / "run"
    result = invoke("run", "-c", experiment, "-o", run_dir)
    assert result.exit_code == 0, result.output
    assert "pip install '.[plot]' in the logreg-cli checkout" in result.stderr
    assert not (run_dir / "learning_curve.png").exists()
    assert (run_dir / "model.npz").is_file()


def test_run_no_plots_flag_skips_plots(experiment, tmp_path):
    run_dir = tmp_path / "run"
    assert invoke("run", "-c", experiment, "-o", run_dir, "--no-plots").exit_code == 0
    assert not (run_dir / "learning_curve.png").exists()
    assert not (run_dir / "confusion_matrix.png").exists()


def test_run_history_csv_has_one_row_per_epoch(experiment, tmp_path):
    run_dir = tmp_path / "run"
    invoke("run", "-c", experiment, "-o", run_dir)
    rows = read_csv(run_dir / "history.csv")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert len(rows) == metrics["training"]["epochs"]
    assert [int(row["epoch"]) for row in rows] == list(range(1, len(rows) + 1))
    assert all(row["val_loss"] != "" for row in rows)
    assert float(rows[0]["learning_rate"]) == 1.0


def test_run_metrics_json_matches_eval(experiment, tmp_path):
    run_dir = tmp_path / "run"
    invoke("run", "-c", experiment, "-o", run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test", "training"}
    assert metrics["validation"]["n_documents"] == 20
    assert metrics["training"]["n_train"] == 60
    evaluated = json.loads(invoke("eval", run_dir / "model.npz", tmp_path / "test.tsv", "--json").stdout)
    assert metrics["test"]["accuracy"] == evaluated["accuracy"]
    assert metrics["test"]["roc_auc"] == evaluated["roc_auc"]


def test_run_config_yaml_loads_back(experiment, tmp_path):
    run_dir = tmp_path / "run"
    invoke("run", "-c", experiment, "-o", run_dir, "--set", "trainer.l2=0.001")
    reloaded = load_config(run_dir / "config.yaml")
    expected = load_config(experiment, ["trainer.l2=0.001"])
    assert reloaded == expected


def test_run_predictions_tsv_match_predict(experiment, tmp_path):
    run_dir = tmp_path / "run"
    invoke("run", "-c", experiment, "-o", run_dir)
    rows = read_csv_tsv(run_dir / "predictions.tsv")
    predicted = [line.split("\t")[0] for line in invoke("predict", run_dir / "model.npz", tmp_path / "test.tsv").stdout.splitlines()]
    true_labels = [line.split("\t")[0] for line in (tmp_path / "test.tsv").read_text().splitlines()]
    assert list(rows[0]) == ["document", "true_label", "predicted_label", "probability", "probability_neg", "probability_pos"]
    assert [row["predicted_label"] for row in rows] == predicted
    assert [row["true_label"] for row in rows] == true_labels


def read_csv_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


def test_run_log_records_epochs(experiment, tmp_path):
    run_dir = tmp_path / "run"
    invoke("-q", "run", "-c", experiment, "-o", run_dir)
    log = (run_dir / "run.log").read_text()
    assert "epoch    1  train_loss" in log
    assert "kept the weights of epoch" in log


def test_run_without_train_corpus_fails(tmp_path):
    result = invoke("run", "-o", tmp_path / "run")
    assert result.exit_code == 1
    assert "error: no training corpus: set data.train" in result.stderr


def test_run_output_is_a_file_fails(experiment, tmp_path):
    target = tmp_path / "existing_file"
    target.write_text("x")
    result = invoke("run", "-c", experiment, "-o", target)
    assert result.exit_code == 1
    assert "is a file" in result.stderr
    assert not target.is_dir()


@pytest.mark.parametrize("command, extra, what", [("run", [], "the run's results"),
                                                  ("sweep", ["--grid", "trainer.l2=0,0.05"], "the sweep's results")])
def test_output_under_file_fails(experiment, tmp_path, command, extra, what):
    existing_file = tmp_path / "existing_file"
    existing_file.write_text("x")
    result = invoke(command, "-c", experiment, *extra, "-o", existing_file / "inner")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {existing_file / 'inner'}: {existing_file} is a file, not a folder; pass a folder for {what}")
    assert "Traceback" not in result.stderr


def test_run_bad_corpus_leaves_no_folder(experiment, tmp_path):
    with open(tmp_path / "train.tsv", "a", encoding="utf-8") as stream:
        stream.write("a line without a tab\n")
    run_dir = tmp_path / "new_run"
    result = invoke("run", "-c", experiment, "-o", run_dir)
    assert result.exit_code == 1
    assert "found no tab" in result.stderr
    assert not run_dir.exists()


def test_run_bad_corpus_keeps_earlier_run(experiment, tmp_path):
    run_dir = tmp_path / "run"
    assert invoke("run", "-c", experiment, "-o", run_dir).exit_code == 0
    config_before = (run_dir / "config.yaml").read_text(encoding="utf-8")
    model_before = (run_dir / "model.npz").read_bytes()
    with open(tmp_path / "train.tsv", "a", encoding="utf-8") as stream:
        stream.write("a line without a tab\n")
    result = invoke("run", "-c", experiment, "--set", "trainer.learning_rate=2", "-o", run_dir)
    assert result.exit_code == 1
    assert (run_dir / "config.yaml").read_text(encoding="utf-8") == config_before
    assert (run_dir / "model.npz").read_bytes() == model_before


def test_run_softmax_without_test_corpus(three_labels, tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("run", "-c", three_labels, "-o", run_dir)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"] is None
    assert metrics["training"]["kind"] == "softmax"
    assert metrics["validation"]["confusion_matrix"]["labels"] == ["food", "music", "sport"]
    assert not (run_dir / "predictions.tsv").exists()
    if plots_available():
        assert (run_dir / "confusion_matrix.png").read_bytes().startswith(PNG_SIGNATURE)


# ---------------------------------------------------------------- sweep


def test_sweep_ranks_by_log_loss(experiment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = invoke("sweep", "-c", experiment, "--grid", "trainer.l2=0.5,0,0.05", "--metric", "log_loss", "-o", sweep_dir)
    assert result.exit_code == 0, result.output
    rows = read_csv(sweep_dir / "results.csv")
    losses = [float(row["val_log_loss"]) for row in rows]
    assert losses == sorted(losses)
    assert [row["trainer.l2"] for row in rows] == ["0", "0.05", "0.5"]
    assert [row["rank"] for row in rows] == ["1", "2", "3"]


def test_sweep_ranks_accuracy_highest_first(experiment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    invoke("sweep", "-c", experiment, "--grid", "trainer.l2=0,0.5", "--grid", "trainer.max_epochs=1,15",
           "--metric", "accuracy", "-o", sweep_dir)
    rows = read_csv(sweep_dir / "results.csv")
    accuracies = [float(row["val_accuracy"]) for row in rows]
    assert len(rows) == 4
    assert accuracies == sorted(accuracies, reverse=True)


def test_sweep_writes_table_and_best_files(experiment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = invoke("sweep", "-c", experiment, "--grid", "trainer.l2=0.5,0", "--metric", "log_loss", "-o", sweep_dir)
    rows = read_csv(sweep_dir / "results.csv")
    assert list(rows[0]) == ["rank", "run", "trainer.l2", "val_accuracy", "val_macro_f1", "val_weighted_f1",
                             "val_log_loss", "val_roc_auc", "val_pr_auc", "best_epoch", "seconds"]
    assert rows[0]["run"] == "run-02"
    assert load_config(sweep_dir / "best_config.yaml").trainer.l2 == 0.0
    assert LogisticModel.load(sweep_dir / "best_model.npz").config["trainer"]["l2"] == 0.0
    assert (sweep_dir / "run-01" / "model.npz").is_file()
    assert not (sweep_dir / "run-01" / "predictions.tsv").exists()
    assert result.stdout.splitlines()[2].split()[:2] == ["1", "run-02"]


def test_sweep_ngram_max_changes_features(experiment, tmp_path):
    if "ngram_max" not in {f.name for f in dataclasses.fields(FeaturizerConfig)}:
        pytest.skip("featurizer.ngram_max is not a config key in this version")
    sweep_dir = tmp_path / "sweep"
    result = invoke("sweep", "-c", experiment, "--grid", "featurizer.ngram_max=1,2", "-o", sweep_dir)
    assert result.exit_code == 0, result.output
    unigrams = LogisticModel.load(sweep_dir / "run-01" / "model.npz")
    bigrams = LogisticModel.load(sweep_dir / "run-02" / "model.npz")
    assert unigrams.featurizer.settings.ngram_max == 1
    assert bigrams.featurizer.settings.ngram_max == 2
    assert bigrams.featurizer.n_features > unigrams.featurizer.n_features


def test_sweep_contradicting_grid_names_grid(experiment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = invoke("sweep", "-c", experiment, "--grid", "featurizer.hash_bits=0,8", "--grid", "featurizer.min_df=1,2",
                    "-o", sweep_dir)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --grid featurizer.min_df=1,2 (in the run with featurizer.hash_bits=8, "
                                    "featurizer.min_df=2): featurizer.min_df=2 prunes a vocabulary")
    assert not sweep_dir.exists()


def test_sweep_bad_value_fails_before_training(experiment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = invoke("sweep", "-c", experiment, "--grid", "trainer.l2=0,lots", "-o", sweep_dir)
    assert result.exit_code == 1
    assert "trainer.l2 must be a number" in result.stderr
    assert not (sweep_dir / "run-01").exists()


def test_sweep_grid_takes_list_values(experiment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = invoke("sweep", "-c", experiment, "--grid", "featurizer.char_ngrams=[2,3],null", "-o", sweep_dir)
    assert result.exit_code == 0, result.output
    table = (sweep_dir / "results.csv").read_text(encoding="utf-8")
    assert "\"[2,3]\"" in table
    assert len(table.strip().splitlines()) == 3  # the header and two runs


def test_sweep_malformed_grid_fails(experiment, tmp_path):
    result = invoke("sweep", "-c", experiment, "--grid", "trainer.l2", "-o", tmp_path / "sweep")
    assert result.exit_code == 1
    assert "expected section.key=value1,value2" in result.stderr


def test_sweep_needs_validation_documents(experiment, tmp_path):
    result = invoke("sweep", "-c", experiment, "--set", "trainer.validation_fraction=0", "--grid", "trainer.l2=0,1",
                    "-o", tmp_path / "sweep")
    assert result.exit_code == 1
    assert "validation" in result.stderr


def test_sweep_roc_auc_rejected_for_softmax(three_labels, tmp_path):
    result = invoke("sweep", "-c", three_labels, "--grid", "trainer.l2=0,1", "--metric", "roc_auc", "-o", tmp_path / "sweep")
    assert result.exit_code == 1
    assert "roc_auc" in result.stderr


# ---------------------------------------------------------------- cross-validation


def test_cv_reports_mean_and_std(experiment):
    result = invoke("cv", "-c", experiment, "--folds", "4", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    accuracies = [fold["accuracy"] for fold in report["folds"]]
    assert len(report["folds"]) == 4
    assert sum(fold["n_test"] for fold in report["folds"]) == 80
    assert report["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert report["summary"]["accuracy"]["std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert set(report["summary"]) >= {"accuracy", "macro_f1", "log_loss", "roc_auc", "pr_auc"}


def test_cv_table_lists_each_metric(experiment):
    result = invoke("cv", "-c", experiment, "--folds", "3")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("3-fold cross-validation")
    assert lines[2].split() == ["metric", "mean", "std", "fold", "1", "fold", "2", "fold", "3"]
    assert any(line.startswith("macro_f1") for line in lines)


def test_cv_softmax_leaves_out_binary_scores(three_labels):
    report = json.loads(invoke("cv", "-c", three_labels, "--folds", "3", "--json").stdout)
    assert "roc_auc" not in report["summary"]
    assert report["labels"] == ["food", "music", "sport"]


def test_cv_one_fold_is_a_usage_error(experiment):
    assert invoke("cv", "-c", experiment, "--folds", "1").exit_code == 2


def test_stratified_folds_balance_labels():
    y = np.array([0] * 10 + [1] * 5)
    folds = stratified_folds(y, 5, seed=0)
    assert np.bincount(folds).tolist() == [3, 3, 3, 3, 3]
    assert np.bincount(folds[y == 1]).tolist() == [1, 1, 1, 1, 1]
    assert np.array_equal(folds, stratified_folds(y, 5, seed=0))


# ---------------------------------------------------------------- eval scores and thresholds


@pytest.fixture
def trained(experiment, tmp_path) -> Path:
    model = tmp_path / "model.npz"
    assert invoke("train", "-c", experiment, "-o", model).exit_code == 0
    return model


def test_eval_reports_log_loss_and_auc(trained, tmp_path):
    report = json.loads(invoke("eval", trained, tmp_path / "test.tsv", "--json").stdout)
    text = invoke("eval", trained, tmp_path / "test.tsv").stdout
    assert 0.0 < report["log_loss"] < 1.0
    assert 0.5 < report["roc_auc"] <= 1.0
    assert 0.5 < report["pr_auc"] <= 1.0
    assert "log loss:" in text
    assert "ROC-AUC:" in text
    assert "PR-AUC" in text


def test_eval_thresholds_reports_best_f1(trained, tmp_path):
    result = invoke("eval", trained, tmp_path / "test.tsv", "--thresholds", "--json")
    table = json.loads(result.stdout)["thresholds"]
    model = LogisticModel.load(trained)
    features = model.featurizer.transform([line.split("\t")[1] for line in (tmp_path / "test.tsv").read_text().splitlines()])
    y = np.array([line.startswith("pos") for line in (tmp_path / "test.tsv").read_text().splitlines()])
    expected = threshold_curve(y, model.predict_probabilities(features)[:, 1])
    assert table["positive_label"] == "pos"
    assert [row["threshold"] for row in table["table"]] == pytest.approx(np.arange(1, 20) * 0.05)
    assert table["best_threshold"] == pytest.approx(expected["best_threshold"])
    assert table["best_f1"] == pytest.approx(expected["best_f1"])


def test_eval_thresholds_text_table(trained, tmp_path):
    text = invoke("eval", trained, tmp_path / "test.tsv", "--thresholds").stdout
    assert "precision and recall of 'pos' over thresholds" in text
    assert "best threshold for F1:" in text


def test_eval_threshold_zero_predicts_all_positive(trained, tmp_path):
    report = json.loads(invoke("eval", trained, tmp_path / "test.tsv", "--threshold", "0", "--json").stdout)
    assert report["per_label"]["pos"]["predicted"] == 20
    assert report["per_label"]["neg"]["predicted"] == 0


def test_eval_threshold_rejected_for_softmax(three_labels, tmp_path):
    model = tmp_path / "topics.npz"
    assert invoke("train", "-c", three_labels, "-o", model).exit_code == 0
    result = invoke("eval", model, tmp_path / "topics.tsv", "--threshold", "0.3")
    assert result.exit_code == 1
    assert "--threshold applies to binary models only" in result.stderr


def test_train_tune_threshold_stores_it(experiment, tmp_path):
    model_path = tmp_path / "tuned.npz"
    result = invoke("train", "-c", experiment, "--tune-threshold", "-o", model_path)
    assert result.exit_code == 0, result.output
    model = LogisticModel.load(model_path)
    assert model.threshold is not None
    assert 0.0 <= model.threshold <= 1.0
    assert "gives the highest validation F1" in result.stderr


def test_train_threshold_key_stored_and_used(experiment, tmp_path):
    model_path = tmp_path / "model.npz"
    invoke("train", "-c", experiment, "--set", "trainer.threshold=1", "-o", model_path)
    report = json.loads(invoke("eval", model_path, tmp_path / "test.tsv", "--json").stdout)
    assert LogisticModel.load(model_path).threshold == 1.0
    assert report["per_label"]["pos"]["predicted"] == 0


def test_tune_threshold_without_validation_fails(experiment, tmp_path):
    result = invoke("train", "-c", experiment, "--tune-threshold", "--set", "trainer.validation_fraction=0",
                    "-o", tmp_path / "model.npz")
    assert result.exit_code == 1
    assert "trainer.tune_threshold needs validation documents" in result.stderr


def test_model_without_threshold_loads_as_none(trained):
    model = LogisticModel.load(trained)
    with np.load(trained, allow_pickle=False) as archive:
        assert "threshold" not in archive.files
    assert model.threshold is None


# ---------------------------------------------------------------- a real corpus


@pytest.mark.corpus
def test_run_on_sms_spam_corpus(tmp_path):
    folder = corpus_dir("sms_spam")
    run_dir = tmp_path / "run"
    result = invoke("-q", "run", "--set", f"data.train={folder / 'train.tsv'}", "--set", f"data.test={folder / 'test.tsv'}",
                    "-o", run_dir)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["n_documents"] == 1116
    assert metrics["test"]["accuracy"] > 0.95
    assert len(read_csv_tsv(run_dir / "predictions.tsv")) == 1116
    if plots_available():
        for name in ("learning_curve.png", "confusion_matrix.png"):
            content = (run_dir / name).read_bytes()
            assert content.startswith(PNG_SIGNATURE), name
            assert len(content) > 5000, name


def test_run_missing_corpus_makes_no_folder(tmp_path):
    config = tmp_path / "missing.yaml"
    config.write_text("data:\n  train: nowhere/train.tsv\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "-c", str(config), "-o", str(run_dir)])
    assert result.exit_code == 1
    assert "data.train: nowhere/train.tsv not found" in result.output
    assert not run_dir.exists()
