// JPEG / PNG decoding and PNG writing (see image_io.h for the rules and their Pillow sources).
//
// libjpeg and libpng report errors by longjmp from our handlers. Each protected region is a function
// whose frame holds no object with a destructor; buffers live in a context struct owned by the
// caller, so a longjmp skips no C++ destructor.
#include "io/image_io.h"

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

// clang-format off
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
// clang-format on

#include "core/check.h"
#include "io/atomic_write.h"
#include "io/exif.h"

namespace maskrt {
namespace io {
namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& name, const std::string& reason) {
  throw Error(code, name + ": " + reason);
}

void check_size(const std::string& name, int64_t w, int64_t h, int64_t max_pixels, const char* what) {
  if (w <= 0 || h <= 0) fail(ErrorCode::kBadImage, name, std::string(what) + " header has a zero size");
  if (w * h > max_pixels) {
    fail(ErrorCode::kBadImage, name,
         detail::concat(what, " header claims ", w, "x", h, " pixels (", w * h,
                        "), more than the limit of ", max_pixels, " pixels; refusing to allocate"));
  }
}

// ---------------------------------------------------------------------------------------------- JPEG

struct JpegCtx {
  jpeg_decompress_struct cinfo;
  struct Err {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool truncated;
  } err;
  int64_t max_pixels = 0;
  bool too_big = false;
  bool bad_components = false;
  std::vector<uint8_t> raw;    // (H, W, out_color_components) as libjpeg delivers
  std::vector<uint8_t> exif;   // APP1 "Exif\0\0" payloads concatenated (Pillow), header stripped
  std::vector<uint8_t> xmp;    // last APP1 XMP packet
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegCtx::Err*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
  auto* err = reinterpret_cast<JpegCtx::Err*>(cinfo->err);
  if (msg_level < 0) {
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {  // data ran out: Pillow calls this truncated
      err->truncated = true;
      (*cinfo->err->format_message)(cinfo, err->message);
      std::longjmp(err->jump, 1);
    }
  }
}

void jpeg_silent(j_common_ptr) {}

// Runs inside setjmp protection: no locals with destructors.
void jpeg_decode_body(JpegCtx& c, const uint8_t* data, size_t size) {
  jpeg_mem_src(&c.cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&c.cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&c.cinfo, TRUE);
  if (int64_t(c.cinfo.image_width) * c.cinfo.image_height > c.max_pixels) {
    c.too_big = true;
    return;
  }
  switch (c.cinfo.num_components) {  // Pillow: layers 1 -> "L", 3 -> "RGB", 4 -> "CMYK"
    case 1: c.cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: c.cinfo.out_color_space = JCS_RGB; break;
    case 4: c.cinfo.out_color_space = JCS_CMYK; break;
    default: c.bad_components = true; return;
  }
  c.cinfo.dct_method = JDCT_ISLOW;
  c.cinfo.do_fancy_upsampling = TRUE;
  for (jpeg_saved_marker_ptr m = c.cinfo.marker_list; m != nullptr; m = m->next) {
    static const uint8_t kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
    static const char kXmp[] = "http://ns.adobe.com/xap/1.0/";  // followed by a NUL
    if (m->data_length >= 6 && std::memcmp(m->data, kExif, 6) == 0) {
      c.exif.insert(c.exif.end(), m->data + 6, m->data + m->data_length);
    } else if (m->data_length >= sizeof(kXmp) && std::memcmp(m->data, kXmp, sizeof(kXmp)) == 0) {
      c.xmp.assign(m->data + sizeof(kXmp), m->data + m->data_length);
    }
  }
  jpeg_start_decompress(&c.cinfo);
  const size_t stride = size_t(c.cinfo.output_width) * c.cinfo.output_components;
  c.raw.resize(stride * c.cinfo.output_height);
  while (c.cinfo.output_scanline < c.cinfo.output_height) {
    JSAMPROW row = c.raw.data() + stride * c.cinfo.output_scanline;
    jpeg_read_scanlines(&c.cinfo, &row, 1);
  }
  jpeg_finish_decompress(&c.cinfo);
}

bool jpeg_decode_protected(JpegCtx& c, const uint8_t* data, size_t size) {
  if (setjmp(c.err.jump)) return false;
  jpeg_decode_body(c, data, size);
  return true;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels) {
  auto c = std::make_unique<JpegCtx>();
  c->max_pixels = max_pixels;
  c->cinfo.err = jpeg_std_error(&c->err.pub);
  c->err.pub.error_exit = jpeg_error_exit;
  c->err.pub.emit_message = jpeg_emit_message;
  c->err.pub.output_message = jpeg_silent;
  c->err.truncated = false;
  c->err.message[0] = '\0';
  jpeg_create_decompress(&c->cinfo);
  struct Destroy {
    jpeg_decompress_struct* p;
    ~Destroy() { jpeg_destroy_decompress(p); }
  } destroy{&c->cinfo};

  const bool ok = jpeg_decode_protected(*c, data, size);
  if (!ok && c->err.truncated)
    fail(ErrorCode::kBadImage, name, std::string("truncated JPEG (") + c->err.message + ")");
  if (!ok) fail(ErrorCode::kBadImage, name, std::string("corrupt JPEG: ") + c->err.message);
  if (c->too_big) check_size(name, c->cinfo.image_width, c->cinfo.image_height, max_pixels, "JPEG");
  if (c->bad_components)
    fail(ErrorCode::kBadImage, name, detail::concat("unsupported JPEG with ", c->cinfo.num_components, " components"));

  Image img;
  img.width = int(c->cinfo.output_width);
  img.height = int(c->cinfo.output_height);
  const size_t n = size_t(img.width) * img.height;
  img.pixels.resize(n * 3);
  const uint8_t* s = c->raw.data();
  uint8_t* d = img.pixels.data();
  switch (c->cinfo.output_components) {
    case 1:
      for (size_t i = 0; i < n; ++i) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
      break;
    case 3:
      std::memcpy(d, s, n * 3);
      break;
    default:  // 4: CMYK. Pillow: unpack "CMYK;I" (invert), then cmyk2rgb.
      for (size_t i = 0; i < n; ++i) {
        const int nk = s[4 * i + 3];  // 255 - (255 - k)
        for (int ch = 0; ch < 3; ++ch) {
          const int v = 255 - s[4 * i + ch];
          const int t = v * nk + 128;
          const int q = nk - (((t >> 8) + t) >> 8);
          d[3 * i + ch] = uint8_t(q <= 0 ? 0 : (q > 255 ? 255 : q));
        }
      }
      break;
  }
  int orientation = exif_orientation(c->exif.data(), c->exif.size());
  if (orientation < 0) orientation = xmp_orientation(c->xmp.data(), c->xmp.size());
  apply_exif_orientation(img, orientation);
  return img;
}

// ----------------------------------------------------------------------------------------------- PNG

struct PngCtx {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[256] = {0};
  int64_t max_pixels = 0;
  bool too_big = false;
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, channels = 0;
  std::vector<uint8_t> raw;               // rows after libpng's transforms
  std::vector<png_bytep> rows;
  std::vector<uint8_t> exif, xmp;
};

void png_error_fn(png_structp png, png_const_charp msg) {
  auto* c = static_cast<PngCtx*>(png_get_error_ptr(png));
  std::snprintf(c->message, sizeof(c->message), "%s", msg);
  png_longjmp(png, 1);
}

void png_warning_fn(png_structp, png_const_charp) {}

void png_read_fn(png_structp png, png_bytep out, size_t n) {
  auto* c = static_cast<PngCtx*>(png_get_io_ptr(png));
  if (c->size - c->pos < n) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, c->data + c->pos, n);
  c->pos += n;
}

void png_collect_metadata(PngCtx& c) {
  png_uint_32 n = 0;
  png_bytep exif = nullptr;
  if (c.exif.empty() && png_get_eXIf_1(c.png, c.info, &n, &exif) && exif != nullptr && n > 0)
    c.exif.assign(exif, exif + n);
  png_textp text = nullptr;
  int num_text = 0;
  if (png_get_text(c.png, c.info, &text, &num_text) > 0) {
    for (int i = 0; i < num_text; ++i) {
      if (std::strcmp(text[i].key, "XML:com.adobe.xmp") != 0) continue;
      const size_t len = text[i].itxt_length ? text[i].itxt_length : text[i].text_length;
      c.xmp.assign(reinterpret_cast<uint8_t*>(text[i].text), reinterpret_cast<uint8_t*>(text[i].text) + len);
    }
  }
}

// Runs inside setjmp protection: no locals with destructors.
void png_decode_body(PngCtx& c) {
  png_set_read_fn(c.png, &c, png_read_fn);
  png_read_info(c.png, c.info);
  png_get_IHDR(c.png, c.info, &c.width, &c.height, &c.bit_depth, &c.color_type, nullptr, nullptr, nullptr);
  if (int64_t(c.width) * c.height > c.max_pixels) {
    c.too_big = true;
    return;
  }
  png_collect_metadata(c);
  if (c.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(c.png);
  if (c.color_type == PNG_COLOR_TYPE_GRAY && c.bit_depth < 8) png_set_expand_gray_1_2_4_to_8(c.png);
  png_set_interlace_handling(c.png);
  png_read_update_info(c.png, c.info);
  c.channels = png_get_channels(c.png, c.info);
  c.bit_depth = png_get_bit_depth(c.png, c.info);
  const size_t stride = png_get_rowbytes(c.png, c.info);
  c.raw.resize(stride * c.height);
  c.rows.resize(c.height);
  for (png_uint_32 y = 0; y < c.height; ++y) c.rows[y] = c.raw.data() + stride * y;
  png_read_image(c.png, c.rows.data());
}

bool png_decode_protected(PngCtx& c) {
  if (setjmp(png_jmpbuf(c.png))) return false;
  png_decode_body(c);
  return true;
}

// Chunks after the image data (eXIf may follow IDAT; Pillow's getexif loads the whole file). A
// broken tail after complete pixel data is ignored.
void png_read_tail(PngCtx& c) {
  if (setjmp(png_jmpbuf(c.png))) return;
  png_read_end(c.png, c.info);
  png_collect_metadata(c);
}

Image decode_png(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels) {
  auto c = std::make_unique<PngCtx>();
  c->data = data;
  c->size = size;
  c->max_pixels = max_pixels;
  c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c.get(), png_error_fn, png_warning_fn);
  if (c->png == nullptr) fail(ErrorCode::kOutOfMemory, name, "cannot create a PNG decoder");
  c->info = png_create_info_struct(c->png);
  struct Destroy {
    PngCtx* c;
    ~Destroy() { png_destroy_read_struct(&c->png, c->info ? &c->info : nullptr, nullptr); }
  } destroy{c.get()};
  if (c->info == nullptr) fail(ErrorCode::kOutOfMemory, name, "cannot create a PNG decoder");

  if (!png_decode_protected(*c)) {
    const bool trunc = std::strstr(c->message, "truncated") != nullptr;
    fail(ErrorCode::kBadImage, name, std::string(trunc ? "truncated PNG: " : "corrupt PNG: ") + c->message);
  }
  if (c->too_big) check_size(name, c->width, c->height, max_pixels, "PNG");
  png_read_tail(*c);

  Image img;
  img.width = int(c->width);
  img.height = int(c->height);
  const size_t n = size_t(img.width) * img.height;
  img.pixels.resize(n * 3);
  uint8_t* d = img.pixels.data();
  const int ch = c->channels;
  const bool gray16 = c->bit_depth == 16 && c->color_type == PNG_COLOR_TYPE_GRAY;
  const bool gray = ch <= 2;  // gray or gray + alpha
  for (png_uint_32 y = 0; y < c->height; ++y) {
    const uint8_t* row = c->rows[y];
    for (png_uint_32 x = 0; x < c->width; ++x) {
      uint8_t v[3];
      for (int k = 0; k < (gray ? 1 : 3); ++k) {
        if (c->bit_depth == 16) {
          const uint8_t* p = row + (size_t(x) * ch + k) * 2;  // big-endian
          // Pillow: "I;16" -> RGB clips; "RGB;16B"/"RGBA;16B"/"LA;16B" keep the high byte.
          v[k] = gray16 ? (p[0] != 0 ? 255 : p[1]) : p[0];
        } else {
          v[k] = row[size_t(x) * ch + k];
        }
      }
      if (gray) v[1] = v[2] = v[0];
      std::memcpy(d + (size_t(y) * img.width + x) * 3, v, 3);
    }
  }
  int orientation = exif_orientation(c->exif.data(), c->exif.size());
  if (orientation < 0) orientation = xmp_orientation(c->xmp.data(), c->xmp.size());
  apply_exif_orientation(img, orientation);
  return img;
}

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kTiff: return "TIFF";
    default: return "unknown";
  }
}

}  // namespace

ImageFormat detect_image_format(const uint8_t* d, size_t n) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::kJpeg;
  if (n >= 8 && std::memcmp(d, kPng, 8) == 0) return ImageFormat::kPng;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::kGif;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::kBmp;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::kWebp;
  if (n >= 4 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0)) return ImageFormat::kTiff;
  return ImageFormat::kUnknown;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels) {
  if (size == 0) fail(ErrorCode::kBadImage, name, "empty file (0 bytes)");
  const ImageFormat f = detect_image_format(data, size);
  switch (f) {
    case ImageFormat::kJpeg: return decode_jpeg(data, size, name, max_pixels);
    case ImageFormat::kPng: return decode_png(data, size, name, max_pixels);
    case ImageFormat::kUnknown:
      fail(ErrorCode::kBadImage, name,
           detail::concat("not a JPEG or PNG image (unrecognised content in the first bytes; ", size,
                          " bytes)"));
    default:
      fail(ErrorCode::kBadImage, name,
           std::string("unsupported image format ") + format_name(f) + " (maskrt reads JPEG and PNG)");
  }
}

}  // namespace io

Image read_image(const std::string& path, int64_t max_pixels) {
  std::error_code dir_ec;  // a directory opens and seeks to a huge "size" on Linux (was std::bad_alloc)
  if (std::filesystem::is_directory(path, dir_ec)) io::fail(ErrorCode::kIo, path, "is a directory, not an image file");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) io::fail(ErrorCode::kIo, path, std::string("cannot open: ") + std::strerror(errno));
  const std::streamoff size = file.tellg();
  if (size < 0) io::fail(ErrorCode::kIo, path, "cannot read (is it a directory?)");
  std::vector<uint8_t> data(static_cast<size_t>(size));
  file.seekg(0);
  if (size > 0 && !file.read(reinterpret_cast<char*>(data.data()), size))
    io::fail(ErrorCode::kIo, path, "read error");
  return io::decode_image(data.data(), data.size(), path, max_pixels);
}

// ------------------------------------------------------------------------------------------ write_png

namespace {
struct PngWriteCtx {
  png_structp png = nullptr;
  png_infop info = nullptr;
  FILE* fp = nullptr;
  char message[256] = {0};
  std::vector<png_bytep> rows;
};

bool png_write_protected(PngWriteCtx& c, const Image& image) {
  if (setjmp(png_jmpbuf(c.png))) return false;
  png_init_io(c.png, c.fp);
  png_set_IHDR(c.png, c.info, png_uint_32(image.width), png_uint_32(image.height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(c.png, c.info);
  if (image.channel_order == ChannelOrder::kBGR) png_set_bgr(c.png);
  png_write_image(c.png, c.rows.data());
  png_write_end(c.png, nullptr);
  return true;
}

void png_write_error_fn(png_structp png, png_const_charp msg) {
  auto* c = static_cast<PngWriteCtx*>(png_get_error_ptr(png));
  std::snprintf(c->message, sizeof(c->message), "%s", msg);
  png_longjmp(png, 1);
}
}  // namespace

// Writes the PNG to `target`; errors name `path` (the destination the user asked for).
static void write_png_file(const std::string& target, const std::string& path, const Image& image) {
  PngWriteCtx c;
  c.fp = std::fopen(target.c_str(), "wb");
  if (c.fp == nullptr) io::fail(ErrorCode::kIo, path, std::string("cannot open for writing: ") + std::strerror(errno));
  c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_write_error_fn, io::png_warning_fn);
  c.info = c.png ? png_create_info_struct(c.png) : nullptr;
  c.rows.resize(image.height);
  for (int y = 0; y < image.height; ++y)
    c.rows[y] = const_cast<png_bytep>(image.pixels.data() + size_t(y) * image.width * 3);
  const bool ok = c.png && c.info && png_write_protected(c, image);
  png_destroy_write_struct(&c.png, &c.info);
  const bool closed = std::fclose(c.fp) == 0;
  if (!ok) io::fail(ErrorCode::kIo, path, std::string("PNG write failed: ") + c.message);
  if (!closed) io::fail(ErrorCode::kIo, path, "write failed while closing the file");
}

void write_png(const std::string& path, const Image& image) {
  MASKRT_CHECK(!image.empty() && image.pixels.size() == size_t(image.height) * image.width * 3,
               ErrorCode::kInvalidArgument, path, ": write_png needs a non-empty HxWx3 image, got ",
               image.height, "x", image.width, " with ", image.pixels.size(), " bytes");
  // All or nothing: libpng writes a temporary file that replaces `path` only when complete
  // (io/atomic_write.h), so a full disk leaves no truncated picture behind.
  io::replace_atomically(path, [&](const std::string& target) { write_png_file(target, path, image); });
}

}  // namespace maskrt
