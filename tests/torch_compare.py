"""One comparison with PyTorch that several op families' tests share: the same function
run here and in torch on the same random inputs, values and every gradient compared."""

import numpy as np

from tinygrad_edu import Tensor


def outputs(result):
    """A result as a list of tensors (sort and topk give two)."""
    return list(result) if isinstance(result, tuple) else [result]


def assert_matches_torch(ours, theirs, input_shapes, dtype, torch):
    """`ours(*tensors)` against `theirs(torch, *torch_tensors)`: shapes, dtypes and values
    (float32: 1e-5 relative; float64: 1e-12), then the gradients of a random vector–Jacobian
    product of every floating-point output, for every input."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in input_shapes]
    mine = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    their = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    results, expected = outputs(ours(*mine)), outputs(theirs(torch, *their))
    assert len(results) == len(expected)
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12}
    loss, their_loss = 0, 0
    for result, reference in zip(results, expected, strict=True):
        assert result.shape == tuple(reference.shape)
        assert result.dtype == np.dtype(str(reference.dtype).removeprefix("torch."))
        np.testing.assert_allclose(result.data, reference.detach().numpy(), **tolerance)
        if result.dtype.kind == "f":
            v = rng.standard_normal(result.shape).astype(dtype)  # a random output gradient
            loss = loss + (result * Tensor(v)).sum()
            their_loss = their_loss + (reference * torch.from_numpy(v)).sum()
    if isinstance(loss, int):  # (indices only, as argsort: nothing to differentiate)
        return
    loss.backward()
    their_loss.backward()
    for x, t in zip(mine, their, strict=True):
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-6)
