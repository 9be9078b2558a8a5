#pragma once
// Host facts recorded with every benchmark so a number can be traced to where and what produced it
// (llama-bench / trtexec style provenance). Everything here is best effort: a fact that cannot be
// read becomes "unknown" instead of an error. Thread-safe.
#include <string>

namespace maskrt::bench {

struct HostInfo {
  std::string maskrt_version;  // MASKRT_VERSION compile definition (CMake project version)
  std::string git_commit;      // MASKRT_GIT_COMMIT compile definition (short hash at configure time)
  std::string cpu_model;       // "model name" of /proc/cpuinfo
  int cpu_cores = 0;           // logical CPUs online (sysconf(_SC_NPROCESSORS_ONLN))
  std::string hostname;
  std::string date_utc;        // ISO 8601, e.g. "2026-11-03T14:05:09Z"
};

HostInfo collect_host_info();

// The value of the first "model name" line of a /proc/cpuinfo text (trimmed); falls back to
// "Hardware"/"CPU part" lines (some ARM kernels), else "unknown".
std::string parse_cpu_model(const std::string& cpuinfo_text);

std::string maskrt_version();
std::string maskrt_git_commit();
std::string utc_now_iso8601();

// The MASKRT_* environment switches in `envp` (a null-terminated "NAME=value" array such as environ),
// sorted by name and joined by spaces ("MASKRT_BACKBONE_BATCH=4 MASKRT_STEM_S2D=1"); "" when none is set.
// They change what is measured (conv paths, opt-in batching, graphs), so bench reports record them.
std::string maskrt_env_settings(const char* const* envp);

}  // namespace maskrt::bench
