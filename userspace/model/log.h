// SPDX-License-Identifier: Apache-2.0
// A minimal leveled logger to stderr (journald and kubectl logs pick it up).
// Never log payload bytes, query strings or header values: callers pass
// only names, numbers and error texts.
#pragma once

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

namespace aster {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
inline LogLevel g_log_level = LogLevel::kInfo;

__attribute__((format(printf, 2, 3))) inline void log(LogLevel level, const char* fmt, ...) {
  if (level < g_log_level) return;
  static const char* names[] = {"debug", "info", "warn", "error"};
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &t);
  // No thread_local buffer: glibc carves static TLS out of every thread's
  // stack, and civetweb runs its workers on 100 KiB stacks, which a 64 KiB
  // buffer left too small for its own error path (a HEAD request crashed
  // the exporter). A short message is formatted on the stack; a longer one
  // (a verifier log) on the heap, cut at 64 KiB.
  char buf[1024];
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  const int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::string long_msg;
  const char* msg = buf;
  if (n >= static_cast<int>(sizeof buf)) {
    long_msg.resize(std::min(static_cast<size_t>(n) + 1, size_t{1} << 16));
    vsnprintf(long_msg.data(), long_msg.size(), fmt, again);
    msg = long_msg.c_str();
  }
  va_end(again);
  fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"\n", when, ts.tv_nsec / 1000000, names[static_cast<int>(level)],
          msg);
}

#define LOG_DEBUG(...) ::aster::log(::aster::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) ::aster::log(::aster::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) ::aster::log(::aster::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) ::aster::log(::aster::LogLevel::kError, __VA_ARGS__)

}  // namespace aster
