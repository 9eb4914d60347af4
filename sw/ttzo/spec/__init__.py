"""Specs, the ground floor: what every twin implements and every flow reads.

The model description (:mod:`.model`, :mod:`.shape`, :mod:`.activations`), the numeric formats
(:mod:`.fixed`, :mod:`.numerics`), the RNG and perturbation rules (:mod:`.rng`, :mod:`.perturb`),
the engine's schedule (:mod:`.schedule`), the link protocol with its command table
(:mod:`.protocol`), the accelerator configuration (:mod:`.accelerator`) and the boards
(:mod:`.boards`). A spec imports only other specs.
"""
