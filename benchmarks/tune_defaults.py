"""Compare trainer and featurizer settings by validation accuracy on every corpus.

Only the training files are read: each run holds out trainer.validation_fraction
of them, so the test files play no part in choosing defaults.

    python benchmarks/tune_defaults.py --data-dir ../shared/data --set trainer.learning_rate=1,4,16
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import time
from pathlib import Path

from logreg_cli.config import load_config
from logreg_cli.pipeline import train_from_config

CORPORA = ("sms_spam", "movie_review_polarity_v2", "imdb_aclimdb", "20newsgroups_bydate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("LOGREG_DATA_DIR", "../shared/data"))
    parser.add_argument("--corpus", action="append", help="corpus folder name; repeatable (default: all four)")
    parser.add_argument("--set", dest="grid", action="append", default=[],
                        help="section.key=v1,v2,...: values to try; repeatable, every combination runs")
    parser.add_argument("--fixed", action="append", default=[], help="section.key=value applied to every run")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    names = [item.split("=", 1)[0] for item in arguments.grid]
    values = [item.split("=", 1)[1].split(",") for item in arguments.grid]
    print("corpus\t" + "\t".join(names) + "\tval_accuracy\tval_loss\tbest_epoch\tseconds")
    for corpus in arguments.corpus or CORPORA:
        train_path = Path(arguments.data_dir) / corpus / "train.tsv"
        for combination in itertools.product(*values):
            overrides = arguments.fixed + [f"{n}={v}" for n, v in zip(names, combination)]
            config = load_config(None, overrides)
            config.data.train = str(train_path)
            started = time.perf_counter()
            outcome = train_from_config(config)
            best = outcome.result.history[outcome.result.best_epoch - 1]
            print(f"{corpus}\t" + "\t".join(combination)
                  + f"\t{best.val_accuracy:.4f}\t{best.val_loss:.4f}\t{outcome.result.best_epoch}"
                  + f"\t{time.perf_counter() - started:.1f}", flush=True)


if __name__ == "__main__":
    main()
