"""tinygrad_edu: a small reverse-mode autodiff framework on numpy, written to be read.

    from tinygrad_edu import Tensor
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad  # tensor([2., 4.])

`nn` (layers, losses, save/load), `optim` (SGD, Adam, AdamW, RMSprop, Adagrad, schedulers),
`datasets` (MNIST), `functional` (PyTorch's F), checkpoints (`tg.save`, `tg.load`: no
pickle), gradient checking (`gradcheck`, `gradgradcheck`, `jacobian`) and, with hypothesis
installed, `tinygrad_edu.testing` (strategies). PyTorch's `torch.X` functions (`tg.cat`,
`tg.where`, `tg.zeros_like`, `tg.einsum`, …) are here under the same names: each is a
Tensor method or a function of its op family in `ops/`.
"""

from tinygrad_edu import creation, datasets, func, functional, nn, ops, optim, viz
from tinygrad_edu.creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from tinygrad_edu.gradcheck import (
    GradcheckError,
    gradcheck,
    gradgradcheck,
    jacobian,
    numeric_jacobian,
)
from tinygrad_edu.jit import jit
from tinygrad_edu.nn.serialization import load_checkpoint as load
from tinygrad_edu.nn.serialization import save_checkpoint as save
from tinygrad_edu.ops.activations import relu, sigmoid, tanh
from tinygrad_edu.ops.elementwise import (
    abs,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    cos,
    expm1,
    log1p,
    maximum,
    minimum,
    reciprocal,
    rsqrt,
    sign,
    sin,
    sqrt,
    square,
)
from tinygrad_edu.ops.products import add, bmm, div, einsum, matmul, mm, mul, neg, pow, sub
from tinygrad_edu.ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from tinygrad_edu.ops.select import (
    argsort,
    flip,
    gather,
    index_select,
    masked_fill,
    roll,
    sort,
    take_along_dim,
    topk,
    tril,
    triu,
    where,
)
from tinygrad_edu.ops.shape import cat, chunk, concat, concatenate, repeat, split, stack, unbind
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

exp, log = Tensor.exp, Tensor.log  # torch.exp(x) is x.exp()

__version__ = "0.1.0"

# The public names: the modules and the engine's API, then PyTorch's torch.X functions
# under the same names (tg.sum, tg.max, tg.abs… shadow Python's builtins inside this
# namespace only; like torch's, they take tensors).
__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "creation",
    "datasets",
    "detect_anomaly",
    "enable_grad",
    "func",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "jacobian",
    "jit",
    "load",
    "manual_seed",
    "nn",
    "no_grad",
    "numeric_jacobian",
    "ops",
    "optim",
    "save",
    "set_grad_enabled",
    "tensor",
    "viz",
]
__all__ += [  # torch.X
    "abs", "add", "all", "amax", "amin", "any", "arange", "argmax", "argmin", "argsort", "bmm",
    "cat", "chunk", "clamp", "clamp_max", "clamp_min", "clip", "concat", "concatenate", "cos",
    "cumsum", "div", "einsum", "empty", "exp", "expm1", "eye", "flip", "from_numpy", "full",
    "full_like", "gather", "index_select", "linspace", "log", "log1p", "log_softmax", "logsumexp",
    "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "mul",
    "multinomial", "neg", "norm", "ones", "ones_like", "pow", "prod", "rand", "rand_like",
    "randint", "randn", "randn_like", "reciprocal", "relu", "repeat", "roll", "rsqrt", "sigmoid",
    "sign", "sin", "softmax", "sort", "split", "sqrt", "square", "stack", "std", "sub", "sum",
    "take_along_dim", "tanh", "topk", "tril", "triu", "unbind", "var", "where", "zeros",
    "zeros_like",
]
