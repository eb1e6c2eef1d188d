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
--   {0, wait_ms, position, arrival} waiting: the intent is registered,
--   position 1 is next; arrival (server us) is this writer's score in the
--   queue, which orders the waiting writers (ties by token) until it leaves.
-- Upholds S1 and S2 (no grant beside a live writer or reader), S3 (registers
-- intent), first-come-first-served among writers, S5, and S6: the fence is
-- max(last + 1, server time in us), so it still grows after every key of the
-- lock has expired. Every key's type is checked before any write, mostly by
-- the reads the decision needs (a WRONGTYPE there becomes the lock's error);
-- on an idle lock one EXISTS finds none of them and the grant follows.
-- Upholds R6: every command that can follow its first write (dropping a
-- lapsed intent, the queue's ZADD, or the fence's SET) is asked first, so a
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

-- What can follow each reply's first write: waiting's (the queue's ZADD) and
-- the grant's (the fence's SET; the queue's entries go when `dequeues`).
local function waiting_denied()
  return denied('ZADD', KEYS[5]) or denied('ZRANGE', KEYS[5]) or denied('PEXPIREAT', KEYS[5])
    or denied('PEXPIREAT', KEYS[4]) or denied('ZSCORE', KEYS[4])
end

local function granting_denied(dequeues)
  return denied('HSET', KEYS[1]) or denied('PEXPIREAT', KEYS[1])
    or dequeues and (denied('ZREM', KEYS[4]) or denied('ZREM', KEYS[5]))
end

local token, lease, intent, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end
if #lease > 9 or not string.find(lease, '^[1-9]%d*$') then
  return redis.error_reply('RWLOCK lease must be a positive integer of milliseconds')
end
if #intent > 9 or not string.find(intent, '^[1-9]%d*$') then
  return redis.error_reply('RWLOCK intent must be a positive integer of milliseconds')
end
if #cap > 10 or not string.find(cap, '^%d+$') then
  return redis.error_reply('RWLOCK cap must be 0 or a positive integer of milliseconds')
end
-- In Redis, parsing a number (tonumber) or printing one (a number passed to
-- redis.call) costs about as much as a command: the intent is parsed only when
-- registered, and each number Redis stores is printed once, as text.
lease, cap = tonumber(lease), tonumber(cap)

local last_fence = redis.pcall('GET', KEYS[6])
if type(last_fence) == 'table' then return wrong(6, 'string', last_fence) end
if last_fence and not string.find(last_fence, '^%d+$') then
  return redis.error_reply('RWLOCK key ' .. KEYS[6] .. ' holds ' .. last_fence .. ', not a fencing token')
end
local clock = redis.call('TIME')
local seconds, micros = tonumber(clock[1]), tonumber(clock[2])
local now = seconds * 1000 + math.floor(micros / 1000)
local now_us = seconds * 1000000 + micros

-- A lock nobody holds or waits for has none of its other keys: one EXISTS
-- proves there is nothing to type-check, prune or wait for, and the grant
-- follows at once. Otherwise every key is read (and so type-checked) below.
local head = nil
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]) > 0 then
  local writer_left = redis.call('PTTL', KEYS[1])
  local holder = false
  if writer_left ~= -2 then
    holder = redis.pcall('HGET', KEYS[1], 'token')
    if type(holder) == 'table' then return wrong(1, 'hash', holder) end
    if writer_left == -1 then return redis.error_reply('RWLOCK key ' .. KEYS[1] .. ' has no expiry: not written by this lock') end
  end
  local reader = redis.pcall('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if reader.err then return wrong(2, 'zset', reader) end
  for i = 3, 4 do
    local found = redis.call('TYPE', KEYS[i]).ok
    if found ~= 'none' and found ~= 'zset' then return wrong(i, 'zset') end
  end

  local lapsed = redis.pcall('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  if lapsed.err then return wrong(5, 'zset', lapsed) end
  -- R6: dropping a lapsed intent is this call's first write, and either
  -- reply can follow it (the prune's own ZREM on intents needs no asking).
  if lapsed[1] then
    local problem = denied('ZREM', KEYS[4]) or denied('ZRANGE', KEYS[4]) or denied('ZADD', KEYS[4])
      or waiting_denied() or denied('SET', KEYS[6]) or granting_denied(false)
    if problem then return problem end
  end
  for _, expired in ipairs(lapsed) do
    redis.call('ZREM', KEYS[5], expired)
    redis.call('ZREM', KEYS[4], expired)
  end
  head = redis.call('ZRANGE', KEYS[4], 0, 0)[1]

  if writer_left > 0 and holder == token then
    -- A retried acquire: report the live lease and its fence, grant nothing new.
    return {1, writer_left, tonumber(redis.call('HGET', KEYS[1], 'fence'))}
  end

  local wait = 0
  if writer_left > 0 then
    wait = writer_left
  else
    -- The latest reader deadline; entries whose leases ended give wait <= 0.
    if reader[2] then wait = tonumber(reader[2]) - now end
  end
  if wait > 0 or (head and head ~= token) then
    -- R6: the queue's ZADD below is this reply's first write.
    local problem = waiting_denied()
    if problem then return problem end
    redis.call('ZADD', KEYS[4], 'NX', now_us, token)
    redis.call('ZADD', KEYS[5], now + tonumber(intent), token)
    local last = redis.call('ZRANGE', KEYS[5], -1, -1, 'WITHSCORES')
    redis.call('PEXPIREAT', KEYS[5], last[2])
    redis.call('PEXPIREAT', KEYS[4], last[2])
    local position = 0
    for index, waiting in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
      if waiting == token then position = index end
    end
    -- Positions shift as writers ahead leave; the arrival does not, so a
    -- client orders its own waiting writers by it, as the queue does.
    return {0, math.max(wait, 1), position, tonumber(redis.call('ZSCORE', KEYS[4], token))}
  end
end

-- R6: the fence's SET below is the grant's first write.
local problem = granting_denied(head == token)
if problem then return problem end
local fence = math.max((tonumber(last_fence) or 0) + 1, now_us)
local fence_text = string.format('%d', fence)
local deadline = now + lease
if cap > 0 then deadline = math.min(deadline, now + cap) end
redis.call('SET', KEYS[6], fence_text, 'PX', '604800000')
redis.call('HSET', KEYS[1], 'token', token, 'fence', fence_text, 'cap', cap > 0 and string.format('%d', now + cap) or '0')
redis.call('PEXPIREAT', KEYS[1], string.format('%d', deadline))
if head == token then
  redis.call('ZREM', KEYS[4], token)
  redis.call('ZREM', KEYS[5], token)
end
return {1, deadline - now, fence}
