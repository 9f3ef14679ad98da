// SPDX-License-Identifier: Apache-2.0
#include "protocols/registry.h"

#include "protocols/http1/http1_protocol.h"

namespace aster {

std::vector<const Protocol*> builtin_protocols() {
  static const Http1Protocol http1;
  return {&http1};
}

}  // namespace aster
