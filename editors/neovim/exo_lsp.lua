-- exo-lsp for Neovim: step previews, diagnostics on pattern strings, hovers, code actions,
-- compile & simulate for Exo schedule scripts.
--
-- Use it as your init.lua, or `dofile()` it from yours, or paste it in. Neovim 0.11+
-- (vim.lsp.config / vim.lsp.enable); on 0.10 it falls back to vim.lsp.start.
-- Set these before it runs (all optional):
--
--   vim.g.exo_lsp_python  = "~/venvs/exo/bin/python"   -- has exo-lsp and exo-lang==1.0.0
--                                                      -- (default: $EXO_LSP_PYTHON, else "python3")
--   vim.g.exo_lsp_trusted = { "~/src/kernels" }         -- folders whose scripts may run
--                                                      -- (default: $EXO_LSP_TRUSTED, ':'-separated)
--   vim.g.exo_lsp_options = { timeoutSeconds = 60 }     -- more initializationOptions
--
-- Schedule scripts are Python programs: the server runs a buffer only if it imports exo
-- and its project folder is inside a trusted folder; elsewhere it attaches but runs nothing.

local function expand(p)
  return vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(p), ":p")):gsub("/$", "")
end

local function python()
  return vim.g.exo_lsp_python or vim.env.EXO_LSP_PYTHON or "python3"
end

local function trusted_folders()
  local dirs = vim.g.exo_lsp_trusted
  if dirs == nil and vim.env.EXO_LSP_TRUSTED and vim.env.EXO_LSP_TRUSTED ~= "" then
    dirs = vim.split(vim.env.EXO_LSP_TRUSTED, ":", { trimempty = true })
  end
  if type(dirs) == "string" then
    dirs = { dirs }
  end
  return vim.tbl_map(expand, dirs or {})
end

local function is_trusted(root)
  if not root then
    return false
  end
  root = expand(root)
  for _, dir in ipairs(trusted_folders()) do
    if root == dir or vim.startswith(root, dir .. "/") then
      return true
    end
  end
  return false
end

-- Only buffers that import exo get the server (your other Python servers keep running).
local function imports_exo(bufnr)
  for _, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, 400, false)) do
    if line:match("^%s*import%s+exo[%s.,]") or line:match("^%s*import%s+exo$") or line:match("^%s*from%s+exo[%s.]") then
      return true
    end
  end
  return false
end

local root_markers = { "pyproject.toml", "setup.py", "setup.cfg", ".git" }

local function find_root(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  return vim.fs.root(bufnr, root_markers) or (name ~= "" and vim.fs.dirname(name)) or vim.fn.getcwd()
end

local config = {
  cmd = function(dispatchers)
    return vim.lsp.rpc.start({ python(), "-m", "exo_lsp", "serve" }, dispatchers)
  end,
  filetypes = { "python" },
  root_dir = function(bufnr, on_dir)
    if imports_exo(bufnr) then
      on_dir(find_root(bufnr))
    end
  end,
  before_init = function(params, cfg)
    params.initializationOptions = vim.tbl_extend("force", vim.g.exo_lsp_options or {}, {
      trusted = is_trusted(cfg.root_dir),
    })
  end,
  handlers = {
    -- how the last run went: `vim.b.exo_run` (state, errors, warnings, version) for a statusline
    ["exo/runStatus"] = function(_, params)
      local ok, fname = pcall(vim.uri_to_fname, params.uri)
      local bufnr = ok and vim.fn.bufnr(fname) or -1
      if bufnr > 0 and vim.api.nvim_buf_is_valid(bufnr) then
        vim.b[bufnr].exo_run = params
        if params.state ~= "running" and vim.api.nvim_buf_is_loaded(bufnr) then
          vim.lsp.codelens.refresh({ bufnr = bufnr }) -- Neovim has no codeLens/refresh support
        end
        if params.state == "untrusted" and not vim.b[bufnr].exo_untrusted_said then
          vim.b[bufnr].exo_untrusted_said = true
          vim.notify("exo-lsp: this folder is not trusted, scripts are not run (vim.g.exo_lsp_trusted)", vim.log.levels.INFO)
        end
      end
    end,
  },
}

local group = vim.api.nvim_create_augroup("exo_lsp", { clear = true })

vim.api.nvim_create_autocmd("LspAttach", {
  group = group,
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if not client or client.name ~= "exo_lsp" then
      return
    end
    local bufnr = ev.buf
    -- step previews (`→ for jo in seq(0, 4)`) after each scheduling call
    if vim.lsp.inlay_hint then
      vim.lsp.inlay_hint.enable(true, { bufnr = bufnr })
    end
    -- lenses on the algorithm (and the step previews where inlay hints are missing);
    -- run the one on the cursor line with vim.lsp.codelens.run()
    vim.lsp.codelens.refresh({ bufnr = bufnr })
    vim.api.nvim_create_autocmd({ "BufEnter", "InsertLeave", "BufWritePost" }, {
      group = group,
      buffer = bufnr,
      callback = function()
        vim.lsp.codelens.refresh({ bufnr = bufnr })
      end,
    })
    -- :ExoSimulate [step]  compile the proc for RV32+RVM, simulate it, open the report
    vim.api.nvim_buf_create_user_command(bufnr, "ExoSimulate", function(opts)
      local arg = { uri = vim.uri_from_bufnr(bufnr) }
      if opts.args ~= "" then
        arg.step = tonumber(opts.args) or opts.args
      end
      local command = { title = "Compile & simulate", command = "exo.compileAndSimulate", arguments = { arg } }
      if client.exec_cmd then -- 0.11
        client:exec_cmd(command, { bufnr = bufnr })
      else -- 0.10
        client.request("workspace/executeCommand", { command = command.command, arguments = command.arguments }, nil, bufnr)
      end
    end, { nargs = "?", desc = "exo-lsp: compile & simulate the proc at a step (default: the last)" })
    -- :ExoSuggest [budget]  search for schedules from the step at the cursor; the ranked next
    -- steps and whole schedules open as a Markdown file kept current while the search runs.
    -- :ExoSuggestCancel stops it; insert with exo.insertSuggestion (see the file's last line).
    local function exec(command)
      if client.exec_cmd then -- 0.11
        client:exec_cmd(command, { bufnr = bufnr })
      else -- 0.10
        client.request("workspace/executeCommand", { command = command.command, arguments = command.arguments }, nil, bufnr)
      end
    end
    vim.api.nvim_buf_create_user_command(bufnr, "ExoSuggest", function(opts)
      local arg = { uri = vim.uri_from_bufnr(bufnr), line = vim.api.nvim_win_get_cursor(0)[1] - 1 }
      if opts.args ~= "" then
        arg.budget = tonumber(opts.args)
      end
      exec({ title = "Suggest schedule", command = "exo.suggestSchedule", arguments = { arg } })
    end, { nargs = "?", desc = "exo-lsp: suggest schedules from the step at the cursor" })
    vim.api.nvim_buf_create_user_command(bufnr, "ExoSuggestCancel", function()
      exec({ title = "Cancel suggestions", command = "exo.cancelSuggestions", arguments = { { uri = vim.uri_from_bufnr(bufnr) } } })
    end, { desc = "exo-lsp: stop the search of this script" })
  end,
})

if vim.lsp.config and vim.lsp.enable then -- Neovim 0.11+
  vim.lsp.config("exo_lsp", config)
  vim.lsp.enable("exo_lsp")
else -- Neovim 0.10
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = "python",
    callback = function(ev)
      if not imports_exo(ev.buf) then
        return
      end
      local root = find_root(ev.buf)
      vim.lsp.start({
        name = "exo_lsp",
        cmd = { python(), "-m", "exo_lsp", "serve" },
        root_dir = root,
        handlers = config.handlers,
        init_options = vim.tbl_extend("force", vim.g.exo_lsp_options or {}, { trusted = is_trusted(root) }),
      }, { bufnr = ev.buf })
    end,
  })
end
