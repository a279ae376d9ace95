"""The host side of the board's serial protocol, written for the tests alone.

Its own CRC (bit by bit), its own SLIP escaping and its own reply splitter, so that a test of
the link does not trust the driver's framing (``madvq.hdl.protocol``) to check the gateware.
"""

from dataclasses import dataclass


END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
ERROR = 0xFF
IDENTIFY, WRITE, ACTIVE, CLASSIFY, SELFTEST = 1, 2, 3, 4, 5


def crc16(data):
    """CRC-16/IBM-3740: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def frame(command, tag, payload=b"", *, length=None, flip=0):
    """The unescaped frame; ``length`` overrides the length field, ``flip`` is XORed into
    the check."""
    payload = bytes(payload)
    n = len(payload) if length is None else length
    body = bytes([command & 0xFF, tag & 0xFF]) + n.to_bytes(2, "little") + payload
    return body + (crc16(body) ^ flip).to_bytes(2, "big")


def escape(data):
    out = bytearray()
    for b in data:
        if b == END:
            out += bytes([ESC, ESC_END])
        elif b == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(b)
    return bytes(out)


def slip(data):
    """``data`` as one frame on the line: END, the escaped bytes, END."""
    return bytes([END]) + escape(data) + bytes([END])


@dataclass
class Reply:
    command: int
    tag: int
    payload: bytes
    intact: bool

    @property
    def error(self):
        """``(code, command, count)`` of an error reply."""
        assert self.command == ERROR and len(self.payload) == 4, self
        return (self.payload[0], self.payload[1],
                int.from_bytes(self.payload[2:4], "little"))


class ReplySplitter:
    """Splits the board's bytes into replies (``feed`` returns those completed)."""

    def __init__(self):
        self.buf = None
        self.esc = False
        self.bad = False

    def feed(self, data):
        out = []
        for b in data:
            if b == END:
                if self.buf:
                    out.append(self._finish())
                self.buf, self.esc, self.bad = bytearray(), False, False
            elif self.buf is None:
                continue
            elif self.esc:
                self.esc = False
                if b in (ESC_END, ESC_ESC):
                    self.buf.append(END if b == ESC_END else ESC)
                else:
                    self.bad = True
            elif b == ESC:
                self.esc = True
            else:
                self.buf.append(b)
        return out

    def _finish(self):
        buf = bytes(self.buf)
        intact = (not self.bad and len(buf) >= 6
                  and crc16(buf[:-2]) == int.from_bytes(buf[-2:], "big")
                  and int.from_bytes(buf[2:4], "little") == len(buf) - 6)
        return Reply(buf[0] if buf else 0, buf[1] if len(buf) > 1 else 0, buf[4:-2], intact)


def read_replies(transport, splitter, *, until=None, quiet=None, limit=1.0):
    """Replies from ``transport`` until ``until(replies)`` holds, or the line has been quiet
    for ``quiet`` seconds, or ``limit`` seconds of board time have passed."""
    got = []
    end = transport.now() + limit
    last = transport.now()
    while transport.now() < end:
        if until is not None and until(got):
            break
        step = min(end - transport.now(), quiet if quiet is not None else end - transport.now())
        data = transport.read(step)
        if data:
            last = transport.now()
            got += splitter.feed(data)
        elif quiet is not None and transport.now() - last >= quiet:
            break
    return got
