"""The ``logreg`` command: parse options, call the pipeline, print results.

This is the only module that imports click. Errors from the core
(``LogregError``) become one ``error: ...`` line on stderr and exit code 1;
usage errors exit with 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from logreg_cli import __version__
from logreg_cli.config import Config, describe_defaults, load_config
from logreg_cli.errors import LogregError
from logreg_cli.io import atomic_write
from logreg_cli.metrics import format_report, report_to_dict
from logreg_cli.model import LogisticModel
from logreg_cli.pipeline import evaluate_file, featurize_corpus, predict_file, read_options, train_from_config
from logreg_cli.data import read_corpus
from logreg_cli.featurize import Featurizer
from logreg_cli.model import FeaturesFile, is_features_file
from logreg_cli.train import EpochRecord

logger = logging.getLogger("logreg_cli")

EXIT_INTERRUPTED = 130


class ReportedError(click.ClickException):
    """A failure shown as one ``error: ...`` line, without usage text."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class LogregGroup(click.Group):
    """Turns the core's errors, Ctrl-C and a closed output pipe into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LogregError as error:
            raise ReportedError(str(error)) from None
        except KeyboardInterrupt:
            raise ReportedError("interrupted", EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader of stdout went away (for example `| head`): stop quietly, and keep Python
            # from reporting the failed flush of stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
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
    root.propagate = False
    root.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)


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


@main.command()
@config_option
@set_option
@format_option
@encoding_option
@click.option("--vocabulary-from", "vocabulary_from", type=click.Path(dir_okay=False),
              help="Take the featurizer (vocabulary and settings) from this model or features file instead of learning it.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Features file to write (.npz).")
@click.argument("input_path", metavar="INPUT")
def featurize(config_path: str | None, overrides: tuple[str, ...], file_format: str | None, encoding: str | None,
              vocabulary_from: str | None, output: str, input_path: str) -> None:
    """Turn the labelled corpus INPUT into a features file.

    The features file is a scipy-compatible CSR matrix in .npz form (column 0
    is the bias feature) plus the labels, vocabulary and featurizer settings.

    \b
      logreg featurize -c configs/sample.yaml data/sample/train.tsv -o train.npz
    """
    config = _load(config_path, overrides, file_format, encoding)
    corpus = read_corpus(input_path, read_options(config))
    featurizer: Featurizer | None = None
    labels = None
    if vocabulary_from is not None:
        if is_features_file(vocabulary_from) and _file_kind(vocabulary_from) == "features":
            source = FeaturesFile.load(vocabulary_from)
            featurizer, labels = source.featurizer, source.labels
        else:
            model = LogisticModel.load(vocabulary_from)
            featurizer, labels = model.featurizer, model.labels
        labels = list(labels) + sorted(set(corpus.labels) - set(labels))
    features = featurize_corpus(corpus, config, featurizer, labels)
    features.save(output)
    logger.info("wrote %s: %d documents, %d features, %d stored values",
                output, features.X.n_rows, features.X.n_columns, features.X.nnz)


def _file_kind(path: str) -> str:
    import numpy as np

    with np.load(path, allow_pickle=False) as archive:
        return str(archive["file_kind"][()]) if "file_kind" in archive.files else ""


@main.command()
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
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Model file to write (.npz). Without it the model is not saved.")
@click.argument("input_path", metavar="[TRAIN]", required=False)
@click.pass_context
def train(ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], file_format: str | None,
          encoding: str | None, validation_path: str | None, test_path: str | None, resume_path: str | None,
          output: str | None, input_path: str | None) -> None:
    """Train a model on TRAIN, a labelled corpus or a features file.

    TRAIN defaults to data.train of the config, so `logreg train -c CONFIG`
    runs the experiment the config describes, including the test when
    data.test is set. One line per epoch reports the training loss, the
    validation loss and the validation accuracy. Ctrl-C stops training and
    saves the best epoch so far.

    \b
      logreg train data/sample/train.tsv -o model.npz
      logreg train -c configs/sample.yaml --set trainer.l2=0.0001 -o model.npz
    """
    config = _load(config_path, overrides, file_format, encoding)
    if input_path is not None:
        config.data.train = input_path
    if validation_path is not None:
        config.data.validation = validation_path
    if test_path is not None:
        config.data.test = test_path
    resume = LogisticModel.load(resume_path) if resume_path is not None else None

    def report_epoch(record: EpochRecord) -> None:
        line = f"epoch {record.epoch:4d}  train_loss {record.train_loss:.6f}"
        if record.val_loss is not None:
            line += f"  val_loss {record.val_loss:.6f}  val_accuracy {record.val_accuracy:.4f}"
        logger.info(line + f"  ({record.seconds:.2f}s)")

    outcome = train_from_config(config, show_progress=_show_progress(ctx), on_epoch=report_epoch, resume=resume)
    result = outcome.result
    if result.interrupted:
        if result.best_epoch == 0:
            raise ReportedError(f"interrupted during epoch 1; no model was written", EXIT_INTERRUPTED)
        if output is not None:
            outcome.model.save(output)
            raise ReportedError(
                f"interrupted during epoch {len(result.history) + 1}; saved the weights of epoch {result.best_epoch} to {output}",
                EXIT_INTERRUPTED,
            )
        raise ReportedError(f"interrupted during epoch {len(result.history) + 1}", EXIT_INTERRUPTED)
    logger.info("%s; kept the weights of epoch %d", result.stop_reason, result.best_epoch)
    if output is not None:
        outcome.model.save(output)
        logger.info("wrote %s", output)
    else:
        logger.warning("no --output given, so the model was not saved")
    if config.data.test is not None:
        report = evaluate_file(outcome.model, config.data.test, config)
        click.echo(format_report(report))


@main.command(name="eval")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to this file instead of stdout.")
@format_option
@encoding_option
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("input_path", metavar="INPUT")
def evaluate_command(as_json: bool, output: str | None, file_format: str | None, encoding: str | None,
                     model_path: str, input_path: str) -> None:
    """Evaluate MODEL on INPUT, a labelled corpus or a features file.

    Prints accuracy, precision, recall, F1 and support per label, macro and
    weighted averages, and the confusion matrix (rows: true labels).

    \b
      logreg eval model.npz data/sample/test.tsv
      logreg eval model.npz data/sample/test.tsv --json
    """
    model = LogisticModel.load(model_path)
    config = _model_config(model, file_format, encoding)
    report = evaluate_file(model, input_path, config)
    text = json.dumps(report_to_dict(report), indent=2) + "\n" if as_json else format_report(report) + "\n"
    _write_text(output, text)


@main.command()
@click.option("--probabilities", is_flag=True, help="Add one probability column per label, in the model's label order.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write predictions to this file instead of stdout.")
@format_option
@encoding_option
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("input_path", metavar="INPUT", default="-")
def predict(probabilities: bool, output: str | None, file_format: str | None, encoding: str | None,
            model_path: str, input_path: str) -> None:
    """Predict a label for every document of INPUT ('-' or nothing: stdin).

    INPUT holds bare text lines, labelled lines (label<TAB>text, the label
    is ignored) or features. Each input line gives one output line, in order,
    blank lines included: label<TAB>probability of that label.

    \b
      logreg predict model.npz data/sample/test.tsv > predictions.tsv
      cut -f2 data/sample/test.tsv | logreg predict model.npz -
    """
    model = LogisticModel.load(model_path)
    config = _model_config(model, file_format, encoding)
    predictions = predict_file(model, input_path, config, labelled=False)
    rows = []
    for index, row in zip(predictions.predicted.tolist(), predictions.probabilities):
        fields = [model.labels[index], f"{row[index]:.6f}"]
        if probabilities:
            fields += [f"{p:.6f}" for p in row]
        rows.append("\t".join(fields))
    _write_text(output, "".join(line + "\n" for line in rows))


@main.command(name="init-config")
def init_config() -> None:
    """Print a complete config with every key, its default and a comment."""
    click.echo(describe_defaults(), nl=False)


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


def _write_text(output: str | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with atomic_write(Path(output), "w") as stream:
        stream.write(text)


def run() -> None:
    """Entry point of the ``logreg`` script."""
    main(prog_name="logreg")


if __name__ == "__main__":
    run()
