"""The shared-bases paper's other models: ResNet-34 with the ImageNet stem, MobileNetV2-Shared,
DenseNet121-SsUu and ResNeXt50-SsUu, counted against hand counts from their public definitions."""

import pytest
import torch

from trainer.models import build_model
from trainer.models.errors import ModelError


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def hand_resnet34_shared(shared: int, unique: int, bases: str, classes: int, imagenet: bool) -> int:
    params = 3 * 64 * (49 if imagenet else 9) + 2 * 64
    c_in = 64
    for index, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        m = width // 64
        params += 9 * c_in * width + 2 * width + 9 * width * width + 2 * width  # the ordinary first block
        if index > 0:
            params += c_in * width + 2 * width  # 1x1 shortcut + BN
        params += {"single": 1, "double": 2}[bases] * 9 * width * shared * m  # the shared bases, once
        rank = (shared + unique) * m
        params += (blocks - 1) * 2 * (9 * width * unique * m + 2 * rank + rank * width + 2 * width)
        c_in = width
    return params + 512 * classes + classes


@pytest.mark.parametrize(
    "shared, bases, paper", [(32, "single", 8.20e6), (48, "single", 9.44e6), (32, "double", 9.76e6)]
)
def test_resnet34_with_the_imagenet_stem_against_a_hand_count_and_the_papers_rounding(shared, bases, paper):
    model = build_model(
        "resnet34_shared", (3, 224, 224), 1000, shared_rank=shared, unique_rank=1, bases=bases, stem="imagenet"
    )
    assert count(model) == hand_resnet34_shared(shared, 1, bases, 1000, imagenet=True)
    assert round(count(model) / 1e4) == round(paper / 1e4)  # the public README's 8.20M / 9.44M / 9.76M
    assert model.conv1.kernel_size == (7, 7) and model.conv1.stride == (2, 2)
    assert model.dense_equivalent == ("resnet34", {})
    cifar = build_model("resnet34_shared", (3, 32, 32), 100, shared_rank=16)
    assert count(cifar) == hand_resnet34_shared(16, 1, "single", 100, imagenet=False)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
    with pytest.raises(ModelError, match="stem must be one of cifar, imagenet"):
        build_model("resnet34_shared", (3, 32, 32), 10, stem="tiny")


def mobilenet_block(c_in: int, c_out: int, expansion: int, own_expansion: bool = True) -> int:
    planes = expansion * c_in
    return (c_in * planes if own_expansion else 0) + 2 * planes + 9 * planes + 2 * planes + planes * c_out + 2 * c_out


def test_mobilenetv2_shared_against_a_hand_count():
    params = 3 * 32 * 9 + 32 + 2 * 32 + mobilenet_block(32, 16, 1)
    params += mobilenet_block(16, 24, 6) + mobilenet_block(24, 24, 6)
    c_in = 24
    for blocks, c_out in ((3, 32), (4, 64), (3, 96), (3, 160)):
        params += mobilenet_block(c_in, c_out, 6) + (blocks - 1) * mobilenet_block(c_out, c_out, 6, False)
        params += c_out * 6 * c_out  # the stage's shared 1x1 expansion, once
        c_in = c_out
    params += mobilenet_block(160, 320, 6) + 320 * 1280 + 1280 + 2 * 1280 + 1280 * 1000 + 1000
    model = build_model("mobilenetv2_shared", (3, 224, 224), 1000)
    assert count(model) == params == 3_243_080  # the public README: 3.24M
    # every block after a stage's first calls the stage's basis: one module, many names
    assert model.stage4[3].shared_basis1 is model.shared_basis_2 and not hasattr(model.stage4[0], "shared_basis1")


def test_densenet121_shared_against_a_hand_count_and_the_public_codes_fourth_basis():
    shared, unique, channels = 64, 4, 64
    params = 3 * 64 * 9 + 4 * 9 * 128 * shared  # stem; four bases, the fourth unused but built
    for index, layers in enumerate((6, 12, 24, 16)):
        for layer in range(layers):
            c = channels + 32 * layer
            rank = shared + unique
            params += 2 * c + c * 128 + 2 * 128 + 9 * 128 * unique + 2 * rank + rank * 32
        channels += 32 * layers
        if index < 3:
            params += 2 * channels + channels * (channels // 2)
            channels //= 2
    params += 2 * channels + channels * 100 + 100
    model = build_model("densenet121_shared", (3, 32, 32), 100)
    assert count(model) == params
    last = model.features.dense_block_layer_3.bottle_neck_layer_0.shared_basis
    assert last is model.shared_basis_3  # the public code's loop index: block 4 calls block 3's basis
    own = build_model("densenet121_shared", (3, 32, 32), 100, last_basis="own")
    assert own.features.dense_block_layer_3.bottle_neck_layer_0.shared_basis is own.shared_basis_4
    assert count(own) == params
    with pytest.raises(ModelError, match="last_basis must be one of public, own"):
        build_model("densenet121_shared", (3, 32, 32), 100, last_basis="third")


def test_resnext50_shared_against_a_hand_count_and_the_unique_rank_the_public_code_can_build():
    shared, unique, c_in = 16, 4, 64
    params = 3 * 64 * 9 + 2 * 64
    for index, blocks in enumerate((3, 4, 6, 3)):
        planes, scale = 64 * 2**index, 2**index
        width, out = planes * 2, planes * 4
        params += c_in * width + 2 * width + 9 * width * width // 32 + 2 * width + width * out + 2 * out
        params += c_in * out + 2 * out  # every stage's first block changes the width: 1x1 shortcut + BN
        params += 9 * width * (shared * scale) // (shared // 4)  # the shared basis, s/4 groups
        rank = (shared + unique) * scale
        per_block = out * width + 2 * width + 9 * width * (unique * scale) // (unique * scale // 4)
        params += (blocks - 1) * (per_block + 2 * rank + rank * out + 2 * out)
        c_in = out
    params += 2048 * 100 + 100
    model = build_model("resnext50_shared", (3, 32, 32), 100)
    assert count(model) == params
    with pytest.raises(ModelError, match="unique_rank must be a multiple of 4"):
        build_model("resnext50_shared", (3, 32, 32), 100, unique_rank=1)


@pytest.mark.parametrize("name", ["mobilenetv2_shared", "densenet121_shared", "resnext50_shared"])
def test_the_new_models_train_a_step_with_their_pooled_orthogonality_term(name):
    torch.manual_seed(0)
    model = build_model(name, (3, 32, 32), 10, orth_lambda=10)
    bases = [getattr(model, f"shared_basis_{i}").weight for i in range(1, 5)]
    rows = [b.reshape(b.shape[0], -1) for b in bases]
    deviations = [(r @ r.T - torch.eye(r.shape[0])).detach() for r in rows]
    pooled = sum(float(d.square().sum()) for d in deviations) / sum(d.numel() for d in deviations)
    assert model.extra_loss().item() == pytest.approx(10 * pooled, rel=1e-4)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.arange(4)) + model.extra_loss()
    loss.backward()
    assert all(b.grad is not None for b in bases[:3])
    assert build_model(name, (3, 32, 32), 10, orth_lambda=0).extra_loss() is None
