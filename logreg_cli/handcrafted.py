"""Hand-written features declared in the config: word lists, regular expressions, document length.

The word lists are read from their files when the featurizer is fitted and
are then stored in the model file, so prediction needs no list file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from logreg_cli.config import FeaturizerConfig
from logreg_cli.errors import ConfigError, DataError, ModelFileError
from logreg_cli.ngrams import TokenStream

logger = logging.getLogger(__name__)


@dataclass
class WordListFeature:
    """One feature from a list of tokens.

    ``value`` is presence (1 if any token of the document is in the list),
    count (how many of its tokens are) or proportion (that count divided by
    the number of tokens, 0 for a document without tokens).
    """

    name: str
    value: str
    words: list[str]


@dataclass
class RegexFeature:
    """One feature from a regular expression searched in the raw document text.

    ``value`` is presence (1 if it matches anywhere) or count (the number of
    non-overlapping matches).
    """

    name: str
    value: str
    pattern: str
    _compiled: re.Pattern | None = field(default=None, repr=False, compare=False)

    def compiled(self) -> re.Pattern:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled


@dataclass
class HandcraftedFeatures:
    """The hand-written features of a featurizer, in column order: word lists, regexes, document length."""

    word_lists: list[WordListFeature] = field(default_factory=list)
    regexes: list[RegexFeature] = field(default_factory=list)
    document_length: str = "none"

    @property
    def n_features(self) -> int:
        return len(self.word_lists) + len(self.regexes) + (self.document_length != "none")

    def feature_names(self) -> list[str]:
        names = [f"word_list:{feature.name}" for feature in self.word_lists]
        names += [f"regex:{feature.name}" for feature in self.regexes]
        if self.document_length != "none":
            names.append(f"document_length:{self.document_length}")
        return names

    def compute(self, documents: Sequence[str], stream: TokenStream) -> np.ndarray:
        """Return the feature values, shape ``(n_documents, n_features)``.

        ``stream`` contains the tokens of ``documents`` with stop words kept.
        """
        n_documents = len(documents)
        values = np.zeros((n_documents, self.n_features))
        lengths = stream.lengths.astype(np.float64)
        column = 0
        for feature in self.word_lists:
            words = set(feature.words)
            in_list = np.fromiter((token in words for token in stream.tokens), dtype=bool, count=len(stream.tokens))
            hits = np.bincount(stream.rows[in_list[stream.ids]], minlength=n_documents).astype(np.float64)
            if feature.value == "presence":
                hits = (hits > 0).astype(np.float64)
            elif feature.value == "proportion":
                hits = np.divide(hits, lengths, out=np.zeros(n_documents), where=lengths > 0)
            values[:, column] = hits
            column += 1
        for feature in self.regexes:
            pattern = feature.compiled()
            if feature.value == "presence":
                found = (pattern.search(document) is not None for document in documents)
            else:
                found = (sum(1 for _ in pattern.finditer(document)) for document in documents)
            values[:, column] = np.fromiter(found, dtype=np.float64, count=n_documents)
            column += 1
        if self.document_length == "count":
            values[:, column] = lengths
        elif self.document_length == "log":
            values[:, column] = np.log1p(lengths)
        return values

    def to_json(self) -> dict[str, Any]:
        return {
            "word_lists": [{"name": f.name, "value": f.value, "words": f.words} for f in self.word_lists],
            "regexes": [{"name": f.name, "value": f.value, "pattern": f.pattern} for f in self.regexes],
            "document_length": self.document_length,
        }

    @classmethod
    def from_json(cls, value: Any, *, source: str) -> HandcraftedFeatures:
        """Rebuild the features stored by :meth:`to_json`; a damaged value raises ModelFileError."""
        try:
            return cls(
                [WordListFeature(item["name"], item["value"], [str(word) for word in item["words"]])
                 for item in value["word_lists"]],
                [RegexFeature(item["name"], item["value"], item["pattern"]) for item in value["regexes"]],
                str(value["document_length"]),
            )
        except (KeyError, TypeError) as error:
            raise ModelFileError(f"{source}: the stored hand-written features are damaged ({error!r}); write the file again") from None


def load_handcrafted(settings: FeaturizerConfig, tokenize: Callable[[str], list[str]]) -> HandcraftedFeatures:
    """Read the word-list files named in ``settings`` and collect the hand-written features.

    Raises
    ------
    ConfigError
        When a word-list file cannot be read.
    DataError
        When a word-list file contains no usable token.
    """
    word_lists = []
    for entry in settings.word_lists or []:
        key = f"featurizer.word_lists ({entry['name']})"
        words = read_token_file(entry["file"], key, tokenize, single_tokens=True)
        if not words:
            raise DataError(f"{entry['file']}: the word list '{entry['name']}' contains no token; "
                            "write one token per line (lines starting with # are comments)")
        word_lists.append(WordListFeature(entry["name"], entry["value"], words))
    regexes = [RegexFeature(entry["name"], entry["value"], entry["pattern"]) for entry in settings.regexes or []]
    return HandcraftedFeatures(word_lists, regexes, settings.document_length)


def read_token_file(path: str, key: str, tokenize: Callable[[str], list[str]], *, single_tokens: bool) -> list[str]:
    """Read a file of one entry per line and return its tokens, sorted, without repeats.

    Each line goes through ``tokenize``, so the entries get the same case
    folding and normalization as the documents. Blank lines and lines that
    start with ``#`` are skipped. With ``single_tokens``, a line that gives
    more or fewer than one token is skipped with a warning, because such an
    entry could never match a single token of a document.

    Raises
    ------
    ConfigError
        When the file is missing or unreadable; the message names ``key``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{key}: file {path} not found; check the path (a relative path starts at the current folder)") from None
    except IsADirectoryError:
        raise ConfigError(f"{key}: {path} is a folder, expected a text file with one entry per line") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{key}: {path} is not valid UTF-8 (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path} ({error.strerror})") from None
    tokens: set[str] = set()
    skipped: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = tokenize(line)
        if single_tokens and len(found) != 1:
            skipped.append(number)
            continue
        tokens.update(found)
    if skipped:
        logger.warning("%s:%d: %d lines are not exactly one token under the featurizer's tokenizer and were skipped "
                       "(first: line %d); put one token per line", path, skipped[0], len(skipped), skipped[0])
    return sorted(tokens)

