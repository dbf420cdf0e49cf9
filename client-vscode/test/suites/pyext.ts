// The interpreter follows the Python extension's active environment (a stand-in for
// ms-python.python: tests/vscode/fake-python-extension), with no exo.python set.
import * as path from "node:path";
import * as vscode from "vscode";
import { assert, exoApi, openScript, test, waitFor } from "../harness";

const first = process.env.EXO_E2E_PYTHON ?? "";
// Answers the probe as a Python with neither exo-lsp nor Exo.
const bare = path.join(path.dirname(first), "fake-python", "bare");

test("the server runs in the Python extension's active environment", async () => {
  await openScript("conv1d.py");
  const api = await exoApi();
  assert.equal(await waitFor(() => (api.state === "running" || api.state === "failed") && api.state, "server start", 30_000), "running", api.startError);
  assert.equal(api.interpreter?.source, "Python extension");
  assert.equal(api.interpreter?.path, first);
});

test("changing the active environment restarts the server with the new one", async () => {
  const api = await exoApi();
  const envs = vscode.extensions.getExtension("ms-python.python")!.exports.environments;
  await envs.updateActiveEnvironmentPath(bare);
  await waitFor(() => api.state === "failed" && api.interpreter?.path === bare, "a restart with the bare environment", 30_000);
  assert.equal(api.interpreter?.source, "Python extension");
  assert.match(api.startError ?? "", /neither exo-lsp nor Exo \(exo-lang\) is installed/);
  await envs.updateActiveEnvironmentPath(first);
  await waitFor(() => api.state === "running" && api.interpreter?.path === first, "back in the first environment", 30_000);
}, 90_000);
