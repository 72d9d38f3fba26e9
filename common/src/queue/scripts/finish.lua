-- Record the outcome of attempts, if the caller still holds each job's lease (fencing token).
-- KEYS[1]: the finished-jobs index; KEYS[2]: the stats hash
-- ARGV[1]: prefix; ARGV[2]: retention seconds; ARGV[3]: dead retention seconds
-- ARGV[4+5i .. 8+5i] for job i: id, queue, token, outcome, error ('' for none); the outcome is
--   'succeeded', 'failed', 'dead', 'retry:<delay ms>' (wait out a backoff, then run again), or
--   'wait:<delay ms>' (the same, but the attempt is not counted: a host throttled the job)
-- Returns: for each job 1 if recorded, 0 if its lease had been taken over (the result is dropped)
local prefix, ttl, dead_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local out, finished, stats = {}, {}, {}
local function count(field, by) stats[field] = (stats[field] or 0) + by end

-- First every read and check (common.lua); only then any write, so that a key of the wrong
-- type changes nothing.
expect_type(KEYS[1], 'zset')
expect_type(KEYS[2], 'hash')
local records, chains = {}, {}
for a = 4, #ARGV, 5 do
  local id, queue = ARGV[a], ARGV[a + 1]
  local jk = job_key(prefix, id)
  local r = read(jk, 'HMGET', jk, 'token', 'state', 'kind', 'started', 'dedup', 'parent')
  records[a] = r
  for _, part in ipairs({'leases', 'retry', 'dead'}) do expect_type(queue_key(prefix, queue, part), 'zset') end
  if r[1] == ARGV[a + 2] and r[2] == 'running' then
    expect_type(queue_key(prefix, queue, 'latest'), 'hash')
    if r[6] and r[6] ~= '' then chains[a] = tree_chain(prefix, r[6]) end
  end
end

for a = 4, #ARGV, 5 do
  local id, queue, token, outcome, err = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local jk = job_key(prefix, id)
  local r = records[a]
  local leases = queue_key(prefix, queue, 'leases')
  if r[1] ~= token or r[2] ~= 'running' or redis.call('ZREM', leases, id) == 0 then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    local kind = r[3] or ''
    local delay = tonumber(string.match(outcome, '^retry:(%d+)$'))
    local wait = tonumber(string.match(outcome, '^wait:(%d+)$'))
    if wait then
      delay = wait
      redis.call('HINCRBY', jk, 'attempts', -1)
    end
    local fields = {'finished', now}
    if err ~= '' then fields[#fields + 1] = 'error'; fields[#fields + 1] = err end
    if delay then
      redis.call('HSET', jk, 'state', 'queued', 'retry_at', now + delay, unpack(fields, 3))
      redis.call('ZADD', queue_key(prefix, queue, 'retry'), now + delay, id)
      count('finished:' .. queue .. ':' .. kind .. ':retried', 1)
    else
      redis.call('HSET', jk, 'state', outcome, unpack(fields))
      local keep = ttl
      if outcome == 'dead' then
        keep = dead_ttl
        redis.call('ZADD', queue_key(prefix, queue, 'dead'), now, id)
      end
      redis.call('EXPIRE', jk, keep)
      redis.call('EXPIRE', log_key(prefix, id), keep)
      redis.call('EXPIRE', children_key(prefix, id), keep)
      -- Tree roll-up (tree.lua): this job's own tree lives as long as it; its ancestors count it.
      redis.call('EXPIRE', tree_key(prefix, id), keep)
      tree_finished(prefix, chains[a] or {}, id, outcome, now)
      finished[#finished + 1] = now
      finished[#finished + 1] = id
      if r[5] and r[5] ~= '' then
        local latest = queue_key(prefix, queue, 'latest')
        if redis.call('HGET', latest, r[5]) == id then redis.call('HDEL', latest, r[5]) end
      end
      count('finished:' .. queue .. ':' .. kind .. ':' .. outcome, 1)
    end
    count('duration_ms:' .. queue .. ':' .. kind, now - (tonumber(r[4]) or now))
  end
end

if #finished > 0 then
  redis.call('ZADD', KEYS[1], unpack(finished))
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl * 1000)
end
for field, by in pairs(stats) do redis.call('HINCRBY', KEYS[2], field, by) end
return out
