// SPDX-License-Identifier: Apache-2.0
// The protocols this build parses, in the order a new connection asks them
// (model/protocol.h). Adding a protocol is a folder under protocols/ and
// one line in registry.cc.
#pragma once

#include <vector>

#include "model/protocol.h"

namespace aster {

std::vector<const Protocol*> builtin_protocols();

}  // namespace aster
