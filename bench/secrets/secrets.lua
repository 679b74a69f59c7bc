-- wrk script for bench/secrets/run.sh: one request shape per run, everything from the environment,
-- so one script drives Arca and OpenBao.
--   BENCH_METHOD    GET or POST (default GET)
--   BENCH_BODY      a fixed request body (static mode)
--   BENCH_HEADERS   extra headers, one "Name: value" per line
--   BENCH_MODE      static        the same request on every call (read, new version)
--                   arca-create   POST <url> {"secret_type":"arbitrary","name":"<prefix>-<thread>-<n>","payload":"<payload>"}
--                   bao-create    POST <url path><prefix>-<thread>-<n> {"data":{"v":"<payload>"}}
--                   rotate        the same body, POSTed in turn to the paths in BENCH_TARGETS: thread t
--                                 (1..BENCH_THREADS) uses only its own share of the list, request n
--                                 of a thread goes to share[n mod #share], so with a share at least as
--                                 large as the thread's connections no two requests in flight hit
--                                 the same target (new versions of many secrets, without contention)
--   BENCH_PREFIX    name prefix for the create modes; unique per wrk run (the driver sets it)
--   BENCH_PAYLOAD   the secret payload for the create modes
--   BENCH_STATUS=1  count responses per status code and keep one non-2xx body (diagnostic runs
--                   only: a response() callback makes wrk parse every body, which costs wrk CPU)
-- done() prints one machine-readable line that run.sh parses (latencies in ms):
--   RESULT {...json...}
local mode = os.getenv("BENCH_MODE") or "static"
local prefix = os.getenv("BENCH_PREFIX") or "b"
local payload = os.getenv("BENCH_PAYLOAD") or ""

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then wrk.body = body end
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local k, v = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if k then wrk.headers[k] = v end
end

-- Thread ids: setup() runs in the main Lua state once per thread, before the thread starts.
local threads = {}
local next_tid = 1
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local n = 0
if mode == "arca-create" then
  local head = '{"secret_type":"arbitrary","name":"' .. prefix .. "-"
  local tail = '","payload":"' .. payload .. '"}'
  function request()
    n = n + 1
    return wrk.format("POST", nil, nil, head .. tid .. "-" .. n .. tail)
  end
elseif mode == "bao-create" then
  local bao_body = '{"data":{"v":"' .. payload .. '"}}'
  function request()
    n = n + 1
    return wrk.format("POST", wrk.path .. prefix .. "-" .. tid .. "-" .. n, nil, bao_body)
  end
elseif mode == "rotate" then
  local all = {}
  for t in string.gmatch(os.getenv("BENCH_TARGETS") or "", "%S+") do table.insert(all, t) end
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local per = math.floor(#all / nthreads)
  if per < 1 then error("BENCH_TARGETS has fewer paths than threads") end
  local mine
  function request()
    if not mine then
      mine = {}
      for i = 1, per do mine[i] = all[(tid - 1) * per + i] end
    end
    n = n + 1
    return wrk.format(nil, mine[(n % per) + 1])
  end
elseif mode ~= "static" then
  error("unknown BENCH_MODE " .. mode)
end

if os.getenv("BENCH_STATUS") == "1" then
  codes = {}
  sample = ""
  function response(status, headers, rbody)
    local k = tostring(status)
    codes[k] = (codes[k] or 0) + 1
    if (status < 200 or status > 299) and sample == "" then
      sample = k .. " " .. string.sub(rbody or "", 1, 300)
    end
  end
end

local function json_str(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local e = summary.errors
  local dur_s = summary.duration / 1e6
  local extra = ""
  if os.getenv("BENCH_STATUS") == "1" then
    local all, parts, smp = {}, {}, ""
    for _, t in ipairs(threads) do
      for k, v in pairs(t:get("codes") or {}) do all[k] = (all[k] or 0) + v end
      local s = t:get("sample")
      if smp == "" and s and s ~= "" then smp = s end
    end
    for k, v in pairs(all) do table.insert(parts, '"' .. k .. '":' .. v) end
    extra = ',"status_codes":{' .. table.concat(parts, ",") .. '},"error_sample":' .. json_str(smp)
  end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"lat_mean_ms":%.3f,"lat_stdev_ms":%.3f,"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,' ..
    '"lat_p99_ms":%.3f,"lat_p999_ms":%.3f,"lat_max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d%s}\n',
    summary.requests, dur_s, summary.requests / dur_s,
    latency.mean / 1000, latency.stdev / 1000,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, extra))
end
