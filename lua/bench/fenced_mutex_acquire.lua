-- fenced_mutex_acquire: the take half of a minimal mutex that still does the
-- two things every lock of this package must (S6 and waking waiters): it
-- grants a fencing token that grows across expiries and failovers, as
-- acquire_write does, and its release publishes. rwlock-bench and
-- scripts/profile-server-cpu.sh use it as the server-CPU floor of any lock
-- with those guarantees. Not a lock script: script-check and the runtime load
-- only lua/*.lua.
--
-- KEYS[1] holder   string "token fence", expires with the lease
-- KEYS[2] fence    string last fencing token granted
-- ARGV[1] token    1..200 bytes
-- ARGV[2] lease    lease length in ms, a positive integer
-- REPLY {int, int, int} | error
--   {1, lease_ms, fence} taken; {0, 0, 0} someone holds it.

local token, lease = ARGV[1], ARGV[2]
if #token == 0 or #token > 200 then return redis.error_reply('token must be 1 to 200 bytes') end
if #lease > 9 or not string.find(lease, '^[1-9]%d*$') then
  return redis.error_reply('lease must be a positive integer of milliseconds')
end
local last = redis.call('GET', KEYS[2])
local clock = redis.call('TIME')
local fence = math.max((tonumber(last) or 0) + 1, tonumber(clock[1]) * 1000000 + tonumber(clock[2]))
local text = string.format('%d', fence)
if not redis.call('SET', KEYS[1], token .. ' ' .. text, 'NX', 'PX', lease) then return {0, 0, 0} end
redis.call('SET', KEYS[2], text, 'PX', '604800000')
return {1, tonumber(lease), fence}
