// Entry point of the extension-host tests (extensionTestsPath); $EXO_E2E_SUITE picks the suite.
import { runAll } from "./harness";

export async function run(): Promise<void> {
  const suite = process.env.EXO_E2E_SUITE ?? "client";
  switch (suite) {
    case "client":
      await import("./suites/client");
      break;
    case "untrusted":
      await import("./suites/untrusted");
      break;
    case "pyext":
      await import("./suites/pyext");
      break;
    case "server":
      await import("./suites/server");
      break;
    default:
      throw new Error(`unknown suite ${suite}`);
  }
  await runAll(suite);
}
