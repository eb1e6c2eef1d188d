-- eval: s0 , 
redis.call('SET', KEYS[1], '9223372036854775806')
return {redis.call('INCR', KEYS[1]), redis.pcall('INCR', KEYS[1])}
