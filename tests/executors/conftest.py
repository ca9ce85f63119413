"""The engine's inline plugin of tiny models, for the executors' tests."""

from tests.engine.conftest import engine_tester  # noqa: F401 - a fixture, used by name
