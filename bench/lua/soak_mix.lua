-- bench/soak.py's keep-alive mix against nginx: small and 20 KB files,
-- a missing file, and a POST with a body, in a fixed rotation so every
-- kind of exchange recurs on every connection.
local i = 0
local body = string.rep("p", 1500)
request = function()
  i = i + 1
  local k = i % 8
  if k == 0 then
    return wrk.format("POST", "/post", {["Content-Type"] = "text/plain"}, body)
  elseif k == 1 then
    return wrk.format("GET", "/mid.bin")
  elseif k == 2 then
    return wrk.format("GET", "/missing")
  end
  return wrk.format("GET", "/small.txt")
end
