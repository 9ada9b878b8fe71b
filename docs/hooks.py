"""Build-time helpers for the documentation site (mkdocs.yml names them).

- The tutorial notebooks live in examples/, where learners run them: `on_files` adds each
  examples/*.ipynb to the site at the same path, for mkdocs-jupyter to render from
  its committed outputs (never executed here).
- The reference's front page lists `tinygrad_edu.__all__` by itself: `on_page_markdown`
  replaces the marker in docs/reference/index.md with one row per name, linked to the page
  that documents it, so a name added to `__all__` appears without editing the page.
- `HideNoise` is a griffe extension: it leaves Python's plumbing (`__slots__`, `__repr__`,
  …) out of the reference; the operators (`__add__`, `__getitem__`, …) stay.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import griffe
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
REFERENCE = Path(__file__).resolve().parent / "reference"
MARKER = "<!-- the names of tinygrad_edu.__all__ -->"
PLUMBING = {"__slots__", "__repr__", "__str__", "__hash__", "__init_subclass__", "__setattr__",
            "__getattr__", "__array_ufunc__", "__array_priority__", "__weakref__", "__dict__",
            "__module__", "__format__", "__del__", "__getstate__", "__setstate__",
            "__reduce__", "__class_getitem__"}


@event_priority(100)  # before mkdocs-jupyter picks out the notebooks
def on_files(files, config):
    for notebook in sorted(EXAMPLES.glob("*.ipynb")):
        files.append(File(f"examples/{notebook.name}", src_dir=str(ROOT),
                          dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls))
    return files


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, top_level_table())
    return markdown


def documented_modules() -> set[str]:
    """The modules that have a page of their own in docs/reference/ (`::: module`)."""
    return {line.split()[1] for page in REFERENCE.glob("*.md")
            for line in page.read_text().splitlines() if line.startswith("::: ")}


def top_level_table() -> str:
    """A row per name in `tinygrad_edu.__all__`: a module links to its page, a name whose
    own module has a page links to its entry there, any other is documented right here."""
    sys.path.insert(0, str(ROOT))
    tg = importlib.import_module("tinygrad_edu")
    pages = documented_modules()
    rows, here = ["| name | what it is |", "|---|---|"], []
    for name in tg.__all__:
        obj = getattr(tg, name)
        if inspect.ismodule(obj):
            target = obj.__name__
        elif getattr(obj, "__module__", None) in pages:
            target = f"{obj.__module__}.{obj.__qualname__}"
        else:
            target = f"tinygrad_edu.{name}"
            here.append(f"::: tinygrad_edu.{name}\n    options:\n      heading_level: 3\n")
        summary = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")
        rows.append(f"| [`tg.{name}`][{target}] | {summary.replace('|', '&#124;')} |")
    more = ["", "## Defined in `tinygrad_edu` itself", "", *here] if here else []
    return "\n".join(rows + more)


class HideNoise(griffe.Extension):
    """Leave Python's plumbing out of the reference (it is not part of the API)."""

    def on_class_members(self, *, cls: griffe.Class, **kwargs) -> None:
        for name in PLUMBING & set(cls.members):
            cls.del_member(name)
