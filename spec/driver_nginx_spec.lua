-- connectstatus.driver_nginx outside nginx: what it decides before any socket exists (construction,
-- phases, Location resolution). Its requests run in a real nginx in spec/nginx/driver_ngx.lua.
local driver_nginx = require "connectstatus.driver_nginx"

describe("driver_nginx outside nginx", function()
  it("is not usable, and sleeps by blocking", function()
    assert.is_false(driver_nginx.usable())
    assert.has_no.errors(function() driver_nginx.sleep(0.001) end)
  end)

  it("refuses options cosockets cannot honour, naming the nginx directive", function()
    for name, hint in pairs { cafile = "lua_ssl_trusted_certificate", capath = "lua_ssl_trusted_certificate",
      proxy = "proxy" } do
      local ok, err = pcall(driver_nginx.new, { base_url = "https://api.example.invalid", [name] = "x" })
      assert.is_false(ok)
      assert.matches("option '" .. name .. "' is not supported inside nginx", err, 1, true)
      assert.matches(hint, err, 1, true)
    end
  end)

  it("refuses bad base URLs, options and headers at the caller's line", function()
    local cases = {
      { { base_url = "ftp://h" }, "option 'base_url' must look like" },
      { { base_url = "https://u:p@h" }, "option 'base_url' must look like" },
      { { base_url = "https://h:99999" }, "bad port" },
      { { base_url = "https://h", timeout = -1 }, "option 'timeout' must be a positive number" },
      { { base_url = "https://h", timeout = "5" }, "option 'timeout' must be a number, got string" },
      { { base_url = 42 }, "option 'base_url' must be a string, got number" },
      { { base_url = "https://h", stall_timeout = 0 / 0 }, "option 'stall_timeout' must be a positive number" },
      { { base_url = "https://h", max_body = 0 }, "option 'max_body' must be an integer" },
      { { base_url = "https://h", pool_size = 1.5 }, "option 'pool_size' must be an integer" },
      { { base_url = "https://h", headers = { "X-A: 1\r\nX-B: 2" } }, "header 1 must be one 'Name: value' line" },
      { { base_url = "https://h", headers = { "no colon" } }, "header 1 must be one 'Name: value' line" },
      { { base_url = "https://h", token = "abc\n" }, "option 'token' contains CR, LF or NUL" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(function() local d = driver_nginx.new(case[1]); return d end) -- no tail call
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
      assert.matches("^spec/driver_nginx_spec.lua:%d+:", err)
    end
  end)

  it("keeps a token out of every field and of tostring", function()
    local d = driver_nginx.new { base_url = "https://h.example.invalid:8443/api/", token = "tok-SECRET" }
    assert.equal("connectstatus.NginxDriver (https://h.example.invalid:8443)", tostring(d))
    assert.equal("https://h.example.invalid:8443/api", d.base_url)
    for k, v in pairs(d) do
      assert.is_nil(tostring(k):find("SECRET", 1, true))
      assert.is_nil(tostring(v):find("SECRET", 1, true))
    end
  end)

  it("resolves a Location against the request URL", function()
    local url = "https://h:1/connect/v1/connectors/a/status?x=1"
    local cases = {
      ["https://other:2/p"] = "https://other:2/p",
      ["//other/p"] = "https://other/p",
      ["/p?q"] = "https://h:1/p?q",
      ["state"] = "https://h:1/connect/v1/connectors/a/state",
      ["../b"] = "https://h:1/connect/v1/connectors/a/../b",
      ["?y=2"] = "https://h:1/connect/v1/connectors/a/status?y=2",
    }
    for location, want in pairs(cases) do assert.equal(want, driver_nginx.resolve_location(location, url)) end
  end)
end)
