// SPDX-License-Identifier: Apache-2.0
// HPACK (RFC 7541) for one direction of one HTTP/2 connection, as an
// observer that may have missed what came before.
//
// Every header block of the direction must be decoded, in wire order, for
// the dynamic table to stay right. Seen from the connection's start, the
// decoder is exact (nghttp2's inflater is its oracle in the unit tests).
// Attached late, or after a block it could not see, it keeps only the
// entries inserted since then, newest first: a reference to one of them is
// exact (the peer's table holds them at the same indices), a reference
// beyond them is reported as an unknown field, never guessed. A dynamic
// table size update to 0 empties the peer's table, so from there on the
// decoder is exact again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace aster {

struct HpackField {
  std::string_view name;
  std::string_view value;
  // False: the field referred to a table entry inserted before what the
  // decoder saw; name and value are empty (a literal value whose name is
  // unknown is not reported either: without its name it means nothing).
  bool known = true;
};

class HpackFieldSink {
 public:
  virtual ~HpackFieldSink() = default;
  virtual void on_field(const HpackField& f) = 0;
};

class HpackDecoder {
 public:
  // The table's memory whatever the peer allows (HPACK entry sizes: name,
  // value and 32). HTTP/2's default is 4 096; an entry the cap pushes out
  // while the peer still holds it becomes unknown.
  static constexpr size_t kMaxTableBytes = 16 * 1024;
  static constexpr uint32_t kDefaultTableSize = 4096;

  // `from_start`: the connection was seen from its first byte.
  explicit HpackDecoder(bool from_start);

  // One whole header block (HEADERS + CONTINUATION payloads, padding and
  // priority removed). False for a block that is not valid HPACK; the
  // table is then unknown (a new epoch).
  bool decode(const uint8_t* p, size_t n, HpackFieldSink& sink);
  // A header block went by uncaptured: what it inserted is unknown.
  void lose_block();

  // Unknown epochs begun: a late start, each block lost or invalid.
  uint64_t epochs() const { return epochs_; }
  size_t known_entries() const { return table_.size(); }
  // True while some entries of the peer's table are not known.
  bool has_unknown_entries() const { return unknown_tail_; }

 private:
  struct Entry {
    std::string name, value;
    size_t size() const { return name.size() + value.size() + 32; }
  };
  enum class Ref : uint8_t { kOk, kUnknown, kBad };
  Ref lookup(uint64_t index, std::string_view* name, std::string_view* value) const;
  void insert(std::string_view name, std::string_view value);
  void set_max(uint64_t max);
  void evict_to(size_t limit, bool faithful);
  void forget();
  bool fail();  // an invalid block: a new epoch

  std::deque<Entry> table_;  // newest first: table_[0] is index 62
  size_t size_ = 0;          // HPACK size of table_
  uint32_t max_ = kDefaultTableSize;
  bool max_known_;           // max_ is the peer's, not a default we assumed
  bool unknown_tail_;        // the peer may hold entries older than table_
  uint64_t epochs_ = 0;
  std::string name_buf_, value_buf_;
};

}  // namespace aster
