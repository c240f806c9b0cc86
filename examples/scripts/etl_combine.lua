-- etl_combine: the final job of an ETL fan-out (see etl_fanout.lua): adds up
-- the partial aggregates in store R into store O, key "total", and returns it.
-- args: {"results": R, "output": O, "parts": N}
local args = ...
local count, sum, max, seen = 0, 0, nil, 0
for _, item in ipairs(sop.range(args.results)) do
  local v = item.value
  seen = seen + 1
  count = count + v.count
  sum = sum + v.sum
  if v.max ~= sop.null and (max == nil or v.max > max) then max = v.max end
end
if seen ~= args.parts then
  error(("expected %d partial results, found %d"):format(args.parts, seen))
end
local total = {count = count, sum = sum, max = max or sop.null}
sop.put(args.output, "total", total)
return total
