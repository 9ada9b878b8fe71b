"""RNN, GRU, LSTM and their cells against PyTorch: values of the output and the final
states, gradients of the input, the initial states and every parameter (float32 and
float64), for every option; state_dicts moving both ways; gradchecks; wrong inputs."""

import warnings

import numpy as np
import pytest

from tinygrad_edu import Tensor, func, gradcheck, gradgradcheck, manual_seed, nn
from tinygrad_edu.nn.recurrent import LSTMCellOp, LSTMLayerOp, gru_step, lstm_step
from tinygrad_edu.ops import stack

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-6},
             np.float64: {"rtol": 1e-10, "atol": 1e-12}}
L, BATCH, IN, HIDDEN = 4, 3, 5, 4
KINDS = ["RNN", "RNN-relu", "GRU", "LSTM"]


def pair(torch, kind, dtype, cell=False, **options):
    """Our layer of `kind` and PyTorch's, with our starting weights loaded into PyTorch's
    (so every comparison also tests that our state_dict fits PyTorch's)."""
    name = kind.removesuffix("-relu") + ("Cell" if cell else "")
    if kind == "RNN-relu":
        options["nonlinearity"] = "relu"
    ours = getattr(nn, name)(IN, HIDDEN, **options, dtype=dtype, seed=0)
    theirs = getattr(torch.nn, name)(IN, HIDDEN, **options).to(getattr(torch, dtype.__name__))
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def flat(result):
    """(output, (h, c)) → [output, h, c]."""
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in flat(item)]
    return [result]


def compare(torch, ours, theirs, inputs, dtype, state_is_pair=False):
    """Run both on the same inputs [x, h0 (, c0)]; compare every output, then the gradients
    of a random vector–Jacobian product for every input and parameter."""
    rng = np.random.default_rng(1)
    arrays = [None if shape is None else rng.standard_normal(shape).astype(dtype)
              for shape in inputs]
    mine = [None if a is None else Tensor(a, requires_grad=True) for a in arrays]
    their = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    if state_is_pair:
        mine_out = ours(mine[0], None if mine[1] is None else (mine[1], mine[2]))
        their_out = theirs(their[0], None if their[1] is None else (their[1], their[2]))
    else:
        mine_out = ours(*[t for t in mine if t is not None])
        their_out = theirs(*[t for t in their if t is not None])
    loss, their_loss = 0, 0
    for result, reference in zip(flat(mine_out), flat(their_out), strict=True):
        assert result.shape == tuple(reference.shape) and result.dtype == dtype
        np.testing.assert_allclose(result.data, reference.detach().numpy(), **TOLERANCE[dtype])
        v = rng.standard_normal(result.shape).astype(dtype)
        loss = loss + (result * Tensor(v)).sum()
        their_loss = their_loss + (reference * torch.from_numpy(v)).sum()
    loss.backward()
    their_loss.backward()
    for x, t in zip(mine, their, strict=True):
        if x is not None:
            assert x.grad.dtype == dtype and x.grad.shape == x.shape
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), **TOLERANCE[dtype])
    their_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(their_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, their_params[name].grad.numpy(),
                                   **TOLERANCE[dtype], err_msg=name)


# --- the sequence layers ----------------------------------------------------------------------
OPTIONS = {
    "defaults": {},
    "two layers": {"num_layers": 2},
    "no bias": {"bias": False, "num_layers": 2},
    "batch_first": {"batch_first": True},
    "bidirectional": {"bidirectional": True},
    "bidirectional, 3 layers, batch_first": {"bidirectional": True, "num_layers": 3,
                                             "batch_first": True},
    "dropout in eval mode": {"dropout": 0.5, "num_layers": 2},
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("initial_state", [False, True])
def test_layer_matches_torch(torch, kind, option, dtype, initial_state):
    ours, theirs = pair(torch, kind, dtype, **OPTIONS[option])
    ours.eval(), theirs.eval()
    layers = ours.num_layers * ours.directions
    x = (BATCH, L, IN) if ours.batch_first else (L, BATCH, IN)
    state = (layers, BATCH, HIDDEN) if initial_state else None
    compare(torch, ours, theirs, [x, state] + ([state] if kind == "LSTM" else []), dtype,
            state_is_pair=kind == "LSTM")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("initial_state", [False, True])
@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True,
                                          "batch_first": True}])
def test_unbatched_sequence_matches_torch(torch, kind, dtype, initial_state, options):
    ours, theirs = pair(torch, kind, dtype, **options)
    layers = ours.num_layers * ours.directions
    state = (layers, HIDDEN) if initial_state else None  # (batch_first: no batch to move)
    compare(torch, ours, theirs, [(L, IN), state] + ([state] if kind == "LSTM" else []),
            dtype, state_is_pair=kind == "LSTM")


def test_a_wrong_gate_order_is_caught(torch):
    """The comparison can fail: our LSTM with its f and g gate blocks swapped."""
    ours, theirs = pair(torch, "LSTM", np.float64)
    w = ours.weight_ih_l0.data
    w[HIDDEN:2 * HIDDEN], w[2 * HIDDEN:3 * HIDDEN] = w[2 * HIDDEN:3 * HIDDEN].copy(), w[
        HIDDEN:2 * HIDDEN].copy()
    with pytest.raises(AssertionError):
        compare(torch, ours, theirs, [(L, BATCH, IN), None, None], np.float64, True)


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_have_pytorchs_names_shapes_and_start(torch, kind):
    manual_seed(0)
    options = {"num_layers": 2, "bidirectional": True}
    name = kind.removesuffix("-relu")
    ours = getattr(nn, name)(IN, 64, **options)
    theirs = getattr(torch.nn, name)(IN, 64, **options)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(theirs.state_dict())  # the same order too
    values = np.concatenate([p.data.ravel() for p in ours.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= 1 / 8 and np.abs(values).max() > 0.99 / 8  # U(±1/√64)
    assert abs(values.mean()) < 0.005 and abs(values.var() - (1 / 8) ** 2 / 3) < 5e-4
    manual_seed(0)
    again = getattr(nn, name)(IN, 64, **options)
    np.testing.assert_array_equal(again.weight_hh_l1.data, ours.weight_hh_l1.data)
    assert getattr(nn, name)(IN, 64, bias=False).state_dict().keys() == {
        "weight_ih_l0", "weight_hh_l0"}


# --- dropout between layers --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_dropout_one_zeroes_what_the_second_layer_reads_as_torch(torch, kind):
    ours, theirs = pair(torch, kind, np.float64, num_layers=2, dropout=1.0)
    ours.train(), theirs.train()
    compare(torch, ours, theirs, [(L, BATCH, IN), None] + ([None] if kind == "LSTM" else []),
            np.float64, state_is_pair=kind == "LSTM")


def test_dropout_acts_in_training_only_between_layers_and_follows_manual_seed():
    layer = nn.LSTM(IN, HIDDEN, num_layers=2, dropout=0.5, seed=0)
    x = Tensor(np.random.default_rng(0).standard_normal((L, BATCH, IN)).astype(np.float32))
    layer.eval()
    quiet = layer(x)[0].data
    layer.train()
    manual_seed(3)
    first = layer(x)[0].data
    manual_seed(3)
    np.testing.assert_array_equal(layer(x)[0].data, first)  # the same masks again
    assert not np.allclose(first, quiet)  # training drops values before layer 1
    manual_seed(4)
    assert not np.allclose(layer(x)[0].data, first)
    # layer 0's own h_n is untouched by dropout, which acts only on what layer 1 reads
    manual_seed(3)
    h_n = layer(x)[1][0].data
    layer.eval()
    np.testing.assert_array_equal(h_n[0], layer(x)[1][0].data[0])


def test_dropout_with_one_layer_warns_and_does_nothing(torch):
    with pytest.warns(UserWarning, match="num_layers=1"):
        layer = nn.GRU(IN, HIDDEN, dropout=0.3)
    with pytest.warns(UserWarning):
        torch.nn.GRU(IN, HIDDEN, dropout=0.3)  # (PyTorch warns too)
    x = Tensor(np.ones((L, BATCH, IN), np.float32))
    np.testing.assert_array_equal(layer.train()(x)[0].data, layer.eval()(x)[0].data)


# --- the cells ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("initial_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(torch, kind, dtype, batched, initial_state, bias):
    ours, theirs = pair(torch, kind, dtype, cell=True, bias=bias)
    x = (BATCH, IN) if batched else (IN,)
    state = ((BATCH, HIDDEN) if batched else (HIDDEN,)) if initial_state else None
    compare(torch, ours, theirs, [x, state] + ([state] if kind == "LSTM" else []), dtype,
            state_is_pair=kind == "LSTM")


def test_cells_print_like_pytorch(torch):
    assert repr(nn.GRUCell(3, 4)) == repr(torch.nn.GRUCell(3, 4)) == "GRUCell(3, 4)"
    assert repr(nn.LSTMCell(3, 4, bias=False)) == repr(torch.nn.LSTMCell(3, 4, bias=False))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    options = {"num_layers": 2, "batch_first": True, "dropout": 0.1, "bidirectional": True}
    assert repr(nn.LSTM(3, 4, **options)) == repr(torch.nn.LSTM(3, 4, **options))


# --- state_dicts both ways: a language model and a GRU --------------------------------------------
VOCAB, EMBED = 11, 6


class OurLanguageModel(nn.Module):
    """Embedding → LSTM (2 layers) → Linear, as a makemore-style character model."""

    def __init__(self):
        self.embedding = nn.Embedding(VOCAB, EMBED, dtype=np.float64)
        self.lstm = nn.LSTM(EMBED, HIDDEN, num_layers=2, batch_first=True, dtype=np.float64)
        self.head = nn.Linear(HIDDEN, VOCAB, dtype=np.float64)

    def forward(self, ids):
        output, _ = self.lstm(self.embedding(ids))
        return self.head(output)


def their_language_model(torch):
    class LanguageModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBED)
            self.lstm = torch.nn.LSTM(EMBED, HIDDEN, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(HIDDEN, VOCAB)

        def forward(self, ids):
            output, _ = self.lstm(self.embedding(ids))
            return self.head(output)

    return LanguageModel().double()


def their_gru(torch):
    return torch.nn.GRU(IN, HIDDEN, num_layers=2, bidirectional=True).double()


def our_gru():
    return nn.GRU(IN, HIDDEN, num_layers=2, bidirectional=True, dtype=np.float64)


def same_outputs_and_gradients(torch, ours, theirs, make_input):
    """Our model and PyTorch's, holding the same weights, give the same outputs and
    gradients of every parameter (float64, 1e-10)."""
    x = make_input()
    mine = ours(Tensor(x))
    their = theirs(torch.from_numpy(x))
    mine, their = flat(mine)[0], flat(their)[0]
    np.testing.assert_allclose(mine.data, their.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(2).standard_normal(mine.shape)
    (mine * Tensor(v)).sum().backward()
    (their * torch.from_numpy(v)).sum().backward()
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, their_params[name].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


MODELS = {
    "language model": (OurLanguageModel, their_language_model,
                       lambda: np.random.default_rng(0).integers(0, VOCAB, (BATCH, 7))),
    "GRU": (our_gru, their_gru,
            lambda: np.random.default_rng(0).standard_normal((L, BATCH, IN))),
}


@pytest.mark.parametrize("model", MODELS)
def test_our_state_dict_loads_into_torch(torch, model):
    make_ours, make_theirs, make_input = MODELS[model]
    manual_seed(0)
    ours, theirs = make_ours(), make_theirs(torch)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    same_outputs_and_gradients(torch, ours, theirs, make_input)


@pytest.mark.parametrize("model", MODELS)
def test_torch_state_dict_loads_into_ours(torch, model):
    make_ours, make_theirs, make_input = MODELS[model]
    torch.manual_seed(0)
    ours, theirs = make_ours(), make_theirs(torch)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    same_outputs_and_gradients(torch, ours, theirs, make_input)


# --- gradchecks (float64) ------------------------------------------------------------------------
def weights(gates, seed=0):
    """W_ih, W_hh, b_ih, b_hh for hidden size 3 and input size 2."""
    rng = np.random.default_rng(seed)
    return [Tensor(rng.uniform(-0.8, 0.8, shape), requires_grad=True)
            for shape in [(gates * 3, 2), (gates * 3, 3), (gates * 3,), (gates * 3,)]]


def inputs(seed=1):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(shape), requires_grad=True) for shape in
            [(3, 2, 2), (2, 3), (2, 3)]]  # x over 3 steps, h0, c0


def over_three_steps(step, x, state, w_ih, w_hh, b_ih, b_hh):
    outputs = []
    for t in range(3):
        state = step(x[t] @ w_ih.T + b_ih, state, w_hh, b_hh)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return sum((o * (i + 1)).sum(axis=0) for i, o in enumerate(outputs))


def test_gradcheck_gru_over_three_steps():
    x, h0, _ = inputs()
    assert gradcheck(lambda x, h, *w: over_three_steps(gru_step, x, h, *w),
                     [x, h0, *weights(3)])


def test_gradcheck_lstm_over_three_steps():
    x, h0, c0 = inputs()
    assert gradcheck(lambda x, h, c, *w: over_three_steps(lstm_step, x, (h, c), *w),
                     [x, h0, c0, *weights(4)])


def test_gradcheck_of_the_layers_themselves():
    x = Tensor(np.random.default_rng(3).standard_normal((3, 2, 2)), requires_grad=True)
    for kind in (nn.GRU, nn.LSTM, nn.RNN):
        layer = kind(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, seed=1)
        assert gradcheck(lambda x, layer=layer: layer(x)[0], [x])


def test_lstm_cell_op_gradients_to_second_order():
    rng = np.random.default_rng(5)
    parts = [Tensor(rng.standard_normal(shape), requires_grad=True)
             for shape in [(2, 12), (2, 12), (2, 3)]]
    assert gradcheck(lambda a, b, c: LSTMCellOp.apply(a, b, c), parts)
    assert gradgradcheck(lambda a, b, c: LSTMCellOp.apply(a, b, c), parts)


def layer_op_inputs(bias=True, seed=6):
    """x over 3 steps (batch 2, input 2), h0, c0, W_ih, W_hh (hidden 3) and b, float64."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 2, 2), (2, 3), (2, 3), (12, 2), (12, 3)] + ([(12,)] if bias else [])
    return [Tensor(rng.uniform(-1, 1, shape), requires_grad=True) for shape in shapes]


def cell_by_cell(x, h, c, w_ih, w_hh, b=None):
    """What LSTMLayerOp computes, written with the readable cell: lstm_step per step."""
    hs, cs = [], []
    for t in range(x.shape[0]):
        h, c = lstm_step(x[t] @ w_ih.T + (0 if b is None else b), (h, c), w_hh, None)
        hs.append(h)
        cs.append(c)
    return stack([stack(hs), stack(cs)])


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_layer_op_equals_the_cell_step_by_step(bias):
    """Values, gradients (a random output gradient) and forward-mode tangents of the layer
    op against the same loop written with lstm_step."""
    inputs = layer_op_inputs(bias)
    ours, reference = LSTMLayerOp.apply(*inputs), cell_by_cell(*inputs)
    np.testing.assert_allclose(ours.data, reference.data, rtol=1e-12, atol=1e-14)
    u = Tensor(np.random.default_rng(7).standard_normal(ours.shape))
    gradients = []
    for run in (LSTMLayerOp.apply, cell_by_cell):
        for t in inputs:
            t.grad = None
        (run(*inputs) * u).sum().backward()
        gradients.append([t.grad.data for t in inputs])
    for by_op, by_cell in zip(*gradients, strict=True):
        np.testing.assert_allclose(by_op, by_cell, rtol=1e-10, atol=1e-12)
    directions = tuple(np.random.default_rng(8).standard_normal(t.shape) for t in inputs)
    plain = tuple(Tensor(t.data) for t in inputs)
    moved = [func.jvp(run, plain, directions)[1].data for run in (LSTMLayerOp.apply,
                                                                  cell_by_cell)]
    np.testing.assert_allclose(moved[0], moved[1], rtol=1e-10, atol=1e-12)


def test_lstm_layer_op_gradients_to_second_order_without_bias():
    inputs = layer_op_inputs(bias=False)
    assert gradcheck(LSTMLayerOp.apply, inputs)
    assert gradgradcheck(LSTMLayerOp.apply, inputs)


def test_lstm_layer_second_derivatives_through_both_directions():
    """create_graph through nn.LSTM (two layers, both directions, initial states): the
    layer op's backward on Tensors, differentiated again."""
    layer = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, seed=2)
    rng = np.random.default_rng(4)
    x, h0, c0 = (Tensor(rng.standard_normal(shape), requires_grad=True)
                 for shape in [(3, 2, 2), (4, 2, 3), (4, 2, 3)])
    assert gradgradcheck(lambda x, h0, c0: layer(x, (h0, c0))[0], [x, h0, c0])


def test_lstm_cell_op_is_stable_for_large_sums():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings
        out = LSTMCellOp.apply(Tensor(np.full((1, 8), 1e4, np.float32)),
                               Tensor(np.full((1, 8), -3e4, np.float32)),
                               Tensor(np.ones((1, 2), np.float32)))
    assert np.all(np.isfinite(out.data))


# --- wrong inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_a_sequence_of_the_wrong_feature_size(kind):
    layer = getattr(nn, kind)(5, 4, num_layers=2)
    with pytest.raises(RuntimeError, match=rf"{kind}\(5, 4, num_layers=2\).*input_size 5.*"
                                           r"\(7, 3, 6\)"):
        layer(Tensor(np.zeros((7, 3, 6), np.float32)))
    with pytest.raises(ValueError, match=rf"{kind}.*\(L, batch, input_size\).*\(1, 7, 3, 5\)"):
        layer(Tensor(np.zeros((1, 7, 3, 5), np.float32)))
    with pytest.raises(TypeError, match=rf"{kind}: the input must be a Tensor.*numpy"):
        layer(np.zeros((7, 3, 5), np.float32))
    with pytest.raises(TypeError, match=r"input is float64 but the weights are float32"):
        layer(Tensor(np.zeros((7, 3, 5))))
    with pytest.raises(ValueError, match="the sequence is empty"):
        layer(Tensor(np.zeros((0, 3, 5), np.float32)))


def test_a_wrong_initial_state():
    x = Tensor(np.zeros((7, 3, 5), np.float32))
    gru = nn.GRU(5, 4, num_layers=2)
    with pytest.raises(RuntimeError, match=r"GRU\(5, 4, num_layers=2\): h0 must have shape "
                                           r"\(2, 3, 4\), got \(1, 3, 4\)"):
        gru(x, Tensor(np.zeros((1, 3, 4), np.float32)))
    with pytest.raises(RuntimeError, match=r"h0 must have shape \(2, 4\), got \(2, 1, 4\)"):
        gru(x[:, 0], Tensor(np.zeros((2, 1, 4), np.float32)))  # unbatched input
    lstm = nn.LSTM(5, 4, bidirectional=True)
    h0 = Tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(RuntimeError, match=r"c0 must have shape \(2, 3, 4\), got \(2, 3, 5\)"):
        lstm(x, (h0, Tensor(np.zeros((2, 3, 5), np.float32))))
    with pytest.raises(TypeError, match=r"LSTM.*hx must be a tuple \(h, c\)"):
        lstm(x, h0)
    with pytest.raises(TypeError, match=r"h0 is float64"):
        lstm(x, (Tensor(np.zeros((2, 3, 4))), h0))


def test_wrong_arguments_to_build_a_layer():
    with pytest.raises(ValueError, match="LSTM: num_layers must be an int ≥ 1, got 0"):
        nn.LSTM(5, 4, num_layers=0)
    with pytest.raises(TypeError, match="GRU: num_layers must be an int, got float 2.0; write 2"):
        nn.GRU(5, 4, num_layers=2.0)
    with pytest.raises(TypeError, match="RNN: hidden_size must be an int, got float 4.0; write 4"):
        nn.RNN(5, 4.0)
    for p in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match=r"GRU: dropout must be a number in \[0, 1\]"):
            nn.GRU(5, 4, num_layers=2, dropout=p)
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        nn.RNN(5, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: unknown nonlinearity 'gelu'"):
        nn.RNNCell(5, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="LSTM: proj_size=2 is not supported"):
        nn.LSTM(5, 4, proj_size=2)
    with pytest.raises(ValueError, match="GRUCell: hidden_size must be an int ≥ 1"):
        nn.GRUCell(5, 0)


def test_wrong_inputs_to_a_cell():
    cell = nn.LSTMCell(5, 4)
    with pytest.raises(RuntimeError, match=r"LSTMCell\(5, 4\).*input_size 5.*\(3, 6\)"):
        cell(Tensor(np.zeros((3, 6), np.float32)))
    with pytest.raises(ValueError, match=r"LSTMCell.*\(batch, 5\) or \(5,\).*\(2, 3, 5\)"):
        cell(Tensor(np.zeros((2, 3, 5), np.float32)))
    x, h = Tensor(np.zeros((3, 5), np.float32)), Tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(RuntimeError, match=r"hx\[1\] must have shape \(3, 4\), got \(2, 4\)"):
        cell(x, (h, Tensor(np.zeros((2, 4), np.float32))))
    with pytest.raises(RuntimeError, match=r"GRUCell\(5, 4\): hx must have shape \(4,\)"):
        nn.GRUCell(5, 4)(x[0], h)
