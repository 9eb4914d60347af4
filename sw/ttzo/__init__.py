"""ttzo: tensor-compressed, back-propagation-free training, from NumPy to FPGA.

Three layers, imports running one way (docs/architecture.md): specs (:mod:`ttzo.spec`) <-
twins (float and golden models, emulator, gateware) <- flows (training, driver, bitstream, CLI).
"""

__version__ = "0.1.0"
