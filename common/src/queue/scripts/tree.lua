-- The roll-up of job trees (docs/redis-keys.md `job:<id>:tree`), prepended to each
-- script after common.lua. Every job with descendants has a hash counting them by outcome:
-- `jobs` (all), `pending` (queued or running), `succeeded`, `failed`, `dead`, `cancelled`, and
-- listing up to TREE_LISTED of the failed, dead and cancelled ones (`f:<id>` = finish ms; `listed` counts them).
-- Each script that changes a job's outcome calls tree_roll_up in the same atomic call, so
-- the counts of every ancestor change exactly when the job's state does (ARCHITECTURE.md).

local TREE_LISTED = 100
-- The pipeline is four levels deep; the bound only stops a producer-made cycle of parents.
local TREE_MAX_DEPTH = 16

local function tree_key(prefix, id) return prefix .. 'job:' .. id .. ':tree' end

-- The ancestors of a job whose parent is `parent`, nearest first, following the `parent` field
-- of each record up to the first without one; checks the keys tree_roll_up will write (call it
-- before the script's first write).
local function tree_chain(prefix, parent)
  local chain, p = {}, parent
  while p and p ~= '' and #chain < TREE_MAX_DEPTH do
    chain[#chain + 1] = p
    expect_type(tree_key(prefix, p), 'hash')
    local jk = job_key(prefix, p)
    p = read(jk, 'HGET', jk, 'parent')
  end
  return chain
end

-- Adds `deltas` ({field = n}) to the roll-up of each ancestor in `chain` (from tree_chain), and
-- lists (`list` 'add') or unlists ('remove') job `id` among their failures.
-- A roll-up created after its job finished takes the job record's remaining lifetime.
local function tree_roll_up(prefix, chain, id, deltas, list, now)
  for _, p in ipairs(chain) do
    local tk = tree_key(prefix, p)
    for field, by in pairs(deltas) do redis.call('HINCRBY', tk, field, by) end
    if list == 'add' then
      if tonumber(redis.call('HGET', tk, 'listed') or '0') < TREE_LISTED and
          redis.call('HSETNX', tk, 'f:' .. id, now) == 1 then
        redis.call('HINCRBY', tk, 'listed', 1)
      end
    elseif list == 'remove' then
      if redis.call('HDEL', tk, 'f:' .. id) == 1 then redis.call('HINCRBY', tk, 'listed', -1) end
    end
    if redis.call('PTTL', tk) == -1 then
      local left = redis.call('PTTL', job_key(prefix, p))
      if left > 0 then redis.call('PEXPIRE', tk, left) end
    end
  end
end

-- The roll-up change of a job reaching a final outcome ('succeeded', 'failed', 'dead' or
-- 'cancelled').
local function tree_finished(prefix, chain, id, outcome, now)
  if #chain == 0 then return end
  if outcome == 'succeeded' then
    tree_roll_up(prefix, chain, id, {pending = -1, succeeded = 1}, nil, now)
  else
    tree_roll_up(prefix, chain, id, {pending = -1, [outcome] = 1}, 'add', now)
  end
end
