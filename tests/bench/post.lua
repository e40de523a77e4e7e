-- wrk script: POST the JSON send request in BODY_FILE on every call, and
-- print the count of each HTTP status over all threads, then p50, p99 and
-- requests per second.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

-- Each thread counts in its own Lua state; done() adds them up.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  codes = {}
end
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for c, n in pairs(t:get("codes")) do
      total[c] = (total[c] or 0) + n
    end
  end
  for c, n in pairs(total) do
    io.write(string.format("status %d: %d\n", c, n))
  end
  io.write(string.format("p50_ms %.3f p99_ms %.3f rps %.1f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
