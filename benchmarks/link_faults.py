"""The host link under faults, and the frame parsers under fuzzing.

Fault campaign: the MNIST accelerator of the ULX3S-85F (16 lanes, 1 KiB frames), emulated, behind
a line that corrupts, drops and duplicates bytes at 0.1 %, 1 % and 5 % per byte and loses and
duplicates 1 % of frames, both ways. Each run is sessions of every command (parameter writes and
reads, input loads, EVALs in every perturbation mode, UPDATEs each read back) with the driver's
default settings; the results are compared with the golden model (the fault-free run gives the
same) and the counts of faults, retransmissions and undetected corruptions are recorded.
Line time is the emulator link's virtual clock at the board's 3 Mbaud: the bytes that crossed
the line plus the time the driver waited for replies that never came; device compute not
counted.

Fuzzing: frames with good CRCs around random headers near the command table's limits, and line
garbage, into the emulator (crash, hang, and state change from refused frames checked), and into
the gateware on Verilator (``sim/accelerator_tb.py``, a two-lane accelerator: the frame parser
and command table are the same code at every size), every reply byte compared with the
emulator's.

    python benchmarks/link_faults.py       # campaign, 1,000,000 frames (emulator), 10,000 (RTL)
    python benchmarks/link_faults.py --fuzz 20000 --gateware-fuzz 0 --sessions 1   # quick look
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time

from ttzo.driver.campaign import compare_sessions, expected_session, fuzz_frames, session
from ttzo.driver.device import Device
from ttzo.driver.faults import FaultRates, FaultyLink
from ttzo.driver.link import EmulatorLink
from ttzo.golden.emulator import Emulator
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.boards import get_board
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.protocol import REPLY_FIELDS, SlipDecoder, Status, unpack_fields
from ttzo.train.config import load_model_file

from common import ROOT, write_result

RATES = (0.0, 0.001, 0.01, 0.05)
FRAME_FAULTS = 0.01
UPDATES_PER_SESSION = 10


def mnist_config():
    board = get_board("ulx3s-85f")
    spec = ModelSpec.from_dict(load_model_file(board["model"]))
    return board, board.device_config(spec)


def campaign(config, baud: int, rate: float, sessions: int) -> dict:
    """``sessions`` sessions at per-byte fault ``rate`` (and frame faults unless fault-free)."""
    frame = FRAME_FAULTS if rate else 0.0
    faults = FaultRates(byte=rate, frame_loss=frame, frame_duplication=frame)
    totals = {"mismatches": 0, "lost_updates": 0, "doubled_updates": 0}
    stats: dict[str, int] = {}
    line = {"to_device": {}, "to_host": {}}
    link_time = 0.0
    start = time.perf_counter()
    for seed in range(sessions):
        link = FaultyLink(EmulatorLink(Emulator(config), baud), faults, seed=1000 * seed + 7)
        device = Device(link, config)
        verdict = compare_sessions(session(device, config, seed, UPDATES_PER_SESSION),
                                   expected_session(config, seed, UPDATES_PER_SESSION))
        for key, value in verdict.items():
            totals[key] += value
        for key, value in device.stats.as_dict().items():
            stats[key] = stats.get(key, 0) + value
        for direction, counts in link.counts().items():
            for key, value in counts.items():
                line[direction][key] = line[direction].get(key, 0) + value
        link_time += link.now()
    wall = time.perf_counter() - start
    line_bytes = line["to_device"]["bytes"] + line["to_host"]["bytes"]
    return {
        "byte_fault_rate": rate, "frame_loss": frame, "frame_duplication": frame,
        "sessions": sessions, "updates": sessions * UPDATES_PER_SESSION,
        "commands": stats["commands"], "attempts": stats["attempts"],
        "retransmissions": stats["retransmissions"],
        "faults": line["to_device"]["faults"] + line["to_host"]["faults"],
        "undetected_corruptions": (line["to_device"]["undetected_corruptions"]
                                   + line["to_host"]["undetected_corruptions"]),
        **totals, "driver": stats, "line": line, "line_bytes": line_bytes,
        "board_link_s": round(link_time, 3),
        "emulator_wall_s": round(wall, 2),
    }


def fuzz(config, n: int, seed: int = 1) -> dict:
    """``n`` fuzzed frames into the emulator: every reply must decode, refusals change nothing."""
    emulator = Emulator(config)
    decoder = SlipDecoder()
    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    state_changes = crashes = bad_replies = 0
    start = time.perf_counter()
    for frame in fuzz_frames(config, rng, n):
        before = emulator.state()
        try:
            decoder.feed(emulator.feed(frame))
        except Exception as exc:  # a crash is the finding: count it, keep fuzzing
            crashes += 1
            print(f"crash on {frame.hex()}: {exc!r}", file=sys.stderr)
            emulator = Emulator(config)
            continue
        bad_replies += len(decoder.errors)
        decoder.errors.clear()
        accepted = False
        for body in decoder.frames:
            status = Status(unpack_fields(REPLY_FIELDS, body)["status"])
            statuses[status.name] = statuses.get(status.name, 0) + 1
            accepted |= status == Status.OK
        decoder.frames.clear()
        if not accepted and emulator.state() != before:
            state_changes += 1
    return {"frames": n, "crashes": crashes, "undecodable_replies": bad_replies,
            "state_changes_from_refused_frames": state_changes, "replies": statuses,
            "wall_s": round(time.perf_counter() - start, 1)}


def gateware_fuzz(n: int) -> dict:
    """``n`` fuzzed frames into the accelerator RTL on Verilator, against the emulator."""
    sys.path.insert(0, str(ROOT / "sim"))
    from runner import run_accelerator

    spec = ModelSpec((LayerSpec((4, 4), (2, 4), 2, "relu"), LayerSpec((8,), (3,), None, "none")))
    config = DeviceConfig(spec, lanes=2, input_groups=2, max_directions=4, max_data=64)
    scenario = {"kind": "fuzz", "frames": n, "reply_cycles": 20000, "seed": 11, "idle": 0.2,
                "stall": 0.3}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        result = run_accelerator(config, scenario, "verilator", folder)
    return {"frames": n, "simulator": "verilator", "replies": result.get("replies"),
            "mismatches": result.get("mismatches"), "cycles": result.get("cycles"),
            "failed": result["failed"], "wall_s": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3, help="sessions per fault rate")
    parser.add_argument("--fuzz", type=int, default=1_000_000, help="fuzzed frames (emulator)")
    parser.add_argument("--gateware-fuzz", type=int, default=10_000,
                        help="fuzzed frames into the RTL on Verilator (0: skip)")
    args = parser.parse_args(argv)
    board, config = mnist_config()
    runs = []
    for rate in RATES:
        run = campaign(config, board["baud"], rate, args.sessions)
        runs.append(run)
        print(f"byte faults {rate:.1%}: {run['commands']} commands, {run['faults']} faults, "
              f"{run['retransmissions']} retransmissions, {run['mismatches']} mismatches, "
              f"{run['lost_updates']} lost / {run['doubled_updates']} doubled updates, "
              f"{run['undetected_corruptions']} undetected, link {run['board_link_s']} s",
              flush=True)
    clean = runs[0]["board_link_s"]
    for run in runs:
        run["throughput_vs_fault_free"] = round(clean / run["board_link_s"], 4)
    fuzzed = fuzz(config, args.fuzz)
    print(f"fuzz: {fuzzed}", flush=True)
    rtl = gateware_fuzz(args.gateware_fuzz) if args.gateware_fuzz else None
    print(f"gateware fuzz: {rtl}")
    result = {
        "board": board.name, "lanes": config.lanes, "max_data": config.max_data,
        "fault_rates": list(RATES), "frame_faults": FRAME_FAULTS,
        "commands": sum(r["commands"] for r in runs),
        "faults": sum(r["faults"] for r in runs),
        "retransmissions": sum(r["retransmissions"] for r in runs),
        "mismatches": sum(r["mismatches"] for r in runs),
        "lost_updates": sum(r["lost_updates"] for r in runs),
        "doubled_updates": sum(r["doubled_updates"] for r in runs),
        "undetected_corruptions": sum(r["undetected_corruptions"] for r in runs),
        "runs": runs, "fuzz_emulator": fuzzed, "fuzz_gateware": rtl,
        "command": "python benchmarks/link_faults.py " + " ".join(argv or sys.argv[1:]),
    }
    print(write_result("link_faults", result))
    failed = (result["mismatches"] or result["lost_updates"] or result["doubled_updates"]
              or fuzzed["crashes"] or fuzzed["state_changes_from_refused_frames"]
              or (rtl is not None and (rtl["mismatches"] or rtl["failed"])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
