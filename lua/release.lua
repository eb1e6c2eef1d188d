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
-- the lock's own error, and so does a wrong-typed caps key. Upholds R6: the
-- commands after its first write (the reader's second ZREM, the PUBLISH)
-- are asked first, so a missing permission is an RWLOCK NOPERM error that
-- changes nothing.

-- A pcall's error table as `failure`: WRONGTYPE is a corrupted key, reported
-- as the lock's own error; any other error (a permission the user lacks) is
-- passed on as Redis gave it, never misreported as a wrong type.
local function wrong(index, expected, failure)
  if failure and not string.find(failure.err, '^WRONGTYPE') then return failure end
  return redis.error_reply('RWLOCK key ' .. KEYS[index] .. ' holds a ' .. redis.call('TYPE', KEYS[index]).ok
    .. ', not a ' .. expected)
end

-- R6: a command refused for a permission after this call's first write would
-- leave the lock half-changed, so what can follow the first write is asked
-- before it. redis.acl_check_cmd (Redis 7.0+; before, there is no asking)
-- checks the command on its key or channel without running it. Redis 8 also
-- checks the arity of the command asked about, so each is asked with
-- placeholders up to its least arity; their values are never looked at.
local placeholders = {HSET = {'f', 'v'}, PEXPIREAT = {'0'}, PTTL = {}, PUBLISH = {'m'}, SET = {'v'},
  ZADD = {'0', 'm'}, ZRANGE = {'0', '0'}, ZREM = {'m'}, ZSCORE = {'m'}}
local function denied(command, key)
  if redis.acl_check_cmd and not redis.acl_check_cmd(command, key, unpack(placeholders[command])) then
    return redis.error_reply('RWLOCK NOPERM the lock\'s Redis user may not run ' .. command .. ' on ' .. key
      .. '; grant the rules rwlock acl prints')
  end
end

local token = ARGV[1]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end

-- Redis keeps a key until its deadline has passed; the lease ends at it.
if redis.call('PTTL', KEYS[1]) > 0 then
  local holder = redis.pcall('HGET', KEYS[1], 'token')
  if type(holder) == 'table' then return wrong(1, 'hash', holder) end
  if holder == token then
    local problem = denied('PUBLISH', KEYS[7])
    if problem then return problem end
    redis.call('DEL', KEYS[1])
    redis.call('PUBLISH', KEYS[7], 'released')
    return 1
  end
end

local deadline = redis.pcall('ZSCORE', KEYS[2], token)
if type(deadline) == 'table' then return wrong(2, 'zset', deadline) end
if not deadline then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- An expired reader is not a holder: its release reports 0.
if tonumber(deadline) <= now then return 0 end
local problem = denied('ZREM', KEYS[2]) or denied('PUBLISH', KEYS[7])
if problem then return problem end
-- The caps entry first: a wrong-typed caps key fails here, before any write.
local uncapped = redis.pcall('ZREM', KEYS[3], token)
if type(uncapped) == 'table' then return wrong(3, 'zset', uncapped) end
redis.call('ZREM', KEYS[2], token)
redis.call('PUBLISH', KEYS[7], 'released')
return 1
