-- etl_chunk: one range of an ETL fan-out (see etl_fanout.lua).
-- args: {"source": S, "results": R, "part": P, "from": A, "to": B}
-- Aggregates the items of S with A <= key <= B (each value's "amount") into
-- {count, sum, max}, writes it to store R at key P, and returns it.
local args = ...
local count, sum, max = 0, 0, nil
for _, item in ipairs(sop.range(args.source, {from = args.from, to = args.to})) do
  local a = item.value.amount
  count = count + 1
  sum = sum + a
  if max == nil or a > max then max = a end
end
local agg = {count = count, sum = sum, max = max or sop.null}
sop.put(args.results, args.part, agg)
return agg
