"""tinygrad_edu: a small reverse-mode autodiff framework on numpy, written to be read.

    from tinygrad_edu import Tensor
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad  # tensor([2., 4.])

`nn` (layers, losses, save/load), `optim` (SGD, Adam), `datasets` (MNIST), `functional`
(linear, losses), gradient checking (`gradcheck`, `gradgradcheck`, `jacobian`) and, with
hypothesis installed, `tinygrad_edu.testing` (strategies).
"""

from tinygrad_edu import datasets, functional, nn, optim, viz
from tinygrad_edu.gradcheck import (
    GradcheckError,
    gradcheck,
    gradgradcheck,
    jacobian,
    numeric_jacobian,
)
from tinygrad_edu.jit import jit
from tinygrad_edu.tensor import (
    Function,
    Tensor,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    tensor,
)
from tinygrad_edu.utils import manual_seed
from tinygrad_edu.viz import detect_anomaly

__version__ = "0.1.0"

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "datasets",
    "detect_anomaly",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "jacobian",
    "jit",
    "manual_seed",
    "nn",
    "no_grad",
    "numeric_jacobian",
    "optim",
    "set_grad_enabled",
    "tensor",
    "viz",
]
