// The status bar item: the last run of the active script, or why there is no server.
import * as vscode from "vscode";
import { RunStatusParams } from "./protocol";

export type ClientState = "stopped" | "starting" | "running" | "failed";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("exo.status", vscode.StatusBarAlignment.Left, 10);
  private readonly runs = new Map<string, RunStatusParams & { at: Date }>();
  private latest: string | undefined;
  private clientState: ClientState = "stopped";
  private clientDetail = "";
  /** the state the item shows (a run state, or the client's when no server runs) */
  private shownState = "stopped";
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.item.name = "Exo";
    this.item.command = "exo.showOutput";
    this.disposables.push(vscode.window.onDidChangeActiveTextEditor(() => this.render()));
  }

  setClientState(state: ClientState, detail = ""): void {
    this.clientState = state;
    this.clientDetail = detail;
    if (state !== "running") {
      this.runs.clear();
      this.latest = undefined;
    }
    this.render();
  }

  update(params: RunStatusParams): void {
    this.runs.set(params.uri, { ...params, at: new Date() });
    this.latest = params.uri;
    this.render();
  }

  forget(uri: string): void {
    this.runs.delete(uri);
    if (this.latest === uri) {
      this.latest = undefined;
    }
    this.render();
  }

  /** What the item shows now (read by the tests). */
  get snapshot(): { text: string; tooltip: string; state: string } {
    return { text: this.item.text, tooltip: String(this.item.tooltip ?? ""), state: this.shownState };
  }

  private render(): void {
    const item = this.item;
    item.backgroundColor = undefined;
    if (this.clientState !== "running") {
      this.shownState = this.clientState;
      switch (this.clientState) {
        case "stopped":
          item.hide();
          return;
        case "starting":
          item.text = "$(sync~spin) Exo: starting";
          item.tooltip = "Starting the Exo language server";
          break;
        case "failed":
          item.text = "$(error) Exo: no server";
          item.tooltip = this.clientDetail || "The Exo language server is not running";
          item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
          break;
      }
      item.show();
      return;
    }
    const active = vscode.window.activeTextEditor?.document.uri.toString();
    const run = (active && this.runs.get(active)) || (this.latest ? this.runs.get(this.latest) : undefined);
    if (!run) {
      this.shownState = "idle";
      item.text = "$(circle-outline) Exo";
      item.tooltip = "Exo language server running; no script has run yet";
      item.show();
      return;
    }
    this.shownState = run.state;
    const errors = run.errors ?? 0;
    const warnings = run.warnings ?? 0;
    const secs = `${((run.durationMs ?? 0) / 1000).toFixed(1)} s`;
    switch (run.state) {
      case "running":
        item.text = "$(sync~spin) Exo: running";
        break;
      case "ok":
        item.text = warnings > 0 ? `$(warning) Exo: ${plural(warnings, "warning")} · ${secs}` : `$(check) Exo: ok · ${secs}`;
        break;
      case "errors":
        item.text = `$(error) Exo: ${plural(errors, "error")} · ${secs}`;
        item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
        break;
      case "crashed":
        item.text = "$(debug-restart) Exo: worker restarted";
        item.backgroundColor = new vscode.ThemeColor("statusBarItem.warningBackground");
        break;
      case "untrusted":
        item.text = "$(shield) Exo: untrusted";
        break;
      case "cancelled":
        item.text = "$(circle-slash) Exo: cancelled";
        break;
      default:
        item.text = `Exo: ${String(run.state)}`;
    }
    const file = vscode.Uri.parse(run.uri).path.split("/").pop();
    const lines = [
      `Exo: ${file}${run.version !== null ? ` (version ${run.version})` : ""}`,
      `State: ${run.state}, ${plural(errors, "error")}, ${plural(warnings, "warning")}`,
      `Last run: ${run.at.toLocaleTimeString()}, took ${secs}` +
        (run.cachedSteps ? ` (${plural(run.cachedSteps, "step")} from the memo)` : ""),
    ];
    if (run.message) {
      lines.push("", run.message);
    }
    item.tooltip = lines.join("\n");
    item.show();
  }

  dispose(): void {
    this.item.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
