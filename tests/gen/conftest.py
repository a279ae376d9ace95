"""The default bitstream builds, made once per test session: the build tests check them and
the gate-level tests simulate their netlists (the very files the bitstreams came from)."""

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from madvq.gen import cli


@dataclass
class DefaultBuild:
    board: str
    folder: Path
    code: int
    out: str
    err: str


@pytest.fixture(scope="session")
def default_build(tmp_path_factory):
    """``default_build(board)``: ``madvq build --board board`` with no core flags, so at
    the board's default serial rate (the ULX3S on the 25F, quicker to place and route than the 85F;
    synthesis is the same), run once."""
    builds = {}

    def build(board):
        if board not in builds:
            folder = tmp_path_factory.mktemp("build") / board
            argv = ["build", "--board", board, "-o", str(folder)]
            if board == "ulx3s":
                argv += ["--device", "25F"]
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = cli.main(argv)
            builds[board] = DefaultBuild(board, folder, code, out.getvalue(), err.getvalue())
        return builds[board]
    return build
