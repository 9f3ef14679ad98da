// SPDX-License-Identifier: Apache-2.0
#include "protocols/registry.h"

#include "protocols/http1/http1_protocol.h"
#include "protocols/http2/http2_protocol.h"

namespace aster {

std::vector<const Protocol*> builtin_protocols() {
  // HTTP/2 first: its preface has the shape of an HTTP/1 request line.
  static const Http2Protocol http2;
  static const Http1Protocol http1;
  return {&http2, &http1};
}

}  // namespace aster
