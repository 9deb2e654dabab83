-- wrk script for benches/gateway-sustained.sh: POST /webhook with
-- pre-signed, distinct alerts. Each line of the file is
-- "<signature header>\t<event id>\t<body>"; thread k of n takes the lines
-- i with i % n == k, so no two requests of a run carry the same alert
-- (until a thread runs out and starts over: replays, counted as errors).
--   wrk -s alerts.lua URL -- FILE THREADS
local threads_made = 0
local requests = {}
local next_request = 0

function setup(thread)
  thread:set("tid", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  local file, n = args[1], tonumber(args[2])
  local i = 0
  for line in io.lines(file) do
    if i % n == tid then
      local sig, id, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["X-Tradeeon-Signature"] = sig,
        ["X-Tradeeon-EventId"] = id,
      }, body)
    end
    i = i + 1
  end
end

function request()
  next_request = next_request + 1
  if next_request > #requests then
    next_request = 1
  end
  return requests[next_request]
end
