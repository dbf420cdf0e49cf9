// "Exo: Compile & Simulate": run the server's simulator and show its markdown report beside,
// rendered in a webview that does not take focus.
import * as vscode from "vscode";
import { SimulateArgs, SimulateResponse, SimulationResult } from "./protocol";

/** Runs the server's `exo.compileAndSimulate` (protocol.ts: `Commands.compileAndSimulate`). */
export type Simulator = (args: SimulateArgs, token: vscode.CancellationToken) => Promise<SimulateResponse | null>;

export async function compileAndSimulate(
  simulate: Simulator,
  args: SimulateArgs,
): Promise<SimulateResponse | undefined> {
  const script = vscode.Uri.parse(args.uri);
  const what = args.proc ?? script.path.split("/").pop();
  const response = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Exo: compiling and simulating ${what}`,
      cancellable: true,
    },
    async (_progress, token) => simulate(args, token),
  );
  if (!response || typeof response !== "object") {
    return undefined;
  }
  const result = response.result ?? null;
  const markdown = response.report || summary(result, response.error);
  await ReportPanel.show(`Exo: ${result?.proc ?? what} simulation`, markdown);
  if (!result || !result.ok) {
    const why = response.error ?? result?.error ?? "see the report";
    void vscode.window.showWarningMessage(`Exo: compile & simulate of ${what} did not complete: ${why}`);
  } else if (result.correct === false) {
    void vscode.window.showWarningMessage(`Exo: ${what} computes wrong results in simulation; see the report.`);
  }
  return response;
}

/** One webview beside the editor, reused for every report, rendered by VS Code's markdown. */
class ReportPanel {
  private static panel: vscode.WebviewPanel | undefined;

  static async show(title: string, markdown: string): Promise<void> {
    let html: string;
    try {
      html = await vscode.commands.executeCommand<string>("markdown.api.render", markdown);
    } catch {
      html = `<pre>${escapeHtml(markdown)}</pre>`;
    }
    if (!ReportPanel.panel) {
      ReportPanel.panel = vscode.window.createWebviewPanel(
        ReportViewType,
        title,
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: false, enableFindWidget: true },
      );
      ReportPanel.panel.onDidDispose(() => (ReportPanel.panel = undefined));
    } else {
      ReportPanel.panel.reveal(undefined, true);
    }
    ReportPanel.panel.title = title;
    ReportPanel.panel.webview.html = page(html);
  }
}

export const ReportViewType = "exo.simulationReport";

function page(body: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">
<style>
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 1.5em 2em; line-height: 1.5; }
  table { border-collapse: collapse; margin: 0.5em 0 1em; }
  th, td { border-bottom: 1px solid var(--vscode-panel-border); padding: 0.2em 0.8em; text-align: left; }
  td:not(:first-child) { font-variant-numeric: tabular-nums; }
  code, pre { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); }
  pre { padding: 0.5em; overflow-x: auto; }
  h1, h2 { border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 0.2em; }
</style></head><body>${body}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A report for a response without markdown. */
function summary(r: SimulationResult | null, error: string | null | undefined): string {
  if (!r) {
    return `# Exo simulation\n\nNo result${error ? `: ${error}` : ""}.\n`;
  }
  const lines = [
    `# Exo simulation of ${r.proc}`,
    "",
    "| | |",
    "|---|---|",
    `| result | ${r.ok ? (r.correct ? "correct" : "**wrong**") : `**${r.error_kind ?? "failed"}**`} |`,
    `| cycles | ${r.scheduled?.cycles ?? "–"} (algorithm: ${r.baseline?.cycles ?? "–"}) |`,
    `| speedup | ${r.speedup != null ? `${r.speedup.toFixed(2)}x` : "–"} |`,
  ];
  if (r.error) {
    lines.push("", "```", r.error, "```");
  }
  return lines.join("\n") + "\n";
}
