"""Image and Table: as much as pipelines pass to `log` and `Artifact.add`, stored as run files.

No numpy needed: arrays may be lists, nested lists, or any object with `tolist()`.
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from typing import Any, Protocol

from .errors import AmphoraError


class ToJson(Protocol):
    """What `Artifact.add` stores: an object that serializes itself (Table, Image, PartitionedTable, ...)."""

    def to_json(self) -> str: ...


def _plain(value):
    if hasattr(value, "detach"):  # torch tensors
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _shape(data):
    shape = []
    while isinstance(data, list):
        shape.append(len(data))
        data = data[0] if data else None
    return shape


class Image:
    """`Image(data_or_path, caption=None)`: a 2-D grayscale or HxWx3/4 array (floats in [0, 1] or
    integers 0-255; a leading channel axis of size 1 is dropped), or the path of an image file."""

    artifact_suffix = ".image.json"

    def __init__(self, data_or_path: Any, caption: str | None = None, mode: str | None = None) -> None:
        self.caption = caption
        self._path = None
        self._pixels = None
        if isinstance(data_or_path, (str, os.PathLike)):
            if not os.path.isfile(data_or_path):
                raise AmphoraError("not_found", f'Image: "{data_or_path}" is not a file; pass an image file path or an array.')
            self._path = os.fspath(data_or_path)
            return
        data = _plain(data_or_path)
        shape = _shape(data)
        if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
            data = [[[data[c][y][x] for c in range(shape[0])] for x in range(shape[2])] for y in range(shape[1])]
            shape = _shape(data)
        if len(shape) == 3 and shape[2] == 1:
            data = [[px[0] for px in row] for row in data]
            shape = _shape(data)
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (3, 4)) or 0 in shape:
            raise AmphoraError("invalid_request", f"Image: expected a 2-D grayscale or HxWx3/4 array, got shape {tuple(shape)}.")
        self._pixels = data
        self.height, self.width = shape[0], shape[1]
        self.channels = 1 if len(shape) == 2 else shape[2]

    def _png(self):
        flat = [v for row in self._pixels for px in row for v in (px if isinstance(px, list) else [px])]
        numbers = [float(v) for v in flat if isinstance(v, (int, float)) and not math.isnan(float(v))]
        scale = 255.0 if numbers and max(numbers) <= 1.0 else 1.0
        color = {1: 0, 3: 2, 4: 6}[self.channels]
        raw = bytearray()
        for row in self._pixels:
            raw.append(0)
            for px in row:
                for v in px if isinstance(px, list) else [px]:
                    v = float(v) if isinstance(v, (int, float)) and not math.isnan(float(v)) else 0.0
                    raw.append(max(0, min(255, int(round(v * scale)))))

        def chunk(tag, body):
            return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, color, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")

    def _write(self, folder, stem):
        """Writes the image file; returns (file name, JSON descriptor for the history row)."""
        if self._path is not None:
            ext = os.path.splitext(self._path)[1] or ".bin"
            fname = stem + ext
            with open(self._path, "rb") as src, open(os.path.join(folder, fname), "wb") as dst:
                dst.write(src.read())
            desc = {"_type": "image-file", "path": fname}
        else:
            fname = stem + ".png"
            with open(os.path.join(folder, fname), "wb") as f:
                f.write(self._png())
            desc = {"_type": "image-file", "path": fname, "width": self.width, "height": self.height}
        if self.caption is not None:
            desc["caption"] = str(self.caption)
        return fname, desc

    def to_json(self) -> str:
        return json.dumps({"_type": "image", "caption": self.caption, "pixels": self._pixels, "path": self._path})


class Table:
    """`Table(columns=[...], data=[[...], ...])` (also `add_data(*row)`)."""

    artifact_suffix = ".table.json"

    def __init__(self, columns: list[str] | None = None, data: list[list[Any]] | None = None, rows: list[list[Any]] | None = None,
                 dataframe: Any = None) -> None:
        data = data if data is not None else rows
        if dataframe is not None and hasattr(dataframe, "to_dict"):
            columns = list(dataframe.columns)
            data = dataframe.values.tolist()
        data = [list(_plain(r)) for r in (_plain(data) or [])]
        if columns is None:
            columns = [f"col{i}" for i in range(len(data[0]) if data else 0)]
        self.columns = list(columns)
        self.data = []
        for row in data:
            self.add_data(*row)

    def add_data(self, *row: Any) -> None:
        if len(row) != len(self.columns):
            raise AmphoraError("invalid_request", f'Table row has {len(row)} values but the table has {len(self.columns)} columns ({", ".join(map(str, self.columns))}).')
        self.data.append([_plain(v) for v in row])

    def to_json(self) -> str:
        return json.dumps({"_type": "table", "columns": self.columns, "data": self.data}, default=_json_safe)

    def _write(self, folder, stem):
        fname = stem + self.artifact_suffix
        with open(os.path.join(folder, fname), "w", encoding="utf-8") as f:
            f.write(self.to_json())
        return fname, {"_type": "table-file", "path": fname, "ncols": len(self.columns), "nrows": len(self.data)}


def _json_safe(o):
    if isinstance(o, (Image, Table)):
        return json.loads(o.to_json())
    return str(o)


class PartitionedTable:
    """A pointer to a folder of tables inside an artifact (`parts_path`)."""

    artifact_suffix = ".partitioned-table.json"

    def __init__(self, parts_path: str) -> None:
        self.parts_path = parts_path

    def to_json(self) -> str:
        return json.dumps({"_type": "partitioned-table", "parts_path": self.parts_path})
