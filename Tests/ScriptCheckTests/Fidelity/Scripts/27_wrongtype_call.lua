-- eval: s0 , 
redis.call('SADD', KEYS[1], 'm')
return redis.call('GET', KEYS[1])
