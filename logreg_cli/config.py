"""The configuration: every key, its type, its default and what it means.

A config file is YAML with the sections ``data``, ``featurizer`` and
``trainer``. Every key has a default, so a file needs only the keys it
changes, and no file is needed at all. Unknown keys and values of the wrong
type are errors that name the key and the file. ``--set section.key=value``
overrides one key; the value is read as a YAML scalar.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from logreg_cli.errors import ConfigError

logger = logging.getLogger(__name__)


def _key(default: Any, help: str, *, choices: tuple[Any, ...] = (), minimum: float | None = None,
         exclusive: bool = False, maximum: float | None = None,
         check: Callable[[str, Any, str], Any] | None = None) -> Any:
    """Declare one config key with its default, one-line help and allowed range.

    ``check(name, value, source)`` validates what the type hint cannot express
    and returns the value to store.
    """
    metadata = {"help": help, "choices": choices, "minimum": minimum, "exclusive": exclusive, "maximum": maximum,
                "check": check}
    return field(default=default, metadata=metadata)


def _check_class_weight(name: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if value != "balanced":
            raise ConfigError(f"{source}: {name} must be null, balanced or a mapping of label to weight, got {value!r}")
        return value
    weights = {}
    for label, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise ConfigError(f"{source}: {name}: the weight of label {label!r} must be a positive number, got {weight!r}")
        # YAML reads a label such as 1 as an int, but labels are always strings.
        weights[str(label)] = float(weight)
    return weights


@dataclass
class DataConfig:
    """Corpus files and the settings for reading them."""

    train: str | None = _key(None, "training corpus file; null means the file given on the command line")
    validation: str | None = _key(None, "validation corpus for early stopping; null splits trainer.validation_fraction off the training corpus")
    test: str | None = _key(None, "test corpus that `logreg train -c CONFIG` evaluates after training; null skips the test")
    format: str = _key("auto", "file format; auto picks it from the file extension",
                       choices=("auto", "tsv", "csv", "jsonl", "fasttext", "folder", "text"))
    encoding: str = _key("utf-8", "text encoding of the corpus files, any Python codec name (latin-1, cp1252, ...)")
    encoding_errors: str = _key("strict", "what an undecodable byte does: strict stops with an error naming the line",
                                choices=("strict", "replace", "ignore"))
    label_column: Union[int, str] = _key(0, "TSV: 0-based column of the label; CSV: header name or index")
    text_column: Union[int, str] = _key(1, "TSV: 0-based column of the text; CSV: header name or index")
    header: bool = _key(False, "TSV only: the first line is a header and is skipped")
    label_key: str = _key("label", "JSON Lines: key of the label")
    text_key: str = _key("text", "JSON Lines: key of the text")
    fasttext_prefix: str = _key("__label__", "fastText format: the prefix that marks a label")
    overlap_check: bool = _key(True, "keep a 16-byte hash of each training document in the model (and features file), "
                                     "so that eval warns about test documents that also occur in training; "
                                     "false skips the hashing")


WORD_LIST_VALUES = ("presence", "count", "proportion")
REGEX_VALUES = ("presence", "count")


def _check_char_ngrams(name: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    valid = (len(value) == 2 and all(isinstance(n, int) and not isinstance(n, bool) for n in value)
             and 1 <= value[0] <= value[1])
    if not valid:
        raise ConfigError(f"{source}: {name} must be null or [min, max] with 1 <= min <= max, for example [2, 5]; got {value!r}")
    return list(value)


def _check_min_df(name: str, value: Any, source: str) -> Any:
    if isinstance(value, int) and value < 1:
        raise ConfigError(f"{source}: {name} must be at least 1 as a number of documents, or a fraction in (0, 1]; got {value!r}")
    if isinstance(value, float) and not 0.0 < value <= 1.0:
        raise ConfigError(f"{source}: {name} as a fraction of the documents must be in (0, 1]; "
                          f"write an integer such as 5 for a number of documents; got {value!r}")
    return value


def _check_entries(name: str, value: Any, source: str, *, text_key: str, values: tuple[str, ...],
                   example: str) -> list[dict[str, str]]:
    """Check a list of {name, <text_key>, value} mappings and fill in value: presence."""
    entries = []
    for position, entry in enumerate(value):
        where = f"{source}: {name}[{position}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping such as {example}, got {entry!r}")
        unknown = sorted(set(map(str, entry)) - {"name", text_key, "value"})
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}; the keys are name, {text_key} and value")
        for key in ("name", text_key):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(f"{where}: '{key}' must be a non-empty string, got {entry.get(key)!r}; for example {example}")
        kind = entry.get("value", "presence")
        if kind not in values:
            raise ConfigError(f"{where}: value must be one of {', '.join(values)}, got {kind!r}")
        entries.append({"name": entry["name"], text_key: entry[text_key], "value": kind})
    names = [entry["name"] for entry in entries]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{source}: {name}: the name {repeated[0]!r} is used twice; give every feature its own name")
    return entries


def _check_word_lists(name: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    return _check_entries(name, value, source, text_key="file", values=WORD_LIST_VALUES,
                          example="{name: positive, file: configs/lexicons/positive.txt, value: presence}")


def _check_regexes(name: str, value: Any, source: str) -> Any:
    if value is None:
        return None
    entries = _check_entries(name, value, source, text_key="pattern", values=REGEX_VALUES,
                             example="{name: exclamation, pattern: '!', value: count}")
    for position, entry in enumerate(entries):
        try:
            compiled = re.compile(entry["pattern"])
        except re.error as error:
            raise ConfigError(f"{source}: {name}[{position}]: invalid regular expression {entry['pattern']!r}: {error}; "
                              "fix the expression (Python re syntax)") from None
        if compiled.fullmatch("") is not None:
            raise ConfigError(f"{source}: {name}[{position}]: {entry['pattern']!r} matches the empty string, so every "
                              "document would match; use + instead of * for the repeated part")
    return entries


@dataclass
class FeaturizerConfig:
    """Settings that turn documents into feature vectors. Feature 0 is always the bias feature."""

    lowercase: bool = _key(True, "fold case (Unicode case folding) before tokenizing")
    token_pattern: str | None = _key(None, "regular expression for one token; null uses the built-in Unicode-aware pattern")
    normalization: str | None = _key("NFKC", "Unicode normalization applied before tokenizing; null for none",
                                     choices=(None, "NFC", "NFKC", "NFD", "NFKD"))
    replace_numbers: bool = _key(False, "replace number tokens by the token <num>")
    replace_urls: bool = _key(False, "replace URLs by the token <url>")
    ngram_max: int = _key(1, "word n-grams of 1 up to this many consecutive tokens (2 adds bigrams); 0 turns word n-grams off", minimum=0)
    char_ngrams: list | None = _key(None, "[min, max]: add character n-grams of min to max characters from each token padded with a space "
                                    "on both sides; null for none", check=_check_char_ngrams)
    stop_words: str | None = _key(None, "file of stop words, one per line, removed from the tokens before n-grams are built "
                                  "(relative paths start at the current folder); null removes none")
    min_count: int = _key(1, "keep n-grams that occur at least this many times in the training corpus", minimum=1)
    min_df: Union[int, float] = _key(1, "keep n-grams found in at least this many training documents (an integer) "
                                     "or this fraction of them (a float in (0, 1])", check=_check_min_df)
    max_df: float = _key(1.0, "drop n-grams found in more than this fraction of the training documents; 1.0 drops none",
                         minimum=0.0, exclusive=True, maximum=1.0)
    max_features: int | None = _key(None, "keep at most this many n-grams, the most frequent first (ties: word n-grams first, "
                                    "then by code points); null keeps all", minimum=1)
    hash_bits: int = _key(0, "0 learns a vocabulary; k > 0 hashes n-grams into 2^k signed features and stores no vocabulary "
                          "(then min_count, min_df, max_df and max_features must keep their defaults)", minimum=0, maximum=30)
    values: str = _key("tfidf", "n-gram feature value: counts, binary (1 if the n-gram occurs) or tfidf (smoothed idf)",
                       choices=("counts", "binary", "tfidf"))
    sublinear_tf: bool = _key(True, "tfidf only: use 1 + log(count) instead of the count")
    normalize: str = _key("l2", "scale the n-gram features of each document to unit L2 norm (the bias and hand-written features are "
                          "left out of the norm and keep their values); none keeps raw values",
                          choices=("none", "l2"))
    bag_of_words: bool = _key(True, "add the n-gram features; false keeps only the bias feature and the hand-written features below")
    word_lists: list | None = _key(None, "hand-written features: a list of {name, file, value}, one feature per word-list file "
                                   "(one token per line); value is presence, count or proportion of the document's tokens",
                                   check=_check_word_lists)
    regexes: list | None = _key(None, "hand-written features: a list of {name, pattern, value}, one feature per regular expression "
                                "searched in the raw document text; value is presence or count of matches",
                                check=_check_regexes)
    document_length: str = _key("none", "hand-written feature: the number of tokens (count) or ln(1 + number of tokens) (log); "
                                "none adds no feature", choices=("none", "count", "log"))


@dataclass
class TrainerConfig:
    """Settings of the model and of the gradient descent that fits its weights."""

    model: str = _key("auto", "binary (sigmoid) or softmax; auto picks binary for two labels and softmax for more",
                      choices=("auto", "binary", "softmax"))
    method: str = _key("minibatch", "gradient descent: batch (all documents per step), stochastic (one document per step) or minibatch; "
                       "adagrad and adam: minibatch steps with a step size per weight; lbfgs: full-batch L-BFGS, one iteration per epoch",
                       choices=("batch", "stochastic", "minibatch", "adagrad", "adam", "lbfgs"))
    learning_rate: float = _key(4.0, "step size of gradient descent (adagrad and adam: the step size before the per-weight scaling; "
                                "lbfgs does not use it)", minimum=0.0, exclusive=True)
    schedule: str = _key("constant", "learning rate of each epoch: constant; inverse_sqrt divides learning_rate by the square root "
                         "of the epoch number; linear lowers it in equal steps to learning_rate / max_epochs in the last epoch",
                         choices=("constant", "inverse_sqrt", "linear"))
    batch_size: int = _key(32, "documents per step for the methods minibatch, adagrad and adam", minimum=1)
    max_epochs: int = _key(100, "upper bound on passes over the training corpus", minimum=1)
    l2: float = _key(0.0, "L2 strength: the loss adds l2 * (sum of squared weights), bias excluded; 0 disables", minimum=0.0)
    tolerance: float = _key(1e-8, "stop when the squared norm of the full gradient falls below this after an epoch; 0 disables the "
                            "test, and adagrad and adam then skip the pass that measures it and log the progressive training loss",
                            minimum=0.0)
    patience: int = _key(3, "stop after this many epochs without a lower validation loss; 0 disables early stopping", minimum=0)
    min_delta: float = _key(0.0, "smallest decrease of the validation loss that counts as an improvement", minimum=0.0)
    validation_fraction: float = _key(0.1, "share of the training corpus held out for early stopping when data.validation is null; 0 holds out nothing",
                                      minimum=0.0, maximum=0.9)
    seed: int = _key(0, "seed of the random generator for the validation split and the shuffling")
    class_weight: Union[str, dict, None] = _key(
        None, "weight of each label in the loss: null weighs all labels alike; balanced gives each label "
        "n_documents / (n_labels * its count); or a mapping such as {spam: 5} (labels left out weigh 1)",
        check=_check_class_weight)
    threshold: float | None = _key(None, "binary models: predict the second label (labels sort alphabetically) when its probability is at least this; "
                                   "null predicts the more probable label", minimum=0.0, maximum=1.0)
    tune_threshold: bool = _key(False, "binary models: set threshold to the value with the highest F1 on the validation "
                                "documents and store it in the model")
    streaming: bool = _key(False, "read the training file (TSV) in chunks of chunk_size lines and hold one chunk's features "
                           "at a time (two with stream_prefetch); needs featurizer.hash_bits > 0, and early stopping needs "
                           "data.validation")
    chunk_size: int = _key(10000, "streaming only: lines of the training file per chunk", minimum=1)
    stream_cache: bool = _key(False, "streaming only: write each chunk's features to a temporary folder (in $TMPDIR) during "
                              "the first epoch, so that later epochs read them instead of the text; takes 8 bytes per stored "
                              "value on disk when the values are whole numbers (binary, counts), else 16; deleted after training")
    stream_prefetch: bool = _key(False, "streaming only: read and featurize the next chunk on another thread while the "
                                 "optimizer steps through this one; faster, but two chunks' features are in memory at once")


@dataclass
class Config:
    """The whole configuration, one attribute per section."""

    data: DataConfig = field(default_factory=DataConfig)
    featurizer: FeaturizerConfig = field(default_factory=FeaturizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


SECTIONS: dict[str, type] = {"data": DataConfig, "featurizer": FeaturizerConfig, "trainer": TrainerConfig}


# Pruning keys and their defaults; hashing keeps no vocabulary, so these must stay at their defaults with it.
_PRUNING_DEFAULTS = (("min_count", 1), ("min_df", 1), ("max_df", 1.0), ("max_features", None))


def check_featurizer_settings(settings: FeaturizerConfig, sources: dict[str, str] | None = None) -> None:
    """Raise ConfigError for featurizer keys that contradict each other.

    ``sources`` maps a key to where it was set: a config file, or ``--set
    section.key=value``. The message then starts with the source of the key at fault.
    """

    def source_of(*keys: str) -> str:
        for key in keys:
            if sources and f"featurizer.{key}" in sources:
                return f"{sources[f'featurizer.{key}']}: "
        return ""

    if settings.hash_bits > 0:
        for name, default in _PRUNING_DEFAULTS:
            value = getattr(settings, name)
            if value != default or type(value) is not type(default):
                raise ConfigError(
                    f"{source_of(name, 'hash_bits')}featurizer.{name}={value} prunes a vocabulary, but "
                    f"featurizer.hash_bits={settings.hash_bits} hashes n-grams and keeps no vocabulary; "
                    f"set hash_bits to 0, or set {name} back to {default}"
                )
    if settings.bag_of_words and settings.ngram_max == 0 and settings.char_ngrams is None:
        raise ConfigError(
            f"{source_of('ngram_max', 'char_ngrams')}featurizer.ngram_max is 0 and featurizer.char_ngrams is null, so there "
            "are no n-gram features; set ngram_max to 1 or more, set char_ngrams, or set bag_of_words to false"
        )
    has_handcrafted = bool(settings.word_lists or settings.regexes) or settings.document_length != "none"
    if not settings.bag_of_words and not has_handcrafted:
        raise ConfigError(
            f"{source_of('bag_of_words')}featurizer.bag_of_words is false and no hand-written feature is declared, so every "
            "document would have only the bias feature; declare featurizer.word_lists, regexes or document_length, "
            "or set bag_of_words to true"
        )


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), *,
                override_sources: Sequence[str] | None = None) -> Config:
    """Read a YAML config file (or none) and apply ``section.key=value`` overrides.

    ``override_sources`` names where each override came from, to begin its
    error messages. The default is ``--set OVERRIDE``.

    Raises
    ------
    ConfigError
        For a missing or invalid file, an unknown section or key, a value of
        the wrong type or out of range, or a malformed override.
    """
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = _read_yaml(Path(path))
    config = Config()
    sources: dict[str, str] = {}  # where each key was set, for the messages of check_featurizer_settings
    for section_name, values in raw.items():
        if section_name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section '{section_name}'; the sections are {', '.join(SECTIONS)}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{section_name}' must be a mapping of keys to values")
        for key, value in values.items():
            _assign(config, section_name, str(key), value, source)
            sources[f"{section_name}.{key}"] = source
    if override_sources is None:
        override_sources = [f"--set {override}" for override in overrides]
    for override, override_source in zip(overrides, override_sources, strict=True):
        name, separator, text = override.partition("=")
        if not separator or "." not in name:
            raise ConfigError(f"{override_source}: expected section.key=value, for example --set trainer.l2=0.001")
        section_name, _, key = name.strip().partition(".")
        if section_name not in SECTIONS:
            raise ConfigError(f"{override_source}: unknown section '{section_name}'; the sections are {', '.join(SECTIONS)}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        _assign(config, section_name, key, value, override_source)
        sources[f"{section_name}.{key}"] = override_source
        logger.info("override %s.%s = %s", section_name, key, _yaml_value(getattr(getattr(config, section_name), key)))
    check_featurizer_settings(config.featurizer, sources)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a YAML config file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: config file is not valid UTF-8 (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: invalid YAML ({problem}); fix the syntax there") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping with the sections {', '.join(SECTIONS)}; "
                          "start from the file that logreg init-config prints")
    return raw


def _assign(config: Config, section_name: str, key: str, value: Any, source: str) -> None:
    section = getattr(config, section_name)
    fields = {f.name: f for f in dataclasses.fields(section)}
    if key not in fields:
        raise ConfigError(
            f"{source}: unknown key '{section_name}.{key}'; the keys of '{section_name}' are {', '.join(fields)}"
        )
    hint = get_type_hints(type(section))[key]
    default = fields[key].default if fields[key].default is not MISSING else None
    checked = _check_value(f"{section_name}.{key}", value, hint, fields[key].metadata, source, default)
    setattr(section, key, checked)


def _allowed_types(hint: Any) -> tuple[type, ...]:
    if get_origin(hint) is Union or str(get_origin(hint)) == "<class 'types.UnionType'>":
        return tuple(get_args(hint))
    return (hint,)


# The name of each type in messages, in the words of a YAML user.
_TYPE_WORDS = {float: "a number", int: "a whole number", bool: "true or false", str: "a string",
               dict: "a mapping", list: "a list", type(None): "null"}


def _check_value(name: str, value: Any, hint: Any, metadata: Any, source: str, default: Any = None) -> Any:
    allowed = _allowed_types(hint)
    value = _coerce(value, allowed)
    if value is None and type(None) not in allowed:
        raise ConfigError(f"{source}: {name} must not be null")
    if value is not None and not any(_is_instance(value, t) for t in allowed if t is not type(None)):
        named = [t for t in allowed if not (t is int and float in allowed)]  # "a number" covers int too
        expected = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in named)
        fix = f"; the default is {_yaml_value(default)}" if default is not None else ""
        got = _yaml_value(value) if isinstance(value, bool) else repr(value)
        raise ConfigError(f"{source}: {name} must be {expected}, got {got}{fix}")
    choices = metadata.get("choices") or ()
    if choices and value not in choices:
        shown = ", ".join("null" if c is None else str(c) for c in choices)
        raise ConfigError(f"{source}: {name} must be one of {shown}, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{source}: {name} must be a finite number, got {value!r}")
        minimum, maximum = metadata.get("minimum"), metadata.get("maximum")
        if minimum is not None:
            if metadata.get("exclusive") and value <= minimum:
                raise ConfigError(f"{source}: {name} must be greater than {minimum}, got {value!r}")
            if value < minimum:
                raise ConfigError(f"{source}: {name} must be at least {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{source}: {name} must be at most {maximum}, got {value!r}")
    check = metadata.get("check")
    if check is not None:
        value = check(name, value, source)
    return value


def _yaml_value(value: Any) -> str:
    """Return ``value`` as it would be written in a config file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _coerce(value: Any, allowed: tuple[type, ...]) -> Any:
    # PyYAML reads 1e-4 (no dot) as a string, so a float key accepts numeric strings; an integral float fits an int key.
    if isinstance(value, str) and float in allowed and str not in allowed:
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, int) and not isinstance(value, bool) and float in allowed and int not in allowed:
        return float(value)
    if isinstance(value, float) and int in allowed and float not in allowed and value.is_integer():
        return int(value)
    return value


def _is_instance(value: Any, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, float)
    return isinstance(value, expected)


def describe_defaults() -> str:
    """Return a complete YAML config with every key, its default and a one-line comment."""
    lines = ["# logreg-cli configuration: every key with its default."]
    for section_name, section_type in SECTIONS.items():
        lines.append(f"{section_name}:")
        for f in dataclasses.fields(section_type):
            default = yaml.safe_dump(f.default, default_flow_style=True).strip().removesuffix("...").strip()
            lines.append(f"  # {f.metadata['help']}")
            choices = f.metadata.get("choices")
            if choices:
                lines.append("  # one of: " + ", ".join("null" if c is None else str(c) for c in choices))
            lines.append(f"  {f.name}: {default}")
    return "\n".join(lines) + "\n"
