#include "kv/limiter_scripts.hpp"

namespace llmux::kv {

// Shared helpers (prepended to both scripts). Lua numbers are doubles: counters and nano-USD
// amounts stay exact up to 2^53 (9e15 nano-USD = 9 million USD). Numbers written back to Redis go
// through fmt(), since tostring() would render large values as "1e+15".
#define LLMUX_LUA_COMMON                                                     \
  "local W, WIN_TTL, DAY, GRACE = 60000, 120000, 86400000, 3600000\n"        \
  "local function fmt(x) return string.format('%d', x) end\n"                \
  "local function clock(v)\n"                                                \
  "  local n = tonumber(v)\n"                                                \
  "  if n ~= nil and n > 0 then return n end\n"                              \
  "  if redis.replicate_commands then pcall(redis.replicate_commands) end\n" \
  "  local t = redis.call('TIME')\n"                                         \
  "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"     \
  "end\n"                                                                    \
  "local function window(start, count, now)\n"                               \
  "  local s = tonumber(start)\n"                                            \
  "  if s == nil or now - s >= W then return nil, 0 end\n"                   \
  "  return s, tonumber(count) or 0\n"                                       \
  "end\n"

const std::string_view kAdmitScript =
    "-- llmux admit: check every descriptor, then take from all of them.\n" LLMUX_LUA_COMMON
    R"LUA(
local now = clock(ARGV[1])
local me, lease = ARGV[2], tonumber(ARGV[3])
local tokens, cost = tonumber(ARGV[4]), tonumber(ARGV[5])
local reserve = ARGV[6] == '1'
local n = tonumber(ARGV[7])

-- Live slots and reservations of every instance (and this one's own); the fields of instances
-- whose lease ended are dropped.
local function inflight(key, d)
  local all = redis.call('HGETALL', key)
  d.inEmpty = #all == 0
  local inst = {}
  for i = 1, #all, 2 do
    local f = all[i]
    local id, k = string.sub(f, 1, -3), string.sub(f, -1)
    local r = inst[id]
    if r == nil then r = {}; inst[id] = r end
    r[k] = tonumber(all[i + 1])
  end
  local dead = {}
  for id, r in pairs(inst) do
    local e = r.e or 0
    if e < now then
      if r.p ~= nil then dead[#dead + 1] = id .. ':p' end
      if r.r ~= nil then dead[#dead + 1] = id .. ':r' end
      if e < now - GRACE then dead[#dead + 1] = id .. ':e'; dead[#dead + 1] = id .. ':q' end
    else
      d.slots = d.slots + (r.p or 0)
      d.res = d.res + (r.r or 0)
      if id == me then d.myP, d.myR = r.p or 0, r.r or 0 end
    end
  end
  if #dead > 0 then redis.call('HDEL', key, unpack(dead)) end
end

local function spent(key, period, dbSpend)
  local v = redis.call('HMGET', key, 'p', 's')
  local p, s = tonumber(v[1]), tonumber(v[2])
  -- Seed from the database when absent or when the budget was reset since (periods only grow;
  -- an instance with an older view does not reseed a newer counter).
  if s == nil or p == nil or p < period then
    redis.call('HSET', key, 'p', fmt(period), 's', fmt(dbSpend))
    redis.call('PEXPIRE', key, DAY)
    return dbSpend
  end
  -- Same period: the database may know more (Redis restarted empty and was seeded from an older
  -- view); it never knows less than Redis, which gets settlements first.
  if p == period and dbSpend > s then
    redis.call('HSET', key, 's', fmt(dbSpend))
    return dbSpend
  end
  return s
end

local function refuse(i, kind, limit, current, retry, reset)
  return {0, i - 1, kind, limit, current, retry, reset}
end

local function windowRetry(s)
  if s == nil then return 60, now + W end
  local secs = math.ceil((s + W - now) / 1000)
  if secs < 1 then secs = 1 end
  return secs, s + W
end

local st = {}
for i = 1, n do
  local a, k = 7 + (i - 1) * 6, (i - 1) * 3
  local d = {rpm = tonumber(ARGV[a + 1]), tpm = tonumber(ARGV[a + 2]), par = tonumber(ARGV[a + 3]),
             max = tonumber(ARGV[a + 4]), db = tonumber(ARGV[a + 5]), period = tonumber(ARGV[a + 6]),
             slots = 0, res = 0, myP = 0, myR = 0, spent = 0, rc = 0, tc = 0}
  if d.rpm >= 0 or d.tpm >= 0 then
    local v = redis.call('HMGET', KEYS[k + 1], 'rs', 'rn', 'ts', 'tn')
    d.rs, d.rc = window(v[1], v[2], now)
    d.ts, d.tc = window(v[3], v[4], now)
  end
  if d.rpm >= 0 and d.rc + 1 > d.rpm then
    local retry, reset = windowRetry(d.rs)
    return refuse(i, 0, d.rpm, d.rc, retry, reset)
  end
  if d.tpm >= 0 and d.tc + tokens > d.tpm then
    local retry, reset = windowRetry(d.ts)
    return refuse(i, 1, d.tpm, d.tc, retry, reset)
  end
  if d.par >= 0 or d.max >= 0 then inflight(KEYS[k + 2], d) end
  if d.par >= 0 and d.slots + 1 > d.par then return refuse(i, 2, d.par, d.slots, 1, 0) end
  if d.max >= 0 then
    d.spent = spent(KEYS[k + 3], d.period, d.db)
    local over
    if reserve then over = d.spent + d.res >= d.max or d.spent + d.res + cost > d.max else over = d.spent >= d.max end
    if over then
      local retry = 0
      if d.period > now then retry = math.ceil((d.period - now) / 1000) end
      return refuse(i, 3, d.max, d.spent + d.res, retry, 0)
    end
  end
  st[i] = d
end

local out = {1, now}
for i = 1, n do
  local d, k = st[i], (i - 1) * 3
  local rr, tr, pr, br = -1, -1, -1, -1
  -- One write per key: the new values are known here.
  local w, started = {}, false
  if d.rpm >= 0 then
    if d.rs == nil then d.rs, started = now, true end
    w[#w + 1] = 'rs'; w[#w + 1] = fmt(d.rs); w[#w + 1] = 'rn'; w[#w + 1] = fmt(d.rc + 1)
    rr = d.rpm - d.rc - 1
  end
  if d.tpm >= 0 then
    if d.ts == nil then d.ts, started = now, true end
    w[#w + 1] = 'ts'; w[#w + 1] = fmt(d.ts); w[#w + 1] = 'tn'; w[#w + 1] = fmt(d.tc + tokens)
    tr = d.tpm - d.tc - tokens
  end
  if #w > 0 then redis.call('HSET', KEYS[k + 1], unpack(w)) end
  if started then redis.call('PEXPIRE', KEYS[k + 1], WIN_TTL) end
  local h = {}
  if d.par >= 0 then
    h[#h + 1] = me .. ':p'; h[#h + 1] = fmt(d.myP + 1)
    pr = d.par - d.slots - 1
  end
  if d.max >= 0 then
    local take = 0
    if reserve and cost > 0 then
      h[#h + 1] = me .. ':r'; h[#h + 1] = fmt(d.myR + cost)
      take = cost
    end
    br = d.max - d.spent - d.res - take
  end
  if #h > 0 then
    h[#h + 1] = me .. ':e'; h[#h + 1] = fmt(now + lease)
    redis.call('HSET', KEYS[k + 2], unpack(h))
    if d.inEmpty then redis.call('PEXPIRE', KEYS[k + 2], DAY) end
  end
  out[#out + 1] = rr
  out[#out + 1] = tr
  out[#out + 1] = pr
  out[#out + 1] = br
end
return out
)LUA";

const std::string_view kSettleScript =
    "-- llmux settle: true-ups and releases of many requests, aggregated.\n" LLMUX_LUA_COMMON
    R"LUA(
local now = clock(ARGV[1])
local me, lease, seq = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n = tonumber(ARGV[5])

-- Whether this batch is new for a descriptor: decided once per key, before anything is written,
-- so several entries of one descriptor in a batch all apply.
local fresh = {}
local function isFresh(key)
  local f = fresh[key]
  if f == nil then
    local q = tonumber(redis.call('HGET', key, me .. ':q'))
    f = q == nil or q < seq
    fresh[key] = f
  end
  return f
end

local applied = 0
for i = 1, n do
  local a, k = 5 + (i - 1) * 9, (i - 1) * 3
  local kw, kin, kbg = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if isFresh(kin) then
    applied = applied + 1
    if ARGV[a + 1] == '1' then
      -- Replace the reservation by the real count in the current window; a window that has
      -- ended took its reservations with it.
      local v = redis.call('HMGET', kw, 'ts', 'tn')
      local s, c = window(v[1], v[2], now)
      if s ~= nil then
        local t = c + tonumber(ARGV[a + 2]) - tonumber(ARGV[a + 3])
        if t < 0 then t = 0 end
        redis.call('HSET', kw, 'tn', fmt(t))
      end
    end
    local add = tonumber(ARGV[a + 5])
    if ARGV[a + 4] == '1' and add ~= 0 then
      local period, db = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
      local v = redis.call('HMGET', kbg, 'p', 's')
      local p, s = tonumber(v[1]), tonumber(v[2])
      if s == nil or p == nil or p < period then
        redis.call('HSET', kbg, 'p', fmt(period), 's', fmt(db + add))
      else
        redis.call('HINCRBY', kbg, 's', fmt(add))
      end
      redis.call('PEXPIRE', kbg, DAY)
    end
  end
  local absP, absR = tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])
  local set, del = {}, {}
  if absP > 0 then set[#set + 1] = me .. ':p'; set[#set + 1] = fmt(absP)
  elseif absP == 0 then del[#del + 1] = me .. ':p' end
  if absR > 0 then set[#set + 1] = me .. ':r'; set[#set + 1] = fmt(absR)
  elseif absR == 0 then del[#del + 1] = me .. ':r' end
  if #set > 0 then
    set[#set + 1] = me .. ':e'; set[#set + 1] = fmt(now + lease)
    redis.call('HSET', kin, unpack(set))
  end
  if #del > 0 then redis.call('HDEL', kin, unpack(del)) end
end
for key, f in pairs(fresh) do
  if f then redis.call('HSET', key, me .. ':q', fmt(seq)) end
  redis.call('PEXPIRE', key, DAY)
end
return applied
)LUA";

#undef LLMUX_LUA_COMMON

}  // namespace llmux::kv
