"""Read TensorFlow checkpoints (the tensor-bundle format) with numpy alone.

A TensorFlow 1 ``tf.train.Saver`` checkpoint with prefix ``P`` is two files:

``P.index``
    A LevelDB-style sorted string table (TensorFlow's ``tensorflow/core/lib/io/table``):
    data blocks of prefix-compressed ``key -> value`` entries with restart points, an index
    block of ``last key -> block handle`` entries, an (empty) meta-index block, and a
    48-byte footer ending in the magic number ``0xdb4775248b80fb57``. Every block is
    followed by a one-byte compression type and a masked CRC-32C of the block and that
    byte. The key ``""`` holds a ``BundleHeaderProto`` (number of shards, endianness); every
    other key is a variable name whose value is a ``BundleEntryProto`` (dtype, shape, shard,
    offset, size and masked CRC-32C of the tensor's bytes).
``P.data-00000-of-00001``
    The tensors' raw bytes (little-endian for the checkpoints we read), each at its entry's
    offset.

:func:`read_checkpoint` parses both, checks every block checksum, every tensor's size and
(by default) every tensor's CRC-32C, and returns ``{name: ndarray}``. The protobuf fields are
decoded by hand (no ``protobuf`` dependency). Snappy-compressed blocks, multi-shard bundles,
partitioned (sliced) variables and big-endian bundles are not needed for the checkpoints this
package reads and raise :class:`CheckpointFormatError` naming the file and the feature.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from ..exceptions import CheckpointFormatError

__all__ = ["CheckpointFormatError", "read_checkpoint", "read_checkpoint_index", "crc32c"]

#: Last 8 bytes of a LevelDB / TensorFlow table file.
TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48  # two block handles padded to 40 bytes + the 8-byte magic
_BLOCK_TRAILER_SIZE = 5  # compression type (1 byte) + masked crc32c (4 bytes)

#: TensorFlow ``DataType`` enum value -> numpy dtype (the fixed-size types).
TF_DTYPES = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}


# --------------------------------------------------------------------------- CRC-32C

def _crc32c_table():
    poly = 0x82F63B78  # Castagnoli, reflected
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _crc32c_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _zeros_operator(n):
    """The linear map on the CRC register of feeding ``n`` zero bytes, as 4 byte tables."""
    # Columns: the image of each single-bit register value.
    cols = []
    for bit in range(32):
        reg = 1 << bit
        for _ in range(n):
            reg = _TABLE_LIST[reg & 0xFF] ^ (reg >> 8)
        cols.append(reg)
    tables = []
    for byte in range(4):
        t = []
        for v in range(256):
            acc = 0
            for b in range(8):
                if v >> b & 1:
                    acc ^= cols[8 * byte + b]
            t.append(acc)
        tables.append(t)
    return tables


def _crc_register(reg, data):
    """Raw CRC-32C register update over ``data`` (bytes-like), scalar Python loop."""
    table = _TABLE_LIST
    for byte in bytes(data):
        reg = table[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg


def crc32c(data):
    """CRC-32C (Castagnoli) of a bytes-like object, as an unsigned 32-bit int.

    Long inputs are split into equal lanes that numpy advances together; the lanes'
    registers are then chained with the "feed n zero bytes" linear map (the register
    update is linear over GF(2)), so the result equals the byte-at-a-time CRC.

    Parameters
    ----------
    data : bytes-like

    Returns
    -------
    crc : int

    Examples
    --------
    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = buf.size
    reg = 0xFFFFFFFF
    lane = max(64, int(np.sqrt(n)))
    n_lanes = n // lane
    if n_lanes >= 4:
        lanes = buf[: n_lanes * lane].reshape(n_lanes, lane)
        regs = np.zeros(n_lanes, dtype=np.uint32)
        for j in range(lane):
            regs = _TABLE[(regs ^ lanes[:, j]) & 0xFF] ^ (regs >> np.uint32(8))
        t0, t1, t2, t3 = _zeros_operator(lane)
        for lane_reg in regs.tolist():  # reg(A + B) = Z_|B|(reg(A)) ^ reg_0(B)
            reg = (t0[reg & 0xFF] ^ t1[(reg >> 8) & 0xFF] ^ t2[(reg >> 16) & 0xFF]
                   ^ t3[reg >> 24] ^ lane_reg)
        buf = buf[n_lanes * lane:]
    return _crc_register(reg, buf) ^ 0xFFFFFFFF


def _unmask(masked):
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# --------------------------------------------------------------------------- protobuf / varints

def _varint(buf, pos, path):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointFormatError(f"{path}: truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CheckpointFormatError(f"{path}: varint longer than 10 bytes")


def _proto_fields(buf, path):
    """Decode a protobuf message into ``[(field_number, wire_type, value), ...]``.

    Varints are ints, fixed32/fixed64 ints, length-delimited fields bytes.
    """
    out = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos, path)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos, path)
        elif wire == 1:
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos, path)
            value = bytes(buf[pos:pos + length])
            pos += length
        elif wire == 5:
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise CheckpointFormatError(f"{path}: unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise CheckpointFormatError(f"{path}: truncated protobuf message")
        out.append((field, wire, value))
    return out


def _parse_shape(buf, path):
    """TensorShapeProto: repeated Dim dim = 2 {int64 size = 1}; bool unknown_rank = 3."""
    dims = []
    for field, _, value in _proto_fields(buf, path):
        if field == 2:
            size = 0
            for f, _, v in _proto_fields(value, path):
                if f == 1:
                    size = v - (1 << 64) if v >= 1 << 63 else v
            dims.append(size)
        elif field == 3 and value:
            raise CheckpointFormatError(f"{path}: a tensor of unknown rank")
    return tuple(dims)


def _parse_entry(name, buf, path):
    """BundleEntryProto: dtype 1, shape 2, shard_id 3, offset 4, size 5, crc32c 6, slices 7."""
    entry = {"dtype": 0, "shape": (), "shard_id": 0, "offset": 0, "size": 0, "crc32c": None}
    for field, _, value in _proto_fields(buf, path):
        if field == 1:
            entry["dtype"] = value
        elif field == 2:
            entry["shape"] = _parse_shape(value, path)
        elif field == 3:
            entry["shard_id"] = value
        elif field == 4:
            entry["offset"] = value
        elif field == 5:
            entry["size"] = value
        elif field == 6:
            entry["crc32c"] = value
        elif field == 7:
            raise CheckpointFormatError(
                f"{path}: variable {name!r} is partitioned (tensor slices), which this "
                "reader does not support")
    return entry


def _parse_header(buf, path):
    """BundleHeaderProto: num_shards 1, endianness 2 (0 little, 1 big), version 3."""
    header = {"num_shards": 1, "endianness": 0}
    for field, _, value in _proto_fields(buf, path):
        if field == 1:
            header["num_shards"] = value
        elif field == 2:
            header["endianness"] = value
    return header


# --------------------------------------------------------------------------- SSTable

def _read_block(data, offset, size, path):
    """The contents of the block at ``offset`` (checksum verified, uncompressed)."""
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(data):
        raise CheckpointFormatError(f"{path}: block at offset {offset} runs past the end of "
                                    "the file (truncated?)")
    block = data[offset:end]
    ctype = data[end]
    (masked,) = struct.unpack_from("<I", data, end + 1)
    if crc32c(data[offset:end + 1]) != _unmask(masked):
        raise CheckpointFormatError(f"{path}: CRC-32C mismatch in the block at offset "
                                    f"{offset} (the file is corrupt)")
    if ctype == 1:
        raise CheckpointFormatError(f"{path}: snappy-compressed table blocks are not "
                                    "supported (TensorFlow writes bundle indexes uncompressed)")
    if ctype != 0:
        raise CheckpointFormatError(f"{path}: unknown block compression type {ctype}")
    return block


def _block_entries(block, path):
    """Iterate ``(key, value)`` over a table block (prefix-compressed keys, restart array)."""
    if len(block) < 4:
        raise CheckpointFormatError(f"{path}: table block of {len(block)} bytes")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise CheckpointFormatError(f"{path}: bad restart count {n_restarts} in a block")
    restarts = set(struct.unpack_from(f"<{n_restarts}I", block, limit))
    pos = 0
    key = b""
    while pos < limit:
        start = pos
        shared, pos = _varint(block, pos, path)
        non_shared, pos = _varint(block, pos, path)
        value_len, pos = _varint(block, pos, path)
        if start in restarts and shared:
            raise CheckpointFormatError(f"{path}: entry at a restart point shares a prefix")
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise CheckpointFormatError(f"{path}: corrupt entry at offset {start} of a block")
        key = key[:shared] + bytes(block[pos:pos + non_shared])
        pos += non_shared
        yield key, bytes(block[pos:pos + value_len])
        pos += value_len


def _block_handle(buf, pos, path):
    offset, pos = _varint(buf, pos, path)
    size, pos = _varint(buf, pos, path)
    return offset, size, pos


def _table_items(data, path):
    """All ``(key, value)`` pairs of an SSTable held in ``data`` (bytes), in key order."""
    if len(data) < _FOOTER_SIZE:
        raise CheckpointFormatError(f"{path}: {len(data)} bytes, too short for a table")
    footer = data[-_FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, 40)
    if magic != TABLE_MAGIC:
        raise CheckpointFormatError(f"{path}: not a TensorFlow checkpoint index (bad magic "
                                    f"number {magic:#018x})")
    _, _, pos = _block_handle(footer, 0, path)  # meta-index block: unused by bundles
    index_offset, index_size, _ = _block_handle(footer, pos, path)
    index = _read_block(data, index_offset, index_size, path)
    for _, handle in _block_entries(index, path):
        offset, size, _ = _block_handle(handle, 0, path)
        yield from _block_entries(_read_block(data, offset, size, path), path)


# --------------------------------------------------------------------------- bundle

def _prefix_paths(prefix):
    prefix = os.fspath(prefix)
    return Path(prefix + ".index"), Path(prefix + ".data-00000-of-00001")


def read_checkpoint_index(prefix):
    """The variables of a checkpoint: name -> dtype, shape, offset, size, crc32c.

    Parameters
    ----------
    prefix : str or path-like
        Checkpoint prefix: the files are ``prefix + ".index"`` and
        ``prefix + ".data-00000-of-00001"`` (for a ``Saver`` that saved to a folder
        ``d/``, the prefix is ``"d/"``).

    Returns
    -------
    entries : dict
        ``{name: {"dtype": np.dtype, "shape": tuple, "offset": int, "size": int,
        "crc32c": int or None}}`` in key order.

    Raises
    ------
    FileNotFoundError
        If the index file does not exist.
    CheckpointFormatError
        If it is not a valid single-shard little-endian bundle index.
    """
    index_path, _ = _prefix_paths(prefix)
    data = index_path.read_bytes()
    header = None
    entries = {}
    for key, value in _table_items(data, index_path):
        if key == b"":
            header = _parse_header(value, index_path)
            continue
        name = key.decode("utf-8")
        entry = _parse_entry(name, value, index_path)
        if entry["dtype"] not in TF_DTYPES:
            raise CheckpointFormatError(f"{index_path}: variable {name!r} has TensorFlow "
                                        f"dtype {entry['dtype']}, which this reader lacks")
        entry["dtype"] = TF_DTYPES[entry["dtype"]]
        if entry["shard_id"] != 0:
            raise CheckpointFormatError(f"{index_path}: variable {name!r} is in shard "
                                        f"{entry['shard_id']}; multi-shard bundles are not "
                                        "supported")
        expected = int(np.prod(entry["shape"], dtype=np.int64)) * entry["dtype"].itemsize
        if entry["size"] != expected:
            raise CheckpointFormatError(
                f"{index_path}: variable {name!r} of shape {entry['shape']} and dtype "
                f"{entry['dtype']} should take {expected} bytes, the index says "
                f"{entry['size']}")
        del entry["shard_id"]
        entries[name] = entry
    if header is None:
        raise CheckpointFormatError(f"{index_path}: no bundle header (key '')")
    if header["num_shards"] != 1:
        raise CheckpointFormatError(f"{index_path}: {header['num_shards']} shards; only "
                                    "single-shard bundles are supported")
    if header["endianness"] != 0:
        raise CheckpointFormatError(f"{index_path}: big-endian bundle, not supported")
    return entries


def read_checkpoint(prefix, *, select=None, verify_crc=True):
    """Load every variable of a TensorFlow tensor-bundle checkpoint as numpy arrays.

    Parameters
    ----------
    prefix : str or path-like
        Checkpoint prefix (see :func:`read_checkpoint_index`).
    select : callable, default=None
        ``select(name) -> bool``: read only the variables it accepts (e.g. not the
        optimiser's slots). None reads all.
    verify_crc : bool, default=True
        Check each tensor's CRC-32C against the index (about 0.1 s per 10 MB). Sizes and
        the index's block checksums are always checked.

    Returns
    -------
    variables : dict of str -> ndarray
        Name -> array of the stored dtype and shape (a fresh, writable copy).

    Raises
    ------
    FileNotFoundError
        If the index or data file does not exist.
    CheckpointFormatError
        If a file is corrupt, truncated, or uses an unsupported feature.

    Examples
    --------
    >>> variables = read_checkpoint("musicnn/MSD_musicnn/")  # doctest: +SKIP
    >>> variables["dense_1/kernel"].shape  # doctest: +SKIP
    (200, 50)
    """
    entries = read_checkpoint_index(prefix)
    _, data_path = _prefix_paths(prefix)
    data = data_path.read_bytes()
    out = {}
    for name, e in entries.items():
        if select is not None and not select(name):
            continue
        end = e["offset"] + e["size"]
        if end > len(data):
            raise CheckpointFormatError(
                f"{data_path}: variable {name!r} lies at bytes {e['offset']}..{end} but the "
                f"file has {len(data)} bytes (truncated?)")
        raw = memoryview(data)[e["offset"]:end]
        if verify_crc and e["crc32c"] is not None and crc32c(raw) != _unmask(e["crc32c"]):
            raise CheckpointFormatError(f"{data_path}: CRC-32C mismatch for variable "
                                        f"{name!r} (the file is corrupt)")
        out[name] = np.frombuffer(raw, dtype=e["dtype"]).reshape(e["shape"]).copy()
    return out
