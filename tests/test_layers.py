"""Embedding, activations as layers, containers and load_state_dict(strict=False): PyTorch's
names, arguments, shapes and numbers (values and gradients against torch, float32 and
float64), and the errors for wrong inputs."""

import warnings
from collections import OrderedDict

import numpy as np
import pytest
from torch_compare import assert_matches_torch

from tinygrad_edu import Tensor, gradcheck, manual_seed, nn
from tinygrad_edu import functional as F

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12}}


# --- Embedding --------------------------------------------------------------------------------
def ids_with_repeats(shape, rows=7, seed=0):
    return np.random.default_rng(seed).integers(0, rows, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (5,), (2, 6), (2, 3, 4)])
@pytest.mark.parametrize("padding_idx", [None, 3, -2])
def test_embedding_values_and_gradients_match_torch(torch, dtype, shape, padding_idx):
    ids = ids_with_repeats(shape)
    if padding_idx is not None:  # make sure the padding id occurs, and repeats
        ids = np.where(ids_with_repeats(shape, 3, seed=1) == 0, padding_idx % 7, ids)
    assert_matches_torch(
        lambda w: F.embedding(Tensor(ids), w, padding_idx=padding_idx),
        lambda torch, w: torch.nn.functional.embedding(torch.from_numpy(ids), w,
                                                       padding_idx=padding_idx),
        [(7, 4)], dtype, torch)


def test_embedding_gradient_adds_up_over_repeats_and_skips_the_padding_row():
    layer = nn.Embedding(5, 2, padding_idx=1)
    out = layer(Tensor(np.array([[0, 1, 0], [1, 4, 0]])))
    assert out.shape == (2, 3, 2)
    out.backward(np.ones(out.shape, np.float32))
    np.testing.assert_array_equal(layer.weight.grad.data[:, 0], [3, 0, 0, 0, 1])


def test_embedding_padding_row_is_its_value_in_the_forward(torch):
    weight = np.arange(12, dtype=np.float64).reshape(4, 3)  # a non-zero padding row
    ours = F.embedding(Tensor(np.array([2, 0])), Tensor(weight), padding_idx=2)
    theirs = torch.nn.functional.embedding(torch.tensor([2, 0]), torch.from_numpy(weight),
                                           padding_idx=2)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_embedding_layer_starts_like_pytorch_and_prints_like_it(torch):
    manual_seed(0)
    layer = nn.Embedding(1000, 200, padding_idx=-1)
    assert layer.weight.shape == (1000, 200) and layer.weight.dtype == np.float32
    assert layer.padding_idx == 999 == torch.nn.Embedding(1000, 2, padding_idx=-1).padding_idx
    np.testing.assert_array_equal(layer.weight.data[999], 0)
    assert abs(layer.weight.data[:999].mean()) < 0.01  # N(0, 1): 199,800 draws
    assert layer.weight.data[:999].std() == pytest.approx(1.0, rel=0.01)
    assert repr(layer) == repr(torch.nn.Embedding(1000, 200, padding_idx=-1))
    assert repr(nn.Embedding(27, 10)) == repr(torch.nn.Embedding(27, 10)) == "Embedding(27, 10)"
    assert list(layer.state_dict()) == list(torch.nn.Embedding(3, 2).state_dict()) == ["weight"]
    assert nn.Embedding(3, 2, dtype=np.float64).weight.dtype == np.float64


def test_embedding_from_pretrained_keeps_the_rows_and_freezes():
    rows = np.arange(6.0).reshape(3, 2)
    frozen = nn.Embedding.from_pretrained(Tensor(rows))
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(Tensor(np.array([2]))).data, [[4.0, 5.0]])
    assert nn.Embedding.from_pretrained(rows, freeze=False).weight.requires_grad


def test_embedding_gradcheck():
    ids = Tensor(np.array([[0, 2, 2], [1, 0, 3]]))
    weight = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    # (no padding_idx: its zero gradient is by design not the numeric one; torch checks it)
    assert gradcheck(lambda w: F.embedding(ids, w), [weight], eps=1e-6, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda e: e(Tensor(np.array([1, 10]))), IndexError, r"^Embedding: index 10 is out of range "
     r"for 10 embeddings \(indices must lie in \[0, 9\]\)"),
    (lambda e: e(Tensor(np.array([-1, 2]))), IndexError, r"^Embedding: index -1 is out of range"),
    (lambda e: e(Tensor([1.0, 2.0])), TypeError, r"^Embedding: indices must be integers.*got "
     r"float32; convert with ids.to\(np.int64\)"),
    (lambda e: e(Tensor(np.array([True]))), TypeError, r"^Embedding: indices .* got bool"),
    (lambda e: e([1, 2]), TypeError, r"^Embedding: the input must be a Tensor, got list"),
    (lambda e: F.embedding(Tensor(np.array([12])), e.weight), IndexError, r"^embedding: index 12"),
    (lambda e: F.embedding(Tensor(np.array([1])), Tensor(np.ones(3))), ValueError,
     r"^embedding: weight must be 2-D .* got shape \(3,\)"),
    (lambda e: F.embedding(Tensor(np.array([1])), e.weight, max_norm=1.0), NotImplementedError,
     r"^embedding: max_norm is not supported"),
    (lambda e: nn.Embedding(10, 4, padding_idx=10), ValueError,
     r"^Embedding: padding_idx must be within num_embeddings \(-10 ≤ padding_idx < 10\), got 10"),
    (lambda e: nn.Embedding(10, 4, padding_idx=1.0), TypeError, r"padding_idx must be an int"),
    (lambda e: nn.Embedding(10, 4, sparse=True), NotImplementedError, r"sparse=False"),
    (lambda e: nn.Embedding(10.0, 4), TypeError,
     r"^Embedding: num_embeddings must be an int, got float 10.0; write 10"),
    (lambda e: nn.Embedding(10, 4.5), TypeError, r"^Embedding: embedding_dim must be an int"),
    (lambda e: nn.Embedding(10, -4), ValueError,
     r"^Embedding: embedding_dim must be an int ≥ 0, got -4"),
])
def test_embedding_wrong_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call(nn.Embedding(10, 4))


def test_wrong_inputs_raise_where_pytorch_raises(torch):
    """The error types are PyTorch's where it has a meaningful one (TypeError for a float
    size, IndexError for an id out of range)."""
    for make, ours in [(lambda m: m.Embedding(10.0, 4), TypeError),
                       (lambda m: m.Linear(784.0, 16), TypeError),
                       (lambda m: m.Linear(784, 16.0), TypeError),
                       (lambda m: m.Embedding(10, 4)(torch.tensor([10])), IndexError)]:
        with pytest.raises(ours):
            make(torch.nn)
    with pytest.raises(TypeError, match=r"^Linear: in_features must be an int, got float 784.0"):
        nn.Linear(784.0, 16)
    with pytest.raises(TypeError, match=r"^Linear: out_features must be an int, got str"):
        nn.Linear(784, "16")
    with pytest.raises(IndexError):
        nn.Embedding(10, 4)(Tensor(np.array([10])))


# --- activations as layers --------------------------------------------------------------------
ACTIVATIONS = {  # our layer, PyTorch's layer (the same arguments), an input shape
    "GELU": (lambda m: m.GELU(), (3, 4)),
    "GELU-tanh": (lambda m: m.GELU(approximate="tanh"), (3, 4)),
    "SiLU": (lambda m: m.SiLU(), (3, 4)),
    "Softplus": (lambda m: m.Softplus(), (3, 4)),
    "Softplus-beta": (lambda m: m.Softplus(beta=2.0, threshold=1.5), (3, 4)),
    "LeakyReLU": (lambda m: m.LeakyReLU(), (3, 4)),
    "LeakyReLU-0.2": (lambda m: m.LeakyReLU(0.2), (3, 4)),
    "ELU": (lambda m: m.ELU(), (3, 4)),
    "ELU-alpha": (lambda m: m.ELU(alpha=0.5), (3, 4)),
    "Softmax": (lambda m: m.Softmax(dim=1), (2, 3, 4)),
    "Softmax-neg": (lambda m: m.Softmax(-1), (2, 3, 4)),
    "LogSoftmax": (lambda m: m.LogSoftmax(dim=0), (2, 3, 4)),
    "Identity": (lambda m: m.Identity(54, unused="ignored"), (3, 4)),
    "ReLU": (lambda m: m.ReLU(), (3, 4)),
    "Sigmoid": (lambda m: m.Sigmoid(), (3, 4)),
    "Tanh": (lambda m: m.Tanh(), (3, 4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layers_match_torch(torch, name, dtype):
    make, shape = ACTIVATIONS[name]
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype) * 3
    seed = np.random.default_rng(1).standard_normal(shape).astype(dtype)  # output gradient
    mine, their = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(mine), theirs(their)
    (out * Tensor(seed)).sum().backward()
    (expected * torch.from_numpy(seed)).sum().backward()
    assert out.dtype == dtype and mine.grad.dtype == dtype
    # (float64: 1e-10, as exact GELU's Φ is our own erfc, good to ~1e-12 relative)
    tolerance = {"rtol": 1e-10, "atol": 1e-14} if dtype == np.float64 else TOLERANCE[dtype]
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **tolerance)
    np.testing.assert_allclose(mine.grad.data, their.grad.numpy(), **tolerance)


def test_identity_returns_its_input():
    x = Tensor([1.0, 2.0])
    assert nn.Identity()(x) is x


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_without_dim_takes_pytorchs_old_choice_and_warns(torch, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    for ours, theirs in [(nn.Softmax(), torch.nn.Softmax()),
                         (nn.LogSoftmax(), torch.nn.LogSoftmax())]:
        with pytest.warns(UserWarning, match="implicit dimension choice"):
            mine = ours(Tensor(x)).data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(mine, theirs(torch.from_numpy(x)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("layer", ["ReLU", "SiLU", "LeakyReLU", "ELU"])
def test_inplace_is_refused_in_words(layer):
    with pytest.raises(ValueError, match=rf"^{layer}: inplace=True is not supported.*"
                       rf"write {layer}\(\)"):
        getattr(nn, layer)(inplace=True)


def test_gelu_layer_rejects_an_unknown_approximation():
    with pytest.raises(ValueError, match=r"GELU: approximate must be 'none' or 'tanh', got 'x'"):
        nn.GELU("x")


# --- containers -------------------------------------------------------------------------------
def transformer_like(m):
    """The same model built from our nn or torch.nn (`m`): containers nested three ways."""

    class Block(m.Module):
        def __init__(self):
            super().__init__()
            self.layers = m.ModuleList([m.Linear(4, 4), m.GELU(), m.Linear(4, 4)])
            self.heads = m.ModuleDict({"b": m.Linear(4, 2), "a": m.Linear(4, 3)})

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.embed = m.Embedding(5, 4)
            self.blocks = m.ModuleList(Block() for _ in range(2))
            self.out = m.Sequential(OrderedDict(norm=m.Identity(), proj=m.Linear(4, 5)))

    return Net()


def test_containers_name_parameters_as_pytorch(torch):
    ours, theirs = transformer_like(nn), transformer_like(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours) == repr(theirs)
    assert "blocks.1.heads.a.weight" in ours.state_dict()


def test_module_list_behaves_as_pytorchs(torch):
    for m in (nn, torch.nn):
        a, b, c, d = m.Linear(1, 1), m.ReLU(), m.Tanh(), m.Sigmoid()
        blocks = m.ModuleList([a])
        blocks.append(b)
        blocks.extend([c])
        blocks.insert(0, d)
        assert list(blocks) == [d, a, b, c] and len(blocks) == 4
        assert blocks[-1] is c and blocks[1] is a
        part = blocks[1:3]
        assert type(part).__name__ == "ModuleList" and list(part) == [a, b]
        assert list(part.state_dict()) == ["0.weight", "0.bias"]  # numbered again
        assert blocks.pop(0) is d and len(blocks) == 3
        blocks[2] = d
        del blocks[1]
        assert list(blocks) == [a, d]
        blocks += [c]
        assert list(blocks) == [a, d, c]
        assert list(blocks.state_dict()) == ["0.weight", "0.bias"]
    ours = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    assert repr(ours) == repr(theirs)  # "(0-2): 3 x Linear(…)"
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_module_dict_behaves_as_pytorchs(torch):
    for m in (nn, torch.nn):
        heads = m.ModuleDict({"b": m.Linear(1, 2), "a": m.ReLU()})
        heads["c"] = m.Linear(2, 1)
        heads.update([("d", m.Tanh())])
        heads.update({"b": m.Linear(1, 3)})  # replacing keeps the place
        assert list(heads) == list(heads.keys()) == ["b", "a", "c", "d"]
        assert [k for k, _ in heads.items()] == ["b", "a", "c", "d"]
        assert len(heads) == 4 and "a" in heads and "z" not in heads
        assert heads.b is heads["b"] and heads["b"].out_features == 3
        assert list(heads.state_dict()) == ["b.weight", "b.bias", "c.weight", "c.bias"]
        assert type(heads.pop("a")).__name__ == "ReLU"
        del heads["d"]
        assert list(heads.values()) == [heads["b"], heads["c"]]
        heads.clear()
        assert len(heads) == 0


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: nn.ModuleDict({"keys": nn.ReLU()}), KeyError, r"attribute 'keys' already exists"),
    (lambda: nn.ModuleDict({"a.b": nn.ReLU()}), KeyError, r"contain \"\.\" or be empty"),
    (lambda: nn.ModuleDict({1: nn.ReLU()}), TypeError, r"module name should be a string"),
    (lambda: nn.ModuleList([1]), TypeError, r"^ModuleList: int 1 is not a Module subclass"),
    (lambda: nn.Sequential(lambda x: x), TypeError, r"^Sequential: function .* is not a Module"),
    (lambda: nn.ModuleList([nn.ReLU()])[3], IndexError, r"index 3 is out of range for 1 modules"),
    (lambda: nn.Sequential(nn.ReLU())[-2], IndexError, r"index -2 is out of range"),
    (lambda: nn.ModuleDict({"a": nn.ReLU()})["b"], KeyError, r"'b'"),
    (lambda: nn.ModuleList([nn.ReLU()])["0"], TypeError, r"indices must be integers"),
    (lambda: nn.ModuleList([nn.ReLU()])(Tensor([1.0])), NotImplementedError, r"no forward"),
])
def test_container_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_sequential_slicing_appending_and_named_modules_as_pytorch(torch):
    for m in (nn, torch.nn):
        model = m.Sequential(m.Linear(2, 3), m.Tanh(), m.Linear(3, 1))
        tail = model[1:]
        assert type(tail).__name__ == "Sequential" and len(tail) == 2
        assert list(tail.state_dict()) == ["2.weight", "2.bias"]  # PyTorch keeps the names
        assert model[-1] is model[2] and next(iter(model)) is model[0]
        model.append(m.Sigmoid())
        assert len(model) == 4 and type(model[3]).__name__ == "Sigmoid"
        named = m.Sequential(OrderedDict([("hidden", m.Linear(2, 2)), ("act", m.ReLU())]))
        assert named.hidden is named[0] and list(named.state_dict()) == ["hidden.weight",
                                                                         "hidden.bias"]
        del model[0]
        assert list(model.state_dict()) == ["1.weight", "1.bias"]  # numbered again
    ours = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    assert repr(ours[1:]) == repr(theirs[1:])
    x = Tensor(np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(ours[1:](ours[0](x)).data, ours(x).data)


# --- load_state_dict(strict=False) ---------------------------------------------------------------
def test_load_state_dict_not_strict_loads_what_matches_and_reports_the_rest(torch):
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    weight = np.arange(6.0).reshape(3, 2)
    result = model.load_state_dict({"0.weight": weight, "extra": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(model[0].weight.data, weight)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert result.unexpected_keys == ["extra"]
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)).load_state_dict(
        {"0.weight": torch.from_numpy(weight).float(), "extra": torch.zeros(1)}, strict=False)
    assert tuple(result) == (theirs.missing_keys, theirs.unexpected_keys)
    assert result._fields == theirs._fields == ("missing_keys", "unexpected_keys")
    assert repr(model.load_state_dict(model.state_dict())) == "<All keys matched successfully>"


def test_load_state_dict_strict_names_both_lists_and_changes_nothing():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = model.state_dict()
    state = {"0.weight": np.zeros((3, 2)), "extra": np.zeros(1)}
    with pytest.raises(RuntimeError, match=r"^load_state_dict for Sequential: missing keys "
                       r"\['0.bias', '1.weight', '1.bias'\], unexpected keys \['extra'\]"):
        model.load_state_dict(state)
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(2, 2\)"):  # strict or not
        model.load_state_dict({"0.weight": np.zeros((2, 2)), "1.bias": np.zeros(1)},
                              strict=False)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


# --- makemore's MLP: the state_dict both ways -----------------------------------------------------
def makemore_mlp(m, dtype):
    """Embedding → flatten → Linear → Tanh → Linear (Karpathy's makemore part 2)."""
    return m.Sequential(m.Embedding(27, 10, dtype=dtype), m.Flatten(),
                        m.Linear(30, 64, dtype=dtype), m.Tanh(), m.Linear(64, 27, dtype=dtype))


def outputs_and_gradients(model, ids, targets, cross_entropy):
    logits = model(ids)
    loss = cross_entropy(logits, targets)
    loss.backward()
    return logits, {n: p.grad for n, p in model.named_parameters()}


def test_makemore_mlp_state_dict_moves_to_torch_and_back(torch):
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 27, (32, 3)), rng.integers(0, 27, 32)
    ours = makemore_mlp(nn, np.float64)
    theirs = makemore_mlp(torch.nn, torch.float64)
    for source, target, direction in [(ours, theirs, "to torch"), (theirs, ours, "back")]:
        state = source.state_dict()
        if direction == "to torch":
            target.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        else:
            target.load_state_dict({k: v.numpy() for k, v in state.items()})
        mine, my_grads = outputs_and_gradients(ours, Tensor(ids), targets, nn.cross_entropy)
        their, their_grads = outputs_and_gradients(
            theirs, torch.from_numpy(ids), torch.from_numpy(targets),
            torch.nn.functional.cross_entropy)
        np.testing.assert_allclose(mine.data, their.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert list(my_grads) == list(their_grads)
        for name, grad in my_grads.items():
            np.testing.assert_allclose(grad.data, their_grads[name].numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=f"{direction}: {name}")
        ours.zero_grad()
        theirs.zero_grad()
        with torch.no_grad():  # new weights in torch, for the way back
            for p in theirs.parameters():
                p.add_(0.1 * torch.randn_like(p))


def test_an_embedding_step_replays_under_jit_as_eager():
    """The ids are a step's argument: a replay must read the new ids (and keep the padding
    row out of training), leaving exactly the eager parameters."""
    import tinygrad_edu as tg

    def train(use_jit):
        manual_seed(0)
        model = nn.Sequential(nn.Embedding(7, 3, padding_idx=2), nn.Flatten(), nn.Linear(6, 4))
        optimizer = tg.optim.SGD(model.parameters(), lr=0.1)

        def step(ids, targets):
            optimizer.zero_grad()
            loss = nn.cross_entropy(model(ids), targets)
            loss.backward()
            optimizer.step()
            return loss

        run = tg.jit(step) if use_jit else step
        rng = np.random.default_rng(1)
        for _ in range(6):
            run(Tensor(rng.integers(0, 7, (5, 2))), Tensor(rng.integers(0, 4, 5)))
        return model.state_dict()

    eager, replayed = train(False), train(True)
    for key, value in eager.items():
        np.testing.assert_array_equal(replayed[key], value)
    np.testing.assert_array_equal(replayed["0.weight"][2], 0)


def test_dropout_masks_follow_a_manual_seed_set_after_the_model_was_built():
    layer = nn.Dropout(0.5)
    x = Tensor(np.ones(64))
    manual_seed(3)
    first = layer(x).data.copy()
    manual_seed(3)
    np.testing.assert_array_equal(layer(x).data, first)  # the same seed, the same mask
    assert not np.array_equal(layer(x).data, first)  # the stream goes on
