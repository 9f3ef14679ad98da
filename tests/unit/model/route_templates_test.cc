// Route templates: the three syntaxes users write, first match wins.
#include "model/route_templates.h"

#include <gtest/gtest.h>

namespace aster {
namespace {

RouteTemplate compiled(const std::string& text) {
  RouteTemplate t;
  std::string why;
  EXPECT_TRUE(RouteTemplate::compile(text, &t, &why)) << why;
  return t;
}

std::string compile_error(const std::string& text) {
  RouteTemplate t;
  std::string why;
  EXPECT_FALSE(RouteTemplate::compile(text, &t, &why)) << text;
  return why;
}

TEST(RouteTemplate, ColonParameter) {
  RouteTemplate t = compiled("/v1/agents/:id");
  EXPECT_TRUE(t.matches("/v1/agents/42"));
  EXPECT_TRUE(t.matches("/v1/agents/alice"));
  EXPECT_FALSE(t.matches("/v1/agents")) << "a parameter needs a segment";
  EXPECT_FALSE(t.matches("/v1/agents/")) << "an empty segment is no parameter value";
  EXPECT_FALSE(t.matches("/v1/agents/42/logs"));
  EXPECT_FALSE(t.matches("/v1/agentsX/42"));
  EXPECT_FALSE(t.matches("/v2/agents/42"));
}

TEST(RouteTemplate, BraceParameter) {
  RouteTemplate t = compiled("/v1/agents/{agent_id}/logs/{n}");
  EXPECT_TRUE(t.matches("/v1/agents/7/logs/9"));
  EXPECT_FALSE(t.matches("/v1/agents/7/logs"));
  EXPECT_FALSE(t.matches("/v1/agents/7/logs/9/"));
  // chi's regex suffix is accepted; any segment matches.
  EXPECT_TRUE(compiled("/u/{id:[0-9]+}").matches("/u/abc"));
}

TEST(RouteTemplate, TrailingGlob) {
  // template, path, whether it matches
  const struct {
    const char* tmpl;
    const char* path;
    bool matches;
  } cases[] = {
      {"/static/*", "/static/", true},
      {"/static/*", "/static/app.js", true},
      {"/static/*", "/static/css/site.css", true},
      {"/static/*", "/static", false},
      {"/static/*", "/staticx/a", false},
      {"/files/*filepath", "/files/a/b/c", true},  // gin's named glob
      {"/files/*filepath", "/files/", true},
      {"/v1/agent*", "/v1/agents/42", true},  // a prefix within the last segment
      {"/v1/agent*", "/v1/agent", true},
      {"/v1/agent*", "/v1/agen", false},
      {"/u/:id/*", "/u/1/x/y", true},
      {"/u/:id/*", "/v/1/x", false},
      {"/*", "/anything/at/all", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(compiled(c.tmpl).matches(c.path), c.matches) << c.tmpl << " on " << c.path;
  }
}

TEST(RouteTemplate, LiteralsAndRoot) {
  EXPECT_TRUE(compiled("/").matches("/"));
  EXPECT_FALSE(compiled("/").matches("/a"));
  EXPECT_TRUE(compiled("/healthz").matches("/healthz"));
  EXPECT_FALSE(compiled("/healthz").matches("/healthz/"));
  EXPECT_FALSE(compiled("/healthz").matches("*"));
  EXPECT_FALSE(compiled("/healthz").matches(""));
}

TEST(RouteTemplate, BadTemplatesSayWhy) {
  EXPECT_NE(compile_error("v1/agents").find("must start with '/'"), std::string::npos);
  EXPECT_NE(compile_error("/a?b=1").find("query strings"), std::string::npos);
  EXPECT_NE(compile_error("/a/*/b").find("last segment"), std::string::npos);
  EXPECT_NE(compile_error("/a/{id").find("unclosed"), std::string::npos);
  EXPECT_NE(compile_error("/a/:").find("parameter name"), std::string::npos);
  EXPECT_NE(compile_error("/a/x{id}").find("whole segment"), std::string::npos);
  EXPECT_NE(compile_error("/a b").find("printable"), std::string::npos);
}

TEST(RouteTemplater, FirstMatchWinsAndTheTemplateIsTheLabel) {
  RouteTemplater r;
  r.add(compiled("/v1/agents/me"));
  r.add(compiled("/v1/agents/{id}"));
  r.add(compiled("/v1/agents/:name"));  // never reached: {id} matches first
  r.add(compiled("/v1/*"));
  ASSERT_NE(r.match("/v1/agents/me"), nullptr);
  EXPECT_EQ(*r.match("/v1/agents/me"), "/v1/agents/me");
  EXPECT_EQ(*r.match("/v1/agents/42"), "/v1/agents/{id}");
  EXPECT_EQ(*r.match("/v1/sessions/9"), "/v1/*");
  EXPECT_EQ(r.match("/v2/agents/1"), nullptr);
  EXPECT_EQ(r.match("/v1/agents/42"), r.match("/v1/agents/43")) << "the label string is stable";
}

}  // namespace
}  // namespace aster
