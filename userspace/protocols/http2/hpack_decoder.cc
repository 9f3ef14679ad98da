// SPDX-License-Identifier: Apache-2.0
#include "protocols/http2/hpack_decoder.h"

#include "protocols/http2/hpack_huffman.h"

namespace aster {
namespace {

// RFC 7541 Appendix A.
const std::string_view kStatic[62][2] = {
    {"", ""},  // index 0 is not used
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};
constexpr uint64_t kStaticEntries = 61;

// An integer with an N-bit prefix (RFC 7541 section 5.1), bounded to 32
// bits: no valid block needs more, and a longer one is rejected.
bool read_int(const uint8_t*& p, const uint8_t* end, int prefix_bits, uint64_t* out) {
  if (p == end) return false;
  const uint64_t mask = (1u << prefix_bits) - 1;
  uint64_t v = *p++ & mask;
  if (v < mask) {
    *out = v;
    return true;
  }
  for (int shift = 0; shift <= 28; shift += 7) {
    if (p == end) return false;
    uint8_t b = *p++;
    v += uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return v <= UINT32_MAX;
    }
  }
  return false;
}

// A string literal (section 5.2), Huffman-coded or not, into `buf`.
bool read_string(const uint8_t*& p, const uint8_t* end, std::string& buf) {
  if (p == end) return false;
  const bool huffman = *p & 0x80;
  uint64_t len = 0;
  if (!read_int(p, end, 7, &len) || len > uint64_t(end - p)) return false;
  buf.clear();
  bool ok = huffman ? huffman_decode(p, len, buf) : (buf.assign(reinterpret_cast<const char*>(p), len), true);
  p += len;
  return ok;
}

}  // namespace

HpackDecoder::HpackDecoder(bool from_start) : max_known_(from_start), unknown_tail_(!from_start) {
  if (!from_start) epochs_ = 1;
}

HpackDecoder::Ref HpackDecoder::lookup(uint64_t index, std::string_view* name, std::string_view* value) const {
  if (index == 0) return Ref::kBad;
  if (index <= kStaticEntries) {
    *name = kStatic[index][0];
    *value = kStatic[index][1];
    return Ref::kOk;
  }
  uint64_t d = index - kStaticEntries - 1;
  if (d < table_.size()) {
    *name = table_[d].name;
    *value = table_[d].value;
    return Ref::kOk;
  }
  return unknown_tail_ ? Ref::kUnknown : Ref::kBad;
}

void HpackDecoder::evict_to(size_t limit, bool faithful) {
  while (size_ > limit && !table_.empty()) {
    size_ -= table_.back().size();
    table_.pop_back();
    // Pushed out by our cap, not by the peer's size: the peer still has it.
    if (!faithful) unknown_tail_ = true;
  }
}

void HpackDecoder::insert(std::string_view name, std::string_view value) {
  const size_t sz = name.size() + value.size() + 32;
  if (max_known_ && sz > max_) {
    // Section 4.4: an entry larger than the table empties it, and is not
    // added; the peer's table is then empty, and known to be.
    table_.clear();
    size_ = 0;
    unknown_tail_ = false;
    return;
  }
  if (max_known_) evict_to(max_ - sz, true);
  if (sz > kMaxTableBytes) {
    forget();
    return;
  }
  evict_to(kMaxTableBytes - sz, false);
  table_.push_front(Entry{std::string(name), std::string(value)});
  size_ += sz;
}

void HpackDecoder::set_max(uint64_t max) {
  max_ = static_cast<uint32_t>(max);
  max_known_ = true;
  evict_to(max_, true);
  // Every entry of the peer's table is gone, those we never saw too.
  if (max_ == 0) unknown_tail_ = false;
}

void HpackDecoder::forget() {
  table_.clear();
  size_ = 0;
  unknown_tail_ = true;
}

void HpackDecoder::lose_block() {
  // It may have inserted entries (shifting every index) and changed the
  // table's size: nothing of the table is known any more.
  forget();
  max_known_ = false;
  ++epochs_;
}

bool HpackDecoder::decode(const uint8_t* p, size_t n, HpackFieldSink& sink) {
  const uint8_t* end = p + n;
  bool fields_begun = false;
  while (p < end) {
    const uint8_t b = *p;
    uint64_t index = 0;
    std::string_view name, value;
    if (b & 0x80) {  // indexed field
      if (!read_int(p, end, 7, &index)) return fail();
      Ref r = lookup(index, &name, &value);
      if (r == Ref::kBad) return fail();
      fields_begun = true;
      sink.on_field(r == Ref::kOk ? HpackField{name, value, true} : HpackField{{}, {}, false});
      continue;
    }
    if ((b & 0xe0) == 0x20) {  // dynamic table size update, only before the fields
      if (fields_begun || !read_int(p, end, 5, &index)) return fail();
      set_max(index);
      continue;
    }
    // Literals: with incremental indexing (01), without (0000), never (0001).
    const bool indexing = (b & 0xc0) == 0x40;
    if (!read_int(p, end, indexing ? 6 : 4, &index)) return fail();
    bool name_known = true;
    if (index == 0) {
      if (!read_string(p, end, name_buf_)) return fail();
      name = name_buf_;
    } else {
      std::string_view unused;
      Ref r = lookup(index, &name, &unused);
      if (r == Ref::kBad) return fail();
      name_known = r == Ref::kOk;
      if (name_known) {
        name_buf_.assign(name);  // the insert below may evict the entry it came from
        name = name_buf_;
      }
    }
    if (!read_string(p, end, value_buf_)) return fail();
    fields_begun = true;
    sink.on_field(name_known ? HpackField{name, value_buf_, true} : HpackField{{}, {}, false});
    if (!indexing) continue;
    if (name_known) {
      insert(name, value_buf_);
    } else {
      // An entry of unknown size: which older entries it evicted is
      // unknown too.
      forget();
    }
  }
  return true;
}

bool HpackDecoder::fail() {
  lose_block();
  return false;
}

}  // namespace aster
