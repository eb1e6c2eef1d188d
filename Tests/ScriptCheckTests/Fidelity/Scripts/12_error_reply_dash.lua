return redis.error_reply('-ERR with dash')
