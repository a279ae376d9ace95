"""madvq gateware: the configuration object and the Amaranth components of the core."""

from .config import CoreConfig
from .core import DistanceUnit, WinnerTree, Codebook, MADCore
from .ports import FlatMADCore, port_table
from .bus import AXIConfig
from .axi import AXIStreamMADCore, AXIStreamTop

__all__ = ["CoreConfig", "DistanceUnit", "WinnerTree", "Codebook", "MADCore",
           "FlatMADCore", "port_table", "AXIConfig", "AXIStreamMADCore", "AXIStreamTop"]
