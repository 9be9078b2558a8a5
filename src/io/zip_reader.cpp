#include "io/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/check.h"

namespace maskrt {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
// Deflate cannot expand more than ~1032:1; a larger declared size is a lie, not a real entry.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return static_cast<uint64_t>(rd32(p)) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

// True if [off, off + len) lies inside a buffer of `size` bytes (overflow-safe).
bool in_range(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

}  // namespace

ZipReader::ZipReader(const uint8_t* data, size_t size) : data_(data), size_(size) {
  MASKRT_CHECK(size >= kEocdSize, ErrorCode::kBadCheckpoint, "zip archive too short (", size, " bytes) for an end-of-central-directory record");
  // The end-of-central-directory record sits in the last 22 + 65535 (max comment) bytes.
  size_t lowest = size > kEocdSize + 0xFFFF ? size - kEocdSize - 0xFFFF : 0;
  size_t eocd = std::numeric_limits<size_t>::max();
  for (size_t pos = size - kEocdSize + 1; pos-- > lowest;) {
    if (rd32(data + pos) == kEocdSig && pos + kEocdSize + rd16(data + pos + 20) <= size) {
      eocd = pos;
      break;
    }
  }
  MASKRT_CHECK(eocd != std::numeric_limits<size_t>::max(), ErrorCode::kBadCheckpoint,
               "zip end-of-central-directory record not found (truncated or not a zip archive)");
  const uint8_t* e = data + eocd;
  uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
  uint64_t count = rd16(e + 10);
  uint64_t cd_size = rd32(e + 12), cd_offset = rd32(e + 16);
  // zip64: a locator right before the EOCD points at the zip64 EOCD record with 64-bit fields.
  if (eocd >= kZip64LocatorSize && rd32(data + eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    uint64_t z64 = rd64(data + eocd - kZip64LocatorSize + 8);
    MASKRT_CHECK(in_range(z64, kZip64EocdSize, size) && rd32(data + z64) == kZip64EocdSig, ErrorCode::kBadCheckpoint,
                 "zip64 end-of-central-directory record missing or out of range (offset ", z64, ")");
    const uint8_t* z = data + z64;
    disk = rd32(z + 16);
    cd_disk = rd32(z + 20);
    count = rd64(z + 32);
    cd_size = rd64(z + 40);
    cd_offset = rd64(z + 48);
  } else {
    MASKRT_CHECK(count != 0xFFFF && cd_size != 0xFFFFFFFFu && cd_offset != 0xFFFFFFFFu, ErrorCode::kBadCheckpoint,
                 "zip archive needs zip64 fields but has no zip64 end-of-central-directory locator");
  }
  MASKRT_CHECK(disk == 0 && cd_disk == 0, ErrorCode::kBadCheckpoint, "multi-disk zip archives are not supported");
  MASKRT_CHECK(in_range(cd_offset, cd_size, size), ErrorCode::kBadCheckpoint, "zip central directory (offset ", cd_offset,
               ", size ", cd_size, ") lies outside the file (", size, " bytes): truncated?");
  MASKRT_CHECK(count <= cd_size / kCentralHeaderSize, ErrorCode::kBadCheckpoint, "zip central directory claims ", count,
               " entries but is only ", cd_size, " bytes");
  entries_.reserve(static_cast<size_t>(count));
  uint64_t pos = cd_offset, end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    MASKRT_CHECK(in_range(pos, kCentralHeaderSize, end) && rd32(data + pos) == kCentralHeaderSig,
                 ErrorCode::kBadCheckpoint, "zip central directory entry ", i, " is malformed (offset ", pos, ")");
    const uint8_t* c = data + pos;
    ZipEntry ent;
    ent.flags = rd16(c + 8);
    ent.method = rd16(c + 10);
    ent.crc32 = rd32(c + 16);
    ent.compressed_size = rd32(c + 20);
    ent.uncompressed_size = rd32(c + 24);
    uint16_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    uint32_t disk_start = rd16(c + 34);
    ent.local_header_offset = rd32(c + 42);
    uint64_t var_len = uint64_t{name_len} + extra_len + comment_len;
    MASKRT_CHECK(in_range(pos + kCentralHeaderSize, var_len, end), ErrorCode::kBadCheckpoint,
                 "zip central directory entry ", i, " overruns the directory");
    ent.name.assign(reinterpret_cast<const char*>(c + kCentralHeaderSize), name_len);
    // zip64 extended information: 8-byte fields present, in this order, only for saturated values.
    const uint8_t* x = c + kCentralHeaderSize + name_len;
    const uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      uint16_t id = rd16(x), len = rd16(x + 2);
      MASKRT_CHECK(x_end - (x + 4) >= len, ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' has a malformed extra field");
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        const uint8_t* f_end = f + len;
        auto take64 = [&](uint64_t& v) {
          MASKRT_CHECK(f_end - f >= 8, ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' has a short zip64 extra field");
          v = rd64(f);
          f += 8;
        };
        if (ent.uncompressed_size == 0xFFFFFFFFu) take64(ent.uncompressed_size);
        if (ent.compressed_size == 0xFFFFFFFFu) take64(ent.compressed_size);
        if (ent.local_header_offset == 0xFFFFFFFFu) take64(ent.local_header_offset);
        if (disk_start == 0xFFFF) {
          MASKRT_CHECK(f_end - f >= 4, ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' has a short zip64 extra field");
          disk_start = rd32(f);
        }
      }
      x += 4 + len;
    }
    MASKRT_CHECK(disk_start == 0, ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' is on another disk");
    index_.emplace(ent.name, entries_.size());  // a duplicated name keeps its first entry
    entries_.push_back(std::move(ent));
    pos += kCentralHeaderSize + var_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

ByteView ZipReader::read(const ZipEntry& ent) const {
  const uint64_t off = ent.local_header_offset;
  MASKRT_CHECK(in_range(off, kLocalHeaderSize, size_) && rd32(data_ + off) == kLocalHeaderSig, ErrorCode::kBadCheckpoint,
               "zip entry '", ent.name, "': local header missing or out of range (offset ", off, ")");
  MASKRT_CHECK((ent.flags & 1) == 0, ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' is encrypted");
  const uint8_t* l = data_ + off;
  uint64_t start = off + kLocalHeaderSize + rd16(l + 26) + rd16(l + 28);
  MASKRT_CHECK(in_range(start, ent.compressed_size, size_), ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' (",
               ent.compressed_size, " bytes at offset ", start, ") extends past the end of the file (", size_,
               " bytes): truncated?");
  ByteView out;
  if (ent.method == 0) {
    MASKRT_CHECK(ent.compressed_size == ent.uncompressed_size, ErrorCode::kBadCheckpoint, "zip entry '", ent.name,
                 "' is stored but its compressed and uncompressed sizes differ");
    out.data = data_ + start;
    out.size = static_cast<size_t>(ent.uncompressed_size);
  } else if (ent.method == 8) {
    MASKRT_CHECK(ent.uncompressed_size <= ent.compressed_size * kMaxDeflateRatio + 1024, ErrorCode::kBadCheckpoint,
                 "zip entry '", ent.name, "' declares an impossible deflate ratio (", ent.compressed_size, " -> ",
                 ent.uncompressed_size, " bytes)");
    auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(ent.uncompressed_size));
    z_stream zs;
    std::memset(&zs, 0, sizeof(zs));
    MASKRT_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, ErrorCode::kInternal, "zlib inflateInit2 failed");
    uint64_t in_left = ent.compressed_size, out_left = ent.uncompressed_size;
    const uint8_t* in = data_ + start;
    uint8_t* dst = buf->data();
    int rc = Z_OK;
    // zlib counts in uInt (32-bit); feed and drain in chunks.
    while (rc == Z_OK) {
      const uInt in_chunk = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
      const uInt out_chunk = static_cast<uInt>(std::min<uint64_t>(out_left, 1u << 30));
      zs.next_in = const_cast<Bytef*>(in);
      zs.avail_in = in_chunk;
      zs.next_out = dst;
      zs.avail_out = out_chunk;
      rc = inflate(&zs, Z_NO_FLUSH);
      const uInt used = in_chunk - zs.avail_in, produced = out_chunk - zs.avail_out;
      in += used;
      in_left -= used;
      dst += produced;
      out_left -= produced;
      if (rc == Z_OK && used == 0 && produced == 0) rc = Z_BUF_ERROR;  // no progress possible
    }
    inflateEnd(&zs);
    MASKRT_CHECK(rc == Z_STREAM_END && out_left == 0, ErrorCode::kBadCheckpoint, "zip entry '", ent.name,
                 "': deflate data is corrupt or has the wrong size (zlib status ", rc, ")");
    out.data = buf->data();
    out.size = buf->size();
    out.owned = std::move(buf);
  } else {
    MASKRT_FAIL(ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "' uses compression method ", ent.method,
                " (only stored and deflate are supported)");
  }
  const uLong crc = crc32_z(crc32(0L, Z_NULL, 0), out.data, out.size);
  MASKRT_CHECK(crc == ent.crc32, ErrorCode::kBadCheckpoint, "zip entry '", ent.name, "': CRC-32 mismatch (corrupt data)");
  return out;
}

}  // namespace maskrt
