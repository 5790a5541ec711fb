"""Crash-safe files: atomic writes, plain-array ``.npz`` files, trainer checkpoints.

Every file is written under a temporary name in its folder and moved into place with
``os.replace``, so a reader sees the old file or the new one, never half of one. The
temporary file is created with mode 0666 and the process's umask applies, as for any
``open()``: nothing process-wide is read or changed to get there. Arrays are stored
with ``allow_pickle=False`` and read back the same way.
"""

from __future__ import annotations

import io
import math
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np

from esmaml_core.errors import CheckpointError
from esmaml_core.trainer import TrainerState

TEMP_SUFFIX = ".tmp"
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz of plain arrays, written atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz (no pickles); CheckpointError if it does not read back whole.

    Each array's header is checked against the bytes stored for it before anything is
    allocated, so a crafted header that declares a huge shape is refused, not obeyed.
    """
    try:
        check_array_sizes(path)
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    # NotImplementedError: zipfile's answer to a damaged header naming an unknown compression method
    except (OSError, ValueError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"checkpoint {path} is unreadable ({error}); it may be truncated or corrupted") from error


def check_array_sizes(path: Path) -> None:
    """ValueError if an array of the .npz declares more data than its member holds."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            with archive.open(member) as handle:
                read_header = HEADER_READERS.get(np.lib.format.read_magic(handle))
                if read_header is None:
                    raise ValueError(f"{member.filename} is not in a .npy format version this library writes")
                shape, _, dtype = read_header(handle)
                declared = math.prod(shape) * dtype.itemsize
                if declared > member.file_size:
                    raise ValueError(f"{member.filename} declares {declared:,} bytes but holds {member.file_size:,}")


def load_checkpoint(path: Path) -> TrainerState:
    """The trainer state saved in ``path``; CheckpointError if it is unreadable or incomplete."""
    arrays = load_arrays(path)
    try:
        return TrainerState.from_arrays(arrays)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path} is missing or has malformed fields ({error})") from error
