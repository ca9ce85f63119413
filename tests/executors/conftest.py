"""The process executor's tests use the testing kit's ``harness_tester`` (loaded by tests/conftest.py)."""
