"""Atomic file writes and safe loading of ``.npz`` files.

Every output file is written to a temporary file in the destination folder
and moved into place with ``os.replace``, so a reader never sees a
half-written file and an existing file survives a failed or interrupted write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from logreg_cli.errors import ModelFileError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` and move it to ``path`` once the block succeeds.

    On any exception, ``KeyboardInterrupt`` included, the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        if "b" in mode:
            stream = os.fdopen(handle, mode)
        else:
            stream = os.fdopen(handle, mode, encoding=encoding, newline="")
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], *, compress: bool = True) -> None:
    """Write ``arrays`` to an ``.npz`` file atomically. No array may need pickle."""
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise TypeError(f"array {name!r} has dtype object and would need pickle")
    with atomic_write(path, "wb") as stream:
        (np.savez_compressed if compress else np.savez)(stream, **arrays)


def load_arrays(path: str | Path, *, what: str, required: Sequence[str]) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file, refusing pickled content.

    Parameters
    ----------
    path : the ``.npz`` file
    what : what the file should be, for messages ("model file", "features file")
    required : names that must be present

    Raises
    ------
    ModelFileError
        When the file is missing, empty, truncated, not an ``.npz`` file, needs
        pickle or lacks a required array.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: {what} not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, expected a {what} (.npz)")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the {what} is empty; write it again")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path}: not a {what}: it holds one array, not an .npz archive")
            arrays = {name: archive[name] for name in archive.files}
    except ModelFileError:
        raise
    except ValueError as error:
        if "pickle" in str(error):
            raise ModelFileError(
                f"{path}: the {what} contains pickled objects, which are never loaded because they can run code; "
                "write it again with this tool"
            ) from None
        raise ModelFileError(f"{path}: not a valid {what} ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path}: not a valid {what}: the file is truncated or not an .npz archive ({error})") from None
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ModelFileError(f"{path}: not a valid {what}: missing {', '.join(missing)}")
    return arrays


def strings_to_arrays(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pack strings into UTF-8 bytes and offsets, shapes ``(n_bytes,)`` and ``(n + 1,)``.

    A fixed-width unicode array would cost 4 bytes times the longest string for
    every entry; packed bytes cost the UTF-8 length, and any character is kept.
    """
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return blob, offsets


def arrays_to_strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    """Unpack strings written by :func:`strings_to_arrays`."""
    raw = blob.tobytes()
    bounds = offsets.tolist()
    return [raw[start:stop].decode("utf-8", "surrogatepass") for start, stop in zip(bounds[:-1], bounds[1:])]


def json_to_array(value: Any) -> np.ndarray:
    """Store a JSON-serialisable value as a 0-d unicode array."""
    return np.array(json.dumps(value, sort_keys=True, ensure_ascii=False))


def array_to_json(array: np.ndarray) -> Any:
    return json.loads(str(array[()]))
