local results = {}
for _, call in ipairs({function() return redis.acl_check_cmd() end,
                       function() return redis.acl_check_cmd('get', {}) end,
                       function() return redis.acl_check_cmd(1) end,
                       function() return redis.acl_check_cmd('nosuch', 'x') end}) do
  local ok, message = pcall(call)
  results[#results + 1] = tostring(ok) .. ': ' .. tostring(message)
end
return results
