-- Mixed traffic for the exactness check against the Go server's own
-- /metrics: every route, a body, 2xx/4xx/5xx, an unmatched path and a
-- query string. Each call of request() takes the next one in turn.
local reqs
local i = 0
init = function(args)
  reqs = {
    wrk.format("GET", "/tiny"),
    wrk.format("GET", "/tiny?q=1&r=two"),
    wrk.format("GET", "/work/4242"),
    wrk.format("POST", "/echo", { ["Content-Type"] = "application/octet-stream" }, string.rep("x", 1000)),
    wrk.format("POST", "/echo", { ["Content-Type"] = "text/plain" }, "hello"),
    wrk.format("GET", "/status/404"),
    wrk.format("GET", "/status/503"),
    wrk.format("GET", "/status/201"),
    wrk.format("GET", "/nope/here"),
  }
end
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
