"""Optimizers and learning-rate schedules, with PyTorch's names (`torch.optim`): the base
with parameter groups and state (`optimizer.py`), one file per family (`sgd.py`,
`adam.py`: Adam and AdamW, `rmsprop.py`, `adagrad.py`), and `lr_scheduler`.
"""

from __future__ import annotations

from tinygrad_edu.optim import lr_scheduler
from tinygrad_edu.optim.adagrad import Adagrad
from tinygrad_edu.optim.adam import Adam, AdamW
from tinygrad_edu.optim.optimizer import Optimizer
from tinygrad_edu.optim.rmsprop import RMSprop
from tinygrad_edu.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the files
    return sorted(__all__)
