"""The four model families, each from scratch and concise, built by name from a run's config.

`build_model` is the one place that turns a config into a network: linear regression for tables,
softmax regression, the MLP and ResNets for images. Every model maps a batch X to outputs of shape
(n, q): predictions for regression, logits for classification. (`pretrained` is apart: the ImageNet
classifiers the photo page asks, which are used, not trained.) A run that normalises its inputs gets its
network inside `Normalized`, which subtracts the training set's mean and divides by its std per channel
first: scratch and concise share it, and since mean and std are buffers of the model, a saved checkpoint
and the photo page take them along, so a model never sees inputs scaled otherwise than in its training.
(`core.export` writes these classes' own source into the exported script, less their type hints.)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from core.models.linear import LinearRegression, LinearRegressionScratch
from core.models.mlp import MLP, MLPScratch
from core.models.resnet import RESNET18, ResNet, resnet18_torchvision, resnet_concise
from core.models.softmax import SoftmaxRegression, SoftmaxRegressionScratch

MODELS = {
    "linear": "Linear regression",
    "softmax": "Softmax regression",
    "mlp": "Multilayer perceptron",
    "resnet": "ResNet (small)",
    "resnet18": "ResNet-18",
}
IMPLEMENTATIONS = ("scratch", "concise")


def resnet_shape(config) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(widths, blocks) of the small ResNet: the width doubles at each stage."""
    widths = tuple(config.resnet_width * 2**i for i in range(config.resnet_stages))
    return widths, (config.resnet_blocks,) * config.resnet_stages


class Normalized(nn.Module):
    """net((X - mean) / std), with one mean and std per channel of images X (n, C, H, W)."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.register_buffer("mean", mean.detach().reshape(1, -1, 1, 1).clone())  # (1, C, 1, 1)
        self.register_buffer("std", std.detach().reshape(1, -1, 1, 1).clone())
        self.net = net

    def forward(self, X):
        return self.net((X - self.mean) / self.std)


def bare(model: nn.Module) -> nn.Module:
    """The network itself, without the input normalisation around it (for pictures of its weights, heatmaps)."""
    return model.net if isinstance(model, Normalized) else model


def has_batch_norm(model: nn.Module) -> bool:
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)  # torch's public ones, not _BatchNorm
    return any(isinstance(m, norms) for m in model.modules())


def build_model(
    config, input_shape: tuple[int, ...], num_outputs: int, stats: tuple[torch.Tensor, torch.Tensor] | None = None
) -> nn.Module:
    """The model for `config` (a RunConfig) on inputs of `input_shape`, e.g. (1, 28, 28).

    `stats`: the training set's (mean, std) per channel, when the config normalises its inputs; without them
    (a checkpoint being loaded) the model starts at mean 0, std 1 and its state dict brings the real ones."""
    net = _network(config, input_shape, num_outputs)
    if len(input_shape) == 3 and channels_last_is_safe(net):
        # convolutions run faster on (n, H, W, C) in memory, on a CPU (oneDNN: 1.4x here) as on a GPU; channels-last
        # weights make every activation channels-last too, whatever the input's layout (a no-op for linear layers)
        net = net.to(memory_format=torch.channels_last)
    if not config.normalize:
        return net
    channels = input_shape[0]
    mean, std = stats if stats is not None else (torch.zeros(channels), torch.ones(channels))
    return Normalized(net, mean, std)


SIMD_FLOATS = 16  # floats in one AVX-512 register (AVX2 holds 8): below it, a strided 1x1 convolution is unsafe


def channels_last_is_safe(net: nn.Module) -> bool:
    """Whether `net` may train channels-last. oneDNN 3.12 (torch 2.14.1's) gets the weight gradient of a strided 1x1
    convolution channels-last wrong when it has fewer input channels than a SIMD register holds floats: on an AVX2
    CPU a tiny ResNet's shortcut (4 -> 8 channels, stride 2) gets gradients 10^4 off, a corrupted heap or a
    backward() that never returns (measured: 8 or more channels, or stride 3, or (n, C, H, W) layout are right).
    Such a net is tiny, so the plain layout costs it little."""
    return not any(
        isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1 and m.in_channels < SIMD_FLOATS
        for m in net.modules()
    )


def _network(config, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    num_inputs, scratch = math.prod(input_shape), config.scratch
    if config.model == "linear":
        return (LinearRegressionScratch if scratch else LinearRegression)(num_inputs, num_outputs)
    if config.model == "softmax":
        return (SoftmaxRegressionScratch if scratch else SoftmaxRegression)(num_inputs, num_outputs)
    if config.model == "mlp":
        cls = MLPScratch if scratch else MLP
        return cls(num_inputs, num_outputs, config.num_hiddens, config.num_layers, config.activation)
    if len(input_shape) != 3:
        raise ValueError(f"a ResNet needs images (channels, height, width), not inputs of shape {input_shape}")
    in_channels = input_shape[0]
    if config.model == "resnet":
        widths, blocks = resnet_shape(config)
        return (ResNet if scratch else resnet_concise)(in_channels, num_outputs, widths, blocks)
    if config.model == "resnet18":
        return (
            ResNet(in_channels, num_outputs, **RESNET18) if scratch else resnet18_torchvision(in_channels, num_outputs)
        )
    raise ValueError(f"unknown model {config.model!r}; choose one of: {', '.join(MODELS)}")


def init_zero(model: nn.Module) -> None:
    """Set every weight and bias to 0 (d2l 3.2's first exercise; for an MLP, d2l 5.4's symmetry that never breaks)."""
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()


def init_normal(model: nn.Module, std: float) -> None:
    """Redraw every weight and bias from N(0, std^2), as seed 004's `init_params` (std 1) does.

    It draws from the global generator on the CPU, after the model was built, so a seeded run gets the same
    numbers on any device, and an exported script repeats them with the same two lines.
    """
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape) * std)
