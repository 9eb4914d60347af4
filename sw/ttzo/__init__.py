"""ttzo: tensor-compressed, back-propagation-free training, from NumPy to FPGA."""

__version__ = "0.1.0"
