// HTTP/2 bytes as a real peer writes them, for the tests: header blocks
// from nghttp2's own HPACK encoder (Debian's libnghttp2), frames built
// here, and nghttp2's decoder as the oracle of what a block means.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aster::h2test {

using Fields = std::vector<std::pair<std::string, std::string>>;

class Deflater {
 public:
  explicit Deflater(size_t max_table = 4096) {
    if (nghttp2_hd_deflate_new(&d_, max_table) != 0) throw std::runtime_error("nghttp2_hd_deflate_new");
  }
  ~Deflater() { nghttp2_hd_deflate_del(d_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  // `never_index`: fields sent as never-indexed literals.
  std::string block(const Fields& fields, bool never_index = false) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [n, v] : fields) {
      nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                    uint8_t(never_index ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE)});
    }
    std::string out(nghttp2_hd_deflate_bound(d_, nv.data(), nv.size()), '\0');
    ssize_t n = nghttp2_hd_deflate_hd(d_, reinterpret_cast<uint8_t*>(out.data()), out.size(), nv.data(), nv.size());
    if (n < 0) throw std::runtime_error("nghttp2_hd_deflate_hd");
    out.resize(static_cast<size_t>(n));
    return out;
  }
  void change_table_size(size_t n) {
    if (nghttp2_hd_deflate_change_table_size(d_, n) != 0) throw std::runtime_error("change_table_size");
  }

 private:
  nghttp2_hd_deflater* d_ = nullptr;
};

class Inflater {
 public:
  Inflater() {
    if (nghttp2_hd_inflate_new(&i_) != 0) throw std::runtime_error("nghttp2_hd_inflate_new");
  }
  ~Inflater() { nghttp2_hd_inflate_del(i_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // The table size this side's SETTINGS_HEADER_TABLE_SIZE allows.
  void allow_table_size(size_t n) {
    if (nghttp2_hd_inflate_change_table_size(i_, n) != 0) throw std::runtime_error("inflate_change_table_size");
  }
  // False when nghttp2 rejects the block.
  bool decode(const std::string& block, Fields* out) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(block.data());
    size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      ssize_t n = nghttp2_hd_inflate_hd2(i_, &nv, &flags, p, left, 1);
      if (n < 0) return false;
      p += n;
      left -= static_cast<size_t>(n);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        out->emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                          std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(i_);
        return true;
      }
      if (n == 0 && left == 0) return false;
    }
  }

 private:
  nghttp2_hd_inflater* i_ = nullptr;
};

inline std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  uint32_t len = static_cast<uint32_t>(payload.size());
  f.push_back(char(len >> 16));
  f.push_back(char(len >> 8));
  f.push_back(char(len));
  f.push_back(char(type));
  f.push_back(char(flags));
  f.push_back(char((stream >> 24) & 0x7f));
  f.push_back(char(stream >> 16));
  f.push_back(char(stream >> 8));
  f.push_back(char(stream));
  return f + payload;
}

constexpr uint8_t kData = 0, kHeaders = 1, kRst = 3, kSettings = 4, kPing = 6, kGoaway = 7, kWindowUpdate = 8,
                  kContinuation = 9;
constexpr uint8_t kEndStream = 1, kEndHeaders = 4, kPadded = 8;

inline std::string preface() { return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); }
inline std::string settings(const std::string& body = "") { return frame(kSettings, 0, 0, body); }
inline std::string rst(uint32_t stream, uint32_t code) {
  std::string p{char(code >> 24), char(code >> 16), char(code >> 8), char(code)};
  return frame(kRst, 0, stream, p);
}
inline std::string window_update(uint32_t stream, uint32_t inc) {
  std::string p{char(inc >> 24), char(inc >> 16), char(inc >> 8), char(inc)};
  return frame(kWindowUpdate, 0, stream, p);
}

}  // namespace aster::h2test
