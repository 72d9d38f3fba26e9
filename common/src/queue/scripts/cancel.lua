-- Cancel a job that has not finished. One waiting in its lane or out a retry backoff ends
-- `cancelled` at once and never runs; one running is marked (`cancel` on its record), and the
-- worker holding it learns so at its next lease renewal, stops the attempt through its
-- cancellation token and reports it `cancelled`. Either way it is not retried.
-- KEYS[1]: the finished-jobs index; KEYS[2]: the stats hash
-- ARGV[1]: prefix; ARGV[2]: id; ARGV[3]: queue; ARGV[4]: lane the caller found it waiting in
--   ('' if it has a record); ARGV[5]: retention seconds; ARGV[6]: the reason (its last error);
--   ARGV[7]: the reason as a log line
-- Returns: 'cancelled', 'requested' (running: its worker will stop it), 'finished:<state>' for
--   a job that had finished already (a cancelled one included), or 'unknown'
local prefix, id, queue, lane = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, reason = tonumber(ARGV[5]), ARGV[6]
local now = now_ms()
local jk = job_key(prefix, id)

-- First every read and check (common.lua); only then any write.
expect_type(KEYS[1], 'zset')
expect_type(KEYS[2], 'hash')
local r = read(jk, 'HMGET', jk, 'state', 'kind', 'parent', 'dedup', 'stream', 'lane')
local fresh -- the stream entry of a job never claimed: {stream, sid, index key, fields}
if r[1] then
  if r[1] == 'running' then
    redis.call('HSET', jk, 'cancel', now)
    return 'requested'
  elseif r[1] ~= 'queued' then
    return 'finished:' .. r[1]
  end
  expect_type(queue_key(prefix, queue, 'retry'), 'zset')
  for _, l in ipairs({r[6] or 'high', 'resume'}) do expect_type(queue_key(prefix, queue, l), 'stream') end
else
  if lane == '' then return 'unknown' end
  local ik = index_key(prefix, queue, lane, id)
  local loc = read(ik, 'HGET', ik, id)
  if not loc then return 'unknown' end
  local stream = queue_key(prefix, queue, lane)
  local sid = unpack_sid(loc)
  local e = read(stream, 'XRANGE', stream, sid, sid)
  if not e[1] then return 'unknown' end
  local fields = {}
  for j = 1, #e[1][2], 2 do fields[e[1][2][j]] = e[1][2][j + 1] end
  fresh = {stream = stream, sid = sid, ik = ik, fields = fields}
  r = {'queued', fields.kind or '', fields.parent or '', fields.dedup or ''}
end
local dedup = r[4] or ''
if dedup ~= '' then expect_type(queue_key(prefix, queue, 'latest'), 'hash') end
expect_type(log_key(prefix, id), 'list')
local chain = tree_chain(prefix, r[3])

if fresh then
  -- Its stream entry becomes its record, as a claim would make it.
  redis.call('XDEL', fresh.stream, fresh.sid)
  redis.call('HDEL', fresh.ik, id)
  local f = fresh.fields
  local rec = {'kind', f.kind or '', 'queue', queue, 'lane', lane, 'game', f.game or '', 'body', f.body or '',
    'created', stream_ms(fresh.sid), 'attempts', 0}
  for _, k in ipairs({'parent', 'attrs', 'dedup'}) do
    if f[k] and f[k] ~= '' then rec[#rec + 1] = k; rec[#rec + 1] = f[k] end
  end
  redis.call('HSET', jk, unpack(rec))
else
  redis.call('ZREM', queue_key(prefix, queue, 'retry'), id)
  if r[5] then
    redis.call('XDEL', queue_key(prefix, queue, r[6] or 'high'), r[5])
    redis.call('XDEL', queue_key(prefix, queue, 'resume'), r[5])
  end
  redis.call('HDEL', jk, 'retry_at', 'stream')
end
redis.call('HSET', jk, 'state', 'cancelled', 'finished', now, 'error', reason)
redis.call('RPUSH', log_key(prefix, id), ARGV[7])
for _, k in ipairs({jk, log_key(prefix, id), children_key(prefix, id), tree_key(prefix, id)}) do
  redis.call('EXPIRE', k, ttl)
end
redis.call('ZADD', KEYS[1], now, id)
tree_finished(prefix, chain, id, 'cancelled', now)
if dedup ~= '' then
  local latest = queue_key(prefix, queue, 'latest')
  if redis.call('HGET', latest, dedup) == id then redis.call('HDEL', latest, dedup) end
end
redis.call('HINCRBY', KEYS[2], 'finished:' .. queue .. ':' .. (r[2] or '') .. ':cancelled', 1)
return 'cancelled'
