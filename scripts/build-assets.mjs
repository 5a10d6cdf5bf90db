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
    ["alpine.js", skipFenceGlobal(readFileSync(join(MODULES, "@alpinejs", "csp", "dist", "cdn.min.js")))],
    // the API documentation page (/api/docs)
    ["swagger-ui.css", readFileSync(join(MODULES, "swagger-ui-dist", "swagger-ui.css"))],
    ["swagger-ui.js", readFileSync(join(MODULES, "swagger-ui-dist", "swagger-ui-bundle.js"))],
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

// Alpine's CSP build reads every property of globalThis once at start-up to build
// a set of values expressions may not return. Reading `window.fence` (Fenced
// Frames, deprecated in Chromium) logs a deprecation, which Lighthouse's
// best-practices audit counts. Upstream already skips `styleMedia` and
// `sharedStorage` for the same reason (alpinejs/alpine#4787); we add `fence` to
// that skip list. Nothing is lost: outside a fenced frame `window.fence` is null,
// a value the check ignores anyway, and our pages refuse to be framed. The build
// fails if the skip list is not found exactly once (e.g. after an upgrade), so
// the patch is re-checked, and dropped once upstream skips `fence` itself.
function skipFenceGlobal(source) {
  const text = source.toString("utf8");
  const skipList = /(\w+)==="styleMedia"\|\|\1==="sharedStorage"/g;
  const found = text.match(skipList) ?? [];
  if (found.length !== 1) {
    throw new Error("@alpinejs/csp: globals skip list not found; review skipFenceGlobal()");
  }
  if (text.includes('"fence"')) return source;
  return Buffer.from(text.replace(skipList, '$&||$1==="fence"'), "utf8");
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
