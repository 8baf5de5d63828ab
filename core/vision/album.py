"""A student's own photos, by class, for the Teach your own page: kept in the run store, features as tensors.

An `Album` belongs to one owner (a browser, as runs do). Its classes default to cat, dog and neither,
and can be renamed, added (up to 5) and removed (down to 2). A photo arrives decoded
(`core.vision.photos.decode_photo`), is shrunk once to its 256x256 centre square (`core.vision.transfer.shrink`) and
is kept three ways: as a JPEG in the store (thumbnails, augmented views), as its EfficientNet-Lite0
feature vector and as a 64x64 picture for a network trained from scratch. The last two are also held
in memory as tensors, so that 1,000 photos a class cost 15 MB + 37 MB there, never the photos
themselves. `split` holds out 15% of each class (at least one photo) for validation, chosen by a hash
of each photo's id, so the same photos stay held out as more arrive; `features_data` and `images_data`
make the two datasets training takes. `Albums` keeps the albums of the latest owners open.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from sqlalchemy import (
    JSON,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from core.datasets import PHOTO_FEATURES, PHOTOS, Data
from core.runs.store import Store, guarded
from core.vision import transfer
from core.vision.photos import decode_photo

# in the run store, made by the first album a server opens: each owner's class names, and each photo three ways
meta = MetaData()
albums = Table("albums", meta, Column("owner", String(64), primary_key=True), Column("classes", JSON, nullable=False))
photos = Table(
    "photos",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(64), index=True, nullable=False),
    Column("label", Integer, nullable=False),  # the class's position in the owner's album
    Column("name", String(255), nullable=False),
    Column("jpeg", LargeBinary, nullable=False),  # the 256x256 centre square (thumbnails, augmented views)
    Column("features", LargeBinary, nullable=False),  # float32 (1280,): EfficientNet-Lite0's features
    Column("small", LargeBinary, nullable=False),  # uint8 (3, 64, 64): for a network from scratch
    Column("created", Float, nullable=False),
    sqlite_autoincrement=True,
)

DEFAULT_CLASSES = ("cat", "dog", "neither")
MIN_CLASSES, MAX_CLASSES = 2, 5
MIN_PER_CLASS = 5  # fewer, and 15% held out leaves a class one or two photos to learn from
MAX_PER_CLASS = 1000
MAX_NAME = 40
SMALL = 64  # the side of the pictures a network from scratch trains on
VAL_SHARE = 0.15
JPEG_QUALITY = 90


class AlbumError(ValueError):
    """A change the album refuses (a name taken, too many classes...); the message says why."""


def _small(square: Image.Image) -> torch.Tensor:
    """The 256x256 square -> (3, 64, 64) uint8."""
    pic = square.resize((SMALL, SMALL), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return torch.from_numpy(np.asarray(pic).copy()).permute(2, 0, 1).contiguous()


def _jpeg(square: Image.Image) -> bytes:
    buffer = io.BytesIO()
    square.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class Album:
    """One owner's classes and photos; every method is safe to call from several sessions of that owner."""

    def __init__(self, store: Store, owner: str):
        self.store, self.owner = store, owner
        self._lock = threading.RLock()
        self.classes: list[str] = list(DEFAULT_CLASSES)
        self.ids: list[int] = []  # the store's photo ids, oldest first
        self.labels: list[int] = []  # each photo's class
        self.names: list[str] = []  # each photo's file name
        self.features = torch.empty(0, transfer.NUM_FEATURES)  # (n, 1280)
        self.small = torch.empty(0, 3, SMALL, SMALL, dtype=torch.uint8)  # (n, 3, 64, 64)
        self._views: dict[tuple[int, int, int], torch.Tensor] = {}  # (id, views, seed) -> (views, 1280)
        self._hashes: dict[int, int] = {}  # photo id -> content hash, for the split
        self._thumbs: dict[int, bytes] = {}  # id -> a 96x96 JPEG, made when first shown
        self.version = 0  # counts the changes: the pages key what they compute from the album by it
        self._unsaved: dict[int, bytes] = {}  # photos the store failed to write: kept in memory, negative ids
        self._memory_ids = itertools.count(-1, -1)
        self.unsaved_why: str | None = None  # the store's sentence when it last refused photos
        self._load()

    @property
    def problem(self) -> str | None:  # `guarded` sets the store's: one sentence for runs and photos alike
        return self.store.problem

    def _transaction(self):
        self.store.create_tables(meta)  # a no-op once made; made here too if the store was down at `_load`
        return self.store.transaction()

    @guarded(None)
    def _load(self) -> None:
        self.store.create_tables(meta)
        with self.store.engine.connect() as conn:
            classes = conn.execute(select(albums.c.classes).where(albums.c.owner == self.owner)).scalar()
            query = select(photos.c.id, photos.c.label, photos.c.name, photos.c.features, photos.c.small)
            rows = conn.execute(query.where(photos.c.owner == self.owner).order_by(photos.c.id)).all()
        if classes:
            self.classes = list(classes)
        rows = [r for r in rows if r.label < len(self.classes)]
        self.ids, self.labels, self.names = [r.id for r in rows], [r.label for r in rows], [r.name for r in rows]
        if rows:
            self.features = torch.stack([torch.frombuffer(bytearray(r.features), dtype=torch.float32) for r in rows])
            self.small = torch.stack(
                [torch.frombuffer(bytearray(r.small), dtype=torch.uint8).reshape(3, SMALL, SMALL) for r in rows]
            )

    # --- classes -------------------------------------------------------------------------

    def _checked_name(self, name: str, label: int | None = None) -> str:
        name = " ".join(str(name).split())
        if not name:
            raise AlbumError("A class needs a name.")
        if len(name) > MAX_NAME:
            raise AlbumError(f"A class name has at most {MAX_NAME} characters.")
        if not name.isprintable():  # a NUL broke the downloaded predict.py ("source code cannot contain null bytes")
            raise AlbumError("A class name cannot hold control characters (such as NUL); use letters and signs.")
        if any(c.lower() == name.lower() for i, c in enumerate(self.classes) if i != label):
            raise AlbumError(f"There is a class called {name!r} already: each class needs its own name.")
        return name

    def rename(self, label: int, name: str) -> None:
        with self._lock:
            self.classes[label] = self._checked_name(name, label)
            self.version += 1
            self._save_classes()

    def add_class(self, name: str) -> None:
        with self._lock:
            if len(self.classes) >= MAX_CLASSES:
                raise AlbumError(f"At most {MAX_CLASSES} classes.")
            self.classes.append(self._checked_name(name))
            self.version += 1
            self._save_classes()

    def remove_class(self, label: int) -> None:
        """Delete a class with its photos; the classes after it move up one place."""
        with self._lock:
            if len(self.classes) <= MIN_CLASSES:
                raise AlbumError(f"A model needs at least {MIN_CLASSES} classes to choose from.")
            self.remove([i for i, y in zip(self.ids, self.labels) if y == label])
            del self.classes[label]
            self.labels = [y - (y > label) for y in self.labels]
            self._save_classes(shift_from=label)

    @guarded(None)
    def _save_classes(self, shift_from: int | None = None) -> None:
        with self._transaction() as conn:
            conn.execute(delete(albums).where(albums.c.owner == self.owner))
            conn.execute(insert(albums).values(owner=self.owner, classes=self.classes))
            if shift_from is not None:
                mine = photos.c.owner == self.owner
                conn.execute(update(photos).where(mine, photos.c.label > shift_from).values(label=photos.c.label - 1))

    # --- photos --------------------------------------------------------------------------

    def counts(self) -> list[int]:
        return [self.labels.count(k) for k in range(len(self.classes))]

    def photo_ids(self, label: int) -> list[int]:
        return [i for i, y in zip(self.ids, self.labels) if y == label]

    def add(
        self,
        label: int,
        files: Sequence[tuple[str, bytes]],
        backbone: transfer.Backbone,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[int, list[str]]:
        """Add uploaded files (name, bytes) to a class: (how many were added, a sentence per file refused).

        Each file is decoded (`decode_photo`) and shrunk at once, so a drop of 200 twelve-megapixel photos
        holds one batch of full-size images at a time, never all of them."""
        refused: list[str] = []
        self.save_unsaved()  # photos a full disk refused before go in first, so a drop never overtakes them
        room = MAX_PER_CLASS - self.counts()[label]
        if len(files) > room:
            refused.append(f"{len(files) - max(room, 0)} photo(s) left out: a class holds at most {MAX_PER_CLASS}.")
            files = files[: max(room, 0)]
        done = late = 0
        for start in range(0, len(files), transfer.BATCH):
            names, squares = [], []
            for name, raw in files[start : start + transfer.BATCH]:
                photo = decode_photo(raw, name)
                if photo.ok:
                    names.append(name)
                    squares.append(transfer.shrink(photo.image))
                else:
                    refused.append(photo.error)
            if squares:
                feats = transfer.embed(backbone, squares)  # (b, 1280)
                smalls = [_small(sq) for sq in squares]
                with self._lock:  # the room counted again for each batch: two tabs dropping at once share it
                    room = max(MAX_PER_CLASS - self.labels.count(label), 0)
                    late += max(len(squares) - room, 0)
                    names, squares, feats, smalls = names[:room], squares[:room], feats[:room], smalls[:room]
                    if squares:
                        ids = self._insert(label, names, [_jpeg(sq) for sq in squares], feats, smalls)
                        self.ids += ids
                        self.labels += [label] * len(ids)
                        self.names += [name[:255] for name in names]
                        self.features = torch.cat([self.features, feats])
                        self.small = torch.cat([self.small, torch.stack(smalls)])
                        self.version += 1
            done += len(squares)
            if progress is not None:
                progress(min(start + transfer.BATCH, len(files)), len(files))
        if late:  # another drop into the same class filled it meanwhile
            refused.append(f"{late} photo(s) left out: a class holds at most {MAX_PER_CLASS}.")
        return done, refused

    def _insert(self, label: int, names, jpegs, feats: torch.Tensor, smalls) -> list[int]:
        """Write one batch of photos; their new ids (or made-up negative ones, kept in memory, if the store failed)."""
        rows = [self._row(label, name, jpeg, f, s) for name, jpeg, f, s in zip(names, jpegs, feats, smalls)]
        ids = self._write(rows)
        if ids is None:  # the store broke under us: keep the photos in memory, with ids it can never give
            ids = [next(self._memory_ids) for _ in rows]
            self._unsaved.update({i: r["jpeg"] for i, r in zip(ids, rows)})
            self.unsaved_why = self.store.problem
        return ids

    def _row(self, label: int, name: str, jpeg: bytes, feats: torch.Tensor, small: torch.Tensor) -> dict:
        """A photo as a row of `photos`: features float32 (1280,), small uint8 (3, 64, 64), as bytes."""
        features, small_ = feats.numpy().tobytes(), small.numpy().tobytes()
        return dict(owner=self.owner, label=label, name=name[:255], jpeg=jpeg, features=features, small=small_,
                    created=time.time())  # fmt: skip

    @property
    def unsaved(self) -> int:
        """How many photos the store could not write yet: they live in this server's memory only."""
        return len(self._unsaved)

    def save_unsaved(self) -> int:
        """Write the photos the store refused before (a full disk, say), now that it may work; how many went in."""
        with self._lock:
            kept = [k for k, i in enumerate(self.ids) if i in self._unsaved]
            if not kept:
                return 0
            rows = [
                self._row(self.labels[k], self.names[k], self._unsaved[self.ids[k]], self.features[k], self.small[k])
                for k in kept
            ]
            ids = self._write(rows)
            if ids is None:  # still failing: the store says why
                return 0
            for k, new in zip(kept, ids):
                old = self.ids[k]
                self.ids[k] = new
                del self._unsaved[old]
                for cache in (self._hashes, self._thumbs):
                    if old in cache:
                        cache[new] = cache.pop(old)
                self._views = {(new if key[0] == old else key[0], *key[1:]): v for key, v in self._views.items()}
            self.version += 1
            return len(ids)

    @guarded(None)
    def _write(self, rows: list[dict]) -> list[int]:
        with self._transaction() as conn:
            return [conn.execute(insert(photos).values(**row)).inserted_primary_key[0] for row in rows]

    def jpeg(self, photo_id: int) -> bytes | None:
        """The photo's 256x256 centre square as JPEG bytes; None if it is gone."""
        return self._unsaved.get(photo_id) or self._read_jpeg(photo_id)

    @guarded(None)
    def _read_jpeg(self, photo_id: int) -> bytes | None:
        with self.store.engine.connect() as conn:
            return conn.execute(select(photos.c.jpeg).where(photos.c.id == photo_id)).scalar()

    def thumbnail(self, photo_id: int) -> bytes | None:
        """A 96x96 JPEG of the photo, for the page's grid (made once, from the kept square)."""
        if photo_id not in self._thumbs:
            square = self.jpeg(photo_id)
            if square is None:
                return None
            buffer = io.BytesIO()
            Image.open(io.BytesIO(square)).resize((96, 96), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=85)
            self._thumbs[photo_id] = buffer.getvalue()
        return self._thumbs[photo_id]

    def remove(self, photo_ids: Sequence[int]) -> None:
        gone = set(photo_ids)
        with self._lock:
            keep = [k for k, i in enumerate(self.ids) if i not in gone]
            self.ids = [self.ids[k] for k in keep]
            self.labels = [self.labels[k] for k in keep]
            self.names = [self.names[k] for k in keep]
            self.features, self.small = self.features[keep], self.small[keep]
            self._views = {key: v for key, v in self._views.items() if key[0] not in gone}
            for i in gone & self._unsaved.keys():
                del self._unsaved[i]
            self.version += 1
        self._delete(sorted(i for i in gone if i > 0))

    @guarded(None)
    def _delete(self, photo_ids: list[int]) -> None:
        with self._transaction() as conn:
            conn.execute(delete(photos).where(photos.c.owner == self.owner, photos.c.id.in_(photo_ids)))

    # --- data for training ---------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why the album cannot train a model yet (empty when it can)."""
        short = [f"{c} ({n})" for c, n in zip(self.classes, self.counts()) if n < MIN_PER_CLASS]
        if short:
            return [f"Each class needs at least {MIN_PER_CLASS} photos; these have fewer: {', '.join(short)}."]
        return []

    def split(self, seed: int = 0) -> tuple[list[int], list[int]]:
        """(training, validation) positions: in each class the 15% (at least one) of its distinct photos whose
        contents hash lowest. Copies of one photo share a hash, so they stay on one side: ten copies of six photos
        no longer score "100%" on copies of the photos they were taught."""
        train, val = [], []
        for label in range(len(self.classes)):
            copies: dict[int, list[int]] = {}  # content hash -> positions of that photo's copies
            for k, y in enumerate(self.labels):
                if y == label:
                    copies.setdefault(self._content(k), []).append(k)
            order = sorted(copies, key=lambda h: ((h * 2654435761 + seed * 40503) % 2**32, h))
            held = max(1, round(VAL_SHARE * len(order))) if len(order) > 1 else 0
            val += [k for h in order[:held] for k in copies[h]]
            train += [k for h in order[held:] for k in copies[h]]
        return sorted(train), sorted(val)

    def _content(self, k: int) -> int:
        """A photo's content hash (of its 64x64 pixels, which copies of one upload share), kept by id."""
        photo_id = self.ids[k]
        if photo_id not in self._hashes:
            digest = hashlib.blake2b(self.small[k].numpy().tobytes(), digest_size=4).digest()
            self._hashes[photo_id] = int.from_bytes(digest, "big")
        return self._hashes[photo_id]

    def features_data(
        self,
        seed: int = 0,
        views: int = 0,
        backbone: transfer.Backbone | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Data:
        """The photos' features: (n, 1280) for training - with `views` augmented views of each training photo
        after its own vector, when asked - and (m, 1280) of the held-out photos, never augmented."""
        with self._lock:
            train, val = self.split(seed)
            X, y = self.features, torch.tensor(self.labels, dtype=torch.int64)
            X_train, y_train = [X[train]], [y[train]]
            ids = [self.ids[k] for k in train]
        if views:
            extra = [self._views_of(i, views, seed, backbone) for i in _progressing(ids, progress)]
            X_train.append(torch.cat(extra) if extra else torch.empty(0, transfer.NUM_FEATURES))
            y_train.append(y[train].repeat_interleave(views))
        classes = tuple(self.classes)
        return Data(PHOTO_FEATURES, torch.cat(X_train), torch.cat(y_train), X[val], y[val], classes=classes)

    def _views_of(self, photo_id: int, views: int, seed: int, backbone: transfer.Backbone) -> torch.Tensor:
        key = (photo_id, views, seed)
        if key not in self._views:
            square = Image.open(io.BytesIO(self.jpeg(photo_id))).convert("RGB")
            self._views[key] = transfer.embed_views(backbone, square, views, seed * 1_000_003 + photo_id)
        return self._views[key]

    def images_data(self, seed: int = 0) -> Data:
        """The photos at 64x64, float in [0, 1]: (n, 3, 64, 64) to train a network from scratch, same split."""
        with self._lock:
            train, val = self.split(seed)
            X, y = self.small, torch.tensor(self.labels, dtype=torch.int64)
            X_train, X_val = X[train].float().div_(255), X[val].float().div_(255)
        return Data(PHOTOS, X_train, y[train], X_val, y[val], classes=tuple(self.classes))

    def held_out_ids(self, seed: int = 0) -> list[int]:
        """The ids of the validation photos, in the order of `features_data`'s X_val."""
        return [self.ids[k] for k in self.split(seed)[1]]


def _progressing(items: list, progress: Callable[[int, int], None] | None):
    for done, item in enumerate(items, 1):
        yield item
        if progress is not None:
            progress(done, len(items))


class Albums:
    """The albums of the owners seen last, open in memory (each owner's one album is shared by their tabs)."""

    def __init__(self, store: Store, keep: int = 32):
        self.store, self.keep = store, keep
        self._open: OrderedDict[str, Album] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, owner: str) -> Album:
        with self._lock:
            album = self._open.pop(owner, None) or Album(self.store, owner)
            self._open[owner] = album
            # the oldest go, but never one holding photos the store has not taken: they live nowhere else
            spare = [o for o, a in self._open.items() if o != owner and not a.unsaved]
            for old in spare[: max(len(self._open) - self.keep, 0)]:
                del self._open[old]
            return album
