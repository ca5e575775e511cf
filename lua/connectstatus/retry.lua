-- The one place that decides whether a failure is worth another request. The transport asks it
-- before each retry and the waits ask it before polling on, so a wait never keeps polling what
-- the client itself would not try again. Rules come from the backend (retry_500, retry_409).
local M = {}

-- Answers that say "not now" rather than "no": the request had no effect.
local TRANSIENT_STATUS = { [408] = true, [429] = true, [502] = true, [503] = true, [504] = true }

-- Methods whose repetition has the same effect as one request.
local IDEMPOTENT = { GET = true, PUT = true, DELETE = true }

-- Whether the same request may be sent again after err. POST and PATCH are repeated only when
-- they provably never reached the server, or were rejected outright (rules.retry_409: Kafka
-- Connect's rebalance answer, which Connect sends before doing anything).
function M.retryable(rules, method, err)
  local kind = err.kind
  if kind == "connect" then return true end
  if err.status == 409 then return rules.retry_409 == true end
  if not IDEMPOTENT[method] then return false end
  if err.status then
    return TRANSIENT_STATUS[err.status] == true or (err.status == 500 and rules.retry_500 == true)
  end
  return kind == "timeout" or kind == "transport"
end

return M
