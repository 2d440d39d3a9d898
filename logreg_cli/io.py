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
import zlib
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from logreg_cli.errors import ModelFileError, OutputError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` and move it to ``path`` once the block succeeds.

    On any exception, ``KeyboardInterrupt`` included, the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    check_output_path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise OutputError(f"{path}: cannot write the file ({error.strerror}); check the folder and its permissions") from None
    try:
        # mkstemp creates the file with mode 0600; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
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


ZIP_SIGNATURE = b"PK\x03\x04"
_NPY_SIGNATURE = b"\x93NUMPY"


def check_output_path(path: str | Path) -> None:
    """Raise OutputError unless ``path`` names a file that can be created in an existing, writable folder.

    Commands call this before long work such as training, so that a typo in
    ``-o`` fails at once rather than after the last epoch.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name for the output")
    if not folder.is_dir():
        blocking = _file_among_parents(path)
        if blocking is not None:
            raise OutputError(f"{path}: {blocking} is a file, not a folder; choose another output path")
        raise OutputError(f"{path}: the folder {folder} does not exist; create it or choose another output path")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{path}: the folder {folder} is not writable; choose another output path")


def make_output_folder(path: str | Path, purpose: str) -> bool:
    """Create the folder ``path`` and its parents if missing; return True when it was created.

    ``purpose`` names the folder's use in messages, such as "the run's results".

    Raises
    ------
    OutputError
        When ``path`` or one of its parents is a file, or the folder cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is a file, not a folder; pass a folder for {purpose}")
    blocking = _file_among_parents(path)
    if blocking is not None:
        raise OutputError(f"{path}: {blocking} is a file, not a folder; pass a folder for {purpose}")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create the folder ({error.strerror}); choose another folder for {purpose}") from None
    return created


def _file_among_parents(path: Path) -> Path | None:
    """Return the nearest existing parent of ``path`` when it is a file rather than a folder, else None."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], *, compress: bool = True) -> None:
    """Write ``arrays`` to an ``.npz`` file atomically. No array may need pickle."""
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise TypeError(f"array {name!r} has dtype object and would need pickle")
    with atomic_write(path, "wb") as stream:
        (np.savez_compressed if compress else np.savez)(stream, **arrays)


def rewrite_hint(what: str) -> str:
    """Return the fix for a damaged ``what`` ("model file" or "features file"): the command that writes one."""
    return f"write it again with logreg {'featurize' if what.startswith('features') else 'train'}"


def check_npz_start(path: str | Path, what: str) -> None:
    """Raise ModelFileError unless ``path`` is a non-empty file that starts as an ``.npz`` archive does.

    ``what`` names the file in messages ("model file" or "features file").
    """
    path = Path(path)
    rewrite = rewrite_hint(what)
    if not path.exists():
        raise ModelFileError(f"{path}: {what} not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, expected a {what} (.npz)")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the file is empty, so it is not a {what}; check the path, or {rewrite}")
    with open(path, "rb") as stream:
        signature = stream.read(len(_NPY_SIGNATURE))
    if signature.startswith(_NPY_SIGNATURE):
        raise ModelFileError(f"{path}: not a {what}: it is a single .npy array, not an .npz archive; {rewrite}")
    if not signature.startswith(ZIP_SIGNATURE):
        # Without this check np.load would try to unpickle the file and report pickled data.
        raise ModelFileError(
            f"{path}: not a {what}: the file is not an .npz archive (it does not start with the zip "
            f"signature); check the path, or {rewrite}"
        )


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
    rewrite = rewrite_hint(what)
    check_npz_start(path, what)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" in str(error):
            raise ModelFileError(
                f"{path}: the {what} contains pickled objects, which are never loaded because they can run code; "
                f"{rewrite}"
            ) from None
        raise ModelFileError(f"{path}: not a valid {what} ({error}); {rewrite}") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise ModelFileError(f"{path}: not a valid {what}: the file is truncated or damaged ({error}); "
                             f"{rewrite}") from None
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ModelFileError(f"{path}: not a valid {what}: missing {', '.join(missing)}; {rewrite}")
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
    if blob.ndim != 1 or blob.dtype != np.uint8 or offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise ValueError("packed strings need a 1-D uint8 array and 1-D integer offsets")
    if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != blob.size or np.any(np.diff(offsets) < 0):
        raise ValueError("the string offsets do not match the packed bytes")
    raw = blob.tobytes()
    bounds = offsets.tolist()
    return [raw[start:stop].decode("utf-8", "surrogatepass") for start, stop in zip(bounds[:-1], bounds[1:])]


def json_to_array(value: Any) -> np.ndarray:
    """Store a JSON-serialisable value as a 0-d unicode array."""
    return np.array(json.dumps(value, sort_keys=True, ensure_ascii=False))


def array_to_json(array: np.ndarray) -> Any:
    return json.loads(str(array[()]))
