-- GET a random path from BENCH_DATA: a sample by id, a filtered page, a search.
local paths

function init(args)
  paths = read_lines(os.getenv("BENCH_DATA"))
  math.randomseed(os.time() * 100 + thread_number)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
