-- acquire_read: grant a read lease, unless a writer holds the lock or (when
-- preferring writers) a writer is waiting.
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
-- ARGV[3] mode     "prefer-writers" (intent blocks new readers) or "prefer-readers"
-- ARGV[4] cap      hard cap on total hold time in ms; 0 for none
-- REPLY {int, int, int} | error
--   {1, lease_ms, 0} granted (also for a retried acquire of a live lease);
--   {0, wait_ms, 0} not granted, wait_ms hints when to look again.
-- Upholds S2 (no reader beside a live writer), S3 (intent blocks new readers
-- in prefer-writers mode), S5 (every key it writes carries an expiry) and
-- BOUND (no stale caps entry survives a capped grant). Every key's type is
-- checked before any write, mostly by the reads the decision needs (a
-- WRONGTYPE there becomes the lock's error); on an idle lock one EXISTS
-- finds none of them and the grant follows, and on a lock held only by
-- readers a second EXISTS leaves just the readers key to check. Upholds R6:
-- every command that can follow its first write (the prune of ended
-- readers, or on an idle lock the grant's ZADD) is asked first, so a
-- missing permission is an RWLOCK NOPERM error that changes nothing.

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

local function check_type(index, expected)
  local found = redis.call('TYPE', KEYS[index]).ok
  if found ~= 'none' and found ~= expected then return wrong(index, expected) end
end

local token, lease, mode, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end
if #lease > 9 or not string.find(lease, '^[1-9]%d*$') then
  return redis.error_reply('RWLOCK lease must be a positive integer of milliseconds')
end
if #cap > 10 or not string.find(cap, '^%d+$') then
  return redis.error_reply('RWLOCK cap must be 0 or a positive integer of milliseconds')
end
if mode ~= 'prefer-writers' and mode ~= 'prefer-readers' then
  return redis.error_reply('RWLOCK mode must be prefer-writers or prefer-readers')
end
lease, cap = tonumber(lease), tonumber(cap)

local last_fence = redis.pcall('GET', KEYS[6])
if type(last_fence) == 'table' then return wrong(6, 'string', last_fence) end
if last_fence and not string.find(last_fence, '^%d+$') then
  return redis.error_reply('RWLOCK key ' .. KEYS[6] .. ' holds ' .. last_fence .. ', not a fencing token')
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- A lock nobody holds or waits for has none of its other keys: one EXISTS
-- proves there is nothing to type-check, prune or wait for, and the grant
-- follows at once. Otherwise every key is read (and so type-checked) below.
local fresh = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]) == 0
-- Readers do not exclude readers: when only the readers key exists, nothing
-- else can refuse this reader or be wrong-typed, and a second EXISTS proves it.
local others = not fresh and redis.call('EXISTS', KEYS[1], KEYS[3], KEYS[4], KEYS[5]) > 0
local writer_left, first
if others then
  writer_left = redis.call('PTTL', KEYS[1])
  if writer_left ~= -2 then
    local holder = redis.pcall('HGET', KEYS[1], 'token')
    if type(holder) == 'table' then return wrong(1, 'hash', holder) end
    if writer_left == -1 then return redis.error_reply('RWLOCK key ' .. KEYS[1] .. ' has no expiry: not written by this lock') end
  end
  local problem = check_type(3, 'zset') or check_type(4, 'zset')
  if problem then return problem end
  -- The first intent still alive (expired ones hold nobody up).
  first = redis.pcall('ZRANGEBYSCORE', KEYS[5], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if first.err then return wrong(5, 'zset', first) end
end
-- R6: the first write is the prune below, or on an idle lock the grant's
-- ZADD (to a set that does not exist yet, so the retry branch after it
-- cannot run); the caps key's commands follow only a capped grant.
local problem = denied('PEXPIREAT', KEYS[2])
  or not fresh and (denied('ZSCORE', KEYS[2]) or denied('ZADD', KEYS[2]) or denied('PTTL', KEYS[2]))
  or cap ~= 0 and (denied('ZADD', KEYS[3]) or denied('PEXPIREAT', KEYS[3])
    or not fresh and (denied('PTTL', KEYS[3]) or denied('ZRANGE', KEYS[3]) or denied('ZREM', KEYS[3])))
if problem then return problem end
if not fresh then
  -- A reader whose lease ended holds nothing: drop it before counting.
  local pruned = redis.pcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if type(pruned) == 'table' then return wrong(2, 'zset', pruned) end
  if others then
    local held = redis.call('ZSCORE', KEYS[2], token)
    if held then
      -- A retried acquire: report the live lease, grant nothing new.
      return {1, tonumber(held) - now, 0}
    end
    if writer_left > 0 then return {0, writer_left, 0} end
    if mode == 'prefer-writers' and first[2] then return {0, tonumber(first[2]) - now, 0} end
  end
end

-- In Redis, printing a number (one passed to redis.call) costs about as much
-- as a command: each score is printed once, as text. A set must not expire
-- before its latest score. GT moves an expiry only later, in one command; it
-- sets none on a set that has none, and PTTL finds those. The lock leaves no
-- set without an expiry (S5), so such a set is one the ZADD just created and
-- the entry just added is its latest, as on a fresh lock.
local function expire_with(index, added)
  if fresh or redis.call('PEXPIREAT', KEYS[index], added, 'GT') == 0 and redis.call('PTTL', KEYS[index]) == -1 then
    redis.call('PEXPIREAT', KEYS[index], added)
  end
end

local deadline = now + lease
if cap > 0 then deadline = math.min(deadline, now + cap) end
local deadline_text = string.format('%d', deadline)
-- Beside readers only, this ZADD is the retry check (the other paths found
-- the token absent above): NX adds nothing for a token already in.
if redis.call('ZADD', KEYS[2], 'NX', deadline_text, token) == 0 then
  -- A retried acquire: report the live lease, grant nothing new.
  return {1, tonumber(redis.call('ZSCORE', KEYS[2], token)) - now, 0}
end
expire_with(2, deadline_text)
if cap > 0 then
  -- A caps entry outlives its reader when the lease ran out unreleased; drop
  -- such entries before adding, so the set holds no more than live readers
  -- (a lock with no caps key has none).
  if others then
    for _, capped in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
      if not redis.call('ZSCORE', KEYS[2], capped) then redis.call('ZREM', KEYS[3], capped) end
    end
  end
  local cap_text = string.format('%d', now + cap)
  redis.call('ZADD', KEYS[3], cap_text, token)
  expire_with(3, cap_text)
end
return {1, deadline - now, 0}
