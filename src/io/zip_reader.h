#pragma once
// A small, bounds-checked reader for the zip archives written by torch.save (PyTorch >= 1.6).
//
// Why not libzip: the GPU machine does not have it, and torch.save's archives need very little of the
// format: the end-of-central-directory record (plus its zip64 variant), central-directory entries
// (with the zip64 extra field), and local headers to find where an entry's bytes start. torch.save
// writes entries "stored" (uncompressed, method 0) with a data descriptor (bit 3), so sizes are read
// from the central directory, never from local headers. Deflated entries (method 8, e.g. an archive
// re-packed by `zip`) are inflated with zlib. Other methods, encryption and multi-disk archives are
// rejected with kBadCheckpoint.
//
// Every offset and size read from the file is checked against the buffer before use; a corrupt or
// truncated archive raises maskrt::Error(kBadCheckpoint) with a message saying what was wrong (the
// caller prefixes the file name). CRC-32 of each entry is verified when it is read.
//
// Thread safety: a ZipReader is immutable after construction; read() may be called concurrently.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace maskrt {

// A view of bytes; `owned` keeps inflated data alive (null for stored entries, which point into the
// archive buffer).
struct ByteView {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const std::vector<uint8_t>> owned;
};

struct ZipEntry {
  std::string name;
  uint16_t method = 0;             // 0 stored, 8 deflate
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

class ZipReader {
 public:
  // `data` (size bytes) is the whole archive; it must outlive the reader and every ByteView of a
  // stored entry. Parses the central directory; throws kBadCheckpoint if it is malformed.
  ZipReader(const uint8_t* data, size_t size);
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr if absent; a name that occurs twice resolves to its first entry.
  const ZipEntry* find(const std::string& name) const;
  // The entry's uncompressed bytes (a view into the archive for stored entries). Throws
  // kBadCheckpoint on out-of-range offsets, bad local header, unsupported method, CRC mismatch.
  ByteView read(const ZipEntry& entry) const;

 private:
  const uint8_t* data_;
  size_t size_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace maskrt
