"""Attention and Transformer blocks against PyTorch: F.scaled_dot_product_attention,
nn.MultiheadAttention, nn.TransformerEncoderLayer and nn.TransformerEncoder — values and
gradients (float32 and float64), state_dicts both ways, gradcheck, dropout statistics,
wrong inputs, and detect_anomaly with an additive −inf mask."""

import numpy as np
import pytest
from torch_compare import assert_matches_torch

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, viz
from tinygrad_edu import functional as F
from tinygrad_edu.gradcheck import gradcheck

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def mask_pair(torch, array):
    """The same mask for us and for torch (None stays None)."""
    if array is None:
        return None, None
    return Tensor(array.copy()), torch.tensor(array.copy())


def random_bool(rng, shape, keep=0.6):
    return rng.random(shape) < keep


# ----------------------------------------------------------------------------------------
# F.scaled_dot_product_attention
# ----------------------------------------------------------------------------------------
SDPA_CASES = {
    "no mask": ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6), None, {}),
    "bool mask (L, S)": ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6), ("bool", (3, 5)), {}),
    "bool mask (N, 1, L, S)": ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6),
                               ("bool", (2, 1, 3, 5)), {}),
    "float mask with -inf": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("float", (2, 3, 5)), {}),
    "causal, L < S": ((2, 3, 4), (2, 5, 4), (2, 5, 6), None, {"is_causal": True}),
    "causal, square": ((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3), None, {"is_causal": True}),
    "scale": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("bool", (3, 5)), {"scale": 0.37}),
    "unbatched": ((3, 4), (5, 4), (5, 2), None, {}),
    "key/value broadcast over heads": ((2, 3, 3, 4), (2, 1, 5, 4), (2, 1, 5, 6), None, {}),
}


def make_mask(rng, kind, shape, dtype):
    if kind == "bool":
        mask = random_bool(rng, shape)
        mask[..., 0] = True  # every query keeps at least its first key
        return mask
    values = rng.standard_normal(shape).astype(dtype)
    values[random_bool(rng, shape, keep=0.3)] = -np.inf
    values[..., 0] = 0.5
    return values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case, dtype, torch):
    q_shape, k_shape, v_shape, mask_spec, options = SDPA_CASES[case]
    mask = None if mask_spec is None else make_mask(np.random.default_rng(1), *mask_spec, dtype)
    ours_mask, their_mask = mask_pair(torch, mask)
    assert_matches_torch(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, ours_mask, **options),
        lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, their_mask,
                                                                        **options),
        [q_shape, k_shape, v_shape], dtype, torch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_query_with_every_key_masked_gives_zeros_and_zero_gradients(kind, dtype, torch):
    mask = make_mask(np.random.default_rng(2), kind, (3, 5), dtype)
    mask[1] = False if kind == "bool" else -np.inf  # query 1 may see no key at all
    ours_mask, their_mask = mask_pair(torch, mask)
    assert_matches_torch(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, ours_mask),
        lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, their_mask),
        [(2, 3, 4), (2, 5, 4), (2, 5, 6)], dtype, torch)
    q, k, v = (Tensor(np.ones(shape, dtype)) for shape in [(3, 4), (5, 4), (5, 6)])
    out = F.scaled_dot_product_attention(q, k, v, ours_mask)
    assert np.all(out.data[1] == 0) and np.all(out.data[0] != 0)


def test_sdpa_float_mask_gets_a_gradient(torch):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 6), (3, 5)]]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    F.scaled_dot_product_attention(*ours).square().sum().backward()
    torch.nn.functional.scaled_dot_product_attention(*theirs).square().sum().backward()
    for mine, their in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.grad.data, their.grad.numpy(), rtol=1e-10)


def test_sdpa_gradcheck_with_mask_and_causal():
    rng = np.random.default_rng(4)
    q, k, v = (Tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(2, 3, 2), (2, 4, 2), (2, 4, 3)])
    mask = Tensor(random_bool(rng, (3, 4)) | np.eye(3, 4, dtype=bool))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), [q, k, v])
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                    scale=0.8), [q, k, v])


def test_sdpa_dropout_statistics_and_seed():
    # q = 0: every weight is 1/S; v = I: the output is the weights themselves
    s, p = 8, 0.3
    q, k, v = Tensor(np.zeros((4000, 1, 2))), Tensor(np.ones((s, 2))), Tensor(np.eye(s))
    tg.manual_seed(0)
    weights = F.scaled_dot_product_attention(q, k, v, dropout_p=p).data
    dropped = np.mean(weights == 0)
    assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / weights.size)  # 4 standard errors
    kept = weights[weights != 0]
    np.testing.assert_allclose(kept, 1 / (s * (1 - p)))  # the survivors scaled by 1/(1 − p)
    assert abs(weights.mean() - 1 / s) < 4 * np.sqrt(p / (1 - p) / weights.size) / s
    tg.manual_seed(0)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=p).data,
                                  weights)
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).data == 0)


SDPA_ERRORS = [
    (lambda q, k, v: F.scaled_dot_product_attention(q, k[..., :3], v),
     RuntimeError, r"scaled_dot_product_attention: .*agree on E and S.*key \(2, 5, 3\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v[:, :4]),
     RuntimeError, r"agree on E and S.*value \(2, 4, 6\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k[:, None].expand(2, 3, 5, 4), v),
     RuntimeError, r"batch axes of query \(2, 3, 4\), key \(2, 3, 5, 4\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, Tensor(np.ones((3, 4), bool))),
     RuntimeError, r"attn_mask of shape \(3, 4\) does not broadcast .* \(2, 3, 5\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, Tensor(np.ones((7, 3, 5), bool))),
     RuntimeError, r"attn_mask of shape \(7, 3, 5\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, Tensor(np.ones((3, 5), int))),
     RuntimeError, r"attn_mask must be bool .* got int64"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, Tensor(np.zeros((3, 5)))),
     RuntimeError, r"float of query's dtype float32 .* got float64"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, Tensor(np.ones((3, 5), bool)),
                                                    is_causal=True),
     RuntimeError, r"attn_mask or is_causal=True, not both"),
    (lambda q, k, v: F.scaled_dot_product_attention(q.double(), k, v),
     RuntimeError, r"one dtype, got float64, float32 and float32"),
    (lambda q, k, v: F.scaled_dot_product_attention(q[0, 0], k, v),
     RuntimeError, r"query must be a float tensor of at least 2 dimensions.*\(4,\)"),
    (lambda q, k, v: F.scaled_dot_product_attention(q.data, k, v),
     TypeError, r"query must be a Tensor, got ndarray"),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=1.5),
     RuntimeError, r"dropout_p must be between 0 and 1, got 1.5"),
]


@pytest.mark.parametrize("call, error, message", SDPA_ERRORS)
def test_sdpa_wrong_inputs_are_named(call, error, message):
    q, k, v = (Tensor(np.zeros(s, np.float32)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 6)])
    with pytest.raises(error, match=message):
        call(q, k, v)


# ----------------------------------------------------------------------------------------
# nn.MultiheadAttention
# ----------------------------------------------------------------------------------------
def twin_attention(torch, dtype, embed_dim=8, num_heads=2, **options):
    """Our MultiheadAttention and PyTorch's with the same weights (PyTorch's, loaded)."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, **options).to(
        getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():  # (biases start at zero in both: make them count)
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = nn.MultiheadAttention(embed_dim, num_heads, dtype=dtype, **options)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours.eval(), theirs.eval()


def compare_outputs_and_gradients(ours, theirs, our_outputs, their_outputs, inputs, dtype,
                                  torch):
    """Values of every output (NaN where PyTorch has NaN), then the gradients of a random
    vector–Jacobian product for each input and each parameter."""
    rng = np.random.default_rng(5)
    loss, their_loss = 0, 0
    for mine, their in zip(our_outputs, their_outputs, strict=True):
        if their is None:
            assert mine is None
            continue
        assert mine.shape == tuple(their.shape) and mine.dtype == dtype
        np.testing.assert_allclose(mine.data, their.detach().numpy(), **tolerance(dtype))
        v = rng.standard_normal(mine.shape).astype(dtype)
        loss = loss + (mine * Tensor(v)).sum()
        their_loss = their_loss + (their * torch.from_numpy(v)).sum()
    loss.backward()
    their_loss.backward()
    grad_tolerance = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else tolerance(dtype)
    for (mine, their) in inputs:
        np.testing.assert_allclose(mine.grad.data, their.grad.numpy(), **grad_tolerance)
    their_parameters = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, their_parameters[name].grad.numpy(),
                                   **grad_tolerance, err_msg=name)


def input_pair(torch, rng, shape, dtype):
    array = rng.standard_normal(shape).astype(dtype)
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


MHA_CASES = {  # (L, S, N, masks, forward options)
    "self, no mask": (4, 4, 3, {}, {}),
    "cross, L != S": (3, 5, 2, {}, {}),
    "bool attn_mask (L, S)": (3, 5, 2, {"attn_mask": ("bool", (3, 5))}, {}),
    "float attn_mask (N*H, L, S)": (3, 5, 2, {"attn_mask": ("float", (4, 3, 5))}, {}),
    "bool key_padding_mask": (3, 5, 2, {"key_padding_mask": ("bool", (2, 5))}, {}),
    "float key_padding_mask": (3, 5, 2, {"key_padding_mask": ("float", (2, 5))}, {}),
    "both masks": (4, 4, 2, {"attn_mask": ("bool", (4, 4)),
                             "key_padding_mask": ("bool", (2, 4))}, {}),
    "weights per head": (3, 5, 2, {"attn_mask": ("bool", (3, 5))},
                         {"average_attn_weights": False}),
    "need_weights=False": (3, 5, 2, {"attn_mask": ("float", (3, 5))}, {"need_weights": False}),
    "need_weights=False with padding": (3, 5, 2, {"key_padding_mask": ("bool", (2, 5))},
                                        {"need_weights": False}),
    "causal hint": (4, 4, 2, {"attn_mask": ("causal", (4, 4))}, {"is_causal": True}),
    "causal hint, need_weights=False": (4, 4, 2, {"attn_mask": ("causal", (4, 4))},
                                        {"is_causal": True, "need_weights": False}),
}


def mha_mask(rng, kind, shape, dtype):
    """A MultiheadAttention mask (True / −inf = left out), never leaving a query no key."""
    if kind == "causal":
        return np.triu(np.ones(shape, bool), 1)
    if kind == "bool":
        mask = rng.random(shape) < 0.4
        mask[..., 0] = False
        return mask
    values = rng.standard_normal(shape).astype(dtype)
    values[rng.random(shape) < 0.3] = -np.inf
    values[..., 0] = 0.25
    return values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case, batch_first, dtype, torch):
    length, source_length, batch, mask_specs, options = MHA_CASES[case]
    ours, theirs = twin_attention(torch, dtype, batch_first=batch_first)
    rng = np.random.default_rng(6)
    layout = (lambda n, s: (n, s, 8)) if batch_first else (lambda n, s: (s, n, 8))
    query = input_pair(torch, rng, layout(batch, length), dtype)
    if case.startswith("self") or case.startswith("causal") or case == "both masks":
        key = value = query  # self-attention: one tensor for all three, as PyTorch sees it
        inputs = [query]
    else:
        key = input_pair(torch, rng, layout(batch, source_length), dtype)
        value = input_pair(torch, rng, layout(batch, source_length), dtype)
        inputs = [query, key, value]
    masks = {name: mask_pair(torch, mha_mask(rng, kind, shape, dtype))
             for name, (kind, shape) in mask_specs.items()}
    our_out = ours(query[0], key[0], value[0], **{n: m[0] for n, m in masks.items()}, **options)
    their_out = theirs(query[1], key[1], value[1], **{n: m[1] for n, m in masks.items()},
                       **options)
    compare_outputs_and_gradients(ours, theirs, our_out, their_out, inputs, dtype, torch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_unbatched_and_without_bias(average, dtype, torch):
    ours, theirs = twin_attention(torch, dtype, embed_dim=6, num_heads=3, bias=False)
    rng = np.random.default_rng(7)
    query, key, value = (input_pair(torch, rng, s, dtype) for s in [(3, 6), (4, 6), (4, 6)])
    mask = rng.random((3, 3, 4)) < 0.3
    mask[..., 0] = False
    padding = np.array([False, False, True, False])
    kwargs = [{"attn_mask": m, "key_padding_mask": p, "average_attn_weights": average}
              for m, p in zip(mask_pair(torch, mask), mask_pair(torch, padding), strict=True)]
    our_out = ours(query[0], key[0], value[0], **kwargs[0])
    their_out = theirs(query[1], key[1], value[1], **kwargs[1])
    assert our_out[1].shape == ((3, 4) if average else (3, 3, 4))
    compare_outputs_and_gradients(ours, theirs, our_out, their_out, [query, key, value],
                                  dtype, torch)
    assert sorted(ours.state_dict()) == ["in_proj_weight", "out_proj.weight"]


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_query_with_no_key_as_torch(need_weights, torch):
    """PyTorch gives NaN with need_weights=True (a plain softmax) and the out_proj bias
    with need_weights=False (its fused attention zeroes such rows); so do we."""
    ours, theirs = twin_attention(torch, np.float64, batch_first=True)
    x = np.random.default_rng(8).standard_normal((2, 3, 8))
    padding = np.zeros((2, 3), bool)
    padding[0] = True  # sample 0: every key is padding
    with np.errstate(invalid="ignore"):  # (numpy warns of the NaN it makes; torch is silent)
        ours_out, our_weights = ours(*[Tensor(x)] * 3, key_padding_mask=Tensor(padding),
                                     need_weights=need_weights)
    their_out, their_weights = theirs(*[torch.tensor(x)] * 3,
                                      key_padding_mask=torch.tensor(padding),
                                      need_weights=need_weights)
    np.testing.assert_allclose(ours_out.data, their_out.detach().numpy(), rtol=1e-10)
    assert np.isnan(ours_out.data[0]).all() == need_weights
    if need_weights:
        np.testing.assert_allclose(our_weights.data, their_weights.detach().numpy(),
                                   rtol=1e-10)


def test_multihead_attention_is_causal_hint_uses_the_causal_mask_as_torch(torch):
    """With need_weights=False and no padding mask, PyTorch takes is_causal=True at its
    word and applies the causal mask, whatever attn_mask says: so do we."""
    ours, theirs = twin_attention(torch, np.float64)
    x = np.random.default_rng(9).standard_normal((4, 2, 8))
    not_causal = np.zeros((4, 4), bool)
    mine = ours(*[Tensor(x)] * 3, attn_mask=Tensor(not_causal), need_weights=False,
                is_causal=True)[0]
    their = theirs(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(not_causal),
                   need_weights=False, is_causal=True)[0]
    np.testing.assert_allclose(mine.data, their.detach().numpy(), rtol=1e-10)


def test_multihead_attention_state_dict_keys_shapes_and_initial_values(torch):
    ours = nn.MultiheadAttention(8, 2)
    theirs = torch.nn.MultiheadAttention(8, 2)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert np.all(ours.in_proj_bias.data == 0) and np.all(ours.out_proj.bias.data == 0)
    limit = np.sqrt(6 / (8 + 24))  # xavier_uniform_ of a (24, 8) matrix, as PyTorch
    assert np.abs(ours.in_proj_weight.data).max() <= limit
    assert np.abs(ours.in_proj_weight.data).max() > 0.8 * limit


def test_multihead_attention_dropout_in_training_only(torch):
    layer = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=np.float64)
    x = Tensor(np.random.default_rng(10).standard_normal((50, 40, 8)))
    tg.manual_seed(1)
    _, weights = layer(x, x, x, average_attn_weights=False)
    dropped = np.mean(weights.data == 0)
    assert abs(dropped - 0.5) < 4 * np.sqrt(0.25 / weights.size)
    np.testing.assert_allclose(weights.data.sum(-1).mean(), 1.0, atol=0.02)  # 1/(1 − p)
    layer.eval()
    _, weights = layer(x, x, x)
    np.testing.assert_allclose(weights.data.sum(-1), 1.0)


def test_multihead_attention_gradcheck():
    layer = nn.MultiheadAttention(4, 2, dtype=np.float64, seed=0)
    rng = np.random.default_rng(11)
    query, key = (Tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 2, 4),
                                                                             (2, 2, 4)])
    padding = Tensor(np.array([[False, True], [False, False]]))

    def attend(query, key, weight, out_weight):
        out, weights = layer(query, key, key, key_padding_mask=padding)
        return out.transpose(0, 1).sum(-1) + weights[..., 0]  # (N, L)

    assert gradcheck(attend, [query, key, layer.in_proj_weight, layer.out_proj.weight])


MHA_ERRORS = [
    (lambda: nn.MultiheadAttention(10, 3), AssertionError,
     r"MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim=10 and "
     r"num_heads=3"),
    (lambda: nn.MultiheadAttention(8.0, 2), ValueError, r"embed_dim must be a positive int"),
    (lambda: nn.MultiheadAttention(8, 2, kdim=5), NotImplementedError,
     r"kdim=5 differs from embed_dim=8.*nn.Linear\(5, 8\)"),
    (lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True), NotImplementedError,
     r"add_bias_kv"),
]


@pytest.mark.parametrize("make, error, message", MHA_ERRORS)
def test_multihead_attention_wrong_sizes_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


def call_mha(query_shape=(3, 2, 8), key_shape=(5, 2, 8), value_shape=None, **kwargs):
    layer = nn.MultiheadAttention(8, 2)
    query, key = Tensor(np.zeros(query_shape, np.float32)), Tensor(np.zeros(key_shape,
                                                                             np.float32))
    value = key if value_shape is None else Tensor(np.zeros(value_shape, np.float32))
    return layer(query, key, value, **kwargs)


MHA_INPUT_ERRORS = [
    ({"query_shape": (3, 2, 6)}, AssertionError,
     r"MultiheadAttention: expects query with embed_dim=8.*query \(3, 2, 6\)"),
    ({"value_shape": (5, 2, 6)}, AssertionError, r"value \(5, 2, 6\)"),
    ({"key_shape": (5, 3, 8)}, AssertionError,
     r"different batch sizes \(axis 1, batch_first=False\).*key \(5, 3, 8\)"),
    ({"key_shape": (5, 8)}, AssertionError, r"all be 3-D \(batched\) or all 2-D"),
    ({"attn_mask": Tensor(np.zeros((3, 4), bool))}, RuntimeError,
     r"MultiheadAttention: attn_mask has shape \(3, 4\), but should be \(3, 5\) or "
     r"\(4, 3, 5\)"),
    ({"key_padding_mask": Tensor(np.zeros((5, 2), bool))}, RuntimeError,
     r"key_padding_mask has shape \(5, 2\), but should be \(2, 5\)"),
    ({"attn_mask": Tensor(np.zeros((3, 5), np.int64))}, AssertionError,
     r"attn_mask must be bool \(True = left out\) or float .* got int64"),
    ({"attn_mask": Tensor(np.zeros((3, 5), np.float64))}, TypeError,
     r"attn_mask: a float mask must have the query's dtype float32, got float64"),
    ({"is_causal": True}, RuntimeError, r"is_causal=True needs the causal attn_mask"),
    ({"attn_mask": np.zeros((3, 5), bool)}, TypeError,
     r"MultiheadAttention: the attn_mask must be a Tensor, got a numpy array"),
]


@pytest.mark.parametrize("kwargs, error, message", MHA_INPUT_ERRORS)
def test_multihead_attention_wrong_inputs_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        call_mha(**kwargs)


def test_multihead_attention_refuses_a_numpy_query():
    layer = nn.MultiheadAttention(8, 2)
    with pytest.raises(TypeError, match=r"MultiheadAttention: the query must be a Tensor"):
        layer(np.zeros((3, 2, 8)), Tensor(np.zeros((3, 2, 8))), Tensor(np.zeros((3, 2, 8))))


# ----------------------------------------------------------------------------------------
# nn.TransformerEncoderLayer and nn.TransformerEncoder
# ----------------------------------------------------------------------------------------
def twin_encoder_layer(torch, dtype, **options):
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, **options).to(
        getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dtype=dtype, **options)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours.eval(), theirs.eval()


ENCODER_CASES = {
    "post-norm": {},
    "pre-norm": {"norm_first": True},
    "gelu, batch first": {"activation": "gelu", "batch_first": True},
    "callable activation, pre-norm, batch first": {"activation": "tanh", "norm_first": True,
                                                   "batch_first": True},
    "without bias": {"bias": False},
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masks", ["none", "causal", "padding", "both"])
@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_transformer_encoder_layer_matches_torch(case, masks, dtype, torch):
    options = dict(ENCODER_CASES[case])
    if options.get("activation") == "tanh":  # a callable: each framework's own tanh
        options["activation"] = torch.tanh
    ours, theirs = twin_encoder_layer(torch, dtype, **options)
    if options.get("activation") is torch.tanh:
        ours.activation = Tensor.tanh
    rng = np.random.default_rng(12)
    shape = (2, 4, 8) if options.get("batch_first") else (4, 2, 8)
    src = input_pair(torch, rng, shape, dtype)
    causal = np.triu(np.ones((4, 4), bool), 1) if masks in ("causal", "both") else None
    padding = None
    if masks in ("padding", "both"):
        padding = np.array([[False, False, True, True], [False, False, False, True]])
    (our_mask, their_mask), (our_pad, their_pad) = mask_pair(torch, causal), mask_pair(torch,
                                                                                        padding)
    mine = ours(src[0], src_mask=our_mask, src_key_padding_mask=our_pad,
                is_causal=masks == "causal")
    their = theirs(src[1], src_mask=their_mask, src_key_padding_mask=their_pad,
                   is_causal=masks == "causal")
    compare_outputs_and_gradients(ours, theirs, [mine], [their], [src], dtype, torch)


def test_transformer_encoder_layer_has_torchs_submodules_and_keys(torch):
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [name for name, _ in ours.named_children()] == [
        name for name, _ in theirs.named_children()]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"activation should be 'relu', 'gelu' or a "
                                           r"callable, not 'swish'"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")


def twin_encoders(torch, norm_first=False):
    """Our TransformerEncoder and PyTorch's (float64, 2 layers, a final LayerNorm), each
    with its own random weights."""
    torch.manual_seed(1)
    their_layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1,
                                                   norm_first=norm_first, dtype=torch.float64)
    theirs = torch.nn.TransformerEncoder(their_layer, 2, norm=torch.nn.LayerNorm(
        8, dtype=torch.float64), enable_nested_tensor=False)
    our_layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1,
                                           norm_first=norm_first, dtype=np.float64, seed=3)
    ours = nn.TransformerEncoder(our_layer, 2, norm=nn.LayerNorm(8, dtype=np.float64))
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return ours.eval(), theirs.eval()


def run_both(ours, theirs, torch):
    """Outputs and every gradient of the same loss, ours and theirs, as numpy."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((5, 3, 8))
    causal = np.triu(np.ones((5, 5), bool), 1)
    padding = np.zeros((3, 5), bool)
    padding[1, 3:] = True
    v = rng.standard_normal((5, 3, 8))
    mine = ours(Tensor(x), mask=Tensor(causal), src_key_padding_mask=Tensor(padding))
    (mine * Tensor(v)).sum().backward()
    their = theirs(torch.tensor(x), mask=torch.tensor(causal),
                   src_key_padding_mask=torch.tensor(padding))
    (their * torch.tensor(v)).sum().backward()
    our_grads = {k: p.grad.data for k, p in ours.named_parameters()}
    their_grads = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    return mine.data, their.detach().numpy(), our_grads, their_grads


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("direction", ["ours into torch", "torch into ours"])
def test_transformer_encoder_state_dict_round_trip(direction, norm_first, torch):
    ours, theirs = twin_encoders(torch, norm_first)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    assert "layers.1.self_attn.out_proj.weight" in ours.state_dict()
    if direction == "ours into torch":
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    else:
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    mine, their, our_grads, their_grads = run_both(ours, theirs, torch)
    np.testing.assert_allclose(mine, their, rtol=1e-10, atol=1e-10)
    assert set(our_grads) == set(their_grads)
    for name, g in our_grads.items():
        np.testing.assert_allclose(g, their_grads[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_transformer_encoder_copies_the_layer():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, seed=0)
    encoder = nn.TransformerEncoder(layer, 3)
    assert len(encoder.layers) == 3
    assert len({id(p) for p in encoder.parameters()}) == len(layer.parameters()) * 3
    assert all(p is not q for p, q in zip(encoder.layers[0].parameters(), layer.parameters(),
                                          strict=True))
    np.testing.assert_array_equal(encoder.layers[2].linear1.weight.data,
                                  layer.linear1.weight.data)
    # the copies draw dropout masks from one stream, not three identical ones
    assert encoder.layers[0].dropout.generator is encoder.layers[2].dropout.generator


def test_transformer_encoder_unbatched_matches_batch_of_one():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, seed=0), 2).eval()
    x = np.random.default_rng(14).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_allclose(encoder(Tensor(x)).data,
                               encoder(Tensor(x[:, None])).data[:, 0], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------
# detect_anomaly: an additive −inf mask is not an anomaly, a new NaN or inf still is
# ----------------------------------------------------------------------------------------
def test_attention_with_an_additive_minus_inf_mask_runs_under_detect_anomaly():
    rng = np.random.default_rng(15)
    q, k, v = (Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in range(3))
    causal = Tensor(np.triu(np.full((4, 4), -np.inf), 1))  # the standard causal mask
    with viz.detect_anomaly():
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal).sum().backward()
        scores = (q @ k.transpose(-2, -1) + causal).softmax(-1)  # written out by hand
        (scores @ v).sum().backward()
        layer = nn.TransformerEncoderLayer(3, 1, 4, dropout=0.0, batch_first=True,
                                           dtype=np.float64, seed=0)
        layer(q, src_mask=Tensor(np.triu(np.ones((4, 4), bool), 1))).sum().backward()
    assert np.isfinite(q.grad.data).all()


def test_detect_anomaly_still_catches_new_infs_and_nans():
    with pytest.raises(viz.AnomalyError, match=r"forward of 'log' produced inf"):
        with viz.detect_anomaly(), np.errstate(divide="ignore"):
            Tensor([0.0, 1.0], requires_grad=True).log()
    with pytest.raises(viz.AnomalyError, match=r"forward of 'div' produced NaN"):
        with viz.detect_anomaly():
            Tensor([0.0], requires_grad=True) / Tensor([0.0])
    with pytest.raises(viz.AnomalyError, match=r"forward of 'sub' produced NaN"):
        with viz.detect_anomaly():  # inf came in, but NaN is new
            Tensor([np.inf], requires_grad=True) - Tensor([np.inf])
    with pytest.raises(viz.AnomalyError, match=r"forward of 'exp' produced inf"):
        with viz.detect_anomaly():
            Tensor([1000.0], requires_grad=True).exp()


def test_a_query_with_no_key_under_detect_anomaly_is_caught_only_where_torch_has_nan():
    layer = nn.MultiheadAttention(4, 1, seed=0)
    x = Tensor(np.ones((2, 1, 4), np.float32))
    padding = Tensor(np.array([[True, True]]))
    with viz.detect_anomaly():  # the fused path gives zeros: no NaN anywhere
        layer(x, x, x, key_padding_mask=padding, need_weights=False)
    with pytest.raises(viz.AnomalyError, match="produced NaN"), viz.detect_anomaly():
        layer(x, x, x, key_padding_mask=padding)  # softmax of all −inf: NaN, as PyTorch
