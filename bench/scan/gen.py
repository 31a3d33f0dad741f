#!/usr/bin/python3
"""Benchmark data for bench/scan/run.sh (written under bench/data/scan/).

big.safetensors: 1 GiB of tensor data (256 F32 tensors of 1024x1024) with a
valid header. checkpoint.pt: a PyTorch-format zip checkpoint of about
200 MB (torch.save layout: archive/data.pkl, archive/data/<key>, version),
its data.pkl assembled from the same opcodes torch.save writes; torch
itself is not needed.
"""
import json
import os
import struct
import sys
import zipfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
CHUNK = 4 << 20


def random_block():
    return os.urandom(CHUNK)


st = os.path.join(out, "big.safetensors")
if not os.path.exists(st):
    hdr, off = {}, 0
    for i in range(256):
        hdr[f"layer{i}.weight"] = {"dtype": "F32", "shape": [1024, 1024], "data_offsets": [off, off + CHUNK]}
        off += CHUNK
    hdr["__metadata__"] = {"format": "pt"}
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    block = random_block()
    with open(st + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for i in range(256):
            f.write(block[i:] + block[:i])  # distinct blocks without 1 GiB of urandom
    os.rename(st + ".tmp", st)

pt = os.path.join(out, "checkpoint.pt")
if not os.path.exists(pt):
    def su(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    def glob(m, n):
        return b"c" + m.encode() + b"\n" + n.encode() + b"\n"

    n = 50
    numel = CHUNK // 4
    p = b"\x80\x02" + glob("collections", "OrderedDict") + b")R("
    for i in range(n):
        p += su(f"layer{i}.weight") + glob("torch._utils", "_rebuild_tensor_v2") + b"("
        p += b"(" + su("storage") + glob("torch", "FloatStorage") + su(str(i)) + su("cpu") + b"J" + struct.pack("<i", numel) + b"tQ"
        p += b"K\x00" + b"M\x00\x04M\x00\x04\x86" + b"M\x00\x04K\x01\x86" + b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR"
    p += b"u."
    block = random_block()
    with zipfile.ZipFile(pt + ".tmp", "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", p)
        z.writestr("archive/byteorder", b"little")
        for i in range(n):
            z.writestr(f"archive/data/{i}", block[i:] + block[:i])
        z.writestr("archive/version", b"3\n")
    os.rename(pt + ".tmp", pt)
print(out)
