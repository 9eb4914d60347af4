"""The bit-exact golden model: fixed-point formats, the quantized forward, the RNG twin.

The golden model defines the accelerator's arithmetic; the RTL must match it bit for bit.
docs/numerics.md specifies it in prose.
"""

from .fixed import FixedFormat, round_shift, saturate
from .numerics import NumericsSpec, activation_table

__all__ = ["FixedFormat", "NumericsSpec", "activation_table", "round_shift", "saturate"]
