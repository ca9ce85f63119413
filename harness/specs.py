"""The small frozen objects that plugins contribute: datasets, augmentations and models.

Each spec names a factory that builds the real thing only when a combination runs, so collecting,
listing and selecting never import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Model parameters that the trainer reads (not the model factory): a model spec may declare them in ``params``.
TRAINER_PARAMS: tuple[str, ...] = ("learning_rate", "epochs_frozen", "fine_tune_learning_rate")
#: What the trainer's parameters mean (``harness list models -v``), unless a model spec says otherwise.
TRAINER_PARAM_DESCRIPTIONS: dict[str, str] = {
    "learning_rate": "Adam's learning rate",
    "epochs_frozen": "epochs of a first phase before the model's fine_tune unfreezes layers (none: one phase)",
    "fine_tune_learning_rate": "Adam's learning rate after fine_tune",
}
#: What the trainer uses for its parameters that a model spec does not declare (said only for those: a
#: declared value is the model's default, and the listing shows it).
TRAINER_PARAM_DEFAULTS: dict[str, float] = {"learning_rate": 0.001, "fine_tune_learning_rate": 1e-5}

#: Value ranges a model can declare for its input pixels.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "0-255": (0.0, 255.0),
    "0-1": (0.0, 1.0),
    "-1-1": (-1.0, 1.0),
}


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class _Spec:
    name: str
    factory: Callable[..., Any]
    description: str = ""
    #: Markers for ``-m`` selection, e.g. ``slow``, ``download``, ``pretrained``.
    tags: frozenset[str] = frozenset()
    #: Default parameters; users override them with ``--set NAME.KEY=VALUE`` or ``[tool.harness.params.NAME]``.
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Parameters the factory also takes that have no default (an optional ``seed``, a dataset's ``path``).
    #: A parameter a user sets that is neither here nor in ``params`` is refused when collecting.
    optional_params: frozenset[str] = frozenset()
    #: What each parameter means, in a few words, by name (shown by ``harness list KIND -v``); optional. A name
    #: that is not a parameter is shown nowhere (``harness.testing.check_spec_metadata`` flags it).
    param_descriptions: Mapping[str, str] = field(default_factory=dict)
    #: Filled in by the registry: the plugin that contributed the spec and its distribution ``name==version``.
    plugin: str = ""
    package: str = ""

    kind = "spec"

    def accepted_params(self) -> frozenset[str]:
        """Every parameter name a user may set: those with a default and the optional ones."""
        return frozenset(self.params) | self.optional_params

    def describe_param(self, name: str) -> str:
        """What parameter ``name`` means, or ``""`` when the spec does not say."""
        return self.param_descriptions.get(name, "")

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "-" in self.name or " " in self.name:
            raise ValueError(
                f"{self.kind} name {self.name!r} is invalid: use a non-empty name without '-' or spaces"
            )
        if not callable(self.factory):
            raise TypeError(f"{self.kind} {self.name!r}: factory must be callable, got {self.factory!r}")
        object.__setattr__(self, "tags", frozenset(self.tags))
        object.__setattr__(self, "optional_params", frozenset(self.optional_params))
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "param_descriptions", _frozen(self.param_descriptions))


@dataclass(frozen=True)
class DatasetSpec(_Spec):
    """A dataset.

    ``factory(request: DatasetRequest) -> ImageFiles | ImageArrays`` lists or generates the images; the core
    splits, decodes, caches and feeds them.
    """

    image_size: tuple[int, int] = (160, 160)
    channels: int = 3
    #: ``None`` when only known after loading (an image folder).
    num_classes: int | None = None

    kind = "dataset"


@dataclass(frozen=True)
class AugmentationSpec(_Spec):
    """A training-time augmentation.

    ``factory(params: Mapping) -> keras.layers.Layer | None``; the layer takes and returns float pixels in
    0-255 and is active only in training. ``None`` means "no augmentation".
    """

    kind = "augmentation"


@dataclass(frozen=True)
class ModelSpec(_Spec):
    """A model architecture.

    ``factory(request: ModelRequest) -> keras.Model`` builds a model that maps images in ``input_range``
    to ``num_classes`` logits. The harness puts the right rescaling in front of it.
    """

    #: One of :data:`VALUE_RANGES`: what the model expects its input pixels to be.
    input_range: str = "0-255"
    #: Input channels the model needs (``None``: any).
    channels: int | None = None
    #: Smallest image side the architecture accepts.
    min_image_size: int = 1
    #: Optional second phase: ``fine_tune(model, params)`` unfreezes layers after the first
    #: ``params["epochs_frozen"]`` epochs; the engine then recompiles with ``params["fine_tune_learning_rate"]``
    #: and trains on within the same budget.
    fine_tune: Callable[[Any, Mapping[str, Any]], None] | None = None
    #: Optional split for feature caching: ``features(model) -> (extractor, head) | None``. ``extractor`` is
    #: a frozen, deterministic front part of ``model`` (no trainable weights, nothing random, the same in
    #: training and inference) and ``head`` the rest, with ``head(extractor(x)) == model(x)`` and the head
    #: sharing the model's layers. When no augmentation precedes the model, the engine runs the extractor
    #: once per image and trains the head on the stored features: the same model, trained the same way,
    #: without recomputing a frozen base every epoch. ``None`` (from the spec or the call): not splittable.
    features: Callable[[Any], tuple[Any, Any] | None] | None = None

    kind = "model"

    def accepted_params(self) -> frozenset[str]:
        """A model also takes the trainer's parameters (:data:`TRAINER_PARAMS`)."""
        return super().accepted_params() | frozenset(TRAINER_PARAMS)

    def describe_param(self, name: str) -> str:
        """The spec's description, else the trainer's for its parameters (:data:`TRAINER_PARAM_DESCRIPTIONS`),
        with the trainer's value when the spec does not declare one (``... (1e-05 when not set)``)."""
        own = super().describe_param(name)
        if own or name not in TRAINER_PARAM_DESCRIPTIONS:
            return own
        text = TRAINER_PARAM_DESCRIPTIONS[name]
        if name in TRAINER_PARAM_DEFAULTS and name not in self.params:
            text += f" ({TRAINER_PARAM_DEFAULTS[name]:g} when not set)"
        return text

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.input_range not in VALUE_RANGES:
            raise ValueError(
                f"model {self.name!r}: input_range {self.input_range!r} is not one of {sorted(VALUE_RANGES)}"
            )


@dataclass(frozen=True)
class DatasetRequest:
    """What a dataset factory receives."""

    params: Mapping[str, Any]
    #: Where local copies of datasets are looked for before downloading (``--data-dir``), or ``None``.
    data_dir: str | None
    #: Where downloads are cached.
    cache_dir: str
    seed: int
    #: The spec's ``image_size`` (height, width) and ``channels``, for datasets that generate images.
    image_size: tuple[int, int] = (160, 160)
    channels: int = 3


@dataclass(frozen=True)
class ModelRequest:
    """What a model factory receives."""

    input_shape: tuple[int, int, int]
    num_classes: int
    params: Mapping[str, Any]
    seed: int
    #: Where downloads (pretrained weights) may be cached.
    cache_dir: str = ""


@dataclass(frozen=True)
class Budget:
    """Limits on training one combination; training stops at whichever comes first (``None``: no limit)."""

    epochs: int | None = None
    seconds: float | None = None
    steps: int | None = None
    images: int | None = None

    def __post_init__(self) -> None:
        if all(v is None for v in (self.epochs, self.seconds, self.steps, self.images)):
            raise ValueError("a budget needs at least one limit: epochs, time, steps or images")
        for name in ("epochs", "seconds", "steps", "images"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"budget {name} must be positive, got {value!r}")

    def describe(self) -> str:
        parts = []
        if self.epochs is not None:
            parts.append(f"{self.epochs} epoch{'s' * (self.epochs != 1)}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g}s")
        if self.steps is not None:
            parts.append(f"{self.steps} step{'s' * (self.steps != 1)}")
        if self.images is not None:
            parts.append(f"{self.images} image{'s' * (self.images != 1)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "seconds": self.seconds, "steps": self.steps, "images": self.images}


@dataclass
class Combination:
    """One cell of the grid: a dataset, an augmentation and a model, with its resolved parameters."""

    dataset: DatasetSpec
    augmentation: AugmentationSpec
    model: ModelSpec
    #: Reason this combination will not run, set by collection or by a ``harness_collection_modify`` hook.
    skip_reason: str | None = None

    @property
    def id(self) -> str:
        return f"{self.dataset.name}-{self.augmentation.name}-{self.model.name}"

    @property
    def tags(self) -> frozenset[str]:
        return self.dataset.tags | self.augmentation.tags | self.model.tags

    def skip(self, reason: str) -> None:
        self.skip_reason = reason

    def incompatibility(self) -> str | None:
        """Why the model cannot take this dataset's images, or ``None``."""
        ds, model = self.dataset, self.model
        if model.channels is not None and model.channels != ds.channels:
            return f"{model.name} needs {model.channels}-channel images, {ds.name} has {ds.channels}"
        if min(ds.image_size) < model.min_image_size:
            return (
                f"{model.name} needs images of at least {model.min_image_size}px, "
                f"{ds.name} has {ds.image_size[0]}x{ds.image_size[1]}"
            )
        return None
