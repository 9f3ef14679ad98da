// SPDX-License-Identifier: Apache-2.0
#include "targets/proc_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace aster {
namespace {

std::string proc_path(pid_t pid, const char* leaf) {
  return "/proc/" + std::to_string(pid) + "/" + leaf;
}

bool read_small_file(const std::string& path, std::string& out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  out.clear();
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  close(fd);
  return n == 0;
}

}  // namespace

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::string text;
  if (!read_small_file(proc_path(pid, "stat"), text)) return std::nullopt;
  // comm (field 2) may hold spaces and parentheses: fields restart after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string tok;
  while (in >> tok && f.size() < 24) f.push_back(tok);
  if (f.size() < 22) return std::nullopt;
  ProcStat s;
  s.state = f[0][0];
  s.flags = std::strtoull(f[6].c_str(), nullptr, 10);         // field 9
  s.utime_ticks = std::strtoull(f[11].c_str(), nullptr, 10);  // field 14
  s.stime_ticks = std::strtoull(f[12].c_str(), nullptr, 10);  // field 15
  s.threads = std::strtoull(f[17].c_str(), nullptr, 10);      // field 20
  s.start_ticks = std::strtoull(f[19].c_str(), nullptr, 10);  // field 22
  s.vsize_bytes = std::strtoull(f[20].c_str(), nullptr, 10);  // field 23
  s.rss_pages = std::strtoull(f[21].c_str(), nullptr, 10);    // field 24
  return s;
}

std::string read_exe_name(pid_t pid) {
  char buf[4096];
  ssize_t n = readlink(proc_path(pid, "exe").c_str(), buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    std::string exe(buf);
    const std::string deleted = " (deleted)";
    if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0) {
      exe.resize(exe.size() - deleted.size());
    }
    auto slash = exe.rfind('/');
    return slash == std::string::npos ? exe : exe.substr(slash + 1);
  }
  std::string comm;
  if (read_small_file(proc_path(pid, "comm"), comm)) {
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == ' ')) comm.pop_back();
    return comm;
  }
  return "unknown";
}

std::vector<uint64_t> socket_inodes(pid_t pid) {
  std::vector<uint64_t> out;
  std::string dir = proc_path(pid, "fd");
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  char link[64];
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
    if (n <= 8) continue;
    link[n] = '\0';
    if (std::strncmp(link, "socket:[", 8) == 0) out.push_back(std::strtoull(link + 8, nullptr, 10));
  }
  closedir(d);
  return out;
}

size_t count_open_fds(pid_t pid) {
  size_t n = 0;
  DIR* d = opendir(proc_path(pid, "fd").c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

uint64_t read_max_fds(pid_t pid) {
  std::string text;
  if (!read_small_file(proc_path(pid, "limits"), text)) return 0;
  auto at = text.find("Max open files");
  if (at == std::string::npos) return 0;
  std::istringstream in(text.substr(at + std::strlen("Max open files")));
  std::string soft;
  in >> soft;
  return soft == "unlimited" ? 0 : std::strtoull(soft.c_str(), nullptr, 10);
}

std::vector<pid_t> list_pids() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end == '\0' && pid > 0) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(d);
  return out;
}

uint64_t boot_time_seconds() {
  static uint64_t cached = [] {
    std::ifstream in("/proc/stat");
    std::string key;
    uint64_t v = 0;
    while (in >> key) {
      if (key == "btime") {
        in >> v;
        break;
      }
    }
    return v;
  }();
  return cached;
}

long clock_ticks_per_second() {
  static long t = sysconf(_SC_CLK_TCK);
  return t > 0 ? t : 100;
}

long page_size_bytes() {
  static long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? p : 4096;
}

uint64_t net_namespace(pid_t pid) {
  struct stat st;
  if (stat(proc_path(pid, "ns/net").c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::vector<std::pair<uint64_t, uint16_t>> listening_sockets(pid_t pid) {
  std::vector<std::pair<uint64_t, uint16_t>> out;
  for (const char* table : {"net/tcp", "net/tcp6"}) {
    std::ifstream in(proc_path(pid, table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      std::istringstream f(line);
      std::string sl, local, remote, state, txrx, trwhen, retr, uid, timeout, inode;
      if (!(f >> sl >> local >> remote >> state >> txrx >> trwhen >> retr >> uid >> timeout >> inode)) continue;
      // The kernel lists the listening hash before the established one
      // (tcp_get_idx): stop at the first other state, so a busy server's
      // connections are not parsed here. The kernel still walks its whole
      // established hash once per read to produce the first of them (about
      // 1.8 ms per file on a 24 GiB machine; see bench/RESULTS.md, "Left
      // open"), whatever we stop at.
      if (state != "0A") break;  // TCP_LISTEN
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      uint16_t port = static_cast<uint16_t>(std::strtoul(local.c_str() + colon + 1, nullptr, 16));
      out.emplace_back(std::strtoull(inode.c_str(), nullptr, 10), port);
    }
  }
  return out;
}

}  // namespace aster
