"""Reading and writing the integer arrays the command line works on (``.npy``, ``.csv``).

Every problem becomes a ``ValueError`` whose message names the file and what is wrong, so
that the command line can print it as one line. Values are never wrapped: a uint64 above
the int64 range or a float beyond it reaches the range check as the number it is.
"""

from pathlib import Path

import numpy as np

from madvq.sim.golden import check_whole_numbers
from .files import check_input_file, check_output_file, write_atomically


__all__ = ["load_array", "save_results", "codebook_paths", "save_codebook"]


def _token_text(token):
    # A token is quoted as it was written, cut short: a 5,000-digit number fills no screen.
    return repr(token) if len(token) <= 24 else f"{token[:20]!r}... ({len(token)} characters)"


def _parse_csv(path, what):
    rows = []
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first number.
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        row = []
        for col, token in enumerate(line.split(","), start=1):
            token = token.strip()
            where = f"{what} file '{path}': line {lineno}, column {col}"
            if not token:
                raise ValueError(f"{where} is empty; integers separated by commas are "
                                 f"allowed")
            try:
                row.append(int(token))
                continue
            except ValueError:
                pass
            digits = token.lstrip("+-")
            if digits.isascii() and digits.isdigit():
                # int() refuses integers of more than 4,300 digits (a Python safeguard).
                raise ValueError(f"{where}: {_token_text(token)} has too many digits")
            try:
                value = float(token)
            except ValueError:
                raise ValueError(f"{where}: {_token_text(token)} is not a number; integers "
                                 f"separated by commas are allowed") from None
            if not np.isfinite(value) or value != int(value):
                raise ValueError(f"{where}: {_token_text(token)} is not an integer")
            row.append(int(value))
        if rows and len(row) != len(rows[0]):
            raise ValueError(f"{what} file '{path}': line {lineno} has {len(row)} values, "
                             f"the first row has {len(rows[0])}")
        rows.append(row)
    if not rows:
        raise ValueError(f"{what} file '{path}' holds no rows")
    return np.array(rows, dtype=object)


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _looks_like_text(head):
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in head


def _load_npy(path, what):
    # The first bytes say what the file is, so that a .npz archive or a text file named
    # .npy is reported as what it is rather than as a damaged array.
    with path.open("rb") as f:
        head = f.read(512)
    if not head:
        raise ValueError(f"{what} file '{path}' is empty")
    if head.startswith(_ZIP_MAGIC):
        raise ValueError(f"{what} file '{path}' is a .npz archive (numpy.savez), not a .npy "
                         f"array; write one array with numpy.save")
    if not head.startswith(_NPY_MAGIC):
        if _looks_like_text(head):
            raise ValueError(f"{what} file '{path}' is a text file, not a .npy array; a "
                             f"text file of comma-separated integers must end in .csv")
        raise ValueError(f"{what} file '{path}' is not a .npy array (it does not start "
                         f"with the NumPy header); write it with numpy.save")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(f"{what} file '{path}' holds Python objects, which madvq does "
                             f"not load (pickle); integers are allowed") from None
        problem = exc
    except Exception as exc:     # numpy raises several types for a damaged header
        problem = exc
    raise ValueError(f"{what} file '{path}' is a damaged .npy array "
                     f"({' '.join(str(problem).split())})")


_INT64_MAX = np.iinfo(np.int64).max


def _as_integers(array, path, what):
    """``array`` as int64, or as Python ints in an object array when some value does not
    fit: never wrapped, so that the range check sees and reports the value itself."""
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.int64)
    if kind == "f":
        check_whole_numbers(array, f"{what} file '{path}'", "integers")
        if np.abs(array).max() < 2.0 ** 63:
            return array.astype(np.int64)
        return np.array([int(v) for v in array.ravel()], dtype=object).reshape(array.shape)
    if kind == "u" and array.max() > _INT64_MAX:
        # uint64 above the int64 range (2**64 - 1 would wrap to -1).
        return array.astype(object)
    if kind in "iu":
        return array.astype(np.int64)
    raise ValueError(f"{what} file '{path}' holds {array.dtype} values; integers are allowed")


def load_array(path, what):
    """A 2-D array of integers from ``path`` (``.npy`` or ``.csv``, one row per line).

    Values are returned as an int64 array when they fit, else as Python ints in an object
    array, so that the caller's range check can report the offending value exactly.
    """
    path = Path(path)
    if path.suffix.lower() not in (".npy", ".csv"):
        raise ValueError(f"{what} file must end in .npy or .csv, not '{path}'")
    check_input_file(path, f"{what} file")
    if path.suffix.lower() == ".csv":
        try:
            array = _parse_csv(path, what)
        except UnicodeDecodeError:
            with path.open("rb") as f:
                npy = f.read(len(_NPY_MAGIC)) == _NPY_MAGIC
            raise ValueError(f"{what} file '{path}' is not a text CSV file"
                             + (" (it is a .npy array: name it .npy)" if npy else "")) from None
    else:
        array = _load_npy(path, what)
    if array.ndim != 2:
        raise ValueError(f"{what} file '{path}' must hold a 2-D array (rows x dims), not "
                         f"shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what} file '{path}' holds an empty array of shape {array.shape}")
    if array.dtype == object:
        ints = array.ravel().tolist()
        if all(-(1 << 63) <= v <= _INT64_MAX for v in ints):
            return np.array(ints, dtype=np.int64).reshape(array.shape)
        return array
    return _as_integers(array, path, what)


def save_results(path, results):
    """Write ``results`` as ``.npz`` with integer arrays ``index``, ``distance`` and, when
    present, ``distances``."""
    path = check_output_file(path, "output file", (".npz",))
    arrays = {"index": results.index, "distance": results.distance}
    if results.distances is not None:
        arrays["distances"] = results.distances
    return write_atomically(path, lambda f: np.savez(f, **arrays))


def codebook_paths(path):
    """``(codebook .npy, figures .json)`` of a codebook written to ``path``, both checked
    writable (``ValueError`` otherwise)."""
    path = check_output_file(path, "codebook file", (".npy",))
    return path, check_output_file(path.with_suffix(".json"), "codebook record file")


def save_codebook(path, codebook, record):
    """Write ``codebook`` as ``.npy`` at ``path`` and ``record`` (a JSON-able dict: how it
    was trained) beside it with the suffix ``.json``; return both paths."""
    import json
    npy, record_path = codebook_paths(path)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    write_atomically(npy, lambda f: np.save(f, np.asarray(codebook, dtype=np.int64)))
    write_atomically(record_path, lambda f: f.write(text.encode()))
    return npy, record_path
