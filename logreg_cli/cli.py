"""The ``logreg`` command: parse options, call the pipeline, print results.

This is the only module that imports click. Errors from the core
(``LogregError``) become one ``error: ...`` line on stderr and exit code 1;
usage errors exit with 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from logreg_cli import __version__
from logreg_cli.config import Config, describe_defaults, load_config
from logreg_cli.errors import LogregError
from logreg_cli.pages import prefer_small_pages
from logreg_cli.parallel import thread_count
from logreg_cli.io import atomic_write, check_output_path
from logreg_cli.metrics import format_report, report_to_dict
from logreg_cli.model import FeaturesFile, LogisticModel, is_features_file, stored_file_kind
from logreg_cli.pipeline import (FeatureSummary, Predictions, check_config_data_paths, evaluate_file, featurize_corpus,
                                 predict_file, predict_text_blocks, read_options, streams_predictions, summarize_features,
                                 train_from_config)
from logreg_cli.data import read_corpus
from logreg_cli.featurize import Featurizer
from logreg_cli.train import EpochRecord
from logreg_cli.experiment import (
    SWEEP_METRICS, SweepRow, cross_validate, evaluate_with_thresholds, format_cross_validation, format_sweep_table,
    parse_grid, run_experiment,
)
from logreg_cli.experiment import sweep as sweep_runs
from logreg_cli.explain import describe_model, format_model_description, format_records_jsonl, format_records_tsv, prediction_records
from logreg_cli.thresholds import format_threshold_report, set_threshold

logger = logging.getLogger("logreg_cli")

# The signal that stopped the run: Ctrl-C (SIGINT) unless SIGTERM arrived. The exit code is 128 + its number.
_stop_signal = signal.SIGINT


def _interrupted_exit_code() -> int:
    return 128 + int(_stop_signal)


@contextmanager
def _holding_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then raise KeyboardInterrupt, so that a model file being written is finished."""
    global _stop_signal
    signals_held: list[int] = []
    previous = {number: signal.signal(number, lambda signum, frame: signals_held.append(signum))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if signals_held:
        _stop_signal = signal.Signals(signals_held[0])
        raise KeyboardInterrupt


def _save_holding_interrupts(model: LogisticModel, output: str) -> bool:
    """Write ``model`` to ``output`` with Ctrl-C and SIGTERM held until the file is complete; tell whether one arrived."""
    try:
        with _holding_interrupts():
            model.save(output)
    except KeyboardInterrupt:
        return True
    return False


def _terminate(signum: int, frame: Any) -> None:
    """Handle SIGTERM like Ctrl-C, so that training saves its best epoch and no temporary file is left."""
    global _stop_signal
    _stop_signal = signal.Signals(signum)
    raise KeyboardInterrupt


class ReportedError(click.ClickException):
    """A failure shown as one ``error: ...`` line, without usage text."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        try:
            click.echo(f"error: {self.format_message()}", err=True)
        except OSError:
            # stderr is a closed pipe, for example `2>&1 | tee log` stopped by the same Ctrl-C. The exit code
            # still reports the outcome, and stderr goes to /dev/null so that Python's last flush cannot fail.
            _discard(sys.stderr)


def _discard(stream: Any) -> None:
    """Point the file descriptor of ``stream`` at /dev/null, if it has one."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _option_name(param: click.Parameter | None) -> str:
    return "/".join(param.opts) if param else "the output"


class OutputFile(click.Path):
    """A file to write: a path that names a folder is an ``error:`` line with an example file name, not a usage error.

    ``json_example`` is the example when the command's ``--json`` flag is set,
    which must then be an eager option so that it is parsed first.
    """

    def __init__(self, example: str, json_example: str | None = None) -> None:
        super().__init__(dir_okay=False)
        self.example = example
        self.json_example = json_example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if os.path.isdir(value):
            example = self.example
            if self.json_example is not None and ctx is not None and ctx.params.get("as_json"):
                example = self.json_example
            raise ReportedError(f"{value}: is a folder, but {_option_name(param)} needs a file name; "
                                f"give one such as {os.path.join(value, example)}")
        check_output_path(value)  # before any work, so that a typo fails at once
        return super().convert(value, param, ctx)


class OutputFolder(click.Path):
    """A folder to write into: a path that names a file is an ``error:`` line, not a usage error."""

    def __init__(self) -> None:
        super().__init__(file_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if os.path.isfile(value):
            raise ReportedError(f"{value}: is a file, but {_option_name(param)} names a folder to write into; "
                                "give a folder path that is not a file")
        return super().convert(value, param, ctx)


class LogregGroup(click.Group):
    """Turns the core's errors, Ctrl-C and a closed output pipe into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LogregError as error:
            raise ReportedError(str(error)) from None
        except KeyboardInterrupt:
            raise ReportedError("interrupted", _interrupted_exit_code()) from None
        except BrokenPipeError:
            # The reader of stdout went away (for example `| head`): stop quietly, and keep Python
            # from reporting the failed flush of stdout at exit.
            _discard(sys.stdout)
            ctx.exit(141)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


def _setup_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("logreg_cli")
    root.handlers[:] = [handler]
    level = logging.INFO
    if quiet:
        level = logging.WARNING
    elif verbose:
        level = logging.DEBUG
    root.setLevel(level)


def _show_progress(ctx: click.Context) -> bool:
    return not ctx.obj["quiet"] and sys.stderr.isatty()


config_option = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
                             help="YAML config file; every key not in it keeps its default.")
set_option = click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                          help="Override one config key, for example --set trainer.l2=0.001. Repeatable.")
format_option = click.option("--format", "file_format", default=None,
                             type=click.Choice(["auto", "tsv", "csv", "jsonl", "fasttext", "folder", "text"]),
                             help="Input format (default: data.format, which picks it from the extension).")
encoding_option = click.option("--encoding", default=None, help="Text encoding of the input (default: data.encoding, utf-8).")


def _load(config_path: str | None, overrides: tuple[str, ...], file_format: str | None = None,
          encoding: str | None = None) -> Config:
    extra = list(overrides)
    if file_format is not None:
        extra.append(f"data.format={file_format}")
    if encoding is not None:
        extra.append(f"data.encoding={encoding}")
    return load_config(config_path, extra)


@click.group(cls=LogregGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logreg")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors; no progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="Print debug messages too.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Text classification with logistic regression.

    Files hold one document a line as label<TAB>text. A typical session:

    \b
      logreg train -c configs/sample.yaml data/sample/train.tsv -o model.npz
      logreg eval model.npz data/sample/test.tsv
      logreg predict model.npz data/sample/test.tsv > predictions.tsv
    """
    ctx.obj = {"quiet": quiet}
    _setup_logging(quiet, verbose)
    thread_count()  # reject an invalid LOGREG_THREADS before any file is read
    prefer_small_pages()


@main.command(short_help="Turn a labelled corpus into a features file.")
@config_option
@set_option
@format_option
@encoding_option
@click.option("--vocabulary-from", "vocabulary_from", type=click.Path(dir_okay=False),
              help="Take the featurizer (vocabulary and settings) from this model or features file instead of learning it.")
@click.option("-o", "--output", type=OutputFile("features.npz"), help="Features file to write (.npz); required unless --dry-run.")
@click.option("--dry-run", is_flag=True,
              help="Write nothing; print the vocabulary size, the stored values and the model's size in bytes.")
@click.argument("input_path", metavar="INPUT")
def featurize(config_path: str | None, overrides: tuple[str, ...], file_format: str | None, encoding: str | None,
              vocabulary_from: str | None, output: str | None, dry_run: bool, input_path: str) -> None:
    """Turn the labelled corpus INPUT into a features file.

    The features file is a scipy-compatible CSR matrix in .npz form (column 0
    is the bias feature) plus the labels, vocabulary and featurizer settings.
    --dry-run prints the sizes instead, to check a config before training.

    \b
      logreg featurize -c configs/sample.yaml data/sample/train.tsv -o train.npz
      logreg featurize --set featurizer.ngram_max=2 data/sample/train.tsv --dry-run
    """
    if output is None and not dry_run:
        raise click.UsageError("missing option '-o' / '--output': name the features file to write, or pass --dry-run")
    config = _load(config_path, overrides, file_format, encoding)
    corpus = read_corpus(input_path, read_options(config))
    featurizer: Featurizer | None = None
    labels = None
    if vocabulary_from is not None:
        if is_features_file(vocabulary_from) and stored_file_kind(vocabulary_from) == "features":
            source = FeaturesFile.load(vocabulary_from)
            featurizer, labels = source.featurizer, source.labels
        else:
            model = LogisticModel.load(vocabulary_from)
            featurizer, labels = model.featurizer, model.labels
        labels = list(labels) + sorted(set(corpus.labels) - set(labels))
    features = featurize_corpus(corpus, config, featurizer, labels)
    if dry_run:
        click.echo(_format_summary(summarize_features(features, config)))
        return
    assert output is not None
    features.save(output)
    logger.info("wrote %s: %d documents, %d features, %d stored values",
                output, features.X.n_rows, features.X.n_columns, features.X.nnz)


def _format_summary(summary: FeatureSummary) -> str:
    rows = [
        ("documents", f"{summary.n_documents:,}"),
        ("labels", f"{summary.n_labels} ({summary.kind} model)"),
        ("vocabulary size", f"{summary.n_ngram_features:,} n-gram features"
                            + (" (hashed columns)" if summary.hashing else "")),
        ("features", f"{summary.n_features:,} columns (bias and hand-written features included), "
                     f"{summary.used_columns:,} of them used"),
        ("stored values", f"{summary.nnz:,} ({summary.nnz / max(summary.n_documents, 1):.1f} per document)"),
        ("features in memory", f"{summary.features_bytes:,} bytes"),
        ("model size", f"{summary.model_bytes:,} bytes before compression"),
    ]
    return "\n".join(f"{name}: {value}" for name, value in rows)


@main.command(short_help="Train a model on a corpus or features file.")
@config_option
@set_option
@format_option
@encoding_option
@click.option("--validation", "validation_path", type=click.Path(dir_okay=False),
              help="Validation corpus or features file for early stopping (default: data.validation, "
                   "else a trainer.validation_fraction split of the training corpus).")
@click.option("--test", "test_path", type=click.Path(dir_okay=False),
              help="Test corpus to evaluate after training (default: data.test).")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False),
              help="Go on training from this model file, with its vocabulary and labels.")
@click.option("-o", "--output", type=OutputFile("model.npz"),
              help="Model file to write (.npz). Without it the model is not saved.")
@click.option("--tune-threshold", is_flag=True,
              help="Binary models: store the decision threshold with the highest F1 on the validation documents "
                   "(same as --set trainer.tune_threshold=true).")
@click.option("--stream", is_flag=True,
              help="Read TRAIN in chunks and hold one chunk's features at a time, for files larger than memory; "
                   "needs featurizer.hash_bits > 0 (same as --set trainer.streaming=true).")
@click.argument("input_path", metavar="[TRAIN]", required=False)
@click.pass_context
def train(ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], file_format: str | None,
          encoding: str | None, validation_path: str | None, test_path: str | None, resume_path: str | None,
          output: str | None, tune_threshold: bool, stream: bool, input_path: str | None) -> None:
    """Train a model on TRAIN, a labelled corpus or a features file.

    TRAIN defaults to data.train of the config, so `logreg train -c CONFIG`
    runs the experiment the config describes, including the test when
    data.test is set. One line per epoch reports the training loss, the
    validation loss and the validation accuracy. Ctrl-C stops training and
    saves the best epoch so far.

    \b
      logreg train data/sample/train.tsv -o model.npz
      logreg train -c configs/sample.yaml --set trainer.l2=0.0001 -o model.npz
      logreg train big.tsv --stream --set featurizer.hash_bits=20 --validation val.tsv -o model.npz
    """
    config = _load(config_path, overrides, file_format, encoding)
    if tune_threshold:
        config.trainer.tune_threshold = True
    if stream:
        config.trainer.streaming = True
    if input_path is not None:
        config.data.train = input_path
    if validation_path is not None:
        config.data.validation = validation_path
    if test_path is not None:
        config.data.test = test_path
    given = [key for key, value in (("train", input_path), ("validation", validation_path), ("test", test_path)) if value]
    check_config_data_paths(config, config_path, given=given)
    resume = LogisticModel.load(resume_path) if resume_path is not None else None

    def report_epoch(record: EpochRecord) -> None:
        line = f"epoch {record.epoch:4d}  train_loss {record.train_loss:.6f}"
        if record.val_loss is not None:
            line += f"  val_loss {record.val_loss:.6f}  val_accuracy {record.val_accuracy:.4f}"
        logger.info(line + f"  ({record.seconds:.2f}s)")

    try:
        outcome = train_from_config(config, show_progress=_show_progress(ctx), on_epoch=report_epoch, resume=resume)
    except KeyboardInterrupt:
        # Ctrl-C while reading or featurizing, before train() took over the handling of Ctrl-C.
        raise ReportedError("interrupted before the first epoch ended; no model was written", _interrupted_exit_code()) from None
    result = outcome.result
    if result.interrupted:
        if result.best_epoch == 0:
            raise ReportedError("interrupted during epoch 1; no model was written", _interrupted_exit_code())
        if output is not None:
            _save_holding_interrupts(outcome.model, output)  # a second Ctrl-C waits until the file is complete
            raise ReportedError(
                f"interrupted during epoch {len(result.history) + 1}; saved the weights of epoch {result.best_epoch} to {output}",
                _interrupted_exit_code(),
            )
        raise ReportedError(f"interrupted during epoch {len(result.history) + 1}", _interrupted_exit_code())
    # Training is over: a Ctrl-C from here on still leaves the model file, complete.
    saved = False
    try:
        logger.info("%s; kept the weights of epoch %d", result.stop_reason, result.best_epoch)
        if output is not None:
            interrupted = _save_holding_interrupts(outcome.model, output)
            saved = True
            if interrupted:
                raise KeyboardInterrupt
            logger.info("wrote %s", output)
        else:
            logger.warning("no --output given, so the model was not saved")
        if config.data.test is not None:
            report = evaluate_file(outcome.model, config.data.test, config)
            click.echo(format_report(report))
    except KeyboardInterrupt:
        if output is None:
            raise ReportedError("interrupted after training; no --output was given, so no model was written",
                                _interrupted_exit_code()) from None
        if not saved:
            _save_holding_interrupts(outcome.model, output)
        raise ReportedError(f"interrupted after training; saved the weights of epoch {result.best_epoch} to {output}",
                            _interrupted_exit_code()) from None


@main.command(name="eval", short_help="Report metrics of a model on a labelled corpus.")
@click.option("--json", "as_json", is_flag=True, is_eager=True,  # eager: parsed before -o, whose example depends on it
              help="Print one JSON object instead of the table.")
@click.option("-o", "--output", type=OutputFile("report.txt", json_example="report.json"), help="Write the report to this file instead of stdout.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Binary models: predict the second label when its probability is at least this, "
                   "instead of the model's stored threshold (0.5 when it has none).")
@click.option("--thresholds", "with_thresholds", is_flag=True,
              help="Binary models: also report precision, recall and F1 at thresholds 0.05 to 0.95 and the threshold "
                   "with the highest F1. Choose a threshold on a validation file, not on the test file.")
@format_option
@encoding_option
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("input_path", metavar="INPUT")
def evaluate_command(as_json: bool, output: str | None, threshold: float | None, with_thresholds: bool,
                     file_format: str | None, encoding: str | None, model_path: str, input_path: str) -> None:
    """Evaluate MODEL on INPUT, a labelled corpus or a features file.

    Prints accuracy, precision, recall, F1 and support per label, macro and
    weighted averages, the confusion matrix (rows: true labels), log loss
    and, for binary models, ROC-AUC and PR-AUC.

    \b
      logreg eval model.npz data/sample/test.tsv
      logreg eval model.npz data/sample/test.tsv --json
      logreg eval model.npz validation.tsv --thresholds
    """
    model = LogisticModel.load(model_path)
    set_threshold(model, threshold, source=model_path)
    config = _model_config(model, file_format, encoding)
    if with_thresholds:
        report, table = evaluate_with_thresholds(model, input_path, config)
        if as_json:
            text = json.dumps({**report_to_dict(report), "thresholds": table}, indent=2) + "\n"
        else:
            text = format_report(report) + "\n" + format_threshold_report(table)
        _write_text(output, text)
        return
    report = evaluate_file(model, input_path, config)
    text = json.dumps(report_to_dict(report), indent=2) + "\n" if as_json else format_report(report) + "\n"
    _write_text(output, text)


@main.command(short_help="Predict a label for every document.")
@click.option("--probabilities", is_flag=True, help="Add one probability column per label, in the model's label order.")
@click.option("--top-k", "top_k", type=click.IntRange(min=1), default=None,
              help="Add the K most probable labels, most probable first, as label/probability pairs.")
@click.option("--explain", is_flag=True,
              help="Add the features that pushed most toward each predicted label, with their contribution "
                   "(feature value times weight).")
@click.option("--explain-features", type=click.IntRange(min=1), default=5, show_default=True,
              help="Number of features per document that --explain lists.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Binary models: predict the second label when its probability is at least this, "
                   "instead of the model's stored threshold (0.5 when it has none).")
@click.option("--output-format", type=click.Choice(["tsv", "jsonl"]), default="tsv", show_default=True,
              help="Output format: tsv (tab-separated, no header) or jsonl (one JSON object per document). "
                   "--format sets the input format.")
@click.option("-o", "--output", type=OutputFile("predictions.tsv"), help="Write predictions to this file instead of stdout.")
@format_option
@encoding_option
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("input_path", metavar="INPUT", default="-")
def predict(probabilities: bool, top_k: int | None, explain: bool, explain_features: int, threshold: float | None,
            output_format: str, output: str | None, file_format: str | None, encoding: str | None,
            model_path: str, input_path: str) -> None:
    """Predict a label for every document of INPUT ('-' or nothing: stdin).

    INPUT holds bare text lines (a .txt file or stdin), labelled lines (a
    .tsv file, or --format tsv; the label is ignored) or features. Every
    document gives one output line, in order: label<TAB>probability of that
    label, then the columns that --top-k, --probabilities and --explain add.
    In bare text every line is a document, blank lines included; labelled
    files skip blank lines with a warning. Bare text and TSV are read and
    predicted 10,000 lines at a time, so they may be larger than memory.
    With --output-format jsonl each line is an object with the keys label
    and probability, and top, probabilities and explanation when --top-k,
    --probabilities and --explain ask for them.

    \b
      logreg predict model.npz data/sample/test.tsv > predictions.tsv
      cut -f2 data/sample/test.tsv | logreg predict model.npz -
      logreg predict model.npz new.txt --explain --output-format jsonl
    """
    model = LogisticModel.load(model_path)
    set_threshold(model, threshold, source=model_path)
    config = _model_config(model, file_format, encoding)

    def render(predictions: Predictions) -> str:
        records = prediction_records(model, predictions.predicted, predictions.probabilities, top_k=top_k or 0,
                                     include_probabilities=probabilities, X=predictions.X,
                                     explain_k=explain_features if explain else 0)
        return format_records_jsonl(records) if output_format == "jsonl" else format_records_tsv(records)

    if not streams_predictions(input_path, config):
        _write_text(output, render(predict_file(model, input_path, config, labelled=False, keep_features=explain)))
        return
    # Bare text and TSV lines are read, predicted and written a block at a time, so the input can be larger than memory.
    with _text_writer(output) as write:
        for block in predict_text_blocks(model, input_path, config, keep_features=explain):
            write(render(block))


@main.command(name="init-config", short_help="Print every config key with its default.")
def init_config() -> None:
    """Print a complete config with every key, its default and a comment."""
    click.echo(describe_defaults(), nl=False)


@main.command(name="run", short_help="Featurize, train and evaluate into a folder.")
@config_option
@set_option
@click.option("-o", "--output", "run_dir", required=True, type=OutputFolder(),
              help="Folder to write the run into; created when missing, and files of an earlier run are replaced.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.pass_context
def run_command(ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], run_dir: str,
                no_plots: bool) -> None:
    """Featurize, train and evaluate the config in one go, writing everything into RUN_DIR.

    The config must set data.train; data.test is evaluated when set. RUN_DIR
    receives config.yaml (the resolved config), model.npz, metrics.json
    (validation and test scores), history.csv (per epoch: training loss,
    validation loss, validation accuracy, learning rate, seconds),
    predictions.tsv (the test corpus), run.log, and the plots
    learning_curve.png and confusion_matrix.png. The plots need matplotlib:
    pip install '.[plot]' in the logreg-cli checkout.

    \b
      logreg run -c experiment.yaml -o runs/first
      logreg run -c experiment.yaml --set trainer.l2=0.0001 -o runs/l2-1e-4
    """
    config = _load(config_path, overrides)
    check_config_data_paths(config, config_path)
    outcome = run_experiment(config, run_dir, plot=not no_plots, show_progress=_show_progress(ctx))
    if outcome.validation_report is not None:
        report = outcome.validation_report
        click.echo(f"validation: {report.n_documents} documents, accuracy {report.accuracy:.4f}, "
                   f"macro F1 {report.macro.f1:.4f}")
    if outcome.test_report is not None:
        click.echo(f"test: {config.data.test}")
        click.echo(format_report(outcome.test_report))
    click.echo("wrote " + ", ".join(path.name for path in outcome.files) + f" to {outcome.run_dir}")
    training = outcome.training.result
    if training.interrupted:
        raise ReportedError(f"interrupted during epoch {len(training.history) + 1}; "
                            f"wrote the run with the weights of epoch {training.best_epoch}", _interrupted_exit_code())


@main.command(short_help="Train every combination of settings.")
@config_option
@set_option
@click.option("--grid", "grid_items", multiple=True, required=True, metavar="SECTION.KEY=V1,V2,...",
              help="Values to try for one config key, separated by commas; a list value stays whole, as in "
                   "featurizer.char_ngrams=[2,3],null. Repeatable; every combination runs.")
@click.option("--metric", type=click.Choice(list(SWEEP_METRICS)), default="macro_f1", show_default=True,
              help="Validation metric that ranks the runs: log_loss ranks the lowest first, the others the highest first.")
@click.option("-o", "--output", "sweep_dir", required=True, type=OutputFolder(),
              help="Folder for the runs (run-01, run-02, ...), results.csv, best_config.yaml and best_model.npz.")
@click.pass_context
def sweep(ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], grid_items: tuple[str, ...],
          metric: str, sweep_dir: str) -> None:
    """Train every combination of --grid values and rank them by a validation metric.

    Each run takes its validation documents as `logreg run` does, from
    data.validation or a trainer.validation_fraction split. The test corpus is
    not used, so it stays unseen until you evaluate the best model on it.
    Prints the ranked table and writes it as SWEEP_DIR/results.csv, the
    resolved config of the best run as best_config.yaml and its model as
    best_model.npz.

    \b
      logreg sweep -c experiment.yaml --grid trainer.l2=0,1e-5,1e-4 \\
          --grid featurizer.ngram_max=1,2 -o sweeps/l2-ngrams
    """
    grid = parse_grid(grid_items)

    def report_run(row: SweepRow, number: int, total: int) -> None:
        scores = ", ".join(f"{name} {value:.4f}" for name, value in row.scores.items() if value is not None)
        logger.info("%s (%d of %d, %s): validation %s", row.run, number, total,
                    ", ".join(f"{key}={value}" for key, value in row.values.items()), scores)

    result = sweep_runs(config_path, overrides, grid, sweep_dir, metric=metric, show_progress=_show_progress(ctx),
                        on_run=report_run)
    click.echo(f"runs ranked by validation {metric} ({'lowest' if not SWEEP_METRICS[metric] else 'highest'} first):")
    click.echo(format_sweep_table(result.rows, result.keys), nl=False)
    click.echo(f"best: {result.rows[0].run}; wrote {result.table_path}, {result.best_config_path} and {result.best_model_path}")


@main.command(name="cv", short_help="Cross-validate a config.")
@config_option
@set_option
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Number of folds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.pass_context
def cross_validate_command(ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], folds: int,
                           as_json: bool) -> None:
    """Cross-validate the config on data.train and report each metric's mean and standard deviation.

    The documents are split into stratified folds (seeded by trainer.seed).
    Each fold is scored by a model trained on the other folds, with its own
    vocabulary and early stopping on trainer.validation_fraction of them.

    \b
      logreg cv -c experiment.yaml --folds 5
    """
    config = _load(config_path, overrides)

    def report_fold(number: int, scores: dict[str, float | None]) -> None:
        logger.info("fold %d of %d: accuracy %.4f, macro F1 %.4f", number, folds, scores["accuracy"], scores["macro_f1"])

    result = cross_validate(config, folds, show_progress=_show_progress(ctx), on_fold=report_fold)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else format_cross_validation(result).rstrip("\n"))


@main.command(short_help="Show a model's settings and top features.")
@click.option("--top-k", "top_k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Features to list per label.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the text.")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
def inspect(top_k: int, as_json: bool, model_path: str) -> None:
    """Show a model's labels, size, settings, training summary and top features per label.

    A binary model lists the largest positive weights (toward the second
    label) and the largest negative weights (toward the first label).

    \b
      logreg inspect model.npz --top-k 20
    """
    model = LogisticModel.load(model_path)
    description = describe_model(model, top_k=top_k)
    if as_json:
        click.echo(json.dumps(description, indent=2, ensure_ascii=False))
    else:
        click.echo(format_model_description(description, source=model_path), nl=False)


def _model_config(model: LogisticModel, file_format: str | None, encoding: str | None) -> Config:
    """Return the reader settings the model was trained with, with command-line changes."""
    config = load_config(None, [])
    for key, value in model.config.get("data", {}).items():
        if hasattr(config.data, key) and key not in ("train", "validation", "test"):
            setattr(config.data, key, value)
    if file_format is not None:
        config.data.format = file_format
    elif config.data.format not in ("auto", "text"):
        config.data.format = "auto"
    if encoding is not None:
        config.data.encoding = encoding
    return config


@contextmanager
def _text_writer(output: str | None) -> Iterator[Any]:
    """Yield a function that writes text to stdout, or to ``output``, which is replaced only when all is written."""
    if output is None:
        yield _write_stdout
        return
    with atomic_write(Path(output), "w") as stream:
        yield stream.write


def _write_text(output: str | None, text: str) -> None:
    with _text_writer(output) as write:
        write(text)


def _write_stdout(text: str) -> None:
    """Write all of ``text`` to stdout, raising BrokenPipeError when the reader has closed the pipe.

    On CPython 3.11.7 under Linux, ``sys.stdout.write`` of a large text to a
    pipe that the reader closes midway returned normally after writing only
    the first 64 KiB (the pipe buffer), so the rest was lost without an
    error. ``os.write`` in a loop raises BrokenPipeError on the next write instead.
    """
    stream = sys.stdout
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor, as in click's test runner
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    remaining = memoryview(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
    while remaining:
        written = os.write(descriptor, remaining)
        remaining = remaining[written:]


def run() -> None:
    """Entry point of the ``logreg`` script."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # A shell without job control starts `logreg train ... &` with SIGINT ignored, so `kill -INT`
        # would do nothing. Ctrl-C is how a user stops training and keeps the best epoch, so take it back.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    # Input is read as UTF-8 whatever the locale, so write output the same way: a label such as
    # "café" must not crash predict under LANG=C. Messages on stderr never fail to encode.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    if hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(errors="backslashreplace")
    main(prog_name="logreg")


if __name__ == "__main__":
    run()
