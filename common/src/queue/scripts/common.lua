-- Helpers shared by every script; prepended to each script's source at build time.
-- Key spellings here must match common/src/keys.rs (checked by a unit test there).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function job_key(prefix, id) return prefix .. 'job:' .. id end
local function log_key(prefix, id) return prefix .. 'job:' .. id .. ':log' end
local function children_key(prefix, id) return prefix .. 'job:' .. id .. ':children' end
local function index_key(prefix, queue, lane, id)
  return prefix .. 'queue:' .. queue .. ':' .. lane .. ':queued:' .. string.sub(id, 1, 3)
end

-- A stream id packed for the queued index: ms*100+seq when seq < 100 (an integer Redis stores
-- in 9 bytes; it stays below 2^53, so Lua's doubles hold it exactly), else the id itself.
local function pack_sid(sid)
  local ms, seq = string.match(sid, '^(%d+)-(%d+)$')
  if tonumber(seq) < 100 then return string.format('%.0f', tonumber(ms) * 100 + tonumber(seq)) end
  return sid
end
local function unpack_sid(v)
  if string.find(v, '-', 1, true) then return v end
  local n = tonumber(v)
  local seq = n % 100
  return string.format('%.0f', (n - seq) / 100) .. '-' .. string.format('%d', seq)
end
local function queue_key(prefix, queue, part) return prefix .. 'queue:' .. queue .. ':' .. part end

-- Lower-case hyphenated UUIDs only: keys are spelled from the id, so one job has one spelling.
local function valid_id(id)
  return type(id) == 'string' and string.len(id) == 36 and
    string.match(id, '^[0-9a-f]+%-[0-9a-f]+%-[0-9a-f]+%-[0-9a-f]+%-[0-9a-f]+$') ~= nil
end

-- The stream ID's millisecond part is the time the entry was added.
local function stream_ms(sid)
  return tonumber(string.match(sid, '^(%d+)'))
end

-- Checks made before a script's first write. Redis keeps a script's earlier writes when a later
-- command fails, so every script reads and checks all it needs first and only then writes: a key
-- of the wrong type (an operator's mistake, another program sharing the prefix) fails the script
-- with an error naming the key and leaves no partial state behind.
local function refuse(key, what)
  error({err = 'WRONGTYPE ' .. what .. ': ' .. key .. ' (the script stopped before writing anything)'})
end

local types_checked = {}
-- Fails unless `key` is absent or holds a `want` ('hash', 'list', 'set', 'zset', 'stream').
local function expect_type(key, want)
  if types_checked[key] then return end
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then refuse(key, 'holds a ' .. t .. ' where netkan keeps a ' .. want) end
  types_checked[key] = true
end

-- redis.call for a read of `key`, failing with an error that names the key.
local function read(key, ...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then
    refuse(key, (string.gsub(r.err, '^WRONGTYPE ', '')))
  end
  return r
end
