// The extension with the real server on examples/conv1d.py in a trusted workspace.
// Tests under featureTest() wait for a server feature and run only when $EXO_E2E_FEATURES lists it.
import * as vscode from "vscode";
import { Requests } from "../../src/protocol";
import { assert, exoApi, featureTest, lineOf, openScript, putCursor, test, waitFor } from "../harness";

let script: vscode.TextEditor;

test("the extension activates on conv1d.py and starts the server", async () => {
  script = await openScript("conv1d.py");
  const api = await exoApi();
  assert.equal(await waitFor(() => (api.state === "running" || api.state === "failed") && api.state, "server start", 30_000), "running", api.startError);
  assert.equal(api.interpreter?.path, process.env.EXO_E2E_PYTHON);
});

test("the status bar shows the run state of conv1d.py", async () => {
  const api = await exoApi();
  const uri = script.document.uri.toString();
  const done = await waitFor(
    () => api.runStatuses.find((s) => s.uri === uri && s.state !== "running"),
    "a finished run of conv1d.py",
    60_000,
  );
  assert.equal(done.state, "ok", `run state ${done.state}: ${done.message}`);
  assert.ok((done.durationMs ?? 0) > 0, "run took some time");
  assert.match(api.statusBar().text, /Exo: (ok|\d+ warnings?) · \d+\.\d s/);
}, 70_000);

featureTest("steps", "exo/steps lists the schedule with script lines", async () => {
  const api = await exoApi();
  const { steps } = await api.request(Requests.steps, { uri: script.document.uri.toString() });
  assert.ok(steps.length >= 30, `${steps.length} steps`);
  const divide = steps.find((s) => s.op === "divide_loop");
  assert.equal(divide?.line, lineOf(script.document, 'divide_loop(p, "for i in _:_"'));
  assert.ok(steps.every((s) => s.ok));
});

featureTest("hover", "hover on a pattern string shows what it matches", async () => {
  const line = lineOf(script.document, 'divide_loop(p, "for i in _:_"');
  const col = script.document.lineAt(line).text.indexOf('"for i') + 3;
  const hovers = (await vscode.commands.executeCommand(
    "vscode.executeHoverProvider",
    script.document.uri,
    new vscode.Position(line, col),
  )) as vscode.Hover[];
  const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === "string" ? c : c.value))).join("\n");
  assert.match(text, /for i in seq\(0, 16\)/);
});

featureTest("codelens", "code lenses on the schedule", async () => {
  const lenses = (await vscode.commands.executeCommand(
    "vscode.executeCodeLensProvider",
    script.document.uri,
    10,
  )) as vscode.CodeLens[];
  assert.ok(lenses.length > 0, "some code lenses");
  assert.ok(lenses.every((l) => l.command?.title), "lenses have titles");
  // A lens runs one of the client's commands: it opens the proc after the step it names.
  const lens = lenses.find((l) => l.command?.command === "exo.showProc");
  assert.ok(lens?.command?.arguments, "a Show Scheduled Proc lens");
  const arg = lens.command.arguments[0] as { proc: string; step: number };
  const uri = (await vscode.commands.executeCommand(lens.command.command, ...lens.command.arguments)) as vscode.Uri;
  assert.equal(uri.query, `proc=${arg.proc}&step=${arg.step}`);
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.match(doc.getText(), new RegExp(`def ${arg.proc}\\(`));
});

featureTest("inlay", "inlay hints on the schedule", async () => {
  const doc = script.document;
  const hints = (await vscode.commands.executeCommand(
    "vscode.executeInlayHintProvider",
    doc.uri,
    new vscode.Range(0, 0, doc.lineCount, 0),
  )) as vscode.InlayHint[];
  assert.ok(hints.length > 0, "some inlay hints");
});

featureTest("codeactions", "code actions at a loop of the algorithm, resolved", async () => {
  const line = lineOf(script.document, "for i in seq(0, 16)");
  const col = script.document.lineAt(line).text.indexOf("for") + 1;
  const actions = (await vscode.commands.executeCommand(
    "vscode.executeCodeActionProvider",
    script.document.uri,
    new vscode.Range(line, col, line, col),
    undefined,
    10,
  )) as vscode.CodeAction[];
  assert.ok(actions.length > 0, "some code actions");
  assert.ok(actions.some((a) => a.edit && a.edit.size > 0), "resolved actions carry an edit");
});

featureTest("semantic", "semantic tokens for the script", async () => {
  const tokens = (await vscode.commands.executeCommand(
    "vscode.provideDocumentSemanticTokens",
    script.document.uri,
  )) as vscode.SemanticTokens | undefined;
  assert.ok(tokens && tokens.data.length > 0, "some semantic tokens");
});

featureTest("views", "Show Scheduled Proc shows the scheduled proc", async () => {
  await vscode.window.showTextDocument(script.document, vscode.ViewColumn.One);
  const uri = (await vscode.commands.executeCommand("exo.showProc")) as vscode.Uri;
  assert.equal(uri.query, "proc=conv1d_rvm&step=last");
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.match(doc.getText(), /def conv1d_rvm\(/);
});

featureTest("views", "Show Scheduled Proc at Cursor shows the proc after that step", async () => {
  script = await vscode.window.showTextDocument(script.document, vscode.ViewColumn.One);
  putCursor(script, lineOf(script.document, 'divide_loop(p, "for j in _:_"'));
  const uri = (await vscode.commands.executeCommand("exo.showProcAtCursor")) as vscode.Uri;
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.match(doc.getText(), /for jo in seq\(0, 4\)/);
  assert.doesNotMatch(doc.getText(), /for ioo in/);
});

featureTest("views", "Show Generated C shows C for the proc", async () => {
  await vscode.window.showTextDocument(script.document, vscode.ViewColumn.One);
  const uri = (await vscode.commands.executeCommand("exo.showC")) as vscode.Uri;
  const doc = await vscode.workspace.openTextDocument(uri);
  assert.equal(doc.languageId, "c");
  assert.match(doc.getText(), /conv1d_rvm\(/);
});

featureTest("views", "Diff With Previous Step opens a diff of two proc views", async () => {
  script = await vscode.window.showTextDocument(script.document, vscode.ViewColumn.One);
  putCursor(script, lineOf(script.document, 'reorder_loops(p, "ii jo")'));
  const r = (await vscode.commands.executeCommand("exo.diffPrevious")) as { left: vscode.Uri; right: vscode.Uri };
  assert.match(r.left.query, /^proc=conv1d_rvm&step=\d+$/);
  const [left, right] = await Promise.all([r.left, r.right].map((u) => vscode.workspace.openTextDocument(u)));
  assert.match(left.getText(), /def conv1d_rvm\(/);
  assert.match(right.getText(), /def conv1d_rvm\(/);
  assert.notEqual(left.getText(), right.getText());
});

featureTest("simulate", "Compile & Simulate runs conv1d_rvm correctly and faster", async () => {
  const api = await exoApi();
  await vscode.window.showTextDocument(script.document, vscode.ViewColumn.One);
  const done = await vscode.commands.executeCommand("exo.compileAndSimulate");
  assert.ok(done, "a result");
  const r = api.lastSimulation?.result;
  assert.ok(r, `a simulation result (error: ${api.lastSimulation?.error})`);
  assert.equal(r.ok, true, r.error ?? "");
  assert.equal(r.correct, true);
  assert.ok((r.speedup ?? 0) > 1, `speedup ${r.speedup}`);
  assert.match(api.lastSimulation!.report, /conv1d_rvm/);
  assert.match(api.lastSimulation!.report, /[Ss]peedup/);
  // The C view carries the cycles per line.
  await vscode.window.showTextDocument(script.document, vscode.ViewColumn.One);
  const c = (await vscode.commands.executeCommand("exo.showC")) as vscode.Uri;
  await waitFor(() => api.cycleLines(c) > 0, "C lines with cycles");
}, 120_000);
