"""Moved to :mod:`harness.backends.tfimport` (the backends own the imports of a framework); this name stays
for the plugins that import it from here."""

from harness.backends.tfimport import ensure_tensorflow

__all__ = ["ensure_tensorflow"]
