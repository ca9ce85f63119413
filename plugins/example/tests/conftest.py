"""harness's testing kit is a pytest plugin that a plugin package loads itself (opt-in, as ``pytester`` is):
it gives the ``harness_tester`` fixture."""

pytest_plugins = ["harness.testing"]
