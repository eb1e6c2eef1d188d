-- lean_release: the release half of lean_write_acquire.lua's bound (see
-- there): a write lease is one GET, a compare, DEL and PUBLISH; a read lease
-- as release.lua ends it. Four keys, not seven. Not a lock script.
--
-- KEYS[1] writer   string "token fence cap"
-- KEYS[2] readers  zset   reader token -> lease deadline (server ms)
-- KEYS[3] caps     zset   reader token -> hard cap (server ms)
-- KEYS[4] channel  pub/sub channel announcing releases
-- ARGV[1] token
-- REPLY int | error
--   1 released a live lease; 0 the token held none.

local token = ARGV[1]
if #token == 0 or #token > 200 then return redis.error_reply('token must be 1 to 200 bytes') end
local holder = redis.pcall('GET', KEYS[1])
if type(holder) == 'table' then return redis.error_reply('bad writer key') end
if holder and string.sub(holder, 1, #token + 1) == token .. ' ' then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[4], 'released')
  return 1
end
local deadline = redis.pcall('ZSCORE', KEYS[2], token)
if type(deadline) == 'table' then return redis.error_reply('bad readers key') end
if not deadline then return 0 end
local clock = redis.call('TIME')
if tonumber(deadline) <= tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) then return 0 end
if type(redis.pcall('ZREM', KEYS[3], token)) == 'table' then return redis.error_reply('bad caps key') end
redis.call('ZREM', KEYS[2], token)
redis.call('PUBLISH', KEYS[4], 'released')
return 1
