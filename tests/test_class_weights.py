"""Class weights in the loss and its gradient: finite differences, scikit-learn's optimum, config and CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from logreg_cli.cli import main
from logreg_cli.config import load_config
from logreg_cli.errors import ConfigError
from logreg_cli.losses import loss_and_gradient, mean_loss
from logreg_cli.train import _batch_step, minibatch_epoch, initial_weights, resolve_class_weights, train
from test_train import _problem as train_problem, _settings


def _problem(seed, n_documents=120, n_features=8, n_labels=2):
    return train_problem(seed, n_documents, n_features, n_labels, density=0.6)


@pytest.mark.parametrize("n_labels", [2, 3])
def test_weighted_gradient_matches_finite_differences(n_labels):
    _, X, y = _problem(1, n_documents=30, n_features=5, n_labels=n_labels)
    rng = np.random.default_rng(2)
    kind = "binary" if n_labels == 2 else "softmax"
    weights = rng.normal(size=initial_weights(X.n_columns, n_labels, kind).shape)
    sample_weights = np.array([0.5, 3.0, 1.5])[y]
    _, gradient = loss_and_gradient(weights, X, y, 0.1, sample_weights)
    numeric = np.zeros_like(weights)
    step = 1e-6
    for index in np.ndindex(weights.shape):
        plus, minus = weights.copy(), weights.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (loss_and_gradient(plus, X, y, 0.1, sample_weights)[0]
                          - loss_and_gradient(minus, X, y, 0.1, sample_weights)[0]) / (2 * step)
    assert gradient == pytest.approx(numeric, abs=1e-7)


def test_weighted_loss_is_mean_over_documents():
    _, X, y = _problem(3, n_documents=10, n_features=4)
    weights = np.full(X.n_columns, 0.3)
    sample_weights = np.where(y == 1, 2.0, 1.0)
    plain = mean_loss(weights, X, y)
    doubled_ones = mean_loss(weights, X, y, np.full(10, 2.0))
    assert doubled_ones == pytest.approx(2 * plain)
    weighted = mean_loss(weights, X, y, sample_weights)
    assert plain < weighted < 2 * plain


@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 4.0}, "balanced"])
def test_binary_weighted_optimum_matches_sklearn(class_weight):
    linear_model = pytest.importorskip("sklearn.linear_model")
    dense, X, y = _problem(4)
    settings = _settings()
    per_label = (resolve_class_weights("balanced", ["a", "b"], y) if class_weight == "balanced"
                 else np.array([class_weight[0], class_weight[1]]))
    result = train(X, y, initial_weights(X.n_columns, 2, "binary"), settings, class_weights=per_label)
    reference = linear_model.LogisticRegression(C=1 / (2 * settings.l2 * X.n_rows), class_weight=class_weight,
                                                tol=1e-12, max_iter=10000)
    reference.fit(dense[:, 1:], y)
    assert result.weights[0] == pytest.approx(reference.intercept_[0], abs=1e-3)
    assert result.weights[1:] == pytest.approx(reference.coef_[0], abs=1e-3)


def test_softmax_weighted_optimum_matches_sklearn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    dense, X, y = _problem(5, n_labels=3)
    settings = _settings()
    class_weight = {0: 0.5, 1: 2.0, 2: 1.0}
    result = train(X, y, initial_weights(X.n_columns, 3, "softmax"), settings,
                   class_weights=np.array([0.5, 2.0, 1.0]))
    reference = linear_model.LogisticRegression(C=1 / (2 * settings.l2 * X.n_rows), class_weight=class_weight,
                                                tol=1e-12, max_iter=10000)
    reference.fit(dense[:, 1:], y)
    bias = result.weights[0] - result.weights[0].mean()
    assert bias == pytest.approx(reference.intercept_ - reference.intercept_.mean(), abs=1e-3)
    assert result.weights[1:] == pytest.approx(reference.coef_.T, abs=1e-3)


@pytest.mark.parametrize("n_labels", [2, 3])
def test_weighted_minibatch_steps_equal_dense_steps(n_labels):
    _, X, y = _problem(6, n_documents=40, n_labels=n_labels)
    kind = "binary" if n_labels == 2 else "softmax"
    class_weights = np.array([0.5, 3.0, 1.5])[:n_labels]
    settings = _settings(learning_rate=0.2, l2=0.1)
    weights = initial_weights(X.n_columns, n_labels, kind)
    expected = weights.copy()
    for start in range(0, 40, 7):
        batch_y = y[start : start + 7]
        expected = _batch_step(expected, X.slice_rows(start, start + 7), batch_y, settings, class_weights[batch_y])
    lazy = minibatch_epoch(weights, X, y, np.arange(X.n_rows), 7, settings, show_progress=False, epoch=1,
                            class_weights=class_weights)
    assert lazy == pytest.approx(expected, abs=1e-12)


def test_unit_class_weights_change_nothing():
    _, X, y = _problem(7, n_labels=3)
    settings = _settings(method="minibatch", batch_size=8, max_epochs=3)
    plain = train(X, y, np.zeros((X.n_columns, 3)), settings)
    weighted = train(X, y, np.zeros((X.n_columns, 3)), settings, class_weights=np.ones(3))
    assert weighted.weights == pytest.approx(plain.weights, abs=1e-12)


def test_balanced_weights_follow_label_counts():
    y = np.array([0, 0, 0, 1])
    weights = resolve_class_weights("balanced", ["ham", "spam"], y)
    assert weights == pytest.approx([4 / 6, 2.0])
    assert weights[y].mean() == pytest.approx(1.0)


def test_mapping_weights_default_to_one():
    weights = resolve_class_weights({"spam": 5.0}, ["ham", "spam", "x"], np.array([0, 1, 2]))
    assert weights.tolist() == [1.0, 5.0, 1.0]


def test_mapping_unknown_label_raises():
    with pytest.raises(ConfigError, match="trainer.class_weight names the label 'spma'"):
        resolve_class_weights({"spma": 5.0}, ["ham", "spam"], np.array([0, 1]))


@pytest.mark.parametrize(("override", "message"), [
    ("trainer.class_weight=even", "must be null, balanced or a mapping"),
    ("trainer.class_weight={spam: 0}", "the weight of label 'spam' must be a positive number"),
    ("trainer.class_weight={spam: yes}", "must be a positive number"),
    ("trainer.class_weight=2", "trainer.class_weight must be a string or a mapping or null"),
])
def test_config_rejects_bad_class_weight(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_config_class_weight_labels_become_strings():
    config = load_config(None, ["trainer.class_weight={1: 3, 0: 1}"])
    assert config.trainer.class_weight == {"1": 3.0, "0": 1.0}


def test_cli_balanced_weights_raise_minority_recall(tmp_path):
    # "x b" is ham in 10 documents and spam in 4: unweighted, it is ham; balanced, spam weighs 10 times more.
    lines = [f"ham\tx {'a' if i % 4 else 'b'}" for i in range(40)] + ["spam\tx b" for _ in range(4)]
    train_path = tmp_path / "train.tsv"
    train_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    test_path = tmp_path / "test.tsv"
    test_path.write_text("spam\tx b\nspam\tx b\nham\tx a\n", encoding="utf-8")

    def spam_recall(*extra):
        model = tmp_path / "model.npz"
        result = CliRunner().invoke(main, ["train", str(train_path), "-o", str(model), "--set", "trainer.validation_fraction=0",
                                           "--set", "trainer.max_epochs=100", "--set", "trainer.learning_rate=0.5", *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        report = CliRunner().invoke(main, ["eval", str(model), str(test_path), "--json"], catch_exceptions=False)
        return json.loads(report.stdout)["per_label"]["spam"]["recall"]

    assert spam_recall() == 0.0
    assert spam_recall("--set", "trainer.class_weight=balanced") == 1.0
