return redis.error_reply('first line\nsecond line')
