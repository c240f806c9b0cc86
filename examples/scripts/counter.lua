-- counter: adds 1 to the JSON number at key K of JSON store S, creating the
-- store and the key (at 0) if they are missing, and returns the new value.
--
--   sop script put counter examples/scripts/counter.lua
--   sop script run counter --args '{"store": "counts", "key": "visits"}'
local args = ...
sop.ensure_store(args.store)
local n = (sop.get(args.store, args.key) or 0) + 1
sop.put(args.store, args.key, n)
return n
