"""Cells of hand-made Yosys JSON netlists for the build passes' tests."""

from __future__ import annotations

#: The clock net of the test netlists, and another one.
CLK, OTHER_CLK = 2, 3


def ff(d, q: int, clk: int = CLK, **params_and_conn) -> dict:
    """A plain TRELLIS_FF from net ``d`` to net ``q``; list values override connections, other
    values parameters."""
    params = {"CLKMUX": "CLK", "CEMUX": "1 ", "LSRMUX": "LSR", "GSR": "DISABLED",
              "REGSET": "RESET"}
    conn = {"CLK": [clk], "DI": [d], "Q": [q], "LSR": ["0"]}
    for key, value in params_and_conn.items():
        (conn if isinstance(value, list) else params)[key] = value
    return {"type": "TRELLIS_FF", "parameters": params,
            "port_directions": {p: "output" if p == "Q" else "input" for p in conn},
            "connections": conn}


def lut(a, z: int) -> dict:
    """A one-input LUT4 from net ``a`` to net ``z``."""
    return {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [a], "Z": [z]}}
