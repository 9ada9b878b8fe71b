"""examples/names.py, makemore's models of names: every model learns, the bigram's count
model is the counting answer, a checkpoint resumes bit for bit, tg.jit gives the eager
numbers, bad options are refused before training, and the last line is the test loss;
running text with --stream, several models in one run, and the figure of the lesson's
diagnostics."""

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, datasets, optim

WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia",
         "harper", "evelyn", "abigail", "emily", "ella", "elizabeth", "camila", "luna"]
LAST_LINE = re.compile(r"test loss: \d+\.\d{4} after \d+ steps \(\d+\.\d s\)")
# the data the issue names for running text: beside the repository (CI puts it there)
SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared/data/tinyshakespeare/input.txt"
RUNNING_TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\n"
                "a cat and a dog met on a mat by a log.\n") * 12


@pytest.fixture
def names_example(load_example):
    """examples/names.py, imported afresh for each test."""
    return load_example("names")


@pytest.fixture
def small_text(tmp_path):
    """300 of the names in a text file: a data set that trains in a blink."""
    path = tmp_path / "words.txt"
    path.write_text("\n".join(datasets.names()[:300]) + "\n", encoding="utf-8")
    return path


def small_options(**changes):
    """Options for a tiny model (8 wide) on a few steps."""
    options = {"--max-steps": "6", "--n-embd": "8", "--n-hidden": "8", "--n-layer": "1",
               "--n-head": "2", "--eval-every": "1000", "--sample": "0", "--lr": "0.01"}
    options.update(changes)
    return [str(item) for pair in options.items() for item in pair] + ["--no-figure"]


def test_the_example_offers_makemores_models(names_example):
    assert names_example.MODELS == ("bigram", "mlp", "rnn", "gru", "lstm",
                                            "transformer")


@pytest.mark.parametrize("kind", ["bigram", "mlp", "rnn", "gru", "lstm", "transformer"])
def test_each_model_trains_and_its_loss_falls(names_example, kind):
    args = names_example.parse_args(small_options(**{"--model": kind}))
    vocabulary = datasets.CharVocabulary(WORDS)
    block_size = max(map(len, WORDS)) + 1
    data = names_example.Words(WORDS, vocabulary, block_size)
    tg.manual_seed(0)
    model = names_example.build_model(kind, len(vocabulary), block_size, args)
    logits = model(Tensor(data.x))
    assert logits.shape == (len(WORDS), block_size, len(vocabulary))
    optimizer = optim.AdamW(model.parameters(), lr=0.02)
    step = names_example.make_train_step(model, optimizer, clip=1.0, use_jit=True)
    before = names_example.evaluate(model, data)
    for _ in range(15):
        step(Tensor(data.x), Tensor(data.y.ravel()))
    assert names_example.evaluate(model, data) < before - 0.2


@pytest.mark.parametrize("kind", ["mlp", "transformer"])
def test_a_prediction_reads_only_the_characters_before_it(names_example, kind):
    args = names_example.parse_args(small_options(**{"--model": kind}))
    tg.manual_seed(0)
    model = names_example.build_model(kind, 27, 8, args)
    x = np.random.default_rng(0).integers(0, 27, (2, 8))
    changed = x.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % 27
    a, b = model(Tensor(x)).data, model(Tensor(changed)).data
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert not np.allclose(a[:, 5:], b[:, 5:])


def test_the_count_model_nll_is_the_direct_computation(names_example):
    train, test = ["ab", "ba", "abb"], ["ab", "b"]
    vocabulary = datasets.CharVocabulary(train + test)  # '.'=0, a=1, b=2
    counts = np.ones((3, 3))
    for word in train:
        chars = "." + word + "."
        for first, second in itertools.pairwise(chars):
            counts[".ab".index(first), ".ab".index(second)] += 1
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    pairs = [(".ab".index(p), ".ab".index(q)) for word in test
             for p, q in zip("." + word, word + ".", strict=True)]
    expected = -np.mean([math.log(probabilities[p, q]) for p, q in pairs])
    assert names_example.count_model_nll(train, test, vocabulary) == pytest.approx(expected,
                                                                                    abs=1e-12)


def test_the_bigram_prints_the_count_model_beside_the_trained_one(names_example, small_text,
                                                                   capsys):
    result = names_example.main(small_options(**{"--model": "bigram", "--text": small_text}))
    out = capsys.readouterr().out
    assert f"bigram by counting (counts + 1): test loss {result['count_loss']:.4f}" in out
    assert f"by gradient descent: {result['test_loss']:.4f}" in out


def test_resume_gives_bit_for_bit_the_weights_of_training_straight_through(
        names_example, small_text, tmp_path):
    straight, first, second = (tmp_path / name for name in ("a.npz", "b.npz", "c.npz"))
    names_example.main(small_options(**{"--text": small_text, "--save": straight}))
    names_example.main(small_options(**{"--text": small_text, "--save": first,
                                        "--max-steps": 3}))
    names_example.main(small_options(**{"--text": small_text, "--resume": first,
                                        "--save": second, "--max-steps": 3}))
    whole, resumed = tg.load(straight), tg.load(second)
    assert whole["step"] == resumed["step"] == 6
    assert list(whole["weights"]) == list(resumed["weights"])
    for name, value in whole["weights"].items():
        np.testing.assert_array_equal(resumed["weights"][name], value, err_msg=name)
    half = tg.load(first)["weights"]
    assert not all(np.array_equal(half[name], value) for name, value in whole["weights"].items())


def test_resume_refuses_a_checkpoint_of_another_model(names_example, small_text, tmp_path):
    path = tmp_path / "mlp.npz"
    names_example.main(small_options(**{"--text": small_text, "--save": path}))
    with pytest.raises(SystemExit, match="a checkpoint of a mlp model, not of --model gru"):
        names_example.main(small_options(**{"--text": small_text, "--resume": path,
                                            "--model": "gru"}))


def test_the_jit_step_gives_the_eager_numbers(names_example, small_text, tmp_path):
    for flags in ([], ["--no-jit"]):
        names_example.main(small_options(**{"--text": small_text, "--model": "transformer",
                                            "--save": tmp_path / f"{len(flags)}.npz"})
                           + flags)
    jitted, eager = tg.load(tmp_path / "0.npz"), tg.load(tmp_path / "1.npz")
    for name, value in eager["weights"].items():
        np.testing.assert_array_equal(jitted["weights"][name], value, err_msg=name)


@pytest.mark.parametrize(("options", "message"), [
    (["--max-steps", "0"], "--max-steps must be at least 1, got 0"),
    (["--batch-size", "-2"], "--batch-size must be at least 1, got -2"),
    (["--lr", "nan"], "--lr must be a positive number, got nan"),
    (["--time-limit", "0"], "--time-limit must be a positive number, got 0"),
    (["--sample", "-1"], "--sample must be 0 or more, got -1"),
    (["--weight-decay", "-0.1"], "--weight-decay must be 0 or more"),
    (["--model", "transformer", "--n-embd", "10", "--n-head", "4"],
     "--n-embd 10 must be divisible by --n-head 4"),
    (["--model", "cnn"], "invalid choice: 'cnn'"),
    (["--resume", "no/such/file.npz"], "--resume no/such/file.npz: no such file"),
    (["--save", "no/such/folder/run.npz"], "name a file in an existing folder"),
])
def test_bad_options_are_refused_before_training(names_example, capsys, options, message):
    with pytest.raises(SystemExit):
        names_example.main(options)
    assert message in capsys.readouterr().err


def test_an_empty_text_file_is_refused(names_example, tmp_path, capsys):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        names_example.main(["--text", str(path)])
    assert "holds no items" in capsys.readouterr().err


def test_text_trains_and_samples_and_the_last_line_is_the_test_loss(names_example, tmp_path,
                                                                      capsys):
    fruit = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "grape", "melon",
             "peach", "mango", "cherry"]
    path = tmp_path / "fruit.txt"
    path.write_text("\n".join(fruit * 3), encoding="utf-8")
    result = names_example.main(small_options(**{"--text": path, "--sample": 4,
                                                 "--model": "gru", "--eval-every": 3}))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"{path}: 33 to train, 3 held out; 20 symbols, block size 7")
    assert "4 samples (temperature 1)" in lines[-3] and "in the training set" in lines[-3]
    assert len(result["samples"]) == 4 and all(set(word) <= set("".join(fruit))
                                               for word in result["samples"])
    assert LAST_LINE.fullmatch(lines[-1])
    assert lines[-1].startswith(f"test loss: {result['test_loss']:.4f} after 6 steps (")


def test_time_limit_stops_training(names_example, small_text):
    result = names_example.main(small_options(**{"--text": small_text, "--max-steps": 10**6,
                                                 "--time-limit": 0.3}))
    assert 0 < result["steps"] < 10**6 and result["seconds"] < 5


# ----------------------------------------------------------------- several models, the figure

def test_several_models_train_in_turn_each_as_it_would_alone(names_example, small_text,
                                                             capsys):
    both = names_example.main(small_options(**{"--text": small_text}) + ["--model", "bigram",
                                                                         "mlp"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert list(both["runs"]) == ["bigram", "mlp"]
    assert sum(bool(LAST_LINE.fullmatch(line)) for line in lines) == 2
    assert LAST_LINE.fullmatch(lines[-1]) and both["test_loss"] == both["runs"]["mlp"]["test_loss"]
    for kind in ("bigram", "mlp"):
        alone = names_example.main(small_options(**{"--text": small_text, "--model": kind}))
        assert alone["test_loss"] == both["runs"][kind]["test_loss"]


def test_the_test_loss_curve_starts_before_training_and_ends_at_the_last_step(names_example,
                                                                               small_text):
    result = names_example.main(small_options(**{"--text": small_text, "--eval-every": 4}))
    steps = [step for step, _ in result["curve"]]
    assert steps == [0, 4, 6] and result["curve"][-1][1] == result["test_loss"]
    assert result["curve"][-1][1] < result["curve"][0][1]


def test_the_figure_draws_the_curves_and_the_lessons_diagnostics(names_example, small_text,
                                                                 tmp_path, capsys):
    figure = tmp_path / "names.png"
    options = small_options(**{"--text": small_text, "--figure": figure})
    options.remove("--no-figure")
    names_example.main(options + ["--model", "bigram", "mlp", "transformer"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert LAST_LINE.fullmatch(lines[-1])  # the figure's line comes before it
    if "figure saved" not in lines[-2]:  # matplotlib is an optional extra
        assert "install matplotlib" in "\n".join(lines)
        return
    assert lines[-2] == f"figure saved to {figure.resolve()}"
    assert figure.stat().st_size > 20_000
    assert not list(tmp_path.glob(".names.png.*"))  # written atomically: no temporary left


def test_the_watched_layers_are_the_nonlinearities_or_the_bigrams_logits(names_example):
    args = names_example.parse_args(small_options())
    watched = {}
    for kind in names_example.MODELS:
        tg.manual_seed(0)
        model = names_example.build_model(kind, 27, 16, args)
        watched[kind] = names_example.diagnostics(model).layers
    assert watched == {"bigram": [""], "mlp": ["mlp.1"], "rnn": ["rnn"], "gru": ["rnn"],
                       "lstm": ["rnn"], "transformer": ["blocks.0.mlp.1"]}  # (1 block here)


def test_the_diagnostics_see_only_the_characters_the_loss_counts(names_example):
    """The captured batch is cut to a length all its words reach: no padding's outputs,
    no gradient of exactly 0 from positions the loss ignores."""
    args = names_example.parse_args(small_options(**{"--model": "mlp"}))
    vocabulary = datasets.CharVocabulary(WORDS)
    data = names_example.Data("words", vocabulary, 10, names_example.Words(WORDS, vocabulary, 10),
                              names_example.Words(WORDS, vocabulary, 10), WORDS, WORDS)
    tg.manual_seed(0)
    model = names_example.build_model("mlp", len(vocabulary), 10, args)
    stats = names_example.diagnostics(model)
    names_example.capture_layers(model, stats, data, seed=0)
    median = int(np.median([len(word) + 1 for word in WORDS]))
    assert stats.activations["mlp.1"].size == 32 * median * 8
    assert np.count_nonzero(stats.gradients["mlp.1"] == 0) == 0
    assert all(p.grad is None or not p.grad.data.any() for p in model.parameters())


# ------------------------------------------------------------------------- running text

def test_a_stream_is_cut_into_windows_and_batches_of_consecutive_characters(names_example):
    stream = names_example.Stream(np.arange(23), block_size=5)
    assert len(stream) == 4  # (23 − 1) // 5 windows end to end, each with its next character
    np.testing.assert_array_equal(stream.x[1], [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(stream.y[1], [6, 7, 8, 9, 10])
    x, y = stream.batch(np.random.default_rng(0), 50)
    assert x.shape == (50, 5) and y.shape == (250,)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    np.testing.assert_array_equal(y.reshape(50, 5), x + 1)
    assert x.min() >= 0 and y.max() <= 22


def test_stream_trains_on_running_text_and_continues_the_prompt(names_example, tmp_path,
                                                               capsys):
    path = tmp_path / "text.txt"
    path.write_text(RUNNING_TEXT, encoding="utf-8")
    result = names_example.main(small_options(**{
        "--text": path, "--block-size": 8, "--sample": 3, "--prompt": "the ", "--max-steps": 20,
        "--model": "transformer"}) + ["--stream"])
    lines = capsys.readouterr().out.strip().splitlines()
    size, symbols = len(RUNNING_TEXT), len(set(RUNNING_TEXT)) + 1  # (+1: the end token)
    assert lines[0] == (f"{path} as running text: {size - size // 10:,} characters to train, "
                        f"{size // 10:,} held out (the last 10%); {symbols} symbols, "
                        "block size 8")
    assert result["curve"][-1][1] < result["curve"][0][1] - 0.3
    assert len(result["samples"]) == 3
    assert all(text.startswith("the ") and len(text) == 4 + 8 for text in result["samples"])
    assert "3 samples of 8 characters" in lines[-5] and LAST_LINE.fullmatch(lines[-1])


def test_stream_bigram_prints_its_count_model(names_example, tmp_path, capsys):
    path = tmp_path / "text.txt"
    path.write_text(RUNNING_TEXT, encoding="utf-8")
    result = names_example.main(small_options(**{"--text": path, "--model": "bigram",
                                                 "--block-size": 8}) + ["--stream"])
    data = names_example.load_data(names_example.parse_args(
        small_options(**{"--text": path, "--block-size": 8}) + ["--stream"]))
    train = data.train.ids
    size = len(data.vocabulary)
    counts = np.ones((size, size))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    expected = -np.log(probabilities[data.test.x.ravel(), data.test.y.ravel()]).mean()
    assert result["count_loss"] == pytest.approx(expected, abs=1e-12)
    assert "bigram by counting" in capsys.readouterr().out


@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason=f"{SHAKESPEARE} is not here (the "
                    "shared data sits beside the repository in CI)")
def test_tinyshakespeare_streams_and_trains_a_few_steps(names_example, capsys):
    result = names_example.main(small_options(**{"--text": SHAKESPEARE, "--max-steps": 5,
                                                 "--sample": 1}) + ["--stream"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("as running text: 1,003,855 characters to train, 111,539 held "
                             "out (the last 10%); 66 symbols, block size 32")
    assert result["steps"] == 5 and result["curve"][-1][1] < result["curve"][0][1]
    assert LAST_LINE.fullmatch(lines[-1])


@pytest.mark.parametrize(("text", "options", "message"), [
    ("", ["--stream"], "the file is empty (or only whitespace); --stream needs running text"),
    (" \n\t\n", ["--stream"], "the file is empty (or only whitespace)"),
    ("abcdefghij" * 3, ["--stream", "--block-size", "5"],
     "--block-size 5 is larger than the held-out text (the last 10%) of"),
    ("abcdefghij" * 3, ["--stream", "--block-size", "40"],
     "--block-size 40 is larger than the held-out text"),
    ("abcdefghij" * 30, ["--stream", "--block-size", "8", "--prompt", "xyz"],
     "--prompt 'xyz': 'x', 'y', 'z' are not in the vocabulary of"),
    ("ann\nbob\ncy\n" * 5, ["--block-size", "9"],
     "--block-size 9 is larger than the longest item + its end token (4: 'ann')"),
    ("ann\nbob\ncy\n" * 5, ["--block-size", "2"], "--block-size 2 is shorter than the longest"),
    ("ann\nbob\ncy\n" * 5, ["--prompt", "é"], "--prompt 'é': 'é' is not in the vocabulary"),
    ("ann\nbob\ncy\n" * 5, ["--prompt", "abc"],
     "--prompt is 3 characters, but the block size is 4"),
    ("ann\nbob\ncy\n" * 5, ["--block-size", "0"], "--block-size must be at least 1, got 0"),
    ("ann\nbob\ncy\n" * 5, ["--model", "mlp", "gru", "--save", "x.npz"],
     "--save and --resume take one --model at a time, got 2 (mlp gru)"),
    ("ann\nbob\ncy\n" * 5, ["--figure", "no/such/folder/f.png"],
     "--figure no/such/folder/f.png: the folder no/such/folder does not exist"),
])
def test_data_that_does_not_fit_the_options_is_refused_before_training(
        names_example, tmp_path, capsys, text, options, message):
    path = tmp_path / "data.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit):
        names_example.main(["--text", str(path), *options])
    printed = capsys.readouterr()
    assert message in " ".join(printed.err.split()) and printed.out == ""


def test_stream_needs_a_text_file(names_example, capsys):
    with pytest.raises(SystemExit):
        names_example.main(["--stream"])
    assert "--stream reads running text: give the file with --text FILE" in \
        capsys.readouterr().err


def test_samples_of_names_start_with_the_prompt(names_example, small_text):
    result = names_example.main(small_options(**{"--text": small_text, "--sample": 6,
                                                 "--prompt": "ka"}))
    assert len(result["samples"]) == 6
    assert all(name.startswith("ka") for name in result["samples"])


def test_resume_refuses_a_checkpoint_trained_on_other_characters(names_example, small_text,
                                                                 tmp_path):
    path = tmp_path / "names.npz"
    names_example.main(small_options(**{"--text": small_text, "--save": path}))
    other = tmp_path / "other.txt"
    other.write_text("\n".join(["zoë", "chloé", "anaïs"] * 20), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"the checkpoint's model reads 27 symbols .* this "
                                         r"data has 12, 'éëï' of them outside those"):
        names_example.main(small_options(**{"--text": other, "--resume": path}))


# ------------------------------------------------------------------------ bench/names.py

@pytest.fixture
def names_bench():
    """bench/names.py, imported with bench/ on the path (it imports bench/timing.py)."""
    import importlib.util
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        spec = importlib.util.spec_from_file_location("names_bench", bench / "names.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(bench))


@pytest.mark.parametrize("kind", ["bigram", "mlp", "rnn", "gru", "lstm", "transformer"])
def test_the_bench_times_the_same_step_in_pytorch(names_bench, torch, kind):
    names_bench.check_same_step(kind)  # exits if a loss or gradient differs


def test_the_bench_would_catch_a_pytorch_model_that_differs(names_bench, torch, monkeypatch):
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda q, k, v, is_causal: sdpa(q, k, v))  # attention sees ahead
    with pytest.raises(SystemExit, match="transformer: PyTorch's losses"):
        names_bench.check_same_step("transformer")
