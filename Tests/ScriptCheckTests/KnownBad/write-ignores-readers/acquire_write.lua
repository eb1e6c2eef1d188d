-- acquire_write: grant the write lease with a new fencing token, or register
-- (or refresh) this writer's intent and its place in the queue.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap on its total hold (server ms)
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    1..200 bytes, unique per lease
-- ARGV[2] lease    lease length in ms, a positive integer
-- ARGV[3] intent   how long the intent lives unless refreshed, in ms
-- ARGV[4] cap      hard cap on total hold time in ms; 0 for none
-- REPLY {int, int, int} | {int, int, int, int} | error
--   {1, lease_ms, fence} granted (also for a retried acquire of a live lease);
--   {0, wait_ms, position, arrival} waiting: the intent is registered, position
--   1 is next; arrival (server us) is its score in the queue.
-- Upholds S1 and S2 (no grant beside a live writer or reader), S3 (registers
-- intent), first-come-first-served among writers, S5, and S6: the fence is
-- max(last + 1, server time in us), so it still grows after every key of the
-- lock has expired.

local token, lease, intent, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end
if not string.match(lease, '^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?$') then
  return redis.error_reply('RWLOCK lease must be a positive integer of milliseconds')
end
if not string.match(intent, '^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?$') then
  return redis.error_reply('RWLOCK intent must be a positive integer of milliseconds')
end
if not string.match(cap, '^%d%d?%d?%d?%d?%d?%d?%d?%d?%d?$') then
  return redis.error_reply('RWLOCK cap must be 0 or a positive integer of milliseconds')
end
lease, intent, cap = tonumber(lease), tonumber(intent), tonumber(cap)

local expected = {'hash', 'zset', 'zset', 'zset', 'zset', 'string'}
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
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for _, expired in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)) do
  redis.call('ZREM', KEYS[5], expired)
  redis.call('ZREM', KEYS[4], expired)
end

local writer_left = redis.call('PTTL', KEYS[1])
if writer_left == -1 then return redis.error_reply('RWLOCK key ' .. KEYS[1] .. ' has no expiry: not written by this lock') end
if writer_left > 0 and redis.call('HGET', KEYS[1], 'token') == token then
  -- A retried acquire: report the live lease and its fence, grant nothing new.
  return {1, writer_left, tonumber(redis.call('HGET', KEYS[1], 'fence'))}
end

local wait = 0
-- KNOWN BAD: only a live writer makes a writer wait; readers are not looked at.
if writer_left > 0 then wait = writer_left end
local head = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
if wait > 0 or (head and head ~= token) then
  redis.call('ZADD', KEYS[4], 'NX', now_us, token)
  redis.call('ZADD', KEYS[5], now + intent, token)
  local last = redis.call('ZRANGE', KEYS[5], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[5], last[2])
  redis.call('PEXPIREAT', KEYS[4], last[2])
  local position = 0
  for index, waiting in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
    if waiting == token then position = index end
  end
  return {0, math.max(wait, 1), position, tonumber(redis.call('ZSCORE', KEYS[4], token))}
end

local fence = math.max((tonumber(last_fence) or 0) + 1, now_us)
local deadline = now + lease
if cap > 0 then deadline = math.min(deadline, now + cap) end
redis.call('SET', KEYS[6], fence, 'PX', 604800000)
redis.call('HSET', KEYS[1], 'token', token, 'fence', fence, 'cap', cap > 0 and now + cap or 0)
redis.call('PEXPIREAT', KEYS[1], deadline)
redis.call('ZREM', KEYS[4], token)
redis.call('ZREM', KEYS[5], token)
return {1, deadline - now, fence}
