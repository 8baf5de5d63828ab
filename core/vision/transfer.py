"""Transfer learning (d2l 14.2, fine-tuning) for a student's own photos: ImageNet's features, a small head on top.

The pretrained EfficientNet-Lite0 stays frozen and turns each photo into its feature vector once: the
output of its last convolution averaged over the 7x7 positions, 1280 numbers (`Backbone`). `shrink`
brings a photo to the 256x256 centre square its preprocessing starts from, once on arrival; `embed`
gives the vectors of such squares as one batch, and `embed_views` those of augmented views (flips,
crops, colour jitter), applied before the frozen features. A head - softmax regression or an MLP of
one hidden layer, from `core.models` - trains on the vectors through `core.train.fit` like any run.
`Taught` puts backbone and head back together, so a photo gets its verdict (`answer`) and its heatmap
from one network, and `PREPROCESS` is what the head's checkpoint records, so that a head loaded
again sees photos exactly as in training and gives the same probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T

from core.models.pretrained import central_square, efficientnet_head

BACKBONE = "efficientnet_lite0"
SIDE, CROP = 256, 224  # each photo is kept as its 256x256 centre square; the network sees its central 224x224
MEAN, STD = (127 / 255,) * 3, (128 / 255,) * 3  # the Lite models' (x - 127) / 128 on pixels 0..255
NUM_FEATURES = 1280
PREPROCESS = {"backbone": BACKBONE, "resize": SIDE, "crop": CROP, "mean": list(MEAN), "std": list(STD)}
BATCH = 16  # photos per forward pass: 16 x 3 x 224 x 224 floats is 10 MB
_to_input = T.Compose([T.CenterCrop(CROP), T.ToTensor(), T.Normalize(MEAN, STD)])
# the augmentations: a crop of 60-100% of the square, a mirror image, other light and colours
_augment = T.Compose(
    [
        T.RandomResizedCrop(CROP, scale=(0.6, 1.0), antialias=True),
        T.RandomHorizontalFlip(),
        T.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ]
)


class Backbone(nn.Module):
    """EfficientNet-Lite0 without its classifier: (n, 3, 224, 224) -> (n, 1280) pooled features."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(X).mean(dim=(2, 3))  # (n, 1280, 7, 7) -> (n, 1280)

    @property
    def last_conv(self) -> nn.Module:
        """The 1x1 convolution to 1280 channels, on the 7x7 grid: where Grad-CAM looks."""
        return efficientnet_head(self.net)


def shrink(img: Image.Image) -> Image.Image:
    """A photo's centre square at 256x256: all the network ever sees of it, made once when it arrives."""
    return T.Resize(SIDE, antialias=True)(central_square(img.convert("RGB")))


def seen(img: Image.Image) -> Image.Image:
    """The 224x224 part of a photo the backbone sees (its centre square, resized, cropped): where a map is drawn."""
    return T.CenterCrop(CROP)(shrink(img))


def to_input(img: Image.Image) -> torch.Tensor:
    """Any photo -> (3, 224, 224), normalised as the backbone was trained (the photo page's path too)."""
    return _to_input(shrink(img))


def _batched(backbone: Backbone, X: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return backbone(X.contiguous(memory_format=torch.channels_last))


def embed(backbone: Backbone, squares: Sequence[Image.Image]) -> torch.Tensor:
    """(n, 1280) feature vectors of photos already shrunk, BATCH at a time."""
    chunks = [
        _batched(backbone, torch.stack([_to_input(img) for img in squares[i : i + BATCH]]))
        for i in range(0, len(squares), BATCH)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, NUM_FEATURES)


def embed_views(backbone: Backbone, square: Image.Image, views: int, seed: int) -> torch.Tensor:
    """(views, 1280) features of random augmented views of one photo; the same seed gives the same views."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # torchvision's random transforms draw from torch's global generator
        X = torch.stack([_augment(square) for _ in range(views)])
    return _batched(backbone, X)


def augmented_view(square: Image.Image, seed: int) -> Image.Image:
    """One augmented view as a picture (what augmenting does; tests fill a class of few real photos with them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return T.Compose(_augment.transforms[:3])(square)


class Taught(nn.Module):
    """The frozen backbone and the trained head as one network: (n, 3, 224, 224) -> (n, q) logits."""

    def __init__(self, backbone: Backbone, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(X))


@dataclass(frozen=True)
class Answer:
    """A taught model's verdict on one photo: the likeliest of the student's classes, and every probability."""

    label: str
    probs: dict[str, float]


def answer(model: Taught, classes: Sequence[str], images: Sequence[Image.Image]) -> list[Answer]:
    """One answer per photo, as one batch."""
    if not images:
        return []
    X = torch.stack([to_input(img) for img in images]).contiguous(memory_format=torch.channels_last)
    model.eval()
    with torch.inference_mode():
        P = model(X).softmax(dim=-1)  # (n, q)
    return [Answer(classes[int(p.argmax())], dict(zip(classes, p.tolist()))) for p in P]


def compare_with_scratch(transfer_acc: float, scratch_acc: float, n: int) -> tuple[str, str]:
    """What the held-out accuracies of the two Teach models, each on the same `n` held-out photos, show:
    ("transfer" | "scratch" | "too few", a sentence). A gap counts only where a two-proportion z-test (pooled,
    95%) says luck would rarely make it, on at least 5 photos: with 3 photos, one photo is 33 points."""
    right_t, right_s = round(transfer_acc * n), round(scratch_acc * n)
    counts = f"transfer {transfer_acc:.0%} ({right_t} of {n} held-out photos), from scratch {scratch_acc:.0%}"
    counts += f" ({right_s} of {n})"
    pooled = (right_t + right_s) / (2 * n) if n else 0.0
    se = math.sqrt(pooled * (1 - pooled) * 2 / n) if n else 0.0
    z = (transfer_acc - scratch_acc) / se if se else 0.0
    if n < 5 or abs(z) < 1.96:
        return "too few", (
            f"{counts}. With {n} held-out photos one photo more or less moves a number by {1 / max(n, 1):.0%}, and "
            "a gap like this one is easily luck: too few to tell the two apart. The page holds out 15% of each "
            "class's photos (at least one); with 20 or more a class, 3 a class are held out."
        )
    if z > 0:
        return "transfer", (
            f"{counts}. ImageNet's 1.3 million photos taught the backbone what edges, fur and wheels look like; "
            "from scratch, a few photos a class must teach all of that."
        )
    return "scratch", (
        f"{counts}. From scratch won here, which is rare: look at what tells the classes apart in these photos. "
        "A background, a lighting or a frame that only one class has is easy to learn from pixels, and says "
        "nothing of the things themselves."
    )
