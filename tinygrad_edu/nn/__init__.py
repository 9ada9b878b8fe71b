"""Layers, networks, losses and saving, with PyTorch's names (`torch.nn`), one file per
family: `module.py` (Module, Parameter, Buffer, Sequential), `linear.py` (Linear, the MLP
of the lessons), `activations.py`, `conv.py` (convolution and pooling), `normalization.py`
(batch and layer norm, dropout), `losses.py`, `serialization.py` (save, load).
"""

from __future__ import annotations

from tinygrad_edu import functional
from tinygrad_edu.functional import cross_entropy, mse_loss
from tinygrad_edu.nn.activations import ReLU, Sigmoid, Tanh
from tinygrad_edu.nn.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from tinygrad_edu.nn.linear import MLP, Linear
from tinygrad_edu.nn.losses import CrossEntropyLoss, MSELoss
from tinygrad_edu.nn.module import Buffer, Module, Parameter, Sequential
from tinygrad_edu.nn.normalization import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm
from tinygrad_edu.nn.serialization import load, save

__all__ = ["MLP", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Buffer", "Conv2d",
           "CrossEntropyLoss", "Dropout", "Flatten", "LayerNorm", "Linear", "MSELoss",
           "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
           "cross_entropy", "functional", "load", "mse_loss", "save"]


def __dir__() -> list[str]:  # dir(nn) and tab completion show the API, not the files
    return sorted(__all__)
