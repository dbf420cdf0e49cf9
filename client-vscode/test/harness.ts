// A very small test runner for the extension host: tests run in order, each result is appended
// as a JSON line to $EXO_E2E_RESULTS (read by scripts/e2e.mjs) and echoed to the console.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { ExoApi } from "../src/extension";

export { assert };

interface Test {
  name: string;
  fn: () => Promise<void> | void;
  timeoutMs: number;
}

const tests: Test[] = [];

export function test(name: string, fn: () => Promise<void> | void, timeoutMs = 30_000): void {
  tests.push({ name, fn, timeoutMs });
}

function record(entry: object): void {
  const file = process.env.EXO_E2E_RESULTS;
  const line = JSON.stringify(entry);
  console.log(`[exo-e2e] ${line}`);
  if (file) {
    fs.appendFileSync(file, line + "\n");
  }
}

/** Runs the registered tests; rejects if any failed (VS Code then exits with code 1). */
export async function runAll(suite: string): Promise<void> {
  let failed = 0;
  for (const t of tests) {
    const started = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs, `timed out after ${t.timeoutMs} ms`);
      record({ suite, name: t.name, ok: true, ms: Date.now() - started });
    } catch (e) {
      failed++;
      const message = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
      record({ suite, name: t.name, ok: false, ms: Date.now() - started, error: message });
    }
  }
  if (failed) {
    throw new Error(`${failed} of ${tests.length} tests failed`);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) {
        return v;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`waited ${timeoutMs} ms for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    }
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const EXTENSION_ID = "exo-lsp.exo-lsp";

export async function exoApi(): Promise<ExoApi> {
  const ext = vscode.extensions.getExtension<ExoApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : await ext.activate();
}

export function workspaceFile(...parts: string[]): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, "a workspace folder is open");
  return vscode.Uri.file(path.join(folder.uri.fsPath, ...parts));
}

export async function openScript(...parts: string[]): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(workspaceFile(...parts));
  return vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preview: false });
}

/** 0-based line of the first line of `doc` that contains `needle`. */
export function lineOf(doc: vscode.TextDocument, needle: string): number {
  for (let i = 0; i < doc.lineCount; i++) {
    if (doc.lineAt(i).text.includes(needle)) {
      return i;
    }
  }
  throw new Error(`no line contains ${JSON.stringify(needle)}`);
}

export function putCursor(editor: vscode.TextEditor, line: number, character = 0): void {
  const pos = new vscode.Position(line, character);
  editor.selection = new vscode.Selection(pos, pos);
}

export const EXO_COMMANDS = [
  "exo.showProc",
  "exo.showProcAtCursor",
  "exo.showC",
  "exo.diffPrevious",
  "exo.compileAndSimulate",
  "exo.suggestSchedule",
  "exo.restartServer",
];

/** Server features this run expects ($EXO_E2E_FEATURES, comma separated, or "all"). */
const features = new Set((process.env.EXO_E2E_FEATURES ?? "").split(",").map((s) => s.trim()).filter(Boolean));

/** A test that needs a server feature: registered only when the run lists that feature. */
export function featureTest(feature: string, name: string, fn: () => Promise<void> | void, timeoutMs?: number): void {
  if (features.has("all") || features.has(feature)) {
    test(`${name} [${feature}]`, fn, timeoutMs);
  }
}
