// "Exo: Suggest Schedule": the server searches from the step at the cursor (exo.suggestSchedule)
// and streams `exo/suggestions`; this webview beside the script shows the ranked next steps and
// the best whole schedules, with buttons that call the server's exo.insertSuggestion.
import * as vscode from "vscode";
import { SuggestedSchedule, SuggestedStep, SuggestInsertArgs, SuggestInsertResult, SuggestionsParams } from "./protocol";

export const SuggestionsViewType = "exo.suggestions";

/** Calls the server's commands (protocol.ts: `Commands.insertSuggestion`, `Commands.cancelSuggestions`). */
export interface SuggestionsServer {
  insert(args: SuggestInsertArgs): Promise<SuggestInsertResult | null>;
  cancel(uri: string): Promise<unknown>;
}

export class SuggestionsPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** The latest results per script URI. */
  readonly latest = new Map<string, SuggestionsParams>();
  private shown: string | undefined;

  constructor(private readonly server: SuggestionsServer) {}

  /** A search started for `uri`: open (or reveal) the view beside the script. */
  open(uri: string): void {
    this.shown = uri;
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(
        SuggestionsViewType,
        "Exo: Suggestions",
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: true, enableFindWidget: true, retainContextWhenHidden: true },
      );
      this.panel.onDidDispose(() => (this.panel = undefined));
      this.panel.webview.onDidReceiveMessage((msg) => void this.onMessage(msg));
    } else {
      this.panel.reveal(undefined, true);
    }
    this.render();
  }

  update(p: SuggestionsParams): void {
    this.latest.set(p.uri, p);
    if (this.panel && (this.shown === undefined || this.shown === p.uri)) {
      this.shown = p.uri;
      this.render();
    }
  }

  private async onMessage(msg: { kind: string; what?: "step" | "schedule"; index?: number }): Promise<void> {
    const uri = this.shown;
    if (!uri) {
      return;
    }
    if (msg.kind === "cancel") {
      await this.server.cancel(uri);
      return;
    }
    if (msg.kind === "insert" && msg.what && typeof msg.index === "number") {
      // The edit goes into the script: show it first so the user sees where it lands.
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
      await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
      const got = await this.server.insert({ uri, what: msg.what, index: msg.index });
      if (!got?.applied) {
        void vscode.window.showWarningMessage(`Exo: the suggestion was not inserted: ${got?.error ?? "no answer"}`);
      }
    }
  }

  private render(): void {
    if (!this.panel) {
      return;
    }
    const p = this.shown ? this.latest.get(this.shown) : undefined;
    const script = this.shown ? vscode.Uri.parse(this.shown).path.split("/").pop() : "";
    this.panel.title = `Exo: Suggestions${script ? ` (${script})` : ""}`;
    this.panel.webview.html = page(p, script ?? "", nonce());
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

function cycles(c: number | null | undefined, speedup: number | null | undefined): string {
  if (c === null || c === undefined) {
    return "none correct yet";
  }
  return `${c.toLocaleString("en-US")} cycles${speedup ? `, ${speedup.toFixed(2)}x` : ""}`;
}

const STATES: Record<string, string> = {
  running: "searching…",
  done: "done",
  cancelled: "cancelled",
  stale: "stale: the script changed above this step",
  failed: "failed",
};

function stepRow(s: SuggestedStep, live: boolean): string {
  return `<tr class="step">
  <td>${s.rank + 1}</td>
  <td><code>${esc(s.label)}</code>${s.calls.length > 1 ? `<div class="sub">${s.calls.length} calls</div>` : ""}</td>
  <td class="num">${esc(cycles(s.cycles, s.speedup))}</td>
  <td>${s.correct ? "bit-exact" : "–"}</td>
  <td class="num">${s.evaluations}</td>
  <td><button data-what="step" data-index="${s.rank}" ${live ? "" : "disabled"}>Insert next step</button></td>
</tr>`;
}

function scheduleBlock(s: SuggestedSchedule, live: boolean): string {
  return `<div class="schedule">
  <h3>${s.rank + 1}. ${esc(cycles(s.cycles, s.speedup))} over the algorithm${s.correct ? ", bit-exact" : ""}</h3>
  <button data-what="schedule" data-index="${s.rank}" ${live ? "" : "disabled"}>Insert whole schedule</button>
  <div class="sub">${s.labels.map((l) => `<code>${esc(l)}</code>`).join(" → ")}</div>
  <pre>${esc(s.text)}</pre>
</div>`;
}

function page(p: SuggestionsParams | undefined, script: string, n: string): string {
  let body: string;
  if (!p) {
    body = `<p>Starting the search for ${esc(script)}…</p>`;
  } else {
    const live = p.state !== "stale" && p.state !== "failed";
    const steps = p.steps ?? [];
    const schedules = p.schedules ?? [];
    body = `<h1>Suggestions for ${esc(script)}, after line ${p.line + 1}</h1>
<p class="status state-${p.state}"><b>${esc(STATES[p.state] ?? p.state)}</b> · ${p.evaluations ?? 0} of ${p.budget ?? 0} evaluations
 · ${(p.seconds ?? 0).toFixed(0)} s${p.cached ? ` · ${p.cached} from earlier searches` : ""} · step ${p.step} (<code>${esc(p.proc)}</code>)
 ${p.state === "running" ? `<button id="cancel">Stop</button>` : ""}</p>
${p.message ? `<p class="message">${esc(p.message)}</p>` : ""}
${p.startCycles != null ? `<p>The proc at this step: ${esc(cycles(p.startCycles, p.startSpeedup))} over the algorithm.</p>` : ""}
<h2>Next steps</h2>
${steps.length ? `<table><thead><tr><th>#</th><th>next step</th><th>best complete schedule through it</th><th>correct</th><th>tried</th><th></th></tr></thead>
<tbody>${steps.map((s) => stepRow(s, live)).join("\n")}</tbody></table>` : "<p>None yet.</p>"}
<h2>Best whole schedules</h2>
${schedules.length ? schedules.map((s) => scheduleBlock(s, live)).join("\n") : "<p>None simulated correctly yet.</p>"}`;
  }
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${n}';">
<style>
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 1.2em 2em; line-height: 1.45; }
  table { border-collapse: collapse; margin: 0.5em 0 1em; }
  th, td { border-bottom: 1px solid var(--vscode-panel-border); padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
  td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
  code, pre { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); }
  pre { padding: 0.5em; overflow-x: auto; font-size: 0.9em; }
  .sub { opacity: 0.75; font-size: 0.9em; margin: 0.2em 0; }
  .state-stale, .state-failed { color: var(--vscode-errorForeground); }
  button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: none; padding: 0.25em 0.7em; cursor: pointer; }
  button:disabled { opacity: 0.5; cursor: default; }
  h1 { font-size: 1.3em; } h2 { font-size: 1.1em; border-bottom: 1px solid var(--vscode-panel-border); }
  h3 { font-size: 1em; display: inline-block; margin-right: 1em; }
</style></head><body>${body}
<script nonce="${n}">
  const vscode = acquireVsCodeApi();
  for (const b of document.querySelectorAll("button[data-what]")) {
    b.addEventListener("click", () => vscode.postMessage({ kind: "insert", what: b.dataset.what, index: Number(b.dataset.index) }));
  }
  document.getElementById("cancel")?.addEventListener("click", () => vscode.postMessage({ kind: "cancel" }));
</script></body></html>`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function nonce(): string {
  let s = "";
  for (let i = 0; i < 24; i++) {
    s += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[Math.floor(Math.random() * 62)];
  }
  return s;
}
