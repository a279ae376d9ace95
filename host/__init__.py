"""madvq on the host: the driver that talks to a board over a serial line (or to the
simulated board), independent of how the bytes travel."""

from .driver import Board, BoardError, LinkError, LinkTimeout, ErrorReply, SelfTestResult
from .transport import Transport, SerialTransport, open_transport

__all__ = ["Board", "BoardError", "LinkError", "LinkTimeout", "ErrorReply", "SelfTestResult",
           "Transport", "SerialTransport", "open_transport"]
