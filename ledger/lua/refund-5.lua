--[[
  Refund of one charged frame (failed, dropped, timed out). At most once, and
  only if the frame was charged. The hourly part goes back to this hour's
  budget when it was charged this hour, else it comes back as top-up.

  KEYS[1] tenant hash     KEYS[2] plans hash     KEYS[3] charge hash of the frame
  KEYS[4] usage hash of the tenant
  KEYS[5] idempotency hash named by the charge (a placeholder when ARGV[4] is '')

  ARGV[1] now (epoch ms)  ARGV[2] UTC hour index of now   ARGV[3] reason
  ARGV[4] idempotency key the caller read from the charge ('' for none)
  ARGV[5] frame id

  Returns {refunded, remaining}   (refunded 0: unknown, uncharged or already refunded)
  Error codes:
    -1 tenant not found   -2 plan not found
    -3 the charge's idempotency key differs from ARGV[4] (stale read: read again and retry)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local hour = tonumber(ARGV[2])
local t = redis.call('HMGET', KEYS[1], 'plan', 'topup', 'hour', 'used')
local planJson = redis.call('HGET', KEYS[2], t[1])
if not planJson then return {-2} end
local plan = cjson.decode(planJson)
local topup = tonumber(t[2]) or 0
local used = tonumber(t[4]) or 0
if tonumber(t[3]) ~= hour then
  used = 0
  redis.call('HSET', KEYS[1], 'hour', hour, 'used', 0, 'lowSent', 0, 'exSent', 0)
end
local c = redis.call('HMGET', KEYS[3], 'charged', 'hourly', 'topup', 'hour', 'model', 'refunded', 'idem')
local charged = tonumber(c[1]) or 0
if not c[1] or c[6] ~= '0' or charged == 0 then
  return {0, math.max(0, tonumber(plan.tokensPerHour) - used) + topup}
end
if (c[7] or '') ~= ARGV[4] then return {-3} end
local fromHourly = tonumber(c[2])
local usedBack = 0
if tonumber(c[4]) == hour then usedBack = math.min(fromHourly, used) end
local topupBack = tonumber(c[3]) + fromHourly - usedBack
used = used - usedBack
topup = topup + topupBack
redis.call('HSET', KEYS[1], 'used', used, 'topup', topup)
redis.call('HSET', KEYS[3], 'refunded', 1, 'reason', ARGV[3])
redis.call('HINCRBY', KEYS[4], c[4] .. '|' .. c[5] .. '|refunded', charged)
if ARGV[4] ~= '' and redis.call('HGET', KEYS[5], 'frame') == ARGV[5] then
  redis.call('DEL', KEYS[5])
end
return {charged, math.max(0, tonumber(plan.tokensPerHour) - used) + topup}
