"""viz.layer_stats, the diagnostics of the activations-and-gradients lesson: what each watched
layer outputs and the gradient that reaches it (recorded with hooks, the model given back
untouched), and each parameter's update-to-data ratio, for eager and jitted steps."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, optim, viz
from tinygrad_edu import functional as F


def network(seed=0):
    """Linear → Tanh → Linear → Tanh → Linear, 5 → 8 → 8 → 3."""
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                         nn.Linear(8, 3))


def batch(seed=1, size=16):
    rng = np.random.default_rng(seed)
    return (Tensor(rng.standard_normal((size, 5)).astype(np.float32)),
            Tensor(rng.integers(0, 3, size)))


def training_step(model, optimizer):
    """A step as a user writes it: zero, forward, cross-entropy, backward, update."""

    def step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def test_capture_records_each_layers_output_and_the_gradient_that_reaches_it():
    model, (x, y) = network(), batch()
    stats = viz.layer_stats(model, nn.Tanh)
    assert stats.layers == ["1", "3"] and stats.kinds == {"1": "Tanh", "3": "Tanh"}
    with stats.capture():
        F.cross_entropy(model(x), y).backward()
    # the same forward and backward by hand, the tanh outputs kept with retain_grad
    h1 = model[1](model[0](x)).retain_grad()
    h2 = model[3](model[2](h1)).retain_grad()
    F.cross_entropy(model[4](h2), y).backward()
    for name, h in (("1", h1), ("3", h2)):
        np.testing.assert_array_equal(stats.activations[name], h.data.ravel())
        np.testing.assert_allclose(stats.gradients[name], h.grad.data.ravel(), rtol=1e-6)


def test_the_model_gets_its_classes_back_even_when_the_block_raises():
    model = network()
    stats = viz.layer_stats(model)
    with pytest.raises(ZeroDivisionError), stats.capture():
        model(batch()[0])
        1 / 0  # noqa: B018
    assert [type(m) for m in model] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert all(type(m).__call__ is type(m).forward for m in model)
    assert repr(model[1]) == "Tanh()"


def test_a_block_where_no_watched_layer_ran_is_an_error_not_empty_statistics():
    model, (x, y) = network(), batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    step = training_step(model, optimizer)

    jitted = tg.jit(step)
    jitted(x, y)  # recorded
    stats = viz.layer_stats(model, nn.Tanh)
    with pytest.raises(RuntimeError, match="none of the watched layers .* tg.jit replays"), \
            stats.capture():
        jitted(x, y)  # a replay: no layer is called


def test_capturing_between_jitted_steps_changes_nothing_they_compute():
    x, y = batch()
    finals = []
    for capture in (False, True):
        model = network()
        optimizer = optim.AdamW(model.parameters(), lr=0.01)
        step = training_step(model, optimizer)

        jitted, stats = tg.jit(step), viz.layer_stats(model, nn.Tanh)
        for i in range(6):
            if capture and i == 3:
                with stats.capture():
                    F.cross_entropy(model(x), y).backward()
                model.zero_grad()
            jitted(x, y)
        finals.append([p.data.copy() for p in model.parameters()])
    for plain, captured in zip(*finals, strict=True):
        np.testing.assert_array_equal(plain, captured)


def test_layers_are_chosen_by_class_by_name_or_all_innermost():
    model = network()
    assert viz.layer_stats(model).layers == ["0", "1", "2", "3", "4"]
    assert viz.layer_stats(model, (nn.Linear,)).layers == ["0", "2", "4"]
    assert viz.layer_stats(model, ["3", ""]).layers == ["", "3"]  # the model's order
    with pytest.raises(ValueError, match=r"no layer named '7' in Sequential; its layers are "
                                         r"'', '0', '1'"):
        viz.layer_stats(model, ["7"])
    with pytest.raises(ValueError, match="Sequential has no layer of GELU"):
        viz.layer_stats(model, nn.GELU)
    with pytest.raises(TypeError, match="layers must be None"):
        viz.layer_stats(model, 3)
    with pytest.raises(TypeError, match="model must be an nn.Module, got ndarray"):
        viz.layer_stats(np.ones(3))


def test_a_layer_called_twice_gives_the_values_of_both_calls():
    tg.manual_seed(0)
    shared = nn.Tanh()

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = shared

        def forward(self, x):
            return self.act(self.act(x))

    model, x = Twice(), Tensor(np.linspace(-2, 2, 6), requires_grad=True)
    stats = viz.layer_stats(model, nn.Tanh)
    with stats.capture():
        model(x).sum().backward()
    once = np.tanh(x.data)
    np.testing.assert_allclose(stats.activations["act"], np.concatenate([once, np.tanh(once)]))
    assert stats.gradients["act"].shape == (12,)


def test_a_recurrent_layer_is_recorded_by_its_output_sequence():
    tg.manual_seed(0)
    model = nn.Sequential(nn.GRU(4, 6, batch_first=True))
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32))
    stats = viz.layer_stats(model, nn.GRU)
    with stats.capture():
        out, _ = model[0](x)
        out.sum().backward()
    np.testing.assert_array_equal(stats.activations["0"], out.data.ravel())
    np.testing.assert_array_equal(stats.gradients["0"], np.ones(2 * 3 * 6))


def test_without_backward_or_grad_only_activations_are_recorded():
    model, (x, _) = network(), batch()
    stats = viz.layer_stats(model, nn.Tanh)
    with tg.no_grad(), stats.capture():
        model(x)
    assert set(stats.activations) == {"1", "3"} and stats.gradients == {}


def test_saturation_counts_the_tanh_outputs_in_the_flat_region():
    model = nn.Sequential(nn.Tanh(), nn.Sigmoid())
    stats = viz.layer_stats(model)
    x = Tensor(np.array([-5.0, -0.1, 0.0, 0.2, 3.0, 10.0]))
    with stats.capture():
        model(x)
    assert stats.saturated("0") == pytest.approx(3 / 6)  # |tanh| > 0.97: −5, 3, 10
    assert stats.saturated("1") == pytest.approx(0.0)  # sigmoid of tanh's (−1, 1): not flat
    text = stats.summary()
    assert "50.0%" in text and "Tanh" in text and "Sigmoid" in text


def test_the_update_ratio_of_sgd_is_the_lessons_lr_times_grad_over_data():
    model, (x, y) = network(), batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    stats = viz.layer_stats(model)
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    expected = {name: np.log10((0.1 * p.grad.data).std() / p.data.std())
                for name, p in model.named_parameters() if p.ndim == 2}
    with stats.measure_update(step=7):
        optimizer.step()
    assert stats.update_steps == [7]
    for name, value in expected.items():
        assert stats.update_ratios[name] == [pytest.approx(value, abs=1e-5)], name
    assert np.isnan(stats.update_ratios["0.bias"][0])  # (biases start at zero: no ratio)


def test_update_ratios_of_jitted_steps_equal_the_eager_ones():
    x, y = batch()
    ratios = []
    for use_jit in (False, True):
        model = network()
        optimizer = optim.AdamW(model.parameters(), lr=0.01)
        step = training_step(model, optimizer)

        run, stats = (tg.jit(step) if use_jit else step), viz.layer_stats(model)
        for _ in range(4):
            with stats.measure_update():
                run(x, y)
        assert stats.update_steps == [0, 1, 2, 3]
        ratios.append(stats.update_ratios)
    np.testing.assert_equal(ratios[0], ratios[1])  # (nan: a bias's first step)
    assert all(np.isfinite(values[1:]).all() for values in ratios[0].values())


def test_a_parameter_starting_at_zero_has_no_ratio_then_a_finite_one():
    layer = nn.Linear(3, 2)
    with tg.no_grad():
        layer.bias.copy_(Tensor(np.zeros(2, np.float32)))
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    stats = viz.layer_stats(layer)
    for _ in range(2):
        with stats.measure_update():
            optimizer.zero_grad()
            (layer(Tensor(np.ones((4, 3), np.float32))) * Tensor([1.0, 2.0])).sum().backward()
            optimizer.step()
    assert np.isnan(stats.update_ratios["bias"][0]) and np.isfinite(stats.update_ratios["bias"][1])


def test_the_plots_draw_a_line_per_layer_and_the_rule_of_thumb():
    matplotlib = pytest.importorskip("matplotlib", reason="the figures need matplotlib")
    from matplotlib.figure import Figure

    model, (x, y) = network(), batch()
    optimizer = optim.AdamW(model.parameters(), lr=0.01)
    stats = viz.layer_stats(model, nn.Tanh)
    with stats.capture():
        F.cross_entropy(model(x), y).backward()
    for _ in range(5):
        with stats.measure_update():
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    axes = Figure().subplots(1, 3)
    stats.plot_activations(axes[0])
    stats.plot_gradients(axes[1])
    stats.plot_update_ratios(axes[2])
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert len(labels) == 2 and labels[0].startswith("1 (Tanh): mean")
    assert "saturated" in labels[0]
    assert len(axes[1].get_lines()) == 2
    ratio_lines = axes[2].get_lines()  # the 3 weight matrices (not biases) and the 1e-3 line
    assert [line.get_label() for line in ratio_lines[:3]] == ["0.weight", "2.weight",
                                                              "4.weight"]
    assert list(ratio_lines[3].get_ydata()) == [-3, -3]
    assert matplotlib is not None


def test_many_weights_share_a_colour_and_a_legend_entry_per_role():
    pytest.importorskip("matplotlib", reason="the figures need matplotlib")
    from matplotlib.figure import Figure

    tg.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
                            for _ in range(5)])
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    stats = viz.layer_stats(model, nn.Tanh)
    with stats.measure_update():
        optimizer.zero_grad()
        model(Tensor(np.ones((2, 4), np.float32))).sum().backward()
        optimizer.step()
    axis = Figure().subplots()
    stats.plot_update_ratios(axis)
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert legend == ["*.0.weight", "*.2.weight", "0.001 (rule of thumb)"]
    lines = axis.get_lines()[:10]
    assert len({line.get_color() for line in lines}) == 2
