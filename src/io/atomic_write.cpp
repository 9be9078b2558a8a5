#include "io/atomic_write.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/check.h"

namespace maskrt::io {
namespace fs = std::filesystem;

namespace {
// True when the destination exists and is something other than a regular file (or a link to one).
bool is_special(const std::string& destination) {
  std::error_code ec;
  const fs::file_status st = fs::status(destination, ec);
  return !ec && fs::exists(st) && !fs::is_regular_file(st);
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}
}  // namespace

std::string temporary_path_for(const std::string& destination) {
  static std::atomic<unsigned> counter{0};
  return destination + ".maskrt-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void replace_atomically(const std::string& destination, const std::function<void(const std::string& path)>& write_to) {
  if (is_special(destination)) {
    write_to(destination);
    return;
  }
  const std::string tmp = temporary_path_for(destination);
  try {
    write_to(tmp);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
  if (std::rename(tmp.c_str(), destination.c_str()) != 0) {
    const int err = errno;
    remove_quietly(tmp);
    MASKRT_FAIL(ErrorCode::kIo, destination, ": cannot replace it with the written file (", std::strerror(err), ")");
  }
}

void write_file_atomically(const std::string& destination, const std::string& bytes) {
  replace_atomically(destination, [&](const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr)
      MASKRT_FAIL(ErrorCode::kIo, destination, ": cannot open for writing (", std::strerror(errno), ")");
    const size_t written = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
    const int write_err = written == bytes.size() ? 0 : errno;
    const bool flushed = std::fflush(f) == 0;
    const int flush_err = flushed ? 0 : errno;
    const bool closed = std::fclose(f) == 0;
    const int close_err = closed ? 0 : errno;
    const int err = write_err ? write_err : flush_err ? flush_err : close_err;
    if (written != bytes.size() || !flushed || !closed)
      MASKRT_FAIL(ErrorCode::kIo, destination, ": write failed after ", written, " of ", bytes.size(), " bytes (",
                  err ? std::strerror(err) : "unknown error", ")");
  });
}

}  // namespace maskrt::io
