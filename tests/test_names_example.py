"""examples/names.py, makemore's models of names: every model learns, the bigram's count
model is the counting answer, a checkpoint resumes bit for bit, tg.jit gives the eager
numbers, bad options are refused before training, and the last line is the test loss."""

import itertools
import math
import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, datasets, optim

WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia",
         "harper", "evelyn", "abigail", "emily", "ella", "elizabeth", "camila", "luna"]
LAST_LINE = re.compile(r"test loss: \d+\.\d{4} after \d+ steps \(\d+\.\d s\)")


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
    return [str(item) for pair in options.items() for item in pair]


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
