"""Layers, networks, losses and saving, with PyTorch's names (`torch.nn`), one file per
family: `module.py` (Module, Parameter, Buffer, the containers Sequential, ModuleList,
ModuleDict), `linear.py` (Linear, the MLP of the lessons), `embedding.py`,
`activations.py`, `conv.py` (convolution and pooling), `normalization.py` (batch and layer
norm, dropout), `recurrent.py` (RNN, GRU, LSTM and their cells), `attention.py`
(multi-head attention, the Transformer encoder), `losses.py`, `init.py` (nn.init),
`utils.py` (gradient clipping), `serialization.py` (save, load, checkpoints).
"""

from __future__ import annotations

from tinygrad_edu import functional
from tinygrad_edu.functional import cross_entropy, mse_loss
from tinygrad_edu.nn import init, utils
from tinygrad_edu.nn.activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from tinygrad_edu.nn.attention import (
    MultiheadAttention,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from tinygrad_edu.nn.conv import (
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    MaxPool1d,
    MaxPool2d,
)
from tinygrad_edu.nn.embedding import Embedding
from tinygrad_edu.nn.linear import MLP, Linear
from tinygrad_edu.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinygrad_edu.nn.module import (
    Buffer,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
)
from tinygrad_edu.nn.normalization import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm
from tinygrad_edu.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygrad_edu.nn.serialization import load, save

__all__ = ["MLP", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Buffer", "Conv2d",
           "CrossEntropyLoss", "Dropout", "Flatten", "LayerNorm", "Linear", "MSELoss",
           "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
           "cross_entropy", "functional", "load", "mse_loss", "save"]
__all__ += ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]  # recurrent.py
__all__ += ["ELU", "GELU", "Embedding", "Identity", "LeakyReLU", "LogSoftmax",  # layers
            "ModuleDict", "ModuleList", "SiLU", "Softmax", "Softplus", "init"]
__all__ += ["MultiheadAttention", "TransformerEncoder",
            "TransformerEncoderLayer"]  # attention.py
__all__ += ["AvgPool1d", "Conv1d", "MaxPool1d"]  # conv.py
__all__ += ["BCELoss", "BCEWithLogitsLoss", "HuberLoss", "L1Loss", "NLLLoss",
            "SmoothL1Loss"]  # losses.py
__all__ += ["utils"]  # utils.py: clip_grad_norm_, parameters_to_vector, …


def __dir__() -> list[str]:  # dir(nn) and tab completion show the API, not the files
    return sorted(__all__)
