"""Twins: the gateware (Amaranth), each block naming its golden twin (ttzo.golden, ttzo.spec)."""
