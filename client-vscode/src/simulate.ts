// "Exo: Compile & Simulate": run the server's simulator and show its markdown report beside.
import * as vscode from "vscode";
import { Methods, SimulateArgs, SimulateResult } from "./protocolTypes";

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
): Promise<{ result: SimulateResult; reportUri: vscode.Uri } | undefined> {
  const script = vscode.Uri.parse(args.uri);
  const name = script.path.split("/").pop();
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Exo: compiling and simulating ${args.proc ?? name}`,
      cancellable: true,
    },
    async (_progress, token) => (await send(Methods.compileAndSimulate, [args], token)) as SimulateResult | undefined,
  );
  if (!result || typeof result !== "object") {
    return undefined;
  }
  const markdown = typeof result.report === "string" && result.report ? result.report : summary(result);
  const reportUri = reports.set(script, markdown);
  await showReport(reportUri);
  if (!result.ok) {
    vscode.window.showWarningMessage(`Exo: simulation of ${args.proc ?? name} failed; see the report.`);
  } else if (!result.correct) {
    vscode.window.showWarningMessage(`Exo: ${args.proc ?? name} gives wrong results in simulation; see the report.`);
  }
  return { result, reportUri };
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

/** A report for servers that send numbers but no markdown. */
function summary(r: SimulateResult): string {
  const lines = [
    "# Exo simulation",
    "",
    `| | |`,
    `|---|---|`,
    `| result | ${r.ok ? (r.correct ? "correct" : "**wrong**") : "**failed**"} |`,
    `| cycles | ${r.cycles} |`,
    `| instructions | ${r.instructions} |`,
    `| baseline cycles | ${r.baselineCycles} |`,
    `| speedup | ${Number(r.speedup).toFixed(2)}x |`,
    `| utilisation | ${(Number(r.utilisation) * 100).toFixed(1)} % |`,
  ];
  for (const [k, v] of Object.entries(r.stalls ?? {})) {
    lines.push(`| stalls: ${k} | ${v} |`);
  }
  if (Array.isArray(r.races) && r.races.length) {
    lines.push("", `**${r.races.length} race(s)**`);
  }
  return lines.join("\n") + "\n";
}
