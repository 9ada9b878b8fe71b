"""Code copied from PyTorch works the same: each snippet is PyTorch spelling, each value is
checked against numpy doing the same thing."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, optim
from tinygrad_edu import functional as F

A = np.arange(24.0).reshape(2, 3, 4) % 7 - 3  # values with ties and negatives
x = Tensor(A)

SNIPPETS = [
    ("x.sum(dim=1)", A.sum(axis=1)),
    ("x.sum(dim=(0, 2), keepdim=True)", A.sum(axis=(0, 2), keepdims=True)),
    ("x.mean(dim=-1)", A.mean(axis=-1)),
    ("x.max(dim=2).values", A.max(axis=2)),
    ("x.max(2)[1]", A.argmax(axis=2)),
    ("x.max(dim=1, keepdim=True)[0]", A.max(axis=1, keepdims=True)),
    ("x.min(dim=0).indices", A.argmin(axis=0)),
    ("x.max()", A.max()),
    ("x.argmax()", A.argmax()),
    ("x.argmax(dim=1)", A.argmax(axis=1)),
    ("x.argmin(dim=-1, keepdim=True)", A.argmin(axis=-1, keepdims=True)),
    ("x.softmax(dim=1)", np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)),
    ("x.log_softmax(dim=-1)", A - np.log(np.exp(A).sum(axis=-1, keepdims=True))),
    ("F.softmax(x, dim=0)", np.exp(A) / np.exp(A).sum(axis=0, keepdims=True)),
    ("F.log_softmax(x, dim=1)", A - np.log(np.exp(A).sum(axis=1, keepdims=True))),
    ("x.unsqueeze(0).shape", (1, 2, 3, 4)),
    ("x.unsqueeze(-1).shape", (2, 3, 4, 1)),
    ("x[:, :1].squeeze(1).shape", (2, 4)),
    ("x[:, :1].squeeze().shape", (2, 4)),
    ("x.squeeze(0).shape", (2, 3, 4)),
    ("x.flatten(1).shape", (2, 12)),
    ("x.flatten(0, 1).shape", (6, 4)),
    ("x.flatten().shape", (24,)),
    ("x[:, :1].expand(2, 3, 4)", np.broadcast_to(A[:, :1], (2, 3, 4))),
    ("x[:, :1].expand(-1, 5, -1).shape", (2, 5, 4)),
    ("x.numel()", 24),
    ("x.size()", (2, 3, 4)),
    ("x.size(1)", 3),
    ("x.size", 24),  # numpy's meaning, kept
    ("x.dim()", 3),
    ("x.clone()", A),
    ("x.view(6, 4)", A.reshape(6, 4)),
    ("x.permute(2, 0, 1).shape", (4, 2, 3)),
    ("x.transpose(0, 1).shape", (3, 2, 4)),
    ("tg.tensor([1, 2, 3]).dtype", np.int64),
    ("tg.tensor([1.5, 2]).dtype", np.float32),
    ("tg.tensor([True, False]).dtype", np.bool_),
    ("Tensor([1, 2, 3]).dtype", np.float32),  # torch.Tensor makes floats too
    ("tg.tensor([[1, 2], [3, 4]]) * 2", np.array([[2, 4], [6, 8]])),
]


@pytest.mark.parametrize(("snippet", "expected"), SNIPPETS, ids=[s for s, _ in SNIPPETS])
def test_pytorch_snippet(snippet, expected):
    result = eval(snippet, {"x": x, "tg": tg, "Tensor": Tensor, "np": np, "F": F})
    if isinstance(result, Tensor):
        result = result.data
    if isinstance(expected, type):
        assert result == expected
    else:
        assert np.allclose(np.asarray(result, dtype=float), np.asarray(expected, dtype=float))
        assert np.shape(result) == np.shape(expected)


def test_gradients_flow_through_the_new_shape_ops():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (t.unsqueeze(0).expand(4, 2, 3).flatten(0, 1).squeeze() * 2).sum().backward()
    assert np.array_equal(t.grad.data, np.full((2, 3), 8.0))
    assert tg.gradcheck(lambda a: a.unsqueeze(1).expand(2, 5, 3).sum(dim=1), [t])


def test_manual_seed_makes_new_layers_repeatable():
    tg.manual_seed(0)
    first = nn.Linear(3, 2).weight.data.copy(), Tensor.randn(3).data.copy()
    tg.manual_seed(0)
    second = nn.Linear(3, 2).weight.data.copy(), Tensor.randn(3).data.copy()
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_train_eval_children_modules_apply():
    model = nn.MLP([3, 4, 2])
    assert model.training and not model.eval().training
    assert all(not m.training for m in model.modules())
    assert model.train().training and model[0].training
    assert [type(m).__name__ for m in model.children()] == ["Linear", "Sigmoid", "Linear",
                                                            "Sigmoid"]
    assert len(list(model.modules())) == 5

    def zero_biases(module):
        if isinstance(module, nn.Linear):
            with tg.no_grad():
                module.bias.zero_()

    assert model.apply(zero_biases) is model
    assert not model[0].bias.data.any() and not model[2].bias.data.any()


def test_zero_grad_set_to_none_false_keeps_zeroed_tensors():
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and not w.grad.data.any()
    opt.zero_grad()
    assert w.grad is None


def test_set_grad_enabled_and_inference_mode():
    w = Tensor([1.0], requires_grad=True)
    with tg.set_grad_enabled(False):
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad
    tg.set_grad_enabled(False)  # a plain call switches at once, as in PyTorch
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    with tg.inference_mode():
        assert not (w * 2).requires_grad
    assert tg.is_grad_enabled()


def test_axis_and_dim_together_are_an_error():
    with pytest.raises(TypeError, match="sum: give axis= or dim=, not both"):
        x.sum(axis=0, dim=0)
    with pytest.raises(ValueError, match="expand: a tensor of shape"):
        x.expand(3, 3, 4)
