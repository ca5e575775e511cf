-- bench/RESULTS.md's section on W2 and W4 with the W2 selection (issue 16), called by bench/report.lua with its
-- helpers. Until the client passes select on to the decoder (bench/cs_fleet.lua then prints "skip"), the
-- selected end-to-end figures are projected from measured parts of the same run: the full read less the full
-- decode alone plus the selected decode alone (both bench/decode_only.lua, fresh processes, same bytes).
return function(r)
  local CS, emit, collect, ratio, x, num, target = r.CS, r.emit, r.collect, r.ratio, r.x, r.num, r.target
  local W4_SPREAD = 1.15

  local function median(workload, cluster, field)
    local s = collect(workload, cluster, function(rec) return rec[field] end)[CS]
    return s and s.median
  end

  -- Seconds and peak RSS (KiB) of the selected read of cluster, measured or projected; nil if neither can be.
  local function selected(cluster)
    local e2e = median("W2S", cluster, "seconds")
    if e2e then return e2e, median("W2S", cluster, "rss_kb"), "measured" end
    local full, get = median("W2", cluster, "seconds"), median("W2", cluster, "get_s")
    local dec, sel = median("DECODE", cluster, "seconds"), median("DECODE_SEL", cluster, "seconds")
    if not (full and get and dec and sel) then return nil end
    local rss, drss, srss = median("W2", cluster, "rss_kb"), median("DECODE", cluster, "rss_kb"),
      median("DECODE_SEL", cluster, "rss_kb")
    return full - dec + sel, rss and drss and srss and rss - (drss - srss), "projected"
  end

  emit("## W2 and W4 with a selection (issue 16)")
  emit("")
  emit("The selection is bench/w2_select.lua, `{\"*.status.connector.state\", \"*.status.tasks.*.state\"}`: what the")
  emit("FAILED count reads. The peers cannot skip while decoding: their best is the full decode of W2, the same count.")
  local sel_s, sel_rss, how = selected "lkc-bench"
  if how == "projected" then
    emit("The client does not pass `select` on to the decoder yet (cs_fleet.lua printed \"skip\"), so connectstatus's")
    emit("selected read is projected from this run: its W2 read, less the full decode alone, plus the selected")
    emit("decode alone (bench/decode_only.lua, fresh processes, the same bytes); peak RSS likewise.")
  end
  emit("")

  local dec = collect("DECODE", "lkc-bench", function(rec) return rec.seconds end)[CS]
  local dsel = collect("DECODE_SEL", "lkc-bench", function(rec) return rec.seconds end)[CS]
  local bytes = (collect("DECODE_SEL", "lkc-bench", function(rec) return rec.bytes end)[CS] or {}).median
  emit("The decode alone, one decode per fresh process (first-touch page faults included, as in W2; the 600 MB/s")
  emit("target is `make bench-json`'s, a median of 11 decodes in a warm process):")
  emit("")
  emit("| decode alone, fresh process (Lua 5.4) | ms median | min - max | MB/s | peak RSS MiB |")
  emit("|---|---:|---:|---:|---:|")
  for _, row in ipairs { { "full", dec, "DECODE" }, { "with the W2 selection", dsel, "DECODE_SEL" } } do
    local s, rss = row[2], median(row[3], "lkc-bench", "rss_kb")
    if s then
      emit("| %s | %.1f | %.1f - %.1f | %s | %s |", row[1], s.median * 1e3, s.min * 1e3, s.max * 1e3,
        bytes and num(bytes / s.median / 1e6) or "n/a", rss and num(rss / 1024, 1) or "n/a")
    end
  end
  emit("")

  local w2, w2_rss = r.w2, r.w2_rss
  local ls, wrk = w2["luasocket-cjson"], w2.wrk
  emit("| W2, the same count | seconds median | vs luasocket + cjson | / wrk's transfer | peak RSS MiB |")
  emit("|---|---:|---:|---:|---:|")
  if sel_s then
    emit("| %s with the selection (%s) | %.4f | %s | %s | %s |", CS, how, sel_s, x(ratio(ls and ls.median, sel_s)),
      x(ratio(sel_s, wrk and wrk.median)), sel_rss and num(sel_rss / 1024, 1) or "n/a")
  end
  local jit_sel = collect("W2S", "lkc-bench", function(rec) return rec.seconds end)["connectstatus-luajit"]
  if jit_sel then
    emit("| connectstatus-luajit with the selection (measured) | %.4f | %s | %s | |", jit_sel.median,
      x(ratio(ls and ls.median, jit_sel.median)), x(ratio(jit_sel.median, wrk and wrk.median)))
  end
  for _, name in ipairs { CS, "connectstatus-luajit", "luasocket-cjson", "python-requests", "curl-jq", "wrk" } do
    local s, m = w2[name], w2_rss[name]
    if s then
      emit("| %s%s | %.4f | %s | %s | %s |", name, name:match "^connectstatus" and " (full decode)" or "", s.median,
        x(ratio(ls and ls.median, s.median)), x(ratio(s.median, wrk and wrk.median)),
        m and num(m.median / 1024, 1) or "n/a")
    end
  end
  emit("")
  local label = how and (" (" .. how .. ")") or ""
  local r4 = ratio(ls and ls.median, sel_s)
  target("W2 with the selection: connectstatus (Lua 5.4) >= 4x faster than luasocket + cjson" .. label, r4,
    r4 and r4 >= 4, r4 and ("%.2fx"):format(r4))
  local rw = ratio(sel_s, wrk and wrk.median)
  target("W2 with the selection: connectstatus (Lua 5.4) within 3x of wrk's transfer-only time" .. label, rw,
    rw and rw <= 3, rw and ("%.2fx"):format(rw))
  local full_rss = w2_rss[CS]
  local rr = ratio(sel_rss, full_rss and full_rss.median)
  target("W2 with the selection: peak RSS <= half of the full read's" .. label, rr, rr and rr <= 0.5,
    rr and ("%.2fx"):format(rr))

  emit("W4 with the selection, connectstatus (Lua 5.4):")
  emit("")
  emit("| connectors | seconds | how | us per connector | full read us per connector |")
  emit("|---:|---:|---|---:|---:|")
  local lo, hi = math.huge, 0
  for size in r.machine:gmatch("fixture: lkc%-bench%-(%d+) %d+ connectors") do
    local cluster = "lkc-bench-" .. size
    local s, _, h = selected(cluster)
    local full = median("W2", cluster, "seconds")
    if s then
      local us = s / tonumber(size) * 1e6
      if tonumber(size) >= 1000 then lo, hi = math.min(lo, us), math.max(hi, us) end
      emit("| %s | %.4f | %s | %.2f | %s |", num(tonumber(size)), s, h, us,
        full and ("%.2f"):format(full / tonumber(size) * 1e6) or "n/a")
    end
  end
  emit("")
  local spread = hi > 0 and hi / lo or nil
  target(("W4 with the selection: time per connector flat from 1,000 connectors up (max/min <= %.2f)%s"):format(
    W4_SPREAD, label), spread, spread and spread <= W4_SPREAD, spread and ("%.2f"):format(spread))
end
