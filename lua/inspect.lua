-- inspect: what an operator sees; reads only, changes nothing.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap on its total hold (server ms)
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- REPLY {bulk, int, int, int, {any...}, {any...}} | error
--   {writer token or "", writer lease left in ms (0 if none), its fence,
--    last fence granted, {reader, ms left, ...}, {waiting writer, ms left, ...}}
--   Readers and waiting writers whose leases ended are left out; waiting
--   writers are listed in the order they will be served.
-- Upholds R6 by writing nothing: a missing permission fails a read, and no
-- call can be left half-done.

local expected = {'hash', 'zset', 'zset', 'zset', 'zset', 'string'}
for i = 1, 6 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= expected[i] then
    return redis.error_reply('RWLOCK key ' .. KEYS[i] .. ' holds a ' .. found .. ', not a ' .. expected[i])
  end
end
local last_fence = redis.call('GET', KEYS[6])
if last_fence and not string.find(last_fence, '^%d+$') then
  return redis.error_reply('RWLOCK key ' .. KEYS[6] .. ' holds ' .. last_fence .. ', not a fencing token')
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Redis keeps a key until its deadline has passed; the lease ends at it.
local writer, writer_left, writer_fence = '', redis.call('PTTL', KEYS[1]), 0
if writer_left > 0 then
  writer = redis.call('HGET', KEYS[1], 'token') or ''
  writer_fence = tonumber(redis.call('HGET', KEYS[1], 'fence')) or 0
else
  writer_left = 0
end
last_fence = tonumber(last_fence) or 0

local readers = {}
local listed = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #listed, 2 do
  readers[#readers + 1] = listed[i]
  readers[#readers + 1] = tonumber(listed[i + 1]) - now
end
local waiting = {}
for _, writer_token in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  local deadline = tonumber(redis.call('ZSCORE', KEYS[5], writer_token))
  if deadline and deadline > now then
    waiting[#waiting + 1] = writer_token
    waiting[#waiting + 1] = deadline - now
  end
end
return {writer, writer_left, writer_fence, last_fence, readers, waiting}
