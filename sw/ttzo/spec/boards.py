"""Boards: one TOML file per board is its whole description, shipped as package data.

``constraints/<name>.toml`` (installed as the package ``ttzo.spec.board_files``) holds what a
ttzo build adds to the amaranth-boards platform (clock, baud, the default accelerator, tool
options, programmer, USB ids), the FPGA's resources (``[device]``: what the estimate counts and
the gateware's memories are shaped for) and the nextpnr cell names of those resources
(``[cells]``: what the build report reads). The estimate, the build, ``ttzo program`` and
``--device auto`` all read it from here; nothing else restates a board.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from math import ceil
from types import MappingProxyType
from typing import Any

__all__ = ["Board", "BOARDS", "Device", "bank_rows", "bank_slices", "check_constraints",
           "get_board", "OPTIONAL_KEYS", "REQUIRED_KEYS", "RESOURCES"]

#: The package the board files are installed as (``constraints/`` in the source tree).
BOARD_FILES = "ttzo.spec.board_files"
#: Keys every board file sets at its top level.
REQUIRED_KEYS = ("platform", "family", "clock_mhz", "baud", "model", "lanes", "input_groups",
                 "programmer_board", "device", "cells")
#: Keys a board file may leave out, with their values then.
OPTIONAL_KEYS = {"max_directions": 16, "max_data": 1024, "rng_stage_ops": 1, "synth_opts": "",
                 "nextpnr_opts": "", "usb_ids": (), "lean": False, "yosys_after_read": ""}
FAMILIES = ("ecp5", "ice40")
#: Resources the estimate and the build report count, each a ``[cells]`` entry.
RESOURCES = ("LUT", "FF", "DSP", "BRAM")


@dataclass(frozen=True)
class Device:
    """An FPGA's resources as the estimate counts them (a board file's ``[device]`` table)."""

    part: str
    luts: int
    ffs: int
    dsps: int
    brams: int
    #: (depth, width) shapes one block RAM can take.
    bram_shapes: tuple[tuple[int, int], ...]
    #: widest data width of a block whose write and read ports are separate (true dual port);
    #: wider shapes (ECP5's 512 x 36) bring half of each row out on the write port's pins
    bram_port_width: int = 18
    #: memories this shallow become LUT RAM instead of block RAM
    lutram_max_depth: int = 16
    dsp_name: str = "DSP"
    bram_name: str = "BRAM"
    #: whether the build copies registers that drive several block RAMs or multipliers, one per
    #: block (``ttzo.bitstream.replicate``, ECP5)
    replicates: bool = False
    #: whether the build moves the multipliers' operand and product registers into the blocks
    #: (``ttzo.bitstream.dspreg``, ECP5)
    packs_dsp_registers: bool = False
    #: banks as deep as the block shapes allow (a lean accelerator, ``DeviceConfig.lean``;
    #: not a board file key)
    deep_banks: bool = False

    @classmethod
    def from_dict(cls, table: dict[str, Any], where: str) -> Device:
        """The ``[device]`` table of a board file; a missing or unknown key names itself."""
        known = set(cls.__dataclass_fields__) - {"deep_banks"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"{where}: unknown [device] key {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(sorted(known))}")
        try:
            device = cls(**{**table, "bram_shapes": tuple(tuple(s) for s in table["bram_shapes"])})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{where}: [device] table incomplete or malformed: {exc}") from None
        for key in ("luts", "ffs", "dsps", "brams", "bram_port_width", "lutram_max_depth"):
            value = getattr(device, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where}: [device] {key} must be a non-negative integer, "
                                 f"not {value!r}")
        if not device.bram_shapes or any(len(s) != 2 or min(s) < 1 for s in device.bram_shapes):
            raise ValueError(f"{where}: [device] bram_shapes must be [depth, width] pairs, not "
                             f"{table['bram_shapes']!r}")
        return device

    @property
    def available(self) -> dict[str, int]:
        """Each of :data:`RESOURCES` the device has."""
        return {"LUT": self.luts, "FF": self.ffs, "DSP": self.dsps, "BRAM": self.brams}

    @property
    def bank_shapes(self) -> tuple[tuple[int, int], ...]:
        """Block shapes of a banked memory's slices (true dual port only)."""
        return tuple(s for s in self.bram_shapes if s[1] <= self.bram_port_width)


def bank_slices(width: int, shapes: tuple[tuple[int, int], ...]) -> list[int]:
    """Widths of the memories one bank of a ``width``-bit banked memory is cut into: as wide as
    the widest of ``shapes`` (:attr:`Device.bank_shapes`), the last one narrower. Separate
    memories keep Yosys from tiling a bank with blocks in their pseudo-dual-port shape, whose
    write-side data pins would carry half of the row."""
    widest = max(w for _, w in shapes)
    return [widest] * (width // widest) + ([width % widest] if width % widest else [])


def bank_rows(width: int, shapes: tuple[tuple[int, int], ...], deepest: bool = False) -> int:
    """Rows of one bank of a ``width``-bit banked memory: the depth of the block shape that
    stores a row most cheaply, so that every bank is one block deep. On ties the shallowest
    (Yosys then has no equally cheap tiling that is two blocks deep), or with ``deepest`` the
    deepest: fewer banks, so fewer bank registers and a smaller select (a lean accelerator)."""
    sign = -1 if deepest else 1
    return min(shapes, key=lambda s: (ceil(width / s[1]) / s[0], sign * s[0]))[0]


@dataclass(frozen=True)
class Board:
    """A board: its name, its amaranth-boards platform, its build settings and its FPGA."""

    name: str
    constraints: Mapping[str, Any]
    device: Device

    @property
    def platform_path(self) -> str:
        """``module:Class`` of the board's amaranth-boards platform."""
        return self.constraints["platform"]

    def platform(self):
        """An instance of the board's amaranth-boards platform."""
        from importlib import import_module

        module, cls = self.platform_path.split(":")
        return getattr(import_module(module), cls)()

    @property
    def family(self) -> str:
        return self.constraints["family"]

    @property
    def cells(self) -> dict[str, str]:
        """nextpnr cell type of each of :data:`RESOURCES` (the build report counts them)."""
        return self.constraints["cells"]

    def __getitem__(self, key: str) -> Any:
        return self.constraints[key]

    def device_config(self, spec, lanes: int | None = None, input_groups: int | None = None):
        """The accelerator for model ``spec`` on this board: the board's lanes, input groups,
        update unit, frame size and RNG pipelining unless ``lanes``/``input_groups`` are given."""
        from .accelerator import DeviceConfig

        c = self.constraints
        return DeviceConfig(spec, lanes=c["lanes"] if lanes is None else lanes,
                            input_groups=(c["input_groups"] if input_groups is None
                                          else input_groups),
                            max_directions=c["max_directions"], max_data=c["max_data"],
                            rng_stage_ops=c["rng_stage_ops"], lean=c["lean"])


def check_constraints(constraints: dict[str, Any], where: str) -> dict[str, Any]:
    """``constraints`` with the optional keys filled in; a missing, unknown (e.g. misspelt) key,
    an unknown family or a ``[cells]`` table without every resource raises a ``ValueError``
    naming it and ``where``."""
    missing = [k for k in REQUIRED_KEYS if k not in constraints]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(constraints) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(REQUIRED_KEYS + tuple(OPTIONAL_KEYS))}")
    if constraints["family"] not in FAMILIES:
        raise ValueError(f"{where}: family must be one of {FAMILIES}, not "
                         f"{constraints['family']!r}")
    if ":" not in str(constraints["platform"]):
        raise ValueError(f"{where}: platform must be 'module:Class', not "
                         f"{constraints['platform']!r}")
    cells = constraints["cells"]
    if not isinstance(cells, dict) or sorted(cells) != sorted(RESOURCES):
        raise ValueError(f"{where}: [cells] must name exactly {', '.join(RESOURCES)}, not "
                         f"{cells!r}")
    return {**OPTIONAL_KEYS, **constraints}


def _board_files() -> dict[str, Any]:
    """``{board name: file}`` of the shipped board files."""
    folder = resources.files(BOARD_FILES)
    return {f.name.removesuffix(".toml"): f for f in folder.iterdir() if f.name.endswith(".toml")}


@cache
def get_board(name: str) -> Board:
    """The board called ``name`` (its file's name); an unknown name lists the known ones.
    Read once per process (the files are package data)."""
    files = _board_files()
    if name not in files:
        raise ValueError(f"unknown board {name!r}; choose from {sorted(files)}")
    where = f"board file {name}.toml"
    try:
        constraints = tomllib.loads(files[name].read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{where}: cannot read it: {exc}") from None
    constraints = check_constraints(constraints, where)
    device = Device.from_dict(constraints["device"], where)
    # read-only: every caller shares the one cached board
    return Board(name, MappingProxyType(constraints), device)


#: Names of the shipped boards.
BOARDS = tuple(sorted(_board_files()))
