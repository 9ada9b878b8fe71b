"""nn: parameter discovery, the seed network's shape, state dicts, saving, losses."""

import numpy as np
import pytest
from hypothesis import given

from tinygrad_edu import Tensor, gradcheck, nn
from tinygrad_edu.testing import tensors


def test_the_seed_network_has_13002_parameters_and_pytorch_keys():
    model = nn.MLP([784, 16, 16, 10])
    assert model.num_parameters() == 13_002
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert state["0.weight"].shape == (16, 784)  # (outputs, inputs): row j = neuron j
    assert state["4.bias"].shape == (10,)
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid"] * 3


def test_mlp_forward_is_sigmoid_of_w_a_plus_b_layer_by_layer():
    model = nn.MLP([5, 4, 3], seed=1, dtype=np.float64)
    x = np.random.default_rng(2).random((2, 5))
    a = x
    for layer in (model[0], model[2]):
        a = 1 / (1 + np.exp(-(a @ layer.weight.data.T + layer.bias.data)))
    np.testing.assert_allclose(model(Tensor(x)).data, a, rtol=1e-12)


def test_mlp_activation_options():
    logits_model = nn.MLP([4, 3, 2], activation="relu", output_activation=None)
    assert [type(m).__name__ for m in logits_model] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in nn.MLP([4, 2], activation=nn.Tanh,
                                             output_activation=nn.Tanh)] == ["Linear", "Tanh"]
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([4, 2], activation="swish")


def test_repr_prints_the_tree_like_pytorch():
    assert repr(nn.MLP([784, 16, 10])) == (
        "MLP(\n"
        "  (0): Linear(in_features=784, out_features=16, bias=True)\n"
        "  (1): Sigmoid()\n"
        "  (2): Linear(in_features=16, out_features=10, bias=True)\n"
        "  (3): Sigmoid()\n"
        ")")


def test_parameters_found_in_attributes_lists_and_dicts():
    class Net(nn.Module):
        def __init__(self):
            self.first = nn.Linear(3, 2)
            self.blocks = [nn.Linear(2, 2), nn.Sigmoid()]
            self.heads = {"a": nn.Linear(2, 1)}
            self.scale = nn.Parameter(np.ones(1))
            self.shared = self.first  # the same layer twice counts once

    names = [name for name, _ in Net().named_parameters()]
    assert names == ["first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
                     "heads.a.weight", "heads.a.bias", "scale"]


def test_parameters_are_named_after_their_keys():
    assert [p.name for p in nn.MLP([3, 2, 1]).parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]


def test_initialisers():
    rng = np.random.default_rng(0)
    xavier = nn.Linear(784, 16, seed=rng)
    assert np.abs(xavier.weight.data).max() <= np.sqrt(6 / 800)
    assert np.all(xavier.bias.data == 0)
    lecun = nn.Linear(400, 300, init="lecun", seed=rng)
    assert lecun.weight.data.std() == pytest.approx(1 / 20, rel=0.05)
    nielsen = nn.Linear(400, 300, init="nielsen", seed=rng)
    assert nielsen.weight.data.std() == pytest.approx(1, rel=0.05)
    assert nielsen.bias.data.std() == pytest.approx(1, rel=0.3)
    with pytest.raises(ValueError, match="init"):
        nn.Linear(2, 2, init="he")


def test_seeded_networks_are_reproducible():
    a, b = nn.MLP([6, 4, 2], seed=3), nn.MLP([6, 4, 2], seed=3)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(x.data, y.data)


def test_zero_grad():
    model = nn.MLP([3, 2])
    nn.mse_loss(model(Tensor(np.ones((1, 3)))), Tensor(np.zeros((1, 2)))).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# --- state dicts, save and load ---------------------------------------------------------
def test_state_dict_round_trip():
    source, target = nn.MLP([4, 3, 2], seed=0), nn.MLP([4, 3, 2], seed=1)
    target.load_state_dict(source.state_dict())
    x = Tensor(np.ones((1, 4)))
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_state_dict_errors_name_the_key_and_change_nothing():
    model = nn.MLP([4, 3, 2], seed=0)
    before = model.state_dict()
    wrong_shape = dict(before, **{"2.weight": np.zeros((5, 3))})
    with pytest.raises(ValueError, match=r"'2.weight'.*\(5, 3\).*\(2, 3\)"):
        model.load_state_dict(wrong_shape)
    missing = {k: v for k, v in before.items() if k != "0.bias"}
    with pytest.raises(RuntimeError, match=r"missing keys \['0.bias'\]"):
        model.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r"unexpected keys \['extra'\]"):
        model.load_state_dict(dict(before, extra=np.zeros(1)))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_save_and_load(tmp_path):
    path = tmp_path / "model.npz"
    source = nn.MLP([784, 16, 16, 10], seed=0)
    nn.save(source, path)
    target = nn.load(nn.MLP([784, 16, 16, 10], seed=5), path)
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, source.state_dict()[key])
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left


@pytest.mark.parametrize("content", ["truncated", "foreign", "pickle", "single-array"])
def test_load_rejects_bad_files_and_leaves_the_module_unchanged(tmp_path, content):
    path = tmp_path / "model.npz"
    nn.save(nn.MLP([4, 3], seed=0), path)
    if content == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif content == "foreign":
        path.write_text("these are not the weights you are looking for")
    elif content == "pickle":
        import pickle

        path.write_bytes(pickle.dumps({"0.weight": np.zeros((3, 4))}))
    else:
        np.save(path.with_suffix(".npy"), np.zeros(3))
        path.with_suffix(".npy").rename(path)
    model = nn.MLP([4, 3], seed=1)
    before = model.state_dict()
    with pytest.raises(ValueError, match="nn.load"):
        nn.load(model, path)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_save_does_not_destroy_the_old_file_when_it_fails(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save(nn.MLP([4, 3], seed=0), path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.save(nn.MLP([4, 3], seed=1), path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_weights_load_into_torch_and_give_the_same_outputs(torch):
    """Cross-check with PyTorch itself where it is installed (it is not a dependency)."""
    model = nn.MLP([784, 16, 16, 10], seed=0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(784, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 16),
        torch.nn.Sigmoid(), torch.nn.Linear(16, 10), torch.nn.Sigmoid())
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


# --- losses --------------------------------------------------------------------------------
def test_mse_loss_values():
    prediction = Tensor([[0.5, 1.0], [0.0, 2.0]])
    target = Tensor([[0.0, 1.0], [1.0, 1.0]])
    assert nn.mse_loss(prediction, target).item() == pytest.approx(2.25 / 4)
    assert nn.mse_loss(prediction, target, reduction="sum").item() == pytest.approx(2.25)
    with pytest.warns(UserWarning, match=r"mse_loss.*\(2,\).*\(2, 2\).*broadcasting"):
        broadcast = nn.mse_loss(prediction, Tensor([1.0, 2.0]))  # (as PyTorch: a warning)
    assert broadcast.item() == pytest.approx((0.25 + 1 + 1 + 0) / 4)


def test_cross_entropy_values_and_stability():
    logits = Tensor(np.array([[2.0, 1.0, 0.1], [1e4, -1e4, 0.0]]), requires_grad=True)
    loss = nn.cross_entropy(logits, [0, 0])
    p = np.exp([2.0, 1.0, 0.1]) / np.exp([2.0, 1.0, 0.1]).sum()
    assert loss.item() == pytest.approx(-np.log(p[0]) / 2)
    loss.backward()
    np.testing.assert_allclose(logits.grad.data[0], (p - [1, 0, 0]) / 2)
    assert np.all(np.isfinite(logits.grad.data))


def test_cross_entropy_rejects_bad_labels():
    logits = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        nn.cross_entropy(logits, [0, 3])
    with pytest.raises(ValueError, match="integer"):
        nn.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        nn.cross_entropy(logits, [0, 1, 2])


@given(logits=tensors((3, 4)))
def test_cross_entropy_gradcheck(logits):
    assert gradcheck(lambda t: nn.cross_entropy(t, [0, 3, 1]), [logits], atol=1e-6, rtol=1e-4)


def test_loss_modules_match_the_functions():
    p, y = Tensor([[0.2, 0.9]]), Tensor([[0.0, 1.0]])
    assert nn.MSELoss()(p, y).item() == nn.mse_loss(p, y).item()
    assert nn.CrossEntropyLoss()(p, [1]).item() == nn.cross_entropy(p, [1]).item()


# --- a layer given a numpy array, a list or a number says to pass a Tensor --------------------
EVERY_LAYER_ON_ITS_INPUT = {  # each layer taking a tensor, and an input of the shape it takes
    "Linear": (lambda: nn.Linear(2, 3), (1, 2)),
    "Sigmoid": (nn.Sigmoid, (1, 2)),
    "ReLU": (nn.ReLU, (1, 2)),
    "Tanh": (nn.Tanh, (1, 2)),
    "Sequential": (lambda: nn.Sequential(nn.Linear(2, 2)), (1, 2)),
    "MLP": (lambda: nn.MLP([2, 3]), (1, 2)),
    "Conv2d": (lambda: nn.Conv2d(1, 2, 3), (1, 1, 4, 4)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (1, 1, 4, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (1, 1, 4, 4)),
    "Flatten": (nn.Flatten, (1, 2, 2)),
    "Dropout": (nn.Dropout, (1, 2)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(2), (3, 2)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(1), (2, 1, 2, 2)),
    "LayerNorm": (lambda: nn.LayerNorm(2), (1, 2)),
    "GELU": (nn.GELU, (1, 2)),
    "SiLU": (nn.SiLU, (1, 2)),
    "Softplus": (nn.Softplus, (1, 2)),
    "LeakyReLU": (nn.LeakyReLU, (1, 2)),
    "ELU": (nn.ELU, (1, 2)),
    "Softmax": (lambda: nn.Softmax(dim=1), (1, 2)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), (1, 2)),
    "Identity": (nn.Identity, (1, 2)),
    "Embedding": (lambda: nn.Embedding(3, 2), (1, 2), np.int64),  # (its input: integer ids)
    "Conv1d": (lambda: nn.Conv1d(1, 2, 3), (1, 1, 4)),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), (1, 1, 4)),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), (1, 1, 4)),
    "RNN": (lambda: nn.RNN(2, 3), (1, 2)),
    "GRU": (lambda: nn.GRU(2, 3), (1, 2)),
    "LSTM": (lambda: nn.LSTM(2, 3), (1, 2)),
    "RNNCell": (lambda: nn.RNNCell(2, 3), (1, 2)),
    "GRUCell": (lambda: nn.GRUCell(2, 3), (1, 2)),
    "LSTMCell": (lambda: nn.LSTMCell(2, 3), (1, 2)),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(4, 2, 8), (1, 4),
                                np.float32, "src"),  # (PyTorch's name of its input)
    "TransformerEncoder": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2),
                           (1, 4), np.float32, "src"),
}
NOT_ONE_INPUT = {"Module", "ModuleList", "ModuleDict",  # (no forward of their own)
                 "MultiheadAttention"}  # (query, key, value: tested in test_attention.py)


def test_every_layer_that_takes_a_tensor_is_in_the_list():
    layers = {name for name in nn.__all__ if isinstance(getattr(nn, name), type)
              and issubclass(getattr(nn, name), nn.Module)}
    losses = {name for name in layers if name.endswith("Loss")}  # (prediction, target)
    assert layers - NOT_ONE_INPUT - losses == set(EVERY_LAYER_ON_ITS_INPUT)


@pytest.mark.parametrize("name", sorted(EVERY_LAYER_ON_ITS_INPUT))
def test_a_layer_given_a_numpy_array_or_a_list_says_to_pass_a_tensor(name):
    entry = EVERY_LAYER_ON_ITS_INPUT[name]
    make, shape, dtype, argument = (*entry, *(np.float32, "input")[len(entry) - 2:])
    layer, values = make(), np.ones(shape, dtype)
    assert layer(Tensor(values)) is not None  # a Tensor works (RNNs give tuples)
    with pytest.raises(TypeError, match=rf"^{name}: the {argument} must be a Tensor, got a "
                       rf"numpy array of shape \({shape[0]}, .*; pass Tensor\(x\) instead of x"):
        layer(values)
    with pytest.raises(TypeError, match=rf"^{name}: the {argument} must be a Tensor, got list"):
        layer(values.tolist())
    with pytest.raises(TypeError, match=rf"^{name}: the {argument} must be a Tensor, got float"):
        layer(1.0)


def test_loss_modules_given_arrays_say_which_argument_to_wrap():
    with pytest.raises(TypeError, match="^MSELoss: the prediction must be a Tensor, got a numpy"):
        nn.MSELoss()(np.ones(2), Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="^CrossEntropyLoss: the logits must be a Tensor, got list"):
        nn.CrossEntropyLoss()([[1.0, 2.0]], [1])
