"""The ``sync`` clock domain at a requested frequency, from the board oscillator through a PLL.

:func:`ecp5_pll` and :func:`ice40_pll` choose divider settings by exhaustive search within the
devices' documented ranges (ECP5: EHXPLLL, VCO 400-800 MHz, PFD >= 3.125 MHz; iCE40: SB_PLL40,
VCO 533-1066 MHz, PFD 10-133 MHz); :class:`ClockGenerator` instantiates the primitive, holds the
domain in reset until the PLL locks; nextpnr derives the clock constraint from the PLL.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    Const,
    Elaboratable,
    Instance,
    Module,
    ResetSignal,
    Signal,
)
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["PLLSetting", "ecp5_pll", "ice40_pll", "ClockGenerator", "sync_domain"]


@dataclass(frozen=True)
class PLLSetting:
    """Divider settings and the frequency they give (Hz)."""

    params: dict
    frequency: float

    @property
    def mhz(self) -> float:
        return self.frequency / 1e6


def _best(candidates, f_out: float, what: str) -> PLLSetting:
    best = min(candidates, key=lambda c: abs(c.frequency - f_out), default=None)
    if best is None or abs(best.frequency - f_out) > 0.01 * f_out:
        raise ValueError(f"no {what} PLL setting reaches {f_out / 1e6:g} MHz within 1 %")
    return best


def ecp5_pll(f_in: float, f_out: float) -> PLLSetting:
    """EHXPLLL dividers with feedback from CLKOP: ``f_out = f_in / CLKI_DIV * CLKFB_DIV``."""
    candidates = []
    for clki in range(1, 129):
        f_pfd = f_in / clki
        if f_pfd < 3.125e6:
            break
        for clkfb in range(1, 81):
            f = f_pfd * clkfb
            for clkop in range(1, 129):
                vco = f * clkop
                if 400e6 <= vco <= 800e6:
                    candidates.append(PLLSetting(
                        {"CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": clkop,
                         "CLKOP_CPHASE": clkop // 2}, f))
                    break
    return _best(candidates, f_out, "ECP5")


def ice40_pll(f_in: float, f_out: float) -> PLLSetting:
    """SB_PLL40 dividers (simple feedback): ``f_out = f_in / (DIVR+1) * (DIVF+1) / 2**DIVQ``."""
    candidates = []
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        filter_range = next(i + 1 for i, hi in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 134e6))
                            if f_pfd < hi)
        for divf in range(128):
            vco = f_pfd * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                candidates.append(PLLSetting(
                    {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filter_range},
                    vco / 2 ** divq))
    return _best(candidates, f_out, "iCE40")


class ClockGenerator(Elaboratable):
    """Drives the ``sync`` domain's clock and reset at ``frequency`` from the platform's default
    clock. The domain itself belongs to the design's top (:func:`sync_domain`): Amaranth 0.6
    no longer lets a submodule define a domain for its parents.

    Parameters
    ----------
    frequency : float or None
        Requested clock in Hz. ``None`` or the oscillator's own frequency uses the oscillator
        directly; otherwise an EHXPLLL (ECP5) or SB_PLL40_PAD (iCE40) makes it.

    Attributes
    ----------
    setting : PLLSetting or None
        The chosen PLL setting, after elaboration.
    achieved : float or None
        The frequency the domain runs at, after elaboration.
    """

    def __init__(self, frequency: float | None = None):
        if frequency is not None and not frequency > 0:
            raise ValueError(f"clock frequency must be positive, not {frequency!r}")
        self.frequency = frequency
        self.setting: PLLSetting | None = None
        self.achieved: float | None = None

    def _direct(self, platform) -> bool:
        return self.frequency is None or abs(self.frequency - platform.default_clk_frequency) < 1

    def plan(self, platform) -> float:
        """Choose the PLL setting for ``platform``; returns the frequency it reaches (Hz)."""
        f_in = platform.default_clk_frequency
        family = str(getattr(platform, "family", "")).lower()
        if self._direct(platform):
            self.setting, self.achieved = None, f_in
        elif family == "ecp5":
            self.setting = ecp5_pll(f_in, self.frequency)
        elif family == "ice40":
            self.setting = ice40_pll(f_in, self.frequency)
        else:
            raise ValueError(f"no PLL support for FPGA family {family!r}")
        if self.setting is not None:
            self.achieved = self.setting.frequency
        return self.achieved

    def elaborate(self, platform):
        m = Module()
        f_in = platform.default_clk_frequency
        name = platform.default_clk
        self.plan(platform)
        if self.setting is None:
            # the oscillator's pin carries the board's clock constraint
            m.submodules.clk_buf = clk = io.Buffer("i", platform.request(name, dir="-"))
            m.d.comb += ClockSignal("sync").eq(clk.i)
            self._release_reset(m, platform, Const(0))
            return m
        locked = Signal()
        if str(platform.family).lower() == "ecp5":
            m.submodules.clk_buf = clk = io.Buffer("i", platform.request(name, dir="-"))
            p = self.setting.params
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.setting.mhz:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                i_CLKI=clk.i, i_CLKFB=ClockSignal("sync"), i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=ClockSignal("sync"), o_LOCK=locked,
            )
        else:
            pad = platform.request(name, dir="-")
            p = self.setting.params
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                p_FILTER_RANGE=p["FILTER_RANGE"],
                io_PACKAGEPIN=pad.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked,
            )
        # nextpnr derives the output clock's constraint from the PLL parameters (an explicit
        # constraint would name a net that synthesis renames).
        self._release_reset(m, platform, ~locked)
        return m

    @staticmethod
    def _release_reset(m: Module, platform, arst) -> None:
        """Reset ``sync`` while ``arst`` is high; release it synchronously.

        The released reset reaches every flip-flop with a reset. Its release is a timed path,
        and in general routing a net of thousands of loads spread over the chip takes 15 ns
        and more (it was the accelerator's critical path). On ECP5 a DCCA puts it on a global
        network instead, the way a clock is distributed.
        """
        m.domains.reset_sync = ClockDomain("reset_sync", local=True)
        m.d.comb += ClockSignal("reset_sync").eq(ClockSignal("sync"))
        m.submodules.reset_sync = ResetSynchronizer(arst, domain="reset_sync")
        if str(getattr(platform, "family", "")).lower() == "ecp5":
            m.submodules.reset_buffer = Instance(
                "DCCA", i_CLKI=ResetSignal("reset_sync"), i_CE=1, o_CLKO=ResetSignal("sync"))
        else:  # nextpnr-ice40 promotes a high-fanout reset to a global buffer itself
            m.d.comb += ResetSignal("sync").eq(ResetSignal("reset_sync"))


def sync_domain() -> ClockDomain:
    """The ``sync`` domain of a board top, with an asynchronous reset.

    The reset is released synchronously (:class:`ClockGenerator`'s ResetSynchronizer): it
    reaches every flip-flop, and as a synchronous reset it would be a timed path with a fanout
    of tens of thousands.
    """
    return ClockDomain("sync", async_reset=True)
