-- Drives a real Neovim (loaded with editors/neovim/exo_lsp.lua) against exo-lsp.
-- Run by tests/editors/test_neovim.py as
--   nvim --headless -u editors/neovim/exo_lsp.lua -c 'luafile neovim_scenario.lua'
-- Reads the plan (files, positions) from $EXO_E2E_PLAN and writes what the editor saw to
-- $EXO_E2E_OUT after every step, so a step that fails or hangs leaves the others' results.
-- Positions in the plan and in the results are 0-based lines and 0-based BYTE columns (what
-- Neovim's buffer holds), converted from the server's units with the negotiated encoding.

local plan = vim.json.decode(table.concat(vim.fn.readfile(vim.env.EXO_E2E_PLAN), "\n"))
local results = { steps = {} }

local function save()
  local f = assert(io.open(vim.env.EXO_E2E_OUT, "w"))
  f:write(vim.json.encode(results))
  f:close()
end

local function step(name, fn)
  local t0 = vim.uv.hrtime()
  table.insert(results.steps, name)
  results.current = name
  save()
  local ok, value = xpcall(fn, debug.traceback)
  if ok then
    results[name] = value == nil and vim.NIL or value
  else
    results[name] = { error = tostring(value) }
  end
  results[name .. "_ms"] = math.floor((vim.uv.hrtime() - t0) / 1e6)
  results.current = nil
  save()
end

local function wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    error(string.format("timed out after %d ms waiting for %s", ms, what), 2)
  end
end

-- ------------------------------------------------------------------ what the server sends

local seen = { show_document = {}, show_message = {}, progress_create = 0, notify = {}, execute = {} }
results.seen = seen

local function wrap(method, record)
  local orig = vim.lsp.handlers[method]
  vim.lsp.handlers[method] = function(err, params, ctx, config)
    pcall(record, err, params, ctx)
    if orig then
      return orig(err, params, ctx, config)
    end
  end
end

wrap("window/showDocument", function(_, params)
  local path = params.uri:match("^file:") and vim.uri_to_fname(params.uri) or nil
  local entry = { uri = params.uri, takeFocus = params.takeFocus }
  if path then
    local stat = vim.uv.fs_stat(path)
    entry.path = path
    entry.exists = stat ~= nil
    entry.mode = stat and stat.mode or vim.NIL
    entry.text = stat and table.concat(vim.fn.readfile(path), "\n") or nil
  end
  table.insert(seen.show_document, entry)
end)
wrap("window/showMessage", function(_, params)
  table.insert(seen.show_message, params)
end)
wrap("window/workDoneProgress/create", function()
  seen.progress_create = seen.progress_create + 1
end)
wrap("workspace/executeCommand", function(err, result, ctx)
  table.insert(seen.execute, { err = err and (err.message or vim.inspect(err)) or vim.NIL, result = result or vim.NIL, command = ctx.params and ctx.params.command })
end)

local orig_notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(seen.notify, { msg = tostring(msg), level = level })
  return orig_notify(msg, level, opts)
end

-- ------------------------------------------------------------------ helpers

local function client_of(buf)
  return vim.lsp.get_clients({ bufnr = buf, name = "exo_lsp" })[1]
end

local function final(buf)
  local st = vim.b[buf].exo_run
  return st and st.state ~= "running" and st or nil
end

local function open(path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  wait(20000, function() return client_of(buf) ~= nil end, "exo_lsp to attach to " .. path)
  wait(30000, function() return final(buf) ~= nil end, "the first run of " .. path .. " (exo/runStatus)")
  return buf, client_of(buf)
end

local function bytecol(buf, enc, pos)
  local line = vim.api.nvim_buf_get_lines(buf, pos.line, pos.line + 1, false)[1] or ""
  return vim.str_byteindex(line, enc, pos.character, false)
end

local function brange(buf, enc, r)
  return { r.start.line, bytecol(buf, enc, r.start), r["end"].line, bytecol(buf, enc, r["end"]) }
end

local function diagnostics(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local lsp_d = d.user_data and d.user_data.lsp or {}
    local related = {}
    for _, r in ipairs(lsp_d.relatedInformation or {}) do
      table.insert(related, { uri = r.location.uri, message = r.message })
    end
    table.insert(out, {
      range = { d.lnum, d.col, d.end_lnum, d.end_col },
      severity = d.severity,
      message = d.message,
      source = d.source,
      related = related,
    })
  end
  table.sort(out, function(a, b)
    return a.range[1] < b.range[1] or (a.range[1] == b.range[1] and a.range[2] < b.range[2])
  end)
  return out
end

local function at(buf, line, col)
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_win_set_cursor(0, { line + 1, col })
end

local bufs = {}

-- ------------------------------------------------------------------ the scenario

step("noop", function()
  local buf, client = open(plan.files.noop)
  bufs.noop = buf
  return {
    status = final(buf),
    encoding = client.offset_encoding,
    commands = (client.server_capabilities.executeCommandProvider or {}).commands or {},
    diagnostics = diagnostics(buf),
  }
end)

step("broken", function()
  local buf = open(plan.files.broken)
  bufs.broken = buf
  return { status = final(buf), diagnostics = diagnostics(buf) }
end)

step("related", function()
  -- the related location of the pattern miss ("the proc at this step") must be openable here
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufs.broken)) do
    for _, r in ipairs(((d.user_data or {}).lsp or {}).relatedInformation or {}) do
      local uri = r.location.uri
      local entry = { uri = uri }
      if uri:match("^file:") then
        local path = vim.uri_to_fname(uri)
        entry.exists = vim.uv.fs_stat(path) ~= nil
        entry.text = entry.exists and table.concat(vim.fn.readfile(path), "\n") or nil
      end
      table.insert(out, entry)
    end
  end
  return out
end)

step("untrusted", function()
  local buf = open(plan.files.untrusted)
  return { status = final(buf), diagnostics = diagnostics(buf) }
end)

step("conv1d", function()
  local buf = open(plan.files.conv1d)
  bufs.conv1d = buf
  return { status = final(buf), diagnostics = diagnostics(buf) }
end)

step("hover", function()
  local buf = bufs.conv1d
  local client = client_of(buf)
  local out = {}
  for _, probe in ipairs(plan.hover) do
    at(buf, probe.line, probe.col)
    local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
    local got = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 15000) or {}
    local res = (got[client.id] or {}).result
    local entry = { name = probe.name }
    if res and res ~= vim.NIL then
      entry.value = type(res.contents) == "table" and (res.contents.value or vim.inspect(res.contents)) or res.contents
      entry.kind = type(res.contents) == "table" and res.contents.kind or nil
      entry.range = res.range and brange(buf, client.offset_encoding, res.range) or nil
    end
    out[probe.name] = entry
  end
  return out
end)

step("definition", function()
  local buf = bufs.conv1d
  local out = {}
  for _, probe in ipairs(plan.definition) do
    at(buf, probe.line, probe.col)
    local before = vim.api.nvim_win_get_cursor(0)
    vim.lsp.buf.definition()
    local moved = vim.wait(8000, function()
      local c = vim.api.nvim_win_get_cursor(0)
      return c[1] ~= before[1] or c[2] ~= before[2] or vim.api.nvim_get_current_buf() ~= buf
    end, 20)
    local c = vim.api.nvim_win_get_cursor(0)
    out[probe.name] = {
      moved = moved,
      file = vim.api.nvim_buf_get_name(0),
      line = c[1] - 1,
      col = c[2],
    }
    vim.api.nvim_set_current_buf(buf)
  end
  return out
end)

step("inlay", function()
  local buf = bufs.conv1d
  local client = client_of(buf)
  wait(15000, function() return #vim.lsp.inlay_hint.get({ bufnr = buf }) > 0 end, "inlay hints")
  local out = {}
  for _, item in ipairs(vim.lsp.inlay_hint.get({ bufnr = buf })) do
    local h = item.inlay_hint
    local label = h.label
    if type(label) == "table" then
      label = table.concat(vim.tbl_map(function(part) return part.value end, label))
    end
    table.insert(out, { line = h.position.line, col = bytecol(buf, client.offset_encoding, h.position), label = label })
  end
  table.sort(out, function(a, b) return a.line < b.line or (a.line == b.line and a.col < b.col) end)
  return out
end)

step("lenses", function()
  local buf = bufs.conv1d
  vim.lsp.codelens.refresh({ bufnr = buf })
  wait(15000, function() return #vim.lsp.codelens.get(buf) > 0 end, "code lenses")
  local out = {}
  for _, lens in ipairs(vim.lsp.codelens.get(buf)) do
    table.insert(out, {
      line = lens.range.start.line,
      title = lens.command and lens.command.title,
      command = lens.command and lens.command.command,
      arguments = lens.command and lens.command.arguments or vim.NIL,
    })
  end
  table.sort(out, function(a, b) return a.line < b.line end)
  return out
end)

step("run_lens", function()
  -- the lens on the algorithm's first loop: open the proc after its last step
  local buf = bufs.conv1d
  local n_docs, n_notes = #seen.show_document, #seen.notify
  at(buf, plan.lens_line, 4)
  vim.lsp.codelens.run()
  local arrived = vim.wait(8000, function() return #seen.show_document > n_docs end, 20)
  local out = {
    arrived = arrived,
    documents = vim.list_slice(seen.show_document, n_docs + 1),
    notes = vim.list_slice(seen.notify, n_notes + 1),
  }
  if arrived then
    out.current_file = vim.api.nvim_buf_get_name(0)
    out.readonly = vim.bo.readonly or not vim.bo.modifiable
  end
  vim.api.nvim_set_current_buf(buf)
  return out
end)

step("suggest", function()
  -- the shipped :ExoSuggest from the script's first step: the suggestions file opens, and is
  -- rewritten as the search goes until it says done
  local buf = bufs.conv1d
  vim.api.nvim_set_current_buf(buf)
  local n_docs = #seen.show_document
  at(buf, plan.suggest_line, 0)
  vim.cmd("ExoSuggest " .. plan.suggest_budget)
  wait(60000, function() return #seen.show_document > n_docs end, "window/showDocument of the suggestions file")
  local doc = seen.show_document[n_docs + 1]
  local out = { document = doc, current_file = vim.api.nvim_buf_get_name(0) }
  local text = ""
  local done = vim.wait(240000, function()
    text = table.concat(vim.fn.readfile(doc.path), "\n")
    return text:find("**done**", 1, true) ~= nil
  end, 200)
  out.done, out.final_text = done, text
  vim.api.nvim_set_current_buf(buf)
  return out
end)

step("simulate", function()
  -- the shipped :ExoSimulate (its result is not shown by Neovim: the report must come as a document)
  local buf = bufs.conv1d
  local n_docs, n_msgs, n_exec = #seen.show_document, #seen.show_message, #seen.execute
  local creates = seen.progress_create
  vim.api.nvim_set_current_buf(buf)
  vim.cmd("ExoSimulate")
  local exec
  wait(45000, function()
    for i = n_exec + 1, #seen.execute do
      if seen.execute[i].command == "exo.compileAndSimulate" then
        exec = seen.execute[i]
      end
    end
    return exec ~= nil
  end, "the exo.compileAndSimulate response")
  vim.wait(3000, function() return #seen.show_document > n_docs and #seen.show_message > n_msgs end, 20)
  local res = exec.result
  return {
    err = exec.err,
    error = type(res) == "table" and res.error or vim.NIL,
    ok = type(res) == "table" and type(res.result) == "table" and res.result.ok or vim.NIL,
    correct = type(res) == "table" and type(res.result) == "table" and res.result.correct or vim.NIL,
    speedup = type(res) == "table" and type(res.result) == "table" and res.result.speedup or vim.NIL,
    documents = vim.list_slice(seen.show_document, n_docs + 1),
    messages = vim.list_slice(seen.show_message, n_msgs + 1),
    progress_created = seen.progress_create - creates,
  }
end)

step("action", function()
  -- apply a code action through Neovim's own UI path; the file is re-run and re-diagnosed
  local buf = bufs.noop
  local probe = plan.action
  at(buf, probe.line, probe.col)
  -- what is not validated within the server's time budget is offered on a later request
  local client = client_of(buf)
  local offered = {}
  local found = vim.wait(15000, function()
    local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
    params.context = { diagnostics = {} }
    local got = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 10000) or {}
    offered = vim.tbl_map(function(a) return a.title end, (got[client.id] or {}).result or {})
    return vim.list_contains(offered, probe.title)
  end, 200)
  if not found then
    error("code action '" .. probe.title .. "' not offered; offered: " .. vim.inspect(offered))
  end
  local tick = vim.b[buf].changedtick
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(a) return a.title == probe.title end,
  })
  wait(15000, function() return vim.b[buf].changedtick ~= tick end, "the code action's edit")
  local version = vim.b[buf].changedtick
  wait(30000, function()
    local st = final(buf)
    return st and st.version and st.version >= version
  end, "the re-run after the edit (exo/runStatus with the new version)")
  return {
    text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n"),
    status = final(buf),
    diagnostics = diagnostics(buf),
  }
end)

step("shutdown", function()
  local clients = vim.lsp.get_clients({ name = "exo_lsp" })
  for _, c in ipairs(clients) do
    c:stop()
  end
  return {
    stopped = vim.wait(10000, function()
      return vim.iter(clients):all(function(c) return c:is_stopped() end)
    end, 50),
  }
end)

results.done = true
save()
vim.cmd("qa!")
