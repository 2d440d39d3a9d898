"""Shared fixtures: a tiny corpus, and the real corpora when LOGREG_DATA_DIR is set."""

import logging
import os
from pathlib import Path

import pytest

@pytest.fixture(autouse=True)
def restore_package_logger():
    """Undo the logging set-up of each CLI call, so that caplog in later tests still receives the package's messages."""
    package_logger = logging.getLogger("logreg_cli")
    saved = (package_logger.handlers[:], package_logger.level, package_logger.propagate)
    yield
    package_logger.handlers[:], package_logger.level, package_logger.propagate = saved


TINY_TRAIN = """\
pos\tgreat fun film
pos\ta great plot and fun acting
pos\twonderful great cast
pos\tfun and wonderful
neg\tawful boring film
neg\tboring plot and awful acting
neg\tdull awful cast
neg\tboring and dull
"""

TINY_TEST = """\
pos\tgreat wonderful fun
neg\tawful dull boring
"""


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """Write a separable two-label corpus and return the train and test paths."""
    train = tmp_path / "train.tsv"
    test = tmp_path / "test.tsv"
    train.write_text(TINY_TRAIN, encoding="utf-8")
    test.write_text(TINY_TEST, encoding="utf-8")
    return train, test


def corpus_dir(name: str) -> Path:
    """Return the folder of a real corpus, or skip the test when the corpora are not available.

    CI sets LOGREG_REQUIRE_DATA=1, so there a missing corpus fails the test instead of skipping it.
    """
    root = os.environ.get("LOGREG_DATA_DIR")
    folder = Path(root) / name if root else None
    if folder is None or not (folder / "train.tsv").is_file():
        if os.environ.get("LOGREG_REQUIRE_DATA"):
            pytest.fail(f"corpus {name} not found under LOGREG_DATA_DIR={root!r}")
        pytest.skip("set LOGREG_DATA_DIR to the folder of the real corpora to run this test")
    return folder
