return redis.pcall('GET')
