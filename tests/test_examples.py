"""The examples run and learn: the flagship reaches its accuracy, options work end to end."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import nn

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


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
    """python -m tinygrad_edu.digits runs examples/mnist.py as installed with the package."""
    done = subprocess.run([sys.executable, "-m", "tinygrad_edu.digits", "--epochs", "1",
                           "--figure", str(tmp_path / "f.png")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "784 → 16 → 16 → 10, 13,002 parameters" in done.stdout
    assert "test accuracy" in done.stdout


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
