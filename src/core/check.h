#pragma once
// Check macros. MASKRT_CHECK raises a maskrt::Error (user-caused failure, message required);
// MASKRT_ASSERT aborts with file and line (a broken invariant is a bug, not an input error).
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "maskrt/errors.h"

namespace maskrt::detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] inline void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "maskrt: internal error: %s:%d: assertion `%s` failed %s\n", file, line, expr, msg.c_str());
  std::abort();
}
}  // namespace maskrt::detail

// MASKRT_CHECK(cond, code, msg...) — msg parts are streamed together.
#define MASKRT_CHECK(cond, code, ...)                                                  \
  do {                                                                                  \
    if (!(cond)) throw ::maskrt::Error((code), ::maskrt::detail::concat(__VA_ARGS__)); \
  } while (0)
#define MASKRT_FAIL(code, ...) throw ::maskrt::Error((code), ::maskrt::detail::concat(__VA_ARGS__))
#define MASKRT_ASSERT(cond, ...)                                                                  \
  do {                                                                                             \
    if (!(cond)) ::maskrt::detail::assert_fail(#cond, __FILE__, __LINE__, ::maskrt::detail::concat("" __VA_OPT__(,) __VA_ARGS__)); \
  } while (0)
