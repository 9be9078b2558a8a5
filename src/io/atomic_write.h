// Output files that are either written completely or not touched at all.
//
// A failed write (disk full, a file-size limit, an I/O error, a kill mid-write) must neither leave a
// truncated file at the destination nor destroy the file that was there before. The bytes therefore
// go to a temporary file beside the destination (same folder, so the final rename(2) is atomic on a
// POSIX file system), which replaces the destination only after every byte was written and the file
// was closed without error. On any failure the temporary file is removed and maskrt::Error (kIo)
// names the destination and the reason (strerror). A destination that exists and is not a regular
// file (/dev/stdout, a FIFO, /dev/full) is written in place: renaming over it would replace the
// device node or pipe.
//
// Thread safety: distinct destinations may be written from several threads at once (the temporary
// name carries the process id and a process-wide counter).
#pragma once

#include <functional>
#include <string>

namespace maskrt::io {

// "<destination>.maskrt-tmp-<pid>-<n>": the temporary file write_atomically() uses.
std::string temporary_path_for(const std::string& destination);

// Writes `bytes` to `destination` as described above.
void write_file_atomically(const std::string& destination, const std::string& bytes);

// For writers that open the file themselves (libpng): calls write_to(path) with a temporary path
// (or with the destination itself when it is not a regular file), then renames it over the
// destination. If write_to throws, the temporary file is removed and the exception propagates.
void replace_atomically(const std::string& destination, const std::function<void(const std::string& path)>& write_to);

}  // namespace maskrt::io
