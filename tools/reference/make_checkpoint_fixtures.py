#!/usr/bin/env python3
"""Writes the checkpoint-reader fixtures under tests/unit/data/checkpoint/ (a few KB each).

    python3 tools/reference/make_checkpoint_fixtures.py [out_dir]

Files written (each is loaded back with the real library -- pickle.loads / torch.load -- and checked
against the arrays it was made from before expected.json is written):
  pkl_p{2,3,4,5}.pkl  pickle.dumps at protocols 2..5 of numpy arrays (numpy 2.x: numpy._core names);
                      p2/p5 {"model": ..., "__author__": ...}, p3 a bare dict of arrays, p4 Detectron2's
                      {"model": ..., "__author__": ..., "matching_heuristics": True}.
  pkl_np1_p{2,4}.pkl  the same dict with numpy 1.x module names (numpy.core.multiarray._reconstruct).
                      numpy 1.x is not installed here, so these are made with a shim: the pure-Python
                      pickler asks pickle.whichmodule() for a function's module, and we answer
                      "numpy.core.*" for "numpy._core.*" functions. numpy 2 still provides numpy.core as
                      an alias package, so pickle's identity check passes and pickle.loads reads them back.
  pkl_py2.pkl         a protocol-2 pickle as Python 2's cPickle writes it (byte strings as
                      SHORT_BINSTRING / BINSTRING, array data a raw py2 str), hand-assembled from opcodes
                      and verified with pickle.loads(..., encoding="latin1") as Detectron2 loads it.
  pth_fp32.pth        torch.save of a small conv/bn/linear state_dict (OrderedDict, float32 + int64).
  pth_fp16.pth        the same module after .half().
  pth_views.pth       non-contiguous tensors: transposed, sliced with a storage offset, expanded
                      (stride 0), sharing storages; plus float64, bfloat16, int32, uint8, bool tensors.
  pth_train.pth       Detectron2-style training checkpoint: {"model", "optimizer" (SGD momentum state
                      after one step), "scheduler", "iteration"}.
  pth_deflate.pth     pth_fp32.pth re-packed with deflate compression (python zipfile).
  pth_zip64.pth       pth_fp32.pth re-packed with zip64 extra fields in every local and central header
                      (sizes and offsets saturated to 0xFFFFFFFF), as torch writes for >4 GB archives.
  pth_legacy.pth      torch.save(..., _use_new_zipfile_serialization=False): must be rejected.
  expected.json       {file: {"tensors": {name: {"shape", "dtype", "values"}}}} -- values are numpy's
                      astype(float32) of the source arrays, as Python floats (exact in JSON).
"""
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

import numpy as np
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "unit",
                                                          "data", "checkpoint")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20240611)
expected = {}


def record(fname, tensors):
    """tensors: {name: numpy array or torch tensor (the oracle)}."""
    ent = {}
    for k, v in tensors.items():
        if isinstance(v, torch.Tensor):
            dtype = str(v.dtype).replace("torch.", "")
            v = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
        else:
            dtype = v.dtype.name
        ent[k] = {"shape": list(v.shape), "dtype": dtype,
                  "values": [float(x) for x in np.asarray(v).astype(np.float32).ravel(order="C")]}
    expected[fname] = {"tensors": ent}


def write(fname, data):
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data)
    print(f"{fname}: {len(data)} bytes")


def rand(shape, dtype):
    return (rng.standard_normal(shape) * 3).astype(dtype)


# ---- numpy pickles ----------------------------------------------------------------------------------
arrays = {
    "backbone.bottom_up.stem.conv1.weight": rand((2, 3, 3, 3), np.float32),
    "f64": rand((3, 4), np.float64),
    # float16: normal values plus subnormals, the extremes and signed zero
    "f16": np.concatenate([rand((5,), np.float16),
                           np.array([6e-8, -6e-8, 1e-5, -3e-6, 65504, -65504, 0.0, -0.0, 6.1e-5], np.float16)]),
    "i64": np.array([0, -7, 123456789, 2**40 + 1, -(2**33)], dtype=np.int64),
    "i32": np.array([[1, -2], [3, 2**30]], dtype=np.int32),
    "u8": np.array([0, 1, 200, 255], dtype=np.uint8),
    "be_f4": rand((2, 3), ">f4"),
    "be_f8": rand((3,), ">f8"),
    "fortran": np.asfortranarray(rand((3, 4), np.float32)),
    "fortran3d": np.asfortranarray(rand((2, 3, 2), np.float32)),
    "strided": rand((3, 6), np.float32)[:, ::2],
    "scalar0d": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "roi_heads.box_predictor.cls_score.bias": rand((7,), np.float32),
}
assert arrays["fortran"].flags.f_contiguous and not arrays["fortran"].flags.c_contiguous


def check_same(loaded, ref):
    for k, v in ref.items():
        got = loaded[k]
        # numpy 2.4's unpickler may hand back big-endian arrays in native order: compare kind and size.
        assert (got.dtype.kind, got.dtype.itemsize) == (v.dtype.kind, v.dtype.itemsize), k
        assert got.shape == v.shape and np.array_equal(got, v), k


def check_pickle(data, ref, **kw):
    obj = pickle.loads(data, **kw)
    check_same(obj["model"] if "model" in obj else obj, ref)


variants = {
    2: {"model": arrays, "__author__": "maskrt fixture"},
    3: dict(arrays),
    4: {"model": arrays, "__author__": "maskrt fixture", "matching_heuristics": True},
    5: {"model": arrays, "__author__": "maskrt fixture"},
}
for proto, obj in variants.items():
    data = pickle.dumps(obj, protocol=proto)
    check_pickle(data, arrays)
    if proto == 5:
        assert b"_frombuffer" in data, "protocol 5 should use numpy's _frombuffer path"
    write(f"pkl_p{proto}.pkl", data)
    record(f"pkl_p{proto}.pkl", arrays)


def dumps_numpy1(obj, proto):
    real = pickle.whichmodule

    def whichmodule(o, name):
        mod = real(o, name)
        return "numpy.core" + mod[len("numpy._core"):] if mod.startswith("numpy._core") else mod

    pickle.whichmodule = whichmodule
    try:
        buf = io.BytesIO()
        pickle._Pickler(buf, protocol=proto).dump(obj)  # pure-Python pickler uses the module's whichmodule
        return buf.getvalue()
    finally:
        pickle.whichmodule = real


for proto in (2, 4):
    data = dumps_numpy1({"model": arrays, "__author__": "maskrt fixture"}, proto)
    assert b"numpy.core" in data and b"numpy._core" not in data
    check_pickle(data, arrays)
    write(f"pkl_np1_p{proto}.pkl", data)
    record(f"pkl_np1_p{proto}.pkl", arrays)


# ---- a Python 2 cPickle-style protocol 2 stream ---------------------------------------------------------
def py2_pickle(model):
    out = bytearray(b"\x80\x02")

    def s(b):  # py2 str
        b = b.encode() if isinstance(b, str) else b
        out.extend((b"U" + bytes([len(b)])) if len(b) < 256 else (b"T" + struct.pack("<i", len(b))))
        out.extend(b)

    def i(v):
        out.extend(b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v))

    out += b"}(";  # EMPTY_DICT MARK
    s("__author__"); s("py2 fixture")
    s("model"); out += b"}("
    for name, a in model.items():
        s(name)
        out += b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
        i(0); out += b"\x85"; s("b"); out += b"\x87R"  # (ndarray, (0,), 'b') REDUCE
        out += b"("; i(1)  # BUILD state: (1, shape, dtype, is_fortran, data)
        out += b"("
        for d in a.shape:
            i(d)
        out += b"t"
        out += b"cnumpy\ndtype\n"; s(a.dtype.str[1:]); i(0); i(1); out += b"\x87R"
        out += b"("; i(3); s(a.dtype.str[0]); out += b"NNN"; i(-1); i(-1); i(0); out += b"tb"
        fortran = a.flags.f_contiguous and not a.flags.c_contiguous
        out += b"\x88" if fortran else b"\x89"
        s(a.tobytes(order="F" if fortran else "C"))
        out += b"tb"
    out += b"u"  # SETITEMS (model)
    out += b"u."  # SETITEMS (top), STOP
    return bytes(out)


py2_arrays = {k: arrays[k] for k in ("backbone.bottom_up.stem.conv1.weight", "f64", "be_f4", "fortran", "i64", "u8")}
py2_arrays["big"] = rand((80,), np.float32)  # 320 bytes: BINSTRING rather than SHORT_BINSTRING
data = py2_pickle(py2_arrays)
check_pickle(data, py2_arrays, encoding="latin1")
write("pkl_py2.pkl", data)
record("pkl_py2.pkl", py2_arrays)

# ---- torch.save ---------------------------------------------------------------------------------------
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 3))
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.randn_like(p) * 2)
    net[1].running_mean.copy_(torch.randn(4))
    net[1].running_var.copy_(torch.rand(4) + 0.5)
    net[1].num_batches_tracked.fill_(12345)


def save_bytes(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def check_torch(data, ref):
    obj = torch.load(io.BytesIO(data), weights_only=False)
    sd = obj["model"] if "model" in obj else obj
    for k, v in ref.items():
        assert sd[k].dtype == v.dtype and sd[k].shape == v.shape and torch.equal(sd[k], v), k


sd32 = {k: v.clone() for k, v in net.state_dict().items()}
fp32 = save_bytes(net.state_dict())
check_torch(fp32, sd32)
write("pth_fp32.pth", fp32)
record("pth_fp32.pth", sd32)

net16 = net.half()
sd16 = {k: v.clone() for k, v in net16.state_dict().items()}
data = save_bytes(net16.state_dict())
check_torch(data, sd16)
write("pth_fp16.pth", data)
record("pth_fp16.pth", sd16)
net.float()

base = torch.randn(4, 6)
views = {
    "base": base,
    "transposed": base.t(),                 # stride (1, 6)
    "sliced": base[1:, ::2],                # offset 6, stride (6, 2)
    "column": base[:, 3],                   # offset 3, stride (6,)
    "expanded": torch.randn(3).expand(2, 3),  # stride (0, 1)
    "permuted": torch.randn(2, 3, 4).permute(2, 0, 1),
    "f64": torch.randn(3, 2, dtype=torch.float64),
    "bf16": torch.randn(5).to(torch.bfloat16),
    "i32": torch.tensor([-3, 0, 70000], dtype=torch.int32),
    "u8": torch.tensor([0, 9, 255], dtype=torch.uint8),
    "mask": torch.tensor([True, False, True]),
    "scalar": torch.tensor(2.25),
}
assert not views["transposed"].is_contiguous() and views["sliced"].storage_offset() == 6
data = save_bytes(views)
check_torch(data, views)
write("pth_views.pth", data)
record("pth_views.pth", {k: v.contiguous() for k, v in views.items()})

opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[10, 20])
net(torch.randn(2, 3, 3, 3)).sum().backward()
opt.step()
sched.step()
sd_train = {k: v.clone() for k, v in net.state_dict().items()}
train = {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "iteration": 7}
data = save_bytes(train)
check_torch(data, sd_train)
write("pth_train.pth", data)
record("pth_train.pth", sd_train)

# Re-packed archives.
src = zipfile.ZipFile(io.BytesIO(fp32))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
    for info in src.infolist():
        z.writestr(info.filename, src.read(info.filename))
data = buf.getvalue()
assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
check_torch(data, sd32)
write("pth_deflate.pth", data)
record("pth_deflate.pth", sd32)


def zip64_archive(entries):
    """Stored entries; every size/offset saturated and carried in zip64 extra fields; zip64 EOCD."""
    out, central = bytearray(), bytearray()
    for name, payload in entries:
        nb, crc, off = name.encode(), zlib.crc32(payload), len(out)
        extra_local = struct.pack("<HHQQ", 1, 16, len(payload), len(payload))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb),
                           len(extra_local)) + nb + extra_local + payload
        extra = struct.pack("<HHQQQ", 1, 24, len(payload), len(payload), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + extra
    cd_off, n = len(out), len(entries)
    out += central
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(out)


data = zip64_archive([(i.filename, src.read(i.filename)) for i in src.infolist()])
zi = zipfile.ZipFile(io.BytesIO(data))
assert zi.testzip() is None and all(i.compress_size == i.file_size for i in zi.infolist())
check_torch(data, sd32)
write("pth_zip64.pth", data)
record("pth_zip64.pth", sd32)

data = save_bytes({"w": torch.ones(2)}, _use_new_zipfile_serialization=False)
write("pth_legacy.pth", data)

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"generator": "tools/reference/make_checkpoint_fixtures.py",
               "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "torch": torch.__version__},
               "files": expected}, f, indent=0)
print("expected.json written")
