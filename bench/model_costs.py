"""Costs of the X-Net models, counted from the masks, beside the dense model and the nominal figure.

For each model: the dense network's parameters and multiply-accumulates (MACs) per image (32x32
and 10 classes for the CIFAR models, 224x224 and 1000 classes for MobileNet, as in the papers),
the X-Nets paper's nominal costs (dense / e), and the costs counted from the masks actually
built (stem, transitions and classifier stay dense, so counted > nominal). Prints a Markdown
table (docs/xnets.md's). Deterministic: counts depend only on the architectures.

Usage: python bench/model_costs.py
"""

from __future__ import annotations

from pruning.apply import prune_model
from pruning.mask_rules import MaskConfig
from trainer.models import build_model

CIFAR, IMAGENET = ((3, 32, 32), 10), ((3, 224, 224), 1000)
ROWS = [
    *[
        (f"X-DenseNet-BC-40-{k}-2", CIFAR, "xdensenet_bc", {"growth": k, "expand": 2}, "densenet_bc", {"growth": k})
        for k in (24, 36, 48, 60)
    ],
    ("X-VGG16 (64*3_16*9_128)", CIFAR, "xvgg16", {}, "xvgg16", {"degrees": "dense"}),
    *[
        (f"X-MobileNet-0.5-{e}", IMAGENET, "xmobilenet", {"expand": e}, "xmobilenet", {"expand": 1})
        for e in (2, 4, 8, 16)
    ],
    *[
        (
            f"MobileNet-0.5, grouped pointwise, g={e}",
            IMAGENET,
            "xmobilenet",
            {"expand": e, "pointwise": "grouped"},
            "xmobilenet",
            {"expand": 1},
        )
        for e in (2, 4, 8, 16)
    ],
]


def costs(name: str, options: dict, recipe: str, shape: tuple[int, ...], classes: int):
    result = prune_model(build_model(name, shape, classes, **options), MaskConfig(recipe), shape)
    return result.summary, result.nominal


def main() -> None:
    print(
        "| model | dense params | dense MACs | nominal params (dense / e) | nominal MACs | counted params | counted "
        "MACs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, (shape, classes), name, options, dense_name, dense_options in ROWS:
        summary, nominal = costs(name, options, "model", shape, classes)
        dense, _ = costs(dense_name, dense_options, "dense", shape, classes)
        nominal_params = f"{nominal['params'] / 1e6:.3f} M" if nominal else "—"
        nominal_macs = f"{nominal['macs'] / 1e6:.1f} M" if nominal else "—"
        print(
            f"| {label} | {dense.params_total / 1e6:.3f} M | {dense.macs_total / 1e6:.1f} M | {nominal_params} | "
            f"{nominal_macs} | "
            f"{summary.params_kept / 1e6:.3f} M | {summary.macs_kept / 1e6:.1f} M |"
        )


if __name__ == "__main__":
    main()
