-- etl_fanout: map/reduce over a JSON store with numeric keys, as jobs.
--
-- args: {"source": S, "results": R, "output": O, "parts": N}
-- Splits S's key space (from its lowest to its highest key) into N ranges and
-- submits one `etl_chunk` job per range, then an `etl_combine` job that runs
-- when all of them are done. Every chunk writes its partial aggregate to store
-- R; the combine job adds them up into store O, key "total".
--
--   sop script put etl_fanout examples/scripts/etl_fanout.lua
--   sop script put etl_chunk examples/scripts/etl_chunk.lua
--   sop script put etl_combine examples/scripts/etl_combine.lua
--   sop job submit etl_fanout --args '{"source":"sales","results":"sales_parts","output":"sales_total","parts":16}'
--   sop worker --concurrency 2      # on as many hosts as you like
local args = ...
local parts = args.parts or 16
local first = sop.range(args.source, {limit = 1})[1]
local last = sop.range(args.source, {limit = 1, desc = true})[1]
sop.ensure_store(args.results)
sop.ensure_store(args.output)
if first == nil then
  return {children = 0}
end
local lo, hi = first.key, last.key
local span = hi - lo + 1
local children = {}
for p = 0, parts - 1 do
  local from = lo + (span * p) // parts
  local to = lo + (span * (p + 1)) // parts - 1
  if to >= from then
    children[#children + 1] = sop.submit("etl_chunk",
      {source = args.source, results = args.results, part = p, from = from, to = to})
  end
end
local final = sop.submit("etl_combine",
  {results = args.results, output = args.output, parts = #children},
  {after = children})
return {children = #children, final = final}
