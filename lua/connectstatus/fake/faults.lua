-- connectstatus.fake.faults: scripted responses (/_fake/script) and the transport faults they can
-- carry, with the bodies they need: a chunked encoding that can stop mid-chunk, and a gzip bomb.
local common = require "connectstatus.fake.common"

local M = {}

local CHUNK_SIZE = 256

---------------------------------------------------------------------------------------------------
-- A gzip of many zero bytes, built at runtime: one dynamic-Huffman deflate block whose only codes
-- are literal 0, length 258 and distance 1, each match costing two bits (about 1032:1).

local BOMB_MATCHES = 262144 -- 1 + 258 * 262144 = 67,633,153 zero bytes from about 64 KiB
local BOMB_SIZE = 1 + 258 * BOMB_MATCHES
local BOMB_CRC32 = 0x3455d026 -- CRC-32 of BOMB_SIZE zero bytes (python3: zlib.crc32(bytes(n)))
local bomb

local function bit_writer()
  local bytes, acc, place = {}, 0, 1
  local w = {}
  function w.bits(value, count) -- an integer, least significant bit first
    for _ = 1, count do
      acc = acc + value % 2 * place
      value = math.floor(value / 2)
      place = place * 2
      if place == 256 then
        bytes[#bytes + 1] = string.char(acc)
        acc, place = 0, 1
      end
    end
  end
  function w.code(code) -- a Huffman code written as "101", most significant bit first
    for i = 1, #code do w.bits(code:byte(i) - 48, 1) end
  end
  function w.zero_bytes(n)
    bytes[#bytes + 1] = string.rep("\0", n)
  end
  function w.pad() -- zero bits up to the next byte boundary; returns how many
    local n = 0
    while place ~= 1 do
      w.bits(0, 1)
      n = n + 1
    end
    return n
  end
  function w.finish()
    w.pad()
    return table.concat(bytes)
  end
  return w
end

local function little_endian32(n)
  local out = {}
  for i = 1, 4 do
    out[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(out)
end

local function gzip_bomb()
  if bomb then return bomb end
  local w = bit_writer()
  w.bits(1, 1) -- final block
  w.bits(2, 2) -- dynamic Huffman
  w.bits(286 - 257, 5) -- literal/length codes up to 285
  w.bits(0, 5) -- one distance code
  w.bits(18 - 4, 4) -- code length codes in the standard order, up to the one for length 1
  local cl_lengths = { [18] = 1, [1] = 2, [2] = 2 } -- codes: 18 = "0", 1 = "10", 2 = "11"
  for _, symbol in ipairs { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1 } do
    w.bits(cl_lengths[symbol] or 0, 3)
  end
  -- Code lengths: literal 0 -> 2, 1..255 -> none, 256 -> 2, 257..284 -> none, 285 -> 1, distance 0 -> 1.
  -- Resulting codes: 285 = "0", literal 0 = "10", end of block = "11", distance 1 = "0".
  w.code("11")
  w.code("0"); w.bits(138 - 11, 7)
  w.code("0"); w.bits(117 - 11, 7)
  w.code("11")
  w.code("0"); w.bits(28 - 11, 7)
  w.code("10")
  w.code("10")
  w.code("10") -- literal 0, then every match is "0" + "0": pad to a byte boundary, then whole zero bytes
  local bits_left = 2 * BOMB_MATCHES - w.pad()
  w.zero_bytes(math.floor(bits_left / 8))
  w.bits(0, bits_left % 8)
  w.code("11")
  bomb = "\31\139\8\0\0\0\0\0\0\255" .. w.finish() .. little_endian32(BOMB_CRC32) .. little_endian32(BOMB_SIZE)
  return bomb
end

---------------------------------------------------------------------------------------------------
-- Scripted responses.

local FAULTS = { "delay", "drip", "truncate", "chunked", "reset", "empty", "content_length", "endless", "size" }
local RESETS = { before_headers = true, after_headers = true }

-- Turns one /_fake/script response object into a response; nil, message when it is malformed.
local function scripted_response(spec)
  if type(spec) ~= "table" then return nil, "each response must be an object" end
  if spec.body ~= nil and type(spec.body) ~= "string" then return nil, "body must be a string" end
  if spec.reset ~= nil and not RESETS[spec.reset] then return nil, "reset must be before_headers or after_headers" end
  local r = { status = tonumber(spec.status) or 200, headers = {}, body = spec.body or "" }
  if spec.json ~= nil then r.body = common.encode(spec.json) end
  for _, key in ipairs(FAULTS) do
    if spec[key] ~= nil and spec[key] ~= false then r[key] = spec[key] end
  end
  if spec.gzip_bomb then
    r.body = gzip_bomb()
    r.headers[#r.headers + 1] = { "Content-Encoding", "gzip" }
  end
  if spec.redirect then r.headers[#r.headers + 1] = { "Location", tostring(spec.redirect) } end
  local names = {}
  for name in pairs(type(spec.headers) == "table" and spec.headers or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do r.headers[#r.headers + 1] = { name, tostring(spec.headers[name]) } end
  return r
end

-- The chunked form of body; with limit, cut right after that many body bytes, inside a chunk.
local function chunked(body, limit)
  local out, sent = {}, 0
  for i = 1, #body, CHUNK_SIZE do
    local piece = body:sub(i, i + CHUNK_SIZE - 1)
    out[#out + 1] = ("%x\r\n"):format(#piece)
    if limit and sent + #piece >= limit then
      out[#out + 1] = piece:sub(1, limit - sent)
      return table.concat(out)
    end
    out[#out + 1] = piece .. "\r\n"
    sent = sent + #piece
  end
  out[#out + 1] = "0\r\n\r\n"
  return table.concat(out)
end

M.ENDLESS_CHUNK = ("%x\r\n%s\r\n"):format(4096, ("0,"):rep(2048))
M.chunked = chunked
M.scripted_response = scripted_response

return M
