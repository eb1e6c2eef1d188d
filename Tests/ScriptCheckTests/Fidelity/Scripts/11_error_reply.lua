return redis.error_reply('MYCODE something broke')
