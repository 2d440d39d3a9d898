"""Time logreg-cli against scikit-learn, Vowpal Wabbit and fastText on one corpus, from raw text.

One run measures, on ``<data-dir>/<corpus>/{train,test}.tsv``:

- floor: read the file and run one ``re.findall(r"\\w+", text.lower())`` over
  it. No pure-Python tokenizer does less work. It is timed on the training
  file and on the test file.
- ours: read, featurize (hash every document for the overlap check of
  ``logreg eval``, as ``logreg train`` does unless ``data.overlap_check``
  is false, fit the featurizer on the
  training part, transform the validation part), train, and predict (read,
  featurize and predict the test file, as ``logreg predict`` does, without
  the overlap check), with the config given by ``--config`` and ``--set``. With
  ``trainer.streaming=true`` the training part (shuffled) and the validation
  part are first written to two files in a temporary folder, as a user of
  ``logreg train --stream`` prepares them, outside any stage; the train stage
  then reads, featurizes and trains from those files, so its read and
  featurize stages show 0.
- sklearn: ``CountVectorizer()`` and ``LogisticRegression(max_iter=1000)``,
  both with their default settings otherwise.
- vw: Vowpal Wabbit on the tokens of ``re.findall(r"\\w+", text.lower())``
  with ``--ngram 2`` and logistic loss (``--oaa`` for more than two labels).
- fasttext: ``fasttext.train_supervised`` on the same tokens with ``wordNgrams=2``.

vw and fasttext run only when their Python packages import. Each system runs
in its own fresh Python process (multiprocessing "spawn"), so one system's
memory never counts for another. The peak memory of a stage is the peak
resident set size (VmHWM in /proc/self/status) of that process during the
stage, interpreter and imported modules included. Before each stage the peak
is reset through /proc/self/clear_refs; where that fails (not Linux), the
peak is the process's peak so far.

    python benchmarks/bench.py --corpus imdb_aclimdb
    python benchmarks/bench.py --corpus 20newsgroups_bydate --set trainer.method=adam --json out.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import platform
import re
import resource
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

CORPORA = ("sms_spam", "movie_review_polarity_v2", "imdb_aclimdb", "20newsgroups_bydate")
SYSTEMS = ("floor", "ours", "sklearn", "vw", "fasttext")
FLOOR_PATTERN = r"\w+"
# Vowpal Wabbit options besides the data, model and label-count options. One pass, as the vw command does by default.
DEFAULT_VW_OPTIONS = "--ngram 2 --loss_function logistic -b 24"


# --------------------------------------------------------------------------- measuring


class StageClock:
    """Seconds and peak resident memory of each stage of one process."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.peak_resets = _reset_peak()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        _reset_peak()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.stages[name] = {"seconds": seconds, "peak_bytes": _peak_rss_bytes()}


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _child_main(function: Callable[..., dict], arguments: dict, connection: Any) -> None:
    try:
        connection.send({"ok": True, "result": function(**arguments)})
    except BaseException:  # noqa: BLE001 - the parent prints the traceback and goes on with the other systems
        connection.send({"ok": False, "error": traceback.format_exc()})
    finally:
        connection.close()


def run_in_process(function: Callable[..., dict], **arguments: Any) -> dict:
    """Run ``function(**arguments)`` in a fresh Python process and return its result dict."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(function, arguments, sender))
    process.start()
    sender.close()
    try:
        message = receiver.recv()
    except EOFError:
        message = {"ok": False, "error": "the process ended without a result"}
    process.join()
    if process.exitcode not in (0, None) and message.get("ok"):
        message = {"ok": False, "error": f"the process exited with code {process.exitcode}"}
    return message


# --------------------------------------------------------------------------- shared helpers


def read_tsv(path: Path) -> tuple[list[str], list[str]]:
    """Return (labels, documents) of a ``label<TAB>text`` file, skipping blank lines."""
    labels, documents = [], []
    with open(path, encoding="utf-8") as file:
        text = file.read()
    for line in text.split("\n"):
        label, tab, document = line.partition("\t")
        if tab:
            labels.append(label)
            documents.append(document)
    return labels, documents


def scores(true: list[str], predicted: list[str]) -> dict[str, float]:
    """Return accuracy and macro F1 (the unweighted mean of the F1 of every true label)."""
    names = sorted(set(true))
    correct = sum(t == p for t, p in zip(true, predicted))
    f1s = []
    for name in names:
        tp = sum(t == name and p == name for t, p in zip(true, predicted))
        fp = sum(t != name and p == name for t, p in zip(true, predicted))
        fn = sum(t == name and p != name for t, p in zip(true, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": correct / len(true), "macro_f1": sum(f1s) / len(f1s)}


def system_result(clock: StageClock, true_labels: list[str], predicted: list[str], n_train: int, **extra: Any) -> dict:
    """Return the result of one system: its stages, test scores and document counts, and ``extra``."""
    return {"stages": clock.stages, "scores": scores(true_labels, predicted), "n_train": n_train,
            "n_test": len(true_labels), **extra, "peak_resets": clock.peak_resets}


def floor_tokens(text: str) -> list[str]:
    return re.findall(FLOOR_PATTERN, text.lower())


# --------------------------------------------------------------------------- the systems


def run_floor(train_path: str, test_path: str) -> dict:
    clock = StageClock()
    counts = {}
    for name, path in (("train_file", train_path), ("test_file", test_path)):
        with clock.stage(name):
            with open(path, encoding="utf-8") as file:
                counts[name] = len(floor_tokens(file.read()))
    return {"stages": clock.stages, "tokens": counts, "peak_resets": clock.peak_resets}


def write_streaming_split(train_path: Path, config_path: str | None, overrides: list[str], folder: Path) -> tuple[str, str]:
    """Write the training part, shuffled, and the validation part of ``train_path`` as two TSV files in ``folder``.

    The validation rows are those that the in-memory run holds out
    (``trainer.validation_fraction`` and ``trainer.seed``).
    """
    import numpy as np

    from logreg_cli.config import load_config
    from logreg_cli.pipeline import split_validation

    trainer = load_config(config_path, overrides).trainer
    labels, documents = read_tsv(train_path)
    names = sorted(set(labels))
    y = np.array([names.index(label) for label in labels])
    train_rows, val_rows = split_validation(y, trainer.validation_fraction, trainer.seed)
    train_rows = np.random.default_rng(trainer.seed).permutation(train_rows)
    paths = (folder / "train.tsv", folder / "validation.tsv")
    for path, rows in zip(paths, (train_rows, val_rows)):
        path.write_text("".join(f"{labels[i]}\t{documents[i]}\n" for i in rows), encoding="utf-8")
    return str(paths[0]), str(paths[1])


def run_ours(train_path: str, test_path: str, config_path: str | None, overrides: list[str],
             streaming_split: tuple[str, str] | None = None) -> dict:
    import numpy as np

    from logreg_cli.config import load_config
    from logreg_cli.data import document_hashes
    from logreg_cli.featurize import Featurizer
    from logreg_cli.model import LogisticModel
    from logreg_cli.pipeline import label_indices, predict_file, read_training_corpus, split_validation
    from logreg_cli.pages import prefer_small_pages
    from logreg_cli.stream import train_streaming
    from logreg_cli.train import initial_weights, train

    prefer_small_pages()  # as the logreg commands do
    config = load_config(config_path, overrides)
    config.data.train, config.data.validation, config.data.test = train_path, None, test_path
    if config.trainer.streaming:
        assert streaming_split is not None, "main writes the split files for streaming runs"
        config.data.train, config.data.validation = streaming_split
        clock = StageClock()
        with clock.stage("read"):
            pass
        with clock.stage("featurize"):
            pass
        with clock.stage("train"):
            outcome = train_streaming(config)
        # Predict as logreg predict does, without the overlap check of logreg eval, as the in-memory run does.
        outcome.model.train_document_hashes = None
        with clock.stage("predict"):
            predictions = predict_file(outcome.model, test_path, config, labelled=True)
        result = outcome.result
        return {
            "stages": clock.stages,
            "scores": scores(predictions.true_labels, [outcome.model.labels[i] for i in predictions.predicted]),
            "n_train": outcome.n_train + outcome.n_validation,
            "n_test": len(predictions.predicted),
            "n_features": outcome.model.featurizer.n_features,
            "nnz": None,  # the chunks' matrices are not kept
            "epochs": len(result.history),
            "best_epoch": result.best_epoch,
            "stop_reason": result.stop_reason,
            "peak_resets": clock.peak_resets,
        }
    clock = StageClock()

    # The same steps as pipeline.train_from_config, one stage at a time.
    with clock.stage("read"):
        corpus = read_training_corpus(train_path, config)
    with clock.stage("featurize"):
        # logreg train keeps a hash of every training document for the overlap check of logreg eval,
        # unless data.overlap_check is false.
        if config.data.overlap_check:
            document_hashes(corpus.documents)
        labels = sorted(set(corpus.labels))
        y_all = label_indices(corpus.labels, labels, source=train_path)
        fraction = config.trainer.validation_fraction
        if fraction > 0:
            train_rows, val_rows = split_validation(y_all, fraction, config.trainer.seed)
        else:
            train_rows, val_rows = np.arange(y_all.size), np.array([], dtype=np.int64)
        featurizer = Featurizer(config.featurizer)
        X = featurizer.fit_transform([corpus.documents[i] for i in train_rows], source=train_path)
        X_val = featurizer.transform([corpus.documents[i] for i in val_rows])
        y, y_val = y_all[train_rows], y_all[val_rows]
        del corpus
    with clock.stage("train"):
        kind = config.trainer.model
        if kind == "auto":
            kind = "binary" if len(labels) == 2 else "softmax"
        weights = initial_weights(X.n_columns, len(labels), kind)
        result = train(X, y, weights, config.trainer, X_val=X_val, y_val=y_val)
        model = LogisticModel(labels, result.weights, featurizer, config.to_dict(), result.summary())
    n_train, n_features, nnz = X.n_rows + X_val.n_rows, X.n_columns, X.nnz
    del X, X_val
    with clock.stage("predict"):
        predictions = predict_file(model, test_path, config, labelled=True)
    predicted = [labels[i] for i in predictions.predicted]
    return {
        "stages": clock.stages,
        "scores": scores(predictions.true_labels, predicted),
        "n_train": n_train,
        "n_test": len(predicted),
        "n_features": n_features,
        "nnz": nnz,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "peak_resets": clock.peak_resets,
    }


def run_sklearn(train_path: str, test_path: str) -> dict:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    clock = StageClock()
    with clock.stage("read"):
        labels, documents = read_tsv(Path(train_path))
    with clock.stage("featurize"):
        vectorizer = CountVectorizer()
        X = vectorizer.fit_transform(documents)
        del documents
    with clock.stage("train"):
        classifier = LogisticRegression(max_iter=1000)
        classifier.fit(X, labels)
    n_features, nnz = X.shape[1], X.nnz
    del X
    with clock.stage("predict"):
        test_labels, test_documents = read_tsv(Path(test_path))
        predicted = classifier.predict(vectorizer.transform(test_documents)).tolist()
    return system_result(clock, test_labels, predicted, len(labels), n_features=n_features, nnz=nnz,
                         iterations=int(max(classifier.n_iter_)))


def _write_vw_file(documents: list[str], label_numbers: list[int], path: Path) -> None:
    # Tokens of \w+ hold no ':' or '|', the characters that the VW text format reserves.
    with open(path, "w", encoding="utf-8") as file:
        for document, number in zip(documents, label_numbers):
            file.write(f"{number} | {' '.join(floor_tokens(document))}\n")


def run_vw(train_path: str, test_path: str, options: str) -> dict:
    from vowpalwabbit import Workspace

    clock = StageClock()
    folder = Path(tempfile.mkdtemp(prefix="bench-vw-"))
    with clock.stage("read"):
        labels, documents = read_tsv(Path(train_path))
    names = sorted(set(labels))
    binary = len(names) == 2
    # VW's binary labels are -1 and 1; --oaa labels are 1..K.
    number_of = {name: (2 * i - 1 if binary else i + 1) for i, name in enumerate(names)}
    label_options = "--binary" if binary else f"--oaa {len(names)}"
    with clock.stage("featurize"):
        _write_vw_file(documents, [number_of[label] for label in labels], folder / "train.vw")
        del documents
    with clock.stage("train"):
        workspace = Workspace(f"-d {folder / 'train.vw'} -f {folder / 'model.vw'} {label_options} {options} --quiet")
        workspace.finish()
    with clock.stage("predict"):
        test_labels, test_documents = read_tsv(Path(test_path))
        _write_vw_file(test_documents, [number_of.get(label, 1) for label in test_labels], folder / "test.vw")
        workspace = Workspace(f"-t -i {folder / 'model.vw'} -d {folder / 'test.vw'} -p {folder / 'predictions.txt'} --quiet")
        workspace.finish()
        name_of = {number: name for name, number in number_of.items()}
        with open(folder / "predictions.txt") as file:
            predicted = [name_of[int(float(line.split()[0]))] for line in file]
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return system_result(clock, test_labels, predicted, len(labels), options=f"{label_options} {options}")


def run_fasttext(train_path: str, test_path: str, threads: int) -> dict:
    import fasttext

    clock = StageClock()
    folder = Path(tempfile.mkdtemp(prefix="bench-fasttext-"))
    with clock.stage("read"):
        labels, documents = read_tsv(Path(train_path))
    with clock.stage("featurize"):
        with open(folder / "train.txt", "w", encoding="utf-8") as file:
            for label, document in zip(labels, documents):
                file.write(f"__label__{label} {' '.join(floor_tokens(document))}\n")
        del documents
    with clock.stage("train"):
        model = fasttext.train_supervised(str(folder / "train.txt"), wordNgrams=2, thread=threads, verbose=0)
    with clock.stage("predict"):
        test_labels, test_documents = read_tsv(Path(test_path))
        predicted_labels, _ = model.predict([" ".join(floor_tokens(document)) for document in test_documents])
        predicted = [label[0].removeprefix("__label__") for label in predicted_labels]
    (folder / "train.txt").unlink()
    folder.rmdir()
    return system_result(clock, test_labels, predicted, len(labels),
                         options=f"wordNgrams=2 thread={threads}, other settings default")


# --------------------------------------------------------------------------- report


def fit_seconds(result: dict) -> float:
    stages = result["stages"]
    return stages["read"]["seconds"] + stages["featurize"]["seconds"] + stages["train"]["seconds"]


def peak_bytes(result: dict) -> int:
    return max(stage["peak_bytes"] for stage in result["stages"].values())


def format_table(results: dict[str, dict]) -> str:
    header = (f"{'system':<15} {'read s':>7} {'featurize s':>11} {'train s':>8} {'fit s':>7} {'predict s':>9} "
              f"{'predict docs/s':>14} {'peak MB':>8} {'accuracy':>8} {'macro F1':>8}")
    lines = [header, "-" * len(header)]
    for name, result in results.items():
        if name == "floor":
            stages = result["stages"]
            lines.append(f"{'floor':<15} {'':>7} {'':>11} {'':>8} {stages['train_file']['seconds']:>7.2f} "
                         f"{stages['test_file']['seconds']:>9.2f} {'':>14} {peak_bytes(result) / 2**20:>8.0f}")
            continue
        stages = result["stages"]
        predict = stages["predict"]["seconds"]
        lines.append(
            f"{name:<15} {stages['read']['seconds']:>7.2f} {stages['featurize']['seconds']:>11.2f} "
            f"{stages['train']['seconds']:>8.2f} {fit_seconds(result):>7.2f} {predict:>9.2f} "
            f"{result['n_test'] / predict:>14,.0f} {peak_bytes(result) / 2**20:>8.0f} "
            f"{result['scores']['accuracy']:>8.4f} {result['scores']['macro_f1']:>8.4f}"
        )
    return "\n".join(lines)


def format_stage_memory(results: dict[str, dict]) -> str:
    lines = ["peak MB per stage:"]
    for name, result in results.items():
        parts = [f"{stage} {values['peak_bytes'] / 2**20:.0f}" for stage, values in result["stages"].items()]
        lines.append(f"  {name:<15} " + ", ".join(parts))
    return "\n".join(lines)


def compare(results: dict[str, dict], name: str = "ours") -> list[str]:
    """Return the ratios of the run ``name`` (ours or a variant of it) to the others, and which targets it meets."""
    if name not in results:
        return []
    ours = results[name]
    lines = [f"ratios ({name} / theirs):"]
    for other in ("sklearn", "vw", "fasttext"):
        if other not in results:
            continue
        theirs = results[other]
        lines.append(
            f"  {other:<9} fit time {fit_seconds(ours) / fit_seconds(theirs):.3f}, "
            f"predict docs/s {(ours['n_test'] / ours['stages']['predict']['seconds']) / (theirs['n_test'] / theirs['stages']['predict']['seconds']):.2f}, "
            f"peak memory {peak_bytes(ours) / peak_bytes(theirs):.2f}, "
            f"accuracy {ours['scores']['accuracy'] - theirs['scores']['accuracy']:+.4f}"
        )
    if "floor" in results:
        floor = results["floor"]["stages"]
        lines.append(f"  floor     fit time {fit_seconds(ours) / floor['train_file']['seconds']:.2f}, "
                     f"predict time {ours['stages']['predict']['seconds'] / floor['test_file']['seconds']:.2f}")

    rival_names = [name for name in ("sklearn", "vw") if name in results]
    targets = []
    if rival_names:
        best = max(results[name]["scores"]["accuracy"] for name in rival_names)
        targets.append((f"accuracy >= best of {' and '.join(rival_names)}", ours["scores"]["accuracy"] >= best,
                        f"{ours['scores']['accuracy']:.4f} vs {best:.4f}"))
    if "sklearn" in results:
        sk = results["sklearn"]
        ratio = fit_seconds(ours) / fit_seconds(sk)
        targets.append(("fit time <= 0.2 x sklearn", ratio <= 0.2, f"{ratio:.3f}"))
        speedup = (ours["n_test"] / ours["stages"]["predict"]["seconds"]) / (sk["n_test"] / sk["stages"]["predict"]["seconds"])
        targets.append(("predict docs/s >= 2 x sklearn", speedup >= 2.0, f"{speedup:.2f}"))
        memory = peak_bytes(ours) / peak_bytes(sk)
        targets.append(("peak memory <= sklearn", memory <= 1.0, f"{memory:.2f}"))
    if "vw" in results:
        ratio = fit_seconds(ours) / fit_seconds(results["vw"])
        targets.append(("fit time <= 1.0 x vw", ratio <= 1.0, f"{ratio:.2f}"))
    if "floor" in results:
        ratio = fit_seconds(ours) / results["floor"]["stages"]["train_file"]["seconds"]
        targets.append(("fit time <= 2.5 x floor", ratio <= 2.5, f"{ratio:.2f}"))
    lines.append(f"targets of {name}:")
    for target, met, value in targets:
        lines.append(f"  {'met    ' if met else 'NOT met'}  {target:<36} {value}")
    for missing, target in (("sklearn", "fit time, predict and memory against sklearn"), ("vw", "fit time <= 1.0 x vw"),
                            ("floor", "fit time <= 2.5 x floor")):
        if missing not in results:
            lines.append(f"  not measured  {target} ({missing} did not run)")
    return lines


def machine_description() -> dict[str, str]:
    import numpy

    description = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as file:
            model = next((line.split(":", 1)[1].strip() for line in file if line.startswith("model name")), "")
        description["cpu"] = model
        with open("/proc/meminfo") as file:
            description["memory"] = f"{int(file.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    for name in ("scikit-learn", "vowpalwabbit", "fasttext"):
        try:
            description[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            description[name] = "not installed"
    return description


def _streams(config_path: str | None, overrides: list[str]) -> bool:
    from logreg_cli.config import load_config

    return load_config(config_path, overrides).trainer.streaming


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help=f"folder name under --data-dir, one of {', '.join(CORPORA)}")
    parser.add_argument("--data-dir", default=os.environ.get("LOGREG_DATA_DIR", "../shared/data"),
                        help="folder of the corpora (default: $LOGREG_DATA_DIR, else ../shared/data)")
    parser.add_argument("--config", help="logreg config for ours (default: configs/<corpus>.yaml when it exists)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config key for ours; repeatable")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,KEY=VALUE",
                        help="also run ours with these overrides on top of --set, shown as ours:NAME; repeatable")
    for name in SYSTEMS:
        parser.add_argument(f"--skip-{name}", action="store_true", help=f"do not run {name}")
    parser.add_argument("--vw-options", default=DEFAULT_VW_OPTIONS, help="Vowpal Wabbit options besides data, model and labels")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="fastText threads (default: all cores)")
    parser.add_argument("--json", dest="json_path", help="also write every measurement to this JSON file")
    arguments = parser.parse_args()

    folder = Path(arguments.data_dir) / arguments.corpus
    train_path, test_path = folder / "train.tsv", folder / "test.tsv"
    for path in (train_path, test_path):
        if not path.is_file():
            parser.error(f"{path} not found; set --data-dir or LOGREG_DATA_DIR to the folder of the corpora")
    config_path = arguments.config
    repository = Path(__file__).resolve().parent.parent
    if config_path is None and (repository / "configs" / f"{arguments.corpus}.yaml").is_file():
        config_path = str(repository / "configs" / f"{arguments.corpus}.yaml")

    ours_overrides = {
        "ours": arguments.overrides,
        **{
            f"ours:{variant.partition(':')[0]}": arguments.overrides + [item for item in variant.partition(":")[2].split(",") if item]
            for variant in arguments.variant
        },
    }
    # Streaming runs read their training and validation parts from files, written once here.
    scratch = tempfile.TemporaryDirectory(prefix="logreg-bench-")
    streaming_split = None
    if any(_streams(config_path, overrides) for overrides in ours_overrides.values()):
        streaming_split = write_streaming_split(train_path, config_path, arguments.overrides, Path(scratch.name))
    jobs: dict[str, tuple[Callable[..., dict], dict]] = {
        "floor": (run_floor, {}),
        **{
            name: (run_ours, {"config_path": config_path, "overrides": overrides, "streaming_split": streaming_split})
            for name, overrides in ours_overrides.items()
        },
        "sklearn": (run_sklearn, {}),
        "vw": (run_vw, {"options": arguments.vw_options}),
        "fasttext": (run_fasttext, {"threads": arguments.threads}),
    }
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    # Other jobs on the machine slow every system; the load average shows how busy it was.
    load_before = os.getloadavg()
    for name, (function, extra) in jobs.items():
        if getattr(arguments, f"skip_{name.partition(':')[0]}"):
            continue
        module = {"sklearn": "sklearn", "vw": "vowpalwabbit", "fasttext": "fasttext"}.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            print(f"skipping {name}: the Python package {module} is not installed", file=sys.stderr)
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        message = run_in_process(function, train_path=str(train_path), test_path=str(test_path), **extra)
        if message["ok"]:
            results[name] = message["result"]
        else:
            errors[name] = message["error"]
            print(f"{name} failed:\n{message['error']}", file=sys.stderr)

    machine = machine_description()
    print(f"corpus {arguments.corpus}; config {config_path or 'defaults'}"
          + (f" with {' '.join(arguments.overrides)}" if arguments.overrides else ""))
    print(", ".join(f"{key} {value}" for key, value in machine.items()))
    print(f"load average before: {' '.join(f'{value:.2f}' for value in load_before)}, "
          f"after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    ours_names = [name for name in results if name.startswith("ours")]
    for name in ours_names:
        ours = results[name]
        variant = next((v.partition(":")[2] for v in arguments.variant if name == f"ours:{v.partition(':')[0]}"), "")
        print(f"{name}{' (' + variant + ')' if variant else ''}: {ours['n_train']:,} training documents, "
              f"{ours['n_test']:,} test documents, {ours['n_features']:,} features, "
              f"{'streamed' if ours['nnz'] is None else format(ours['nnz'], ',') + ' stored values'}, "
              f"{ours['epochs']} epochs (best {ours['best_epoch']}: {ours['stop_reason']})")
    for name in ("vw", "fasttext"):
        if name in results:
            print(f"{name} options: {results[name]['options']}")
    print(format_table(results))
    print(format_stage_memory(results))
    for name in ours_names:
        for line in compare(results, name):
            print(line)
    if arguments.json_path:
        record = {"corpus": arguments.corpus, "config": config_path, "overrides": arguments.overrides,
                  "machine": machine, "results": results, "errors": errors, "command": sys.argv}
        Path(arguments.json_path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
