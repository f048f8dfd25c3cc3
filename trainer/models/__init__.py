"""The model zoo: a registry of constructors sized by input shape and class count.

>>> model = build_model("mlp", input_shape=(1, 28, 28), num_classes=10)
"""

from trainer.models import (  # noqa: F401  (registration)
    cifar_resnet,
    densenet,
    mobilenet,
    shared_basis,
    shared_densenet,
    shared_mobilenet,
    shared_resnext,
    small,
    torchvision_models,
    vgg,
    wide_resnet,
    xnets,
)
from trainer.models.registry import (
    MODELS,
    STRUCTURE_OPTIONS,
    WIDTH_OPTIONS,
    WidthOption,
    build_model,
    checked_model_options,
    model_option_names,
    register_model,
)

__all__ = [
    "MODELS",
    "STRUCTURE_OPTIONS",
    "WIDTH_OPTIONS",
    "WidthOption",
    "build_model",
    "checked_model_options",
    "model_option_names",
    "register_model",
]
