// An untrusted workspace (real server): the server starts, is told trusted=false and runs nothing;
// `exo.python` from the workspace's settings is ignored (restricted configuration).
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { Requests } from "../../src/protocol";
import { assert, exoApi, openScript, test, waitFor, workspaceFile } from "../harness";

test("the workspace is untrusted", () => {
  assert.equal(vscode.workspace.isTrusted, false);
});

test("the server starts in restricted mode, with exo.python from user settings only", async () => {
  await openScript("conv1d.py");
  const api = await exoApi();
  assert.equal(await waitFor(() => (api.state === "running" || api.state === "failed") && api.state, "server start"), "running", api.startError);
  // The workspace's .vscode/settings.json names a bogus interpreter; the user setting wins.
  const settings = JSON.parse(fs.readFileSync(workspaceFile(".vscode/settings.json").fsPath, "utf8"));
  assert.equal(settings["exo.python"], "/workspace/says/this/python");
  assert.equal(api.interpreter?.path, process.env.EXO_E2E_PYTHON);
  assert.ok(path.isAbsolute(api.interpreter!.path));
});

test("the server is told trusted=false: no steps, run state untrusted", async () => {
  const api = await exoApi();
  const script = vscode.workspace.textDocuments.find((d) => d.uri.path.endsWith("/conv1d.py"))!;
  const status = await waitFor(
    () => api.runStatuses.find((s) => s.uri === script.uri.toString() && s.state !== "running"),
    "a run status for conv1d.py",
  );
  assert.equal(status.state, "untrusted");
  assert.match(api.statusBar().text, /Exo: untrusted/);
  const steps = await api.request(Requests.steps, { uri: script.uri.toString() });
  assert.deepEqual(steps.steps, []);
});
