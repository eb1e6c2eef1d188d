-- Errors: invalid JSON, unsupported types, and the message a script sees.
local results = {}
for _, text in ipairs({'{', '[1,]', '{"a" 1}', 'nul', '"\\x"', '', '[1] x', '{1:2}'}) do
  local ok, err = pcall(cjson.decode, text)
  results[#results + 1] = tostring(ok) .. ' ' .. tostring(err)
end
local ok, err = pcall(cjson.encode, {f = function() end})
results[#results + 1] = tostring(ok) .. ' ' .. tostring(err)
ok, err = pcall(cjson.encode, {[true] = 1})
results[#results + 1] = tostring(ok) .. ' ' .. tostring(err)
local sparse = {}
sparse[20] = 1
ok, err = pcall(cjson.encode, sparse)
results[#results + 1] = tostring(ok) .. ' ' .. tostring(err)
return results
