-- wrk traffic mix for bench/apache_bench.py.
--   wrk ... -s bench/wrk_mix.lua URL -- MIX HOST
-- MIX "benign": browser-like GETs that trigger no CRS rule at PL1.
-- MIX "attack": the same, with 3 requests in every 10 carrying an SQL injection, an XSS
-- or a path traversal in the query string (CRS PL1 findings; 403 with SecRuleEngine On).
-- MIX "flagged": every request is one of those three attacks.
-- Requests are formatted once per thread in init(); request() only picks the next one.
-- done() prints one line "WRK_JSON {...}" for the script to parse.

local cycle = {}
local n = 0

local benign = {
  "/",
  "/index.html",
  "/index.html?page=2&sort=name",
  "/?q=hello+world",
  "/index.html?lang=en&ref=home",
  "/?search=apache+modules&page=3",
  "/index.html?id=42",
}

local attacks = {
  "/?id=1%27%20OR%20%271%27%3D%271",                        -- SQLi
  "/?q=%3Cscript%3Ealert%28document.cookie%29%3C%2Fscript%3E", -- XSS
  "/?file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",                 -- path traversal / LFI
}

function init(args)
  local mix = args[1] or "benign"
  local headers = {
    ["Host"] = args[2] or "bench.test",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Accept-Language"] = "en-US,en;q=0.5",
  }
  local paths = {}
  if mix == "attack" then
    -- 10 requests: benign, attack, benign, benign, attack, benign, benign, attack, ...
    paths = {benign[1], attacks[1], benign[2], benign[3], attacks[2],
             benign[4], benign[5], attacks[3], benign[6], benign[7]}
  elseif mix == "flagged" then
    paths = {attacks[1], attacks[2], attacks[3]}
  elseif mix == "benign" then
    paths = {benign[1], benign[2], benign[3], benign[4], benign[5],
             benign[6], benign[7], benign[1], benign[2], benign[3]}
  else
    error("unknown mix " .. mix .. " (benign, attack or flagged)")
  end
  for i, p in ipairs(paths) do
    cycle[i] = wrk.format("GET", p, headers)
  end
end

function request()
  n = n % #cycle + 1
  return cycle[n]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
