--[[
  Adds non-expiring tokens to a tenant's top-up balance and audits it; a
  top-up starts a new notification period (balance_low and budget_exhausted
  may fire again).

  KEYS[1] tenant hash     KEYS[2] plans hash     KEYS[3] audit list of the tenant

  ARGV[1] tokens          ARGV[2] now (epoch ms)  ARGV[3] UTC hour index of now
  ARGV[4] actor

  Returns {usedThisHour, topupBalance}
  Error codes:
    -1 tenant not found   -2 plan not found
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local hour = tonumber(ARGV[3])
local t = redis.call('HMGET', KEYS[1], 'plan', 'hour', 'used')
if not redis.call('HGET', KEYS[2], t[1]) then return {-2} end
local used = tonumber(t[3]) or 0
if tonumber(t[2]) ~= hour then
  used = 0
  redis.call('HSET', KEYS[1], 'hour', hour, 'used', 0)
end
local topup = redis.call('HINCRBY', KEYS[1], 'topup', tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'lowSent', 0, 'exSent', 0)
redis.call('RPUSH', KEYS[3], cjson.encode({at = tonumber(ARGV[2]), kind = 'topup', tokens = tonumber(ARGV[1]), actor = ARGV[4]}))
return {used, topup}
