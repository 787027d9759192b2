-- POST /api/v1/samples/{id}/transitions: received samples put on hold, then back to received.
-- Each thread owns every BENCH_THREADS-th id of BENCH_DATA and walks them round and round:
-- odd rounds hold, even rounds resume. An id comes back only after the thread has sent a
-- request for each of its other ids, far more than its connections, so a sample's previous
-- move has been answered before its next one is sent.
local mine = {}
local counter = 0
local hold = '{"to": "on_hold", "reason": "Waiting for the submitter to confirm the volume"}'
local resume = '{"to": "received"}'

function init(args)
  local all = read_lines(os.getenv("BENCH_DATA"))
  local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  for index = thread_number, #all, stride do
    table.insert(mine, all[index])
  end
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local round = math.floor(counter / #mine)
  local id = mine[(counter % #mine) + 1]
  counter = counter + 1
  local body = resume
  if round % 2 == 0 then
    body = hold
  end
  return wrk.format("POST", "/api/v1/samples/" .. id .. "/transitions", nil, body)
end
