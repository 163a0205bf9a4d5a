--[[
  Atomic debit of one frame at admission (SPEC.md §7).
  Spends the hourly budget first, then the top-up balance; never overdraws.
  In the same step it counts refusals and appends notification events
  (issue #9) to the outbox when the tenant's webhook asks for them.

  KEYS[1] tenant hash            KEYS[2] plans hash (name -> plan JSON)
  KEYS[3] charge hash of the frame
  KEYS[4] idempotency hash (ignored when ARGV[4] is '0')
  KEYS[5] usage hash of the tenant (fields 'hour|model|tokens|refunded|frames')
  KEYS[6] refusals hash of the tenant (fields 'hour|reason')
  KEYS[7] webhook hash of the tenant   KEYS[8] outbox sorted set   KEYS[9] outbox events hash
  KEYS[10] outbox sequence counter (event ids 'ev_' .. 12 digits, in order of creation)

  ARGV[1] cost (tokens)          ARGV[2] model id           ARGV[3] frame id
  ARGV[4] '1' when an idempotency key is given, else '0'
  ARGV[5] lane asked ('standard' | 'realtime')
  ARGV[6] now (epoch ms)         ARGV[7] UTC hour index of now
  ARGV[8] idempotency retention (ms)   ARGV[9] charge record TTL (ms)
  ARGV[10] idempotency key ('' when none)
  ARGV[11] tenant id             ARGV[12] start of the next UTC hour (ISO-8601)

  Tenant hash flags: lowSent, exSent ('1' once balance_low / budget_exhausted
  fired this budget period), beLane ('1' while in the best-effort lane).

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
  redis.call('HSET', KEYS[1], 'hour', hour, 'used', 0, 'lowSent', 0, 'exSent', 0)
  for _, key in ipairs({KEYS[5], KEYS[6]}) do
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local h = tonumber(string.match(f, '^(%d+)|'))
      if h and h <= hour - 24 then redis.call('HDEL', key, f) end
    end
  end
end
local hourlyRemaining = math.max(0, tonumber(plan.tokensPerHour) - used)
local remaining = hourlyRemaining + topup

local function emit(kind, data)
  local events = redis.call('HGET', KEYS[7], 'events')
  if not events or not string.find(',' .. events .. ',', ',' .. kind .. ',', 1, true) then return end
  local id = string.format('ev_%012d', redis.call('INCR', KEYS[10]))
  redis.call('HSET', KEYS[9], id, cjson.encode({id = id, tenantId = ARGV[11], type = kind, at = now, data = data, attempts = 0}))
  redis.call('ZADD', KEYS[8], now, id)
end

local function debitEvents(lane, charged, after, refused)
  local st = redis.call('HMGET', KEYS[1], 'lowSent', 'exSent', 'beLane')
  local threshold = tonumber(redis.call('HGET', KEYS[7], 'threshold') or '')
  if lane == 'best-effort' and st[3] ~= '1' then
    redis.call('HSET', KEYS[1], 'beLane', 1)
    emit('best_effort_entered', {plan = t[1], resetAt = ARGV[12]})
  elseif lane ~= 'best-effort' and not refused and st[3] == '1' then
    redis.call('HSET', KEYS[1], 'beLane', 0)
    emit('best_effort_left', {plan = t[1]})
  end
  if threshold and st[1] ~= '1' and after <= threshold then
    redis.call('HSET', KEYS[1], 'lowSent', 1)
    emit('balance_low', {remaining = after, threshold = threshold, resetAt = ARGV[12]})
  end
  if st[2] ~= '1' and (refused or lane == 'best-effort' or (charged > 0 and after == 0)) then
    redis.call('HSET', KEYS[1], 'exSent', 1)
    emit('budget_exhausted', {remaining = after, resetAt = ARGV[12], plan = t[1], bestEffort = plan.overflow == 'best-effort'})
  end
end

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
  if not allowed then
    redis.call('HINCRBY', KEYS[6], hour .. '|model_not_in_plan', 1)
    return {5, 0, remaining, ARGV[5], ARGV[3]}
  end
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
  redis.call('HINCRBY', KEYS[6], hour .. '|insufficient_tokens', 1)
  debitEvents(lane, 0, remaining, true)
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
debitEvents(lane, charged, remaining - charged, false)
return {1, charged, remaining - charged, lane, ARGV[3]}
