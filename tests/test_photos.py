"""Decoding uploads: every kind of bad file gets a message and no exception, odd good ones still classify.

Each file is built in memory from chelsea the cat (scikit-image) or by hand, as a user might upload
it: renamed text, empty, truncated, a decompression bomb, animated, transparent, grayscale, 16-bit,
CMYK, EXIF-rotated, one pixel. Where the image survives, EfficientNet-Lite0 must still call the cat.
"""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
import skimage.data
from PIL import Image

from core.models.pretrained import classify, load_classifier
from core.vision.photos import MAX_MEGAPIXELS, MAX_UPLOAD_MB, decode_photo


@pytest.fixture(scope="module")
def clf():
    return load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    return Image.fromarray(skimage.data.chelsea())  # 451x300 RGB


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height 1-bit pixels but holds one byte of data: a bomb in 60 bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_each_format_decodes_to_rgb(chelsea, fmt):
    photo = decode_photo(encode(chelsea, fmt), f"chelsea.{fmt.lower()}")
    assert photo.ok and photo.error is None and photo.notes == ()
    assert photo.image.mode == "RGB" and photo.image.size == chelsea.size


def test_text_renamed_jpg_is_not_an_image():
    photo = decode_photo(b"Dear diary, today I saw a cat.\n" * 10, "diary.jpg")
    assert photo.image is None and "not an image" in photo.error and "diary.jpg" in photo.error


def test_empty_file():
    photo = decode_photo(b"", "empty.png")
    assert photo.image is None and "empty" in photo.error


def test_too_large_file():
    photo = decode_photo(b"\xff" * (MAX_UPLOAD_MB * 10**6 + 1), "huge.jpg")  # 1 byte past what the uploader takes
    assert photo.image is None and f"limit is {MAX_UPLOAD_MB} MB" in photo.error


def test_truncated_jpeg_is_refused(chelsea):
    data = encode(chelsea, "JPEG", quality=90)
    photo = decode_photo(data[: len(data) // 2], "half.jpg")
    assert photo.image is None and "truncated" in photo.error


def test_truncated_png_is_refused(chelsea):
    data = encode(chelsea, "PNG")
    photo = decode_photo(data[: len(data) // 2], "half.png")
    assert photo.image is None and "truncated" in photo.error


@pytest.mark.parametrize("side", [8_000, 30_000])  # 64 MP: over our limit; 900 MP: over PIL's own too
def test_decompression_bomb_is_refused_unread(side):
    data = png_header_only(side, side)
    assert len(data) < 100
    photo = decode_photo(data, "bomb.png")
    assert photo.image is None and f"{MAX_MEGAPIXELS}" in photo.error and "decompression bomb" in photo.error


def test_animated_gif_uses_first_frame(clf, chelsea):
    frames = [chelsea, Image.new("RGB", chelsea.size, "blue"), Image.new("RGB", chelsea.size, "red")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    photo = decode_photo(data, "anim.gif")
    assert photo.ok and any("first frame" in note for note in photo.notes)
    assert mean_abs_diff(photo.image, chelsea) < 20  # the cat, not a blue or red frame (GIF has 256 colours)
    assert classify(clf, photo.image).label == "cat"


def test_png_alpha_is_composited_on_white(chelsea):
    rgba = chelsea.convert("RGBA")
    alpha = Image.new("L", chelsea.size, 255)
    alpha.paste(0, (0, 0, 100, 100))  # the top-left corner fully see-through
    rgba.putalpha(alpha)
    photo = decode_photo(encode(rgba, "PNG"), "cutout.png")
    assert photo.ok and any("white" in note for note in photo.notes)
    assert photo.image.getpixel((10, 10)) == (255, 255, 255)
    assert photo.image.getpixel((300, 200)) == chelsea.getpixel((300, 200))


def test_opaque_rgba_png_says_nothing_of_transparency(chelsea):
    photo = decode_photo(encode(chelsea.convert("RGBA"), "PNG"), "opaque.png")
    assert photo.ok and photo.notes == () and photo.image.tobytes() == chelsea.tobytes()


def test_grayscale_png(clf, chelsea):
    gray = chelsea.convert("L")
    photo = decode_photo(encode(gray, "PNG"), "gray.png")
    assert photo.ok and photo.image.mode == "RGB"
    assert photo.image.getchannel("G").tobytes() == gray.tobytes()
    assert classify(clf, photo.image).label == "cat"


def test_16_bit_png_is_scaled_not_clipped(clf, chelsea):
    gray = np.asarray(chelsea.convert("L"))
    img16 = Image.fromarray(gray.astype(np.uint16) * 257)  # 0..255 -> 0..65535, mode I;16
    assert img16.mode == "I;16"
    photo = decode_photo(encode(img16, "PNG"), "sixteen.png")
    assert photo.ok and any("16-bit" in note for note in photo.notes)
    assert np.array_equal(np.asarray(photo.image.getchannel("R")), gray)  # clipping would make it all white
    assert classify(clf, photo.image).label == "cat"


def test_cmyk_jpeg_becomes_rgb(clf, chelsea):
    photo = decode_photo(encode(chelsea.convert("CMYK"), "JPEG", quality=95), "print.jpg")
    assert photo.ok and photo.image.mode == "RGB" and any("CMYK" in note for note in photo.notes)
    assert mean_abs_diff(photo.image, chelsea) < 8  # colours right, not inverted
    assert classify(clf, photo.image).label == "cat"


@pytest.mark.parametrize(
    "orientation, stored_turn", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)], ids=["6", "8"]
)
def test_exif_orientation_is_applied(clf, chelsea, orientation, stored_turn):
    # A phone held sideways stores the pixels turned and a tag saying how to turn them back.
    stored = chelsea.transpose(stored_turn)  # 300x451
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = decode_photo(encode(stored, "JPEG", quality=95, exif=exif), "phone.jpg")
    assert photo.ok and stored.size == (300, 451) and photo.image.size == (451, 300)
    assert mean_abs_diff(photo.image, chelsea) < 8  # upright again, not upside down
    assert any("EXIF" in note for note in photo.notes)
    assert classify(clf, photo.image).label == "cat"


def test_one_pixel_png_is_valid(clf):
    photo = decode_photo(encode(Image.new("RGB", (1, 1), (200, 120, 40)), "PNG"), "dot.png")
    assert photo.ok and photo.image.size == (1, 1) and any("Tiny" in note for note in photo.notes)
    verdict = classify(clf, photo.image)
    assert verdict.label in ("cat", "dog", "neither")
    assert verdict.p_cat + verdict.p_dog + verdict.p_neither == pytest.approx(1, abs=1e-5)


def test_thin_panorama_is_classified_quickly(clf):
    photo = decode_photo(encode(Image.new("RGB", (40_000, 1), "gray"), "PNG"), "strip.png")
    assert photo.ok and any("Tiny" in note for note in photo.notes)
    start = time.perf_counter()
    classify(clf, photo.image)  # resized whole, it would be 256 x 10 million pixels
    assert time.perf_counter() - start < 5


def test_photo_is_frozen(chelsea):
    photo = decode_photo(encode(chelsea, "PNG"), "c.png")
    with pytest.raises(AttributeError):
        photo.name = "other"
