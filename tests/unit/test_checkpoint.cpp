// Checkpoint readers (io/checkpoint.h) against fixtures written by
// tools/reference/make_checkpoint_fixtures.py: numpy / torch made the files and recorded the values
// (numpy's astype(float32)) in expected.json, the independent oracle. Also: hand-made corrupt files
// with specific defects, and a fuzz pass (truncation at every offset, random byte flips) asserting
// that the reader either succeeds or throws maskrt::Error, never anything else.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/pickle.h"

namespace maskrt {
namespace {

const std::string kDir = std::string(MASKRT_TEST_DATA) + "/unit/data/checkpoint/";

std::vector<uint8_t> read_bytes(const std::string& name) {
  std::ifstream f(kDir + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

nlohmann::json expected() {
  std::ifstream f(kDir + "expected.json");
  return nlohmann::json::parse(f);
}

// Runs the loader on a buffer; returns "" on success, the message on maskrt::Error, and records a
// failure for any other exception.
std::string try_load(const std::vector<uint8_t>& bytes, ErrorCode* code = nullptr) {
  try {
    load_checkpoint_from_memory(bytes.data(), bytes.size(), "mem.pth");
    return "";
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-maskrt exception: " << e.what();
    return "other";
  }
}

size_t find_bytes(const std::vector<uint8_t>& hay, const std::string& needle, size_t from = 0) {
  auto it = std::search(hay.begin() + static_cast<std::ptrdiff_t>(from), hay.end(), needle.begin(), needle.end());
  return it == hay.end() ? std::string::npos : static_cast<size_t>(it - hay.begin());
}

// ---- values against numpy / torch ---------------------------------------------------------------

TEST(Checkpoint, MatchesNumpyAndTorchExactly) {
  const auto exp = expected();
  ASSERT_GE(exp["files"].size(), 13u);
  for (const auto& [file, info] : exp["files"].items()) {
    SCOPED_TRACE(file);
    const auto got = load_checkpoint(kDir + file);
    const auto& tensors = info["tensors"];
    EXPECT_EQ(got.size(), tensors.size());  // exactly these names: nothing from optimizer / __author__
    for (const auto& [name, t] : tensors.items()) {
      SCOPED_TRACE(name);
      auto it = got.find(name);
      ASSERT_NE(it, got.end());
      const CheckpointTensor& ct = it->second;
      EXPECT_EQ(ct.src_dtype, t["dtype"].get<std::string>());
      EXPECT_EQ(ct.value.shape(), t["shape"].get<Shape>());
      const auto values = t["values"].get<std::vector<double>>();
      ASSERT_EQ(ct.value.numel(), static_cast<int64_t>(values.size()));
      for (size_t i = 0; i < values.size(); ++i)
        ASSERT_EQ(ct.value[static_cast<int64_t>(i)], static_cast<float>(values[i])) << "element " << i;
    }
  }
}

TEST(Checkpoint, FileAndMemoryPathsAgree) {
  const auto bytes = read_bytes("pth_views.pth");
  const auto a = load_checkpoint(kDir + "pth_views.pth");
  const auto b = load_checkpoint_from_memory(bytes.data(), bytes.size(), "x");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, v] : a) {
    ASSERT_EQ(v.value.numel(), b.at(k).value.numel());
    EXPECT_EQ(0, std::memcmp(v.value.data(), b.at(k).value.data(), sizeof(float) * v.value.numel())) << k;
  }
}

// ---- specific defects -----------------------------------------------------------------------------

TEST(Checkpoint, MissingFileIsIoError) {
  try {
    load_checkpoint(kDir + "no_such_file.pkl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("no_such_file.pkl"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_checkpoint(kDir), Error);  // a directory
}

TEST(Checkpoint, LegacyTorchSaveIsRejectedClearly) {
  try {
    load_checkpoint(kDir + "pth_legacy.pth");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBadCheckpoint);
    EXPECT_NE(std::string(e.what()).find("legacy torch.save format; re-save with torch>=1.6"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pth_legacy.pth"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, EmptyGarbageAndWrongMagic) {
  ErrorCode code{};
  EXPECT_NE(try_load({}, &code).find("empty"), std::string::npos);
  EXPECT_EQ(code, ErrorCode::kBadCheckpoint);
  EXPECT_NE(try_load({'h', 'e', 'l', 'l', 'o'}).find("unrecognized format"), std::string::npos);
  EXPECT_NE(try_load({'P', 'K', 3, 4, 0, 0}).find("end-of-central-directory"), std::string::npos);
  EXPECT_NE(try_load({0x80, 0x02, 0xff}).find("unknown opcode"), std::string::npos);
  EXPECT_NE(try_load({0x80, 0x02, 'K', 1, '.'}).find("expected a dict"), std::string::npos);
  EXPECT_NE(try_load({0x80, 0x02, '}', '.'}).find("no tensors"), std::string::npos);
  const std::string msg = try_load({0x80, 0x02, 'X', 0xff, 0xff, 0xff, 0x7f});  // 2 GB string, 7-byte file
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind("checkpoint 'mem.pth': ", 0), 0u) << msg;
}

TEST(Checkpoint, UnknownGlobalIsNamed) {
  // {'w': os.system()} at protocol 2.
  static const char kPickle[] = "\x80\x02}X\x01\x00\x00\x00w" "cos\nsystem\n)Rs.";
  const std::string p(kPickle, sizeof kPickle - 1);
  const std::string msg = try_load(std::vector<uint8_t>(p.begin(), p.end()));
  EXPECT_NE(msg.find("'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("os.system"), std::string::npos) << msg;
}

TEST(Checkpoint, ModelThatIsNotADict) {
  // {'model': torch.nn.Module-like object}
  static const char kPickle[] = "\x80\x02}X\x05\x00\x00\x00model" "cmymod\nNet\n)\x81s.";
  const std::string p(kPickle, sizeof kPickle - 1);
  const std::string msg = try_load(std::vector<uint8_t>(p.begin(), p.end()));
  EXPECT_NE(msg.find("mymod.Net"), std::string::npos) << msg;
}

TEST(Checkpoint, UnsupportedCompressionMethod) {
  auto bytes = read_bytes("pth_deflate.pth");
  for (size_t pos = find_bytes(bytes, "PK\x01\x02"); pos != std::string::npos; pos = find_bytes(bytes, "PK\x01\x02", pos + 1))
    bytes[pos + 10] = 12;  // bzip2
  const std::string msg = try_load(bytes);
  EXPECT_NE(msg.find("compression method 12"), std::string::npos) << msg;
}

TEST(Checkpoint, MissingStorageRecord) {
  auto bytes = read_bytes("pth_fp32.pth");
  // Rename archive/data/0 in the central directory (the last occurrence of the name).
  size_t last = std::string::npos;
  for (size_t pos = find_bytes(bytes, "archive/data/0"); pos != std::string::npos; pos = find_bytes(bytes, "archive/data/0", pos + 1))
    last = pos;
  ASSERT_NE(last, std::string::npos);
  bytes[last + 13] = 'Z';
  const std::string msg = try_load(bytes);
  EXPECT_NE(msg.find("storage record 'archive/data/0' is missing"), std::string::npos) << msg;
}

TEST(Checkpoint, CorruptStorageBytesFailCrc) {
  auto bytes = read_bytes("pth_fp32.pth");
  const size_t pos = find_bytes(bytes, "archive/data/0");  // name in the local header
  ASSERT_TRUE(pos != std::string::npos && pos >= 30);
  const size_t extra_len = bytes[pos - 2] | (bytes[pos - 1] << 8);  // torch pads with an extra field
  bytes[pos + 14 + extra_len + 1] ^= 0x40;  // inside the payload of storage 0
  const std::string msg = try_load(bytes);
  EXPECT_NE(msg.find("CRC"), std::string::npos) << msg;
}

TEST(Checkpoint, TruncatedZipNamesTheProblem) {
  auto bytes = read_bytes("pth_fp32.pth");
  bytes.resize(bytes.size() / 2);
  const std::string msg = try_load(bytes);
  EXPECT_NE(msg.find("end-of-central-directory"), std::string::npos) << msg;
}

TEST(Checkpoint, Latin1TextDecoding) {
  // Hand-derived: U+0041 'A', U+00E9 (C3 A9), U+0080 (C2 80), U+00FF (C3 BF).
  EXPECT_EQ(pickle::utf8_to_latin1("A\xC3\xA9\xC2\x80\xC3\xBF"), std::string("A\xE9\x80\xFF"));
  EXPECT_EQ(pickle::utf8_to_latin1(""), "");
  EXPECT_THROW(pickle::utf8_to_latin1("\xC4\x80"), Error);  // U+0100 does not fit latin-1
  EXPECT_THROW(pickle::utf8_to_latin1("a\x80"), Error);      // stray continuation byte
  EXPECT_THROW(pickle::utf8_to_latin1("a\xC3"), Error);      // lead byte at the end
  EXPECT_THROW(pickle::utf8_to_latin1("\xC3" "a"), Error);      // lead byte without continuation
  EXPECT_THROW(pickle::utf8_to_latin1("\xC1\xBF"), Error);  // overlong encoding
}

// ---- fuzz -----------------------------------------------------------------------------------------

TEST(Checkpoint, FuzzTruncationAndByteFlips) {
  const auto exp = expected();
  std::vector<std::string> files;
  for (const auto& [file, info] : exp["files"].items()) files.push_back(file);
  files.push_back("pth_legacy.pth");
  std::mt19937 rng(1234);
  int successes = 0, errors = 0;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    const auto orig = read_bytes(file);
    for (size_t cut = 0; cut < orig.size(); ++cut) {  // every truncation point
      std::vector<uint8_t> b(orig.begin(), orig.begin() + static_cast<std::ptrdiff_t>(cut));
      ErrorCode code = ErrorCode::kInternal;
      std::string msg = try_load(b, &code);
      if (msg.empty()) {
        ++successes;  // a pickle cut after STOP, or a zip cut inside ignored padding, may still load
      } else {
        ++errors;
        EXPECT_EQ(code, ErrorCode::kBadCheckpoint) << "cut " << cut << ": " << msg;
      }
    }
    for (int iter = 0; iter < 800; ++iter) {  // random corruptions, 1..4 bytes
      auto b = orig;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
      ErrorCode code = ErrorCode::kInternal;
      std::string msg = try_load(b, &code);
      if (msg.empty()) {
        ++successes;
      } else {
        ++errors;
        EXPECT_TRUE(code == ErrorCode::kBadCheckpoint) << "iter " << iter << ": " << msg;
      }
    }
  }
  EXPECT_GT(errors, 0);
  std::printf("fuzz: %d loads succeeded, %d raised maskrt::Error\n", successes, errors);
}

}  // namespace
}  // namespace maskrt
