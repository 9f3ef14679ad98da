// The logger: messages of any length are written whole (up to its 64 KiB
// cut), and it keeps no thread_local buffer. glibc carves a process's
// static TLS out of every thread's stack; civetweb's workers get 100 KiB,
// and a 64 KiB buffer here left them too little for civetweb's own 404
// path, so one HEAD request to /metrics crashed the exporter.
#include "model/log.h"

#include <elf.h>
#include <link.h>

#include <gtest/gtest.h>

#include <string>

namespace aster {
namespace {

std::string logged(const std::string& text) {
  testing::internal::CaptureStderr();
  LOG_ERROR("%s", text.c_str());
  return testing::internal::GetCapturedStderr();
}

TEST(Log, ShortAndLongMessagesAreWrittenWhole) {
  EXPECT_NE(logged("short").find("level=error msg=\"short\"\n"), std::string::npos);
  const std::string long_text(5000, 'v');
  EXPECT_NE(logged(long_text).find("msg=\"" + long_text + "\"\n"), std::string::npos);
  const std::string huge(100000, 'h');
  const std::string out = logged(huge);
  EXPECT_NE(out.find("msg=\"" + std::string((1 << 16) - 1, 'h') + "\"\n"), std::string::npos) << "cut at 64 KiB";
}

int add_tls(dl_phdr_info* info, size_t, void* total) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    if (info->dlpi_phdr[i].p_type == PT_TLS) *static_cast<size_t*>(total) += info->dlpi_phdr[i].p_memsz;
  }
  return 0;
}

TEST(Log, StaticTlsLeavesCivetwebWorkersTheirStacks) {
  // Every object loaded with this binary (ours, libstdc++, libc, civetweb,
  // prometheus-cpp): what each of civetweb's 100 KiB worker stacks loses.
  size_t total = 0;
  dl_iterate_phdr(add_tls, &total);
  EXPECT_LT(total, 16u << 10) << "static TLS of " << total << " bytes";
}

}  // namespace
}  // namespace aster
