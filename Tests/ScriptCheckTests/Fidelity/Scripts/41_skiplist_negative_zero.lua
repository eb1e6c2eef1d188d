-- eval: z0 , 
redis.call('ZADD', KEYS[1], '-0', 'small')
redis.call('ZADD', KEYS[1], '1', string.rep('L', 65))
redis.call('ZADD', KEYS[1], '-0', 'late')
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
