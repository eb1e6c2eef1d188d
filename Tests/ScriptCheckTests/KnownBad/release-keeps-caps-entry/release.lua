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
-- Keys it does not touch (queue, intents, fence) cannot make it write
-- wrongly; a wrong-typed writer or readers key aborts before any write, as
-- the lock's own error, and so does a wrong-typed caps key.

local function wrong(index, expected)
  return redis.error_reply('RWLOCK key ' .. KEYS[index] .. ' holds a ' .. redis.call('TYPE', KEYS[index]).ok
    .. ', not a ' .. expected)
end

local token = ARGV[1]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end

-- Redis keeps a key until its deadline has passed; the lease ends at it.
if redis.call('PTTL', KEYS[1]) > 0 then
  local holder = redis.pcall('HGET', KEYS[1], 'token')
  if type(holder) == 'table' then return wrong(1, 'hash') end
  if holder == token then
    redis.call('DEL', KEYS[1])
    redis.call('PUBLISH', KEYS[7], 'released')
    return 1
  end
end

local deadline = redis.pcall('ZSCORE', KEYS[2], token)
if type(deadline) == 'table' then return wrong(2, 'zset') end
if not deadline then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- An expired reader is not a holder: its release reports 0.
if tonumber(deadline) <= now then return 0 end
-- Known-bad: the caps entry is left behind; it goes only when the caps key expires.
redis.call('ZREM', KEYS[2], token)
redis.call('PUBLISH', KEYS[7], 'released')
return 1
