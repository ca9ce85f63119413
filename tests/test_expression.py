from __future__ import annotations

import pytest

from harness.errors import UsageError
from harness.expression import Expression


def evaluate(text: str, words: set[str]) -> bool:
    return Expression(text, "-k").matches(words.__contains__)


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("a", {"a"}, True),
        ("a", {"b"}, False),
        ("not a", {"b"}, True),
        ("a and b", {"a"}, False),
        ("a or b", {"b"}, True),
        ("a and not (b or c)", {"a", "c"}, False),
        ("a and not (b or c)", {"a"}, True),
        ("not not a", {"a"}, True),
        ("a or b and c", {"a"}, True),  # and binds tighter than or
    ],
)
def test_expression_semantics(text: str, words: set[str], expected: bool) -> None:
    assert evaluate(text, words) is expected


@pytest.mark.parametrize("text", ["", "a and", "(a", "a b", "and a", "a )"])
def test_bad_expressions_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="-k"):
        Expression(text, "-k")
