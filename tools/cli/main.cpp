// maskrt command line: `maskrt infer`, `maskrt bench`, `maskrt eval`.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "core/build_info.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"maskrt: Detectron2 Mask R-CNN inference (CPU and CUDA), outputs equal to Detectron2's"};
  app.set_version_flag("--version", std::string("maskrt ") + MASKRT_VERSION + " (" + maskrt::build_git_commit() + ")");
  app.require_subcommand(1);
  maskrt::cli::InferArgs infer_args;
  CLI::App* infer = maskrt::cli::add_infer_command(app, infer_args);
  maskrt::cli::BenchArgs bench_args;
  CLI::App* bench = maskrt::cli::add_bench_command(app, bench_args);
  maskrt::cli::EvalArgs eval_args;
  CLI::App* eval = maskrt::cli::add_eval_command(app, eval_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help / the usage error
    return rc == 0 ? 0 : 2;      // usage errors share exit status 2 with other fatal errors
  }
  try {
    if (infer->parsed()) return maskrt::cli::run_infer(infer_args);
    if (bench->parsed()) return maskrt::cli::run_bench(bench_args);
    if (eval->parsed()) return maskrt::cli::run_eval(eval_args);
  } catch (const maskrt::Error& e) {
    std::fprintf(stderr, "maskrt: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // e.g. std::filesystem errors: still a clean message, never an abort
    std::fprintf(stderr, "maskrt: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
