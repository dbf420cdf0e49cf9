// Stands in for ms-python.python in the e2e tests (client-vscode/scripts/e2e.mjs, run "pyext"): the
// part of its environments API that exo-lsp uses (@vscode/python-extension), with an active
// environment ($EXO_E2E_PYTHON at first) that tests change through updateActiveEnvironmentPath.
const vscode = require("vscode");

function activate() {
  let active = process.env.EXO_E2E_PYTHON || "python3";
  const changed = new vscode.EventEmitter();
  const envPath = (p) => ({ id: p, path: p });
  return {
    environments: {
      getActiveEnvironmentPath: () => envPath(active),
      resolveEnvironment: async (env) => {
        const p = typeof env === "string" ? env : env.path;
        return { ...envPath(p), executable: { uri: vscode.Uri.file(p), bitness: "64-bit", sysPrefix: "" } };
      },
      onDidChangeActiveEnvironmentPath: changed.event,
      updateActiveEnvironmentPath: async (env) => {
        active = typeof env === "string" ? env : env.path;
        changed.fire({ ...envPath(active), resource: undefined });
      },
    },
  };
}

module.exports = { activate, deactivate() {} };
