"""Real photos to teach cat / dog / neither from, offline: scikit-image's data and Debian darknet's data folder.

There is one real cat (chelsea) and one real dog (darknet's dog.jpg, with the dog cut out by hand as a
second photo), so the cat and dog classes are filled up with augmented views of those photos (a crop,
a mirror image, other colours: `core.vision.transfer.augmented_view`); the neither class is all real photos.
Each test that uses them says so. Files come as (name, bytes), as the uploader hands them over.
"""

from __future__ import annotations

import io

import skimage.data
from needs import require
from PIL import Image

from core import datasets
from core.vision import transfer

DARKNET = datasets.data_dir() / "photos"  # dog.jpg, person.jpg, horses.jpg, extracted by .ci/setup
DOG_BOX = (120, 210, 330, 550)  # darknet's dog.jpg (768x576): the dog, marked by hand (left, top, right, bottom)
CHELSEA_CAT_BOX = (30, 0, 375, 300)  # chelsea (451x300): the cat's head and chest, marked by hand


def encoded(img: Image.Image, name: str) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG" if name.endswith(".jpg") else "PNG", quality=92)
    return name, buffer.getvalue()


def darknet(name: str) -> Image.Image:
    path = DARKNET / f"{name}.jpg"
    require(path.exists(), f"{path} is missing; .ci/setup extracts it from Debian's darknet package")
    return Image.open(path).convert("RGB")


def chelsea() -> Image.Image:
    return Image.fromarray(skimage.data.chelsea())


def views(img: Image.Image, count: int, first_seed: int, stem: str) -> list[tuple[str, bytes]]:
    """`count` augmented views of a photo (filling a class that has too few real photos)."""
    square = transfer.shrink(img)
    return [encoded(transfer.augmented_view(square, first_seed + k), f"{stem}-view{k}.png") for k in range(count)]


def neither() -> list[tuple[str, bytes]]:
    """Eight real photos of neither a cat nor a dog."""
    pictures = {
        "astronaut.png": skimage.data.astronaut(),
        "coffee.png": skimage.data.coffee(),
        "rocket.jpg": skimage.data.rocket(),
        "brick.png": skimage.data.brick(),
        "hubble.jpg": skimage.data.hubble_deep_field(),
        "retina.jpg": skimage.data.retina(),
    }
    files = [encoded(Image.fromarray(a).convert("RGB"), name) for name, a in pictures.items()]
    return files + [encoded(darknet(name), f"{name}.jpg") for name in ("person", "horses")]


def teaching_set(per_class: int = 8) -> dict[str, list[tuple[str, bytes]]]:
    """cat, dog and neither, `per_class` files each (cat and dog: real photos, then augmented views of them)."""
    dog = darknet("dog")
    cats = [encoded(chelsea(), "chelsea.png"), *views(chelsea(), per_class - 1, 0, "chelsea")]
    dogs = [encoded(dog, "dog.jpg"), encoded(dog.crop(DOG_BOX), "dog-cut-out.jpg")]
    dogs += views(dog.crop(DOG_BOX), per_class - 2, 100, "dog")
    return {"cat": cats, "dog": dogs, "neither": neither()[:per_class]}
