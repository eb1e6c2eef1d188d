-- Nesting limits: decode and encode depth, as Redis 7.0 configures them.
local deep = string.rep('[', 1000) .. string.rep(']', 1000)
local too_deep = string.rep('[', 1001) .. string.rep(']', 1001)
local ok1 = pcall(cjson.decode, deep)
local ok2, err2 = pcall(cjson.decode, too_deep)
local t = {}
local cur = t
for i = 1, 1000 do cur[1] = {} cur = cur[1] end
local ok3, err3 = pcall(cjson.encode, t)
local u = {}
cur = u
for i = 1, 998 do cur[1] = {} cur = cur[1] end
local ok4, res4 = pcall(cjson.encode, u)
return {tostring(ok1), tostring(ok2), tostring(err2), tostring(ok3), tostring(err3), tostring(ok4), #tostring(res4)}
