"""harness's own executors (see :mod:`harness.executor`): ``serial`` and ``process``."""
