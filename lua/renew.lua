-- renew: extend this token's live lease, never past its hard cap.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap on its total hold (server ms)
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    the lease's token
-- ARGV[2] lease    new lease length from now, in ms, a positive integer
-- REPLY {int, int} | error
--   {1, lease_ms} renewed: the lease now ends lease_ms from now (less than
--   asked when the hard cap is near); {0, 0} the token holds no live lease.
-- Upholds S4 (a lost lease is never revived), the hard cap, and R6: a write
-- lease's renewal is one write; a read lease's ZADD is followed by a ZRANGE
-- and a PEXPIREAT, which are asked first, so a missing permission is an
-- RWLOCK NOPERM error that changes nothing.

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

local token, lease = ARGV[1], ARGV[2]
if #token == 0 or #token > 200 then return redis.error_reply('RWLOCK token must be 1 to 200 bytes') end
if #lease > 9 or not string.find(lease, '^[1-9]%d*$') then
  return redis.error_reply('RWLOCK lease must be a positive integer of milliseconds')
end
lease = tonumber(lease)
-- Only the keys it touches (writer, readers and caps): another key of the wrong type cannot
-- make it write wrongly, and the acquires report it.
local expected = {'hash', 'zset', 'zset', 'zset', 'zset', 'string'}
for i = 1, 3 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= expected[i] then
    return redis.error_reply('RWLOCK key ' .. KEYS[i] .. ' holds a ' .. found .. ', not a ' .. expected[i])
  end
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Redis keeps a key until its deadline has passed; the lease ends at it.
local left = redis.call('PTTL', KEYS[1])
if left > 0 and redis.call('HGET', KEYS[1], 'token') == token then
  local cap = tonumber(redis.call('HGET', KEYS[1], 'cap')) or 0
  local deadline = now + lease
  if cap > 0 then deadline = math.min(deadline, cap) end
  deadline = math.max(deadline, now + left)
  redis.call('PEXPIREAT', KEYS[1], deadline)
  return {1, deadline - now}
end

local current = tonumber(redis.call('ZSCORE', KEYS[2], token))
if not current or current <= now then return {0, 0} end
local deadline = now + lease
local cap = tonumber(redis.call('ZSCORE', KEYS[3], token))
if cap then deadline = math.min(deadline, cap) end
deadline = math.max(deadline, current)
local problem = denied('ZRANGE', KEYS[2]) or denied('PEXPIREAT', KEYS[2])
if problem then return problem end
redis.call('ZADD', KEYS[2], 'XX', deadline, token)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return {1, deadline - now}
