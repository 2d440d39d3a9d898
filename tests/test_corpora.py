"""End to end through the CLI on the real corpora, with the committed configs and accuracy floors."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import corpus_dir
from logreg_cli.cli import main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# Lowest acceptable test accuracy of each committed config.
ACCURACY_FLOORS = {
    "sms_spam": 0.985,
    "movie_review_polarity_v2": 0.87,
    "imdb_aclimdb": 0.90,
    "20newsgroups_bydate": 0.84,
}


def train_and_evaluate(tmp_path: Path, name: str, train_options: list[str]) -> dict:
    """Train through the CLI on a corpus's training file, evaluate on its test file and return the JSON report."""
    folder = corpus_dir(name)
    model = tmp_path / "model.npz"
    runner = CliRunner()
    trained = runner.invoke(main, ["-q", "train", *train_options, str(folder / "train.tsv"), "-o", str(model)],
                            catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(main, ["eval", str(model), str(folder / "test.tsv"), "--json"], catch_exceptions=False)
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["n_documents"] == sum(1 for _ in open(folder / "test.tsv", encoding="utf-8"))
    return report


@pytest.mark.corpus
@pytest.mark.parametrize("name", list(ACCURACY_FLOORS))
def test_committed_config_reaches_accuracy_floor(tmp_path, name):
    report = train_and_evaluate(tmp_path, name, ["-c", str(CONFIGS / f"{name}.yaml"), "--set", "data.test=null"])
    assert report["accuracy"] >= ACCURACY_FLOORS[name]


# Lowest acceptable test accuracy with no config at all, so the defaults stay good on every corpus.
DEFAULT_FLOORS = {
    "sms_spam": 0.975,
    "movie_review_polarity_v2": 0.83,
    "imdb_aclimdb": 0.875,
    "20newsgroups_bydate": 0.79,
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", list(DEFAULT_FLOORS))
def test_defaults_reach_accuracy_floor(tmp_path, name):
    report = train_and_evaluate(tmp_path, name, [])
    assert report["accuracy"] >= DEFAULT_FLOORS[name]


@pytest.mark.corpus
def test_predict_lines_match_test_file(tmp_path):
    folder = corpus_dir("sms_spam")
    model = tmp_path / "model.npz"
    runner = CliRunner()
    assert runner.invoke(main, ["-q", "train", str(folder / "train.tsv"), "-o", str(model)]).exit_code == 0
    predicted = runner.invoke(main, ["predict", str(model), str(folder / "test.tsv")], catch_exceptions=False)
    lines = predicted.stdout.splitlines()
    labels = [line.split("\t", 1)[0] for line in open(folder / "test.tsv", encoding="utf-8")]
    assert len(lines) == len(labels)
    agreement = sum(line.split("\t")[0] == label for line, label in zip(lines, labels)) / len(labels)
    assert agreement >= 0.95
