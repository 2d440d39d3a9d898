"""Model inspection, per-document explanations and the output options of predict."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import TINY_TRAIN
from logreg_cli.cli import main
from logreg_cli.explain import describe_model, explain_documents, prediction_records, top_features
from logreg_cli.model import LogisticModel

BINARY_TRAIN = TINY_TRAIN

TOPICS_TRAIN = """\
sport\tgoal match team
sport\tteam coach goal
sport\tmatch coach win
food\tpasta sauce oven
food\tbread oven flour
food\tsauce bread pasta
music\tguitar song album
music\tsong drums album
music\tguitar drums band
"""

DOCUMENTS = "great fun cast\nawful dull plot\n\nnothing known here\n"


def invoke(*arguments):
    return CliRunner().invoke(main, [str(a) for a in arguments], catch_exceptions=False)


def _train(tmp_path: Path, name: str, corpus: str) -> Path:
    train = tmp_path / f"{name}.tsv"
    train.write_text(corpus, encoding="utf-8")
    model = tmp_path / f"{name}.npz"
    result = invoke("-q", "train", train, "-o", model, "--set", "trainer.validation_fraction=0",
                    "--set", "trainer.learning_rate=2", "--set", "trainer.max_epochs=100")
    assert result.exit_code == 0, result.output
    return model


@pytest.fixture
def binary_model(tmp_path) -> Path:
    return _train(tmp_path, "binary", BINARY_TRAIN)


@pytest.fixture
def topics_model(tmp_path) -> Path:
    return _train(tmp_path, "topics", TOPICS_TRAIN)


@pytest.fixture
def documents(tmp_path) -> Path:
    path = tmp_path / "documents.txt"
    path.write_text(DOCUMENTS, encoding="utf-8")
    return path


# ---------------------------------------------------------------- inspect


def test_inspect_binary_lists_both_signs(binary_model):
    result = invoke("inspect", binary_model, "--top-k", "3")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "kind: binary, 2 labels: neg, pos" in text
    assert "top 3 features for 'pos' (positive weights):" in text
    assert "top 3 features for 'neg' (negative weights):" in text
    pos_block = text.split("for 'pos'")[1].split("\n\n")[0]
    assert "great" in pos_block
    assert "awful" not in pos_block


def test_inspect_shows_settings_and_training(binary_model):
    text = invoke("inspect", binary_model).stdout
    assert "featurizer:\n  lowercase: true" in text
    assert "  learning_rate: 2.0" in text
    assert "training: kept epoch" in text
    assert "threshold: none" in text


def test_inspect_json_keys(binary_model):
    description = json.loads(invoke("inspect", binary_model, "--json").stdout)
    assert set(description) == {"kind", "labels", "n_features", "n_ngram_features", "n_handcrafted_features",
                                "hash_scheme", "threshold", "bias", "featurizer", "trainer", "training", "top_features"}
    assert description["labels"] == ["neg", "pos"]
    featurizer = LogisticModel.load(binary_model).featurizer
    assert description["n_features"] == featurizer.n_features
    assert description["n_ngram_features"] == featurizer.n_features - 1
    assert description["hash_scheme"] is None
    assert all(item["weight"] > 0 for item in description["top_features"]["pos"])
    assert all(item["weight"] < 0 for item in description["top_features"]["neg"])


def test_inspect_counts_each_kind_of_column(binary_model, tmp_path):
    text = invoke("inspect", binary_model).stdout
    n_ngrams = LogisticModel.load(binary_model).featurizer.n_features - 1
    assert f"features: {n_ngrams + 1:,} (the bias feature; a vocabulary of {n_ngrams:,} n-grams)\n" in text
    train = tmp_path / "train.tsv"
    train.write_text(BINARY_TRAIN, encoding="utf-8")
    hashed = tmp_path / "hashed.npz"
    assert invoke("-q", "train", train, "-o", hashed, "--set", "featurizer.hash_bits=6",
                  "--set", "featurizer.document_length=log").exit_code == 0
    text = invoke("inspect", hashed).stdout
    assert "features: 66 (the bias feature; 64 hashed n-gram columns, tokens hashed by bytes; 1 hand-written feature)\n" in text


def test_top_features_binary_sorted_by_weight(binary_model):
    model = LogisticModel.load(binary_model)
    features = top_features(model, 4)
    pos_weights = [weight for _, weight in features["pos"]]
    neg_weights = [weight for _, weight in features["neg"]]
    assert pos_weights == sorted(pos_weights, reverse=True)
    assert neg_weights == sorted(neg_weights)
    assert features["pos"][0][0] in {"great", "fun", "wonderful"}


def test_top_features_softmax_every_label(topics_model):
    model = LogisticModel.load(topics_model)
    features = top_features(model, 2)
    assert set(features) == {"food", "music", "sport"}
    assert {name for name, _ in features["sport"]} <= {"goal", "match", "team", "coach", "win"}
    assert {name for name, _ in features["food"]} <= {"pasta", "sauce", "oven", "bread", "flour"}


def test_top_features_leave_out_bias(binary_model):
    model = LogisticModel.load(binary_model)
    listed = [name for pairs in top_features(model, 100).values() for name, _ in pairs]
    assert "<bias>" not in listed
    assert len(listed) == len(set(listed))


def test_describe_model_reports_threshold(binary_model):
    model = LogisticModel.load(binary_model)
    model.threshold = 0.25
    assert describe_model(model)["threshold"] == 0.25


def test_inspect_missing_model_fails(tmp_path):
    result = invoke("inspect", tmp_path / "none.npz")
    assert result.exit_code == 1
    assert "model file not found" in result.stderr


# ---------------------------------------------------------------- explanations


@pytest.mark.parametrize("model_name", ["binary_model", "topics_model"])
def test_explanation_sums_to_logit(model_name, request):
    model = LogisticModel.load(request.getfixturevalue(model_name))
    X = model.featurizer.transform(["great fun awful cast", "goal pasta song", "dull"])
    predicted = model.predict(X)
    explanations = explain_documents(model, X, predicted, k=1000)
    logits = model.logits(X)
    for document, explanation in enumerate(explanations):
        total = explanation["bias"] + sum(item["contribution"] for item in explanation["features"])
        if model.kind == "binary":
            expected = logits[document] if predicted[document] == 1 else -logits[document]
        else:
            expected = logits[document, predicted[document]]
        assert total == pytest.approx(expected)


def test_explanation_keeps_largest_contributions(binary_model):
    model = LogisticModel.load(binary_model)
    X = model.featurizer.transform(["great fun wonderful awful film"])
    explanation = explain_documents(model, X, model.predict(X), k=2)[0]
    contributions = [item["contribution"] for item in explanation["features"]]
    every = [item["contribution"] for item in explain_documents(model, X, model.predict(X), k=100)[0]["features"]]
    assert len(contributions) == 2
    assert contributions == sorted(every, reverse=True)[:2]
    assert all(item["contribution"] == pytest.approx(item["value"] * item["weight"]) for item in explanation["features"])


def test_explanation_of_document_without_features(binary_model):
    model = LogisticModel.load(binary_model)
    X = model.featurizer.transform(["", "zzz"])
    explanations = explain_documents(model, X, model.predict(X), k=3)
    assert [e["features"] for e in explanations] == [[], []]


def test_predict_explain_tsv_column(binary_model, documents):
    result = invoke("predict", binary_model, documents, "--explain", "--explain-features", "2")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert [len(row) for row in rows] == [3, 3, 3, 3]
    assert rows[0][0] == "pos"
    items = rows[0][2].split("; ")
    assert len(items) == 2
    assert {item.split("=")[0] for item in items} <= {"great", "fun", "cast"}
    assert all(float(item.split("=")[1]) > 0 for item in items)
    assert rows[2][2] == ""


def test_predict_explain_jsonl_fields(binary_model, documents):
    result = invoke("predict", binary_model, documents, "--explain", "--output-format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 4
    assert set(records[1]) == {"label", "probability", "explanation"}
    assert records[1]["label"] == "neg"
    first = records[1]["explanation"]["features"][0]
    assert set(first) == {"feature", "value", "weight", "contribution"}
    assert first["feature"] in {"awful", "dull"}


# ---------------------------------------------------------------- predict output options


def test_predict_top_k_orders_labels(topics_model, documents, tmp_path):
    inputs = tmp_path / "topics.txt"
    inputs.write_text("goal match\npasta oven\n", encoding="utf-8")
    rows = [line.split("\t") for line in invoke("predict", topics_model, inputs, "--top-k", "2").stdout.splitlines()]
    assert [len(row) for row in rows] == [6, 6]
    assert [row[0] for row in rows] == ["sport", "food"]
    assert rows[0][2] == "sport"
    assert float(rows[0][3]) >= float(rows[0][5])


def test_predict_top_k_above_labels_is_clamped(binary_model, documents):
    result = invoke("predict", binary_model, documents, "--top-k", "5", "--output-format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [len(record["top"]) for record in records] == [2, 2, 2, 2]
    assert sum(item["probability"] for item in records[0]["top"]) == pytest.approx(1.0)


def test_predict_jsonl_probabilities(binary_model, documents):
    result = invoke("predict", binary_model, documents, "--probabilities", "--output-format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert list(records[0]["probabilities"]) == ["neg", "pos"]
    assert records[0]["probability"] == records[0]["probabilities"][records[0]["label"]]


def test_predict_default_output_unchanged(binary_model, documents):
    rows = [line.split("\t") for line in invoke("predict", binary_model, documents).stdout.splitlines()]
    assert [len(row) for row in rows] == [2, 2, 2, 2]
    assert [row[0] for row in rows[:2]] == ["pos", "neg"]


def test_predict_threshold_override(binary_model, documents):
    rows = [line.split("\t") for line in invoke("predict", binary_model, documents, "--threshold", "0").stdout.splitlines()]
    assert [row[0] for row in rows] == ["pos", "pos", "pos", "pos"]


def test_predict_stored_threshold_applies(binary_model, documents, tmp_path):
    model = LogisticModel.load(binary_model)
    model.threshold = 1.0
    stricter = tmp_path / "strict.npz"
    model.save(stricter)
    assert LogisticModel.load(stricter).threshold == 1.0
    rows = [line.split("\t") for line in invoke("predict", stricter, documents).stdout.splitlines()]
    assert [row[0] for row in rows] == ["neg", "neg", "neg", "neg"]


def test_predict_bad_output_format_is_usage_error(binary_model, documents):
    result = invoke("predict", binary_model, documents, "--output-format", "csv")
    assert result.exit_code == 2


def test_predict_help_separates_input_and_output_format():
    text = invoke("predict", "--help").stdout
    assert "--output-format [tsv|jsonl]" in text
    assert "--format sets the input format" in text


def test_prediction_records_without_options():
    model_probabilities = np.array([[0.2, 0.8], [0.6, 0.4]])

    class Stub:
        labels = ["a", "b"]

    records = prediction_records(Stub(), np.array([1, 0]), model_probabilities)
    assert records == [{"label": "b", "probability": 0.8}, {"label": "a", "probability": 0.6}]
