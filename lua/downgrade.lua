-- downgrade: turn this token's live write lease into a read lease, atomically,
-- so no other writer can get in between; waiting readers are woken.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap on its total hold (server ms)
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    the write lease's token; the read lease keeps it
-- ARGV[2] lease    read lease length in ms, a positive integer
-- REPLY {int, int} | error
--   {1, lease_ms} downgraded; {0, 0} the token holds no live write lease.
-- Upholds S2 (the writer is gone before the reader exists, in one step), S4,
-- the hard cap, which carries over to the read lease, BOUND (the sets start
-- afresh), and R6: every command after its first write (the DEL) is asked
-- first, so a missing permission is an RWLOCK NOPERM error that changes
-- nothing.

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

-- Redis keeps a key until its deadline has passed; the lease ends at it.
if redis.call('PTTL', KEYS[1]) <= 0 or redis.call('HGET', KEYS[1], 'token') ~= token then return {0, 0} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local cap = tonumber(redis.call('HGET', KEYS[1], 'cap')) or 0
-- R6: the caps key's commands are asked whether or not this lease has a cap:
-- downgrades are rare, and a user missing them cannot take capped leases.
local problem = denied('ZADD', KEYS[2]) or denied('PEXPIREAT', KEYS[2]) or denied('ZADD', KEYS[3])
  or denied('PEXPIREAT', KEYS[3]) or denied('PUBLISH', KEYS[7])
if problem then return problem end
-- With the write lease live no read lease is (S2): whatever readers and caps
-- still hold ran out unreleased. Dropping it keeps both sets bounded.
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])

local deadline = now + lease
if cap > 0 then
  deadline = math.min(deadline, cap)
  redis.call('ZADD', KEYS[3], cap, token)
  redis.call('PEXPIREAT', KEYS[3], cap)
end
redis.call('ZADD', KEYS[2], deadline, token)
redis.call('PEXPIREAT', KEYS[2], deadline)
redis.call('PUBLISH', KEYS[7], 'downgraded')
return {1, deadline - now}
