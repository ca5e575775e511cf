-- timefmt: the ISO 8601 / RFC 3339 timestamps the APIs send, to epoch seconds. Confluent alone uses
-- `2024-02-20T15:14:19Z`, `2024-02-20 15:14:19+00:00` and `2024-02-20T15:14:20+0000`. Computed with
-- plain arithmetic, never os.time, so the local time zone and DST cannot shift the result.
local M = {}

local DAYS_IN_MONTH = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function is_leap(y)
  return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

local function valid_date(y, m, d)
  if m < 1 or m > 12 or d < 1 or d > DAYS_IN_MONTH[m] then return false end
  return m ~= 2 or d <= 28 or is_leap(y)
end

-- The zone suffix in seconds east of UTC: "", "Z", "+HH", "+HHMM" or "+HH:MM".
local function zone_offset(zone)
  if zone == "" or zone == "Z" or zone == "z" then return 0 end
  local sign, hh, mm = zone:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then
    sign, hh = zone:match("^([+-])(%d%d)$")
    mm = "00"
  end
  if not sign then return nil end
  hh, mm = tonumber(hh), tonumber(mm)
  if hh > 23 or mm > 59 then return nil end
  local offset = hh * 3600 + mm * 60
  return sign == "-" and -offset or offset
end

-- Epoch seconds (fractions kept) of a timestamp string, or nil and a reason. A missing zone is UTC,
-- which is what both APIs mean.
function M.parse(s)
  if type(s) ~= "string" then return nil, "timestamp must be a string" end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^%s*(%d%d%d%d)-(%d%d)-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)([.,]?%d*)(%S*)%s*$")
  if not y then return nil, "not an ISO 8601 timestamp: " .. s end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if not valid_date(y, mo, d) or h > 23 or mi > 59 or sec > 60 or frac == "." or frac == "," then
    return nil, "timestamp out of range: " .. s
  end
  local offset = zone_offset(zone)
  if not offset then return nil, "bad time zone in timestamp: " .. s end
  local fraction = frac ~= "" and tonumber("0." .. frac:sub(2)) or 0
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + fraction - offset
end

-- Epoch seconds from a number (returned as is) or a timestamp string; raises on anything else,
-- since it only ever checks caller-supplied options.
function M.to_epoch(v, what, level)
  level = (level or 1) + 1
  if type(v) == "number" then return v end
  if type(v) ~= "string" then
    error(("%s must be epoch seconds or a timestamp string, got %s"):format(what, type(v)), level)
  end
  local t, err = M.parse(v)
  if not t then error(what .. ": " .. err, level) end
  return t
end

return M
