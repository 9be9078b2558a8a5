// io/atomic_write.h: a destination is either replaced by the complete new bytes or left as it was.
// Oracle: the file system itself (contents read back, directory listings), and a write cut by a
// file-size limit (RLIMIT_FSIZE, as a full disk would cut it) in a child process.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "io/atomic_write.h"
#include "maskrt/errors.h"

namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream is(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(is), {});
}

size_t entries(const fs::path& d) {
  size_t n = 0;
  for (auto it = fs::directory_iterator(d); it != fs::directory_iterator(); ++it) ++n;
  return n;
}

TEST(AtomicWrite, CreatesAndReplacesWithTheWholeContent) {
  const fs::path d = fresh("maskrt_atomic_write_replace");
  const std::string dest = (d / "out.json").string();
  maskrt::io::write_file_atomically(dest, "first");
  EXPECT_EQ(read(dest), "first");
  std::string big(3 << 20, 'x');
  big[12345] = 'y';
  maskrt::io::write_file_atomically(dest, big);
  EXPECT_EQ(read(dest), big);
  maskrt::io::write_file_atomically(dest, "");
  EXPECT_EQ(read(dest), "");
  EXPECT_EQ(entries(d), 1u) << "a temporary file was left behind";
}

TEST(AtomicWrite, UnopenableDestinationNamesItAndCreatesNothing) {
  const fs::path d = fresh("maskrt_atomic_write_missing_dir");
  const std::string dest = (d / "no_such_folder" / "out.json").string();
  try {
    maskrt::io::write_file_atomically(dest, "x");
    FAIL() << "writing into a missing folder succeeded";
  } catch (const maskrt::Error& e) {
    EXPECT_EQ(e.code(), maskrt::ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find(dest), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(d), 0u);
}

// A write cut half-way: the previous content survives and no temporary file remains. Run in a child
// so that the file-size limit and the ignored SIGXFSZ do not touch the test process.
TEST(AtomicWrite, WriteCutByAFileSizeLimitKeepsThePreviousFile) {
  const fs::path d = fresh("maskrt_atomic_write_cut");
  const std::string dest = (d / "out.json").string();
  maskrt::io::write_file_atomically(dest, "previous");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing the process
    rlimit lim{64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    int code = 3;
    try {
      maskrt::io::write_file_atomically(dest, std::string(1 << 20, 'z'));
      code = 1;  // should have failed
    } catch (const maskrt::Error& e) {
      const std::string what = e.what();
      code = what.find(dest) != std::string::npos && what.find("write failed") != std::string::npos ? 0 : 2;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the cut write succeeded; 2: the error did not name the file";
  EXPECT_EQ(read(dest), "previous");
  EXPECT_EQ(entries(d), 1u) << "a temporary file was left behind";
}

// A destination that is not a regular file is written in place, not renamed over.
TEST(AtomicWrite, SpecialFilesAreWrittenInPlace) {
  maskrt::io::write_file_atomically("/dev/null", "discarded");
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

}  // namespace
