-- Claim up to N waiting jobs for a worker, lanes in the order given (every resume lane, then
-- every high lane, then every low lane), giving each a record hash (state running), a lease
-- and a new fencing token. A resume lane holds jobs interrupted by a dead or stopping worker.
-- KEYS[1..L]: the lane streams, in claim order; KEYS[L+1]: the set of paused queues (their
--   lanes are passed over); KEYS[L+2]: the control stream (a queue resumed)
-- ARGV[1]: prefix; ARGV[2]: worker id; ARGV[3]: max jobs; ARGV[4]: lease ms;
-- ARGV[5]: dead retention seconds; ARGV[6]: L; ARGV[6+j]: queue of lane j; ARGV[6+L+j]: lane name of lane j
-- Returns: {jobs, buried, cursors}
--   jobs: 14 values per job: id, token, attempt, kind, queue, lane, game, parent, body, attrs,
--     dedup, created ms, log length, id of a newer request with the same dedup key ('' if none)
--   buried: ids given to entries that could not be decoded, now in the dead-letter list
--   cursors: when nothing was claimed, the last generated id of each lane and of the control
--   stream (for XREAD BLOCK)
local prefix, worker = ARGV[1], ARGV[2]
local want, lease_ms, dead_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local nlanes = tonumber(ARGV[6])
local now = now_ms()
local jobs, buried, cursors = {}, {}, {}
local claimed = 0

-- An entry that cannot be decoded becomes a dead job of its own, with a name-based (v5-style)
-- id derived from where it was found, so the operator can see it and delete it.
local function buried_id(stream, sid)
  local h = redis.sha1hex(stream .. '/' .. sid)
  local variant = ({'8', '9', 'a', 'b'})[tonumber(string.sub(h, 17, 17), 16) % 4 + 1]
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) ..
    '-' .. variant .. string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end

local function bury(gid, queue, lane, sid, stream, fields, reason)
  local raw = {}
  for j = 1, #fields, 2 do raw[#raw + 1] = tostring(fields[j]) .. '=' .. tostring(fields[j + 1]) end
  local jk = job_key(prefix, gid)
  redis.call('HSET', jk, 'kind', '', 'queue', queue, 'lane', lane, 'game', '', 'state', 'dead',
    'created', stream_ms(sid), 'finished', now, 'attempts', 0, 'worker', worker,
    'error', reason .. ' (stream entry ' .. sid .. ' of ' .. stream .. ')',
    'body', table.concat(raw, '\n'))
  redis.call('EXPIRE', jk, dead_ttl)
  redis.call('ZADD', queue_key(prefix, queue, 'dead'), now, gid)
  buried[#buried + 1] = gid
end

-- First every read and check (common.lua), deciding what becomes of each entry taken from the
-- lanes; only then any write, so that a key of the wrong type changes nothing.
local plans = {}
local queues_checked = {}
local paused_key, control_key = KEYS[nlanes + 1], KEYS[nlanes + 2]
local paused = {}
-- An id met twice (an operator re-queued it twice) is claimed once; later entries are dropped.
local seen = {}
for l = 1, nlanes do
  if claimed >= want then break end
  local stream, queue, lane = KEYS[l], ARGV[6 + l], ARGV[6 + nlanes + l]
  if not queues_checked[queue] then
    expect_type(queue_key(prefix, queue, 'leases'), 'zset')
    expect_type(queue_key(prefix, queue, 'dead'), 'zset')
    paused[queue] = read(paused_key, 'SISMEMBER', paused_key, queue) == 1
    queues_checked[queue] = true
  end
  local entries = {}
  if not paused[queue] then
    entries = read(stream, 'XRANGE', stream, '-', '+', 'COUNT', want - claimed)
  end
  if #entries > 0 then
    local plan = {stream = stream, queue = queue, lane = lane, sids = {}, entries = {}}
    plans[#plans + 1] = plan
    for _, e in ipairs(entries) do
      local sid, f = e[1], e[2]
      plan.sids[#plan.sids + 1] = sid
      local fields = {}
      for j = 1, #f, 2 do fields[f[j]] = f[j + 1] end
      local id = fields.id
      local entry = {sid = sid, raw = f, fields = fields, id = id}
      plan.entries[#plan.entries + 1] = entry
      local jk = valid_id(id) and job_key(prefix, id)
      if not jk then
        entry.action = 'bury'
        entry.reason = 'undecodable queue entry: field "id" missing or not a lower-case UUID'
      elseif seen[id] then
        entry.action = 'drop'
      else
        seen[id] = true
        entry.jk = jk
        local dedup
        if fields.kind ~= nil and fields.kind ~= '' then
          -- A fresh job: its stream entry becomes its record.
          expect_type(jk, 'hash')
          local ik = index_key(prefix, queue, lane, id)
          expect_type(ik, 'hash')
          entry.action = 'fresh'
          dedup = fields.dedup or ''
        else
          -- A job coming back (retry, expired lease, hand-back): its record already holds it.
          local r = read(jk, 'HMGET', jk, 'kind', 'game', 'parent', 'body', 'attrs', 'dedup', 'created', 'state', 'lane')
          entry.r = r
          if not r[1] or r[1] == '' then
            entry.action = 'bury'
            entry.reason = 'queue entry names job ' .. id .. ' which has no record'
          elseif r[8] ~= 'queued' then
            -- Already running or finished elsewhere (an operator re-queued it twice): drop the duplicate entry.
            entry.action = 'drop'
          else
            entry.action = 'return'
            dedup = r[6] or ''
          end
        end
        if entry.action == 'fresh' or entry.action == 'return' then
          local lk = log_key(prefix, id)
          entry.log_len = read(lk, 'LLEN', lk)
          entry.newer = ''
          if dedup ~= '' then
            local latest = queue_key(prefix, queue, 'latest')
            entry.newer = read(latest, 'HGET', latest, dedup) or ''
            if entry.newer == id then entry.newer = '' end
          end
          claimed = claimed + 1
        end
      end
      if entry.action == 'bury' then
        -- The id the buried entry will have must be free for a record.
        entry.gid = buried_id(stream, sid)
        expect_type(job_key(prefix, entry.gid), 'hash')
      end
    end
  end
end

for _, plan in ipairs(plans) do
  local stream, queue, lane = plan.stream, plan.queue, plan.lane
  local leases = {}
  for _, entry in ipairs(plan.entries) do
    local id, fields, jk, sid = entry.id, entry.fields, entry.jk, entry.sid
    if entry.action == 'bury' then
      bury(entry.gid, queue, lane, sid, stream, entry.raw, entry.reason)
    elseif entry.action == 'fresh' then
      redis.call('HDEL', index_key(prefix, queue, lane, id), id)
      local token = redis.call('HINCRBY', jk, 'token', 1)
      local attempt = redis.call('HINCRBY', jk, 'attempts', 1)
      local parent, body, attrs, dedup = fields.parent or '', fields.body or '', fields.attrs or '', fields.dedup or ''
      local game = fields.game or ''
      -- Empty optional fields are left out: a record that stays small stays in Redis's compact encoding.
      local rec = {'kind', fields.kind, 'queue', queue, 'lane', lane, 'game', game, 'body', body,
        'created', stream_ms(sid), 'state', 'running', 'started', now, 'worker', worker}
      if parent ~= '' then rec[#rec + 1] = 'parent'; rec[#rec + 1] = parent end
      if attrs ~= '' then rec[#rec + 1] = 'attrs'; rec[#rec + 1] = attrs end
      if dedup ~= '' then rec[#rec + 1] = 'dedup'; rec[#rec + 1] = dedup end
      redis.call('HSET', jk, unpack(rec))
      leases[#leases + 1] = now + lease_ms
      leases[#leases + 1] = id
      for _, v in ipairs({id, token, attempt, fields.kind, queue, lane, game, parent, body, attrs,
          dedup, stream_ms(sid), entry.log_len, entry.newer}) do
        jobs[#jobs + 1] = v
      end
    elseif entry.action == 'return' then
      local r = entry.r
      local token = redis.call('HINCRBY', jk, 'token', 1)
      local attempt = redis.call('HINCRBY', jk, 'attempts', 1)
      redis.call('HSET', jk, 'state', 'running', 'started', now, 'worker', worker)
      redis.call('HDEL', jk, 'retry_at', 'stream')
      leases[#leases + 1] = now + lease_ms
      leases[#leases + 1] = id
      for _, v in ipairs({id, token, attempt, r[1], queue, r[9] or 'high', r[2] or '', r[3] or '', r[4] or '',
          r[5] or '', r[6] or '', r[7] or '0', entry.log_len, entry.newer}) do
        jobs[#jobs + 1] = v
      end
    end
  end
  redis.call('XDEL', stream, unpack(plan.sids))
  if #leases > 0 then
    redis.call('ZADD', queue_key(prefix, queue, 'leases'), unpack(leases))
  end
end

if #jobs == 0 and #buried == 0 then
  -- Nothing was written: reading the cursors last cannot leave a partial claim.
  local function last_id(key)
    if redis.call('EXISTS', key) == 0 then return '0-0' end
    local info = read(key, 'XINFO', 'STREAM', key)
    for j = 1, #info, 2 do
      if info[j] == 'last-generated-id' then return info[j + 1] end
    end
    return '0-0'
  end
  for l = 1, nlanes do cursors[#cursors + 1] = last_id(KEYS[l]) end
  cursors[#cursors + 1] = last_id(control_key)
end
return {jobs, buried, cursors}
