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
    "-- llmux admit: for each request of the batch, check every descriptor, then take from "
    "all.\n" LLMUX_LUA_COMMON
    R"LUA(
local me, lease = ARGV[1], tonumber(ARGV[2])
local m, u = tonumber(ARGV[3]), tonumber(ARGV[4])
-- The batch's descriptors: limits and database view, and their keys (KEYS[3j-2..3j]).
local U = {}
for j = 1, u do
  local a = 4 + (j - 1) * 6
  U[j] = {tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]),
          tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])}
end
-- The request being admitted: its clock, and its descriptors' state (D[i], reused).
local now, serverNow, D = 0, nil, {}

-- Each key is read at most once per batch and written back once at its end: the requests of a
-- batch see each other's takes through these caches, exactly as if each had run alone, in order.
local winC, inC, bgC = {}, {}, {}
local winOrder, inOrder, bgOrder = {}, {}, {}

local function win(key)
  local c = winC[key]
  if c == nil then
    local v = redis.call('HMGET', key, 'rs', 'rn', 'ts', 'tn')
    c = {rs = tonumber(v[1]), rn = tonumber(v[2]), ts = tonumber(v[3]), tn = tonumber(v[4])}
    winC[key] = c
    winOrder[#winOrder + 1] = key
  end
  return c
end

-- Live slots and reservations of every instance (and this one's own). Fields of instances whose
-- lease ended are dropped (from the cache now, from Redis at the end of the batch).
local function inflight(key, d)
  local c = inC[key]
  if c == nil then
    local fields = redis.call('HGETALL', key)
    c = {inst = {}, empty = #fields == 0, dead = {}, mine = nil}
    for i = 1, #fields, 2 do
      local f = fields[i]
      local id, k = string.sub(f, 1, -3), string.sub(f, -1)
      local r = c.inst[id]
      if r == nil then r = {}; c.inst[id] = r end
      r[k] = tonumber(fields[i + 1])
    end
    inC[key] = c
    inOrder[#inOrder + 1] = key
  end
  for id, r in pairs(c.inst) do
    local e = r.e or 0
    if e < now then
      if r.p ~= nil then c.dead[#c.dead + 1] = id .. ':p'; r.p = nil end
      if r.r ~= nil then c.dead[#c.dead + 1] = id .. ':r'; r.r = nil end
      if e < now - GRACE then
        c.dead[#c.dead + 1] = id .. ':e'; c.dead[#c.dead + 1] = id .. ':q'
        c.inst[id] = nil
      end
    else
      d.slots = d.slots + (r.p or 0)
      d.res = d.res + (r.r or 0)
      if id == me then d.myP, d.myR = r.p or 0, r.r or 0 end
    end
  end
  d.inKey = key
end

local function spent(key, period, dbSpend)
  local c = bgC[key]
  if c == nil then
    local v = redis.call('HMGET', key, 'p', 's')
    c = {p = tonumber(v[1]), s = tonumber(v[2])}
    bgC[key] = c
    bgOrder[#bgOrder + 1] = key
  end
  -- Seed from the database when absent or when the budget was reset since (periods only grow;
  -- an instance with an older view does not reseed a newer counter).
  if c.s == nil or c.p == nil or c.p < period then
    c.p, c.s, c.seed = period, dbSpend, true
    return dbSpend
  end
  -- Same period: the database may know more (Redis restarted empty and was seeded from an older
  -- view); it never knows less than Redis, which gets settlements first.
  if c.p == period and dbSpend > c.s then
    c.s, c.setS = dbSpend, true
    return dbSpend
  end
  return c.s
end

-- The answers, appended in place (no table per request): `na` is the last index used.
local all, na = {}, 0
local function put(v)
  na = na + 1
  all[na] = v
end

local function refuse(i, kind, limit, current, retry, reset)
  put(7); put(0); put(i - 1); put(kind); put(limit); put(current); put(retry); put(reset)
end

local function windowRetry(s)
  if s == nil then return 60, now + W end
  local secs = math.ceil((s + W - now) / 1000)
  if secs < 1 then secs = 1 end
  return secs, s + W
end

-- One request: ARGV[base+1..base+5] = now_ms, tokens, cost_nano, reserve, n; then the indexes of
-- its n descriptors in U.
local function admitOne(base)
  local v = tonumber(ARGV[base + 1])
  if v ~= nil and v > 0 then
    now = v
  else
    if serverNow == nil then serverNow = clock(0) end
    now = serverNow
  end
  local tokens, cost = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local reserve = ARGV[base + 4] == '1'
  local n = tonumber(ARGV[base + 5])
  for i = 1, n do
    local j = tonumber(ARGV[base + 5 + i])
    local k, x = (j - 1) * 3, U[j]
    -- Descriptor state tables are reused from request to request (fields reset here).
    local d = D[i]
    if d == nil then d = {}; D[i] = d end
    d.rpm, d.tpm, d.par, d.max, d.db, d.period, d.k = x[1], x[2], x[3], x[4], x[5], x[6], k
    d.slots, d.res, d.myP, d.myR, d.spent, d.rc, d.tc = 0, 0, 0, 0, 0, 0, 0
    d.rs, d.ts, d.inKey = nil, nil, nil
    if d.rpm >= 0 or d.tpm >= 0 then
      local c = win(KEYS[k + 1])
      d.rs, d.rc = window(c.rs, c.rn, now)
      d.ts, d.tc = window(c.ts, c.tn, now)
    end
    if d.rpm >= 0 and d.rc + 1 > d.rpm then
      local retry, reset = windowRetry(d.rs)
      refuse(i, 0, d.rpm, d.rc, retry, reset)
      return
    end
    if d.tpm >= 0 and d.tc + tokens > d.tpm then
      local retry, reset = windowRetry(d.ts)
      refuse(i, 1, d.tpm, d.tc, retry, reset)
      return
    end
    if d.par >= 0 or d.max >= 0 then inflight(KEYS[k + 2], d) end
    if d.par >= 0 and d.slots + 1 > d.par then
      refuse(i, 2, d.par, d.slots, 1, 0)
      return
    end
    if d.max >= 0 then
      d.spent = spent(KEYS[k + 3], d.period, d.db)
      local over
      if reserve then over = d.spent + d.res >= d.max or d.spent + d.res + cost > d.max else over = d.spent >= d.max end
      if over then
        local retry = 0
        if d.period > now then retry = math.ceil((d.period - now) / 1000) end
        refuse(i, 3, d.max, d.spent + d.res, retry, 0)
        return
      end
    end
  end

  put(2 + 4 * n); put(1); put(now)
  for i = 1, n do
    local d = D[i]
    local k = d.k
    local rr, tr, pr, br = -1, -1, -1, -1
    if d.rpm >= 0 or d.tpm >= 0 then
      local c = win(KEYS[k + 1])
      if d.rpm >= 0 then
        if d.rs == nil then d.rs, c.expire = now, true end
        c.rs, c.rn, c.setR = d.rs, d.rc + 1, true
        rr = d.rpm - d.rc - 1
      end
      if d.tpm >= 0 then
        if d.ts == nil then d.ts, c.expire = now, true end
        c.ts, c.tn, c.setT = d.ts, d.tc + tokens, true
        tr = d.tpm - d.tc - tokens
      end
    end
    local takeP, takeR = d.par >= 0, d.max >= 0 and reserve and cost > 0
    if d.par >= 0 then pr = d.par - d.slots - 1 end
    if d.max >= 0 then
      local take = 0
      if takeR then take = cost end
      br = d.max - d.spent - d.res - take
    end
    if takeP or takeR then
      local c = inC[d.inKey]
      local r = c.inst[me]
      if r == nil then r = {}; c.inst[me] = r end
      if takeP then r.p = d.myP + 1 end
      if takeR then r.r = d.myR + cost end
      r.e = now + lease
      c.mine = r
    end
    put(rr); put(tr); put(pr); put(br)
  end
end

-- Each request's answer, prefixed by its length.
local base = 4 + 6 * u
for _ = 1, m do
  admitOne(base)
  base = base + 5 + tonumber(ARGV[base + 5])
end

-- Write back what the batch changed, one command per key.
for _, key in ipairs(winOrder) do
  local c, w = winC[key], {}
  if c.setR then w[#w + 1] = 'rs'; w[#w + 1] = fmt(c.rs); w[#w + 1] = 'rn'; w[#w + 1] = fmt(c.rn) end
  if c.setT then w[#w + 1] = 'ts'; w[#w + 1] = fmt(c.ts); w[#w + 1] = 'tn'; w[#w + 1] = fmt(c.tn) end
  if #w > 0 then redis.call('HSET', key, unpack(w)) end
  if c.expire then redis.call('PEXPIRE', key, WIN_TTL) end
end
for _, key in ipairs(inOrder) do
  local c = inC[key]
  if #c.dead > 0 then redis.call('HDEL', key, unpack(c.dead)) end
  local r = c.mine
  if r ~= nil then
    local h = {}
    if r.p ~= nil then h[#h + 1] = me .. ':p'; h[#h + 1] = fmt(r.p) end
    if r.r ~= nil then h[#h + 1] = me .. ':r'; h[#h + 1] = fmt(r.r) end
    h[#h + 1] = me .. ':e'; h[#h + 1] = fmt(r.e)
    redis.call('HSET', key, unpack(h))
    if c.empty then redis.call('PEXPIRE', key, DAY) end
  end
end
for _, key in ipairs(bgOrder) do
  local c = bgC[key]
  if c.seed then
    redis.call('HSET', key, 'p', fmt(c.p), 's', fmt(c.s))
    redis.call('PEXPIRE', key, DAY)
  elseif c.setS then
    redis.call('HSET', key, 's', fmt(c.s))
  end
end
return all
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
