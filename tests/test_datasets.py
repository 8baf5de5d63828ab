"""core.datasets: the table data, Fashion-MNIST, and MNIST / CIFAR-10 / Debian files written in their real formats."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core import datasets

REAL_DATA_DIR = datasets.data_dir()  # where the session's Fashion-MNIST comes from, before any test moves it

# --- Synthetic regression data ----------------------------------------------------------------


def test_synthetic_data_has_the_right_shapes():
    data = datasets.synthetic()
    assert data.X_train.shape == (1000, 2) and data.y_train.shape == (1000, 1)
    assert data.X_val.shape == (1000, 2) and data.y_val.shape == (1000, 1)
    assert data.X_train.dtype == data.y_train.dtype == torch.float32
    assert data.feature_names == ("x1", "x2") and data.target_name == "y"
    assert not data.is_classification and data.num_outputs == 1 and data.input_shape == (2,)
    wide = datasets.synthetic(w=(1.0, 2.0, 3.0), num_train=50, num_val=20)
    assert wide.X_train.shape == (50, 3) and wide.X_val.shape == (20, 3) and wide.y_val.shape == (20, 1)


@pytest.mark.parametrize("noise", [0.01, 0.5])
def test_synthetic_targets_are_a_linear_function_plus_noise(noise):
    data = datasets.synthetic(w=(2.0, -3.4), b=4.2, noise=noise, num_train=2000, num_val=2000)
    w = torch.tensor([[2.0], [-3.4]])
    for X, y in ((data.X_train, data.y_train), (data.X_val, data.y_val)):
        residual = y - (X @ w + 4.2)
        assert float(residual.std()) == pytest.approx(noise, rel=0.1)
        assert abs(float(residual.mean())) < 4 * noise / len(X) ** 0.5
        assert float(X.mean()) == pytest.approx(0, abs=0.1) and float(X.std()) == pytest.approx(1, abs=0.1)


def test_synthetic_data_follows_its_seed():
    a, b, c = datasets.synthetic(seed=1), datasets.synthetic(seed=1), datasets.synthetic(seed=2)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.X_train, c.X_train)


def test_load_passes_options_to_the_table_sets():
    data = datasets.load("synthetic", w=(1.0,), b=0.0, noise=0.0, num_train=10, num_val=5, seed=3)
    assert data.X_train.shape == (10, 1) and data.X_val.shape == (5, 1)
    torch.testing.assert_close(data.y_train, data.X_train)
    assert torch.equal(datasets.load("exam", seed=3).X_train, datasets.exam_scores(seed=3).X_train)


# --- Exam scores ------------------------------------------------------------------------------


def test_exam_scores_have_200_rows_of_sleep_and_study():
    data = datasets.exam_scores()
    assert data.X_train.shape == (160, 2) and data.y_train.shape == (160, 1)
    assert data.X_val.shape == (40, 2) and data.y_val.shape == (40, 1)
    sleep, study = data.feature_names
    assert "sleep" in sleep and "study" in study
    assert "score" in data.target_name
    assert not data.is_classification


@pytest.mark.parametrize(
    ("low", "high", "rows", "sleep", "study"),
    [
        (80, 100, 80, 8, 8),  # slept and studied
        (55, 65, 30, 12, 2),  # slept without studying
        (65, 72.5, 30, 2, 12),  # studied without sleeping
        (72.5, 80, 30, 6, 6),  # a bit of both
        (0, 55, 30, 2, 2),  # neither
    ],
)
def test_exam_scenarios_are_recognisable(low, high, rows, sleep, study):
    data = datasets.exam_scores()
    X, y = torch.cat([data.X_train, data.X_val]), torch.cat([data.y_train, data.y_val])[:, 0]
    group = X[(y > low) & (y <= high)]
    assert abs(len(group) - rows) <= 2
    assert float(group[:, 0].mean()) == pytest.approx(sleep, abs=0.6)
    assert float(group[:, 1].mean()) == pytest.approx(study, abs=0.8)


def test_exam_scores_follow_their_seed():
    a, b, c = datasets.exam_scores(0), datasets.exam_scores(0), datasets.exam_scores(1)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.X_train, c.X_train)


def test_table_is_a_dataframe_of_every_row():
    data = datasets.exam_scores()
    frame = datasets.table(data)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 200
    assert list(frame.columns) == [*data.feature_names, data.target_name, "split"]
    assert (frame["split"] == "train").sum() == 160 and (frame["split"] == "validation").sum() == 40
    np.testing.assert_allclose(frame[data.feature_names[0]].to_numpy()[:160], data.X_train[:, 0].numpy())
    np.testing.assert_allclose(frame[data.target_name].to_numpy()[160:], data.y_val[:, 0].numpy())
    assert len(datasets.table(datasets.synthetic())) == 2000


# --- Fashion-MNIST, the real one ----------------------------------------------------------------


def test_fashion_mnist_loads_as_float_images_and_int_labels(fashion):
    assert fashion.name == "fashion_mnist"
    assert fashion.X_train.shape == (60_000, 1, 28, 28) and fashion.X_train.dtype == torch.float32
    assert fashion.X_val.shape == (10_000, 1, 28, 28) and fashion.X_val.dtype == torch.float32
    assert fashion.y_train.shape == (60_000,) and fashion.y_train.dtype == torch.int64
    assert fashion.y_val.shape == (10_000,) and fashion.y_val.dtype == torch.int64
    assert float(fashion.X_train.min()) == 0.0 and float(fashion.X_train.max()) == 1.0
    assert 0.2 < float(fashion.X_train[:1000].mean()) < 0.4
    assert len(fashion.classes) == 10 and fashion.classes[0] == "T-shirt/top" and fashion.classes[9] == "Ankle boot"
    assert torch.equal(fashion.y_train.unique(), torch.arange(10))
    assert fashion.is_classification and fashion.num_outputs == 10
    assert fashion.input_shape == (1, 28, 28) and fashion.num_inputs == 784
    assert fashion.X_train.device == torch.device("cpu")


def test_a_second_load_is_the_cached_object(fashion):
    first = datasets.load("fashion_mnist")
    started = time.perf_counter()
    second = datasets.load("fashion_mnist", device=torch.device("cpu"))
    assert time.perf_counter() - started < 0.1
    assert second is first


def test_fashion_mnist_status_is_ready(fashion):
    st = datasets.status("fashion_mnist")
    assert st.available and st.how_to_get == "" and st.title == "Fashion-MNIST"


def test_head_takes_the_first_examples(fashion):
    part = fashion.head(5, 3)
    assert part.X_train.shape == (5, 1, 28, 28) and part.X_val.shape == (3, 1, 28, 28)
    assert torch.equal(part.y_train, fashion.y_train[:5]) and part.classes == fashion.classes
    assert fashion.head(7).X_val.shape[0] == 7


def test_image_sets_take_no_options():
    with pytest.raises(ValueError, match="takes no options"):
        datasets.load("fashion_mnist", seed=1)


def test_unknown_datasets_name_the_choices():
    for call in (datasets.status, datasets.load):
        with pytest.raises(
            ValueError, match="unknown dataset 'imagenet'; choose one of: fashion_mnist, mnist, cifar10"
        ):
            call("imagenet")


# --- MNIST and CIFAR-10 in a data folder of our own ----------------------------------------------


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An empty data folder as DASHBOARD_DATA, with the image caches cleared before and after."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("DASHBOARD_DATA", str(root))
    datasets._load_images_cpu.cache_clear()
    datasets._load_images_on.cache_clear()
    yield root
    datasets._load_images_cpu.cache_clear()
    datasets._load_images_on.cache_clear()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file as LeCun's MNIST uses it: magic 2049 (labels) or 2051 (images), big-endian sizes, uint8 data."""
    assert array.dtype == np.uint8
    magic = 0x0800 + array.ndim  # 0x08: unsigned bytes; then the number of dimensions
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def mnist_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.array([5, 0, 4, 1, 9, 2], dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([7, 2, 1, 0], dtype=np.uint8),
    }


def write_idx_files(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        (folder / name).write_bytes(idx_bytes(array))


def test_idx_header_is_the_real_one():
    assert idx_bytes(np.zeros((2, 28, 28), np.uint8))[:16] == bytes.fromhex("00000803 00000002 0000001c 0000001c")
    assert idx_bytes(np.zeros(3, np.uint8))[:8] == (2049).to_bytes(4, "big") + (3).to_bytes(4, "big")


def test_missing_datasets_say_how_to_get_them(data_root):
    for key, title in (("mnist", "MNIST"), ("cifar10", "CIFAR-10")):
        st = datasets.status(key)
        assert not st.available and st.title == title
        assert f"download('{key}')" in st.how_to_get and str(data_root) in st.how_to_get
        with pytest.raises(datasets.DatasetUnavailable, match=f"{title} is not available here"):
            datasets.load(key)
    assert [st.key for st in datasets.all_status() if st.available] == ["synthetic", "exam"]


def test_missing_datasets_do_not_break_fashion_mnist(data_root, fashion):
    # the folder holds the real Fashion-MNIST (linked in), but neither MNIST nor CIFAR-10
    (data_root / "FashionMNIST").symlink_to(REAL_DATA_DIR / "FashionMNIST", target_is_directory=True)
    assert not datasets.status("mnist").available and not datasets.status("cifar10").available
    with pytest.raises(datasets.DatasetUnavailable):
        datasets.load("mnist")
    assert datasets.status("fashion_mnist").available
    assert torch.equal(datasets.load("fashion_mnist").y_val, fashion.y_val)


def test_mnist_idx_files_load_with_the_right_values(data_root):
    arrays = mnist_arrays()
    write_idx_files(data_root / "MNIST" / "raw", arrays)
    st = datasets.status("mnist")
    assert st.available and st.how_to_get == ""
    data = datasets.load("mnist")
    assert data.name == "mnist"
    assert data.X_train.shape == (6, 1, 28, 28) and data.X_val.shape == (4, 1, 28, 28)
    assert data.X_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float().div(255).unsqueeze(1)
    torch.testing.assert_close(data.X_train, expected, rtol=0, atol=0)
    assert float(data.X_val[1, 0, 3, 5]) == pytest.approx(arrays["t10k-images-idx3-ubyte"][1, 3, 5] / 255)
    assert data.y_train.tolist() == [5, 0, 4, 1, 9, 2] and data.y_val.tolist() == [7, 2, 1, 0]
    assert data.classes[0] == "0 - zero" and len(data.classes) == 10
    assert datasets.load("mnist") is data


def cifar_files(root: Path, seed: int = 0) -> tuple[np.ndarray, list[int], np.ndarray, list[int]]:
    """CIFAR-10's python pickles (5 training batches, a test batch, batches.meta) with a few images each."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    batches = {f"data_batch_{i}": 2 for i in range(1, 6)} | {"test_batch": 3}
    contents = {}
    all_labels = iter([3, 5, 0, 1, 3, 5, 2, 4, 6, 7, 3, 5, 9])  # 3 = cat, 5 = dog
    for name, n in batches.items():
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)  # each row: 1024 red, 1024 green, 1024 blue
        labels = [next(all_labels) for _ in range(n)]
        contents[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels, "filenames": [b"x.png"] * n}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": 2, "num_vis": 3072}, f)
    train = [contents[f"data_batch_{i}"] for i in range(1, 6)]
    X_train = np.concatenate([d for d, _ in train])
    y_train = [label for _, labels in train for label in labels]
    return X_train, y_train, *contents["test_batch"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def cifar_checksums(monkeypatch):
    """torchvision checks CIFAR-10's files against the real md5s; these make it check ours instead."""
    import torchvision.datasets

    def accept(folder: Path) -> None:
        cls = torchvision.datasets.CIFAR10
        monkeypatch.setattr(
            cls, "train_list", [[f"data_batch_{i}", md5(folder / f"data_batch_{i}")] for i in range(1, 6)]
        )
        monkeypatch.setattr(cls, "test_list", [["test_batch", md5(folder / "test_batch")]])
        meta = {"filename": "batches.meta", "key": "label_names", "md5": md5(folder / "batches.meta")}
        monkeypatch.setattr(cls, "meta", meta)

    return accept


def test_cifar10_pickles_load_with_channels_in_order(data_root, cifar_checksums):
    X_train, y_train, X_val, y_val = cifar_files(data_root)
    assert not datasets.status("cifar10").available, "the real md5s do not match our files"
    cifar_checksums(data_root / "cifar-10-batches-py")
    assert datasets.status("cifar10").available
    data = datasets.load("cifar10")
    assert data.X_train.shape == (10, 3, 32, 32) and data.X_val.shape == (3, 3, 32, 32)
    assert data.X_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.y_train.tolist() == y_train and data.y_val.tolist() == y_val
    assert data.classes[0] == "airplane" and data.classes[9] == "truck"
    assert data.input_shape == (3, 32, 32) and data.num_inputs == 3072
    # one pixel: image 4, row 5, column 7 is stored at offsets 5 * 32 + 7 of the red, green and blue planes
    offset = 5 * 32 + 7
    rgb = [X_train[4, offset], X_train[4, 1024 + offset], X_train[4, 2048 + offset]]
    assert (data.X_train[4, :, 5, 7] * 255).round().tolist() == [float(v) for v in rgb]
    expected = torch.from_numpy(X_val.reshape(3, 3, 32, 32)).float().div(255)
    torch.testing.assert_close(data.X_val, expected, rtol=0, atol=0)
    assert data.X_train.is_contiguous()


# --- Importing Debian's Fashion-MNIST ------------------------------------------------------------


DEBIAN_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def write_debian_files(source: Path, names=DEBIAN_FILES) -> dict[str, np.ndarray]:
    arrays = mnist_arrays(seed=7)
    source.mkdir(parents=True, exist_ok=True)
    for name in names:
        (source / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(arrays[name])))
    return arrays


def test_import_debian_fashion_mnist_decompresses_into_place(data_root, tmp_path):
    source = tmp_path / "debian"
    arrays = write_debian_files(source)
    assert not datasets.status("fashion_mnist").available
    assert datasets.import_debian_fashion_mnist(source=source) is True
    raw = data_root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(DEBIAN_FILES), "no .partial file is left behind"
    for name in DEBIAN_FILES:
        assert (raw / name).read_bytes() == idx_bytes(arrays[name])
    assert datasets.status("fashion_mnist").available
    data = datasets.load("fashion_mnist")
    assert data.X_train.shape == (6, 1, 28, 28) and data.y_val.tolist() == [7, 2, 1, 0]
    assert data.classes[0] == "T-shirt/top"


def test_import_debian_fashion_mnist_keeps_files_already_there(data_root, tmp_path):
    source = tmp_path / "debian"
    write_debian_files(source)
    raw = data_root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"already here")
    assert datasets.import_debian_fashion_mnist(source=source) is True
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == b"already here"


def test_import_debian_fashion_mnist_without_the_files_changes_nothing(data_root, tmp_path):
    source = tmp_path / "debian"
    write_debian_files(source, DEBIAN_FILES[:3])
    assert datasets.import_debian_fashion_mnist(source=source) is False
    assert datasets.import_debian_fashion_mnist(source=tmp_path / "nowhere") is False
    assert not (data_root / "FashionMNIST").exists()


def test_cifar10_cat_dog_neither_keeps_cats_dogs_and_as_many_others(data_root, cifar_checksums):
    X_train, y_train, _, _ = cifar_files(data_root)
    assert not datasets.status("cifar10_catdog").available
    cifar_checksums(data_root / "cifar-10-batches-py")
    assert datasets.status("cifar10_catdog").available
    data = datasets.load("cifar10_catdog")
    assert data.classes == ("cat", "dog", "neither")
    assert data.X_train.shape == (6, 3, 32, 32) and data.X_val.shape == (3, 3, 32, 32)
    assert torch.bincount(data.y_train, minlength=3).tolist() == [2, 2, 2]
    assert sorted(data.y_val.tolist()) == [0, 1, 2]
    cifar = torch.from_numpy(X_train).float().div(255)
    for image, label in zip(data.X_train, data.y_train.tolist()):
        source = int((cifar == image.reshape(1, -1)).all(dim=1).nonzero()[0])  # the CIFAR-10 image it came from
        assert label == {3: 0, 5: 1}.get(y_train[source], 2)


def test_a_slice_sent_to_a_trainer_carries_only_its_own_images(fashion):
    """CI lost runs to "the local object store is full": 2,000 images of Fashion-MNIST (`head`, a view) pickled as
    all 70,000 (220 MB, more than Ray's 200 MB object store), and with the disk over 95% Ray could not spill it."""
    small = fashion.head(2000, 500)
    assert len(pickle.dumps(small)) > 100e6, "a view pickles its whole storage: what compact() is for"
    compact = small.compact()
    assert len(pickle.dumps(compact)) < 10e6
    assert torch.equal(compact.X_train, small.X_train) and torch.equal(compact.y_val, small.y_val)
    assert fashion.compact().X_train is fashion.X_train, "a dataset that owns its storage is not copied"
