"""Checkpoints laid out as the seeds' public code saves them load into the zoo's models.

Each source model below is written here from the public module definitions (their attribute
names, shapes and forward passes), trained a little by randomising its weights and BatchNorm
statistics, saved with the public script's wrapper, and loaded: the logits must be the source's.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pruning.checkpoints import load_checkpoint
from pruning.masking import current_masks
from trainer.models import build_model


def perturbed(model: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.copy_(torch.randn_like(parameter) * 0.3)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def same_logits(source: nn.Module, target: nn.Module, shape: tuple[int, ...]) -> None:
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(x), source.eval()(x), rtol=1e-5, atol=1e-5)


# --- X-Nets (Deep-Expander-Networks, models/layers/expandergraphlayer.py): weight + a frozen 0/1 mask


class ExpanderConv(nn.Module):
    """ExpanderConv2d: ``fpWeight`` and a frozen ``mask`` parameter, each output reading ``expand``
    random inputs, the mask repeated over the kernel."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expand: int) -> None:
        super().__init__()
        self.fpWeight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        mask = torch.zeros(c_out, c_in, 1, 1)
        for row in range(c_out):
            mask[row, torch.randperm(c_in)[:expand]] = 1
        self.mask = nn.Parameter(mask.repeat(1, 1, kernel, kernel), requires_grad=False)
        self.padding = kernel // 2

    def forward(self, x):
        return F.conv2d(x, self.fpWeight * self.mask, padding=self.padding)


class ExpanderLinear(nn.Module):
    def __init__(self, c_in: int, c_out: int, expand: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in))
        mask = torch.zeros(c_out, c_in)
        for row in range(c_out):
            mask[row, torch.randperm(c_in)[:expand]] = 1
        self.mask = nn.Parameter(mask, requires_grad=False)

    def forward(self, x):
        return x @ (self.weight * self.mask).T


class XNetSource(nn.Module):
    """The X-Nets VGG scripts wrap ``features`` in DataParallel (``features.module.N``)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.DataParallel(
            nn.Sequential(ExpanderConv(3, 8, 3, 2), nn.BatchNorm2d(8), nn.ReLU(), ExpanderConv(8, 8, 3, 3))
        )
        self.classifier = ExpanderLinear(8 * 4 * 4, 5, 16)

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 4), 1))


class XNetTarget(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
        )
        self.classifier = nn.Linear(8 * 4 * 4, 5, bias=False)

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 4), 1))


def test_an_xnets_checkpoint_loads_with_its_masks(tmp_path):
    source = perturbed(XNetSource(), 1)
    path = tmp_path / "vgg16cifar_bnexpander_run_best.pth.tar"
    torch.save({"epoch": 3, "arch": "vgg16cifar_bnexpander", "state_dict": source.state_dict(), "best_prec1": 12.5,
                "optimizer": {"state": {}, "param_groups": []}}, path)  # fmt: skip
    target = XNetTarget()
    masks = load_checkpoint(target, path)
    assert set(masks) == {"features.0", "features.3", "classifier"}
    source_mask = source.features.module[0].mask
    assert torch.equal(current_masks(target)["features.0"].expand(8, 3, 3, 3), source_mask.bool())
    same_logits(source, target, (3, 8, 8))


# --- Learning Deeply Shared Filter Bases (Net_RL2, models/{cifar10,ilsvrc}/resnet.py)


class PublicFirstBlock(nn.Module):
    """BasicBlock: conv1/bn1/conv2/bn2 and an option-A (no weights) or option-B shortcut."""

    def __init__(self, c_in: int, planes: int, stride: int, option_b: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = 0
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != planes:
            if option_b:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            else:
                self.pad = planes // 4

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad)) if self.pad else self.shortcut(x)
        return F.relu(out + shortcut)


class PublicSharedBlock(nn.Module):
    """BasicBlock_SingleShared (``shared_basis``) / BasicBlock_DoubleShared (``shared_basis_1/_2``):
    ``cat(basis_convN(x), shared(x))`` -> basis_bnN -> coeff_convN -> bnN."""

    def __init__(self, planes: int, unique: int, first: nn.Conv2d, second: nn.Conv2d | None) -> None:
        super().__init__()
        if second is None:
            self.shared_basis = first
        else:
            self.shared_basis_1, self.shared_basis_2 = first, second
        self.bases = (first, second or first)
        for n, basis in ((1, first), (2, second or first)):
            rank = unique + basis.out_channels
            setattr(self, f"basis_conv{n}", nn.Conv2d(planes, unique, 3, 1, 1, bias=False))
            setattr(self, f"basis_bn{n}", nn.BatchNorm2d(rank))
            setattr(self, f"coeff_conv{n}", nn.Conv2d(rank, planes, 1, bias=False))
            setattr(self, f"bn{n}", nn.BatchNorm2d(planes))

    def part(self, n: int, x):
        out = torch.cat((getattr(self, f"basis_conv{n}")(x), self.bases[n - 1](x)), dim=1)
        return getattr(self, f"bn{n}")(getattr(self, f"coeff_conv{n}")(getattr(self, f"basis_bn{n}")(out)))

    def forward(self, x):
        return F.relu(self.part(2, F.relu(self.part(1, x))) + x)


class PublicSharedResNet(nn.Module):
    """ResNet_Basis (CIFAR-10: 3 stages, option A, double) / ResNet_SingleShared (ILSVRC: 7x7 stem,
    max-pool, 4 stages, option B): ``shared_basis_k`` or ``shared_basis_k_1/_2``, ``layerK``, ``fc``."""

    def __init__(self, widths, blocks, shared, unique, double, imagenet, classes) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            3, widths[0], 7 if imagenet else 3, 2 if imagenet else 1, 3 if imagenet else 1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.imagenet = imagenet
        c_in = widths[0]
        for k, (width, count) in enumerate(zip(widths, blocks), start=1):
            m = width // widths[0]
            first = nn.Conv2d(width, shared * m, 3, 1, 1, bias=False)
            second = nn.Conv2d(width, shared * m, 3, 1, 1, bias=False) if double else None
            if double:
                setattr(self, f"shared_basis_{k}_1", first)
                setattr(self, f"shared_basis_{k}_2", second)
            else:
                setattr(self, f"shared_basis_{k}", first)
            layers = [PublicFirstBlock(c_in, width, 1 if k == 1 else 2, imagenet)]
            layers += [PublicSharedBlock(width, unique * m, first, second) for _ in range(count - 1)]
            setattr(self, f"layer{k}", nn.Sequential(*layers))
            c_in = width
        self.stages = len(widths)
        self.fc = nn.Linear(c_in, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        if self.imagenet:
            out = F.max_pool2d(out, 3, 2, 1)
        for k in range(1, self.stages + 1):
            out = getattr(self, f"layer{k}")(out)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


def save_net_rl2(source: nn.Module, path):
    """As train_*.py saves (``net_state_dict``); the ILSVRC script trains under DataParallel."""
    state = {f"module.{key}": value for key, value in source.state_dict().items()}
    torch.save({"net_state_dict": state, "optimizer_state_dict": {}, "acc": torch.tensor(71.5), "epoch": 9}, path)


@pytest.mark.parametrize(
    "name, options, source_args, shape",
    [
        (
            "resnet32_shared",
            dict(shared_rank=2, unique_rank=1, bases="double"),
            dict(widths=(16, 32, 64), blocks=(5, 5, 5), shared=2, unique=1, double=True, imagenet=False, classes=10),
            (3, 16, 16),
        ),
        (
            "resnet34_shared",
            dict(shared_rank=2, unique_rank=1, bases="single", stem="imagenet"),
            dict(
                widths=(64, 128, 256, 512),
                blocks=(3, 4, 6, 3),
                shared=2,
                unique=1,
                double=False,
                imagenet=True,
                classes=7,
            ),  # fmt: skip
            (3, 48, 48),
        ),
    ],
    ids=["cifar10-resnet32-double", "ilsvrc-resnet34-single"],
)
def test_a_shared_bases_checkpoint_loads_into_the_zoo_model(name, options, source_args, shape, tmp_path):
    source = perturbed(PublicSharedResNet(**source_args), 2)
    path = tmp_path / "CIFAR10-ResNet32_DoubleShared-S2-U1-L10.0-0.pth"
    save_net_rl2(source, path)
    target = build_model(name, shape, source_args["classes"], **options)
    assert load_checkpoint(target, path) == {}
    same_logits(source, target, shape)


def test_the_public_names_of_the_other_shared_models_are_ours(tmp_path):
    """MobileNetV2-Shared, DenseNet121 and ResNeXt50 keep the public module names, so their
    checkpoints load by name; a sample of the public keys with their shapes."""
    expected = {
        "mobilenetv2_shared": {
            "pre.0.bias": (32,),
            "shared_basis_1.weight": (192, 32, 1, 1),
            "stage3.1.shared_basis1.weight": (192, 32, 1, 1),
            "stage3.0.conv1.weight": (144, 24, 1, 1),
            "stage7.conv3.weight": (320, 960, 1, 1),
            "conv1.0.weight": (1280, 320, 1, 1),
            "classifier.1.weight": (100, 1280),
        },
        "densenet121_shared": {
            "shared_basis_4.weight": (64, 128, 3, 3),
            "features.dense_block_layer_0.bottle_neck_layer_0.basis_conv2.weight": (4, 128, 3, 3),
            "features.dense_block_layer_3.bottle_neck_layer_15.coeff_conv2.weight": (32, 68, 1, 1),
            "features.transition_layer_2.down_sample.1.weight": (512, 1024, 1, 1),
            "linear.weight": (100, 1024),
        },
        "resnext50_shared": {
            "shared_basis_1.weight": (16, 32, 3, 3),
            "layer1.0.residual_function.3.weight": (128, 4, 3, 3),
            "layer1.1.basis_conv2.weight": (4, 128, 3, 3),
            "layer4.2.conv3.weight": (2048, 160, 1, 1),  # (s + u) x 8 = (16 + 4) x 8
            "linear.weight": (100, 2048),
        },
    }
    for name, keys in expected.items():
        source = perturbed(build_model(name, (3, 32, 32), 100), 3)
        shapes = {key: tuple(value.shape) for key, value in source.state_dict().items()}
        assert {key: shapes.get(key) for key in keys} == keys, name
        path = tmp_path / f"{name}.pth"
        save_net_rl2(source, path)
        target = build_model(name, (3, 32, 32), 100)
        load_checkpoint(target, path)
        same_logits(source, target, (3, 32, 32))
