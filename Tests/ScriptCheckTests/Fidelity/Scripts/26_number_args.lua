-- eval: s0 , 
redis.call('SET', KEYS[1], 3.7)
return redis.call('GET', KEYS[1])
