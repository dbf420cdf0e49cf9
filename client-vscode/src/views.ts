// Read-only live documents for the proc after a step (`exo-proc:`) and its C (`exo-c:`).
import * as vscode from "vscode";
import type { RequestParam, RequestType } from "vscode-languageclient";
import { CScheme, ProcScheme, Requests, StepInfo } from "./protocol";

/** Sends a request (one of protocol.ts's typed ones) to the running server; rejects when there is none. */
export type Requester = <P, R>(
  type: RequestType<P, R, void>,
  params: RequestParam<P>,
  token?: vscode.CancellationToken,
) => Promise<R>;

export interface ViewTarget {
  scheme: typeof ProcScheme | typeof CScheme;
  /** the script's file URI */
  script: vscode.Uri;
  proc: string;
  /** after step n; "last"; -1: the proc as defined */
  step: number | "last";
}

export function viewUri(t: ViewTarget): vscode.Uri {
  return vscode.Uri.from({
    scheme: t.scheme,
    path: t.script.path,
    query: `proc=${encodeURIComponent(t.proc)}&step=${t.step}`,
  });
}

export function parseViewUri(uri: vscode.Uri): ViewTarget | undefined {
  if (uri.scheme !== ProcScheme && uri.scheme !== CScheme) {
    return undefined;
  }
  const q = new URLSearchParams(uri.query);
  const proc = q.get("proc");
  const stepText = q.get("step") ?? "last";
  const step = stepText === "last" ? "last" : Number(stepText);
  if (!proc || (step !== "last" && !Number.isInteger(step))) {
    return undefined;
  }
  return { scheme: uri.scheme, script: vscode.Uri.file(uri.path), proc, step };
}

/** The URI string sent to the server: one canonical spelling, whatever VS Code's encoder does. */
export function wireUri(uri: vscode.Uri): string {
  const t = parseViewUri(uri);
  if (!t) {
    return uri.toString();
  }
  const path = t.script.path.split("/").map(encodeURIComponent).join("/");
  return `${t.scheme}:${path}?proc=${encodeURIComponent(t.proc)}&step=${t.step}`;
}

export class ViewProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly registrations: vscode.Disposable[];

  constructor(private readonly request: Requester) {
    this.registrations = [
      vscode.workspace.registerTextDocumentContentProvider(ProcScheme, this),
      vscode.workspace.registerTextDocumentContentProvider(CScheme, this),
    ];
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    try {
      const result = await this.request(Requests.viewText, { uri: wireUri(uri) }, token);
      return result?.text ?? "";
    } catch (e) {
      const comment = uri.scheme === CScheme ? "//" : "#";
      return `${comment} Exo: no view for ${uri.toString(true)}\n${comment} ${errorText(e).split("\n").join(`\n${comment} `)}\n`;
    }
  }

  /** Re-read every open view of this script (the server said they changed). */
  scriptChanged(scriptUri: string): void {
    const path = vscode.Uri.parse(scriptUri).path;
    for (const doc of vscode.workspace.textDocuments) {
      if ((doc.uri.scheme === ProcScheme || doc.uri.scheme === CScheme) && doc.uri.path === path) {
        this.emitter.fire(doc.uri);
      }
    }
  }

  /** Re-read every open view (e.g. after a server restart). */
  refreshAll(): void {
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme === ProcScheme || doc.uri.scheme === CScheme) {
        this.emitter.fire(doc.uri);
      }
    }
  }

  dispose(): void {
    this.registrations.forEach((d) => d.dispose());
    this.emitter.dispose();
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The top-level steps of the script's last run (steps run inside helpers left out). */
export async function fetchSteps(request: Requester, script: vscode.Uri): Promise<StepInfo[]> {
  const result = await request(Requests.steps, { uri: script.toString() });
  return Array.isArray(result?.steps) ? result.steps.filter((s) => s.parent === null || s.parent === undefined) : [];
}

/** The last step (in the server's order) whose line is at or above the cursor line (0-based). */
export function stepAtLine(steps: StepInfo[], line: number): StepInfo | undefined {
  let found: StepInfo | undefined;
  for (const s of steps) {
    if (s.line <= line) {
      found = s;
    }
  }
  return found;
}

/** The step before `step` that scheduled the same proc. */
export function previousStep(steps: StepInfo[], step: StepInfo): StepInfo | undefined {
  let best: StepInfo | undefined;
  for (const s of steps) {
    if (s.proc === step.proc && s.index < step.index && (!best || s.index > best.index)) {
      best = s;
    }
  }
  return best;
}

export async function openView(uri: vscode.Uri): Promise<vscode.TextEditor> {
  let doc = await vscode.workspace.openTextDocument(uri);
  const language = uri.scheme === CScheme ? "c" : "python";
  if (doc.languageId !== language) {
    doc = await vscode.languages.setTextDocumentLanguage(doc, language);
  }
  return vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, preview: false });
}
