"""Seconds and peak memory of ``Featurizer.fit_transform`` alone, on one or more copies of a corpus.

Each run reads the training and test files of ``<data-dir>/<corpus>``,
repeats their documents ``copies`` times and fits the featurizer of
``configs/<corpus>.yaml`` (or ``--config``) on them, in a fresh Python
process, as ``bench.py`` runs each system. The peak is the peak resident set
size (VmHWM) during ``fit_transform``, reset after the files are read, so it
counts the documents but not the reading.

Copies leave the vocabulary as it is but multiply the tokens and the
stored values, so they show how time and memory grow with the corpus.
To compare with another version of the code, run the same command with
``PYTHONPATH`` pointing to that version's checkout.

    python benchmarks/bench_featurize.py --corpus imdb_aclimdb --copies 1 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import StageClock, machine_description, read_tsv, run_in_process


def run_fit_transform(folder: str, config_path: str | None, copies: int) -> dict:
    from logreg_cli.config import load_config
    from logreg_cli.featurize import Featurizer
    from logreg_cli.pages import prefer_small_pages

    prefer_small_pages()  # as the logreg commands do
    documents = []
    for name in ("train.tsv", "test.tsv"):
        documents.extend(read_tsv(Path(folder) / name)[1])
    documents = documents * copies
    featurizer = Featurizer(load_config(config_path).featurizer)
    clock = StageClock()
    with clock.stage("fit_transform"):
        X = featurizer.fit_transform(documents)
    stage = clock.stages["fit_transform"]
    return {"documents": len(documents), "features": X.n_columns, "nnz": X.nnz,
            "seconds": stage["seconds"], "peak_bytes": stage["peak_bytes"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="imdb_aclimdb", help="folder name under --data-dir")
    parser.add_argument("--data-dir", default=os.environ.get("LOGREG_DATA_DIR", "../shared/data"),
                        help="folder of the corpora (default: $LOGREG_DATA_DIR, else ../shared/data)")
    parser.add_argument("--config", help="logreg config (default: configs/<corpus>.yaml when it exists)")
    parser.add_argument("--copies", type=int, nargs="+", default=[1], help="copies of the documents, one run each")
    arguments = parser.parse_args()

    folder = Path(arguments.data_dir) / arguments.corpus
    if not (folder / "train.tsv").is_file():
        parser.error(f"{folder / 'train.tsv'} not found; set --data-dir or LOGREG_DATA_DIR")
    config_path = arguments.config
    if config_path is None and Path(f"configs/{arguments.corpus}.yaml").is_file():
        config_path = f"configs/{arguments.corpus}.yaml"
    machine = machine_description()
    print(", ".join(f"{key} {value}" for key, value in machine.items()))
    print(f"corpus {arguments.corpus}; config {config_path}; code {os.environ.get('PYTHONPATH') or 'this checkout'}")
    print(f"{'copies':>6} {'documents':>10} {'features':>10} {'stored values':>14} {'seconds':>8} {'peak MB':>8}")
    for copies in arguments.copies:
        started = time.perf_counter()
        message = run_in_process(run_fit_transform, folder=str(folder), config_path=config_path, copies=copies)
        if not message["ok"]:
            print(f"copies {copies} failed after {time.perf_counter() - started:.0f} s:\n{message['error']}", file=sys.stderr)
            continue
        result = message["result"]
        print(f"{copies:>6} {result['documents']:>10,} {result['features']:>10,} {result['nnz']:>14,} "
              f"{result['seconds']:>8.2f} {result['peak_bytes'] / 1e6:>8.0f}")


if __name__ == "__main__":
    main()
