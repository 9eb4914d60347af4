"""Simulator tests live here; they need the cocotb runner and at least one simulator."""
