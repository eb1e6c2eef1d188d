-- eval: s0 , 
redis.call('SET', KEYS[1], 'text')
local r = redis.pcall('INCR', KEYS[1])
return {type(r), r.err}
