// "Exo: Compile & Simulate": run the server's simulator and show its markdown report beside.
import * as vscode from "vscode";
import { Methods, SimulateArgs, SimulateResponse, SimulationResult } from "./protocol";

export const ReportScheme = "exo-report";

/** Holds the last report per script and serves it as a read-only markdown document. */
export class ReportProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly reports = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(ReportScheme, this);

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.reports.get(uri.path) ?? "_No simulation report yet: run **Exo: Compile & Simulate**._\n";
  }

  /** Stores the report and returns the URI of its document. */
  set(script: vscode.Uri, markdown: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: ReportScheme, path: `${script.path}.simulation.md` });
    this.reports.set(uri.path, markdown);
    this.emitter.fire(uri);
    return uri;
  }

  dispose(): void {
    this.registration.dispose();
    this.emitter.dispose();
  }
}

export type CommandSender = (
  command: string,
  args: unknown[],
  token: vscode.CancellationToken,
) => Promise<unknown>;

export async function compileAndSimulate(
  send: CommandSender,
  reports: ReportProvider,
  args: SimulateArgs,
): Promise<{ response: SimulateResponse; reportUri: vscode.Uri } | undefined> {
  const script = vscode.Uri.parse(args.uri);
  const what = args.proc ?? script.path.split("/").pop();
  const response = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Exo: compiling and simulating ${what}`,
      cancellable: true,
    },
    async (_progress, token) => (await send(Methods.compileAndSimulate, [args], token)) as SimulateResponse | undefined,
  );
  if (!response || typeof response !== "object") {
    return undefined;
  }
  const result = response.result ?? null;
  const markdown = response.report || summary(result, response.error);
  const reportUri = reports.set(script, markdown);
  await showReport(reportUri);
  if (!result || !result.ok) {
    const why = response.error ?? result?.error ?? "see the report";
    void vscode.window.showWarningMessage(`Exo: compile & simulate of ${what} did not complete: ${why}`);
  } else if (result.correct === false) {
    void vscode.window.showWarningMessage(`Exo: ${what} computes wrong results in simulation; see the report.`);
  }
  return { response, reportUri };
}

async function showReport(uri: vscode.Uri): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(uri);
  if (doc.languageId !== "markdown") {
    await vscode.languages.setTextDocumentLanguage(doc, "markdown");
  }
  try {
    await vscode.commands.executeCommand("markdown.showPreviewToSide", uri);
  } catch {
    // No markdown preview (extension disabled): show the markdown source instead.
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true });
  }
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
