"""Training augmentations by name (``--augment``), seeded, recorded in the run's identity.

A policy is a comma-separated list of steps applied in order, each ``name`` or ``name:value``:

* ``standard`` — the data set's own: random crop after 4-pixel zero padding and a horizontal flip
  for in-memory images (CIFAR), a random resized crop and a flip for image folders, nothing for
  the MNIST-likes (their default policy is ``none``);
* ``none`` — no augmentation (``--no-augment``);
* ``cutout[:L]`` — Cutout (DeVries & Taylor, 2017): one L x L square (default 16) per image set to
  zero after normalisation, its centre anywhere in the image (the square clipped at the border);
* ``rotate[:D]`` — a random rotation in [-D, D] degrees (default 15), bilinear, zero fill;
* ``autoaugment`` / ``trivialaugment`` — torchvision's AutoAugment (ImageNet policy) and
  TrivialAugmentWide, per image on its uint8 pixels.

``cutout`` and ``rotate`` act on whole normalised batches on the training device: their random
draws come from a CPU generator seeded per batch, so CPU and CUDA runs augment alike. The
per-image steps (``standard`` on folders, ``autoaugment``, ``trivialaugment``) draw from a
generator seeded per example. Upscaling small images (EDropout's 28 -> 32) is ``--image-size``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from trainer.errors import DataError

STANDARD, NONE = "standard", "none"
#: Steps on whole normalised batches: name -> (default value, batch function).
BATCH_STEPS = ("cutout", "rotate")
#: Steps on each image's uint8 pixels (torchvision's policies).
IMAGE_STEPS = ("autoaugment", "trivialaugment")
DEFAULTS = {"cutout": 16.0, "rotate": 15.0}
#: Steps whose value counts pixels.
WHOLE_STEPS = ("cutout",)
STEP_NAMES = (STANDARD, NONE, *BATCH_STEPS, *IMAGE_STEPS)


@dataclass(frozen=True)
class Step:
    name: str
    value: float | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value:g}"


@dataclass(frozen=True)
class Policy:
    """A parsed ``--augment`` value: its steps in order."""

    steps: tuple[Step, ...]

    @property
    def standard(self) -> bool:
        return any(step.name == STANDARD for step in self.steps)

    @property
    def batch_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.name in BATCH_STEPS)

    @property
    def image_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.name in IMAGE_STEPS)

    def __str__(self) -> str:
        return ",".join(map(str, self.steps)) or NONE


def parse_policy(text: str) -> Policy:
    """``"standard,cutout:16"`` -> Policy; ``"none"`` -> no steps.

    Raises
    ------
    DataError
        One line naming the unknown step, a bad value, or ``none`` combined with others.
    """
    steps = []
    for part in (piece.strip() for piece in str(text).split(",")):
        if not part:
            continue
        name, _, value = part.partition(":")
        if name not in STEP_NAMES:
            raise DataError(f"--augment: unknown step {name!r} (steps: {', '.join(STEP_NAMES)})")
        if value and name not in BATCH_STEPS:
            raise DataError(f"--augment: {name} takes no value, got {part!r}")
        try:
            number = float(value) if value else DEFAULTS.get(name)
        except ValueError:
            raise DataError(f"--augment: {part!r}: {value!r} is not a number") from None
        if number is not None and not (math.isfinite(number) and number > 0):
            raise DataError(f"--augment: {part!r}: the value must be a positive finite number")
        if name in WHOLE_STEPS and number is not None and number != int(number):
            raise DataError(f"--augment: {part!r}: {name} takes a whole number of pixels")
        steps.append(Step(name, number))
    if any(step.name == NONE for step in steps) and len(steps) > 1:
        raise DataError("--augment: none cannot be combined with other steps")
    return Policy(tuple(step for step in steps if step.name != NONE))


def resolved_policy(text: str | None, default: str) -> Policy:
    """The policy a run uses: ``text``, or the data set's ``default`` when it is None."""
    return parse_policy(default if text is None else text)


def crop_and_flip(images: torch.Tensor, generator: torch.Generator | None, padding: int = 4) -> torch.Tensor:
    """Random crop after zero padding and a random horizontal flip, on a batch (any device); the
    draws come from ``generator`` on the CPU."""
    n, channels, height, width = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(device)
    rows = (dy[:, None] + torch.arange(height, device=device)[None, :])[:, None, :, None]
    cols = dx[:, None] + torch.arange(width, device=device)[None, :]
    cols = torch.where(flip[:, None], cols.flip(-1), cols)[:, None, None, :]
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(channels, device=device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def cutout(images: torch.Tensor, generator: torch.Generator | None, length: float) -> torch.Tensor:
    """Zero one ``length`` x ``length`` square per image, centred uniformly in the image."""
    n, _, height, width = images.shape
    size = int(length)
    cy = torch.randint(0, height, (n,), generator=generator).to(images.device)
    cx = torch.randint(0, width, (n,), generator=generator).to(images.device)
    rows = torch.arange(height, device=images.device)[None, :]
    cols = torch.arange(width, device=images.device)[None, :]
    inside_rows = (rows >= (cy - size // 2)[:, None]) & (rows < (cy - size // 2 + size)[:, None])
    inside_cols = (cols >= (cx - size // 2)[:, None]) & (cols < (cx - size // 2 + size)[:, None])
    hole = inside_rows[:, None, :, None] & inside_cols[:, None, None, :]
    return images.masked_fill(hole, 0.0)


def rotate(images: torch.Tensor, generator: torch.Generator | None, degrees: float) -> torch.Tensor:
    """Rotate each image by an angle drawn uniformly from [-degrees, degrees] (bilinear, zero fill)."""
    n = images.shape[0]
    angles = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * math.radians(degrees)
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


BATCH_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Generator | None, float], torch.Tensor]] = {
    "cutout": cutout,
    "rotate": rotate,
}


def image_steps_on_batch(
    images: torch.Tensor,
    generator: torch.Generator | None,
    steps: list[Callable[[torch.Tensor], torch.Tensor]],
    statistics: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """torchvision's per-image policies on a normalised in-memory batch: back to uint8 pixels, each
    image through ``steps`` under a seed drawn from ``generator``, normalised again."""
    mean, std = (value.to(images.device) for value in statistics)
    pixels = (images * std + mean).mul_(255).round_().clamp_(0, 255).to(torch.uint8).cpu()
    seeds = torch.randint(0, 2**62, (len(pixels),), generator=generator).tolist()
    done = []
    for image, seed in zip(pixels, seeds):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for step in steps:
                image = step(image)
        done.append(image)
    return torch.stack(done).to(images.device).float().div_(255).sub_(mean).div_(std)


def image_policy_step(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """torchvision's AutoAugment (ImageNet policy) or TrivialAugmentWide, on uint8 images."""
    from torchvision.transforms import v2

    return v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET) if name == "autoaugment" else v2.TrivialAugmentWide()


def batch_augmentation(
    policy: Policy,
    in_memory_standard: bool,
    statistics: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] | None:
    """The batch-level function of ``policy`` (None when it has nothing to do on batches).

    In order: the in-memory ``standard`` crop and flip (with ``in_memory_standard``); the
    per-image policies, run here on in-memory batches when their normalisation ``statistics``
    (mean, std) are given (image files run them as they are read); the batch steps.
    """
    stages: list[Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = []
    if in_memory_standard and policy.standard:
        stages.append(crop_and_flip)
    if statistics is not None and policy.image_steps:
        steps = [image_policy_step(step.name) for step in policy.image_steps]
        stages.append(lambda images, generator: image_steps_on_batch(images, generator, steps, statistics))
    for step in policy.batch_steps:
        stages.append(lambda images, generator, step=step: BATCH_FUNCTIONS[step.name](images, generator, step.value))
    if not stages:
        return None

    def augment(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        for stage in stages:
            images = stage(images, generator)
        return images

    return augment
