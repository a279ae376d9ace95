"""Running the ``madvq`` command in-process, for every test of the command line."""

from madvq.gen import cli


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``madvq *argv``. A usage error ends argparse
    with ``SystemExit``: its status is returned like any other, so that every bad command
    line is checked the same way."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err, command):
    """The one line of ``err``, which must be madvq's error line for ``command`` (no
    traceback, nothing else)."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"madvq {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]
