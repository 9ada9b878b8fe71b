"""Forward hooks on modules, as PyTorch's: register_forward_pre_hook and
register_forward_hook, their return values replacing arguments and outputs, the order of
several, removal by handle (also as a context manager), and a jit step recording again
when a hook is added or removed. Then the same hooks against PyTorch's."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, optim
from tinygrad_edu import functional as F


def net():
    return nn.Sequential(nn.Linear(4, 3, seed=0), nn.Tanh(), nn.Linear(3, 2, seed=1))


def test_a_forward_hook_sees_each_call_and_removing_it_restores_the_layer():
    model, x = net(), Tensor(np.ones((5, 4), np.float32))
    seen = []
    handle = model[1].register_forward_hook(lambda m, args, out: seen.append((m, args, out)))
    out = model(x)
    assert len(seen) == 1 and seen[0][0] is model[1]
    np.testing.assert_array_equal(seen[0][2].data, np.tanh(model[0](x).data))
    assert type(model[1]) is not nn.Tanh and isinstance(model[1], nn.Tanh)
    assert repr(model[1]) == "Tanh()"
    handle.remove()
    handle.remove()  # (a second remove does nothing)
    model(x)
    assert len(seen) == 1 and type(model[1]) is nn.Tanh
    np.testing.assert_array_equal(model(x).data, out.data)


def test_hooks_replace_arguments_and_outputs_in_the_order_they_were_added():
    layer, x = nn.Linear(4, 3, seed=0), Tensor(np.ones((2, 4), np.float32))
    plain = layer(x).data
    order = []
    with layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,)), \
            layer.register_forward_pre_hook(lambda m, args: order.append("pre")), \
            layer.register_forward_hook(lambda m, args, out: out + 1), \
            layer.register_forward_hook(lambda m, args, out: order.append(args[0].data[0, 0])):
        hooked = layer(x).data
    np.testing.assert_allclose(hooked, layer(x * 2).data + 1, rtol=1e-6)
    assert order == ["pre", 2.0]  # the later hook saw the replaced argument
    np.testing.assert_array_equal(layer(x).data, plain)  # all removed on leaving the with
    assert type(layer) is nn.Linear


def test_a_pre_hook_may_return_one_value_and_a_hook_must_be_a_function():
    layer = nn.Tanh()
    layer.register_forward_pre_hook(lambda m, args: args[0] * 0)
    assert not layer(Tensor(np.ones(3))).data.any()
    with pytest.raises(TypeError, match="Tanh: a hook must be a function, got"):
        layer.register_forward_hook("print")


def test_gradients_flow_through_a_hook_that_changes_the_output():
    layer = nn.Linear(3, 2, seed=0)
    layer.register_forward_hook(lambda m, args, out: out * 3)
    layer(Tensor(np.ones((1, 3)))).sum().backward()
    np.testing.assert_allclose(layer.bias.grad.data, [3.0, 3.0])


def test_a_jit_step_records_again_when_a_hook_is_added_or_removed():
    model = net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x, y = Tensor(np.ones((5, 4), np.float32)), Tensor(np.zeros((5, 2), np.float32))

    def loss_of_step(x, y):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    step = tg.jit(loss_of_step)
    before = step(x, y).item()
    handle = model[2].register_forward_hook(lambda m, args, out: out * 0)  # predicts 0
    assert step(x, y).item() == 0.0  # not a replay of the record without the hook
    handle.remove()
    assert step(x, y).item() > 0.0
    assert before > 0.0


@pytest.mark.torch
def test_hooks_do_what_pytorchs_do(torch):
    ours, theirs = nn.Linear(4, 3, seed=0), torch.nn.Linear(4, 3)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    for layer in (ours, theirs):
        layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        layer.register_forward_hook(lambda m, args, out: out.tanh() + args[0].sum())
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5)
