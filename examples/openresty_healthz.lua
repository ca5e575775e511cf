-- A /healthz for OpenResty: the health of every connector of a Confluent Cloud cluster, as JSON, with
-- 200 when none has failed and 503 otherwise (for a load balancer or an uptime checker).
-- Load it from a location (examples/openresty_healthz.conf has the whole nginx.conf):
--
--   location = /healthz { content_by_lua_block { require("openresty_healthz").serve() } }
--
-- Credentials and ids come from the environment, which nginx passes on only when nginx.conf names each
-- variable with `env`. Without CONNECTSTATUS_BASE_URL it reads https://api.confluent.cloud.
local cs = require "connectstatus"

local M = {}

local client -- one per worker: its kept-alive connections and rate-limit state serve every request

local function confluent()
  client = client or cs.confluent {
    api_key = os.getenv("CONFLUENT_CLOUD_API_KEY"),
    api_secret = os.getenv("CONFLUENT_CLOUD_API_SECRET"),
    environment = os.getenv("CONFLUENT_ENVIRONMENT_ID"),
    cluster = os.getenv("CONFLUENT_KAFKA_CLUSTER_ID"),
    base_url = os.getenv("CONNECTSTATUS_BASE_URL"),
    timeout = 5, -- a health check must answer before its checker gives up
  }
  return client
end

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Cache-Control"] = "no-store"
  ngx.print(cs.json.encode(value))
end

function M.serve()
  local fleet, err = confluent():list { expand = { "status" } }
  if not fleet then
    -- The Error's text names the URL and kind, never the credentials.
    return reply(503, { error = tostring(err), kind = err.kind })
  end
  local summary = cs.summarize(fleet)
  reply(summary.health.failed > 0 and 503 or 200, summary)
end

return M
