// SPDX-License-Identifier: Apache-2.0
// The service table's id life: live, gone, quarantined, free, reused; a
// full table is refused and counted; a fork record under an expired id is
// not followed. And the kernel's part of an expiry on a real BPF hash map.
// Ids are workloads': two pods of one service are two ids.
#include "targets/service_registry.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "model/event_layout.h"
#include "targets/watch_list.h"

namespace aster {
namespace {

constexpr uint64_t kSec = 1000000000;

struct FakeClock {
  uint64_t now = 1000 * kSec;
  ServiceRegistry::Clock fn() {
    return [this] { return now; };
  }
};

TEST(ServiceRegistry, AGoneServiceIsQuarantinedThenItsIdReused) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  uint16_t a = r.intern("a");
  uint16_t b = r.intern("b");
  ASSERT_TRUE(r.add({10, 1, a}));
  ASSERT_TRUE(r.add({11, 1, a}));
  ASSERT_TRUE(r.add({20, 1, b}));
  r.remove(10);
  clock.now += 100 * kSec;
  EXPECT_TRUE(r.take_gone(10 * kSec).empty()) << "a still has pid 11";
  r.remove(11);
  clock.now += 9 * kSec;
  EXPECT_TRUE(r.take_gone(10 * kSec).empty()) << "a gone for 9 s only";
  clock.now += 1 * kSec;
  EXPECT_EQ(r.take_gone(10 * kSec), std::vector<uint16_t>{a});
  EXPECT_FALSE(r.is_live(a));
  EXPECT_TRUE(r.is_live(b));
  EXPECT_EQ(r.name(a), "a") << "a quarantined id keeps its name for the logs";
  auto t = r.table_stats();
  EXPECT_EQ(t.watched, 1u);
  EXPECT_EQ(t.gone, 0u);
  EXPECT_EQ(t.quarantined, 1u);

  // While quarantined, the id is not handed out: a new "a" gets a new one.
  uint16_t a2 = r.intern("a");
  EXPECT_NE(a2, a);
  EXPECT_NE(a2, b);
  clock.now += 5 * kSec;
  EXPECT_TRUE(r.quarantine_over(10 * kSec).empty());
  clock.now += 5 * kSec;
  auto over = r.quarantine_over(10 * kSec);
  EXPECT_EQ(over, std::vector<uint16_t>{a});
  r.release(over);
  EXPECT_EQ(r.name(a), "unknown");
  uint16_t c = r.intern("c");
  EXPECT_EQ(c, a) << "the released id is reused first";
  EXPECT_EQ(r.name(c), "c");
  EXPECT_TRUE(r.is_live(c));
  t = r.table_stats();
  EXPECT_EQ(t.allocated, 3u);
  EXPECT_EQ(t.reused, 1u);
}

TEST(ServiceRegistry, AServiceThatNeverGotAProcessExpiresToo) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  uint16_t a = r.intern("a");  // watching its process failed
  clock.now += 10 * kSec;
  EXPECT_EQ(r.take_gone(10 * kSec), std::vector<uint16_t>{a});
}

TEST(ServiceRegistry, AProcessBackWithinTheGracePeriodKeepsItsService) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  uint16_t a = r.intern("a");
  ASSERT_TRUE(r.add({10, 1, a}));
  r.remove(10);
  clock.now += 9 * kSec;
  EXPECT_EQ(r.intern("a"), a);
  ASSERT_TRUE(r.add({12, 1, a}));
  clock.now += 100 * kSec;
  EXPECT_TRUE(r.take_gone(10 * kSec).empty());
}

TEST(ServiceRegistry, AProcessMovedToAnotherServiceLeavesTheFirstGone) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  uint16_t a = r.intern("a");
  uint16_t b = r.intern("b");
  ASSERT_TRUE(r.add({10, 1, a}));
  ASSERT_TRUE(r.add({10, 1, b}));  // exec'd into another program
  clock.now += 10 * kSec;
  EXPECT_EQ(r.take_gone(10 * kSec), std::vector<uint16_t>{a});
  EXPECT_EQ(r.service_count(), 1u);
}

TEST(ServiceRegistry, AForkRecordUnderAnExpiredIdIsNotFollowed) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  uint16_t a = r.intern("a");
  clock.now += 10 * kSec;
  ASSERT_EQ(r.take_gone(10 * kSec).size(), 1u);
  EXPECT_FALSE(r.add({30, 1, a}));
  EXPECT_FALSE(r.find(30, nullptr));
  EXPECT_FALSE(r.add({31, 1, 4000})) << "an id never handed out";
}

TEST(ServiceRegistry, AFullTableIsRefusedAndCountedUntilAnIdIsFreed) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  for (int i = 0; i < ServiceRegistry::kMaxServices; ++i) {
    uint16_t id = r.intern("s" + std::to_string(i));
    ASSERT_EQ(id, i);
    ASSERT_TRUE(r.add({1000 + i, 1, id}));
  }
  EXPECT_EQ(r.intern("one-more"), ServiceRegistry::kMaxServices);
  EXPECT_EQ(r.intern("and-another"), ServiceRegistry::kMaxServices);
  EXPECT_EQ(r.table_stats().full, 2u);
  r.remove(1000 + 7);
  clock.now += 10 * kSec;
  ASSERT_EQ(r.take_gone(10 * kSec), std::vector<uint16_t>{7});
  EXPECT_EQ(r.intern("one-more"), ServiceRegistry::kMaxServices) << "quarantined ids are not free";
  clock.now += 10 * kSec;
  r.release(r.quarantine_over(10 * kSec));
  EXPECT_EQ(r.intern("one-more"), 7);
  EXPECT_EQ(r.table_stats().full, 3u);
  EXPECT_EQ(r.table_stats().allocated, ServiceRegistry::kMaxServices);
}

TEST(ServiceRegistry, ACaptureIsToldOfEveryIdHandedOutAgain) {
  FakeClock clock;
  ServiceRegistry r(clock.fn());
  uint16_t a = r.intern("a");
  r.keep_assignments();
  r.intern("b");
  using A = std::vector<std::pair<uint16_t, std::string>>;
  auto names = [](const std::vector<std::pair<uint16_t, WorkloadIdentity>>& got) {
    A out;
    for (const auto& [id, w] : got) out.emplace_back(id, w.service);
    return out;
  };
  EXPECT_EQ(names(r.take_assignments()), (A{{a, "a"}, {1, "b"}}));
  EXPECT_TRUE(r.take_assignments().empty());
  clock.now += 10 * kSec;
  r.take_gone(10 * kSec);
  clock.now += 10 * kSec;
  r.release(r.quarantine_over(10 * kSec));
  EXPECT_EQ(r.intern("c"), a);
  EXPECT_EQ(names(r.take_assignments()), (A{{a, "c"}}));
}

// The kernel's part of an expiry, on a real hash map: entries naming the
// service go (with their prefilter bits), others stay, the epoch moves.
TEST(WatchList, ForgettingAServiceRemovesItsEntriesAndBumpsTheEpoch) {
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "test_watched", sizeof(__u32), sizeof(aster_watch), 64, nullptr);
  if (fd < 0) GTEST_SKIP() << "cannot create a BPF map (needs root)";
  std::vector<uint64_t> bits(ASTER_PID_BITMAP_WORDS);
  uint32_t epoch = 0;
  WatchList w(fd, bits.data(), &epoch);
  ASSERT_TRUE(w.add(100, 3));
  ASSERT_TRUE(w.add(101, 3));
  ASSERT_TRUE(w.add(200, 4));
  uint32_t before = epoch;
  EXPECT_EQ(w.forget_service(3), 2u);
  EXPECT_GT(epoch, before);
  __u32 key = 100;
  aster_watch v{};
  EXPECT_NE(bpf_map_lookup_elem(fd, &key, &v), 0);
  key = 101;
  EXPECT_NE(bpf_map_lookup_elem(fd, &key, &v), 0);
  key = 200;
  ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &v), 0);
  EXPECT_EQ(v.service_id, 4);
  EXPECT_EQ(bits[100 >> 6] & (1ull << (100 & 63)), 0u);
  EXPECT_NE(bits[200 >> 6] & (1ull << (200 & 63)), 0u);
  close(fd);
}

WorkloadIdentity pod(const std::string& name) {
  WorkloadIdentity w;
  w.service = "checkout";
  w.k8s_pod_uid = "uid-" + name;
  w.k8s_pod_name = name;
  w.k8s_namespace_name = "shop";
  return w;
}

TEST(ServiceRegistry, TwoPodsOfOneServiceAreTwoWorkloadsOneService) {
  ServiceRegistry r;
  uint16_t a = r.intern(pod("checkout-7d9f8b6c5d-x2k4p"));
  uint16_t b = r.intern(pod("checkout-7d9f8b6c5d-q8w9z"));
  EXPECT_NE(a, b);
  EXPECT_EQ(r.intern(pod("checkout-7d9f8b6c5d-x2k4p")), a);
  EXPECT_EQ(r.name(a), "checkout");
  EXPECT_EQ(r.name(b), "checkout");
  EXPECT_EQ(r.identity(b).k8s_pod_name, "checkout-7d9f8b6c5d-q8w9z");
  r.add({100, 1, a});
  r.add({101, 1, b});
  r.add({102, 1, b});
  EXPECT_EQ(r.service_count(), 1u) << "services, not workloads";
  std::map<std::string, size_t> pids_by_pod;
  for (const auto& [w, pids] : r.by_identity()) pids_by_pod[w.k8s_pod_name] = pids.size();
  EXPECT_EQ(pids_by_pod, (std::map<std::string, size_t>{{"checkout-7d9f8b6c5d-x2k4p", 1},
                                                         {"checkout-7d9f8b6c5d-q8w9z", 2}}));
  EXPECT_EQ(r.intern("checkout"), 2) << "a bare name is a workload of its own";
}

TEST(ServiceRegistry, WorkloadsWithTheSameSeriesLabelsShareAnId) {
  // k8s_pod_name off: two pods of one Deployment would carry the same
  // labels; two ids would then hold the same series, and expiring one
  // would free what the other still counts into.
  ServiceRegistry r({}, false);
  uint16_t a = r.intern(pod("checkout-7d9f8b6c5d-x2k4p"));
  EXPECT_EQ(r.intern(pod("checkout-7d9f8b6c5d-q8w9z")), a);
  WorkloadIdentity other = pod("checkout-7d9f8b6c5d-q8w9z");
  other.k8s_namespace_name = "staging";
  EXPECT_NE(r.intern(other), a);
  WorkloadIdentity unit_a, unit_b;
  unit_a.service = unit_b.service = "nginx";
  unit_a.systemd_unit = "a.service";
  unit_b.systemd_unit = "b.service";
  ServiceRegistry h;
  EXPECT_EQ(h.intern(unit_a), h.intern(unit_b)) << "the unit is no series label";
}

TEST(ServiceRegistry, WorkloadsSharingAnIdKeepTheirOwnFacts) {
  // Two pods with k8s_pod_name off, and two units of one name: one id
  // each pair (the same series labels), but two workloads each for
  // aster_workload_info, a forked child with its parent's facts.
  ServiceRegistry r({}, false);
  WorkloadIdentity x = pod("checkout-7d9f8b6c5d-x2k4p"), q = pod("checkout-7d9f8b6c5d-q8w9z");
  uint16_t id = r.intern(x);
  ASSERT_EQ(r.intern(q), id);
  ASSERT_TRUE(r.add({100, 1, id}, x));
  ASSERT_TRUE(r.add({200, 1, id}, q));
  ASSERT_TRUE(r.add_child({201, 1, id}, 200));
  ASSERT_TRUE(r.add_child({202, 1, id}, 999)) << "an unknown parent: the id's facts";
  WorkloadIdentity got;
  ASSERT_TRUE(r.identity_of(201, &got));
  EXPECT_EQ(got.k8s_pod_uid, "uid-checkout-7d9f8b6c5d-q8w9z");
  ASSERT_TRUE(r.identity_of(202, &got));
  EXPECT_EQ(got.k8s_pod_uid, "uid-checkout-7d9f8b6c5d-x2k4p");
  std::map<std::string, size_t> pids_by_uid;
  for (const auto& [w, pids] : r.by_identity()) pids_by_uid[w.k8s_pod_uid] = pids.size();
  EXPECT_EQ(pids_by_uid, (std::map<std::string, size_t>{{"uid-checkout-7d9f8b6c5d-x2k4p", 2},
                                                         {"uid-checkout-7d9f8b6c5d-q8w9z", 2}}));
  EXPECT_EQ(r.service_count(), 1u);
  // process_* and go_* are labelled as the request series: one series.
  auto by_labels = r.by_series_labels();
  ASSERT_EQ(by_labels.size(), 1u);
  EXPECT_EQ(by_labels.begin()->first,
            (LabelPairs{{"service", "checkout"}, {"k8s_namespace_name", "shop"}, {"k8s_container_name", ""},
                        {"k8s_owner_kind", ""}, {"k8s_owner_name", ""}}));
  EXPECT_EQ(by_labels.begin()->second.size(), 4u);

  WorkloadIdentity unit_a, unit_b;
  unit_a.service = unit_b.service = "nginx";
  unit_a.systemd_unit = "a.service";
  unit_b.systemd_unit = "b.service";
  ServiceRegistry h;
  uint16_t n = h.intern(unit_a);
  ASSERT_EQ(h.intern(unit_b), n);
  h.add({1, 1, n}, unit_a);
  h.add({2, 1, n}, unit_b);
  std::vector<std::string> units;
  for (const auto& [w, pids] : h.by_identity()) units.push_back(w.systemd_unit);
  EXPECT_EQ(units, (std::vector<std::string>{"a.service", "b.service"}));
  // A process that moves (exec, new facts) leaves its old workload.
  h.add({2, 1, n}, unit_a);
  EXPECT_EQ(h.by_identity().size(), 1u);
}

TEST(ServiceRegistry, SeriesLabelsOnlyForWhatIsKnown) {
  WorkloadIdentity host;
  host.service = "nginx";
  host.systemd_unit = "nginx.service";
  EXPECT_TRUE(series_labels(host, true).empty()) << "a host process's series are as before";
  LabelPairs with_pod = series_labels(pod("web-0"), true);
  LabelPairs without = series_labels(pod("web-0"), false);
  EXPECT_EQ(with_pod.size(), without.size() + 1);
  for (const auto& [k, v] : without) EXPECT_NE(k, "k8s_pod_name");
  LabelPairs info = info_labels(host);
  EXPECT_EQ(info, (LabelPairs{{"service", "nginx"}, {"systemd_unit", "nginx.service"}}));
}

}  // namespace
}  // namespace aster
