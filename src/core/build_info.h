#pragma once
// Build provenance recorded in reports (bench, RESULTS.json, --version).

namespace maskrt {
// Short git commit of the source tree at the last CMake run (re-run on every commit); "unknown"
// outside a git checkout.
const char* build_git_commit();
}  // namespace maskrt
