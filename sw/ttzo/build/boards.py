"""Boards ttzo builds for: the amaranth-boards platform, the estimate's device, programming.

Pins and oscillators come from amaranth-boards; ``constraints/<board>.toml`` adds what a ttzo
build needs beyond them (default clock, baud rate, place-and-route options, the programmer's
board name), so a new board is one platform class plus one constraints file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..accel.estimate import DEVICES

__all__ = ["Board", "BOARDS", "get_board", "check_constraints", "constraints_dir"]


def constraints_dir() -> Path:
    """The repository's ``constraints/`` folder (shipped inside the package when installed)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "constraints", here.parent / "constraints"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("constraints/ folder not found next to the ttzo sources")


@dataclass(frozen=True)
class Board:
    name: str
    platform_path: str  # "module:Class" in amaranth_boards
    constraints: dict[str, Any]

    @property
    def device(self):
        return DEVICES[self.name]

    def platform(self):
        from importlib import import_module

        module, cls = self.platform_path.split(":")
        return getattr(import_module(module), cls)()

    @property
    def family(self) -> str:
        return self.constraints["family"]

    def __getitem__(self, key: str) -> Any:
        return self.constraints[key]

    def device_config(self, spec, lanes: int | None = None, input_groups: int | None = None):
        """The accelerator for model ``spec`` on this board: the board's lanes, input groups,
        update unit, frame size and RNG pipelining unless ``lanes``/``input_groups`` are given."""
        from ..device.config import DeviceConfig

        c = self.constraints
        return DeviceConfig(spec, lanes=c["lanes"] if lanes is None else lanes,
                            input_groups=(c["input_groups"] if input_groups is None
                                          else input_groups),
                            max_directions=c["max_directions"], max_data=c["max_data"],
                            rng_stage_ops=c["rng_stage_ops"])


#: Keys every constraints file sets.
REQUIRED_KEYS = ("family", "clock_mhz", "baud", "model", "lanes", "input_groups",
                 "programmer_board")
#: Keys a constraints file may leave out, with their values then.
OPTIONAL_KEYS = {"max_directions": 16, "max_data": 1024, "rng_stage_ops": 1, "synth_opts": "",
                 "nextpnr_opts": "", "usb_ids": ()}
FAMILIES = ("ecp5", "ice40")


def check_constraints(constraints: dict[str, Any], where: str) -> dict[str, Any]:
    """``constraints`` with the optional keys filled in; a missing, unknown (e.g. misspelt) key
    or an unknown family raises a ``ValueError`` naming it and ``where``."""
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
    return {**OPTIONAL_KEYS, **constraints}


_PLATFORMS = {
    "ulx3s-85f": "amaranth_boards.ulx3s:ULX3S_85F_Platform",
    "icebreaker": "amaranth_boards.icebreaker:ICEBreakerPlatform",
}


def get_board(name: str) -> Board:
    if name not in _PLATFORMS:
        raise ValueError(f"unknown board {name!r}; choose from {sorted(_PLATFORMS)}")
    path = constraints_dir() / f"{name}.toml"
    try:
        constraints = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"board {name!r}: cannot read {path}: {exc}") from None
    return Board(name, _PLATFORMS[name], check_constraints(constraints, str(path)))


BOARDS = tuple(_PLATFORMS)
