-- eval: s0 h0 , 
redis.call('SET', KEYS[1], 'v', 'EX', '100')
redis.call('HSET', KEYS[2], 'f', 'v')
return {redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2]), redis.call('TYPE', KEYS[2]), redis.call('EXISTS', KEYS[1], KEYS[2], 'nope')}
