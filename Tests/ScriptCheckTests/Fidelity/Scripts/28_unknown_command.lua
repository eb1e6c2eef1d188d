return redis.pcall('NOSUCHCOMMAND', 'x')
