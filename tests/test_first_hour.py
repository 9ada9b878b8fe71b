"""The first hour of a new user: what the README's reader does without reading the source
gives the right result or a message that says what to do (issue 19)."""

import importlib
import inspect

import numpy as np
import pytest

from tinygrad_edu import Tensor, datasets, nn, no_grad, optim


def test_a_learners_own_split_of_the_sample_learns():
    """4,000 to train and 1,000 to test, sliced as the README says, in order (no shuffling):
    the sample is shipped shuffled, so this learns (in class order it scored 0%)."""
    images, labels = datasets.mnist_sample()
    x, y = datasets.to_inputs(images), datasets.one_hot(labels)
    model = nn.MLP([784, 16, 16, 10], seed=0)
    optimizer = optim.SGD(model.parameters(), lr=15.0)
    for _ in range(2):
        for batch_x, batch_y in datasets.iterate_batches(x[:4000], y[:4000], batch_size=10):
            optimizer.zero_grad()
            nn.mse_loss(model(Tensor(batch_x)), Tensor(batch_y)).backward()
            optimizer.step()
    with no_grad():
        guesses = model(Tensor(x[4000:])).data.argmax(axis=1)
    assert np.mean(guesses == labels[4000:]) > 0.8  # 10% is chance


# --- a hook must return a Tensor or None ------------------------------------------------------
@pytest.mark.parametrize("returned, described", [("scaled", "str 'scaled'"),
                                                 (np.ones(2), "ndarray array"),
                                                 (2.0, "float 2.0")])
def test_a_hook_returning_something_else_says_what_a_hook_must_return(returned, described):
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: returned)
    with pytest.raises(TypeError, match=rf"^hook <lambda>: returned {described}.*; a hook must "
                       r"return a Tensor \(the new gradient, of shape \(2,\)\) or None"):
        (x * 3).sum().backward()


def test_a_hook_returning_a_tensor_or_none_still_works():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: None)
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


# --- the import surface: __all__, dir(), docstrings ----------------------------------------
MODULES = ["datasets", "nn", "optim", "viz", "gradcheck", "jit", "testing", "utils"]


@pytest.mark.parametrize("name", MODULES)
def test_dir_and_all_show_the_api_and_not_the_imports(name):
    module = importlib.import_module(f"tinygrad_edu.{name}")
    assert all(hasattr(module, public) for public in module.__all__)
    assert dir(module) == sorted(module.__all__)
    assert not {"np", "os", "Any", "Path", "annotations"} & set(dir(module))


def _own_undocumented(owner: str, cls: type) -> list[str]:
    """Public methods and properties `cls` defines itself without a docstring."""
    return [f"{owner}.{member}" for member, value in vars(cls).items()
            if not member.startswith("_")
            and (inspect.isfunction(value) or isinstance(value, property))
            and not (value.__doc__ or "").strip()]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_and_method_has_a_docstring_of_its_own(name):
    module = importlib.import_module(f"tinygrad_edu.{name}")
    missing = []
    for public in module.__all__:
        value = getattr(module, public)
        if callable(value) and not (value.__doc__ or "").strip():
            missing.append(public)
        if inspect.isclass(value):
            missing += _own_undocumented(public, value)
    assert not missing, f"tinygrad_edu.{name}: no docstring of their own: {missing}"


def test_the_tensor_fields_a_user_reads_first_are_documented():
    for field in ("shape", "ndim", "dtype", "data", "grad"):
        assert inspect.getdoc(getattr(Tensor, field)), field
    assert "numpy array" in inspect.getdoc(Tensor.data)
    assert "after backward()" in inspect.getdoc(Tensor.grad)
