#!/usr/bin/env python3
"""Generates tests/unit/data/images/: tiny image files and Pillow's decoded RGB for each.

Oracle: Detectron2's reader, i.e. `detection_utils.read_image(path, format="RGB")`: PIL open, EXIF
orientation applied (`_apply_exif_orientation`), `convert("RGB")`. The code below re-types that
(PIL calls only) so it runs without detectron2; when detectron2 is importable it cross-checks.

Files: <name>.<ext> the input; <name>.rgb the expected pixels (uint8 HWC RGB, raw);
manifest.json lists every case: decodable ones with width/height (after orientation), bad ones with
the exception PIL raises (for the record; maskrt's own message is tested for file name + reason).

Run from the repository root:  python3 tools/reference/make_image_fixtures.py
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import PIL
from PIL import Image, features

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "unit", "data", "images")
ORIENT_METHOD = {2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM,
                 5: Image.TRANSPOSE, 6: Image.ROTATE_270, 7: Image.TRANSVERSE, 8: Image.ROTATE_90}


def pil_read_rgb(path):
    """detection_utils.read_image(path, 'RGB') without detectron2."""
    with open(path, "rb") as f:
        im = Image.open(f)
        try:
            exif = im.getexif()
        except Exception:
            exif = None
        if exif is not None:
            m = ORIENT_METHOD.get(exif.get(274))
            if m is not None:
                im = im.transpose(m)
        return np.asarray(im.convert("RGB"))


def content(h, w, seed):
    """Smooth colour ramps, a few hard-edged blocks and mild noise; asymmetric so flips show."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 30 + 200 * xx / max(w - 1, 1)
    g = 40 + 180 * yy / max(h - 1, 1)
    b = 128 + 100 * np.sin(xx / 5.0 + yy / 7.0)
    img = np.stack([r, g, b], -1)
    img[2:h // 3, 3:w // 4] = (250, 20, 20)       # red block near the top-left corner
    img[h // 2:h - 2, w - w // 5:w - 1] = (10, 10, 240)  # blue block on the right
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def png_bytes(w, h, bit_depth, color_type, raw_rows, extra_chunks=()):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    data = b"".join(b"\x00" + r for r in raw_rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunk(t, d) for t, d in extra_chunks)
            + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


# Pillow cannot write YCCK JPEGs; this small libjpeg program does (CMYK input, YCCK colour space,
# Adobe marker with transform 2). Needs a C compiler and libjpeg headers at generation time only.
YCCK_WRITER = r"""
#include <stdio.h>
#include <jpeglib.h>
int main(int argc, char** argv) {
  struct jpeg_compress_struct c; struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e); jpeg_create_compress(&c);
  FILE* f = fopen(argv[1], "wb"); jpeg_stdio_dest(&c, f);
  c.image_width = 61; c.image_height = 37; c.input_components = 4; c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c); jpeg_set_colorspace(&c, JCS_YCCK); jpeg_set_quality(&c, 85, TRUE);
  c.write_Adobe_marker = TRUE;
  jpeg_start_compress(&c, TRUE);
  unsigned char row[61 * 4];
  for (int y = 0; y < 37; ++y) {
    for (int x = 0; x < 61; ++x) {
      row[4 * x] = x * 4; row[4 * x + 1] = y * 6; row[4 * x + 2] = (x * y) & 255; row[4 * x + 3] = (x + y) * 2;
    }
    JSAMPROW r = row; jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c); fclose(f); return 0;
}
"""


def ycck_jpeg_bytes():
    with tempfile.TemporaryDirectory() as d:
        src, exe, out = os.path.join(d, "w.c"), os.path.join(d, "w"), os.path.join(d, "ycck.jpg")
        with open(src, "w") as f:
            f.write(YCCK_WRITER)
        subprocess.run(["cc", src, "-ljpeg", "-o", exe], check=True)
        subprocess.run([exe, out], check=True)
        with open(out, "rb") as f:
            return f.read()


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    cases = []

    def ok(name, data, note, tolerance=0):
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(data)
        rgb = pil_read_rgb(path)
        stem = os.path.splitext(name)[0] + "." + name.rsplit(".", 1)[1] + ".rgb"
        rgb.astype(np.uint8).tofile(os.path.join(OUT, stem))
        with open(path, "rb") as f:
            mode = Image.open(f).mode
        cases.append(dict(file=name, expect="ok", rgb=stem, height=int(rgb.shape[0]),
                          width=int(rgb.shape[1]), pil_mode=mode, note=note, max_abs_diff=tolerance))

    def bad(name, data, reason):
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            pil_read_rgb(path)
            pil_error = None
        except Exception as e:  # noqa: BLE001 - recorded for the reader of the manifest
            pil_error = f"{type(e).__name__}: {e}".replace(path, name)
        assert pil_error is not None, f"PIL decoded {name}; it is meant to be a bad file"
        cases.append(dict(file=name, expect="error", reason=reason, pil_error=pil_error))

    def save(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    base = content(32, 48, 1)  # stored 48 wide x 32 high
    rgb = Image.fromarray(base)

    # EXIF orientation 1..8 (stored 48x32; 5..8 are reported as 32x48).
    for o in range(1, 9):
        ex = Image.Exif()
        ex[274] = o
        ok(f"orient{o}.jpg", save(rgb, "JPEG", quality=90, exif=ex.tobytes()), f"JPEG, EXIF orientation {o}")
    # Big-endian ("MM") TIFF header in EXIF, orientation 6, hand-made APP1.
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + struct.pack(">HHIHH", 274, 3, 1, 6, 0) + b"\x00" * 4
    j = save(rgb, "JPEG", quality=90)
    app1 = b"\xff\xe1" + struct.pack(">H", len(tiff) + 8) + b"Exif\x00\x00" + tiff
    ok("orient6_be.jpg", j[:2] + app1 + j[2:], "JPEG, big-endian EXIF, orientation 6")
    # Orientation only in XMP (PIL's getexif falls back to XMP tiff:Orientation).
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>')
    ns = b"http://ns.adobe.com/xap/1.0/\x00"
    app1x = b"\xff\xe1" + struct.pack(">H", len(ns) + len(xmp) + 2) + ns + xmp
    ok("orient8_xmp.jpg", j[:2] + app1x + j[2:], "JPEG, orientation 8 given only in XMP")
    # Garbage EXIF: PIL ignores it (Detectron2 catches getexif errors) -> no orientation.
    junk = b"\xff\xe1" + struct.pack(">H", 20) + b"Exif\x00\x00" + b"II*\x00\xff\xff\xff\x7f" + b"\x00" * 4
    ok("exif_garbage.jpg", j[:2] + junk + j[2:], "JPEG, EXIF with an IFD offset past the end")
    # PNG with an eXIf chunk, orientation 6.
    ex = Image.Exif()
    ex[274] = 6
    ok("orient6.png", save(rgb, "PNG", exif=ex.tobytes()), "PNG, eXIf orientation 6")

    # PNG colour types.
    ok("rgb.png", save(rgb, "PNG"), "RGB 8-bit")
    rgba = np.concatenate([base, np.full(base.shape[:2] + (1,), 255, np.uint8)], -1)
    ok("rgba_opaque.png", save(Image.fromarray(rgba), "PNG"), "RGBA, alpha 255: equals rgb.png")
    rgba[..., 3] = np.arange(48, dtype=np.uint8)[None, :] * 5
    ok("rgba.png", save(Image.fromarray(rgba), "PNG"), "RGBA, varying alpha: dropped, not composited")
    gray = base[..., 1]
    ok("gray.png", save(Image.fromarray(gray), "PNG"), "L 8-bit: replicated to 3 channels")
    ok("gray_as_rgb.png", save(Image.fromarray(np.repeat(gray[..., None], 3, -1)), "PNG"),
       "the gray.png pixels stored as RGB")
    la = np.stack([gray, 255 - gray], -1)
    ok("la.png", save(Image.fromarray(la, "LA"), "PNG"), "LA: alpha dropped")
    ok("palette.png", save(rgb.quantize(16), "PNG"), "P, 16 colours")
    pt = rgb.quantize(16)
    ok("palette_trns.png", save(pt, "PNG", transparency=3), "P with tRNS: transparency ignored")
    ok("bilevel.png", save(Image.fromarray(gray > 128), "PNG"), "1-bit")
    g4 = (gray >> 4).astype(np.uint8)
    rows4 = [bytes(((int(a) << 4) | int(b)) for a, b in zip(r[0::2], r[1::2])) for r in g4]
    ok("gray4.png", png_bytes(48, 32, 4, 0, rows4), "L 4-bit (scaled by 17)")
    v16 = (base.astype(np.uint16) * 257 + np.random.default_rng(2).integers(0, 257, base.shape)).astype(">u2")
    ok("rgb16.png", png_bytes(48, 32, 16, 2, [r.tobytes() for r in v16]), "RGB 16-bit: PIL keeps the high byte")
    v16a = np.concatenate([v16, np.full((32, 48, 1), 4000, ">u2")], -1)
    ok("rgba16.png", png_bytes(48, 32, 16, 6, [r.tobytes() for r in v16a]), "RGBA 16-bit: high byte, alpha dropped")
    g16 = np.concatenate([np.arange(0, 300, dtype=">u2"), np.array([65535, 1000, 256, 255, 254], ">u2")])
    g16 = np.resize(g16, (32, 48)).astype(">u2")
    ok("gray16.png", png_bytes(48, 32, 16, 0, [r.tobytes() for r in g16]),
       "L 16-bit: PIL opens as I;16 and convert('RGB') clips to 255 (not v >> 8)")

    # JPEG variants.
    ok("gray.jpg", save(Image.fromarray(gray), "JPEG", quality=90), "grayscale JPEG")
    odd = Image.fromarray(content(45, 67, 3))
    ok("rgb420_odd.jpg", save(odd, "JPEG", quality=85, subsampling=2), "4:2:0, odd size 67x45")
    ok("rgb422.jpg", save(odd, "JPEG", quality=85, subsampling=1), "4:2:2")
    ok("rgb444.jpg", save(odd, "JPEG", quality=95, subsampling=0), "4:4:4")
    ok("progressive.jpg", save(odd, "JPEG", quality=80, progressive=True), "progressive 4:2:0")
    ok("restart.jpg", save(odd, "JPEG", quality=80, restart_marker_blocks=2), "restart markers")
    cmyk = odd.convert("CMYK")
    ok("cmyk.jpg", save(cmyk, "JPEG", quality=90), "CMYK (Adobe, inverted) -> PIL cmyk2rgb")
    ok("ycck.jpg", ycck_jpeg_bytes(), "YCCK (Adobe transform 2) -> libjpeg CMYK -> inverted -> cmyk2rgb")
    ok("png_named.jpg", save(rgb, "PNG"), "a PNG named .jpg: format comes from content")

    # Bad files.
    full = save(Image.fromarray(content(64, 96, 4)), "JPEG", quality=90)
    bad("empty.jpg", b"", "0-byte file")
    bad("truncated.jpg", full[: len(full) // 2], "JPEG cut at half its bytes")
    bad("truncated.png", save(Image.fromarray(content(64, 96, 4)), "PNG")[:3000], "PNG cut inside IDAT")
    bad("no_eoi.jpg", full[:-2], "only the 2-byte EOI marker missing: PIL also calls it truncated")
    bad("text.jpg", b"This is not an image, just a text file named .jpg\n" * 3, "not an image")
    bad("huge.png", png_bytes(60000, 60000, 8, 2, [b"\x00" * 3]), "IHDR claims 60000x60000")
    sof = full.index(b"\xff\xc0")
    huge_jpg = bytearray(full)
    huge_jpg[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    bad("huge.jpg", bytes(huge_jpg), "SOF claims 60000x60000")

    try:  # cross-check the re-typed reader against detectron2's when it is importable
        sys.path.insert(0, "/work/d2src")
        from detectron2.data.detection_utils import read_image
        for c in cases:
            if c["expect"] == "ok":
                want = np.fromfile(os.path.join(OUT, c["rgb"]), np.uint8).reshape(c["height"], c["width"], 3)
                got = read_image(os.path.join(OUT, c["file"]), format="RGB")
                assert np.array_equal(got, want), c["file"]
        checked = "cross-checked with detectron2.data.detection_utils.read_image(format='RGB')"
    except ImportError:
        checked = "re-typed reader only (detectron2 not importable)"

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(dict(generator="tools/reference/make_image_fixtures.py",
                       command="python3 tools/reference/make_image_fixtures.py",
                       pillow=PIL.__version__, libjpeg_turbo=features.version("libjpeg_turbo"),
                       zlib=features.version("zlib"), reader=checked,
                       layout="*.rgb: uint8 HWC RGB raw, after EXIF orientation", cases=cases), f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(cases)} cases, {total / 1024:.0f} KiB; {checked}")


if __name__ == "__main__":
    main()
