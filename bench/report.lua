-- Turns bench/run.sh's raw result lines into bench/RESULTS.md (and bench/results.png through gnuplot).
--   lua5.4 bench/report.lua OUT_DIR RESULTS_MD [PNG]
-- OUT_DIR holds raw.txt, machine.txt and, when profiled, profile.W1.* and profile.W2.*.
local out, results_path, png = ...
assert(out and results_path, "usage: report.lua OUT_DIR RESULTS_MD [PNG]")
if png == "" then png = nil end

local CS = "connectstatus-lua5.4"
local ORDER = { CS, "connectstatus-luajit", "luasocket-cjson", "python-requests", "curl-jq", "libcurl-c", "wrk" }
local RSS_MARGIN_KB = 512 -- W3: "flat" means at most this much growth from 1,000 to 100,000 reads
local W4_SPREAD = 1.3     -- W4: "flat" means per-connector times at >= 1,000 connectors within this factor

local function read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- ---- parsing ----

local results, rss = {}, {}
for line in assert(read_file(out .. "/raw.txt"), "no raw.txt"):gmatch("[^\n]+") do
  local kind, rest = line:match("^(%a+) (.*)$")
  local rec = {}
  for k, v in rest:gmatch("([%w_]+)=(%S+)") do rec[k] = tonumber(v) or v end
  if kind == "result" then
    results[#results + 1] = rec
  elseif kind == "rss" then
    rss[#rss + 1] = rec
  end
end

local function stats(values)
  if #values == 0 then return nil end
  table.sort(values)
  local m = #values // 2
  local median = #values % 2 == 1 and values[m + 1] or (values[m] + values[m + 1]) / 2
  return { median = median, min = values[1], max = values[#values], n = #values }
end

-- metric(rec) over the records of one workload (and cluster), grouped by contender.
local function collect(workload, cluster, metric, cpu)
  local by = {}
  for _, r in ipairs(results) do
    if r.workload == workload and (cluster == nil or r.cluster == cluster) and (cpu == nil or r.cpu == cpu) then
      local v = metric(r)
      if v then
        by[r.contender] = by[r.contender] or {}
        table.insert(by[r.contender], v)
      end
    end
  end
  local s = {}
  for name, values in pairs(by) do s[name] = stats(values) end
  return s
end

-- wrk prints its duration rounded to 10 ms; its own Requests/sec is the exact figure.
local function rate(r) return r.contender == "wrk" and r.rate or r.n / r.seconds end
local function fetch_seconds(r) return r.contender == "wrk" and 1 / r.rate or r.seconds end
local function rss_kb(r) return r.rss_kb end

local w2 = collect("W2", "lkc-bench", fetch_seconds)
local w2_rss = collect("W2", "lkc-bench", rss_kb)

-- ---- formatting ----

local lines = {}
local function emit(fmt, ...) lines[#lines + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end

local function num(v, digits)
  if v == nil then return "n/a" end
  local s = ("%." .. (digits or 0) .. "f"):format(v)
  local int, frac = s:match("^(-?%d+)(.*)$")
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^(-?),", "%1")
  return int .. frac
end

local function ratio(a, b)
  if not a or not b or b == 0 then return nil end
  return a / b
end

local function x(v)
  if not v then return "n/a" end
  return (v < 0.1 and "%.3fx" or "%.2fx"):format(v)
end

local verdicts = {}
local function target(label, value, ok, detail)
  local line
  if value == nil then
    line = ("- %s: NOT MEASURED"):format(label)
  elseif ok then
    line = ("- %s: target met (%s)"):format(label, detail)
  else
    line = ("- %s: MISSED (%s)"):format(label, detail)
  end
  verdicts[#verdicts + 1] = line
end

local machine = read_file(out .. "/machine.txt") or ""
local settings = {}
for line in machine:gmatch("settings: ([^\n]*)") do
  for k, v in line:gmatch("([%w_]+)=(%S+)") do settings[k] = v end
end

emit("# connectstatus benchmark results")
emit("")
emit("Produced by `make bench` (bench/run.sh, then bench/report.lua); %s. Every contender ran %s times,",
  machine:match("date: ([^\n]+)") or "", settings.runs or "?")
emit("round-robin against the same nginx on 127.0.0.1 serving the same generated fixtures; medians with the")
emit("min-max of the runs. Absolute numbers belong to this machine; the targets are ratios from the same run.")
emit("")

-- A markdown table: the header row, then row(name, stats) for each contender with results, in ORDER.
local function contender_table(header, by_contender, row)
  local columns = select(2, header:gsub("|", "")) - 1
  emit(header)
  emit("|---|" .. ("---:|"):rep(columns - 1)) -- names left, numbers right
  for _, name in ipairs(ORDER) do
    if by_contender[name] then row(name, by_contender[name]) end
  end
  emit("")
end

-- ---- W1 ----
-- One table per CPU placement (bench/run.sh: "apart" = client and nginx on different CPUs, "shared" = the same).
local PLACES = {
  apart = "client on CPU 1, nginx on CPU 0: each read is one cross-CPU round trip, latency-bound",
  shared = "client and nginx both on CPU 0: each read costs the client's CPU time plus nginx's",
  unpinned = "no CPU pinning (fewer than 2 CPUs or no taskset)",
}
emit("## W1: polling one connector's status (~300-byte body, decoded, state checked)")
emit("")
emit("libcurl-c is a reference, not a contender: the same reads from C on one libcurl handle, body discarded.")
emit("")
for _, place in ipairs { "apart", "shared", "unpinned" } do
  local w1 = collect("W1", nil, rate, place)
  local w1_n = collect("W1", nil, function(r) return r.contender ~= "wrk" and r.n or nil end, place)
  local wrk1, ls1, cs1, lc1 = w1.wrk, w1["luasocket-cjson"], w1[CS], w1["libcurl-c"]
  if next(w1) then
    emit("### W1 %s (%s)", place, PLACES[place])
    emit("")
    local header = "| contender | reads per run | req/s median | min - max | us per read | vs wrk "
      .. "| vs luasocket + cjson |"
    contender_table(header, w1, function(name, s)
      local n = name == "wrk" and ("%ss"):format(settings.wrk_seconds or "?") or
        num(w1_n[name] and w1_n[name].median)
      emit("| %s | %s | %s | %s - %s | %.1f | %s | %s |", name, n, num(s.median), num(s.min), num(s.max),
        1e6 / s.median, x(ratio(s.median, wrk1 and wrk1.median)), x(ratio(s.median, ls1 and ls1.median)))
    end)
    local r_wrk = ratio(cs1 and cs1.median, wrk1 and wrk1.median)
    target(("W1 %s: connectstatus (Lua 5.4) >= 0.8x wrk's single-connection rate"):format(place), r_wrk,
      r_wrk and r_wrk >= 0.8, r_wrk and ("%.2fx%s"):format(r_wrk,
        r_wrk < 0.8 and (", short by %.0f%%"):format((0.8 - r_wrk) / 0.8 * 100) or ""))
    local r_ls = ratio(cs1 and cs1.median, ls1 and ls1.median)
    target(("W1 %s: connectstatus (Lua 5.4) >= 1.5x luasocket + cjson"):format(place), r_ls,
      r_ls and r_ls >= 1.5, r_ls and ("%.2fx"):format(r_ls))
    if wrk1 and cs1 and ls1 then
      local us_wrk, us_cs = 1e6 / wrk1.median, 1e6 / cs1.median
      emit("wrk, which does no client work beyond HTTP framing, takes %.1f us per read; connectstatus takes %.1f us.",
        us_wrk, us_cs)
      if lc1 then
        local us_lc = 1e6 / lc1.median
        emit("libcurl alone (libcurl-c) takes %.1f us, so libcurl accounts for %.1f us of connectstatus's %.1f us " ..
          "over wrk,", us_lc, us_lc - us_wrk, us_cs - us_wrk)
        emit("and decoding plus the Lua layer for %.1f us. 0.8x wrk means at most %.1f us per read%s", us_cs - us_lc,
          us_wrk / 0.8, us_lc > us_wrk / 0.8 and ": libcurl by itself is already over that." or ".")
      end
      local ceiling = ratio(wrk1.median, ls1.median)
      emit("wrk reaches %.2fx luasocket + cjson's rate, the most any client could reach here%s", ceiling,
        ceiling < 1.5 and ": 1.5x cannot be met in this placement, however little the client does." or ".")
      emit("")
    end
  end
end

-- ---- W2 ----
local fixture = machine:match("fixture: lkc%-bench (%d+ connectors, %d+ FAILED, %d+ bytes)") or "?"
local cs2, ls2, py2 = w2[CS], w2["luasocket-cjson"], w2["python-requests"]
emit("## W2: the fleet, list{expand={\"id\",\"info\",\"status\"}} (%s), decoded, FAILED counted", fixture)
emit("")
emit("Every contender's count was checked against the generator's; a wrong count fails the run.")
emit("wrk fetches the body without decoding it: the transfer ceiling. Peak RSS (W3) from `/usr/bin/time -f %M`;")
emit("for curl | jq it is the larger of the two processes.")
emit("")
contender_table("| contender | seconds median | min - max | time / connectstatus (Lua 5.4) | peak RSS MiB |", w2,
  function(name, s)
    local m = w2_rss[name]
    emit("| %s | %.4f | %.4f - %.4f | %s | %s |", name, s.median, s.min, s.max,
      x(ratio(s.median, cs2 and cs2.median)), m and num(m.median / 1024, 1) or "n/a")
  end)
local r2 = ratio(ls2 and ls2.median, cs2 and cs2.median)
target("W2: connectstatus (Lua 5.4) >= 1.8x faster than luasocket + cjson", r2, r2 and r2 >= 1.8,
  r2 and ("%.2fx"):format(r2))
local r2p = ratio(py2 and py2.median, cs2 and cs2.median)
target("W2: connectstatus (Lua 5.4) faster than python requests", r2p, r2p and r2p > 1,
  r2p and ("%.2fx"):format(r2p))

-- Where W2's time goes. connectstatus fetches and decodes in one call, so its fetch is that call less the
-- decode of the same bytes alone (bench/decode_only.lua, also a fresh process).
local function phase(contender, workload, field)
  return collect(workload, "lkc-bench", function(r) return r[field] end)[contender]
end
local function ms(st) return st and ("%.1f"):format(st.median * 1e3) or "n/a" end
local cs_get, cs_count = phase(CS, "W2", "get_s"), phase(CS, "W2", "count_s")
local cs_dec = phase(CS, "DECODE", "seconds")
local ls_fetch, ls_dec = phase("luasocket-cjson", "W2", "fetch_s"), phase("luasocket-cjson", "W2", "decode_s")
local ls_count = phase("luasocket-cjson", "W2", "count_s")
local ls_dec_alone = phase("luasocket-cjson", "DECODE", "seconds")
if cs_get and cs_dec and ls_fetch then
  emit("Where W2's time goes, ms (medians). connectstatus fetches and decodes in one C call: its fetch is that")
  emit("call less the decode of the same bytes alone in a fresh process (bench/decode_only.lua).")
  emit("")
  emit("| contender | end to end | fetch | decode | count FAILED | decode alone, fresh process |")
  emit("|---|---:|---:|---:|---:|---:|")
  emit("| %s | %s | ~%.1f | ~%s | %s | %s |", CS, ms(cs2), (cs_get.median - cs_dec.median) * 1e3, ms(cs_dec),
    ms(cs_count), ms(cs_dec))
  emit("| luasocket-cjson | %s | %s | %s | %s | %s |", ms(ls2), ms(ls_fetch), ms(ls_dec), ms(ls_count),
    ms(ls_dec_alone))
  if w2.wrk then emit("| wrk (transfer only) | %s | %s | - | - | - |", ms(w2.wrk), ms(w2.wrk)) end
  emit("")
  local dr = ratio(ls_dec_alone and ls_dec_alone.median, cs_dec.median)
  if dr then
    emit("The decode alone is %.2fx faster than lua-cjson's; end to end the gap is %s.", dr, x(r2))
    emit("")
  end
end

-- ---- W3 ----
emit("## W3: memory")
emit("")
local m_cs, m_ls = w2_rss[CS], w2_rss["luasocket-cjson"]
emit("W2 peak RSS: connectstatus (Lua 5.4) %s MiB, luasocket + cjson %s MiB (table above).",
  m_cs and num(m_cs.median / 1024, 1) or "n/a", m_ls and num(m_ls.median / 1024, 1) or "n/a")
emit("")
emit("| contender | VmRSS after reads | KiB | VmRSS after reads | KiB | growth KiB | Lua heap KiB at end |")
emit("|---|---:|---:|---:|---:|---:|---:|")
for _, r in ipairs(rss) do
  emit("| %s | %s | %s | %s | %s | %s | %s |", r.contender, num(r.first_n), num(r.first_kb), num(r.last_n),
    num(r.last_kb), num(r.last_kb - r.first_kb), num(r.lua_kb))
end
emit("")
local rr = ratio(m_cs and m_cs.median, m_ls and m_ls.median)
target("W3: W2 peak RSS of connectstatus (Lua 5.4) <= luasocket + cjson's", rr, rr and rr <= 1,
  rr and ("%.2fx of it"):format(rr))
for _, r in ipairs(rss) do
  local growth = r.last_kb - r.first_kb
  target(("W3: %s RSS flat from %s to %s reads (<= %d KiB growth)"):format(r.contender, num(r.first_n),
    num(r.last_n), RSS_MARGIN_KB), growth, growth <= RSS_MARGIN_KB, ("%+d KiB"):format(growth))
end

-- ---- W4 ----
emit("## W4: growth, connectstatus (Lua 5.4) W2 at several fleet sizes")
emit("")
emit("luasocket + cjson ran the same fleets alongside, for reference: growth both show is Lua's own (building")
emit("tables, the collector traversing a growing heap, first-touch page faults), not the client's.")
emit("")
emit("| connectors | body bytes | seconds median | min - max | us per connector | peak RSS MiB |" ..
  " luasocket + cjson us per connector |")
emit("|---:|---:|---:|---:|---:|---:|---:|")
local per, ls_per, w4_plot = {}, {}, {}
for size, bytes in machine:gmatch("fixture: lkc%-bench%-(%d+) %d+ connectors, %d+ FAILED, (%d+) bytes") do
  local cluster = "lkc-bench-" .. size
  local s = collect("W2", cluster, fetch_seconds)[CS]
  local m = collect("W2", cluster, rss_kb)[CS]
  local l = collect("W2", cluster, fetch_seconds)["luasocket-cjson"]
  if s then
    local us = s.median / tonumber(size) * 1e6
    local lus = l and l.median / tonumber(size) * 1e6
    if tonumber(size) >= 1000 then
      per[#per + 1] = us
      ls_per[#ls_per + 1] = lus
    end
    w4_plot[#w4_plot + 1] = { tonumber(size), us, lus }
    emit("| %s | %s | %.4f | %.4f - %.4f | %.2f | %s | %s |", num(tonumber(size)), num(tonumber(bytes)), s.median,
      s.min, s.max, us, m and num(m.median / 1024, 1) or "n/a", lus and ("%.2f"):format(lus) or "n/a")
  end
end
emit("")
local function spread_of(list)
  local lo, hi = math.huge, 0
  for _, us in ipairs(list) do lo, hi = math.min(lo, us), math.max(hi, us) end
  return #list >= 2 and hi / lo or nil
end
local spread, ls_spread = spread_of(per), spread_of(ls_per)
if ls_spread then
  emit("Per-connector time from 1,000 connectors up varies by %.2fx for connectstatus and %.2fx for luasocket + cjson.",
    spread or 0, ls_spread)
  emit("")
end
target(("W4: time per connector flat from 1,000 connectors up (max/min <= %.1f)"):format(W4_SPREAD), spread,
  spread and spread <= W4_SPREAD, spread and ("%.2f"):format(spread))

-- ---- W2 and W4 with a selection (issue 16) ----
dofile("bench/report_select.lua") { CS = CS, emit = emit, collect = collect, ratio = ratio, x = x, num = num,
  target = target, w2 = w2, w2_rss = w2_rss, machine = machine }

-- ---- verdicts, profile, machine ----
table.insert(lines, 7, "## Targets\n\n" .. table.concat(verdicts, "\n") .. "\n")
local missed = table.concat(verdicts, "\n"):find("MISSED") ~= nil

local profiles = {
  { "W1.stat", "W1 (one run), perf stat: CPU time of the client process against wall time" },
  { "W1.perf", "W1 (one run), perf record -e cpu-clock: share of the client's CPU samples by library, then by symbol" },
  { "W1.callgrind", "W1 (one run), callgrind_annotate --inclusive=no: instructions by function (user space only)" },
  { "W1.inclusive", "W1 (one run), callgrind_annotate --inclusive=yes: instructions under the named entry points" },
  { "W2.stat", "W2 (one run), perf stat" },
  { "W2.perf", "W2 (one run), perf record -e cpu-clock" },
  { "W2.callgrind", "W2 (one run), callgrind_annotate --inclusive=no" },
  { "W2.inclusive", "W2 (one run), callgrind_annotate --inclusive=yes" },
}
local have = false
for _, p in ipairs(profiles) do
  local text = read_file(out .. "/profile." .. p[1] .. ".txt")
  if text and text:find("%S") then
    if not have then
      emit("## Where the time goes")
      emit("")
      emit(missed and "At least one target was missed; these profiles of the connectstatus (Lua 5.4) contender " ..
        "show where its time goes." or "Profiles of the connectstatus (Lua 5.4) contender.")
      emit("")
      have = true
    end
    emit("%s:", p[2])
    emit("")
    emit("```")
    emit((text:gsub("%s+$", "")))
    emit("```")
    emit("")
  end
end

-- W5 and W6 write their own sections (bench/w5.lua, bench/w6_nginx.lua).
for _, name in ipairs { "w5", "w6" } do
  local section = read_file(out .. "/" .. name .. ".md")
  if section then
    emit((section:gsub("%s+$", "")))
    emit("")
  end
end

local analysis = read_file("bench/analysis.md")
if analysis then
  emit((analysis:gsub("%s+$", "")))
  emit("")
end

emit("## Machine and versions")
emit("")
emit("```")
emit((machine:gsub("%s+$", "")))
emit("```")

local f = assert(io.open(results_path, "w"))
f:write(table.concat(lines, "\n"), "\n")
f:close()

-- ---- plot ----
if png then
  local function dat(path, stat, scale)
    local d = assert(io.open(path, "w"))
    for _, name in ipairs(ORDER) do
      if stat[name] then d:write(('"%s" %f\n'):format(name, stat[name].median * scale)) end
    end
    d:close()
  end
  -- W1: one row per contender, one column per placement (0 when a placement was not run).
  local by_place = { collect("W1", nil, rate, "apart"), collect("W1", nil, rate, "shared"),
    collect("W1", nil, rate, "unpinned") }
  local titles, colours = { "client on the other CPU", "client on nginx's CPU", "unpinned" },
    { "#3b6ea8", "#9bbb59", "#8064a2" }
  local w1_plot = {}
  for i, st in ipairs(by_place) do
    if next(st) then
      w1_plot[#w1_plot + 1] = ('%s using %d%s title "%s" lc rgb "%s"'):format(#w1_plot == 0 and '"' .. out ..
        '/w1.dat"' or '""', i + 1, #w1_plot == 0 and ":xtic(1)" or "", titles[i], colours[i])
    end
  end
  local d1 = assert(io.open(out .. "/w1.dat", "w"))
  for _, name in ipairs(ORDER) do
    local row = {}
    for i, st in ipairs(by_place) do row[i] = st[name] and ("%f"):format(st[name].median) or "0" end
    if row[1] ~= "0" or row[2] ~= "0" or row[3] ~= "0" then
      d1:write(('"%s" %s\n'):format(name, table.concat(row, " ")))
    end
  end
  d1:close()
  dat(out .. "/w2.dat", w2, 1)
  local d4 = assert(io.open(out .. "/w4.dat", "w"))
  for _, p in ipairs(w4_plot) do d4:write(("%d %f %s\n"):format(p[1], p[2], p[3] and ("%f"):format(p[3]) or "NaN")) end
  d4:close()
  local gp = assert(io.open(out .. "/plot.gp", "w"))
  gp:write(([[
set terminal pngcairo size 1500,520 font ",10"
set output "%s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -25
set key top right
set multiplot layout 1,3 title "connectstatus benchmark (medians; see bench/RESULTS.md)"
set title "W1: status reads per second, log scale (higher is better)"
set logscale y
set yrange [10:1000000]
set format y "%%g"
plot %s
set title "W2: seconds to fetch, decode and count the fleet, log scale (lower is better)"
set key off
set autoscale y
plot "%s/w2.dat" using 2:xtic(1) lc rgb "#c0504d"
set title "W4: microseconds per connector by fleet size (flat is linear)"
set style data linespoints
set logscale x
unset logscale y
set yrange [0:*]
set xtics norotate
set key top left
set xlabel "connectors"
plot "%s/w4.dat" using 1:2 title "connectstatus (Lua 5.4)" lw 2 pt 7 lc rgb "#3b6ea8", \
     "%s/w4.dat" using 1:3 title "luasocket + cjson" lw 2 pt 5 lc rgb "#c0504d"
unset multiplot
]]):format(png, table.concat(w1_plot, ", "), out, out, out))
  gp:close()
  assert(os.execute("gnuplot " .. out .. "/plot.gp"), "gnuplot failed")
end
