// SPDX-License-Identifier: Apache-2.0
#include "metrics/pipeline_self_metrics.h"

#include "metrics/metric_builder.h"

namespace aster {

std::vector<prometheus::MetricFamily> PipelineSelfMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;

  out.push_back(FamilyBuilder("aster_exporter_events_total", "Ring-buffer records read, by kind.", MetricType::Counter)
                    .add(stats_.events_data.get(), {{"kind", "data"}})
                    .add(stats_.events_close.get(), {{"kind", "close"}})
                    .add(stats_.events_fork.get(), {{"kind", "fork"}})
                    .add(stats_.events_exit.get(), {{"kind", "exit"}})
                    .add(stats_.events_listen.get(), {{"kind", "listen"}})
                    .add(stats_.events_exec.get(), {{"kind", "exec"}})
                    .add(stats_.events_libs.get(), {{"kind", "libraries_changed"}})
                    .add(stats_.events_malformed.get(), {{"kind", "malformed"}})
                    .take());

  add_counter(out, "aster_exporter_captured_bytes_total", "Payload bytes copied by the probes and parsed.", stats_.bytes_captured.get());
  add_counter(out, "aster_exporter_iov_hint_bytes_total",
              "First bytes of iovecs past --capture.bytes (iovec hints) handed to the parser to follow chunk framing; "
              "the rest of those iovecs counts as a not_captured gap.",
              stats_.bytes_hinted.get());
  out.push_back(FamilyBuilder("aster_exporter_gap_bytes_total",
                              "Stream bytes that moved but were not captured, by reason: not_captured "
                              "(beyond --capture.bytes), no_user_buffer (sendfile, splice, io_uring), lost "
                              "(records dropped on the way), unseen (moved by a path the probes do not see, "
                              "such as splice() from a socket in the socket mode, known from TCP sequence numbers).",
                              MetricType::Counter)
                    .add(stats_.gap_not_captured.get(), {{"reason", "not_captured"}})
                    .add(stats_.gap_no_buffer.get(), {{"reason", "no_user_buffer"}})
                    .add(stats_.gap_lost.get(), {{"reason", "lost"}})
                    .add(stats_.gap_unseen.get(), {{"reason", "unseen"}})
                    .take());
  FamilyBuilder errors("aster_exporter_parse_errors_total", "HTTP parse troubles, by kind; the parser recovers from each.", MetricType::Counter);
  for (int i = 0; i < static_cast<int>(ParseError::kCount); ++i) {
    errors.add(stats_.parse_errors[i].get(), {{"kind", std::string(parse_error_name(static_cast<ParseError>(i)))}});
  }
  out.push_back(errors.take());

  add_gauge(out, "aster_exporter_connections_tracked", "Connections of watched processes with state in the exporter.", stats_.connections_tracked.load());
  out.push_back(FamilyBuilder("aster_exporter_connections_total", "Connections seen, by what became of them.", MetricType::Counter)
                    .add(stats_.connections_opened.get(), {{"event", "opened"}})
                    .add(stats_.connections_closed.get(), {{"event", "closed"}})
                    .add(stats_.connections_expired.get(), {{"event", "expired"}})
                    .add(stats_.connections_closed_at_transfer.get(), {{"event", "closed_at_transfer"}})
                    .add(stats_.connections_client.get(), {{"event", "client_role"}})
                    .add(stats_.connections_not_http.get(), {{"event", "not_http"}})
                    .add(stats_.connections_upgraded.get(), {{"event", "upgraded"}})
                    .add(stats_.connections_tls.get(), {{"event", "tls"}})
                    .take());
  out.push_back(FamilyBuilder("aster_exporter_listener_records_total",
                              "Records of a process the kernel watched from its listen() on, before discovery had "
                              "checked it: kept once a check selected it, dropped when none did.",
                              MetricType::Counter)
                    .add(stats_.pending_records_resolved.get(), {{"result", "kept"}})
                    .add(stats_.pending_records_dropped.get(), {{"result", "dropped"}})
                    .take());
  add_gauge(out, "aster_exporter_tls_connections_tracked", "Tracked connections whose plaintext is read through a TLS library's probes.", stats_.tls_connections_tracked.load());
  add_counter(out, "aster_exporter_tls_ciphertext_records_skipped_total", "Ciphertext records of TLS connections sent before their session was bound to them (not parsed).", stats_.tls_ciphertext_skipped.get());
  add_counter(out, "aster_exporter_requests_recorded_total", "Request/response pairs recorded in aster_http_* metrics.", stats_.requests_recorded.get());
  add_counter(out, "aster_exporter_responses_unpaired_total", "Responses whose request was not seen; counted under method UNKNOWN.", stats_.responses_unpaired.get());
  add_counter(out, "aster_exporter_requests_unanswered_total", "Requests whose connection closed before a response.", stats_.requests_unanswered.get());
  add_counter(out, "aster_exporter_body_size_estimated_total", "Messages whose body size was estimated because chunk framing was not captured.", stats_.bodies_estimated.get());
  out.push_back(FamilyBuilder("aster_exporter_boundary_windows_total",
                              "Windows of bytes at framing boundaries beyond the copied head (the kernel's boundary "
                              "walker), by result: used (fed to the parser), rejected (records whose windows failed "
                              "the checks; all of that record's windows dropped).",
                              prometheus::MetricType::Counter)
                    .add(static_cast<double>(stats_.windows_used.get()), {{"result", "used"}})
                    .add(static_cast<double>(stats_.windows_rejected.get()), {{"result", "rejected"}})
                    .take());
  add_counter(out, "aster_exporter_records_reordered_total", "Records that arrived ahead of an earlier record of the same stream.", stats_.chunks_reordered.get());
  add_counter(out, "aster_exporter_records_late_total", "Records that arrived after their bytes were declared lost (dropped).", stats_.chunks_late.get());
  add_counter(out, "aster_exporter_pipeline_overflow_total", "Outstanding requests dropped because a connection held too many.", stats_.pipeline_overflow.get());
  add_counter(out, "aster_exporter_held_bytes_capped_total", "Times a connection's out-of-order records held for their predecessors reached the per-connection cap (1 MiB); the bytes still missing were then declared lost.", stats_.held_bytes_capped.get());
  out.push_back(FamilyBuilder("aster_exporter_http2_connections_total",
                              "HTTP/2 connections parsed, by how they were found: start (client preface), late "
                              "(opened before the exporter: frames first), upgrade (HTTP/1.1 Upgrade: h2c).",
                              MetricType::Counter)
                    .add(stats_.h2_connections_start.get(), {{"attach", "start"}})
                    .add(stats_.h2_connections_late.get(), {{"attach", "late"}})
                    .add(stats_.h2_connections_upgraded.get(), {{"attach", "upgrade"}})
                    .take());
  out.push_back(FamilyBuilder("aster_exporter_http2_streams_total",
                              "HTTP/2 client streams, by outcome: recorded (an exchange), reset (RST_STREAM before "
                              "any answer: not recorded).",
                              MetricType::Counter)
                    .add(stats_.h2_streams.get(), {{"result", "recorded"}})
                    .add(stats_.h2_streams_reset.get(), {{"result", "reset"}})
                    .take());
  add_counter(out, "aster_exporter_http2_fields_unresolved_total",
              "HTTP/2 :method, :path or :status fields that could not be read (their header block or the HPACK "
              "table entry they refer to was not seen); the exchange counts under method=\"UNKNOWN\", "
              "path=\"_unknown_\" or status=\"other\".",
              stats_.h2_fields_unresolved.get());
  add_counter(out, "aster_exporter_http2_table_epochs_total",
              "HPACK dynamic tables begun unknown: at a late attach (two per connection), or after a header "
              "block that was not captured or could not be decoded.",
              stats_.h2_table_epochs.get());
  add_counter(out, "aster_exporter_http2_resyncs_total",
              "Times HTTP/2 frame sync was lost in bytes that were not captured (found again at a later "
              "transfer that starts with a frame).",
              stats_.h2_resyncs.get());
  add_counter(out, "aster_exporter_http2_frames_invalid_total",
              "HTTP/2 frames or header blocks that break RFC 9113 or RFC 7541 (skipped).",
              stats_.h2_frames_invalid.get());
  out.push_back(FamilyBuilder("aster_exporter_grpc_calls_total",
                              "gRPC calls recorded in the grpc_server_* families, by how they were known: "
                              "content_type (application/grpc read in their headers), framing (content-type "
                              "unreadable, an HPACK entry from before the exporter: every request byte in "
                              "length-prefixed messages and an answer ended by trailers or a reset).",
                              MetricType::Counter)
                    .add(stats_.grpc_calls_content_type.get(), {{"found", "content_type"}})
                    .add(stats_.grpc_calls_framing.get(), {{"found", "framing"}})
                    .take());
  add_counter(out, "aster_exporter_grpc_codes_unresolved_total",
              "gRPC calls whose status could not be read (the block with grpc-status, or the table entry it "
              "refers to, was not seen): counted as grpc_code=\"_unknown_\".",
              stats_.grpc_codes_unresolved.get());
  out.push_back(FamilyBuilder("aster_exporter_grpc_messages_unknown_total",
                              "gRPC calls whose message count in one direction is not known (a message prefix "
                              "went by uncaptured, or before the exporter): not added to msg_received/msg_sent.",
                              MetricType::Counter)
                    .add(stats_.grpc_messages_unknown_received.get(), {{"direction", "received"}})
                    .add(stats_.grpc_messages_unknown_sent.get(), {{"direction", "sent"}})
                    .take());
  add_gauge(out, "aster_exporter_http_series", "Label combinations in the aster_http_* families.", http_.series_count());
  add_gauge(out, "aster_exporter_series",
            "Series the exporter holds in its per-service families (the four aster_http_* families, the five "
            "gRPC server families and the configured business gauges), all services.",
            static_cast<double>(http_.all_series_count()));
  out.push_back(FamilyBuilder("aster_exporter_series_expired_total",
                              "Series removed by expiry, by reason: gone (the workload's last watched process "
                              "exited metrics.expiry.gone_after ago), idle (a live workload answered no request "
                              "for metrics.expiry.idle_after).",
                              MetricType::Counter)
                    .add(static_cast<double>(http_.series_expired(ExpiryReason::kGone)), {{"reason", "gone"}})
                    .add(static_cast<double>(http_.series_expired(ExpiryReason::kIdle)), {{"reason", "idle"}})
                    .take());
  add_counter(out, "aster_exporter_stale_service_records_total",
              "Exchanges and request events tagged with a service id that had expired (staged before the "
              "sweep, or left on a connection of the gone workload): dropped, not counted under any service.",
              static_cast<double>(http_.stale_dropped()));
  add_counter(out, "aster_exporter_path_overflow_total", "Requests whose path went to \"_other_\" because the per-service budget was spent.", http_.path_overflows());
  {
    FamilyBuilder b("aster_exporter_series_overflow_total",
                    "Requests recorded in a family's path=\"_other_\" series because the service's series cap "
                    "(metrics.max_series_per_family) for that family was reached.",
                    MetricType::Counter);
    for (const auto& o : http_.series_overflows()) {
      std::vector<std::pair<std::string, std::string>> labels{{"service", o.service}};
      labels.insert(labels.end(), o.workload.begin(), o.workload.end());
      labels.emplace_back("family", o.family);
      b.add(static_cast<double>(o.requests), labels);
    }
    out.push_back(b.take());
  }
  add_counter(out, "aster_exporter_route_positions_collapsed_total", "Path positions collapsed to \":param\" after showing more distinct values than metrics.learn_threshold.", http_.learned_collapses());
  return out;
}

}  // namespace aster
