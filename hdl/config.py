"""The one description of a madvq core.

:class:`CoreConfig` holds the user-facing parameters (vector length, number of templates,
value width, signedness, templates compared per clock, whether all distances are reported,
codebook storage) and derives everything the other layers need from them: port widths,
value ranges, pipeline depths, latency and cycles per vector. The gateware, the golden
model, the simulators and the generators all take this object; none of them re-derives
a width or a latency on its own.

The module imports nothing from Amaranth so that the golden model and the command line can
use it cheaply.
"""

from dataclasses import dataclass


__all__ = ["CoreConfig", "Target", "ceil_log2", "check_config", "MAX_DIMS", "MAX_TEMPLATES",
           "MAX_WIDTH", "MAX_DISTANCE_CELLS", "MAX_CODEBOOK_VALUES", "MAX_TOP_K"]


def ceil_log2(n):
    """Smallest ``k`` with ``2**k >= n`` (0 for ``n <= 1``)."""
    return (int(n) - 1).bit_length() if n > 1 else 0


# Upper limits of a core, checked before anything is built or simulated. They keep every
# configuration one that madvq can elaborate, simulate and check in minutes on a laptop and
# that the largest FPGAs could hold; beyond them a run would only end in an exhausted memory
# (an Amaranth elaboration of 4,096 distance cells took 61 s and 0.44 GB, and grows linearly).
#: Vector length N: 32x32 image blocks; a distance stays within W + 10 <= 42 bits, exact in
#: the golden model's int64, and N fits the 16-bit fields of the board protocol.
MAX_DIMS = 1024
#: Stored templates M: a 12-bit winner index, the largest codebooks vector quantizers use.
MAX_TEMPLATES = 4096
#: Bits per value W.
MAX_WIDTH = 32
#: Distance cells P x N (one absolute difference each): 64 times the 16x16 analog original,
#: about 770,000 LUT4 at W = 8 (the ULX3S's 16x16 generic core: 47 per cell, link included),
#: the size of the largest FPGAs; by the figures above, about 4 minutes and 2 GB of
#: elaboration.
MAX_DISTANCE_CELLS = 16_384
#: Codebook values M x N: 2 Mbit at W = 8, over half the block RAM of the largest ECP5
#: (85F, 3.7 Mbit); in registers, about 3.5 minutes of elaboration (16,384 values: 12.6 s).
MAX_CODEBOOK_VALUES = 262_144
#: Nearest templates per result K (``top_k``): at most M, and at most 16. The running merge
#: of P < M cores compares every pair of a 2K-entry list in one clock cycle (K^2 comparators
#: whose outputs all meet in one cycle's logic), and every level of the selection tree costs
#: K^2 comparators per node: at K = 16 that is already 256 comparators per node and a result
#: of 16 (index, distance) pairs (over 300 bits for the 16x16x8 core). k-nearest-neighbour
#: votes use small K (3 to 10 in the literature); a larger K would cost more than the distance
#: array it ranks.
MAX_TOP_K = 16


def _check_int(name, value, low, high, high_text=None):
    # bool is an int subclass, but "templates=True" is always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer from {low} to {high_text or high}, "
                        f"not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high_text or high}, "
                         f"not {value!r}")


STORAGES = ("auto", "registers", "ram")
ARITHMETICS = ("generic", "ecp5")


@dataclass(frozen=True)
class CoreConfig:
    """Parameters of one MAD vector-quantizer core, and what follows from them.

    Parameters
    ----------
    dims : int
        Vector length N (1..1024).
    templates : int
        Number of stored templates M (1..4096).
    width : int
        Bits per vector component W (1..32).
    signed : bool
        Components are two's complement (-2**(W-1)..2**(W-1)-1) rather than 0..2**W-1.
    templates_per_cycle : int or None
        Distance units P (1..M); ``None`` means M, one vector per clock. With P < M the
        units are time-multiplexed over ``ceil(M/P)`` rounds per vector.
    distances : bool
        Results also carry all M distances.
    storage : str
        Where the codebook lives: ``"registers"`` (flip-flops; with P < M each distance unit
        reads its templates from a rotating ring, so no read multiplexer is needed) or
        ``"ram"`` (one synchronous-read memory per distance unit, for block RAM; needs P < M).
        ``"auto"`` chooses registers.
    ram_lanes : int or None
        With ``"ram"`` storage, how many distance units (the first ones) read their templates
        from a memory, 1..P (default P); the others use registers. Block RAM is often too
        narrow for every unit.
    arithmetic : str
        How the distance units add: ``"generic"`` (plain HDL arithmetic, any device or ASIC
        flow) or ``"ecp5"`` (a sign-tracking adder tree laid out in ECP5 ``CCU2C`` carry
        cells, about half the logic of the generic tree on that family; elsewhere, and in
        simulation, the cells are replaced by an exact model of them).

    Besides, a core has at most 16,384 distance cells (P x N) and a codebook of at most
    262,144 values (M x N); see :data:`MAX_DISTANCE_CELLS` and :data:`MAX_CODEBOOK_VALUES`.
    top_k : int
        Nearest templates per result K (1..min(M, 16), default 1): each result carries the
        K nearest active templates, ascending by distance, ties to the lower index. Slots
        past the active count m (when m < K) hold the "none" marker: index and distance all
        ones. K = 1 builds exactly the single-winner core.

    A parameter of the wrong type raises ``TypeError``, one out of range ``ValueError``,
    naming the parameter, what is allowed and the value given.
    """

    dims: int = 16
    templates: int = 16
    width: int = 8
    signed: bool = False
    templates_per_cycle: int = None
    distances: bool = False
    storage: str = "registers"
    arithmetic: str = "generic"
    ram_lanes: int = None
    top_k: int = 1

    def __post_init__(self):
        _check_int("dims", self.dims, 1, MAX_DIMS)
        _check_int("templates", self.templates, 1, MAX_TEMPLATES)
        _check_int("width", self.width, 1, MAX_WIDTH)
        if not isinstance(self.signed, bool):
            raise TypeError(f"signed must be True or False, not {self.signed!r}")
        if not isinstance(self.distances, bool):
            raise TypeError(f"distances must be True or False, not {self.distances!r}")
        if self.templates_per_cycle is None:
            object.__setattr__(self, "templates_per_cycle", self.templates)
        _check_int("templates_per_cycle", self.templates_per_cycle, 1, self.templates,
                   f"templates ({self.templates})")
        cells = self.templates_per_cycle * self.dims
        if cells > MAX_DISTANCE_CELLS:
            raise ValueError(f"templates_per_cycle x dims (distance cells) must be at most "
                             f"{MAX_DISTANCE_CELLS:,}, not {self.templates_per_cycle} x "
                             f"{self.dims} = {cells:,}; use fewer templates_per_cycle")
        values = self.templates * self.dims
        if values > MAX_CODEBOOK_VALUES:
            raise ValueError(f"templates x dims (codebook values) must be at most "
                             f"{MAX_CODEBOOK_VALUES:,}, not {self.templates} x {self.dims} "
                             f"= {values:,}")
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(map(repr, STORAGES))}, "
                             f"not {self.storage!r}")
        if self.storage == "auto":
            # Stored as what it chooses, so that equal cores compare equal and
            # ``CoreConfig.from_dict(c.to_dict()) == c``.
            object.__setattr__(self, "storage", "registers")
        if self.arithmetic not in ARITHMETICS:
            raise ValueError(f"arithmetic must be one of {', '.join(map(repr, ARITHMETICS))}, "
                             f"not {self.arithmetic!r}")
        if self.storage == "ram" and self.rounds == 1:
            raise ValueError("storage 'ram' needs templates_per_cycle < templates "
                             "(a fully parallel core reads every template at once), "
                             f"not templates_per_cycle={self.templates_per_cycle} with "
                             f"templates={self.templates}")
        if self.storage == "ram":
            if self.ram_lanes is None:
                object.__setattr__(self, "ram_lanes", self.templates_per_cycle)
            _check_int("ram_lanes", self.ram_lanes, 1, self.templates_per_cycle,
                       f"templates_per_cycle ({self.templates_per_cycle})")
        elif self.ram_lanes is not None:
            raise ValueError(f"ram_lanes needs storage 'ram', not ram_lanes={self.ram_lanes!r} "
                             f"with storage {self.storage!r}")
        top = min(self.templates, MAX_TOP_K)
        _check_int("top_k", self.top_k, 1, top,
                   f"{top} (the smaller of templates ({self.templates}) and {MAX_TOP_K})")

    # -- parameters as a plain dictionary (interface JSON, caches, reports) --

    def to_dict(self):
        # ``top_k`` only when it is not 1: a single-winner core's parameters (which the
        # exported Verilog quotes) stay as they were before top-K existed.
        extra = {"top_k": self.top_k} if self.top_k != 1 else {}
        return {
            "dims": self.dims,
            "templates": self.templates,
            "width": self.width,
            "signed": self.signed,
            "templates_per_cycle": self.templates_per_cycle,
            "distances": self.distances,
            "storage": self.codebook_storage,
            "arithmetic": self.arithmetic,
            "ram_lanes": self.ram_lanes,
            **extra,
        }

    @classmethod
    def from_dict(cls, d):
        return cls(**d)

    @property
    def default_name(self):
        """Module name used when the user gives none, e.g. ``madvq_16x16x8u_p16``."""
        sign = "s" if self.signed else "u"
        name = f"madvq_{self.dims}x{self.templates}x{self.width}{sign}_p{self.templates_per_cycle}"
        if self.distances:
            name += "_all"
        if self.codebook_storage == "ram":
            name += "_ram" if self.ram_lanes == self.templates_per_cycle \
                else f"_ram{self.ram_lanes}"
        if self.arithmetic != "generic":
            name += f"_{self.arithmetic}"
        if self.top_k != 1:
            name += f"_top{self.top_k}"
        return name

    # -- values --

    @property
    def value_min(self):
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def value_max(self):
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def value_range_text(self):
        kind = "signed" if self.signed else "unsigned"
        return f"{self.value_min}..{self.value_max} ({kind} {self.width}-bit)"

    # -- widths --

    @property
    def distance_width(self):
        """Bits of one distance: W + ceil(log2 N); the sum never saturates."""
        return self.width + ceil_log2(self.dims)

    @property
    def distance_max(self):
        """Largest distance a vector can have from a template: N * (2**W - 1)."""
        return self.dims * ((1 << self.width) - 1)

    @property
    def index_width(self):
        """Bits of a template index (at least 1, so that M = 1 still has a port)."""
        return max(1, ceil_log2(self.templates))

    @property
    def none_index(self):
        """The index of an empty result slot (top_k > 1 with fewer than K active
        templates): all ones, never an active template's index there."""
        return (1 << self.index_width) - 1

    @property
    def none_distance(self):
        """The distance of an empty result slot: all ones."""
        return (1 << self.distance_width) - 1

    @property
    def active_width(self):
        """Bits of the active-template count, which ranges over 1..M."""
        return max(1, self.templates.bit_length())

    @property
    def lane_width(self):
        """Bits of a distance-unit number inside one round (at least 1)."""
        return max(1, ceil_log2(self.templates_per_cycle))

    @property
    def codebook_storage(self):
        """Where the codebook lives: ``"registers"`` or ``"ram"`` (the same as ``storage``,
        which ``"auto"`` never stays)."""
        return self.storage

    # -- timing --

    @property
    def rounds(self):
        """Clock cycles a vector spends in the distance units: ceil(M / P)."""
        return -(-self.templates // self.templates_per_cycle)

    @property
    def cycles_per_vector(self):
        """Clock cycles between vectors at full throughput."""
        return self.rounds

    @property
    def tree_levels(self):
        """Registered adder-tree levels in a distance unit."""
        return ceil_log2(self.dims)

    @property
    def distance_latency(self):
        """Cycles from a vector and template entering a distance unit to its distance:
        an absolute-difference stage, the adder tree and a last stage (a final carry, or
        with ``ecp5`` arithmetic a final negation)."""
        return 2 + self.tree_levels

    @property
    def argmin_levels(self):
        """Registered comparison levels of the P-way winner-take-all tree."""
        return ceil_log2(self.templates_per_cycle)

    @property
    def winner_latency(self):
        """Cycles of the winner-take-all tree: one per level; with ``ecp5`` arithmetic two
        per level (a registered comparison, then the selection) after a register stage
        that brings the candidates together. With top_k > 1, the K-nearest tree
        (:class:`~madvq.hdl.topk.TopKTree`): two per level (registered comparisons, then the
        registered rank selection), whatever the arithmetic."""
        if self.top_k > 1:
            return 2 * self.argmin_levels
        if self.arithmetic == "ecp5" and self.argmin_levels:
            return 1 + 2 * self.argmin_levels
        return self.argmin_levels

    @property
    def accumulate_latency(self):
        """The running minimum (top_k > 1: the running K-list merge) across rounds (only
        when P < M)."""
        return 1 if self.rounds > 1 else 0

    @property
    def result_queue_latency(self):
        """Cycles from a result entering the result queue to its being offered: 2 for a
        queue in block RAM (synchronous read), 1 for the ``ecp5`` arithmetic's queue in
        distributed RAM (asynchronous read)."""
        return 1 if self.arithmetic == "ecp5" else 2

    @property
    def input_latency(self):
        """Cycles from a vector's transfer to its distance units seeing it: the input
        register (1); with one vector per clock (P = M) a staging register before it (2),
        from which each distance unit gets its own copy of the input register."""
        return 2 if self.rounds == 1 else 1

    @property
    def latency_cycles(self):
        """Cycles from the vector transfer to its result being valid, with the output
        ready and no configuration write pending: input registers, distance units,
        winner-take-all tree, the remaining rounds and the running minimum (P < M),
        and the result queue."""
        extra_rounds = self.rounds - 1 if self.rounds > 1 else 0
        return (self.input_latency + self.distance_latency + self.winner_latency + extra_rounds
                + self.accumulate_latency + self.result_queue_latency)

    @property
    def result_queue_depth(self):
        """Results the core can hold: enough credit to cover the whole pipeline (and the
        cycle a delivered result takes to return its credit), so that vectors flow at full
        rate while the output is ready, and nothing is ever dropped when it is not (vectors
        are only accepted while a result slot is free)."""
        return -(-(self.latency_cycles + 2) // self.rounds) + 1


class Target:
    """What madvq's gateware reads from the Amaranth platform it is elaborated for: the FPGA
    ``family`` (``"ecp5"``, ``"ice40"``, ...) and the ``toolchain`` (``"Trellis"`` for Yosys
    and nextpnr on ECP5). Amaranth's own vendor platforms carry both; this stands in for one
    where only they matter (out-of-context builds, Verilog export). Elaborated without a
    platform (simulation), device cells are replaced by exact models of them."""

    def __init__(self, family, toolchain=None):
        self.family = family
        self.toolchain = toolchain

    def __repr__(self):
        return f"Target({self.family!r}, {self.toolchain!r})"


def check_config(config):
    """``config`` itself; ``TypeError`` unless it is a :class:`CoreConfig` (every component
    takes one)."""
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    return config
