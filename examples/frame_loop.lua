-- A game-style host: a frame loop that must never block (LÖVE's love.update, a simulation tick, an
-- editor's idle callback). Each frame pumps the connectstatus loop with step(0), which returns at
-- once whatever is in flight, and the status board is redrawn from whatever has arrived so far.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 examples/frame_loop.lua
--
-- Without CONNECTSTATUS_BASE_URL it starts the bundled fake API; for Confluent Cloud set the same
-- variables as examples/wait_running.lua.
local cs = require "connectstatus"

local base_url, fake = os.getenv("CONNECTSTATUS_BASE_URL"), nil
if not base_url then
  fake = cs.fake.start()
  base_url = fake.url
end

local cc = cs.confluent {
  api_key = os.getenv("CONFLUENT_CLOUD_API_KEY") or "demo-key",
  api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET") or "demo-secret",
  environment = os.getenv("CONFLUENT_ENVIRONMENT_ID") or "env-demo",
  cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID") or "lkc-demo",
  base_url = base_url,
}

local loop = cs.loop()
local board = {}       -- connector name -> what the last read said
local refresh          -- the task re-reading the fleet, while one runs

-- One refresh: the names, then every status at once; each status lands on the board as it comes.
local function refresh_fleet()
  local names = assert(cc:list())
  cs.map(names, function(name)
    local st, err = cc:status(name)
    board[name] = st and cs.health(st) or ("unreadable: " .. err.kind)
  end, { parallel = 8 })
end

-- love.update(dt), in effect: never blocks, called once per frame.
local frames = 0
local function update()
  frames = frames + 1
  if not refresh then refresh = loop:spawn(refresh_fleet) end
  loop:step(0)
  if refresh:done() then
    local _, raised = refresh:result()
    if raised then error(raised) end
    refresh = "done"
  end
end

-- love.draw(), in effect.
local function draw()
  local names = {}
  for name in pairs(board) do names[#names + 1] = name end
  table.sort(names)
  local cells = {}
  for _, name in ipairs(names) do cells[#cells + 1] = name .. "=" .. board[name] end
  return table.concat(cells, " ")
end

local FRAME = 1 / 60
repeat
  update()
  cs.sleep(FRAME) -- the host's vsync; outside a task this is a plain sleep
until refresh == "done"
print(("frame_loop: %d frames while reading %s"):format(frames, base_url .. (fake and " (the bundled fake API)" or "")))
print("board: " .. draw())
loop:close()
cc:close()
if fake then fake:stop() end
