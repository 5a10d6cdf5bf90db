// Builds the front-end assets into src/ollama_webmgr/web/static/dist/.
//
// Every file gets a content hash in its name (cached forever by browsers and the
// service worker), a precompressed .gz and .br sibling, and an entry in
// manifest.json (logical name -> hashed name) that the Flask app reads at start-up.
// Third-party files come from node_modules; nothing is fetched from a CDN.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

import { buildIcons } from "./icons.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const WEB = join(ROOT, "src", "ollama_webmgr", "web");
const SOURCES = join(WEB, "assets");
const DIST = join(WEB, "static", "dist");
const MODULES = join(ROOT, "node_modules");
// Not a hashed asset: web/pwa.py fills it in and serves it at /service-worker.js.
const SERVICE_WORKER = join(SOURCES, "sw", "service-worker.js");

function buildCss() {
  const work = mkdtempSync(join(tmpdir(), "webmgr-css-"));
  const output = join(work, "app.css");
  try {
    execFileSync(
      process.execPath,
      [join(MODULES, "@tailwindcss", "cli", "dist", "index.mjs"),
        "--input", join(SOURCES, "app.css"), "--output", output, "--minify"],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
    );
    return readFileSync(output);
  } catch (error) {
    process.stderr.write(error.stderr ?? "");
    throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function collectEntries() {
  const entries = new Map([
    ["app.css", buildCss()],
    ["htmx.js", readFileSync(join(MODULES, "htmx.org", "dist", "htmx.min.js"))],
    ["alpine.js", patchAlpine(join(MODULES, "@alpinejs", "csp", "dist", "cdn.min.js"))],
    // the API documentation page (/api/docs)
    ["swagger-ui.css", readFileSync(join(MODULES, "swagger-ui-dist", "swagger-ui.css"))],
    ["swagger-ui.js", readFileSync(join(MODULES, "swagger-ui-dist", "swagger-ui-bundle.js"))],
    // the charts of Santé, Statistiques and Matériel (assets/charts.js mounts them)
    ["uplot.css", readFileSync(join(MODULES, "uplot", "dist", "uPlot.min.css"))],
    ["uplot.js", readFileSync(join(MODULES, "uplot", "dist", "uPlot.iife.min.js"))],
  ]);
  for (const [name, png] of buildIcons()) entries.set(name, png);
  checkSyntax(SERVICE_WORKER, "assets/sw/service-worker.js");
  for (const name of readdirSync(SOURCES).sort()) {
    if (extname(name) === ".js") {
      if (entries.has(name)) throw new Error(`assets/${name} clashes with a built asset`);
      entries.set(name, checkSyntax(join(SOURCES, name), `assets/${name}`));
    }
  }
  return entries;
}

// Two build-time edits of Alpine's CSP build (dist/cdn.min.js), each checked:
// the build fails if its target is not found exactly once (e.g. after an
// upgrade), so they are reviewed then, and dropped once upstream has them.
function patchAlpine(path) {
  let text = readFileSync(path, "utf8");
  // 1. At start-up the CSP build reads every property of globalThis to collect
  // the values expressions may not return. Reading `window.fence` (Fenced
  // Frames) logs a Chromium deprecation, which fails Lighthouse's
  // best-practices audit. Upstream skips `styleMedia` and `sharedStorage` for
  // the same reason (alpinejs/alpine#4787); we add `fence` to that list. Nothing
  // is lost: outside a fenced frame `window.fence` is null, a value the check
  // ignores anyway, and our pages refuse to be framed.
  text = replaceOnce(
    text,
    /(\w+)==="styleMedia"\|\|\1==="sharedStorage"(?!\|\|\1==="fence")/,
    '$&||$1==="fence"',
    "the globals skip list",
  );
  // 2. The build starts Alpine in a microtask, i.e. in the same task as that
  // global snapshot (about 25 ms here, four times that on a mid-range phone).
  // Starting it from a timer puts the first walk of the page in its own task:
  // two shorter tasks, so the page can answer input in between (Total Blocking
  // Time). Components registered on `alpine:init` are unaffected.
  text = replaceOnce(
    text,
    /queueMicrotask\(\(\)=>\{(\w+)\.start\(\)\}\)/,
    "setTimeout(()=>{$1.start()})",
    "the automatic Alpine.start()",
  );
  new Script(text, { filename: "alpine.js" }); // still valid JavaScript
  return Buffer.from(text, "utf8");
}

function replaceOnce(text, pattern, replacement, what) {
  const found = text.match(new RegExp(pattern.source, "g")) ?? [];
  if (found.length !== 1) {
    throw new Error(`@alpinejs/csp: ${what} not found once; review patchAlpine()`);
  }
  return text.replace(pattern, replacement);
}

// Compile only (nothing runs): a syntax error fails the build, not the page.
function checkSyntax(path, filename) {
  const source = readFileSync(path);
  new Script(source.toString("utf8"), { filename });
  return source;
}

function hashedName(name, content) {
  const digest = createHash("sha256").update(content).digest("hex").slice(0, 10);
  const ext = extname(name);
  return `${name.slice(0, -ext.length)}.${digest}${ext}`;
}

function main() {
  const entries = collectEntries();
  mkdirSync(DIST, { recursive: true });
  const manifest = {};
  const keep = new Set(["manifest.json"]);
  for (const [name, content] of entries) {
    const hashed = hashedName(name, content);
    manifest[name] = hashed;
    writeFileSync(join(DIST, hashed), content);
    writeFileSync(join(DIST, `${hashed}.gz`), gzipSync(content, { level: 9 }));
    writeFileSync(
      join(DIST, `${hashed}.br`),
      brotliCompressSync(content, {
        params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY },
      }),
    );
    for (const suffix of ["", ".gz", ".br"]) keep.add(`${hashed}${suffix}`);
  }
  for (const stale of readdirSync(DIST)) {
    if (!keep.has(stale)) rmSync(join(DIST, stale), { recursive: true, force: true });
  }
  // Written last and atomically: it is also the Makefile's "assets are built" stamp.
  const temporary = join(DIST, "manifest.json.tmp");
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temporary, join(DIST, "manifest.json"));
  console.log(`assets: ${entries.size} files -> ${DIST}`);
}

main();
