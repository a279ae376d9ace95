"""A time window of a VCD waveform, cut while it is written.

:class:`VCDWindow` is a text file object to hand to a VCD writer (Amaranth's ``write_vcd``):
it passes the header through, keeps track of every signal's value, and writes only the
changes from ``start`` up to (not including) ``stop``, opened by a ``$dumpvars`` block with
the value of every signal at ``start``. A long simulation then writes a waveform of the cycles
of interest only, in the same form as one dumped over that window by the simulator itself.
Times are given in femtoseconds and converted with the file's own ``$timescale``.
"""


__all__ = ["VCDWindow"]


_FS = {"s": 10**15, "ms": 10**12, "us": 10**9, "ns": 10**6, "ps": 10**3, "fs": 1}


def _timescale_fs(text):
    """Femtoseconds per tick of a ``$timescale`` body such as ``1 fs`` or ``10ps``."""
    text = text.replace(" ", "")
    digits = text.rstrip("munpfs")
    unit = text[len(digits):]
    if digits not in ("1", "10", "100") or unit not in _FS:
        raise ValueError(f"unsupported VCD timescale {text!r}")
    return int(digits) * _FS[unit]


class VCDWindow:
    """Write the part of a VCD from ``start_fs`` to ``stop_fs`` (None: to the end) to
    ``out``, a text file that the caller opens and closes. ``finished`` becomes true once
    the writer has moved past the window."""

    def __init__(self, out, start_fs, stop_fs=None):
        self._out = out
        self._start_fs = start_fs
        self._stop_fs = stop_fs
        self._pending = ""
        self._in_header = True
        self._header = []
        self._tick_fs = None
        self._start = self._stop = None
        self._values = {}            # identifier -> last value line
        self._opened = False
        self.finished = False

    # -- file protocol --

    def write(self, text):
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._line(line)
        return len(text)

    def flush(self):
        pass

    def close(self):
        if self._pending:
            self._line(self._pending)
            self._pending = ""

    # -- parsing --

    def _line(self, line):
        if self._in_header:
            self._header.append(line)
            if "$timescale" in line:
                body = line.split("$timescale", 1)[1].split("$end", 1)[0]
                self._tick_fs = _timescale_fs(body)
            if "$enddefinitions" in line:
                self._in_header = False
                tick = self._tick_fs or 1
                self._start = -(-self._start_fs // tick)
                self._stop = None if self._stop_fs is None else -(-self._stop_fs // tick)
                self._out.write("\n".join(self._header) + "\n")
            return
        if self.finished:
            return
        line = line.strip()
        if not line:
            return
        if line[0] == "#":
            time = int(line[1:])
            if not self._opened and time > self._start:
                self._open()
            if self._stop is not None and time >= self._stop:
                self.finished = True
                return
            if self._opened:
                self._out.write(line + "\n")
            return
        if line[0] == "$":           # $dumpvars / $end / $comment ... around value lines
            return
        if line[0] in "bBrRsS":
            ident = line.rsplit(" ", 1)[1]
        else:
            ident = line[1:]
        self._values[ident] = line
        if self._opened:
            self._out.write(line + "\n")

    def _open(self):
        self._opened = True
        self._out.write(f"#{self._start}\n$dumpvars\n")
        for line in self._values.values():
            self._out.write(line + "\n")
        self._out.write("$end\n")
