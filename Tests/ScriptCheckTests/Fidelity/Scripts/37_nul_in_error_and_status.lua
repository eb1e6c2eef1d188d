return {redis.error_reply('before\0after'), redis.status_reply('ok\0hidden'), {err='e\0x'}}
