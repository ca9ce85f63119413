"""harness-vision: the study's datasets, augmentations, models and presets, a plugin package for harness.

Each module is a separate plugin (see the ``harness`` entry points in ``pyproject.toml``), so a user can
turn one off, e.g. ``-p no:vision-models``. Nothing here imports Keras until a factory runs.
"""

__version__ = "0.1.0"
