#include "bench/system_info.h"
#include "core/build_info.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

namespace maskrt::bench {

namespace {
std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Value of the first "key : value" line whose key (trimmed) equals `key`; "" if none.
std::string cpuinfo_field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return "";
}
}  // namespace

std::string parse_cpu_model(const std::string& cpuinfo_text) {
  for (const char* key : {"model name", "Hardware", "CPU part"}) {
    std::string v = cpuinfo_field(cpuinfo_text, key);
    if (!v.empty()) return v;
  }
  return "unknown";
}

std::string maskrt_version() {
#ifdef MASKRT_VERSION
  return MASKRT_VERSION;
#else
  return "unknown";
#endif
}

std::string maskrt_git_commit() { return build_git_commit(); }

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

HostInfo collect_host_info() {
  HostInfo h;
  h.maskrt_version = maskrt_version();
  h.git_commit = maskrt_git_commit();
  std::ifstream f("/proc/cpuinfo");
  if (f) {
    std::ostringstream ss;
    ss << f.rdbuf();
    h.cpu_model = parse_cpu_model(ss.str());
  } else {
    h.cpu_model = "unknown";
  }
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpu_cores = n > 0 ? static_cast<int>(n) : 0;
  char host[256] = {0};
  h.hostname = gethostname(host, sizeof(host) - 1) == 0 ? std::string(host) : "unknown";
  h.date_utc = utc_now_iso8601();
  return h;
}

std::string maskrt_env_settings(const char* const* envp) {
  std::vector<std::string> set;
  for (const char* const* e = envp; e && *e; ++e)
    if (std::strncmp(*e, "MASKRT_", 7) == 0) set.emplace_back(*e);
  std::sort(set.begin(), set.end());
  std::string out;
  for (const std::string& s : set) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace maskrt::bench
