-- 10 000 distinct paths made of letters only (the exporter collapses
-- numbers and letter-digit tokens to :id, so words keep them distinct),
-- cycled in order: /words/aaa, /words/aab, ...
local n = tonumber(os.getenv("PATHS") or "10000")
local i = 0
local a = string.byte("a")
local function word(k)
  local s = ""
  for _ = 1, 4 do
    s = string.char(a + k % 26) .. s
    k = math.floor(k / 26)
  end
  return s
end
request = function()
  i = i + 1
  return wrk.format("GET", "/words/" .. word(i % n))
end
