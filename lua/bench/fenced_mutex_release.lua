-- fenced_mutex_release: the release half of fenced_mutex_acquire.lua's mutex:
-- compare-and-delete, then a message on the channel for whoever waits. Not a
-- lock script (see fenced_mutex_acquire.lua).
--
-- KEYS[1] holder   string "token fence"
-- KEYS[2] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    the holder's token
-- REPLY int
--   1 released; 0 someone else (or no one) holds it.

local token = ARGV[1]
local holder = redis.call('GET', KEYS[1])
if not holder or string.sub(holder, 1, #token + 1) ~= token .. ' ' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], 'released')
return 1
