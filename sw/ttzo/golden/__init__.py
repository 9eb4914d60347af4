"""Twins: the bit-exact golden model of the accelerator (integer forward, objective, update and
perturbation passes) and the emulator that answers the link protocol with it.

They implement the bit-level specs of :mod:`ttzo.spec` (numerics, RNG, perturbation, protocol);
the gateware (:mod:`ttzo.hw`) must match them bit for bit. docs/numerics.md states the
arithmetic in prose.
"""
