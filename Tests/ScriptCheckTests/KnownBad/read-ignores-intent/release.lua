-- release: end this token's lease, read or write, and wake the waiters.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap on its total hold (server ms)
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    the lease's token
-- REPLY int | error
--   1 released a live lease; 0 the token held no live lease (nothing changed).
-- Upholds S4: a stale or foreign token changes nothing and says so.

local token = ARGV[1]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end
local expected = {'hash', 'zset', 'zset', 'zset', 'zset', 'string'}
for i = 1, 6 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= expected[i] then
    return redis.error_reply('RWLOCK key ' .. KEYS[i] .. ' holds a ' .. found .. ', not a ' .. expected[i])
  end
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- An expired reader is not a holder: prune first so its release reports 0.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)

local released = 0
-- Redis keeps a key until its deadline has passed; the lease ends at it.
if redis.call('PTTL', KEYS[1]) > 0 and redis.call('HGET', KEYS[1], 'token') == token then
  redis.call('DEL', KEYS[1])
  released = 1
end
if redis.call('ZREM', KEYS[2], token) == 1 then
  redis.call('ZREM', KEYS[3], token)
  released = 1
end
if released == 1 then redis.call('PUBLISH', KEYS[7], 'released') end
return released
