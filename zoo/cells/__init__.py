"""Recurrent cells written from their equations, weight-compatible with Keras's cells."""

from zoo.cells.elman import ElmanCell
from zoo.cells.gru import GRUCell
from zoo.cells.linear import LinearRecurrentCell, spectral_radius
from zoo.cells.lstm import LSTMCell

__all__ = ["ElmanCell", "LSTMCell", "GRUCell", "LinearRecurrentCell", "spectral_radius"]
