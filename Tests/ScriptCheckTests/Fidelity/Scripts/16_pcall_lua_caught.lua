-- eval: s0 , 
local ok, e = pcall(redis.call, 'HSET', KEYS[1])
return {tostring(ok), e}
