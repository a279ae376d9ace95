"""The AXI4-Stream + AXI4-Lite face of a core: its parameters, byte layouts and register map.

:class:`AXIConfig` describes a core exported with ``madvq generate --bus axis``: the core
(a :class:`~madvq.hdl.config.CoreConfig`) and the width U of ``tuser``. Everything the
gateware (:mod:`madvq.hdl.axi`), the interface JSON, the generated testbenches and the
README say about the AXI interface comes from here: port widths (:func:`axi_port_table`),
where each field sits in a stream's ``tdata`` (:meth:`AXIConfig.result_fields`) and the
AXI4-Lite registers (:func:`register_map`).

Like :mod:`madvq.hdl.config`, this module imports nothing from Amaranth.
"""

from dataclasses import dataclass

from .config import CoreConfig


__all__ = ["AXIConfig", "axi_port_table", "register_map", "register_values", "MAX_USER_WIDTH",
           "MAGIC", "REGISTER_MAP_VERSION", "AXIL_ADDR_WIDTH", "FLAG_BITS", "STATUS_BITS",
           "BUSES"]


#: The interfaces ``madvq generate --bus`` offers.
BUSES = ("native", "axis")

#: ``tuser`` bits that travel with a vector; AXI4-Stream puts no bound on it, this one keeps
#: the side queue (U + 1 bits per result in flight) small next to the core.
MAX_USER_WIDTH = 256

#: Register 0: "MADV" in ASCII, most significant byte first.
MAGIC = 0x4D414456
#: Register 1: the layout of this register map; changed whenever a register moves or changes
#: meaning.
REGISTER_MAP_VERSION = 1
#: Byte addresses of the AXI4-Lite slave: 64 words, of which the map uses the first few.
AXIL_ADDR_WIDTH = 8

#: Bits of the FLAGS register.
FLAG_BITS = {"signed": 0, "distances": 1, "ram": 2, "ecp5": 3}
#: Bits of the STATUS register (``in_flight`` is the field [31:16]).
STATUS_BITS = {"busy": 0, "result_valid": 1, "vector_ready": 2, "codebook_ready": 3}


def _bytes(bits):
    return -(-bits // 8)


@dataclass(frozen=True)
class AXIConfig:
    """A core with AXI4-Stream data ports and an AXI4-Lite control port.

    Parameters
    ----------
    core : CoreConfig
        The core inside.
    user_width : int
        Bits of ``tuser`` on the vector and result streams (0..256; 0: no ``tuser`` port).

    ``tdata`` of every stream is a whole number of bytes: the vector and template lanes sit
    at bits ``[i*W +: W]``; a result holds the winner's index in the low
    ``index_bytes`` bytes, its distance from the next byte boundary in ``distance_bytes``
    bytes and, when the core reports all distances, distance j in the ``distance_bytes``
    bytes after that (see :meth:`result_fields`). Padding bits are ignored on the way in
    and zero on the way out.
    """

    core: CoreConfig
    user_width: int = 0

    def __post_init__(self):
        if not isinstance(self.core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {self.core!r}")
        if not isinstance(self.user_width, int) or isinstance(self.user_width, bool):
            raise TypeError(f"user width must be an integer from 0 to {MAX_USER_WIDTH}, "
                            f"not {self.user_width!r}")
        if not 0 <= self.user_width <= MAX_USER_WIDTH:
            raise ValueError(f"user width must be an integer from 0 to {MAX_USER_WIDTH}, "
                             f"not {self.user_width!r}")

    @property
    def bus(self):
        return "axis"

    @property
    def default_name(self):
        """Module name used when the user gives none, e.g. ``madvq_16x16x8u_p16_axis``."""
        return self.core.default_name + "_axis" + (f"_u{self.user_width}"
                                                   if self.user_width else "")

    def to_dict(self):
        return {"bus": "axis", "user_width": self.user_width}

    # -- byte layout --

    @property
    def vector_bytes(self):
        """Bytes of ``s_axis_vector_tdata`` and ``s_axis_codebook_tdata``: N*W bits, padded."""
        return _bytes(self.core.dims * self.core.width)

    @property
    def index_bytes(self):
        return _bytes(self.core.index_width)

    @property
    def distance_bytes(self):
        return _bytes(self.core.distance_width)

    @property
    def result_bytes(self):
        """Bytes of ``m_axis_result_tdata``."""
        count = 1 + (self.core.templates if self.core.distances else 0)
        return self.index_bytes + count * self.distance_bytes

    def result_fields(self):
        """Where the fields of a result sit in ``m_axis_result_tdata``: dicts with ``name``,
        ``lsb`` (bit offset), ``width`` (bits used) and, for ``distances``, ``count`` and
        ``stride`` (bits from one template's distance to the next)."""
        cfg = self.core
        fields = [
            {"name": "index", "lsb": 0, "width": cfg.index_width},
            {"name": "distance", "lsb": 8 * self.index_bytes, "width": cfg.distance_width},
        ]
        if cfg.distances:
            fields.append({"name": "distances",
                           "lsb": 8 * (self.index_bytes + self.distance_bytes),
                           "width": cfg.distance_width, "count": cfg.templates,
                           "stride": 8 * self.distance_bytes})
        return fields

    def byte_layout(self):
        """The ``tdata`` layout of each stream, for the interface JSON."""
        cfg = self.core
        lanes = {"lanes": cfg.dims, "lane_width": cfg.width,
                 "signed": cfg.signed, "lane_bits": "lane i at bits [i*width +: width]"}
        return {
            "vector": {"tdata_bytes": self.vector_bytes, **lanes,
                       "tlast": "travels with the vector to its result",
                       "tuser_width": self.user_width},
            "codebook": {"tdata_bytes": self.vector_bytes, **lanes,
                         "tdest": "template index, 0..M-1 (a write to an index >= M is "
                                  "ignored)"},
            "result": {"tdata_bytes": self.result_bytes, "fields": self.result_fields(),
                       "tlast": "the tlast of the result's vector",
                       "tuser_width": self.user_width},
        }

    # -- timing --

    @property
    def latency_cycles(self):
        """Cycles from a vector's transfer to its result's ``tvalid``: the core's and one
        more, the result's register slice."""
        return self.core.latency_cycles + 1

    @property
    def cycles_per_vector(self):
        return self.core.cycles_per_vector

    #: Results the output register slice holds.
    SLICE = 2

    @property
    def results_held(self):
        """Results the top holds while its result stream is blocked (and so vectors it
        takes meanwhile): the core's result queue's and the slice's."""
        return self.core.result_queue_depth + self.SLICE


def axi_port_table(config):
    """Every port of the AXI top, in order: dicts with ``name``, ``direction``, ``width``,
    ``stream`` (the interface it belongs to: ``s_axis_vector``, ``m_axis_result``,
    ``s_axis_codebook``, ``s_axil``; ``None`` for the clock and reset) and ``role`` (the
    AXI signal: ``tdata``, ``awvalid``, ...; ``clock``, ``resetn`` (synchronous, active
    low))."""
    cfg = config.core
    U = config.user_width
    ports = [("aclk", "input", 1, None, "clock"), ("aresetn", "input", 1, None, "resetn")]
    vector = [("tdata", "input", 8 * config.vector_bytes), ("tvalid", "input", 1),
              ("tready", "output", 1), ("tlast", "input", 1)]
    if U:
        vector.append(("tuser", "input", U))
    ports += [(f"s_axis_vector_{n}", d, w, "s_axis_vector", n) for n, d, w in vector]
    result = [("tdata", "output", 8 * config.result_bytes), ("tvalid", "output", 1),
              ("tready", "input", 1), ("tlast", "output", 1)]
    if U:
        result.append(("tuser", "output", U))
    ports += [(f"m_axis_result_{n}", d, w, "m_axis_result", n) for n, d, w in result]
    codebook = [("tdata", "input", 8 * config.vector_bytes),
                ("tdest", "input", cfg.index_width), ("tvalid", "input", 1),
                ("tready", "output", 1)]
    ports += [(f"s_axis_codebook_{n}", d, w, "s_axis_codebook", n) for n, d, w in codebook]
    A = AXIL_ADDR_WIDTH
    lite = [("awaddr", "input", A), ("awprot", "input", 3), ("awvalid", "input", 1),
            ("awready", "output", 1),
            ("wdata", "input", 32), ("wstrb", "input", 4), ("wvalid", "input", 1),
            ("wready", "output", 1),
            ("bresp", "output", 2), ("bvalid", "output", 1), ("bready", "input", 1),
            ("araddr", "input", A), ("arprot", "input", 3), ("arvalid", "input", 1),
            ("arready", "output", 1),
            ("rdata", "output", 32), ("rresp", "output", 2), ("rvalid", "output", 1),
            ("rready", "input", 1)]
    ports += [(f"s_axil_{n}", d, w, "s_axil", n) for n, d, w in lite]
    return [dict(name=n, direction=d, width=w, stream=st, role=r) for n, d, w, st, r in ports]


# (name, access, meaning); the offset is 4 x the position. A register whose value is fixed
# for the core has it in register_values().
_REGISTERS = [
    ("MAGIC", "r", f"0x{MAGIC:08X} (\"MADV\"): a madvq core is here"),
    ("VERSION", "r", f"{REGISTER_MAP_VERSION}: the layout of this register map"),
    ("DIMS", "r", "vector length N"),
    ("TEMPLATES", "r", "stored templates M"),
    ("WIDTH", "r", "bits per value W"),
    ("FLAGS", "r", "bit 0 signed values, bit 1 results carry all distances, bit 2 codebook "
                   "in block RAM, bit 3 ECP5 carry-cell arithmetic"),
    ("TEMPLATES_PER_CYCLE", "r", "distance units P"),
    ("LATENCY", "r", "cycles from a vector's transfer to its result's tvalid"),
    ("CYCLES_PER_VECTOR", "r", "ceil(M/P): clock cycles between vectors at full rate"),
    ("USER_WIDTH", "r", "bits of tuser U (0: no tuser)"),
    ("ACTIVE", "rw", "active templates m (1..M, M after reset): templates 0..m-1 compete; "
                     "a write outside 1..M is ignored (read back to check). A vector "
                     "transferred after the write response sees the new m"),
    ("VECTORS_IN", "r", "vectors transferred since reset (wraps at 2^32)"),
    ("RESULTS_OUT", "r", "results transferred since reset (wraps at 2^32)"),
    ("STATUS", "r", "bit 0 busy (a vector's result not yet transferred), bit 1 "
                    "m_axis_result_tvalid, bit 2 s_axis_vector_tready, bit 3 "
                    "s_axis_codebook_tready, bits 31:16 results in flight "
                    "(VECTORS_IN - RESULTS_OUT); the count and bit 0 as they were two cycles "
                    "before the read, the other bits one"),
]


def register_values(config):
    """``{register name: value}`` of the registers that never change for ``config``."""
    cfg = config.core
    flags = (cfg.signed << FLAG_BITS["signed"] | cfg.distances << FLAG_BITS["distances"]
             | (cfg.codebook_storage == "ram") << FLAG_BITS["ram"]
             | (cfg.arithmetic == "ecp5") << FLAG_BITS["ecp5"])
    return {
        "MAGIC": MAGIC, "VERSION": REGISTER_MAP_VERSION, "DIMS": cfg.dims,
        "TEMPLATES": cfg.templates, "WIDTH": cfg.width, "FLAGS": flags,
        "TEMPLATES_PER_CYCLE": cfg.templates_per_cycle, "LATENCY": config.latency_cycles,
        "CYCLES_PER_VECTOR": cfg.cycles_per_vector, "USER_WIDTH": config.user_width,
    }


def register_map(config):
    """The AXI4-Lite registers of ``config``: dicts with ``offset`` (byte address),
    ``name``, ``access`` (``r`` or ``rw``), ``meaning`` and, for constants, ``value``.

    Every register is 32 bits wide; address bits [1:0] are ignored. A read or write of an
    address beyond the last register, and a write to a read-only register, get SLVERR (and
    change nothing; a read returns 0); everything else OKAY. ``ACTIVE`` takes the bytes
    whose ``wstrb`` bit is set."""
    values = register_values(config)
    out = []
    for k, (name, access, meaning) in enumerate(_REGISTERS):
        entry = {"offset": 4 * k, "name": name, "access": access, "meaning": meaning}
        if name in values:
            entry["value"] = values[name]
        out.append(entry)
    return out
