// SPDX-License-Identifier: Apache-2.0
// HTTP/2 behind the protocol interface: which connections are HTTP/2 (the
// client preface, or frames of a connection opened before the exporter),
// in which role the watched process is, and a session for each, also for
// a connection HTTP/1.1 hands over after "Upgrade: h2c" and 101.
#pragma once

#include "model/protocol.h"

namespace aster {

class Http2Protocol : public Protocol {
 public:
  std::string_view name() const override { return "http2"; }
  Detection detect(const FirstBytes& b) const override;
  std::unique_ptr<ProtocolSession> open(const ConnectionContext& ctx, const Handover* handover) const override;
};

}  // namespace aster
