"""Where a model looked: Grad-CAM and gradient saliency maps from captum, drawn over the image.

`grad_cam` (Selvaraju et al., 2017) weighs the feature maps of a network's last convolutional layer by
the mean gradient of one class's score and keeps the positive part: a coarse map - 7x7 for
EfficientNet-Lite0 on a 224x224 photo, 8x8 for the small ResNet on 32x32 images - of the regions that
raised that class, upsampled to the image. `saliency` (Simonyan et al., 2013) is |d score / d pixel|,
for the models without convolutions (softmax regression, the MLP). Both are captum's
(`LayerGradCam`, `Saliency`), each map scaled to [0, 1]; `where_looked` picks the right one for a
model, and `overlay` colours a map over its image. `Folded` makes the pretrained network's three
answers one differentiable output, so Grad-CAM explains "cat" as the five ImageNet cat classes together.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam, Saliency
from PIL import Image
from torch import nn

from core.models import bare
from core.models.pretrained import efficientnet_head, fold_imagenet
from core.models.resnet import ResNet
from core.vision.transfer import Taught


class Folded(nn.Module):
    """An ImageNet classifier's log-probabilities of cat, dog and neither: (n, 3, 224, 224) -> (n, 3)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return fold_imagenet(self.net(X).softmax(dim=-1)).clamp_min(1e-12).log()


def last_conv_layer(model: nn.Module) -> nn.Module | None:
    """The layer Grad-CAM reads: the last convolutional stage's output; None for a model without convolutions."""
    net = bare(model)
    if isinstance(net, Taught):
        return net.backbone.last_conv
    if isinstance(net, Folded):
        return efficientnet_head(net.net) or getattr(net.net, "layer4", None)
    if isinstance(net, ResNet):
        return getattr(net, f"layer{net.num_stages}")  # its last residual block's output, after the ReLU
    if hasattr(net, "layer4"):  # torchvision's ResNet-18
        return net.layer4
    return None


def _scaled(maps: torch.Tensor) -> torch.Tensor:
    """(n, H, W) -> each map divided by its own maximum (an all-zero map stays zero)."""
    peak = maps.flatten(1).amax(dim=1).clamp_min(1e-12)
    return (maps / peak[:, None, None]).clamp(0, 1)


def grad_cam(model: nn.Module, layer: nn.Module, X: torch.Tensor, target) -> torch.Tensor:
    """(n, C, H, W) images and their classes -> (n, H, W) Grad-CAM maps in [0, 1]."""
    model.eval()
    with torch.enable_grad():
        coarse = LayerGradCam(model, layer).attribute(X, target=target, relu_attributions=True)  # (n, 1, h, w)
        maps = LayerAttribution.interpolate(coarse.detach(), tuple(X.shape[2:]), interpolate_mode="bilinear")
    return _scaled(maps[:, 0].clamp_min(0))


def saliency(model: nn.Module, X: torch.Tensor, target) -> torch.Tensor:
    """(n, C, H, W) images and their classes -> (n, H, W): |gradient| of the class score, the largest over channels."""
    model.eval()
    with torch.enable_grad():
        grads = Saliency(model).attribute(X.clone().requires_grad_(True), target=target, abs=True)  # (n, C, H, W)
    return _scaled(grads.detach().amax(dim=1))


def where_looked(model: nn.Module, X: torch.Tensor, target) -> tuple[str, torch.Tensor]:
    """("Grad-CAM" or "saliency", (n, H, W) maps): Grad-CAM where the model has convolutions."""
    layer = last_conv_layer(model)
    if layer is None:
        return "saliency", saliency(model, X, target)
    return "Grad-CAM", grad_cam(model, layer, X, target)


def overlay(image: Image.Image | np.ndarray, heat: torch.Tensor, alpha: float = 0.55) -> Image.Image:
    """A map (h, w) in [0, 1] in colour (blue cold, red hot) over an RGB or grey image, resized to the image."""
    from matplotlib import colormaps  # captum's own dependency; imported only when a heatmap is drawn

    base = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    base = base.convert("RGB")
    heat_img = Image.fromarray((heat.detach().cpu().numpy() * 255).astype(np.uint8)).resize(base.size, Image.BILINEAR)
    colours = colormaps["jet"](np.asarray(heat_img) / 255.0)[..., :3]  # (H, W, 3) in [0, 1]
    # hot regions show their colour strongly, cold ones let the photo through
    weight = alpha * (0.35 + 0.65 * np.asarray(heat_img, dtype=np.float32)[..., None] / 255.0)
    mixed = (1 - weight) * np.asarray(base, dtype=np.float32) + weight * colours * 255
    return Image.fromarray(mixed.clip(0, 255).astype(np.uint8))
