"""Residual networks (d2l 8.6, seeds 000 and 004): a residual block written out, and ResNets of it.

`Residual` is the basic block - two 3x3 convolutions with batch norm, plus the input carried
around them (through a 1x1 convolution when the shape changes) - and `ResNet` stacks a stem and
stages of such blocks, then pools and classifies. Its parameter names are torchvision's, so the
concise twins (the same network of torchvision's `BasicBlock`, and torchvision's `resnet18`)
load each other's weights and the tests can show they compute the same function. The stem is a
3x3 convolution without max-pooling, fit for 28x28 and 32x32 images; input channels follow the
dataset. `ResNet(widths=(16, 32, 64), blocks=(1, 1, 1))` trains on a 2-core CPU in minutes;
ResNet-18 is widths (64, 128, 256, 512) with two blocks each, for GPUs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):
    """Y = ReLU(BN(conv(ReLU(BN(conv(X))))) + shortcut(X)); stride 2 halves height and width."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            # a 1x1 convolution gives the shortcut the output's shape
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        shortcut = X if self.downsample is None else self.downsample(X)
        return F.relu(Y + shortcut)


def basic_block(in_channels: int, channels: int, stride: int = 1) -> nn.Module:
    """torchvision's BasicBlock with the same shortcut as `Residual`."""
    from torchvision.models.resnet import BasicBlock

    downsample = None
    if stride != 1 or in_channels != channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
        )
    return BasicBlock(in_channels, channels, stride=stride, downsample=downsample)


class ResNet(nn.Module):
    """Stem, then one stage per width (the first keeps the size, each later one halves it)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        widths: tuple[int, ...] = (16, 32, 64),
        blocks: tuple[int, ...] = (1, 1, 1),
        block=None,
    ):
        super().__init__()
        block = block or Residual  # looked up here, not a default: the concise twin's script has no Residual
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks need one entry per stage")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        channels = widths[0]
        for i, (width, num_blocks) in enumerate(zip(widths, blocks)):
            stage = []
            for j in range(num_blocks):
                stride = 2 if i > 0 and j == 0 else 1
                stage.append(block(channels, width, stride))
                channels = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.num_stages = len(widths)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))  # (n, widths[0], H, W)
        for i in range(self.num_stages):
            Y = getattr(self, f"layer{i + 1}")(Y)
        Y = torch.flatten(F.adaptive_avg_pool2d(Y, 1), 1)  # (n, widths[-1])
        return self.fc(Y)


def resnet_concise(in_channels: int, num_classes: int, widths=(16, 32, 64), blocks=(1, 1, 1)) -> ResNet:
    """The same network assembled from torchvision's BasicBlock."""
    return ResNet(in_channels, num_classes, widths, blocks, block=basic_block)


RESNET18 = {"widths": (64, 128, 256, 512), "blocks": (2, 2, 2, 2)}


def resnet18_torchvision(in_channels: int, num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 with the small-image stem: 3x3 stride-1 convolution, no max-pool."""
    import torchvision

    net = torchvision.models.resnet18(num_classes=num_classes)
    net.conv1 = nn.Conv2d(in_channels, 64, 3, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net
