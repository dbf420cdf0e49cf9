-- Prints what Neovim's built-in client declares (the capabilities part of its `initialize`):
--   nvim --clean --headless -l tests/lsp/capabilities/dump-neovim.lua \
--     | python -m json.tool --sort-keys --indent 2 > tests/lsp/capabilities/neovim-0.11.json
local v = vim.version()
io.stdout:write(vim.json.encode({
  clientInfo = { name = "Neovim", version = tostring(v) },
  capabilities = vim.lsp.protocol.make_client_capabilities(),
  generatedFrom = "nvim " .. tostring(v) .. ": vim.lsp.protocol.make_client_capabilities()",
}))
