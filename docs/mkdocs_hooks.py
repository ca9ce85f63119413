"""A MkDocs hook: the Sphinx roles of harness's docstrings (``:class:`~harness.ExitCode```) shown as code.

mkdocstrings renders the hooks' docstrings as Markdown, which keeps the role's name (``:class:``) in front of
the code and the ``~`` (Sphinx's "last part only") inside it; both are dropped here.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|data|func|meth|attr|mod|exc|obj):(?=<code>)")
_TILDE = re.compile(r"<code>~([\w.]+)</code>")


def on_page_content(html: str, **kwargs: Any) -> str:
    html = _ROLE.sub("", html)
    return _TILDE.sub(lambda match: f"<code>{match.group(1).rsplit('.', 1)[-1]}</code>", html)
