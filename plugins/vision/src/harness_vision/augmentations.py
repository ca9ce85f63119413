"""Augmentations: Keras random layers that take and return float pixels in 0-255, active only in training.

Every factory is a module-level function (or a ``functools.partial`` of one) so specs stay picklable.
Each layer takes an optional ``seed`` parameter; without it the layers follow the run's seed.
``none`` (no augmentation) is not here: it is harness's own built-in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import harness
from harness import AugmentationSpec
from harness_vision._params import check_known, choice, number, optional_seed

if TYPE_CHECKING:
    from harness import Config

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")

#: A function building one Keras layer from the augmentation's parameters (and its name, for messages).
LayerBuilder = Callable[[Mapping[str, Any], str], Any]


def random_flip(params: Mapping[str, Any], owner: str) -> Any:
    import keras

    mode = choice(params, "mode", owner, FLIP_MODES)
    return keras.layers.RandomFlip(mode, seed=optional_seed(params, owner))


def random_rotation(params: Mapping[str, Any], owner: str) -> Any:
    import keras

    return keras.layers.RandomRotation(
        number(params, "factor", owner, low=0.0, high=1.0),
        fill_mode=choice(params, "fill_mode", owner, FILL_MODES),
        seed=optional_seed(params, owner),
    )


def random_zoom(params: Mapping[str, Any], owner: str) -> Any:
    import keras

    return keras.layers.RandomZoom(
        number(params, "factor", owner, low=0.0, high=0.9),
        fill_mode=choice(params, "fill_mode", owner, FILL_MODES),
        seed=optional_seed(params, owner),
    )


def random_translation(params: Mapping[str, Any], owner: str) -> Any:
    import keras

    factor = number(params, "factor", owner, low=0.0, high=1.0)
    return keras.layers.RandomTranslation(
        factor, factor, fill_mode=choice(params, "fill_mode", owner, FILL_MODES), seed=optional_seed(params, owner)
    )


def random_contrast(params: Mapping[str, Any], owner: str) -> Any:
    import keras

    return keras.layers.RandomContrast(
        number(params, "factor", owner, low=0.0, high=1.0), value_range=(0, 255), seed=optional_seed(params, owner)
    )


def build(name: str, builders: Sequence[LayerBuilder], known: Sequence[str], params: Mapping[str, Any]) -> Any:
    """The augmentation ``name``: its layers in a ``keras.Sequential``."""
    import keras

    owner = f"augmentation {name}"
    check_known(params, (*known, "seed"), owner)
    return keras.Sequential([make(params, owner) for make in builders], name=f"augment_{name}")


#: Each augmentation: its layers, default parameters and description (`none` is harness's own built-in).
AUGMENTATIONS: dict[str, tuple[tuple[LayerBuilder, ...], dict[str, Any], str]] = {
    "flip": ((random_flip,), {"mode": "horizontal"}, "random flip (mode: horizontal, vertical or both)"),
    "rotate": ((random_rotation,), {"factor": 0.2, "fill_mode": "reflect"},
               "random rotation by up to factor x 360 degrees (0.2: +-72)"),
    "flip_rotate": ((random_flip, random_rotation), {"mode": "horizontal", "factor": 0.2, "fill_mode": "reflect"},
                    "the study's augmentation: random horizontal flip, then rotation by up to 0.2 x 360 degrees"),
    "zoom": ((random_zoom,), {"factor": 0.2, "fill_mode": "reflect"},
             "random zoom in or out by up to factor (0.2: +-20%), aspect ratio kept"),
    "translate": ((random_translation,), {"factor": 0.1, "fill_mode": "reflect"},
                  "random shift by up to factor of the height and width"),
    "contrast": ((random_contrast,), {"factor": 0.2}, "random contrast change by up to factor (0.2: +-20%)"),
}


#: What each parameter means (``harness list augmentations -v``).
PARAM_DESCRIPTIONS = {
    "mode": "flip direction: horizontal, vertical or horizontal_and_vertical",
    "factor": "the largest change, a fraction: of 360 degrees (rotate), of the image size (zoom, translate), of "
              "the contrast (contrast)",
    "fill_mode": "how pixels moved in from outside are filled: reflect, wrap, constant or nearest",
    "seed": "a fixed seed for this layer's draws (default: the task's seed, through Keras's global generator)",
}


@harness.hookimpl
def harness_augmentations_register(config: Config) -> list[AugmentationSpec]:
    return [
        AugmentationSpec(name=name, factory=functools.partial(build, name, builders, tuple(defaults)), description=text,
                         params=defaults, optional_params=frozenset({"seed"}),
                         param_descriptions={key: PARAM_DESCRIPTIONS[key] for key in (*defaults, "seed")})
        for name, (builders, defaults, text) in AUGMENTATIONS.items()
    ]
