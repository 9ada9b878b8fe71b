"""The examples run and learn: the flagship reaches its accuracy, options work end to end."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import datasets, nn

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="the real MNIST test set (../shared) is not here")
def test_flagship_defaults_reach_90_percent_on_the_real_test_set(tmp_path, load_example):
    result = load_example("mnist").main(["--test-dir", str(SHARED_MNIST),
                                         "--figure", str(tmp_path / "figure.png")])
    assert result["test_accuracy"] >= 0.90


def test_flagship_learns_on_the_held_out_split_and_saves(tmp_path, capsys, load_example):
    weights = tmp_path / "weights.npz"
    result = load_example("mnist").main(["--epochs", "3", "--save", str(weights),
                                         "--figure", str(tmp_path / "figure.png")])
    assert result["test_accuracy"] > 0.75  # 10% is chance
    printed = capsys.readouterr().out
    assert "4,000 digits to train, 1,000 held out" in printed
    assert printed.count("epoch ") == 3
    model = nn.load(nn.MLP([784, 16, 16, 10]), weights)
    assert model.num_parameters() == 13_002
    if "figure saved" in printed:  # matplotlib is an optional extra
        assert (tmp_path / "figure.png").stat().st_size > 10_000


@pytest.mark.parametrize("options", [["--loss", "cross-entropy", "--lr", "0.5"],
                                     ["--optimizer", "adam", "--lr", "0.01", "--no-augment"],
                                     ["--sizes", "784", "32", "10", "--batch-size", "32",
                                      "--lr", "30"]])
def test_flagship_options(tmp_path, options, load_example):
    result = load_example("mnist").main(options + ["--epochs", "2", "--figure",
                                                   str(tmp_path / "f.png")])
    assert result["test_accuracy"] > 0.6


def test_custom_network_learns(load_example):
    accuracy = load_example("custom_network").main(["--epochs", "3"])
    assert accuracy > 0.75


def test_tiny_graph_prints_the_neuron_gradients(capsys, load_example):
    load_example("tiny_graph").main()
    printed = capsys.readouterr().out
    assert "∂a/∂w" in printed
    values = printed.split("∂a/∂b =")[1].split()[0]
    assert 0 < float(values) <= 0.25 and np.isfinite(float(values))


def test_the_gradient_check_plot_says_which_side_is_which(tmp_path, load_example):
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib (the examples extra) is not installed")
    example = load_example("gradient_check")
    figure = example.plot({"float64": list(np.geomspace(1e-3, 1e-9, 12))}, tmp_path / "v.png")
    axis = figure.axes[0]
    x_of = lambda eps: axis.transData.transform((eps, 1e-6))[0]  # noqa: E731
    large_eps_side = "left" if x_of(example.EPSILONS.max()) < x_of(example.EPSILONS.min()) \
        else "right"
    small_eps_side = {"left": "right", "right": "left"}[large_eps_side]
    # truncation error dominates at large eps, rounding error at small eps
    assert f"truncation ({large_eps_side})" in axis.get_title()
    assert f"rounding ({small_eps_side})" in axis.get_title()
    assert (tmp_path / "v.png").stat().st_size > 10_000


def test_forward_vs_reverse_times_both_modes_and_agrees(tmp_path, capsys, load_example):
    """The lesson's numbers come from Jacobians and gradients that agree both ways (the
    example asserts it); here: every row printed, and the figure when matplotlib is there."""
    example = load_example("forward_vs_reverse")
    result = example.main(["--plot", str(tmp_path / "f.png"), "--sizes", "1", "4", "16"])
    out = capsys.readouterr().out
    assert result["times"]["jacfwd"].shape == (3, 3)
    assert "13,002 jvps" in out and "one backward pass" in out
    assert "Hessian-vector product" in out and "Per-example gradient norms (32 examples" in out
    assert result["forward"] > result["backward"]  # 13,002 passes against one
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "f.png").stat().st_size > 10_000


def test_gradient_check_experiment_shows_the_v(tmp_path, capsys, load_example):
    example = load_example("gradient_check")
    errors = example.main(["--plot", str(tmp_path / "v.png")])
    f64, f32 = np.array(errors["float64"]), np.array(errors["float32"])
    best64 = int(np.argmin(f64))
    assert f64[best64] < 1e-8  # float64 gets close...
    assert 1e-7 <= example.EPSILONS[best64] <= 1e-4  # ...at a middling eps,
    assert f64[0] > 100 * f64[best64] and f64[-1] > 100 * f64[best64]  # worse at both ends
    assert f32.min() > 100 * f64.min()  # float32 never gets as close
    assert "gradient mismatch for input 0 (x)" in capsys.readouterr().out


def test_pip_users_can_run_the_flagship_without_the_repository(tmp_path):
    """python -m tinygrad_edu.digits runs examples/mnist.py as installed with the package,
    and says where it wrote its files (relative paths are under the folder it runs in)."""
    done = subprocess.run([sys.executable, "-m", "tinygrad_edu.digits", "--epochs", "1",
                           "--save", "w.npz"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "784 → 16 → 16 → 10, 13,002 parameters" in done.stdout
    assert "test accuracy" in done.stdout
    here = tmp_path.resolve()
    assert f"weights saved to {here / 'w.npz'}\n" in done.stdout
    if "figure saved" in done.stdout:  # matplotlib is an optional extra
        assert f"figure saved to {here / 'out' / 'mnist_training.png'}\n" in done.stdout


@pytest.mark.parametrize("command, usage", [
    (["-m", "tinygrad_edu.digits"], "python -m tinygrad_edu.digits"),
    ([str(ROOT / "examples" / "mnist.py")], "python examples/mnist.py"),
    ([str(ROOT / "examples" / "conv_digits.py")], "python examples/conv_digits.py"),
    ([str(ROOT / "examples" / "gradient_check.py")], "python examples/gradient_check.py"),
    ([str(ROOT / "examples" / "forward_vs_reverse.py")],
     "python examples/forward_vs_reverse.py"),
    (["-m", "tinygrad_edu.names"], "python -m tinygrad_edu.names"),
    ([str(ROOT / "examples" / "names.py")], "python examples/names.py")])
def test_the_usage_line_is_the_command_that_runs_it(tmp_path, command, usage):
    done = subprocess.run([sys.executable, *command, "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {usage} [-h]")


def test_the_names_example_help_has_no_misleading_defaults(load_example):
    text = " ".join(load_example("names").build_parser().format_help().split())
    for misleading in ("(default: True)", "(default: False)", "(default: None)"):
        assert misleading not in text  # (--lr's default is per model: said in words)


@pytest.mark.parametrize("name", ["mnist", "conv_digits"])
def test_help_says_what_each_switch_does_and_the_real_defaults(name, load_example):
    text = " ".join(load_example(name).build_parser().format_help().split())
    for misleading in ("(default: True)", "(default: False)", "(default: None)"):
        assert misleading not in text  # a switch's stored value reads as the opposite
    # what the example does beyond the lessons' recipe is said up front
    assert "shifts every training digit by up to a pixel (--no-augment turns it off)" in text
    assert "falls to ×0.3 after 60% of the epochs and to ×0.1 after 80%" in text
    assert ("--no-augment train on the digits as they are (by default each epoch shifts every "
            "training digit by up to a pixel" in text)
    assert "--no-jit run every step eagerly (by default the step is recorded once" in text
    assert "(default: out/" in text  # the figure's path, relative to where it runs
    if name == "mnist":
        assert ("(default: per loss and optimizer, each measured to reach 90% on the real test "
                "set: mse+sgd 15," in text)
    else:
        assert "--no-mlp train the LeNet alone (by default the flagship MLP is trained" in text


def test_the_held_out_split_is_the_last_1000_digits_100_of_each(load_example):
    example = load_example("mnist")
    (train_x, _), (test_x, test_y), _ = example.load_splits(example.parse_args([]))
    images, _ = datasets.mnist_sample()
    np.testing.assert_array_equal(train_x, images[:4000])
    np.testing.assert_array_equal(test_x, images[4000:])
    assert np.bincount(test_y).tolist() == [100] * 10


def test_examples_and_bench_run_where_tinygrad_edu_has_no_examples_package():
    """In an unpacked sdist the source tree's tinygrad_edu/ (which has no `examples`)
    shadows the installed package: the examples, bench/conv.py (test_bench imports it) and
    python -m tinygrad_edu.digits must not need tinygrad_edu.examples."""
    blocked = "import sys; sys.modules['tinygrad_edu.examples'] = None; "  # → ImportError
    script = blocked + (
        "sys.path[:0] = ['bench', 'examples']; import conv, conv_digits, gradient_check; "
        "conv.check_same_step(2); "
        "import runpy; sys.argv = ['digits', '--help']; "
        "runpy.run_module('tinygrad_edu.digits', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--no-augment" in done.stdout


@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="the real MNIST test set (../shared) is not here")
def test_lenet_reaches_97_percent_on_the_real_test_set(tmp_path, load_example):
    result = load_example("conv_digits").main(["--test-dir", str(SHARED_MNIST), "--no-mlp",
                                               "--figure", str(tmp_path / "f.png")])
    assert result["test_accuracy"] >= 0.97


def test_lenet_learns_and_prints_the_mlp_beside_it(tmp_path, capsys, load_example):
    result = load_example("conv_digits").main(["--epochs", "1", "--save",
                                               str(tmp_path / "w.npz"), "--figure",
                                               str(tmp_path / "f.png")])
    assert result["test_accuracy"] > 0.85 and result["mlp_test_accuracy"] > 0.85
    printed = capsys.readouterr().out
    assert "same digits, same test set: LeNet" in printed and "MLP" in printed
    model = nn.load(load_example("conv_digits").lenet(0), tmp_path / "w.npz")
    assert model.num_parameters() == 7_434
