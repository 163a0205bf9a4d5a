--[[
  Atomic debit of one frame at admission (SPEC.md §7).
  Spends the hourly budget first, then the top-up balance; never overdraws.

  KEYS[1] tenant hash            KEYS[2] plans hash (name -> plan JSON)
  KEYS[3] charge hash of the frame
  KEYS[4] idempotency hash (ignored when ARGV[4] is '0')
  KEYS[5] usage hash of the tenant (fields 'hour|model|tokens|refunded|frames')

  ARGV[1] cost (tokens)          ARGV[2] model id           ARGV[3] frame id
  ARGV[4] '1' when an idempotency key is given, else '0'
  ARGV[5] lane asked ('standard' | 'realtime')
  ARGV[6] now (epoch ms)         ARGV[7] UTC hour index of now
  ARGV[8] idempotency retention (ms)   ARGV[9] charge record TTL (ms)
  ARGV[10] idempotency key ('' when none)

  Returns {outcome, charged, remaining, lane, frameId[, storedResult]}; outcome:
     1 granted               2 idempotent repeat (storedResult: first result or nil)
     3 frame already debited 4 insufficient tokens      5 model not in plan
  Error codes:
    -1 tenant not found      -2 plan not found
]]
local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[6])
local hour = tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local t = redis.call('HMGET', KEYS[1], 'plan', 'topup', 'hour', 'used')
local planJson = redis.call('HGET', KEYS[2], t[1])
if not planJson then return {-2} end
local plan = cjson.decode(planJson)
local topup = tonumber(t[2]) or 0
local used = tonumber(t[4]) or 0
if tonumber(t[3]) ~= hour then
  used = 0
  redis.call('HSET', KEYS[1], 'hour', hour, 'used', 0)
  for _, f in ipairs(redis.call('HKEYS', KEYS[5])) do
    local h = tonumber(string.match(f, '^(%d+)|'))
    if h and h <= hour - 24 then redis.call('HDEL', KEYS[5], f) end
  end
end
local hourlyRemaining = math.max(0, tonumber(plan.tokensPerHour) - used)
local remaining = hourlyRemaining + topup

if ARGV[4] == '1' then
  local idem = redis.call('HMGET', KEYS[4], 'frame', 'lane', 'result', 'at')
  if idem[1] and idem[4] and tonumber(idem[4]) > now - tonumber(ARGV[8]) then
    return {2, 0, remaining, idem[2], idem[1], idem[3]}
  end
end
local priorLane = redis.call('HGET', KEYS[3], 'lane')
if priorLane then return {3, 0, remaining, priorLane, ARGV[3]} end

if type(plan.models) == 'table' then
  local allowed = false
  for _, m in ipairs(plan.models) do
    if m == ARGV[2] then allowed = true end
  end
  if not allowed then return {5, 0, remaining, ARGV[5], ARGV[3]} end
end

local fromHourly = 0
local fromTopup = 0
local lane = ARGV[5]
if remaining >= cost then
  fromHourly = math.min(cost, hourlyRemaining)
  fromTopup = cost - fromHourly
elseif plan.overflow == 'best-effort' then
  lane = 'best-effort'
else
  return {4, 0, remaining, ARGV[5], ARGV[3]}
end
local charged = fromHourly + fromTopup
if charged > 0 then
  -- HINCRBY only with non-zero amounts: Lua formats -0 as '-0', which Redis refuses.
  if fromHourly > 0 then redis.call('HINCRBY', KEYS[1], 'used', fromHourly) end
  if fromTopup > 0 then redis.call('HINCRBY', KEYS[1], 'topup', 0 - fromTopup) end
  local base = hour .. '|' .. ARGV[2] .. '|'
  redis.call('HINCRBY', KEYS[5], base .. 'tokens', charged)
  redis.call('HINCRBY', KEYS[5], base .. 'frames', 1)
end
redis.call('HSET', KEYS[3], 'charged', charged, 'hourly', fromHourly, 'topup', fromTopup, 'hour', hour,
  'model', ARGV[2], 'lane', lane, 'refunded', 0, 'at', ARGV[6], 'idem', ARGV[10])
redis.call('PEXPIRE', KEYS[3], ARGV[9])
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[4], 'frame', ARGV[3], 'lane', lane, 'at', ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[8])
end
return {1, charged, remaining - charged, lane, ARGV[3]}
