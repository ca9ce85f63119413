"""The table of docs/public-api.md, generated from ``harness.__all__`` when the site is built: every public
name with its kind, its signature and the first line of its docstring."""

from __future__ import annotations

import inspect
from typing import Any

#: Where the generated table goes in the page.
MARKER = "<!-- public-api-table -->"


def _kind(value: Any) -> str:
    if inspect.isclass(value):
        return "class"
    if inspect.isfunction(value):
        return "function"
    return "constant" if not callable(value) else "callable"


def _signature(name: str, value: Any) -> str:
    if inspect.isclass(value) or inspect.isfunction(value):
        try:
            return f"{name}{inspect.signature(value)}"
        except (TypeError, ValueError):  # a class without an inspectable constructor (a Protocol, a TypedDict)
            return name
    return name


#: What the public constants are (a constant has no docstring of its own).
CONSTANTS = {
    "__version__": "harness's version.",
    "DOWNLOADS_SUBDIR": "The folder of the cache directory that downloads go to (`harness cache` covers it).",
    "TRAINER_PARAMS": "The model parameters that the trainer reads (learning rate, fine-tuning), accepted by every "
                      "model spec.",
    "hookimpl": "The marker of hook implementations: `@harness.hookimpl def harness_models_register(config): ...`",
}


def _summary(name: str, value: Any) -> str:
    doc = inspect.getdoc(value) if (inspect.isclass(value) or inspect.isfunction(value)) else None
    text = CONSTANTS.get(name) or (doc or "").strip().split("\n\n")[0]
    return text.replace("\n", " ").replace("``", "`").replace("|", "\\|")


def table() -> str:
    """The public names as a Markdown table, one row each, in ``harness.__all__``'s order."""
    import harness

    rows = ["| name | kind | signature and summary |", "| --- | --- | --- |"]
    for name in harness.__all__:
        value = getattr(harness, name)
        signature = _signature(name, value).replace("|", "\\|")
        rows.append(f"| `harness.{name}` | {_kind(value)} | `{signature}`<br>{_summary(name, value)} |")
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs hook: fill the marker of the page that has it."""
    return markdown.replace(MARKER, table()) if MARKER in markdown else markdown
