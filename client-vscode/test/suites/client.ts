// The client's side of the contract, against the stub server (tests/vscode/stub) in a trusted
// workspace: activation gate, status bar, views, steps at cursor, diff, simulate, restart, errors.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { RequestType } from "vscode-languageclient";
import type { SimulateResponse } from "../../src/protocol";
import {
  assert,
  EXO_COMMANDS,
  exoApi,
  EXTENSION_ID,
  lineOf,
  openScript,
  putCursor,
  sleep,
  test,
  waitFor,
  workspaceFile,
} from "../harness";

/** The stub server's own request (tests/vscode/stub): what it was told. */
const StubState = new RequestType<Record<string, never>, { trusted: boolean }, void>("exo/stub/state");

let script: vscode.TextEditor;

test("commands are registered", async () => {
  const all = await vscode.commands.getCommands(true);
  const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
  const contributed = pkg.contributes.commands.map((c: { command: string }) => c.command);
  assert.deepEqual([...contributed].sort(), [...EXO_COMMANDS].sort());
  // Contributed commands show in the palette; activation registers them.
  await exoApi();
  const registered = await vscode.commands.getCommands(true);
  for (const c of EXO_COMMANDS) {
    assert.ok(registered.includes(c), `${c} registered (had ${all.includes(c)} before activation)`);
  }
});

test("a Python file without Exo does not start the server", async () => {
  fs.writeFileSync(workspaceFile("plain_python.py").fsPath, "print('no exo here')\n");
  await openScript("plain_python.py");
  const api = await exoApi();
  await sleep(500);
  assert.equal(api.state, "stopped");
  assert.equal(api.statusBar().state, "stopped");
});

test("opening conv1d.py starts the server", async () => {
  script = await openScript("conv1d.py");
  const api = await exoApi();
  assert.equal(await waitFor(() => (api.state === "running" || api.state === "failed") && api.state, "server start"), "running", api.startError);
  assert.ok(api.interpreter?.path.endsWith("tests/vscode/python"), `interpreter from exo.python: ${api.interpreter?.path}`);
  assert.equal(api.interpreter?.source, "exo.python");
});

test("the server was told the workspace is trusted", async () => {
  const api = await exoApi();
  const s = await api.request(StubState, {});
  assert.equal(s.trusted, true);
});

test("status bar shows the last run's state and time", async () => {
  const api = await exoApi();
  const bar = await waitFor(() => api.statusBar().state === "ok" && api.statusBar(), "status ok");
  assert.match(bar.text, /Exo: 1 warning · 1\.2 s/);
  assert.match(bar.tooltip, /conv1d\.py/);
  assert.match(bar.tooltip, /Last run: .*took 1\.2 s/);
  assert.ok(api.runStatuses.some((s) => s.state === "running"), "saw the running state first");
});

test("status bar: errors and a restarted worker", async () => {
  const api = await exoApi();
  const end = () => new vscode.Position(script.document.lineCount, 0);
  await script.edit((e) => e.insert(end(), "# stub: errors\n"));
  await waitFor(() => api.statusBar().state === "errors", "errors state");
  assert.match(api.statusBar().text, /Exo: 2 errors · 1\.2 s/);
  await script.edit((e) => e.insert(end(), "# stub: crash\n"));
  await waitFor(() => api.statusBar().state === "crashed", "crashed state");
  assert.match(api.statusBar().text, /Exo: worker restarted/);
  assert.match(api.statusBar().tooltip, /the worker died and was restarted/);
  await vscode.commands.executeCommand("undo");
  await vscode.commands.executeCommand("undo");
  await waitFor(() => !/# stub:/.test(script.document.getText()) && api.statusBar().state === "ok", "ok again after undo");
});

test("Show Scheduled Proc opens the last step beside, without taking focus", async () => {
  const uri = (await vscode.commands.executeCommand("exo.showProc")) as vscode.Uri;
  assert.equal(uri.scheme, "exo-proc");
  assert.equal(uri.path, script.document.uri.path);
  assert.equal(uri.query, "proc=conv1d_rvm&step=last");
  const view = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
  assert.ok(view, "view is visible");
  assert.notEqual(view.viewColumn, script.viewColumn);
  assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), script.document.uri.toString());
  assert.equal(view.document.languageId, "python");
  const text = view.document.getText();
  assert.match(text, /proc conv1d_rvm after step last/);
  // One canonical spelling goes over the wire.
  assert.match(text, new RegExp(`wire uri: exo-proc:${escape(script.document.uri.path)}\\?proc=conv1d_rvm&step=last`));
});

test("Show Scheduled Proc at Cursor picks the last step at or above the cursor", async () => {
  const doc = script.document;
  const reorder = lineOf(doc, 'reorder_loops(p, "ii jo")');
  const steps = lineOf(doc, "p = rename(");
  putCursor(script, reorder, 5);
  let uri = (await vscode.commands.executeCommand("exo.showProcAtCursor")) as vscode.Uri;
  assert.equal(uri.query, "proc=conv1d_rvm&step=3");
  // On the comment line below `rename`: still the rename step (index 0).
  putCursor(script, lineOf(doc, "# Tile the output"));
  uri = (await vscode.commands.executeCommand("exo.showProcAtCursor")) as vscode.Uri;
  assert.equal(uri.query, "proc=conv1d_rvm&step=0");
  // Above the first step there is none.
  putCursor(script, steps - 1);
  uri = (await vscode.commands.executeCommand("exo.showProcAtCursor")) as vscode.Uri;
  assert.equal(uri, undefined);
});

test("Show Generated C opens an exo-c view in C", async () => {
  await vscode.window.showTextDocument(script.document, script.viewColumn);
  const uri = (await vscode.commands.executeCommand("exo.showC")) as vscode.Uri;
  assert.equal(uri.scheme, "exo-c");
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  assert.ok(doc);
  assert.equal(doc.languageId, "c");
  assert.match(doc.getText(), /void conv1d_rvm\(void\)/);
});

test("Diff With Previous Step compares step n-1 with step n", async () => {
  script = await vscode.window.showTextDocument(script.document, script.viewColumn);
  putCursor(script, lineOf(script.document, 'reorder_loops(p, "ii jo")'));
  const r = (await vscode.commands.executeCommand("exo.diffPrevious")) as { left: vscode.Uri; right: vscode.Uri };
  assert.equal(r.left.query, "proc=conv1d_rvm&step=2");
  assert.equal(r.right.query, "proc=conv1d_rvm&step=3");
  const tab = await waitFor(
    () =>
      vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === r.right.toString()),
    "diff tab",
  );
  assert.equal((tab.input as vscode.TabInputTextDiff).original.toString(), r.left.toString());
  assert.match(tab.label, /conv1d_rvm: step 2 ↔ step 3 \(reorder_loops\)/);
  // The first step is compared with the proc as defined.
  putCursor(script, lineOf(script.document, "p = rename("));
  const first = (await vscode.commands.executeCommand("exo.diffPrevious")) as { left: vscode.Uri; right: vscode.Uri };
  assert.equal(first.left.query, "proc=conv1d_rvm&step=-1");
  assert.equal(first.right.query, "proc=conv1d_rvm&step=0");
});

test("views are live: editing the script refreshes the open views", async () => {
  const view = vscode.workspace.textDocuments.find((d) => d.uri.scheme === "exo-proc" && d.uri.query.endsWith("step=last"));
  assert.ok(view, "proc view still open");
  const seen = () => Number(/edits seen: (\d+)/.exec(view.getText())?.[1]);
  const before = seen();
  assert.ok(Number.isInteger(before), view.getText());
  script = await vscode.window.showTextDocument(script.document, script.viewColumn);
  await script.edit((e) => e.insert(new vscode.Position(script.document.lineCount, 0), "# edited\n"));
  await waitFor(() => seen() === before + 1, "view refresh after edit");
});

test("Compile & Simulate shows the report beside", async () => {
  const api = await exoApi();
  await vscode.window.showTextDocument(script.document, script.viewColumn);
  const done = (await vscode.commands.executeCommand("exo.compileAndSimulate")) as SimulateResponse | undefined;
  assert.ok(done, "command returned a result");
  assert.equal(api.lastSimulation, done);
  assert.equal(done.result?.speedup, 8);
  assert.match(done.report, /# Simulation of conv1d_rvm/);
  assert.match(done.report, new RegExp(`stub report for file://${escape(script.document.uri.path)}, step last`));
  const tab = await waitFor(
    () =>
      vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.includes("exo.simulationReport")),
    "report tab",
  );
  assert.equal(tab.label, "Exo: conv1d_rvm simulation");
  assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), script.document.uri.toString(), "focus stays in the script");
});

test("simulated cycles annotate the C view until the script runs again", async () => {
  const api = await exoApi();
  script = await vscode.window.showTextDocument(script.document, script.viewColumn);
  const uri = (await vscode.commands.executeCommand("exo.showC")) as vscode.Uri;
  assert.equal(uri.query, "proc=conv1d_rvm&step=last");
  await waitFor(() => api.cycleLines(uri) === 2, "two lines with cycles");
  script = await vscode.window.showTextDocument(script.document, script.viewColumn);
  await script.edit((e) => e.insert(new vscode.Position(script.document.lineCount, 0), "# edited again\n"));
  await waitFor(() => api.cycleLines(uri) === 0, "cycles gone after the re-run");
});

test("Restart Server restarts and reruns the open script", async () => {
  const api = await exoApi();
  const before = api.runStatuses.length;
  assert.equal(await vscode.commands.executeCommand("exo.restartServer"), "running");
  await waitFor(() => api.runStatuses.length > before && api.statusBar().state === "ok", "a new run after restart");
});

test("a missing interpreter gives a clear error with the install command", async () => {
  const api = await exoApi();
  const config = vscode.workspace.getConfiguration("exo");
  const good = config.get<string>("python");
  try {
    await config.update("python", "/nonexistent/bin/python", vscode.ConfigurationTarget.Workspace);
    await waitFor(() => api.state === "failed", "start failure");
    assert.match(api.startError ?? "", /\/nonexistent\/bin\/python was not found/);
    // The wheel the .vsix carries (e2e.sh builds it into client-vscode/bundled/).
    assert.match(api.startError ?? "", /\/nonexistent\/bin\/python -m pip install \S+\/client-vscode\/bundled\/exo_lsp-[^ ]+\.whl/);
    assert.equal(api.statusBar().state, "failed");
    assert.match(api.statusBar().text, /Exo: no server/);
    // Commands say why instead of hanging.
    const r = await vscode.commands.executeCommand("exo.showProc");
    assert.equal(r, undefined);
  } finally {
    await config.update("python", good, vscode.ConfigurationTarget.Workspace);
  }
  await waitFor(() => api.state === "running", "server back after fixing exo.python");
});

test("version checks: old exo-lsp, other exo-lang, other Python, nothing installed", async () => {
  const api = await exoApi();
  const config = vscode.workspace.getConfiguration("exo");
  const good = config.get<string>("python");
  // Interpreters that answer the probe with fixed versions (tests/vscode/fake-python/).
  const fakes = path.join(path.dirname(process.env.EXO_E2E_PYTHON ?? ""), "fake-python");
  const cases: Array<[string, RegExp]> = [
    ["old-exo-lsp", /exo-lsp 0\.0\.1 is older than this extension \(0\.1\.0\)/],
    ["other-exo", /exo-lang 0\.2\.0 is installed; exo-lsp needs exo-lang 1\.0\.0 exactly/],
    ["python313", /it is Python 3\.13\.0; Exo 1\.0\.0 needs Python 3\.11 or 3\.12/],
    ["bare", /neither exo-lsp nor Exo \(exo-lang\) is installed/],
  ];
  try {
    for (const [name, expected] of cases) {
      const python = path.join(fakes, name);
      await config.update("python", python, vscode.ConfigurationTarget.Workspace);
      await waitFor(() => api.state === "failed" && api.interpreter?.path === python, `start failure with ${name}`);
      assert.match(api.startError ?? "", expected);
      assert.equal(api.interpreter?.source, "exo.python");
    }
  } finally {
    await config.update("python", good, vscode.ConfigurationTarget.Workspace);
  }
  await waitFor(() => api.state === "running", "server back after fixing exo.python");
}, 60_000);

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
