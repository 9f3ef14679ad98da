// The OpenTelemetry service name from a process's environment.
#include "identity/otel_environment.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace aster {
namespace {

std::string env(std::initializer_list<std::string> entries) {
  std::string out;
  for (const auto& e : entries) out += e + '\0';
  return out;
}

TEST(OtelEnvironment, ServiceNameWinsOverResourceAttributes) {
  auto r = parse_otel_environment(env({"PATH=/bin", "OTEL_RESOURCE_ATTRIBUTES=service.name=attr,service.namespace=shop",
                                       "OTEL_SERVICE_NAME=checkout", "SECRET=x"}));
  EXPECT_EQ(r.service_name, "checkout");
  EXPECT_EQ(r.service_namespace, "shop");
}

TEST(OtelEnvironment, ResourceAttributesArePercentDecodedAndTrimmed) {
  auto r = parse_otel_environment(
      env({"OTEL_RESOURCE_ATTRIBUTES= deployment.environment=prod , service.name=cart%20api%2Cv2 ,"
           "service%2Enamespace=a%3Db"}));
  EXPECT_EQ(r.service_name, "cart api,v2");
  EXPECT_EQ(r.service_namespace, "a=b");
}

TEST(OtelEnvironment, EmptyValuesAreSkipped) {
  auto r = parse_otel_environment(env({"OTEL_SERVICE_NAME=", "OTEL_RESOURCE_ATTRIBUTES=service.name=,broken,service.name=x"}));
  EXPECT_EQ(r.service_name, "x");
  r = parse_otel_environment(env({"OTEL_SERVICE_NAME=  "}));
  EXPECT_EQ(r.service_name, "");
}

TEST(OtelEnvironment, OnlyWholeVariableNamesCount) {
  auto r = parse_otel_environment(env({"MY_OTEL_SERVICE_NAME=no", "XOTEL_RESOURCE_ATTRIBUTES=service.name=no"}));
  EXPECT_EQ(r.service_name, "");
}

TEST(OtelEnvironment, MalformedEscapesStayAsWritten) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("%41%62"), "Ab");
}

TEST(OtelEnvironment, ReadsThisProcess) {
  setenv("OTEL_SERVICE_NAME", "unit-test-service", 1);
  // /proc/self/environ is the environment at exec: a child shows the new one.
  pid_t child = fork();
  if (child == 0) {
    execl("/bin/sleep", "sleep", "5", nullptr);
    _exit(127);
  }
  usleep(100000);
  auto r = read_otel_environment(child);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  unsetenv("OTEL_SERVICE_NAME");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->service_name, "unit-test-service");
  EXPECT_FALSE(read_otel_environment(1 << 30).has_value());
}

}  // namespace
}  // namespace aster
