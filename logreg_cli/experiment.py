"""Experiments: a run folder per config, sweeps over a grid of config values, and cross-validation.

``run_experiment`` trains and evaluates one config and writes everything a
later reader needs into one folder. ``sweep`` runs every combination of a
grid of config values and ranks them by a validation metric.
``cross_validate`` trains once per fold and summarizes the held-out scores.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from logreg_cli import plots
from logreg_cli.config import Config, load_config
from logreg_cli.errors import ConfigError, DataError
from logreg_cli.featurize import Featurizer
from logreg_cli.io import atomic_write, make_output_folder
from logreg_cli.metrics import ClassificationReport, evaluate, report_to_dict
from logreg_cli.model import FeaturesFile, LogisticModel, is_features_file
from logreg_cli.pipeline import (
    TrainOutcome, evaluate_predictions, label_indices, read_training_corpus, split_validation,
    train_from_config,
)
from logreg_cli.sparse import CSRMatrix
from logreg_cli.thresholds import choose_threshold, threshold_report
from logreg_cli.train import EpochRecord, initial_weights, resolve_class_weights, train

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_accuracy", "learning_rate", "seconds")

# Validation metrics that rank a sweep, each with whether higher is better.
SWEEP_METRICS: dict[str, bool] = {
    "accuracy": True, "macro_f1": True, "weighted_f1": True, "log_loss": False, "roc_auc": True, "pr_auc": True,
}


def format_epoch(record: EpochRecord) -> str:
    """Return the one-line progress report of an epoch."""
    line = f"epoch {record.epoch:4d}  train_loss {record.train_loss:.6f}"
    if record.val_loss is not None:
        line += f"  val_loss {record.val_loss:.6f}  val_accuracy {record.val_accuracy:.4f}"
    return line + f"  ({record.seconds:.2f}s)"


def report_scores(report: ClassificationReport | None) -> dict[str, float | None]:
    """Return the scores that sweeps and cross-validation compare, by name."""
    if report is None:
        return {name: None for name in SWEEP_METRICS}
    return {
        "accuracy": report.accuracy,
        "macro_f1": report.macro.f1,
        "weighted_f1": report.weighted.f1,
        "log_loss": report.log_loss,
        "roc_auc": report.roc_auc,
        "pr_auc": report.pr_auc,
    }


# ---------------------------------------------------------------- one run


@dataclass
class RunOutcome:
    """Files and scores of one run of ``run_experiment``."""

    run_dir: Path
    model: LogisticModel
    training: TrainOutcome
    validation_report: ClassificationReport | None
    test_report: ClassificationReport | None
    metrics: dict[str, Any]  # the content of metrics.json
    files: list[Path] = field(default_factory=list)  # every file written, in order
    plots_skipped: bool = False  # true when matplotlib is missing


def run_experiment(config: Config, run_dir: str | Path, *, plot: bool = True, evaluate_test: bool = True,
                   show_progress: bool = False, console_level: int | None = None) -> RunOutcome:
    """Featurize, train and evaluate ``config``, writing every result into ``run_dir``.

    The folder receives ``config.yaml`` (the resolved config), ``model.npz``,
    ``metrics.json`` (validation and test reports and a training summary),
    ``history.csv`` (one row per epoch), ``predictions.tsv`` (the test
    corpus) and ``run.log``. With matplotlib it also receives
    ``learning_curve.png`` and ``confusion_matrix.png``, the latter of the
    test corpus, else of the validation documents. Files of an earlier run in
    the folder are replaced. When training fails or is stopped before its
    first epoch ends, a folder made for this run is removed again, and in an
    existing folder only ``run.log`` is replaced.

    Parameters
    ----------
    config : the resolved config; ``data.train`` must be set
    run_dir : the folder to write; it is created when missing
    plot : draw the PNG plots (when matplotlib is installed)
    evaluate_test : evaluate ``data.test`` when it is set
    show_progress : draw a progress bar over the steps of each epoch
    console_level : during the run, the package's other log handlers (the
        console) show only messages of at least this level; run.log gets all

    Raises
    ------
    ConfigError
        When ``data.train`` is not set or ``run_dir`` is a file.
    KeyboardInterrupt
        When Ctrl-C stops training before the first epoch ends. A later Ctrl-C
        keeps the best epoch so far, writes the run and sets
        ``metrics["training"]["interrupted"]``.
    """
    if config.data.train is None:
        raise ConfigError("no training corpus: set data.train in the config or add --set data.train=PATH")
    run_dir = Path(run_dir)
    created = make_output_folder(run_dir, "the run's results")
    files: list[Path] = []

    with _log_to_file(run_dir / "run.log", console_level):
        files.append(run_dir / "run.log")
        logger.info("run folder %s", run_dir)

        started = time.perf_counter()
        try:
            outcome = train_from_config(config, show_progress=show_progress,
                                        on_epoch=lambda record: logger.info(format_epoch(record)))
            if outcome.result.interrupted and outcome.result.best_epoch == 0:
                raise KeyboardInterrupt
        except BaseException:
            # Nothing was trained: a folder made for this run goes away again. In an existing
            # folder only run.log changes, since config.yaml is written with the model below.
            if created:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        seconds = time.perf_counter() - started
        result, model = outcome.result, outcome.model
        logger.info("%s; kept the weights of epoch %d", result.stop_reason, result.best_epoch)
        model.save(run_dir / "model.npz")
        files.append(run_dir / "model.npz")
        _write_text(run_dir / "config.yaml", config_to_yaml(config), files)
        _write_history(run_dir / "history.csv", result.history, files)

        validation_report = None
        if outcome.X_val is not None and outcome.y_val is not None and outcome.X_val.n_rows > 0:
            validation_report = _evaluate_matrix(model, outcome.X_val, outcome.y_val)
        test_report = None
        if evaluate_test and config.data.test is not None:
            test_report = _evaluate_test(model, config, run_dir / "predictions.tsv", files)

        metrics = {
            "validation": report_to_dict(validation_report) if validation_report is not None else None,
            "test": report_to_dict(test_report) if test_report is not None else None,
            "training": {
                "best_epoch": result.best_epoch,
                "epochs": len(result.history),
                "stop_reason": result.stop_reason,
                "interrupted": result.interrupted,
                "n_train": outcome.n_train,
                "n_validation": outcome.n_validation,
                "n_features": model.featurizer.n_features,
                "labels": list(model.labels),
                "kind": model.kind,
                "threshold": model.threshold,
                "seconds": round(seconds, 3),
            },
        }
        _write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n", files)

        plots_skipped = False
        if plot:
            plots_skipped = not _draw_plots(run_dir, config, result, validation_report, test_report, files)

    return RunOutcome(run_dir, model, outcome, validation_report, test_report, metrics, files, plots_skipped)


def config_to_yaml(config: Config) -> str:
    """Return the resolved config as YAML that ``load_config`` reads back unchanged."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)


def _write_text(path: Path, text: str, files: list[Path]) -> None:
    with atomic_write(path, "w") as stream:
        stream.write(text)
    files.append(path)


def _write_history(path: Path, history: Sequence[EpochRecord], files: list[Path]) -> None:
    with atomic_write(path, "w") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for record in history:
            writer.writerow([
                record.epoch, f"{record.train_loss:.8g}",
                "" if record.val_loss is None else f"{record.val_loss:.8g}",
                "" if record.val_accuracy is None else f"{record.val_accuracy:.8g}",
                f"{record.learning_rate:.8g}", f"{record.seconds:.4f}",
            ])
    files.append(path)


def _evaluate_matrix(model: LogisticModel, X: CSRMatrix, y: np.ndarray) -> ClassificationReport:
    probabilities = model.predict_probabilities(X)
    predicted = model.labels_from_probabilities(probabilities)
    names = np.asarray(model.labels, dtype=object)
    return evaluate(names[y].tolist(), names[predicted].tolist(), model.labels, probabilities=probabilities)


def _evaluate_test(model: LogisticModel, config: Config, path: Path, files: list[Path]) -> ClassificationReport:
    test_path = config.data.test
    assert test_path is not None
    report, predictions = evaluate_predictions(model, test_path, config)
    predicted_indices = predictions.predicted.tolist()
    logger.info("test corpus %s: accuracy %.4f, macro F1 %.4f", test_path, report.accuracy, report.macro.f1)

    with atomic_write(path, "w") as stream:
        header = ["document", "true_label", "predicted_label", "probability"]
        header += [f"probability_{label}" for label in model.labels]
        stream.write("\t".join(header) + "\n")
        rows = zip(predictions.true_labels, predicted_indices, predictions.probabilities)
        for number, (true_label, index, row) in enumerate(rows, start=1):
            fields = [str(number), true_label, model.labels[index], f"{row[index]:.6f}", *(f"{p:.6f}" for p in row)]
            stream.write("\t".join(fields) + "\n")
    files.append(path)
    return report


def _draw_plots(run_dir: Path, config: Config, result: Any, validation_report: ClassificationReport | None,
                test_report: ClassificationReport | None, files: list[Path]) -> bool:
    """Draw the run's plots; return False when matplotlib is missing."""
    if not plots.plotting_available():
        logger.warning("matplotlib is not installed, so learning_curve.png and confusion_matrix.png were not drawn; "
                       "install it with: %s", plots.INSTALL_HINT)
        return False
    if result.history:
        path = run_dir / "learning_curve.png"
        plots.plot_learning_curve(result.history, result.best_epoch, path, weighted=config.trainer.class_weight is not None)
        files.append(path)
    report, corpus = (test_report, "test") if test_report is not None else (validation_report, "validation")
    if report is not None:
        path = run_dir / "confusion_matrix.png"
        title = f"Confusion matrix, {corpus} corpus\n{report.n_documents} documents, accuracy {report.accuracy:.4f}"
        plots.plot_confusion_matrix(report.confusion_matrix, report.labels, path, title=title)
        files.append(path)
    return True


@contextlib.contextmanager
def _log_to_file(path: Path, console_level: int | None = None) -> Iterator[None]:
    """Copy every message of the package's loggers, debug included, into ``path`` during the block.

    The other handlers keep the level they had (raised to ``console_level``
    when given), so a quiet command line stays quiet.
    """
    package_logger = logging.getLogger("logreg_cli")
    old_level = package_logger.level
    effective = max(package_logger.getEffectiveLevel(), console_level or logging.NOTSET)
    old_handler_levels = [(handler, handler.level) for handler in package_logger.handlers]
    for handler in package_logger.handlers:
        handler.setLevel(max(handler.level, effective))
    file_handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger.addHandler(file_handler)
    package_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        package_logger.removeHandler(file_handler)
        file_handler.close()
        package_logger.setLevel(old_level)
        for handler, level in old_handler_levels:
            handler.setLevel(level)


# ---------------------------------------------------------------- sweeps


@dataclass
class SweepRow:
    """One combination of a sweep, its run folder and its validation scores."""

    run: str
    values: dict[str, str]  # config key -> value as given on the command line
    scores: dict[str, float | None]
    best_epoch: int
    seconds: float
    run_dir: Path


@dataclass
class SweepResult:
    """The ranked runs of a sweep and the files it wrote."""

    rows: list[SweepRow]  # best first
    metric: str
    keys: list[str]
    table_path: Path
    best_config_path: Path
    best_model_path: Path


def parse_grid(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Parse ``section.key=v1,v2,...`` items into (key, values) pairs.

    A value may be a YAML list, such as ``featurizer.char_ngrams=[2,3],[3,5],null``.

    Raises
    ------
    ConfigError
        For an item without ``=`` or values, or a key given twice.
    """
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, separator, text = item.partition("=")
        key = key.strip()
        values = _split_values(text)
        if not separator or "." not in key or not all(values):
            raise ConfigError(f"--grid {item}: expected section.key=value1,value2,..., for example --grid trainer.l2=0,1e-5,1e-4")
        if any(key == known for known, _ in grid):
            raise ConfigError(f"--grid {item}: {key} is already in the grid; give each key once with all its values")
        grid.append((key, values))
    if not grid:
        raise ConfigError("a sweep needs at least one --grid section.key=value1,value2,...")
    return grid


def _split_values(text: str) -> list[str]:
    """Split grid values at the commas outside brackets, so that ``[2,3],[3,5]`` gives two list values."""
    values, depth, start = [], 0, 0
    for position, character in enumerate(text):
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        elif character == "," and depth == 0:
            values.append(text[start:position].strip())
            start = position + 1
    values.append(text[start:].strip())
    return values


def sweep(config_path: str | None, overrides: Sequence[str], grid: Sequence[tuple[str, list[str]]],
          sweep_dir: str | Path, *, metric: str = "macro_f1", show_progress: bool = False,
          on_run: Callable[[SweepRow, int, int], None] | None = None) -> SweepResult:
    """Train every combination of ``grid`` on top of a config and rank them by a validation metric.

    Each combination runs in its own folder ``SWEEP_DIR/run-NN`` (without the
    test corpus and without plots). The sweep writes ``results.csv`` (ranked,
    best first), ``best_config.yaml`` (the resolved config of the best run)
    and ``best_model.npz`` (a copy of its model).

    Parameters
    ----------
    config_path : YAML config file, or None for the defaults
    overrides : ``section.key=value`` overrides applied to every run
    grid : (key, values) pairs from :func:`parse_grid`
    sweep_dir : the folder to write
    metric : one of ``SWEEP_METRICS``; ties go to the lower validation log loss, then the earlier run
    show_progress : draw a progress bar over the steps of each epoch
    on_run : called after each run with its row, its number and the number of runs

    Raises
    ------
    ConfigError
        For an unknown metric, an invalid grid value (every combination is
        checked before the first run), no validation documents, or a metric
        the model kind does not have (ROC-AUC and PR-AUC need a binary model).
    """
    if metric not in SWEEP_METRICS:
        raise ConfigError(f"unknown sweep metric {metric!r}; choose one of {', '.join(SWEEP_METRICS)}")
    keys = [key for key, _ in grid]
    combinations = list(itertools.product(*(values for _, values in grid)))
    configs = []
    # Every combination is loaded before the first run, so a bad value fails fast; each run logs its own values.
    config_logger = logging.getLogger("logreg_cli.config")
    old_level = config_logger.level
    config_logger.setLevel(logging.WARNING)
    try:
        for combination in combinations:
            extra = [f"{key}={value}" for key, value in zip(keys, combination)]
            # Errors about a grid value name its --grid item and the run, not a --set the user never typed.
            run = f"(in the run with {', '.join(extra)})"
            sources = [f"--set {override}" for override in overrides]
            sources += [f"--grid {key}={','.join(values)} {run}" for key, values in grid]
            configs.append(load_config(config_path, [*overrides, *extra], override_sources=sources))
    finally:
        config_logger.setLevel(old_level)
    first = configs[0]
    if first.data.validation is None and first.trainer.validation_fraction == 0.0:
        raise ConfigError("a sweep ranks runs by a validation metric; set data.validation or a "
                          "trainer.validation_fraction above 0")
    sweep_dir = Path(sweep_dir)
    make_output_folder(sweep_dir, "the sweep's results")

    width = max(2, len(str(len(combinations))))
    rows = []
    for number, (combination, config) in enumerate(zip(combinations, configs), start=1):
        name = f"run-{number:0{width}d}"
        values = dict(zip(keys, combination))
        logger.debug("sweep %s (%d of %d): %s", name, number, len(combinations),
                    ", ".join(f"{key}={value}" for key, value in values.items()))
        started = time.perf_counter()
        outcome = run_experiment(config, sweep_dir / name, plot=False, evaluate_test=False,
                                 show_progress=show_progress, console_level=logging.WARNING)
        if outcome.training.result.interrupted:
            # Ctrl-C stops the whole sweep: the interrupted run's folder is written, later runs never start.
            raise KeyboardInterrupt
        scores = report_scores(outcome.validation_report)
        if scores[metric] is None:
            raise ConfigError(f"the sweep metric {metric} is not defined for this {outcome.model.kind} model; "
                              "roc_auc and pr_auc need a binary model and both labels among the validation documents")
        row = SweepRow(name, values, scores, outcome.training.result.best_epoch, time.perf_counter() - started,
                       sweep_dir / name)
        rows.append(row)
        if on_run is not None:
            on_run(row, number, len(combinations))

    higher_is_better = SWEEP_METRICS[metric]

    def rank_key(row: SweepRow) -> tuple[float, float]:
        value = row.scores[metric]
        assert value is not None
        log_loss = row.scores["log_loss"]
        return (-value if higher_is_better else value, np.inf if log_loss is None else log_loss)

    ranked = sorted(rows, key=rank_key)
    best = ranked[0]
    table_path = sweep_dir / "results.csv"
    with atomic_write(table_path, "w") as stream:
        stream.write(format_sweep_table(ranked, keys, separator=","))
    best_config_path = sweep_dir / "best_config.yaml"
    shutil.copyfile(best.run_dir / "config.yaml", best_config_path)
    best_model_path = sweep_dir / "best_model.npz"
    shutil.copyfile(best.run_dir / "model.npz", best_model_path)
    logger.debug("best run %s (%s %.4f); wrote %s, %s and %s", best.run, metric, best.scores[metric],
                table_path, best_config_path, best_model_path)
    return SweepResult(ranked, metric, keys, table_path, best_config_path, best_model_path)


def format_sweep_table(rows: Sequence[SweepRow], keys: Sequence[str], *, separator: str | None = None) -> str:
    """Render ranked sweep rows as an aligned text table, or as CSV when ``separator`` is ``","``.

    Score columns are the validation scores ``val_<name>``; a score the model
    kind does not have (ROC-AUC of a softmax model) is left empty.
    """
    score_names = [name for name in SWEEP_METRICS if any(row.scores[name] is not None for row in rows)]
    header = ["rank", "run", *keys, *(f"val_{name}" for name in score_names), "best_epoch", "seconds"]
    table = [header]
    for rank, row in enumerate(rows, start=1):
        scores = ["" if row.scores[name] is None else f"{row.scores[name]:.4f}" for name in score_names]
        table.append([str(rank), row.run, *(row.values[key] for key in keys), *scores, str(row.best_epoch),
                      f"{row.seconds:.1f}"])
    if separator == ",":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(table)
        return buffer.getvalue()
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    return "".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)).rstrip() + "\n" for line in table)


# ---------------------------------------------------------------- cross-validation


@dataclass
class CrossValidationResult:
    """Held-out scores of every fold and their mean and sample standard deviation."""

    source: str
    n_documents: int
    labels: list[str]
    folds: list[dict[str, float | None]]  # per fold: the report scores, best_epoch and n_test
    summary: dict[str, dict[str, float]]  # metric -> {"mean", "std"}; metrics a model kind lacks are left out

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "n_documents": self.n_documents, "labels": self.labels,
                "folds": self.folds, "summary": self.summary}


def cross_validate(config: Config, n_folds: int, *, show_progress: bool = False,
                   on_fold: Callable[[int, dict[str, float | None]], None] | None = None) -> CrossValidationResult:
    """Estimate the held-out scores of ``config`` by stratified k-fold cross-validation.

    The documents of ``data.train`` are dealt into ``n_folds`` folds, label by
    label in a seeded random order (``trainer.seed``), so every fold has about
    the same share of each label. Each fold is scored once by a model trained
    on the other folds: its featurizer is fitted on them, and early stopping
    uses ``trainer.validation_fraction`` of them. ``data.validation`` and
    ``data.test`` are not used.

    Parameters
    ----------
    config : the resolved config; ``data.train`` must be set
    n_folds : number of folds, at least 2
    show_progress : draw a progress bar over the steps of each epoch
    on_fold : called after each fold with its number (1-based) and its scores

    Raises
    ------
    ConfigError
        When ``data.train`` is not set or ``n_folds`` is below 2 or above the number of documents.
    DataError
        When a fold's training part contains a single label.
    """
    train_path = config.data.train
    if train_path is None:
        raise ConfigError("no training corpus: set data.train in the config or add --set data.train=PATH")
    if config.data.validation is not None:
        logger.info("cross-validation ignores data.validation; early stopping uses trainer.validation_fraction of each fold")

    documents: list[str] | None = None
    features: FeaturesFile | None = None
    if is_features_file(train_path):
        features = FeaturesFile.load(train_path)
        labels, y = features.labels, features.y
        logger.warning("%s is a features file, so its vocabulary was learned from all folds; "
                       "pass the text corpus for a fully held-out estimate", train_path)
    else:
        corpus = read_training_corpus(train_path, config)
        documents = corpus.documents
        labels = sorted(set(corpus.labels))
        y = label_indices(corpus.labels, labels, source=train_path)
    if n_folds < 2 or n_folds > y.size:
        raise ConfigError(f"--folds must be between 2 and the number of documents ({y.size}), got {n_folds}")
    fold_of = stratified_folds(y, n_folds, config.trainer.seed)
    counts = Counter(y.tolist())
    for index, count in sorted(counts.items()):
        if count < n_folds:
            logger.warning("label %r has only %d documents, so %d of the %d folds test none of them",
                           labels[index], count, n_folds - count, n_folds)

    folds = []
    for fold in range(n_folds):
        train_rows = np.flatnonzero(fold_of != fold)
        test_rows = np.flatnonzero(fold_of == fold)
        scores = _score_fold(config, labels, y, train_rows, test_rows, documents, features, show_progress, source=train_path)
        folds.append(scores)
        if on_fold is not None:
            on_fold(fold + 1, scores)

    summary = {}
    for name in [*SWEEP_METRICS, "best_epoch"]:
        values = [fold[name] for fold in folds if fold[name] is not None]
        if len(values) == len(folds):
            summary[name] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1))}
    return CrossValidationResult(str(train_path), int(y.size), list(labels), folds, summary)


def stratified_folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Return the fold (0 to n_folds - 1) of each document, shape ``(n_documents,)``.

    Each label's documents, in a seeded random order, are dealt round-robin.
    Each label starts where the previous label stopped, so that fold sizes
    differ by at most one.
    """
    rng = np.random.default_rng(seed)
    fold_of = np.empty(y.size, dtype=np.int64)
    start = 0
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold_of[rows] = (start + np.arange(rows.size)) % n_folds
        start = (start + rows.size) % n_folds
    return fold_of


def _score_fold(config: Config, labels: list[str], y: np.ndarray, train_rows: np.ndarray, test_rows: np.ndarray,
                documents: list[str] | None, features: FeaturesFile | None, show_progress: bool,
                *, source: str) -> dict[str, float | None]:
    trainer = config.trainer
    if len(np.unique(y[train_rows])) < 2:
        raise DataError(f"{source}: a cross-validation fold trains on a single label; use fewer folds or more documents")
    fit_positions, val_positions = (split_validation(y[train_rows], trainer.validation_fraction, trainer.seed)
                                    if trainer.validation_fraction > 0 else
                                    (np.arange(train_rows.size), np.array([], dtype=np.int64)))
    fit_rows, val_rows = train_rows[fit_positions], train_rows[val_positions]

    # Featurize: fit on the training folds only, so the held-out fold is unseen.
    if features is not None:
        featurizer = features.featurizer
        X, X_val, X_test = (features.X.take_rows(rows) for rows in (fit_rows, val_rows, test_rows))
    else:
        assert documents is not None
        featurizer = Featurizer(config.featurizer)
        X = featurizer.fit_transform([documents[i] for i in fit_rows.tolist()], source=source)
        X_val = featurizer.transform([documents[i] for i in val_rows.tolist()])
        X_test = featurizer.transform([documents[i] for i in test_rows.tolist()])

    kind = trainer.model
    if kind == "auto":
        kind = "binary" if len(labels) == 2 else "softmax"
    if kind == "binary" and len(labels) != 2:
        raise DataError(f"trainer.model is binary but {source} has {len(labels)} labels; use softmax or auto")
    y_fit, y_val = y[fit_rows], y[val_rows]
    class_weights = resolve_class_weights(trainer.class_weight, labels, y_fit)
    result = train(X, y_fit, initial_weights(featurizer.n_features, len(labels), kind), trainer,
                   X_val=X_val, y_val=y_val, show_progress=show_progress, class_weights=class_weights)
    if result.interrupted:
        raise KeyboardInterrupt
    model = LogisticModel(labels, result.weights, featurizer, config.to_dict(), result.summary())
    model.threshold = choose_threshold(model, trainer, X_val, y_val)

    scores: dict[str, float | None] = dict(report_scores(_evaluate_matrix(model, X_test, y[test_rows])))
    scores["best_epoch"] = float(result.best_epoch)
    scores["n_test"] = float(test_rows.size)
    return scores


def format_cross_validation(result: CrossValidationResult) -> str:
    """Render a cross-validation result as a table: one row per metric, mean, std and every fold."""
    n_folds = len(result.folds)
    lines = [f"{n_folds}-fold cross-validation of {result.source} ({result.n_documents} documents, "
             f"folds stratified by label); std is the sample standard deviation over folds", ""]
    header = f"{'metric':<12}  {'mean':>8}  {'std':>8}" + "".join(f"  {'fold ' + str(i):>8}" for i in range(1, n_folds + 1))
    lines.append(header)
    for name, stats in result.summary.items():
        digits = 1 if name == "best_epoch" else 4
        cells = "".join(f"  {fold[name]:>8.{digits}f}" for fold in result.folds)
        lines.append(f"{name:<12}  {stats['mean']:>8.{digits}f}  {stats['std']:>8.{digits}f}{cells}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- evaluation over thresholds


def evaluate_with_thresholds(model: LogisticModel, path: str, config: Config) -> tuple[ClassificationReport, dict[str, Any]]:
    """Evaluate a binary model on a labelled file, and score it over decision thresholds too.

    Returns
    -------
    report : the classification report at the model's own threshold
    thresholds : the result of :func:`thresholds.threshold_report` on this file

    Raises
    ------
    ConfigError
        When the model is not binary.
    DataError
        When the file has no documents, or none of the model's labels.
    """
    if model.kind != "binary":
        raise ConfigError(f"--thresholds applies to binary models only, but this model is softmax with "
                          f"{len(model.labels)} labels")
    report, predictions = evaluate_predictions(model, path, config)

    # Documents whose label the model does not have cannot count as positive or negative.
    true_labels = np.asarray(predictions.true_labels, dtype=object)
    known = np.isin(true_labels, model.labels)  # not empty: evaluate_predictions checked that some labels match
    table = threshold_report(model.labels, true_labels[known] == model.labels[1], predictions.probabilities[known, 1])
    return report, table
