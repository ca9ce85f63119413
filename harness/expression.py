"""``-k`` and ``-m`` expressions: names joined by ``and``, ``or``, ``not`` and parentheses, as in pytest.

Grammar::

    expr := term ("or" term)*
    term := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | NAME
"""

from __future__ import annotations

import re
from collections.abc import Callable

from harness.errors import UsageError

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class Expression:
    """A compiled expression; ``matches(predicate)`` decides each NAME with ``predicate(NAME)``."""

    def __init__(self, text: str, option: str) -> None:
        self.text = text
        self.option = option
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text)]
        if not self.tokens:
            raise UsageError(f"{option} {text!r}: empty expression")
        self._pos = 0
        self._tree = self._expr()
        if self._pos != len(self.tokens):
            self._fail(f"unexpected {self.tokens[self._pos]!r}")

    def _fail(self, message: str) -> None:
        raise UsageError(f"{self.option} {self.text!r}: {message}")

    def _peek(self) -> str | None:
        return self.tokens[self._pos] if self._pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            self._fail("unexpected end of expression")
        self._pos += 1
        return token  # type: ignore[return-value]

    def _expr(self) -> tuple:
        node = self._term()
        while self._peek() == "or":
            self._take()
            node = ("or", node, self._term())
        return node

    def _term(self) -> tuple:
        node = self._factor()
        while self._peek() == "and":
            self._take()
            node = ("and", node, self._factor())
        return node

    def _factor(self) -> tuple:
        token = self._take()
        if token == "not":
            return ("not", self._factor())
        if token == "(":
            node = self._expr()
            if self._take() != ")":
                self._fail("missing ')'")
            return node
        if token in ("and", "or", ")"):
            self._fail(f"unexpected {token!r}")
        return ("name", token)

    def names(self) -> set[str]:
        """Every NAME the expression tests."""
        return {t for t in self.tokens if t not in ("and", "or", "not", "(", ")")}

    def matches(self, predicate: Callable[[str], bool]) -> bool:
        return self._eval(self._tree, predicate)

    def _eval(self, node: tuple, predicate: Callable[[str], bool]) -> bool:
        op = node[0]
        if op == "name":
            return predicate(node[1])
        if op == "not":
            return not self._eval(node[1], predicate)
        left = self._eval(node[1], predicate)
        if op == "and":
            return left and self._eval(node[2], predicate)
        return left or self._eval(node[2], predicate)
