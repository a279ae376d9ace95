"""The files and folders a command reads and writes, checked before any work.

A command checks every path it was given before it elaborates, simulates or builds
anything: an input that is missing, a folder, or not a regular file, and an output that sits
under a regular file or is itself a folder, are refused with a ``ValueError`` naming the
path and what is wrong, so that the command line prints one line and has written nothing.
Outputs are then written whole or not at all (:func:`write_atomically`).
"""

import os
from pathlib import Path

from madvq.hdl.tools import write_atomically


__all__ = ["check_input_file", "check_output_file", "check_output_folder",
           "write_atomically"]


def check_input_file(path, what):
    """``path`` as a ``Path`` when it names a regular file this process can read."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} '{path}' is a folder; give a file")
    if not path.exists():
        raise ValueError(f"{what} '{path}' not found")
    if not path.is_file():
        # A FIFO or a device would block or never end: only regular files are read.
        raise ValueError(f"{what} '{path}' is not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{what} '{path}' cannot be read (no permission)")
    return path


def _check_parents(path, what):
    """The nearest existing folder above ``path`` must be a writable folder: then the
    missing ones can be made."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot write {what} '{path}': '{parent}' is a file, not "
                                 f"a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"cannot write {what} '{path}': no permission to write in "
                                 f"'{parent}'")
            return


def check_output_file(path, what, suffixes=None):
    """``path`` as a ``Path`` when a file can be written there (its folders are made when
    it is written); with ``suffixes``, it must end in one of them."""
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ValueError(f"{what} must end in {' or '.join(suffixes)}, not '{path}'")
    if path.is_dir():
        raise ValueError(f"cannot write {what} '{path}': it is a folder")
    if path.exists() and not path.is_file():
        raise ValueError(f"cannot write {what} '{path}': it is not a regular file")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {what} '{path}': no permission")
    _check_parents(path, what)
    return path


def check_output_folder(path, what):
    """``path`` as a ``Path`` when it is a folder, or can be made one."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} '{path}' is a file, not a folder")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write in {what} '{path}': no permission")
    _check_parents(path, what)
    return path
