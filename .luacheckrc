std = "max"
max_line_length = 120
files["spec"] = { std = "+busted" }
exclude_files = { "build", "bench/out" }
-- Code that runs inside nginx (OpenResty's ngx API).
files["spec/nginx/cs_app.lua"] = { std = "max+ngx_lua" }
files["examples/openresty_healthz.lua"] = { std = "max+ngx_lua" }
files["bench/w6_app.lua"] = { std = "max+ngx_lua" }
