-- cs.loop: one libcurl multi handle, its timers and its tasks (coroutines). A host pumps it with
-- step(0) every frame, or runs it to the end. A client call made inside a task yields while its
-- transfer is in flight and sleeps on the loop's timers, so no task holds up another.
local core = require "connectstatus.core"
local errors = require "connectstatus.errors"

local M = {}

local unpack = table.unpack or unpack -- luacheck: ignore 143

local Loop = { __name = "connectstatus.Loop" }
Loop.__index = Loop

local Task = { __name = "connectstatus.Task" }
Task.__index = Task

-- What a task yields to hand control back to its loop; any other yield just lets others run.
local PARKED = setmetatable({}, { __tostring = function() return "connectstatus.loop parked" end })

-- The task each running coroutine belongs to; weak, so finished tasks go with their coroutines.
local task_of = setmetatable({}, { __mode = "k" })

local function pack(...)
  return { n = select("#", ...), ... }
end

local function check_seconds(v, what, level)
  if type(v) ~= "number" or v ~= v or v < 0 then
    error(("%s must be a non-negative number of seconds, got %s"):format(what, tostring(v)), level + 1)
  end
end

-- The task running now, or nil outside any task (or in a coroutine of the caller's own).
function M.current()
  local co = coroutine.running()
  return co and task_of[co]
end

local OPTIONS = { max_per_host = true }

function M.new(opts, level)
  level = (level or 1) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then error("cs.loop{...} expects a table of options", level) end
  require("connectstatus.options").check(opts, OPTIONS, "cs.loop", level)
  local per_host = opts.max_per_host
  if per_host ~= nil and (type(per_host) ~= "number" or per_host < 1 or per_host > 10000
      or per_host ~= math.floor(per_host)) then
    error("option 'max_per_host' must be a whole number from 1 to 10000", level)
  end
  return setmetatable({
    multi = core.new_multi(per_host or 32),
    ready = {},          -- tasks to resume on the next pass, in order
    timers = {},         -- sleeping tasks: { at = clock time, task = task }
    waiting = {},        -- transfer -> the task awaiting it
    tasks = {},          -- every unfinished task
    unfinished = 0,
  }, Loop)
end

-- ---- tasks ----

function Loop:spawn(fn, ...)
  if type(fn) ~= "function" then error("spawn expects a function, got " .. type(fn), 2) end
  local task = setmetatable({ loop = self, co = coroutine.create(fn), args = pack(...),
    children = {}, finished = false }, Task)
  task_of[task.co] = task
  self.tasks[task] = true
  self.unfinished = self.unfinished + 1
  self.ready[#self.ready + 1] = task
  return task
end

function Loop:finish(task, results, raised)
  if task.finished then return end
  task.finished, task.results, task.raised = true, results, raised
  -- Dropped at once: Lua 5.1 would never collect a weak key its own value refers to.
  task_of[task.co] = nil
  self.tasks[task] = nil
  self.unfinished = self.unfinished - 1
  if task.on_done then task.on_done(task) end
end

-- Forgets whatever the task was waiting on: its transfer is aborted, its timer dropped.
function Loop:abandon(task)
  local t = task.transfer
  if t then
    self.waiting[t] = nil
    self.multi:remove(t)
    t:close()
    task.transfer = nil
  end
  if task.timer then
    for i, entry in ipairs(self.timers) do
      if entry == task.timer then table.remove(self.timers, i) break end
    end
    task.timer = nil
  end
end

function Loop:resume(task)
  local r
  if task.args then
    local args = task.args
    task.args = nil
    r = pack(coroutine.resume(task.co, unpack(args, 1, args.n)))
  else
    r = pack(coroutine.resume(task.co))
  end
  if task.finished then return self:abandon(task) end -- cancelled while it ran
  if coroutine.status(task.co) == "dead" then
    if r[1] then
      self:finish(task, pack(unpack(r, 2, r.n)), false)
    else
      self:finish(task, { n = 2, nil, r[2] }, true)
    end
  elseif r[2] ~= PARKED then
    self.ready[#self.ready + 1] = task -- the task yielded on its own: it runs again next pass
  end
end

function Loop:run_ready()
  local batch = self.ready
  self.ready = {}
  for _, task in ipairs(batch) do
    if not task.finished then self:resume(task) end
  end
end

function Loop:wake(task)
  self.ready[#self.ready + 1] = task
end

-- ---- what a task waits on (called from inside the task) ----

function Loop:await_transfer(t)
  local task = M.current()
  self.multi:add(t)
  self.waiting[t] = task
  task.transfer = t
  coroutine.yield(PARKED)
  task.transfer = nil
end

-- A timer on the running task's loop (the other tasks go on), a blocking sleep outside any task.
function M.sleep(seconds)
  local task = M.current()
  if task then return task.loop:sleep(seconds) end
  core.sleep(seconds)
end

function Loop:sleep(seconds)
  local task = M.current()
  local entry = { at = core.monotonic() + seconds, task = task }
  self.timers[#self.timers + 1] = entry
  task.timer = entry
  coroutine.yield(PARKED)
  task.timer = nil
end

-- ---- driving ----

function Loop:next_timer()
  local soonest
  for _, entry in ipairs(self.timers) do
    if not soonest or entry.at < soonest then soonest = entry.at end
  end
  return soonest
end

function Loop:wake_timers(now)
  local keep = {}
  for _, entry in ipairs(self.timers) do
    if entry.at <= now then self:wake(entry.task) else keep[#keep + 1] = entry end
  end
  self.timers = keep
end

function Loop:pass(deadline)
  self:run_ready()
  if self.unfinished == 0 then return end
  local now = core.monotonic()
  local wait = #self.ready > 0 and 0 or math.max(0, deadline - now)
  local soonest = self:next_timer()
  if soonest then wait = math.min(wait, math.max(0, soonest - now)) end
  local finished = self.multi:poll(wait)
  for _, t in ipairs(finished) do
    local task = self.waiting[t]
    self.waiting[t] = nil
    if task then self:wake(task) end
  end
  self:wake_timers(core.monotonic())
  self:run_ready()
end

-- Drives transfers, timers and tasks for at most timeout seconds (0: one pass that never
-- blocks); returns the number of unfinished tasks.
function Loop:step(timeout)
  check_seconds(timeout, "step's timeout", 2)
  if not self.multi then error("attempt to use a closed connectstatus loop", 2) end
  local deadline = core.monotonic() + timeout
  repeat
    self:pass(deadline)
  until self.unfinished == 0 or core.monotonic() >= deadline
  return self.unfinished
end

function Loop:run(timeout)
  if timeout ~= nil then check_seconds(timeout, "run's timeout", 2) end
  return self:step(timeout or math.huge)
end

-- Each item as fn(item) in its own task, at most `parallel` at once; values[i], errs[i] are
-- fn's two results, or nil and the raised value. Inside a task of this loop, that task waits.
function Loop:map(list, fn, parallel)
  local parent = M.current()
  if parent and parent.loop ~= self then parent = nil end
  local values, errs = {}, {}
  local n, next_index, left = #list, 1, #list
  local function launch()
    local i = next_index
    next_index = i + 1
    local child = self:spawn(fn, list[i])
    if parent then parent.children[child] = true end
    child.on_done = function(task)
      if parent then parent.children[task] = nil end
      values[i], errs[i] = task.results[1], task.results[2]
      left = left - 1
      if next_index <= n and not (parent and parent.finished) then launch() end
      if left == 0 and parent and not parent.finished then self:wake(parent) end
    end
  end
  for _ = 1, math.min(parallel, n) do launch() end
  if parent then
    while left > 0 do coroutine.yield(PARKED) end
  else
    self:run()
  end
  return values, errs
end

-- Cancels every unfinished task and releases the multi handle.
function Loop:close()
  if not self.multi then return end
  local unfinished = {}
  for task in pairs(self.tasks) do unfinished[#unfinished + 1] = task end
  for _, task in ipairs(unfinished) do task:cancel() end
  self.multi:close()
  self.multi = nil
end

Loop.__close = Loop.close

function Loop:__tostring()
  if not self.multi then return "connectstatus.Loop (closed)" end
  return ("connectstatus.Loop (%d unfinished)"):format(self.unfinished)
end

-- ---- task handles ----

function Task:done()
  return self.finished
end

function Task:result()
  if not self.finished then error("task:result() called before the task finished", 2) end
  return unpack(self.results, 1, self.results.n)
end

function Task:cancel()
  if self.finished then return false end
  self.loop:finish(self, { n = 2, nil, errors.new("cancelled", "task cancelled") }, false)
  if coroutine.running() ~= self.co then self.loop:abandon(self) end
  for child in pairs(self.children) do child:cancel() end
  return true
end

function Task:__tostring()
  return "connectstatus.Task (" .. (self.finished and "done" or "running") .. ")"
end

-- cs.map: inside a task it runs on that task's loop; outside, on a loop of its own.
function M.map(list, fn, opts, level)
  level = (level or 1) + 1
  if type(list) ~= "table" then error("map expects a list, got " .. type(list), level) end
  if type(fn) ~= "function" then error("map expects a function, got " .. type(fn), level) end
  if opts ~= nil and type(opts) ~= "table" then error("map's options must be a table", level) end
  local parallel = opts and opts.parallel or 8
  if type(parallel) ~= "number" or parallel < 1 or parallel ~= math.floor(parallel) then
    error("option 'parallel' must be a whole number of at least 1", level)
  end
  local task = M.current()
  if task then return task.loop:map(list, fn, parallel) end
  local loop = M.new()
  local values, errs = loop:map(list, fn, parallel)
  loop:close()
  return values, errs
end

return M
