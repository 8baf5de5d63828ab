"""Every model pair in core.models, from scratch and concise, computes the same function from the same weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.export.script import channels_last_in_script
from core.models import (
    MLP,
    MODELS,
    RESNET18,
    LinearRegression,
    LinearRegressionScratch,
    MLPScratch,
    ResNet,
    SoftmaxRegression,
    SoftmaxRegressionScratch,
    build_model,
    has_batch_norm,
    resnet18_torchvision,
    resnet_concise,
)
from core.models.softmax import weight_images
from core.train import RunConfig

ROOT = Path(__file__).resolve().parent.parent


def images(n: int = 4, channels: int = 1, size: int = 28, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def test_linear_regression_twins_agree():
    torch.manual_seed(0)
    scratch, concise = LinearRegressionScratch(3, 2), LinearRegression(3, 2)
    with torch.no_grad():
        concise.net.weight.normal_()
        concise.net.bias.normal_()
        scratch.w.copy_(concise.w)
        scratch.b.copy_(concise.b)
    assert scratch.w.shape == concise.w.shape == (3, 2) and scratch.b.shape == concise.b.shape == (2,)
    X = torch.randn(16, 3)
    torch.testing.assert_close(scratch(X), concise(X))
    torch.testing.assert_close(concise(X), X @ concise.w + concise.b)


def test_linear_regression_starts_like_d2l():
    torch.manual_seed(0)
    for model in (LinearRegressionScratch(500), LinearRegression(500)):
        assert float(model.w.detach().std()) == pytest.approx(0.01, rel=0.2)
        assert torch.equal(model.b.detach(), torch.zeros(1))


def test_softmax_regression_twins_agree():
    torch.manual_seed(0)
    scratch, concise = SoftmaxRegressionScratch(784, 10), SoftmaxRegression(784, 10)
    with torch.no_grad():
        scratch.W.copy_(concise.W)
        scratch.b.copy_(concise.b)
    assert scratch.W.shape == concise.W.shape == (784, 10)
    X = images(8)
    out = scratch(X)
    assert out.shape == (8, 10)
    torch.testing.assert_close(out, concise(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_mlp_twins_agree(activation, num_layers):
    torch.manual_seed(0)
    scratch = MLPScratch(784, 10, num_hiddens=32, num_layers=num_layers, activation=activation)
    concise = MLP(784, 10, num_hiddens=32, num_layers=num_layers, activation=activation)
    linears = concise.linears()
    assert len(linears) == len(scratch.Ws) == num_layers + 1
    with torch.no_grad():
        for W, b, linear in zip(scratch.Ws, scratch.bs, linears):
            W.copy_(linear.weight.T)
            b.copy_(linear.bias)
    X = images(8)
    out = scratch(X)
    assert out.shape == (8, 10)
    torch.testing.assert_close(out, concise(X), rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p in scratch.parameters()) == sum(p.numel() for p in concise.parameters())


def randomise_batch_norm(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every batch norm non-trivial statistics and affine parameters, so eval mode is a real test."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
                module.weight.copy_(1 + 0.1 * torch.randn(n, generator=g))
                module.bias.copy_(0.1 * torch.randn(n, generator=g))


def assert_same_function(ours: torch.nn.Module, theirs: torch.nn.Module, X: torch.Tensor, num_classes: int) -> None:
    assert list(ours.state_dict()) == list(theirs.state_dict()), "the twins share parameter names"
    randomise_batch_norm(ours)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.eval(), theirs.eval()
    out = ours(X)
    assert out.shape == (len(X), num_classes)
    torch.testing.assert_close(out, theirs(X), rtol=1e-5, atol=1e-5)
    ours.train(), theirs.train()  # batch statistics, and the running statistics they update
    torch.testing.assert_close(ours(X), theirs(X), rtol=1e-5, atol=1e-5)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{name} differs after a training-mode pass")


@pytest.mark.parametrize(("in_channels", "size"), [(1, 28), (3, 32)])
def test_resnet_matches_the_same_net_of_torchvision_basic_blocks(in_channels, size):
    torch.manual_seed(0)
    ours = ResNet(in_channels, 10, widths=(8, 16, 32), blocks=(1, 2, 1))
    theirs = resnet_concise(in_channels, 10, widths=(8, 16, 32), blocks=(1, 2, 1))
    assert_same_function(ours, theirs, images(4, in_channels, size), 10)


def test_resnet18_matches_torchvision_resnet18():
    torch.manual_seed(0)
    ours, theirs = ResNet(1, 10, **RESNET18), resnet18_torchvision(1, 10)
    assert_same_function(ours, theirs, images(2), 10)


@pytest.mark.parametrize(("in_channels", "size", "classes"), [(1, 28, 10), (3, 32, 10), (3, 32, 7)])
@pytest.mark.parametrize("builder", [ResNet, resnet_concise])
def test_resnet_output_shape_follows_channels_and_classes(builder, in_channels, size, classes):
    net = builder(in_channels, classes, widths=(4, 8), blocks=(1, 1))
    assert net(images(3, in_channels, size)).shape == (3, classes)


def test_resnet_needs_one_block_count_per_stage():
    with pytest.raises(ValueError, match="one entry per stage"):
        ResNet(1, 10, widths=(8, 16), blocks=(1,))


IMAGE_MODELS = [
    *[(model, (1, 28, 28), "fashion_mnist") for model in MODELS if model != "linear"],
    *[(model, (3, 32, 32), "cifar10") for model in ("softmax", "mlp", "resnet")],
]


@pytest.mark.parametrize(("model", "input_shape", "dataset"), IMAGE_MODELS)
@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_build_model_gives_logits_for_every_image_model(model, implementation, input_shape, dataset):
    config = RunConfig(model=model, implementation=implementation, dataset=dataset, resnet_width=4, resnet_stages=2)
    net = build_model(config, input_shape, 10)
    assert net(torch.rand(2, *input_shape)).shape == (2, 10)


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_build_model_gives_predictions_for_a_table(implementation):
    config = RunConfig(model="linear", implementation=implementation, dataset="synthetic")
    net = build_model(config, (2,), 1)
    assert net(torch.rand(5, 2)).shape == (5, 1)


def test_build_model_refuses_a_resnet_on_a_table():
    config = RunConfig(model="resnet", dataset="fashion_mnist")
    with pytest.raises(ValueError, match="needs images"):
        build_model(config, (2,), 1)


def test_build_model_sizes_the_small_resnet_from_the_config():
    config = RunConfig(model="resnet", implementation="scratch", resnet_width=4, resnet_blocks=2, resnet_stages=3)
    net = build_model(config, (1, 28, 28), 10)
    assert [len(getattr(net, f"layer{i}")) for i in (1, 2, 3)] == [2, 2, 2]
    assert net.fc.in_features == 16  # 4, 8, 16: the width doubles at each stage


# in a child process: the bug it guards against hangs backward() or corrupts the heap rather than failing
TINY_RESNET_GRADIENTS = """
import torch
from core.models import build_model
from core.train import RunConfig
torch.manual_seed(0)
config = RunConfig(model="resnet", resnet_width=4, resnet_stages=2)
net = build_model(config, (1, 28, 28), 10)
plain = build_model(config, (1, 28, 28), 10).to(memory_format=torch.contiguous_format)
plain.load_state_dict(net.state_dict())
X, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
for model in (net, plain):
    for _ in range(5):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
for (name, a), b in zip(net.named_parameters(), plain.parameters()):
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, msg=name)
print("same gradients")
"""


def test_a_tiny_resnet_learns_from_right_gradients_and_its_backward_returns():
    """oneDNN gets a strided 1x1 shortcut of 4 channels wrong channels-last (core.models.channels_last_is_safe): on
    an AVX2 CPU that hung the suite in backward(). The width-4 ResNet the lessons allow must not meet it."""
    done = subprocess.run(
        [sys.executable, "-c", TINY_RESNET_GRADIENTS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "same gradients" in done.stdout, done.stderr[-2000:]


@pytest.mark.parametrize("width, stages", [(1, 2), (4, 2), (8, 3), (15, 2), (16, 2), (4, 1), (64, 4)])
def test_the_script_and_the_page_lay_a_resnet_out_alike(width, stages):
    """channels-last where it is safe and fast, the plain layout where oneDNN is wrong; the script decides as the
    page does."""
    config = RunConfig(model="resnet", resnet_width=width, resnet_stages=stages)
    convs = [m for m in build_model(config, (1, 28, 28), 10).modules() if isinstance(m, torch.nn.Conv2d)]
    last = [m for m in convs if m.kernel_size == (3, 3)][-1]
    assert last.in_channels > 1  # (c, 1, 3, 3) and 1x1 weights read as both layouts
    assert last.weight.is_contiguous(memory_format=torch.channels_last) == channels_last_in_script(config)
    assert channels_last_in_script(config) == (width >= 16 or stages == 1)


def test_class_weight_images_put_a_zero_weight_at_mid_grey_on_one_scale():
    model = SoftmaxRegression(2 * 2 * 3, 2)  # a 3-channel 2x2 image, two classes
    with torch.no_grad():
        model.W.copy_(torch.zeros(12, 2))
        model.W[:, 0] = 2.0  # class 0: every channel of every pixel votes for it
        model.W[0:4, 1] = -1.0  # class 1: the first channel of each pixel votes against it, others are 0
    images = weight_images(model, (3, 2, 2))
    assert images.shape == (2, 2, 2)
    assert torch.allclose(images[0], torch.ones(2, 2))  # the largest weight of all is white
    # channels averaged: -1/3 on the scale of 2 -> 0.5 - 1/12, darker than mid-grey but not black
    assert torch.allclose(images[1], torch.full((2, 2), 0.5 - 1 / 12))


def test_batch_norm_is_seen_where_it_is_so_a_last_batch_of_one_is_dropped():
    """train.fit drops a ragged last batch only for models with batch norm (a batch of one has no variance)."""
    assert has_batch_norm(ResNet(1, 10, widths=(8, 16), blocks=(1, 1)))
    assert has_batch_norm(resnet18_torchvision(1, 10))
    assert not has_batch_norm(MLP(784, 10, num_hiddens=16))
    assert not has_batch_norm(SoftmaxRegression(784, 10))
