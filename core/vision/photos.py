"""Uploaded photos decoded safely: bytes and a file name in, an 8-bit RGB image or a clear error out.

`decode_photo` never raises for bad input. It reads the formats a browser shows (JPEG, PNG, WebP,
GIF, BMP) and refuses empty or oversized files, files that are not images, truncated or corrupt
ones (never half an image), and decompression bombs: the pixel count is read from the header and
checked before a single pixel is decoded. What it keeps it brings to 8-bit RGB: EXIF orientation
applied (as a phone shows the photo), transparency composited on white, 16-bit grayscale scaled to
8 bits (not clipped to white), CMYK converted, and only the first frame of an animation. Each such
change is a sentence in `Photo.notes`, for the page to show next to the verdict.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_MB = 20  # the largest photo, in MB of 10^6 bytes as Streamlit's uploader counts them (the page sets it)
MAX_MEGAPIXELS = 40  # 40 MP decode to 120 MB of RGB; larger images are refused from their header alone
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
TINY_SIDE = 32  # a photo narrower than this is still classified, with a warning


@dataclass(frozen=True)
class Photo:
    """One decoded upload: `image` (8-bit RGB) when it worked, else `error`, a sentence for the user."""

    name: str
    image: Image.Image | None
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def _refused(name: str, message: str) -> Photo:
    return Photo(name, None, f"{name}: {message}")


def decode_photo(data: bytes, name: str = "photo") -> Photo:
    """Decode one uploaded file; any problem comes back as `Photo.error`, never as an exception."""
    if not data:
        return _refused(name, "the file is empty (0 bytes).")
    if len(data) > MAX_UPLOAD_MB * 10**6:
        return _refused(name, f"the file is {len(data) / 10**6:.1f} MB; the limit is {MAX_UPLOAD_MB} MB.")
    try:
        # Image.open reads the header only; PIL itself refuses sizes past twice its own limit (179 MP).
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _refused(name, f"far more than {MAX_MEGAPIXELS} megapixels; refused as a possible decompression bomb.")
    except UnidentifiedImageError:
        return _refused(name, "not an image, or not one in a format we read (JPEG, PNG, WebP, GIF, BMP).")
    except Exception as e:  # a header broken in a way PIL reports otherwise
        return _refused(name, f"not an image we can read ({e}).")
    width, height = img.size
    if width * height > MAX_MEGAPIXELS * 10**6:
        return _refused(
            name,
            f"{width}x{height} pixels is {width * height / 1e6:.0f} megapixels; the limit is {MAX_MEGAPIXELS}, "
            "so it was refused before decoding (a possible decompression bomb).",
        )
    notes: list[str] = []
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)
            notes.append("Animated image: only its first frame is classified.")
        # With PIL's default ImageFile.LOAD_TRUNCATED_IMAGES = False, a cut-short file raises here.
        img.load()
    except Exception:
        return _refused(name, "the file is damaged or cut short (truncated); its pixels could not be decoded.")
    try:
        img = _to_rgb(_upright(img, notes), notes)
    except Exception as e:  # an odd mode PIL cannot convert; the promise is no exception
        return _refused(name, f"the image could not be converted to RGB ({e}).")
    if min(img.size) < TINY_SIDE:
        notes.append(f"Tiny image ({img.width}x{img.height} pixels): it is enlarged for the model, so trust it little.")
    return Photo(name, img, None, tuple(notes))


def _upright(img: Image.Image, notes: list[str]) -> Image.Image:
    """Apply the EXIF orientation tag, so width and height are as the camera's owner saw them."""
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        upright = ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF should not cost the photo
        notes.append("Its EXIF data is unreadable, so any rotation it asks for was not applied.")
        return img
    if orientation in range(2, 9):
        notes.append(f"Turned upright as its EXIF orientation tag ({orientation}) asks.")
    return upright


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    if img.mode.startswith("I"):
        # 16-bit grayscale PNGs (mode I;16 or I) hold 0..65535; convert("L") would clip all above 255
        # to white, so scale: 65535 / 257 = 255.
        levels = np.asarray(img, dtype=np.float64) / 257
        img = Image.fromarray(np.clip(levels.round(), 0, 255).astype(np.uint8))
        notes.append("16-bit grayscale: scaled to 8 bits.")
    elif img.mode == "CMYK":
        notes.append("CMYK colours: converted to RGB.")
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:  # some pixel really is see-through
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, rgba)
            notes.append("Transparent parts: shown on white.")
        else:
            img = rgba
    return img.convert("RGB")
