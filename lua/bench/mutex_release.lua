-- mutex_release: the release half of a minimal Redis mutex (SET key token NX PX
-- to take it), used by rwlock-bench as the server-CPU baseline for one lock
-- cycle. Not a lock script: script-check and the runtime load only lua/*.lua.
--
-- KEYS[1] key      the mutex
-- ARGV[1] token    the holder's token
-- REPLY int
--   1 deleted the holder's key; 0 someone else (or no one) holds it.

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
