"""Bitstream builds: staged synthesis, place and route, packing, and their reports."""
