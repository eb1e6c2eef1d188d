-- eval: z0 , 
redis.call('ZADD', KEYS[1], '0.1', 'a', 'inf', 'b', '-2.5', 'c')
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
