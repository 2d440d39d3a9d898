"""Peak memory and accuracy of streaming training on a file ten times the size of IMDb's training file.

The script writes, to a temporary folder:

- ``train.tsv``: the first 22,500 documents of ``imdb_aclimdb/train.tsv``,
- ``validation.tsv``: the other 2,500, for early stopping,
- ``train_x10.tsv``: ten copies of ``train.tsv``, each in its own shuffled
  order, the copies after the first with 10% of each document's words
  dropped at random, so no two copies are the same text.

It then trains four times, each in a fresh Python process, with the same
featurizer and trainer settings (``--set`` changes them), and evaluates on
``imdb_aclimdb/test.tsv``:

1. in memory on ``train.tsv`` (``trainer.streaming: false``),
2. streaming ``train.tsv``,
3. streaming ``train_x10.tsv``,
4. streaming ``train_x10.tsv`` with ``trainer.stream_cache: true``, whose
   later epochs read the features of the first from a temporary folder.

Peak memory is the peak resident set size (VmHWM) of each process during
training (``train_from_config``, reading the validation file included), as
in ``bench.py``. The peak while predicting the test file is shown apart,
because ``predict`` reads and featurizes the whole test file at once. The checks: run 3's training peak is
under 1 GiB and within 20% of run 2's, and run 3's accuracy is within 0.5
points of run 1's.

    python benchmarks/bench_stream.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import StageClock, machine_description, run_in_process, scores

DEFAULT_SETTINGS = (
    "featurizer.hash_bits=20",
    "featurizer.ngram_max=2",
    "featurizer.values=binary",
    "trainer.method=adagrad",
    "trainer.learning_rate=0.5",
    "trainer.l2=0",
    "trainer.batch_size=64",
    "trainer.chunk_size=10000",
    "trainer.max_epochs=20",
    "trainer.patience=2",
)
N_VALIDATION = 2500
COPIES = 10
DROP_FRACTION = 0.1


def write_corpora(source: Path, folder: Path, seed: int) -> dict[str, Path]:
    """Write the training, validation and ten-fold training files; return their paths."""
    with open(source, encoding="utf-8") as file:
        lines = [line if line.endswith("\n") else line + "\n" for line in file if line.strip()]
    train_lines, validation_lines = lines[:-N_VALIDATION], lines[-N_VALIDATION:]
    paths = {"train": folder / "train.tsv", "validation": folder / "validation.tsv", "train_x10": folder / "train_x10.tsv"}
    paths["train"].write_text("".join(train_lines), encoding="utf-8")
    paths["validation"].write_text("".join(validation_lines), encoding="utf-8")
    rng = random.Random(seed)
    with open(paths["train_x10"], "w", encoding="utf-8") as out:
        for copy in range(COPIES):
            order = list(range(len(train_lines)))
            rng.shuffle(order)
            for index in order:
                line = train_lines[index]
                if copy > 0:
                    label, _, text = line.rstrip("\n").partition("\t")
                    words = [word for word in text.split(" ") if rng.random() >= DROP_FRACTION]
                    line = f"{label}\t{' '.join(words)}\n"
                out.write(line)
    return paths


def run_training(train_path: str, validation_path: str, test_path: str, overrides: list[str], streaming: bool,
                 cache: bool = False) -> dict:
    from logreg_cli.config import load_config
    from logreg_cli.pages import prefer_small_pages
    from logreg_cli.pipeline import predict_file, train_from_config

    prefer_small_pages()  # as the logreg commands do
    config = load_config(None, [*overrides, f"trainer.streaming={'true' if streaming else 'false'}",
                                f"trainer.stream_cache={'true' if cache else 'false'}"])
    config.data.train, config.data.validation = train_path, validation_path
    clock = StageClock()
    with clock.stage("train"):
        outcome = train_from_config(config)
    with clock.stage("predict"):
        predictions = predict_file(outcome.model, test_path, config, labelled=True)
    predicted = [outcome.model.labels[i] for i in predictions.predicted]
    result = outcome.result
    return {
        "stages": clock.stages,
        "scores": scores(predictions.true_labels, predicted),
        "n_train": outcome.n_train,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "epoch_seconds": [record.seconds for record in result.history],
        "stop_reason": result.stop_reason,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("LOGREG_DATA_DIR", "../shared/data"),
                        help="folder of the corpora (default: $LOGREG_DATA_DIR, else ../shared/data)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help=f"change a setting of every run; repeatable; the defaults are {' '.join(DEFAULT_SETTINGS)}")
    parser.add_argument("--seed", type=int, default=13, help="seed of the shuffles and word drops of the generated file")
    parser.add_argument("--keep", help="write the generated files to this folder and keep them")
    arguments = parser.parse_args()

    folder = Path(arguments.data_dir) / "imdb_aclimdb"
    if not (folder / "train.tsv").is_file():
        parser.error(f"{folder / 'train.tsv'} not found; set --data-dir or LOGREG_DATA_DIR")
    overrides = [*DEFAULT_SETTINGS, *arguments.overrides]
    work = Path(arguments.keep) if arguments.keep else Path(tempfile.mkdtemp(prefix="bench-stream-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        paths = write_corpora(folder / "train.tsv", work, arguments.seed)
        print(f"wrote {paths['train_x10']} ({paths['train_x10'].stat().st_size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        runs = {
            "in memory, train.tsv": (paths["train"], False, False),
            "streaming, train.tsv": (paths["train"], True, False),
            "streaming, train_x10.tsv": (paths["train_x10"], True, False),
            "cached, train_x10.tsv": (paths["train_x10"], True, True),
        }
        results = {}
        for name, (train_path, streaming, cache) in runs.items():
            print(f"running {name} ...", file=sys.stderr, flush=True)
            message = run_in_process(run_training, train_path=str(train_path), validation_path=str(paths["validation"]),
                                     test_path=str(folder / "test.tsv"), overrides=overrides, streaming=streaming,
                                     cache=cache)
            if not message["ok"]:
                print(f"{name} failed:\n{message['error']}", file=sys.stderr)
                continue
            results[name] = message["result"]
    finally:
        if not arguments.keep:
            shutil.rmtree(work, ignore_errors=True)

    machine = machine_description()
    print("settings: " + " ".join(overrides))
    print(", ".join(f"{key} {value}" for key, value in machine.items()))
    header = (f"{'run':<26} {'documents':>9} {'epochs':>6} {'best':>4} {'train s':>8} {'s/epoch':>7} {'train MB':>8} "
              f"{'predict MB':>10} {'accuracy':>8} {'macro F1':>8}")
    print(header)
    print("-" * len(header))
    for name, result in results.items():
        stages = result["stages"]
        seconds = stages["train"]["seconds"]
        print(f"{name:<26} {result['n_train']:>9,} {result['epochs']:>6} {result['best_epoch']:>4} {seconds:>8.1f} "
              f"{seconds / result['epochs']:>7.1f} {stages['train']['peak_bytes'] / 2**20:>8.0f} "
              f"{stages['predict']['peak_bytes'] / 2**20:>10.0f} "
              f"{result['scores']['accuracy']:>8.4f} {result['scores']['macro_f1']:>8.4f}")
    print("seconds of each epoch:")
    for name, result in results.items():
        print(f"  {name:<26} {' '.join(f'{seconds:.1f}' for seconds in result['epoch_seconds'])}")
    names = list(runs)[:3]  # the checks compare the runs without the cache
    if all(name in results for name in names):
        memory, small, large = (results[name] for name in names)
        large_peak = large["stages"]["train"]["peak_bytes"]
        small_peak = small["stages"]["train"]["peak_bytes"]
        checks = [
            ("training peak of the x10 run under 1 GiB", large_peak < 2**30, f"{large_peak / 2**20:.0f} MB"),
            ("x10 training peak within 20% of the original's", large_peak <= 1.2 * small_peak,
             f"{large_peak / small_peak:.2f}"),
            ("x10 accuracy within 0.5 points of in memory",
             abs(large["scores"]["accuracy"] - memory["scores"]["accuracy"]) <= 0.005,
             f"{100 * (large['scores']['accuracy'] - memory['scores']['accuracy']):+.2f} points"),
        ]
        print("checks:")
        for check, met, value in checks:
            print(f"  {'met    ' if met else 'NOT met'}  {check:<48} {value}")


if __name__ == "__main__":
    main()
