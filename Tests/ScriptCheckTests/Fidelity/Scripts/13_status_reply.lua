return redis.status_reply('QUEUED-ish')
