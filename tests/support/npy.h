#pragma once
// Minimal reader for numpy .npy files (format version 1.0/2.0/3.0, little-endian '<f4' or '|u1',
// C order) as written by numpy.save in tools/reference/make_golden.py. Test-only helper.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace maskrt::testing {

struct NpyArray {
  std::vector<int64_t> shape;
  std::string descr;            // '<f4' or '|u1'
  std::vector<float> f32;       // when descr == '<f4'
  std::vector<uint8_t> u8;      // when descr == '|u1'
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

inline NpyArray read_npy(const std::string& path) {
  std::ifstream is(path, std::ios::binary);
  if (!is) throw std::runtime_error(path + ": cannot open");
  char magic[6];
  is.read(magic, 6);
  if (std::string(magic, 6) != "\x93NUMPY") throw std::runtime_error(path + ": not an npy file");
  uint8_t ver[2];
  is.read(reinterpret_cast<char*>(ver), 2);
  uint32_t hlen = 0;
  if (ver[0] == 1) {
    uint16_t h16;
    is.read(reinterpret_cast<char*>(&h16), 2);
    hlen = h16;
  } else {
    is.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string header(hlen, '\0');
  is.read(header.data(), hlen);
  NpyArray a;
  auto find_val = [&](const std::string& key) {
    const size_t p = header.find("'" + key + "'");
    if (p == std::string::npos) throw std::runtime_error(path + ": header lacks " + key);
    return header.substr(header.find(':', p) + 1);
  };
  std::string d = find_val("descr");
  const size_t q0 = d.find('\''), q1 = d.find('\'', q0 + 1);
  a.descr = d.substr(q0 + 1, q1 - q0 - 1);
  if (find_val("fortran_order").find("True") < 8) throw std::runtime_error(path + ": fortran order unsupported");
  std::string s = find_val("shape");
  s = s.substr(s.find('(') + 1, s.find(')') - s.find('(') - 1);
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_of("0123456789") != std::string::npos) a.shape.push_back(std::stoll(tok));
  const int64_t n = a.numel();
  if (a.descr == "<f4") {
    a.f32.resize(n);
    is.read(reinterpret_cast<char*>(a.f32.data()), n * 4);
  } else if (a.descr == "|u1") {
    a.u8.resize(n);
    is.read(reinterpret_cast<char*>(a.u8.data()), n);
  } else {
    throw std::runtime_error(path + ": unsupported dtype " + a.descr);
  }
  if (!is) throw std::runtime_error(path + ": truncated");
  return a;
}

}  // namespace maskrt::testing
