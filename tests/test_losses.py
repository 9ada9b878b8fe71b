"""The losses against PyTorch's (values and every gradient, float32 and float64, each option),
gradchecked in float64, their wrong inputs, and the loss modules."""

import warnings

import numpy as np
import pytest
from torch_compare import assert_matches_torch

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck, gradgradcheck, nn, ops
from tinygrad_edu import functional as F

TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def _labels(shape, classes, ignore, seed=1):
    """Class indices of `shape`, a few of them set to the ignored index ('default': −100,
    'custom': 2; 'none': nothing ignored)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, shape)
    if ignore != "none" and labels.ndim:
        labels.flat[::3] = -100 if ignore == "default" else 2
    return labels


def _ignore_index(ignore):
    return 2 if ignore == "custom" else -100


def _class_weight(weighted, classes, dtype):
    return np.linspace(0.5, 2.0, classes).astype(dtype) if weighted else None


def _both(array):
    """An optional constant for both libraries: (ours, a function making theirs)."""
    if array is None:
        return None, lambda torch: None
    return Tensor(array), lambda torch: torch.from_numpy(array)


# --- cross-entropy and nll_loss against PyTorch ----------------------------------------------
SHAPES = {"(N, C)": ((5, 4), (5,)), "(C,)": ((4,), ()), "(N, C, d1, d2)": ((2, 4, 3, 2), (2, 3, 2))}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", ["none", "default", "custom"])
@pytest.mark.parametrize("layout", SHAPES)
def test_cross_entropy_with_class_indices_matches_torch(layout, ignore, weighted, smoothing,
                                                        reduction, dtype, torch):
    shape, target_shape = SHAPES[layout]
    labels = _labels(target_shape, shape[0 if len(shape) == 1 else 1], ignore)
    w, their_w = _both(_class_weight(weighted, 4, dtype))
    options = {"ignore_index": _ignore_index(ignore), "reduction": reduction,
               "label_smoothing": smoothing}
    assert_matches_torch(
        lambda x: F.cross_entropy(x, Tensor(labels), w, **options),
        lambda torch, x: torch.nn.functional.cross_entropy(x, torch.from_numpy(labels),
                                                           their_w(torch), **options),
        [shape], dtype, torch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", SHAPES)
def test_cross_entropy_with_class_probabilities_matches_torch(layout, weighted, smoothing,
                                                              reduction, dtype, torch):
    shape = SHAPES[layout][0]
    axis = 0 if len(shape) == 1 else 1
    w, their_w = _both(_class_weight(weighted, 4, dtype))
    options = {"reduction": reduction, "label_smoothing": smoothing}
    assert_matches_torch(  # the target's own gradient is compared too
        lambda x, t: F.cross_entropy(x, t.softmax(axis), w, **options),
        lambda torch, x, t: torch.nn.functional.cross_entropy(x, t.softmax(axis),
                                                              their_w(torch), **options),
        [shape, shape], dtype, torch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", ["none", "default", "custom"])
@pytest.mark.parametrize("layout", SHAPES)
def test_nll_loss_matches_torch(layout, ignore, weighted, reduction, dtype, torch):
    shape, target_shape = SHAPES[layout]
    labels = _labels(target_shape, 4, ignore)
    w, their_w = _both(_class_weight(weighted, 4, dtype))
    options = {"ignore_index": _ignore_index(ignore), "reduction": reduction}
    assert_matches_torch(
        lambda x: F.nll_loss(x, Tensor(labels), w, **options),
        lambda torch, x: torch.nn.functional.nll_loss(x, torch.from_numpy(labels),
                                                      their_w(torch), **options),
        [shape], dtype, torch)


def test_every_target_ignored_gives_nan_for_the_mean_as_torch(torch):
    logits = np.random.default_rng(0).standard_normal((3, 4))
    labels = np.full(3, -100)
    for options in ({}, {"label_smoothing": 0.2}, {"weight": np.ones(4)}):
        ours = F.cross_entropy(Tensor(logits), labels, **{
            k: Tensor(v) if k == "weight" else v for k, v in options.items()})
        theirs = torch.nn.functional.cross_entropy(torch.from_numpy(logits),
                                                   torch.from_numpy(labels), **{
            k: torch.from_numpy(v) if k == "weight" else v for k, v in options.items()})
        assert np.isnan(ours.item()) and np.isnan(theirs.item())
    assert F.cross_entropy(Tensor(logits), labels, reduction="sum").item() == 0.0


def test_an_empty_batch_gives_nan_for_the_mean_as_torch():
    empty = Tensor(np.zeros((0, 4)))
    assert np.isnan(F.cross_entropy(empty, np.zeros(0, np.int64)).item())
    assert np.isnan(F.cross_entropy(empty, Tensor(np.zeros((0, 4)))).item())
    assert F.cross_entropy(empty, np.zeros(0, np.int64), reduction="none").shape == (0,)


def test_the_common_case_stays_one_log_softmax_and_an_index():
    logits = Tensor(np.random.default_rng(0).standard_normal((8, 10)), requires_grad=True)
    loss = F.cross_entropy(logits, np.arange(8) % 10)
    names, fn = [], loss._ctx
    while fn is not None:
        names.append(fn.name)
        fn = fn.inputs[0]._ctx
    assert names[-2:] == ["getitem", "log_softmax"] and "nll_loss" not in names
    assert len(names) == 5  # and the sum, minus and mean around them


def test_uint8_labels_work_as_in_torch(torch):
    logits = np.random.default_rng(0).standard_normal((3, 4))
    labels = np.array([0, 3, 1], np.uint8)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits),
                                                 torch.from_numpy(labels)).item()
    assert F.cross_entropy(Tensor(logits), labels).item() == pytest.approx(expected, rel=1e-12)


# --- binary cross-entropies against PyTorch --------------------------------------------------
WEIGHT_SHAPES = {"no weight": None, "per column": (4,), "per element": (3, 4)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES)
def test_binary_cross_entropy_matches_torch(weight_shape, reduction, dtype, torch):
    shape = WEIGHT_SHAPES[weight_shape]
    weight = None if shape is None else np.linspace(0.5, 2, np.prod(shape)).reshape(shape)
    w, their_w = _both(None if weight is None else weight.astype(dtype))
    assert_matches_torch(  # probabilities and targets from sigmoids: both gradients compared
        lambda a, b: F.binary_cross_entropy(a.sigmoid(), b.sigmoid(), w, reduction=reduction),
        lambda torch, a, b: torch.nn.functional.binary_cross_entropy(
            a.sigmoid(), b.sigmoid(), their_w(torch), reduction=reduction),
        [(3, 4), (3, 4)], dtype, torch)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_exactly_0_and_1_matches_torch(dtype, torch):
    """Logs clamped at −100; the input's gradient finite (PyTorch's 1e-12 floor), the
    target's infinite, as PyTorch's."""
    probabilities = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype)
    targets = np.array([1.0, 0.0, 0.0, 1.0, 0.3], dtype)
    x, y = Tensor(probabilities, requires_grad=True), Tensor(targets, requires_grad=True)
    tx = torch.tensor(probabilities, requires_grad=True)
    ty = torch.tensor(targets, requires_grad=True)
    loss = F.binary_cross_entropy(x, y, reduction="sum")
    their_loss = torch.nn.functional.binary_cross_entropy(tx, ty, reduction="sum")
    np.testing.assert_allclose(loss.data, their_loss.detach().numpy(), rtol=1e-6)
    loss.backward()
    their_loss.backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES)
def test_binary_cross_entropy_with_logits_matches_torch(weight_shape, pos_weighted, reduction,
                                                        dtype, torch):
    shape = WEIGHT_SHAPES[weight_shape]
    weight = None if shape is None else np.linspace(0.5, 2, np.prod(shape)).reshape(shape)
    w, their_w = _both(None if weight is None else weight.astype(dtype))
    p, their_p = _both(np.array([0.5, 1.0, 2.0, 3.0], dtype) if pos_weighted else None)
    assert_matches_torch(
        lambda x, b: F.binary_cross_entropy_with_logits(x, b.sigmoid(), w, reduction=reduction,
                                                        pos_weight=p),
        lambda torch, x, b: torch.nn.functional.binary_cross_entropy_with_logits(
            x, b.sigmoid(), their_w(torch), reduction=reduction, pos_weight=their_p(torch)),
        [(3, 4), (3, 4)], dtype, torch)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_is_stable_for_large_logits(dtype, torch):
    logits = np.array([1e4, -1e4, 100.0, -100.0, 30.0], dtype)
    targets = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype)
    pos_weight = np.array(3.0, dtype)
    x, tx = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from numpy either
        loss = F.binary_cross_entropy_with_logits(x, Tensor(targets), reduction="none",
                                                  pos_weight=Tensor(pos_weight))
        loss.sum().backward()
    their_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.from_numpy(targets), reduction="none", pos_weight=torch.from_numpy(pos_weight))
    their_loss.sum().backward()
    assert np.all(np.isfinite(loss.data)) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(loss.data, their_loss.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-6, atol=1e-7)


# --- the regression losses against PyTorch ---------------------------------------------------
REGRESSION = {
    "mse_loss": ({}, "mse_loss"),
    "l1_loss": ({}, "l1_loss"),
    "smooth_l1_loss": ({}, "smooth_l1_loss"),
    "smooth_l1_loss beta=0.5": ({"beta": 0.5}, "smooth_l1_loss"),
    "smooth_l1_loss beta=0": ({"beta": 0.0}, "smooth_l1_loss"),
    "huber_loss": ({}, "huber_loss"),
    "huber_loss delta=0.4": ({"delta": 0.4}, "huber_loss"),
    "huber_loss delta=2": ({"delta": 2.0}, "huber_loss"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", REGRESSION)
def test_regression_losses_match_torch(case, reduction, dtype, torch):
    options, name = REGRESSION[case]
    assert_matches_torch(  # the target's gradient is compared too
        lambda x, y: getattr(F, name)(x, y, reduction=reduction, **options),
        lambda torch, x, y: getattr(torch.nn.functional, name)(x, y, reduction=reduction,
                                                               **options),
        [(3, 5), (3, 5)], dtype, torch)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_target_that_broadcasts_warns_and_broadcasts_as_torch(name, dtype, torch):
    def ours(x, y):
        with pytest.warns(UserWarning, match=rf"{name}: using a target size \(3, 1\) that is "
                          r"different to the input size \(3,\)"):
            return getattr(F, name)(x, y, reduction="none")

    def theirs(torch, x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(torch.nn.functional, name)(x, y, reduction="none")

    assert_matches_torch(ours, theirs, [(3,), (3, 1)], dtype, torch)


def test_mse_loss_of_equal_shapes_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(Tensor(np.ones((2, 3))), Tensor(np.zeros((2, 3))))


# --- gradcheck in float64: every loss and option ---------------------------------------------
def _values(shape, seed, low=-2.0, high=2.0):
    return Tensor(np.random.default_rng(seed).uniform(low, high, shape), requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.25},
                                     {"ignore_index": 2}, {"weight": True, "ignore_index": 2,
                                                           "label_smoothing": 0.1}],
                         ids=["plain", "weight", "smoothing", "ignore", "all"])
@pytest.mark.parametrize("layout", SHAPES)
def test_cross_entropy_and_nll_loss_gradcheck(layout, options, reduction):
    shape, target_shape = SHAPES[layout]
    labels = _labels(target_shape, 4, "custom" if "ignore_index" in options else "none")
    kwargs = {**options, "reduction": reduction}
    if kwargs.pop("weight", False):
        kwargs["weight"] = Tensor(np.linspace(0.5, 2.0, 4))
    x = _values(shape, 0)
    assert gradcheck(lambda t: F.cross_entropy(t, labels, **kwargs), [x], **TIGHT)
    kwargs.pop("label_smoothing", None)
    assert gradcheck(lambda t: F.nll_loss(t, labels, **kwargs), [x], **TIGHT)


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2}, {"weight": True}],
                         ids=["plain", "smoothing", "weight"])
def test_cross_entropy_with_probabilities_gradcheck(options):
    kwargs = dict(options)
    if kwargs.pop("weight", False):
        kwargs["weight"] = Tensor(np.linspace(0.5, 2.0, 4))
    x, t = _values((3, 4), 0), _values((3, 4), 1)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b.softmax(1), **kwargs), [x, t], **TIGHT)


@pytest.mark.parametrize("options", [{}, {"weight": True, "ignore_index": 2,
                                          "label_smoothing": 0.1}], ids=["plain", "all"])
def test_cross_entropy_second_derivatives(options):
    """The gradient of the nll_loss op, written with Tensors, differentiates again."""
    kwargs = dict(options)
    if kwargs.pop("weight", False):
        kwargs["weight"] = Tensor(np.linspace(0.5, 2.0, 4))
    labels = _labels((5,), 4, "custom" if "ignore_index" in kwargs else "none")
    assert gradgradcheck(lambda t: F.cross_entropy(t, labels, reduction="none", **kwargs),
                         [_values((5, 4), 0)], **TIGHT)
    assert gradgradcheck(lambda t: F.nll_loss(t, labels, **{
        k: v for k, v in kwargs.items() if k != "label_smoothing"}), [_values((5, 4), 0)],
        **TIGHT)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropies_gradcheck(reduction):
    x, y = _values((3, 4), 0, 0.05, 0.95), _values((3, 4), 1, 0.0, 1.0)
    w = Tensor(np.linspace(0.5, 2.0, 4))
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
                     [x, y], **TIGHT)
    assert gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
                         [x, y], **TIGHT)
    logits = _values((3, 4), 2, -4.0, 4.0)
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, w, reduction=reduction, pos_weight=Tensor(np.array([0.5, 1.0, 2.0, 3.0]))),
        [logits, y], **TIGHT)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", REGRESSION)
def test_regression_losses_gradcheck(case, reduction):
    options, name = REGRESSION[case]
    x = _values((3, 4), 0)
    differences = np.array([-2.7, -1.3, -0.7, -0.3, -0.1, 0.2, 0.45, 0.6, 0.8, 1.5, 2.4, 3.1])
    # |x − y| at least 0.05 away from the kinks (0, and β or δ: 0.4, 0.5, 1 and 2)
    y = Tensor(x.data - differences.reshape(3, 4), requires_grad=True)
    assert gradcheck(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **options),
                     [x, y], **TIGHT)


# the loss ops for test_op_gradients.py's EVERY_OP: op → (a function running it, its inputs)
EVERY_OP_LOSSES = {
    ops.NLLLossOp: (lambda a: ops.NLLLossOp.apply(
        a, target=np.array([[0, 2], [-100, 1]]), weight=np.array([1.0, 2.0, 3.0]),
        ignore_index=-100, reduction="mean", label_smoothing=0.1), [(2, 3, 2)]),
    ops.BinaryCrossEntropyOp: (lambda a, b: ops.BinaryCrossEntropyOp.apply(a.sigmoid(),
                                                                          b.sigmoid()),
                               [(2, 3), (2, 3)]),
}


@pytest.mark.parametrize("op", list(EVERY_OP_LOSSES), ids=lambda op: op.__name__)
def test_the_gradient_of_each_loss_op(op):
    fn, shapes = EVERY_OP_LOSSES[op]
    inputs = [_values(shape, seed) for seed, shape in enumerate(shapes)]
    assert gradcheck(fn, inputs, **TIGHT)
    assert gradgradcheck(fn, inputs, **TIGHT)


def test_gradcheck_catches_a_wrong_loss_gradient():
    """The checks above can fail: a loss whose gradient is off by a factor is caught."""
    class Halved(tg.Function):
        def forward(self, x):
            return x * 1.0

        def backward(self, grad, out, x):
            return grad * 0.5

    labels = np.array([0, 3, 1])
    with pytest.raises(Exception, match="(?i)gradient|jacobian|mismatch"):
        gradcheck(lambda t: F.cross_entropy(Halved.apply(t), labels, label_smoothing=0.1),
                  [_values((3, 4), 0)], **TIGHT)


# --- replay (jit) reads new labels every call ------------------------------------------------
@pytest.mark.parametrize("options", [{"ignore_index": 1}, {"label_smoothing": 0.1},
                                     {"weight": Tensor(np.array([1.0, 2.0, 3.0]))}])
def test_a_replayed_step_reads_new_labels(options):
    model = nn.MLP([4, 3], seed=0, output_activation=None)
    step = tg.jit(lambda x, labels: F.cross_entropy(model(x), labels, **options))
    x = Tensor(np.linspace(-1, 1, 8).reshape(2, 4))
    for labels in ([0, 1], [2, 1], [1, 1], [1, 0]):
        replayed = step(x, Tensor(np.array(labels))).item()
        eager = F.cross_entropy(model(x), np.array(labels), **options).item()
        assert replayed == pytest.approx(eager, nan_ok=True)
    assert len(step.records) == 1  # (replayed, not recorded again)


# --- wrong inputs --------------------------------------------------------------------------
EVERY_LOSS = {
    "cross_entropy": lambda **kw: F.cross_entropy(Tensor(np.zeros((2, 3))), [0, 1], **kw),
    "nll_loss": lambda **kw: F.nll_loss(Tensor(np.zeros((2, 3))), [0, 1], **kw),
    "binary_cross_entropy": lambda **kw: F.binary_cross_entropy(
        Tensor(np.full(2, 0.5)), Tensor(np.ones(2)), **kw),
    "binary_cross_entropy_with_logits": lambda **kw: F.binary_cross_entropy_with_logits(
        Tensor(np.zeros(2)), Tensor(np.ones(2)), **kw),
    "mse_loss": lambda **kw: F.mse_loss(Tensor(np.zeros(2)), Tensor(np.ones(2)), **kw),
    "l1_loss": lambda **kw: F.l1_loss(Tensor(np.zeros(2)), Tensor(np.ones(2)), **kw),
    "smooth_l1_loss": lambda **kw: F.smooth_l1_loss(Tensor(np.zeros(2)), Tensor(np.ones(2)), **kw),
    "huber_loss": lambda **kw: F.huber_loss(Tensor(np.zeros(2)), Tensor(np.ones(2)), **kw),
}


@pytest.mark.parametrize("name", EVERY_LOSS)
def test_a_bad_reduction_is_named(name):
    assert EVERY_LOSS[name](reduction="sum").shape == ()
    with pytest.raises(ValueError, match=rf"^{name}: 'avg' is not a valid value for reduction"):
        EVERY_LOSS[name](reduction="avg")


@pytest.mark.parametrize("name", EVERY_LOSS)
def test_an_input_that_is_not_a_tensor_is_named(name):
    with pytest.raises(TypeError, match=rf"^{name}: input must be a Tensor, got list"):
        getattr(F, name)([[0.5, 0.5], [0.5, 0.5]], Tensor(np.ones((2, 2))))


def test_shapes_that_do_not_broadcast_raise():
    with pytest.raises(RuntimeError, match=r"mse_loss: input of shape \(3, 4\) and target of "
                       r"shape \(5,\) do not broadcast"):
        F.mse_loss(Tensor(np.zeros((3, 4))), Tensor(np.zeros(5)))
    with pytest.raises(RuntimeError, match=r"l1_loss: .*\(3, 4\).*\(3,\)"):
        F.l1_loss(Tensor(np.zeros((3, 4))), Tensor(np.zeros(3)))


def test_binary_cross_entropies_want_equal_shapes():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target size \(4,\) must be "
                       r"the same as input size \(3, 4\) \(this loss does not broadcast\)"):
        F.binary_cross_entropy(Tensor(np.full((3, 4), 0.5)), Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target size "
                       r"\(4,\) must be the same as input size \(3, 4\)"):
        F.binary_cross_entropy_with_logits(Tensor(np.zeros((3, 4))), Tensor(np.ones(4)))


def test_binary_cross_entropy_wants_probabilities():
    with pytest.raises(RuntimeError, match=r"all elements of input should be between 0 and 1,"
                       r" got values from -0.5 to 0.5 \(for logits use binary_cross_entropy_"):
        F.binary_cross_entropy(Tensor([-0.5, 0.5]), Tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(Tensor([0.5, 0.5]), Tensor([0.0, 2.0]))
    with pytest.raises(RuntimeError, match="input should be between 0 and 1"):
        F.binary_cross_entropy(Tensor([np.nan, 0.5]), Tensor([0.0, 1.0]))


def test_weights_of_the_wrong_shape_are_named():
    logits = Tensor(np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match=r"cross_entropy: weight must hold one number per "
                       r"class, shape \(4,\), got shape \(3,\)"):
        F.cross_entropy(logits, [0, 1], Tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match=r"nll_loss: weight .* shape \(4,\), got shape \(5,\)"):
        F.nll_loss(logits, [0, 1], Tensor(np.ones(5)))
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: weight of shape \(3,\) does "
                       r"not broadcast to the input's shape \(2, 4\)"):
        F.binary_cross_entropy(Tensor(np.full((2, 4), 0.5)), Tensor(np.ones((2, 4))),
                               Tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match=r"pos_weight of shape \(3, 4\) does not broadcast "
                       r"to the input's shape \(4,\)"):
        F.binary_cross_entropy_with_logits(Tensor(np.zeros(4)), Tensor(np.ones(4)),
                                           pos_weight=Tensor(np.ones((3, 4))))


def test_weights_that_require_grad_or_are_strings_are_refused():
    logits = Tensor(np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match=r"cross_entropy: weight requires grad.*"
                       r"weight.detach\(\)"):
        F.cross_entropy(logits, [0, 1], Tensor(np.ones(4), requires_grad=True))
    with pytest.raises(TypeError, match=r"cross_entropy: weight must be a Tensor, got 'sum'; "
                       r"pass reduction='sum' by name"):
        F.cross_entropy(logits, [0, 1], "sum")


def test_labels_out_of_range_name_cross_entropy_and_the_value():
    logits = Tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"^cross_entropy: labels must lie in \[0, 4\) or "
                       r"equal ignore_index \(-100\), got 4"):
        F.cross_entropy(logits, [0, 4, 1])
    with pytest.raises(ValueError, match=r"^cross_entropy: labels .*, got -1$"):
        F.cross_entropy(logits, [0, -1, 1])
    with pytest.raises(ValueError, match=r"^cross_entropy: labels .* ignore_index \(2\), got -100"):
        F.cross_entropy(logits, [0, -100, 1], ignore_index=2)
    with pytest.raises(ValueError, match=r"^nll_loss: labels must lie in \[0, 4\)"):
        F.nll_loss(logits, [0, 7, 1])


def test_targets_of_the_wrong_shape_or_dtype_are_named():
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(2, 4, 3\) needs "
                       r"target of shape \(2, 3\) \(class indices\), got \(2,\)"):
        F.cross_entropy(Tensor(np.zeros((2, 4, 3))), [0, 1])
    with pytest.raises(ValueError, match=r"input of shape \(4,\) needs target of shape \(\)"):
        F.cross_entropy(Tensor(np.zeros(4)), [1])
    with pytest.raises(ValueError, match=r"integer class indices of shape \(2,\) \(or class "
                       r"probabilities of the input's shape \(2, 4\)\), got float64 of shape "
                       r"\(2, 3\)"):
        F.cross_entropy(Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 3), np.float64)))
    with pytest.raises(ValueError, match="nll_loss: target must hold integer class indices"):
        F.nll_loss(Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"cross_entropy: input must be scores of shape"):
        F.cross_entropy(Tensor(np.float64(1.0)), np.array(0))


def test_bad_settings_are_named():
    logits, labels = Tensor(np.zeros((2, 4))), [0, 1]
    with pytest.raises(RuntimeError, match=r"label_smoothing must be between 0.0 and 1.0, "
                       "got 1.5"):
        F.cross_entropy(logits, labels, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for a target of "
                       "class probabilities"):
        F.cross_entropy(logits, Tensor(np.full((2, 4), 0.25)), ignore_index=0)
    x, y = Tensor(np.zeros(2)), Tensor(np.ones(2))
    with pytest.raises(RuntimeError, match=r"smooth_l1_loss: beta must be ≥ 0, got -1.0"):
        F.smooth_l1_loss(x, y, beta=-1)
    with pytest.raises(RuntimeError, match=r"huber_loss: delta must be > 0, got 0.0"):
        F.huber_loss(x, y, delta=0)
    with pytest.raises(TypeError, match=r"huber_loss: delta must be a number, got '1'"):
        F.huber_loss(x, y, delta="1")


# --- the modules ----------------------------------------------------------------------------
MODULES = {  # module, its function, arguments
    "CrossEntropyLoss": (nn.CrossEntropyLoss, F.cross_entropy,
                         {"ignore_index": 1, "reduction": "sum", "label_smoothing": 0.1}),
    "NLLLoss": (nn.NLLLoss, F.nll_loss, {"ignore_index": 1, "reduction": "none"}),
    "BCELoss": (nn.BCELoss, F.binary_cross_entropy, {"reduction": "sum"}),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits,
                          {"reduction": "none"}),
    "L1Loss": (nn.L1Loss, F.l1_loss, {"reduction": "sum"}),
    "MSELoss": (nn.MSELoss, F.mse_loss, {"reduction": "none"}),
    "SmoothL1Loss": (nn.SmoothL1Loss, F.smooth_l1_loss, {"reduction": "sum", "beta": 0.5}),
    "HuberLoss": (nn.HuberLoss, F.huber_loss, {"reduction": "sum", "delta": 0.5}),
}


def _module_inputs(name):
    rng = np.random.default_rng(0)
    if name in ("CrossEntropyLoss", "NLLLoss"):
        return Tensor(rng.standard_normal((4, 3))), np.array([0, 1, 2, 1])
    probabilities = Tensor(rng.uniform(0.1, 0.9, (4, 3)))
    return probabilities, Tensor(rng.uniform(0, 1, (4, 3)))


@pytest.mark.parametrize("name", MODULES)
def test_each_loss_module_calls_its_function_with_its_settings(name):
    module_class, function, settings = MODULES[name]
    x, target = _module_inputs(name)
    np.testing.assert_array_equal(module_class(**settings)(x, target).data,
                                  function(x, target, **settings).data)
    for key, value in settings.items():
        assert f"{key}={value!r}" in repr(module_class(**settings))


def test_class_weights_are_buffers_with_torchs_keys(torch):
    weight = np.array([1.0, 2.0, 3.0])
    for make, their_make in (
            (lambda w: nn.CrossEntropyLoss(w), lambda w: torch.nn.CrossEntropyLoss(w)),
            (lambda w: nn.NLLLoss(w), lambda w: torch.nn.NLLLoss(w)),
            (lambda w: nn.BCELoss(w), lambda w: torch.nn.BCELoss(w)),
            (lambda w: nn.BCEWithLogitsLoss(w, pos_weight=Tensor(weight.copy())),
             lambda w: torch.nn.BCEWithLogitsLoss(w, pos_weight=w.clone()))):
        ours, theirs = make(Tensor(weight.copy())), their_make(torch.tensor(weight))
        assert list(ours.state_dict()) == list(theirs.state_dict())
        ours.load_state_dict({k: v.numpy() * 2 for k, v in theirs.state_dict().items()})
        np.testing.assert_array_equal(ours.weight.data, weight * 2)
        assert ours.parameters() == []
    assert nn.CrossEntropyLoss().state_dict() == {}
    assert "weight=<shape (3,)>" in repr(nn.CrossEntropyLoss(Tensor(weight)))


def test_a_weighted_module_matches_torch(torch):
    weight = np.array([1.0, 2.0, 3.0])
    x, labels = _module_inputs("CrossEntropyLoss")
    ours = nn.CrossEntropyLoss(Tensor(weight), label_smoothing=0.2)(x, labels).item()
    theirs = torch.nn.CrossEntropyLoss(torch.from_numpy(weight), label_smoothing=0.2)(
        torch.from_numpy(x.data), torch.from_numpy(labels)).item()
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_loss_modules_refuse_bad_settings_and_inputs():
    with pytest.raises(ValueError, match=r"^L1Loss: 'avg' is not a valid value for reduction"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(TypeError):  # settings after weight are keyword-only (see nn/losses.py)
        nn.MSELoss("sum")
    with pytest.raises(TypeError, match="^BCEWithLogitsLoss: the logits must be a Tensor, got "
                       "a numpy array"):
        nn.BCEWithLogitsLoss()(np.zeros(2), Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="^HuberLoss: the input must be a Tensor, got list"):
        nn.HuberLoss()([0.0], Tensor([1.0]))
