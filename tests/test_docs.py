"""The documentation: every public name has a docstring and a place in the API reference,
every name "Coming from PyTorch" calls supported exists, and the site builds strictly."""

import importlib
import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_edu as tg
from tinygrad_edu import Function, Tensor, nn, optim
from tinygrad_edu import functional as F

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
# Modules that are not API: helpers shared by the others, the flagship's entry point, the
# examples installed with the package, the data, and ops' families (gathered in ops).
INTERNAL = {"tinygrad_edu.utils", "tinygrad_edu.digits", "tinygrad_edu.names",
            "tinygrad_edu.examples",
            "tinygrad_edu.data"}
# An op's forward, backward and jvp are documented by Function's (the contract) and by the
# math comment above each (the house style), not by docstrings of their own.
FUNCTION_CONTRACT = {"forward", "backward", "jvp"}


def public_modules() -> list[str]:
    """tinygrad_edu and each of its modules that a user imports (ops' families are one)."""
    names = ["tinygrad_edu"]
    for module in pkgutil.iter_modules(tg.__path__, "tinygrad_edu."):
        if module.name.rsplit(".", 1)[1].startswith("_") or module.name in INTERNAL:
            continue
        names.append(module.name)
    return names


def public_names(module) -> list[str]:
    """A module's `__all__`; without one (declare it!), what it defines without a leading _."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items() if not name.startswith("_")
            and f"{getattr(value, '__module__', '')}.".startswith(f"{module.__name__}.")]


def modules_and_names():
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in public_names(module):
            yield module, name, getattr(module, name)


def own_members(cls) -> dict[str, object]:
    """The public methods and properties a class defines itself (not inherited)."""
    return {name: value for name, value in vars(cls).items() if not name.startswith("_")
            and (inspect.isfunction(value) or isinstance(value, (property, classmethod,
                                                                   staticmethod)))}


def has_own_docstring(value) -> bool:
    if isinstance(value, (classmethod, staticmethod)):
        value = value.__func__
    if inspect.ismodule(value) or (not callable(value) and not isinstance(value, property)):
        return True  # a constant: documented where the module says what it is
    return bool((value.__doc__ or "").strip())


def missing_docstrings() -> list[str]:
    missing, seen = [], set()
    for module, name, value in modules_and_names():
        if id(value) in seen:
            continue  # the same object re-exported by another module
        seen.add(id(value))
        if not has_own_docstring(value):
            missing.append(f"{module.__name__}.{name}")
        if inspect.isclass(value):
            for member, attribute in own_members(value).items():
                if issubclass(value, Function) and member in FUNCTION_CONTRACT:
                    continue
                if not has_own_docstring(attribute):
                    missing.append(f"{module.__name__}.{name}.{member}")
    return missing


def test_every_public_module_declares_all():
    without = [name for name in public_modules()
               if not hasattr(importlib.import_module(name), "__all__")]
    assert not without, f"public modules without __all__: {without}"


def test_every_public_name_has_a_docstring_of_its_own():
    missing = missing_docstrings()
    assert not missing, f"{len(missing)} public names without a docstring: {missing}"


def reference_pages() -> dict[str, str]:
    """module → the text of the options under its `::: module` line in docs/reference/."""
    pages = {}
    for page in REFERENCE.glob("*.md"):
        for block in re.split(r"^(?=::: )", page.read_text(), flags=re.M):
            if block.startswith("::: "):
                first, _, options = block.partition("\n")
                pages[first.split()[1]] = options
    return pages


def test_every_public_module_has_a_reference_page_listing_its_all():
    pages = reference_pages()
    without = [name for name in public_modules() if name not in pages]
    assert not without, f"public modules without a page in docs/reference/: {without}"
    # the members come from __all__ (filters: public in mkdocs.yml), never a list by hand
    config = ROOT / "mkdocs.yml"
    assert not config.exists() or "filters: public" in config.read_text()
    listed = [name for name, options in pages.items()
              if name != "tinygrad_edu" and re.search(r"^\s*(members|filters):", options, re.M)]
    assert not listed, f"reference pages that choose their members by hand: {listed}"


# ----------------------------------------------------------------------------------------
# Coming from PyTorch: the table's supported names exist
# ----------------------------------------------------------------------------------------

STATUSES = {"supported", "differs", "not supported"}
ROOTS = {"tg": tg, "Tensor": Tensor, "nn": nn, "F": F, "optim": optim}


def pytorch_table() -> list[tuple[str, str, str, str]]:
    """The rows of docs/pytorch.md's table: (PyTorch, here, status, note); section rows out."""
    rows = []
    for line in (DOCS / "pytorch.md").read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| PyTorch |"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells[0].startswith("**"):
            continue  # a section heading
        rows.append(tuple(cells))
    return rows


def resolve(dotted: str) -> bool:
    first, *rest = dotted.split(".")
    value = ROOTS.get(first)
    for part in rest:
        value = getattr(value, part, None)
    return value is not None


def test_the_pytorch_table_is_well_formed():
    rows = pytorch_table()
    assert len(rows) > 50
    bad = [row for row in rows if len(row) != 4 or row[2] not in STATUSES
           or (row[2] == "not supported") != (row[1] == "")]
    assert not bad, f"rows with a wrong status or a 'here' that does not fit it: {bad}"


def test_every_supported_pytorch_name_exists_here():
    missing = []
    for _, here, status, _ in pytorch_table():
        if status == "not supported":
            continue
        names = re.findall(r"`([\w.]+)`", here)
        assert names, f"a {status} row names nothing: {here!r}"
        missing += [name for name in names if not resolve(name)]
    assert not missing, f"{len(missing)} names the table calls supported are missing: {missing}"


def test_resolve_finds_what_exists_and_only_that():
    assert resolve("Tensor.sum") and resolve("nn.Linear") and resolve("tg.grad")
    assert not resolve("Tensor.no_such_method") and not resolve("torch.sum")


# ----------------------------------------------------------------------------------------
# The site
# ----------------------------------------------------------------------------------------

def mkdocs_command() -> list[str]:
    pytest.importorskip("mkdocs", reason='the docs extra installs mkdocs: pip install -e ".[docs]"')
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("mkdocs_jupyter")
    pytest.importorskip("material")
    return [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    command = mkdocs_command()
    if not (ROOT / "mkdocs.yml").exists():
        pytest.skip("no mkdocs.yml: an installed package without the repository")
    folder = tmp_path_factory.mktemp("site")
    shutil.rmtree(folder)
    result = subprocess.run([*command, "--site-dir", str(folder)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_the_site_builds_strictly_with_the_tutorial_from_its_outputs(site):
    tutorial = (site / "examples" / "backprop_tutorial" / "index.html").read_text()
    assert "<svg" in tutorial  # the committed output, drawn
    assert (site / "pytorch" / "index.html").exists()


def test_every_public_name_is_in_the_built_reference(site):
    ids = set()
    for page in (site / "reference").rglob("*.html"):
        ids |= set(re.findall(r'id="(tinygrad_edu[\w.]*)"', page.read_text()))
    missing = []
    for module, name, value in modules_and_names():
        here = f"{module.__name__}.{name}"
        home = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', name)}"
        if inspect.ismodule(value):
            home = value.__name__
        if here not in ids and home not in ids:
            missing.append(here)
            continue
        if inspect.isclass(value):
            prefix = here if here in ids else home
            missing += [f"{prefix}.{member}" for member in own_members(value)
                        if f"{prefix}.{member}" not in ids]
    assert not missing, f"{len(missing)} public names missing from the reference: {missing}"
