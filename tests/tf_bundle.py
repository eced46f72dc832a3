"""A minimal writer of TensorFlow tensor-bundle checkpoints, for building test fixtures.

Written from the format description (LevelDB table + BundleEntryProto), independently of the
reader in :mod:`sklearn_genre.pretrained.checkpoint`; it can write small blocks (many data
blocks), restart points every few keys, a snappy compression flag, tensor slices and a wrong
CRC, to exercise the reader's paths.
"""

from __future__ import annotations

import struct

import numpy as np

from sklearn_genre.pretrained.checkpoint import crc32c

DTYPE_ENUM = {np.dtype("<f4"): 1, np.dtype("<f8"): 2, np.dtype("<i4"): 3, np.dtype("<i8"): 9,
              np.dtype("<f2"): 19, np.dtype("u1"): 4}
MAGIC = 0xDB4775248B80FB57


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_fixed32(number, value):
    return varint(number << 3 | 5) + struct.pack("<I", value)


def mask(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def shape_proto(shape):
    return b"".join(field_bytes(2, field_varint(1, d)) for d in shape)


def entry_proto(dtype, shape, offset, size, crc, sliced=False):
    msg = field_varint(1, DTYPE_ENUM[np.dtype(dtype)]) + field_bytes(2, shape_proto(shape))
    if offset:
        msg += field_varint(4, offset)
    msg += field_varint(5, size) + field_fixed32(6, mask(crc))
    if sliced:
        msg += field_bytes(7, b"\x0a\x00")
    return msg


def build_block(items, restart_interval):
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(items):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        prev = key
    for r in restarts or [0]:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts or [0]))
    return bytes(out)


def write_table(path, items, *, block_items=3, restart_interval=2, compression=0,
                corrupt_block_crc=False):
    """Write a sorted ``[(key, value), ...]`` list as a LevelDB-format table."""
    data = bytearray()

    def emit(block):
        offset = len(data)
        data.extend(block)
        trailer_crc = crc32c(block + bytes([compression]))
        if corrupt_block_crc:
            trailer_crc ^= 1
        data.extend(bytes([compression]) + struct.pack("<I", mask(trailer_crc)))
        return varint(offset) + varint(len(block))

    index = []
    for start in range(0, len(items), block_items):
        chunk = items[start:start + block_items]
        handle = emit(build_block(chunk, restart_interval))
        index.append((chunk[-1][0], handle))
    meta_handle = emit(build_block([], restart_interval))
    index_handle = emit(build_block(index, 1))
    footer = meta_handle + index_handle
    footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", MAGIC)
    data.extend(footer)
    with open(path, "wb") as f:
        f.write(bytes(data))


def write_bundle(prefix, tensors, *, bad_crc=(), sliced=(), **table_kwargs):
    """Write ``{name: ndarray}`` as ``prefix.index`` + ``prefix.data-00000-of-00001``."""
    prefix = str(prefix)
    data = bytearray()
    items = [(b"", field_varint(1, 1) + field_bytes(3, field_varint(1, 1)))]
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        crc = crc32c(raw) ^ (1 if name in bad_crc else 0)
        items.append((name.encode(), entry_proto(arr.dtype, arr.shape, len(data), len(raw),
                                                 crc, sliced=name in sliced)))
        data.extend(raw)
    write_table(prefix + ".index", items, **table_kwargs)
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(bytes(data))
