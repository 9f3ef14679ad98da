// SPDX-License-Identifier: Apache-2.0
// HTTP/1.x behind the protocol interface: which connections are HTTP/1.x
// (and in which role the watched process is), and a session for each.
#pragma once

#include "model/protocol.h"

namespace aster {

class Http1Protocol : public Protocol {
 public:
  std::string_view name() const override { return "http1"; }
  Detection detect(const FirstBytes& b) const override;
  std::unique_ptr<ProtocolSession> open(const ConnectionContext& ctx, const Handover* handover) const override;
};

}  // namespace aster
