-- POST /api/v1/samples with varied fields and a barcode no other request uses
-- (the run's tag, the thread and a counter).
local counter = 0
local tag = os.getenv("BENCH_TAG") or "run"
local types = { "genomic_dna", "hmw_dna", "total_rna", "amplicon", "library", "cdna" }
local priorities = { "normal", "normal", "normal", "high", "low", "urgent" }
local organisms = { "Escherichia coli", "Homo sapiens", "Zea mays", "Danio rerio", "Staphylococcus aureus" }
local submitters = { "A. Okafor", "B. Tanaka", "C. Moreau", "D. Silva", "E. Novak" }

function init(args)
  math.randomseed(os.time() * 100 + thread_number)
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local organism = organisms[math.random(#organisms)]
  local body = string.format(
    '{"name": "%s isolate %d-%d", "sample_type": "%s", "priority": "%s", "barcode": "BN%s-%d-%d", ' ..
    '"organism": "%s", "submitter_name": "%s", "project": "Bench intake", "volume_ul": %.1f, ' ..
    '"concentration_ng_ul": %.2f}',
    organism, thread_number, counter, types[math.random(#types)], priorities[math.random(#priorities)],
    tag, thread_number, counter, organism, submitters[math.random(#submitters)],
    10 + math.random() * 90, 1 + math.random() * 100)
  return wrk.format("POST", "/api/v1/samples", nil, body)
end
