-- withdraw: a waiting writer gives up; its intent stops blocking readers now,
-- not when its intent lease would have run out.
--
-- KEYS[1] writer   hash   token, fence, cap of the write lease; expires with it
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap on its total hold (server ms)
-- KEYS[4] queue    zset   waiting writer token -> arrival (server us)
-- KEYS[5] intents  zset   waiting writer token -> intent deadline (server ms)
-- KEYS[6] fence    string last fencing token granted
-- KEYS[7] channel  pub/sub channel announcing releases (not a stored key)
-- ARGV[1] token    the waiting writer's token
-- REPLY int | error
--   1 a live intent was withdrawn; 0 this token had none (or it had expired).
-- Upholds S3's other half: readers are held up only by live intents; and
-- R6: its first write is a ZREM on the intents, and the queue's ZREM and the
-- announcement that can follow it are asked first, so a missing permission
-- is an RWLOCK NOPERM error that changes nothing.

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
-- Only the keys it touches (queue and intents): another key of the wrong type cannot
-- make it write wrongly, and the acquires report it.
local expected = {'hash', 'zset', 'zset', 'zset', 'zset', 'string'}
for i = 4, 5 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= expected[i] then
    return redis.error_reply('RWLOCK key ' .. KEYS[i] .. ' holds a ' .. found .. ', not a ' .. expected[i])
  end
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local problem = denied('ZREM', KEYS[4]) or denied('PUBLISH', KEYS[7])
if problem then return problem end
-- An intent whose lease ended is not withdrawn: it was already gone (S4).
for _, expired in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)) do
  redis.call('ZREM', KEYS[5], expired)
  redis.call('ZREM', KEYS[4], expired)
end
local removed = redis.call('ZREM', KEYS[5], token)
redis.call('ZREM', KEYS[4], token)
if removed == 1 then redis.call('PUBLISH', KEYS[7], 'withdrawn') end
return removed
