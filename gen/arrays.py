"""Reading and writing the integer arrays the command line works on (``.npy``, ``.csv``).

Every problem becomes a ``ValueError`` whose message names the file and what is wrong, so
that the command line can print it as one line.
"""

from pathlib import Path

import numpy as np


__all__ = ["load_array", "save_results"]


def _parse_csv(path, what):
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        row = []
        for col, token in enumerate(line.split(","), start=1):
            token = token.strip()
            try:
                row.append(int(token))
                continue
            except ValueError:
                pass
            try:
                value = float(token)
            except ValueError:
                raise ValueError(f"{what} file '{path}': line {lineno}, column {col}: "
                                 f"{token!r} is not a number; integers are allowed") from None
            if not np.isfinite(value) or value != int(value):
                raise ValueError(f"{what} file '{path}': line {lineno}, column {col}: "
                                 f"{token!r} is not an integer")
            row.append(int(value))
        if rows and len(row) != len(rows[0]):
            raise ValueError(f"{what} file '{path}': line {lineno} has {len(row)} values, "
                             f"the first row has {len(rows[0])}")
        rows.append(row)
    if not rows:
        raise ValueError(f"{what} file '{path}' holds no rows")
    return np.array(rows, dtype=object)


def load_array(path, what):
    """A 2-D array of integers from ``path`` (``.npy`` or ``.csv``, one row per line).

    Values are returned as an int64 array when they fit, else as Python ints in an object
    array, so that the caller's range check can report the offending value exactly.
    """
    path = Path(path)
    if path.suffix.lower() not in (".npy", ".csv"):
        raise ValueError(f"{what} file must end in .npy or .csv, not '{path}'")
    if not path.is_file():
        raise ValueError(f"{what} file '{path}' not found")
    if path.suffix.lower() == ".csv":
        try:
            array = _parse_csv(path, what)
        except UnicodeDecodeError:
            raise ValueError(f"{what} file '{path}' is not a text CSV file") from None
    else:
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:     # numpy raises several types for a damaged file
            raise ValueError(f"{what} file '{path}' is not a readable .npy array "
                             f"({exc})") from None
        if array.dtype.kind == "f":
            if not np.isfinite(array).all():
                raise ValueError(f"{what} file '{path}' contains NaN or infinite values; "
                                 f"integers are allowed")
            if (array != np.round(array)).any():
                raise ValueError(f"{what} file '{path}' contains non-integer values; "
                                 f"integers are allowed")
        elif array.dtype.kind not in "iub":
            raise ValueError(f"{what} file '{path}' holds {array.dtype} values; integers "
                             f"are allowed")
    if array.ndim != 2:
        raise ValueError(f"{what} file '{path}' must hold a 2-D array (rows x dims), not "
                         f"shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what} file '{path}' holds an empty array of shape {array.shape}")
    if array.dtype == object or array.dtype.kind == "f":
        ints = [int(v) for v in array.ravel()]
        if all(-(1 << 63) <= v < (1 << 63) for v in ints):
            return np.array(ints, dtype=np.int64).reshape(array.shape)
        return np.array(ints, dtype=object).reshape(array.shape)
    return array.astype(np.int64)


def save_results(path, results):
    """Write ``results`` as ``.npz`` with integer arrays ``index``, ``distance`` and, when
    present, ``distances``."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"output file must end in .npz, not '{path}'")
    arrays = {"index": results.index, "distance": results.distance}
    if results.distances is not None:
        arrays["distances"] = results.distances
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path
