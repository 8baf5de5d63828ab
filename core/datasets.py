"""Datasets as tensors: Fashion-MNIST, MNIST, CIFAR-10, d2l's synthetic regression and the exam scores.

Every dataset becomes one `Data` object: four tensors (train and validation inputs and targets)
plus the class names. Images are float32 in [0, 1] shaped (n, C, H, W); tables are (n, d). The
image sets are read by torchvision's own dataset classes from one data folder (`DASHBOARD_DATA`,
default `data/` in the project) and then kept as whole tensors, so training batches by indexing
and never touches PIL. `status()` tells whether a dataset is ready and how to get it when it is not,
without downloading anything; `prepare()` (run by the set-up script) imports Fashion-MNIST from
Debian's `dataset-fashion-mnist` package or downloads it. The first load of an image set in a
process is cached, once per device.
"""

from __future__ import annotations

import functools
import gzip
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


class DatasetUnavailable(RuntimeError):
    """The dataset's files are not here; the message says how to get them."""


def data_dir() -> Path:
    """The one folder that holds every downloaded or imported dataset."""
    return settings.value("DASHBOARD_DATA") or PROJECT_DIR / "data"


@dataclass(frozen=True)
class Data:
    """A dataset held as tensors. Targets are int64 labels (n,) or float32 values (n, 1)."""

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    classes: tuple[str, ...] = ()  # empty for regression
    feature_names: tuple[str, ...] = ()  # regression inputs, for tables and prediction boxes
    target_name: str = ""

    @property
    def is_classification(self) -> bool:
        return bool(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) for images, (d,) for tables."""
        return tuple(self.X_train.shape[1:])

    @property
    def num_inputs(self) -> int:
        return int(self.X_train[0].numel())

    @property
    def num_outputs(self) -> int:
        return len(self.classes) if self.classes else self.y_train.shape[1]

    @functools.cached_property
    def channel_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each channel's mean and std (C,) over every training image: computed once, the first time a run of
        this (cached) dataset normalises its inputs. Frozen as it is, the dataclass still caches it."""
        if self.X_train.dim() != 4:
            raise ValueError(f"only images (n, C, H, W) are normalised per channel, not inputs {self.input_shape}")
        return self.X_train.mean(dim=(0, 2, 3)), self.X_train.std(dim=(0, 2, 3))

    def to(self, device: str | torch.device) -> Data:
        return replace(self, **{k: getattr(self, k).to(device) for k in ("X_train", "y_train", "X_val", "y_val")})

    def compact(self) -> Data:
        """The same data, each tensor holding only its own elements: a slice (`head`, a subset) is a view of its
        whole dataset's storage, and pickling a view ships that whole storage - 2,000 images of Fashion-MNIST
        went to a trainer as all 70,000 (220 MB), and filled Ray's object store."""
        tensors = {k: getattr(self, k) for k in ("X_train", "y_train", "X_val", "y_val")}
        own = {k: t.clone() if t.untyped_storage().nbytes() > t.nbytes else t for k, t in tensors.items()}
        return replace(self, **own)

    def head(self, num_train: int, num_val: int | None = None) -> Data:
        """The first examples only: for quick demos and tests (the image sets are pre-shuffled)."""
        num_val = num_train if num_val is None else num_val
        return replace(
            self,
            X_train=self.X_train[:num_train],
            y_train=self.y_train[:num_train],
            X_val=self.X_val[:num_val],
            y_val=self.y_val[:num_val],
        )


# --- The image datasets, read through torchvision --------------------------------------


@dataclass(frozen=True)
class ImageSet:
    """What the dashboard knows of one torchvision image dataset."""

    key: str
    title: str
    tv_class: str  # the torchvision.datasets class that reads (and downloads) it
    size_note: str


IMAGE_SETS = {
    "fashion_mnist": ImageSet("fashion_mnist", "Fashion-MNIST", "FashionMNIST", "30 MB, 70,000 grey 28x28 images"),
    "mnist": ImageSet("mnist", "MNIST", "MNIST", "11 MB, 70,000 grey 28x28 digits"),
    "cifar10": ImageSet("cifar10", "CIFAR-10", "CIFAR10", "163 MB, 60,000 colour 32x32 images"),
}
# Seed 000's goal as a dataset: CIFAR-10's cats and dogs, and as many "neither" images drawn evenly
# from its other eight classes, so that always answering "neither" scores only a third.
CATDOG = ImageSet("cifar10_catdog", "CIFAR-10 cat / dog / neither", "CIFAR10", "the CIFAR-10 files")
CATDOG_CLASSES = ("cat", "dog", "neither")
TABLE_SETS = {
    "synthetic": "Synthetic y = Xw + b + noise (d2l 3.3)",
    "exam": "Exam scores from sleep and study",
    "table": "Your own table",  # made on the data-preparation page and handed to training as `data`
}
USER_TABLE = "table"
USER_TABLE_HOW = (
    "Your own table exists only in the browser session that prepared it: open the Data preparation page, "
    "choose or upload a table, and train from there."
)
# a student's own photos (core.vision.album), made on the Teach page and handed to training as `data`: the photos
# themselves at 64x64 for a network from scratch, or their EfficientNet-Lite0 features for a head (core.vision.transfer)
PHOTOS, PHOTO_FEATURES = "photos", "photo_features"
PHOTO_SETS = {PHOTOS: "Your photos (64x64)", PHOTO_FEATURES: "Your photos (EfficientNet-Lite0 features)"}
PHOTOS_HOW = "Your photos live on the Teach your own page: add them there and train from there."


def title(key: str) -> str:
    """A dataset's name for people ("Fashion-MNIST" for "fashion_mnist"), without looking at the disk."""
    if key in TABLE_SETS:
        return TABLE_SETS[key]
    if key in PHOTO_SETS:
        return PHOTO_SETS[key]
    return CATDOG.title if key == CATDOG.key else _image_set(key).title


@dataclass(frozen=True)
class DatasetStatus:
    key: str
    title: str
    available: bool
    how_to_get: str  # empty when available


def status(key: str) -> DatasetStatus:
    """Whether a dataset can be loaded now, and if not, how to get it. Never downloads."""
    if key == USER_TABLE:  # never loadable by name: it has no file, only a page's session holds it
        return DatasetStatus(key, title(key), False, USER_TABLE_HOW)
    if key in PHOTO_SETS:
        return DatasetStatus(key, title(key), False, PHOTOS_HOW)
    if key in TABLE_SETS:
        return DatasetStatus(key, title(key), True, "")
    if key == CATDOG.key:
        base = status("cifar10")
        return DatasetStatus(key, title(key), base.available, base.how_to_get)
    try:
        _torchvision_set(_image_set(key), train=False, download=False)
        return DatasetStatus(key, title(key), True, "")
    except DatasetUnavailable as err:
        return DatasetStatus(key, title(key), False, str(err))


DATASETS = (*IMAGE_SETS, CATDOG.key, *TABLE_SETS, *PHOTO_SETS)


def all_status() -> list[DatasetStatus]:
    """Every dataset a user can pick by name (a user's own table or photos are not: only their page holds them)."""
    return [status(key) for key in DATASETS if key != USER_TABLE and key not in PHOTO_SETS]


def _image_set(key: str) -> ImageSet:
    if key not in IMAGE_SETS:
        allowed = ", ".join(DATASETS)
        raise ValueError(f"unknown dataset {key!r}; choose one of: {allowed}")
    return IMAGE_SETS[key]


def _how_to_get(info: ImageSet) -> str:
    cmd = f"python -c \"import core.datasets as d; d.download('{info.key}')\""
    return (
        f"{info.title} is not available here ({info.size_note}). With an internet connection, "
        f"run `{cmd}` in the project folder (torchvision downloads it into {data_dir()}), "
        f"or copy torchvision's {info.tv_class} files there yourself."
    )


def _torchvision_set(info: ImageSet, train: bool, download: bool):
    import torchvision.datasets  # imported here: torchvision is slow to import and only images need it

    cls = getattr(torchvision.datasets, info.tv_class)
    try:
        return cls(root=str(data_dir()), train=train, download=download)
    except RuntimeError as err:  # torchvision's "Dataset not found or corrupted"
        raise DatasetUnavailable(_how_to_get(info)) from err
    except OSError as err:  # no network, refused connection, disk full...
        raise DatasetUnavailable(f"{_how_to_get(info)} (The download failed: {err}.)") from err


def _images_to_tensor(images) -> torch.Tensor:
    """uint8 images (n, H, W) or (n, H, W, C) as a torch tensor or numpy array -> float32 (n, C, H, W) in [0, 1]."""
    X = torch.as_tensor(images)
    X = X.unsqueeze(1) if X.ndim == 3 else X.permute(0, 3, 1, 2)
    return X.contiguous().float().div_(255)


def _cat_dog_neither(X: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 labels (cat = 3, dog = 5) -> 0 cat, 1 dog, 2 neither, with as many neither as cats."""
    cats, dogs = (y == 3).nonzero().flatten(), (y == 5).nonzero().flatten()
    others = (y != 3).logical_and(y != 5).nonzero().flatten()
    others = others[torch.randperm(len(others), generator=g)[: len(cats)]]
    idx = torch.cat([cats, dogs, others])
    idx = idx[torch.randperm(len(idx), generator=g)]
    labels = torch.full((len(y),), 2, dtype=torch.int64)
    labels[cats], labels[dogs] = 0, 1
    return X[idx], labels[idx]


@functools.cache
def _load_images_cpu(key: str) -> Data:
    if key == CATDOG.key:
        cifar, g = _load_images_cpu("cifar10"), torch.Generator().manual_seed(0)
        X_train, y_train = _cat_dog_neither(cifar.X_train, cifar.y_train, g)
        X_val, y_val = _cat_dog_neither(cifar.X_val, cifar.y_val, g)
        return Data(key, X_train, y_train, X_val, y_val, classes=CATDOG_CLASSES)
    info = _image_set(key)
    train = _torchvision_set(info, train=True, download=False)
    val = _torchvision_set(info, train=False, download=False)
    return Data(
        key,
        _images_to_tensor(train.data),
        torch.as_tensor(train.targets, dtype=torch.int64),
        _images_to_tensor(val.data),
        torch.as_tensor(val.targets, dtype=torch.int64),
        classes=tuple(train.classes),
    )


@functools.cache
def _load_images_on(key: str, device: str) -> Data:
    return _load_images_cpu(key).to(device)


def load(key: str, device: str | torch.device = "cpu", **options) -> Data:
    """Load a dataset onto `device`. Options go to the table datasets (see `synthetic`, `exam`)."""
    if key == "synthetic":
        return synthetic(**options).to(device)
    if key == "exam":
        return exam_scores(**options).to(device)
    if key == USER_TABLE or key in PHOTO_SETS:
        how = USER_TABLE_HOW if key == USER_TABLE else PHOTOS_HOW
        raise ValueError(f"the dataset {key!r} cannot be loaded by name. {how}")
    if options:
        raise ValueError(f"the image dataset {key!r} takes no options, got {sorted(options)}")
    device = str(torch.device(device))
    return _load_images_cpu(key) if device == "cpu" else _load_images_on(key, device)


def download(key: str) -> Data:
    """Fetch an image dataset through torchvision (needs the internet), then load it."""
    info = _image_set(key)
    _torchvision_set(info, train=True, download=True)
    _torchvision_set(info, train=False, download=True)
    _load_images_cpu.cache_clear()
    return load(key)


def import_debian_fashion_mnist(source: Path = DEBIAN_FASHION_MNIST) -> bool:
    """Copy Debian's Fashion-MNIST IDX files to where torchvision looks. True if they were found."""
    files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    if not all((source / f"{name}.gz").exists() for name in files):
        return False
    raw = data_dir() / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in files:
        target = raw / name
        if not target.exists():
            tmp = target.with_suffix(".partial")
            with gzip.open(source / f"{name}.gz", "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.rename(target)  # atomic: a half-written file is never taken for the dataset
    return True


def prepare(out=sys.stdout) -> None:
    """Set-up step: make Fashion-MNIST ready (Debian files, else download); report the others."""
    if not status("fashion_mnist").available:
        if import_debian_fashion_mnist():
            print(f"Fashion-MNIST imported from {DEBIAN_FASHION_MNIST}", file=out)
        else:
            try:
                download("fashion_mnist")
                print("Fashion-MNIST downloaded by torchvision", file=out)
            except DatasetUnavailable as err:
                print(f"Fashion-MNIST: {err}", file=out)
    for st in all_status():
        print(f"{st.title}: {'ready' if st.available else 'not available - ' + st.how_to_get}", file=out)


# --- The two table datasets -------------------------------------------------------------


def synthetic(
    w: tuple[float, ...] = (2.0, -3.4),
    b: float = 4.2,
    noise: float = 0.01,
    num_train: int = 1000,
    num_val: int = 1000,
    seed: int = 0,
) -> Data:
    """d2l's synthetic regression data: X ~ N(0, 1), y = Xw + b + N(0, noise^2)."""
    g = torch.Generator().manual_seed(seed)
    w_true = torch.tensor(w, dtype=torch.float32).reshape(-1, 1)  # (d, 1)
    n = num_train + num_val
    X = torch.randn(n, len(w), generator=g)  # (n, d)
    y = X @ w_true + b + noise * torch.randn(n, 1, generator=g)  # (n, 1)
    names = tuple(f"x{i + 1}" for i in range(len(w)))
    return Data(
        "synthetic", X[:num_train], y[:num_train], X[num_train:], y[num_train:], feature_names=names, target_name="y"
    )


# (mean sleep hours, mean study hours, mean score, rows): the 80 good rows, then seed 000's four
# scenarios - sleep without study, study without sleep, a bit of both, neither.
EXAM_SCENARIOS = (
    (8.0, 8.0, 85.0, 80),
    (12.0, 2.0, 60.0, 30),
    (2.0, 12.0, 70.0, 30),
    (6.0, 6.0, 75.0, 30),
    (2.0, 2.0, 45.0, 30),
)


def exam_scores(seed: int = 0, val_fraction: float = 0.2) -> Data:
    """Seed 000's 200 exam scores from hours of sleep (std 1.5) and study (std 2); score std 1."""
    g = torch.Generator().manual_seed(seed)
    rows = [
        torch.cat(
            [
                torch.normal(sleep, 1.5, (n, 1), generator=g),
                torch.normal(study, 2.0, (n, 1), generator=g),
                torch.normal(score, 1.0, (n, 1), generator=g),
            ],
            dim=1,
        )
        for sleep, study, score, n in EXAM_SCENARIOS
    ]
    table = torch.cat(rows)[torch.randperm(200, generator=g)]  # (200, 3), shuffled before the split
    num_val = int(len(table) * val_fraction)
    X, y = table[:, :2], table[:, 2:]
    return Data(
        "exam",
        X[num_val:],
        y[num_val:],
        X[:num_val],
        y[:num_val],
        feature_names=("sleep hours", "study hours"),
        target_name="exam score",
    )


def table(data: Data):
    """A regression dataset as one pandas DataFrame (train rows, then validation rows)."""
    import pandas as pd

    X = torch.cat([data.X_train, data.X_val]).cpu()
    y = torch.cat([data.y_train, data.y_val]).cpu()
    frame = pd.DataFrame(X.numpy(), columns=list(data.feature_names))
    frame[data.target_name] = y[:, 0].numpy()
    frame["split"] = ["train"] * len(data.X_train) + ["validation"] * len(data.X_val)
    return frame


if __name__ == "__main__":
    if sys.argv[1:] == ["prepare"]:
        prepare()
    else:
        sys.exit("usage: python -m core.datasets prepare")
