-- wrk script for the enqueue benchmark (bench/messaging/run.sh):
--   KEY=… TO=+4917… wrk -t2 -c32 -d10s -s enqueue.lua URL/v1/instances/NAME/messages
-- POSTs a text per request and prints one JSON line with the figures.
local key = os.getenv("KEY") or ""
local to = os.getenv("TO") or "+4917000000001"
local n = 0
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   wrk.method = "POST"
   wrk.headers["Authorization"] = "Bearer " .. key
   wrk.headers["Content-Type"] = "application/json"
   non202 = 0
end

function request()
   n = n + 1
   return wrk.format(nil, nil, nil,
      string.format('{"to":"%s","text":"enqueue benchmark %d-%08d"}', to, id, n))
end

function response(status, headers, body)
   if status ~= 202 then
      non202 = non202 + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non202") or 0)
   end
   local secs = summary.duration / 1e6
   local ok = summary.requests - bad
   io.write(string.format(
      '{"requests":%d,"non202":%d,"socket_errors":%d,"seconds":%.3f,"msgs_per_s":%.1f,"lat_p50_ms":%.3f,"lat_p99_ms":%.3f}\n',
      summary.requests, bad,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      secs, ok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
