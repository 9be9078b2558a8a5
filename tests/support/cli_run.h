#pragma once
// Running the `maskrt` command line from e2e tests (test-only helpers). MASKRT_CLI_PATH is the
// built CLI, defined for every test target by tests/CMakeLists.txt.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace maskrt::testing {

// Runs `maskrt ARGS` with stdout and stderr into `log`; the exit status, or -1 when it did not exit.
inline int run(const std::string& args, const std::filesystem::path& log) {
  const std::string cmd = std::string(MASKRT_CLI_PATH) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream is(p);
  return std::string(std::istreambuf_iterator<char>(is), {});
}

// An empty directory of that name under the system's temporary directory.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path d = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace maskrt::testing
