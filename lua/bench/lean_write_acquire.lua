-- lean_write_acquire: a bound, not a lock. The uncontended path of
-- acquire_write.lua as a leaner key layout would run it: the writer held as
-- one string "token fence cap" with SET PX (not a hash and an expiry), six
-- keys (no channel), and the fence compared as text, so no number is parsed
-- or printed on the way. Everything else the lock's grant needs stays:
-- argument checks, the fence key's type and content checked, TIME for the
-- fence, one EXISTS for the lock's other keys, the fence key written.
-- scripts/profile-server-cpu.sh counts it with lean_release.lua, to show how
-- far any layout change could bring a write cycle. Any path but the idle one
-- is left out: it answers an error. Not a lock script: script-check and the
-- runtime load only lua/*.lua.
--
-- KEYS[1] writer   string "token fence cap", expires with the lease
-- KEYS[2] readers, KEYS[3] caps, KEYS[4] queue, KEYS[5] intents (checked, not used)
-- KEYS[6] fence    string last fencing token granted
-- ARGV[1] token, ARGV[2] lease ms, ARGV[3] intent ms, ARGV[4] cap ms (0: none)
-- REPLY {int, int, int} | error
--   {1, lease_ms, fence} granted.

local token, lease, intent, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if #token == 0 or #token > 200 then return redis.error_reply('token must be 1 to 200 bytes') end
if #lease > 9 or not string.find(lease, '^[1-9]%d*$') then return redis.error_reply('bad lease') end
if #intent > 9 or not string.find(intent, '^[1-9]%d*$') then return redis.error_reply('bad intent') end
if cap ~= '0' then return redis.error_reply('the bound covers uncapped leases only') end
local last = redis.pcall('GET', KEYS[6])
if type(last) == 'table' or last and not string.find(last, '^%d+$') then return redis.error_reply('bad fence key') end
local clock = redis.call('TIME')
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]) > 0 then
  return redis.error_reply('the bound covers an idle lock only')
end
-- Server µs as 16 digits of text; the last fence wins only when it is not
-- below them (same length, so text order is number order).
local fence = clock[1] .. string.sub('00000' .. clock[2], -6)
if last and (#last > #fence or #last == #fence and last >= fence) then
  fence = string.format('%d', tonumber(last) + 1)
end
redis.call('SET', KEYS[6], fence, 'PX', '604800000')
redis.call('SET', KEYS[1], token .. ' ' .. fence .. ' 0', 'PX', lease)
return {1, tonumber(lease), tonumber(fence)}
