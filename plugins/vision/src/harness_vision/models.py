"""The models plugin: each architecture as a :class:`~harness.ModelSpec`.

A factory returns a ``keras.Model`` mapping images in its ``input_range`` to logits; the harness puts the
augmentation and the rescaling in front and compiles it with Adam(``learning_rate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import harness
from harness import ModelSpec
from harness_vision import cnn, transfer

if TYPE_CHECKING:
    from harness import Config


#: What each parameter means (``harness list models -v``); the trainer's (``learning_rate``...) are harness's.
PARAM_DESCRIPTIONS = {
    "dropout": "dropout rate before the last dense layer",
    "widths": "filters of each stage's convolutions (one stage per number)",
    "blocks_per_stage": "residual blocks in each stage",
    "weights": "'imagenet' (downloaded once, base frozen), 'none' (random, all trains) or a weights file's path",
    "alpha": "width multiplier of MobileNetV2 (1.0: the standard network)",
    "fine_tune_layers": "top layers of the base unfrozen after epochs_frozen epochs (batch norm stays frozen)",
}


def _described(*names: str) -> dict[str, str]:
    return {name: PARAM_DESCRIPTIONS[name] for name in names}


def _specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="small_cnn",
            factory=cnn.small_cnn,
            description="the study's small CNN (3 conv + 2 dense layers) on raw 0-255 pixels",
            input_range="0-255",
            min_image_size=18,
            params={"dropout": 0.2, "learning_rate": 1e-3},
            param_descriptions=_described("dropout"),
        ),
        ModelSpec(
            name="small_cnn_scaled",
            factory=cnn.small_cnn,
            description="the same small CNN on pixels scaled to [-1, 1] (the study's model 3)",
            input_range="-1-1",
            min_image_size=18,
            params={"dropout": 0.2, "learning_rate": 1e-3},
            param_descriptions=_described("dropout"),
        ),
        ModelSpec(
            name="resnet_small",
            factory=cnn.resnet_small,
            description="a compact ResNet with batch norm (4 stages of 1 block), trained from scratch",
            input_range="0-1",
            min_image_size=32,
            params={"widths": [32, 64, 128, 256], "blocks_per_stage": 1, "dropout": 0.2, "learning_rate": 1e-3},
            param_descriptions=_described("widths", "blocks_per_stage", "dropout"),
        ),
        ModelSpec(
            name="mobilenet_v2",
            factory=transfer.mobilenet_v2,
            description="MobileNetV2 on ImageNet weights, frozen, with a max-pooling head (the study's model 4)",
            input_range="-1-1",
            channels=3,
            min_image_size=32,
            tags=frozenset({"pretrained", "slow"}),
            params={"weights": "imagenet", "alpha": 1.0, "dropout": 0.2, "learning_rate": 1e-4,
                    "fine_tune_layers": 54, "fine_tune_learning_rate": 1e-5},
            param_descriptions=_described("weights", "alpha", "dropout", "fine_tune_layers"),
            fine_tune=transfer.fine_tune,
            features=transfer.features,
        ),
        ModelSpec(
            name="efficientnet_b0",
            factory=transfer.efficientnet_b0,
            description="EfficientNetB0 on ImageNet weights, frozen, with a max-pooling head",
            input_range="0-255",
            channels=3,
            min_image_size=32,
            tags=frozenset({"pretrained", "slow"}),
            params={"weights": "imagenet", "dropout": 0.2, "learning_rate": 1e-3,
                    "fine_tune_layers": 20, "fine_tune_learning_rate": 1e-5},
            param_descriptions=_described("weights", "dropout", "fine_tune_layers"),
            fine_tune=transfer.fine_tune,
            features=transfer.features,
        ),
    ]


@harness.hookimpl
def harness_models_register(config: Config) -> list[ModelSpec]:
    return _specs()
