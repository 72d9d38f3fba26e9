-- Enqueue jobs, each at the end of its queue's lane stream; a queued job has no record hash
-- yet: its stream entry is the record, found through the lane's queued index (id -> packed stream id).
-- KEYS[1]: the set of queue names
-- KEYS[2+4i .. 5+4i] for job i (0-based): lane stream, the lane's queued-index shard of the id,
--   latest hash of the queue (dedup), children list of the parent (any key when no parent)
-- ARGV[1]: prefix; ARGV[2]: number of jobs
-- ARGV[3+9i .. 11+9i] for job i: id, kind, queue, lane, game, parent (''), body, attrs JSON (''),
--   dedup key ('')
-- Returns: for each job the id it is known by: its own, or the id of a waiting job with the same
--   dedup key, lane, body and attributes, which it was coalesced into.
-- Enqueueing an id that is already known (waiting, running or finished) does nothing: a producer
-- that retries, or a spool drained twice, never makes a second job.
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
local out = {}

-- First every check (common.lua), so that a key of the wrong type changes nothing.
expect_type(KEYS[1], 'set')
local chains = {}
for i = 0, n - 1 do
  local k = 2 + 4 * i
  local a = 3 + 9 * i
  expect_type(KEYS[k], 'stream')
  expect_type(KEYS[k + 1], 'hash')
  expect_type(KEYS[k + 2], 'hash')
  local queue, lane, parent, dedup = ARGV[a + 2], ARGV[a + 3], ARGV[a + 5], ARGV[a + 8]
  if parent ~= '' then
    expect_type(KEYS[k + 3], 'list')
    chains[i] = tree_chain(prefix, parent)
  end
  if dedup ~= '' then
    local older = read(KEYS[k + 2], 'HGET', KEYS[k + 2], dedup)
    if older then
      local ik = index_key(prefix, queue, lane, older)
      read(ik, 'HGET', ik, older)
    end
  end
end

for i = 0, n - 1 do
  local k = 2 + 4 * i
  local a = 3 + 9 * i
  local stream, shard, latest, children = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local id, kind, queue, lane, game = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local parent, body, attrs, dedup = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  local known_as = id
  local exists = redis.call('EXISTS', job_key(prefix, id)) == 1 or redis.call('HEXISTS', shard, id) == 1
  if exists then
    known_as = nil
  elseif dedup ~= '' then
    -- Coalesce only into a request that is still waiting and asks for exactly the same thing;
    -- any difference enqueues this one, and the older one is skipped when claimed (superseded).
    local older = redis.call('HGET', latest, dedup)
    if older and older ~= id then
      local loc = redis.call('HGET', index_key(prefix, queue, lane, older), older)
      if loc then
        local osid = unpack_sid(loc)
        do
          local e = redis.call('XRANGE', stream, osid, osid)
          if e[1] then
            local f = e[1][2]
            local fields = {}
            for j = 1, #f, 2 do fields[f[j]] = f[j + 1] end
            if fields.body == body and fields.attrs == attrs and fields.game == game and fields.kind == kind then
              known_as = older
            end
          end
        end
      end
    end
  end
  if known_as == id and not exists then
    local sid = redis.call('XADD', stream, '*', 'id', id, 'kind', kind, 'game', game,
      'parent', parent, 'body', body, 'attrs', attrs, 'dedup', dedup)
    redis.call('HSET', shard, id, pack_sid(sid))
    redis.call('SADD', KEYS[1], queue)
    if parent ~= '' then
      redis.call('RPUSH', children, id)
      -- Tree roll-up (tree.lua): one more unfinished job under each ancestor.
      tree_roll_up(prefix, chains[i], id, {jobs = 1, pending = 1}, nil, 0)
    end
    if dedup ~= '' then redis.call('HSET', latest, dedup, id) end
  end
  out[#out + 1] = known_as or id
end
return out
