"""Exceptions that the command line reports as one line and exit code 1.

Core modules raise only these for bad input, so ``cli.py`` catches
``LogregError`` once. Every message says what failed, on which file, line or
key, and what to do next.
"""

from __future__ import annotations

from pathlib import Path


class LogregError(Exception):
    """Base class of every error caused by input, configuration or files."""


class ConfigError(LogregError):
    """Invalid configuration file, key, value or override."""


class DataError(LogregError):
    """Invalid or unreadable corpus file, or a corpus that cannot be used."""


class ModelFileError(LogregError):
    """Invalid, incompatible or unreadable model file or features file."""


class OutputError(LogregError):
    """An output file cannot be written."""


class TrainingError(LogregError):
    """Training cannot go on, for example because the loss diverged."""


def location(path: str | Path, line: int | None = None, column: int | None = None) -> str:
    """Format ``path:line:column`` with the parts that are known."""
    text = "<stdin>" if str(path) == "-" else str(path)
    if line is not None:
        text += f":{line}"
        if column is not None:
            text += f":{column}"
    return text
