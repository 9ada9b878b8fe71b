"""Shared test settings: hypothesis runs without deadlines (timing is for bench/, not tests)."""

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

settings.register_profile("default", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def load_example():
    """Import examples/NAME.py as a module (the examples are scripts, not a package)."""

    def load(name):
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def require_torch():
    """PyTorch, the oracle of the comparison tests: skipped where it is not installed (the
    README's test command is torch-free), but CI sets TINYGRAD_EDU_REQUIRE_TORCH=1 after
    installing it, and then a missing torch fails instead of skipping."""
    if os.environ.get("TINYGRAD_EDU_REQUIRE_TORCH"):
        import torch

        return torch
    return pytest.importorskip("torch")


@pytest.fixture(scope="session")
def torch():
    """PyTorch for a comparison test (see `require_torch`); such tests are marked `torch`."""
    return require_torch()


def pytest_collection_modifyitems(items):
    """Every test that asks for the `torch` fixture is marked `torch`, so CI can run them
    alone (`pytest -m torch`) once PyTorch is installed."""
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
