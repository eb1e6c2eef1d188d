return {1, {ok='in array'}, {err='nested error'}, redis.status_reply('S')}
