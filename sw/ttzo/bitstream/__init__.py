"""Flows: bitstream builds (synthesis, netlist passes, place and route, packing) and their
reports, for a board of :mod:`ttzo.spec.boards`."""
