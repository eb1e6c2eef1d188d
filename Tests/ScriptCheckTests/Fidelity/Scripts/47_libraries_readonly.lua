-- The libraries' tables are read-only, as Redis 7.0 makes every global table.
local results = {}
for _, f in ipairs({function() cjson.encode = nil end, function() bit.band = nil end,
                    function() rawset(cjson, 'x', 1) end, function() cjson.x = 1 end}) do
  local ok, err = pcall(f)
  results[#results + 1] = tostring(ok) .. ' ' .. tostring(err)
end
results[#results + 1] = type(cjson.new)
results[#results + 1] = cjson.new().encode({1})
return results
