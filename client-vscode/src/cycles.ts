// After "Compile & Simulate": the cycles of each line of the generated C, shown at the end of
// the line in the proc's exo-c views (like an annotated profile).
import * as vscode from "vscode";
import { LineCost } from "./protocol";
import { parseViewUri } from "./views";

interface Profile {
  lines: LineCost[];
  total: number;
  /** views already scrolled to the hottest line for this profile */
  revealed: Set<string>;
}

export class CycleDecorations implements vscode.Disposable {
  private readonly normal = vscode.window.createTextEditorDecorationType({
    after: { margin: "0 0 0 2em", color: new vscode.ThemeColor("editorCodeLens.foreground") },
  });
  /** lines with at least HOT of the kernel's cycles */
  private readonly hot = vscode.window.createTextEditorDecorationType({
    after: { margin: "0 0 0 2em", color: new vscode.ThemeColor("editorWarning.foreground"), fontWeight: "bold" },
    overviewRulerColor: new vscode.ThemeColor("editorWarning.foreground"),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  private static readonly HOT = 0.1;
  /** key: script path, proc, step (see key()) */
  private readonly profiles = new Map<string, Profile>();
  private readonly shown = new Map<string, number>();
  private readonly subscriptions = [vscode.window.onDidChangeVisibleTextEditors(() => this.render())];

  set(script: vscode.Uri, proc: string, step: number | "last", lines: LineCost[]): void {
    const total = lines.reduce((sum, l) => sum + l.cycles, 0);
    this.profiles.set(key(script.path, proc, step), { lines, total, revealed: new Set() });
    this.render();
  }

  /** The script ran again: its profiles no longer match its views. */
  forgetScript(scriptPath: string): void {
    for (const k of [...this.profiles.keys()]) {
      if (k.startsWith(`${scriptPath}\n`)) {
        this.profiles.delete(k);
      }
    }
    this.render();
  }

  /** How many lines of this view carry cycles (for tests). */
  decoratedLines(uri: vscode.Uri): number {
    return this.shown.get(uri.toString()) ?? 0;
  }

  private render(): void {
    this.shown.clear();
    for (const editor of vscode.window.visibleTextEditors) {
      const view = parseViewUri(editor.document.uri);
      if (!view || view.scheme !== "exo-c") {
        continue;
      }
      const profile = this.profiles.get(key(view.script.path, view.proc, view.step));
      const normal: vscode.DecorationOptions[] = [];
      const hot: vscode.DecorationOptions[] = [];
      let hottest: { line: number; cycles: number } | undefined;
      for (const l of profile?.lines ?? []) {
        const line = l.c_line - 1;
        if (l.cycles <= 0 || line < 0 || line >= editor.document.lineCount) {
          continue;
        }
        const share = profile!.total > 0 ? l.cycles / profile!.total : 0;
        const stalls = l.stall_cycles ? `, ${l.stall_cycles} waiting for RVM` : "";
        const end = editor.document.lineAt(line).range.end;
        const option: vscode.DecorationOptions = {
          range: new vscode.Range(end, end),
          renderOptions: { after: { contentText: `${l.cycles} cycles (${(share * 100).toFixed(1)} %)` } },
          hoverMessage: `${l.cycles} cycles${stalls}; ${l.instructions} instructions retired`,
        };
        (share >= CycleDecorations.HOT ? hot : normal).push(option);
        if (!hottest || l.cycles > hottest.cycles) {
          hottest = { line, cycles: l.cycles };
        }
      }
      // Like a profiler's annotate view: the first time, scroll to where the time goes.
      const uri = editor.document.uri.toString();
      if (profile && hottest && !profile.revealed.has(uri)) {
        profile.revealed.add(uri);
        editor.revealRange(new vscode.Range(hottest.line, 0, hottest.line, 0), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      }
      editor.setDecorations(this.normal, normal);
      editor.setDecorations(this.hot, hot);
      this.shown.set(uri, normal.length + hot.length);
    }
  }

  dispose(): void {
    this.normal.dispose();
    this.hot.dispose();
    this.subscriptions.forEach((d) => d.dispose());
  }
}

function key(scriptPath: string, proc: string, step: number | "last"): string {
  return `${scriptPath}\n${proc}\n${step}`;
}
