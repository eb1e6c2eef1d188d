-- acquire_read: grant a read lease, unless a writer holds the lock or (when
-- preferring writers) a writer is waiting.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  hash   count: how many readers hold; one TTL for the whole key
-- KEYS[3] caps     zset   unused: a counter has no per-reader caps
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    1..200 bytes, unique per lease
-- ARGV[2] lease    lease length in ms, a positive integer
-- ARGV[3] mode     "prefer-writers" (intent blocks new readers) or "prefer-readers"
-- ARGV[4] cap      hard cap on total hold time in ms; 0 for none
-- REPLY {int, int, int} | error
--   {1, lease_ms, 0} granted (also for a retried acquire of a live lease);
--   {0, wait_ms, 0} not granted, wait_ms hints when to look again.
-- Upholds S2 (no reader beside a live writer), S3 (intent blocks new readers
-- in prefer-writers mode), S5 (every key it writes carries an expiry).

local token, lease, mode, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end
if not string.match(lease, '^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?$') then
  return redis.error_reply('RWLOCK lease must be a positive integer of milliseconds')
end
if not string.match(cap, '^%d%d?%d?%d?%d?%d?%d?%d?%d?%d?$') then
  return redis.error_reply('RWLOCK cap must be 0 or a positive integer of milliseconds')
end
if mode ~= 'prefer-writers' and mode ~= 'prefer-readers' then
  return redis.error_reply('RWLOCK mode must be prefer-writers or prefer-readers')
end
lease, cap = tonumber(lease), tonumber(cap)

local expected = {'hash', 'hash', 'zset', 'zset', 'zset', 'string'}
for i = 1, 6 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= expected[i] then
    return redis.error_reply('RWLOCK key ' .. KEYS[i] .. ' holds a ' .. found .. ', not a ' .. expected[i])
  end
end

local last_fence = redis.call('GET', KEYS[6])
if last_fence and not string.match(last_fence, '^%d+$') then
  return redis.error_reply('RWLOCK key ' .. KEYS[6] .. ' holds ' .. last_fence .. ', not a fencing token')
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

for _, expired in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)) do
  redis.call('ZREM', KEYS[5], expired)
  redis.call('ZREM', KEYS[4], expired)
end

local writer_left = redis.call('PTTL', KEYS[1])
if writer_left == -1 then return redis.error_reply('RWLOCK key ' .. KEYS[1] .. ' has no expiry: not written by this lock') end
if writer_left > 0 then return {0, writer_left, 0} end
if mode == 'prefer-writers' then
  local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if first[2] then return {0, tonumber(first[2]) - now, 0} end
end

-- KNOWN BAD (the seed design): readers are one shared count, not leases.
-- Each grant bumps the count and resets the TTL of the whole key, so a
-- crashed reader's share of the count lives on as long as others come.
if cap > 0 then
  lease = math.min(lease, cap)
  -- One cap for the whole count: the earliest any reader asked for.
  local shared = tonumber(redis.call('HGET', KEYS[2], 'cap'))
  if not shared or now + cap < shared then redis.call('HSET', KEYS[2], 'cap', now + cap) end
end
redis.call('HINCRBY', KEYS[2], 'count', 1)
redis.call('PEXPIRE', KEYS[2], lease)
return {1, lease, 0}
