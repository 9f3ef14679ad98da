// SPDX-License-Identifier: Apache-2.0
// A minimal leveled logger to stderr (journald and kubectl logs pick it up).
// Never log payload bytes, query strings or header values: callers pass
// only names, numbers and error texts.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <ctime>

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
  static thread_local char msg[1 << 16];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"\n", when, ts.tv_nsec / 1000000,
          names[static_cast<int>(level)], msg);
}

#define LOG_DEBUG(...) ::aster::log(::aster::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) ::aster::log(::aster::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) ::aster::log(::aster::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) ::aster::log(::aster::LogLevel::kError, __VA_ARGS__)

}  // namespace aster
