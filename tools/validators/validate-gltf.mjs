#!/usr/bin/env node
// Validates glTF / glb files with the Khronos glTF-Validator and prints one JSON line per file:
//   {"file", "errors", "warnings", "infos", "hints", "messages": [...], "infoMessages": [...]}
// `messages` holds the first 20 errors and warnings, `infoMessages` the first 20 infos, each as
// "SEVERITY CODE at POINTER: message". Used by tvilling-fixtures' `gltf_validator` module; install the
// pinned validator with `scripts/bootstrap.sh` (runs `npm ci` here).
//
// Exit status: 0 when every file was read and validated (whatever the report says), 2 on bad usage or a
// file that could not be read or validated at all; that file still gets a line with `fatal` set.
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

const MAX_MESSAGES = 20;
const SEVERITY = ["ERROR", "WARNING", "INFO", "HINT"];

function render(m) {
  const where = m.pointer ? ` at ${m.pointer}` : m.offset !== undefined ? ` at byte ${m.offset}` : "";
  return `${SEVERITY[m.severity] ?? m.severity} ${m.code}${where}: ${m.message}`;
}

async function validateFile(file) {
  const bytes = new Uint8Array(await readFile(file));
  // glb content is self-contained: no externalResourceFunction, so external URIs are not followed.
  const report = await validator.validateBytes(bytes, {
    uri: file,
    maxIssues: 0,
    writeTimestamp: false,
  });
  const issues = report.issues ?? {};
  const messages = issues.messages ?? [];
  return {
    file,
    errors: issues.numErrors ?? 0,
    warnings: issues.numWarnings ?? 0,
    infos: issues.numInfos ?? 0,
    hints: issues.numHints ?? 0,
    messages: messages.filter((m) => m.severity <= 1).slice(0, MAX_MESSAGES).map(render),
    infoMessages: messages.filter((m) => m.severity === 2).slice(0, MAX_MESSAGES).map(render),
  };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: validate-gltf.mjs FILE...\n");
  process.exit(2);
}
let status = 0;
for (const file of files) {
  try {
    process.stdout.write(JSON.stringify(await validateFile(file)) + "\n");
  } catch (e) {
    status = 2;
    process.stdout.write(
      JSON.stringify({ file, fatal: String(e?.message ?? e), errors: 1, warnings: 0, infos: 0, hints: 0, messages: [String(e)], infoMessages: [] }) + "\n",
    );
  }
}
process.exit(status);
