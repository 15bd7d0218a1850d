// build.mjs — bundle the dashboard into dist/ with esbuild (no network:
// everything comes from node_modules, installed by `npm ci`).
//
//   dist/assets/app-<hash>.js, app-<hash>.css (+ .map)   content-hashed names
//   dist/index.html                                      written last, by rename
//
// tradebench-server serves dist/ at GET / and GET /assets/{name} (api/static.c)
// and reloads it when index.html changes, so index.html must appear only once
// every asset it names is in place. Old assets are removed after the switch.
// `node build.mjs --watch` rebuilds on every change to src/.
import * as esbuild from 'esbuild';
import { readFile, writeFile, rename, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const assets = join(dist, 'assets');
const watch = process.argv.includes('--watch');

async function writeIndex(metafile) {
  const outputs = Object.keys(metafile.outputs).map((p) => basename(p));
  const js = outputs.find((n) => n.endsWith('.js'));
  const css = outputs.find((n) => n.endsWith('.css'));
  if (!js || !css) throw new Error(`esbuild produced no app js/css: ${outputs.join(', ')}`);
  const template = await readFile(join(here, 'src', 'index.html'), 'utf8');
  const html = template
    .replace('%APP_CSS%', `/assets/${css}`)
    .replace('%APP_JS%', `/assets/${js}`);
  const tmp = join(dist, `.index.html.${process.pid}`);
  await writeFile(tmp, html);
  await rename(tmp, join(dist, 'index.html'));
  // Drop assets of earlier builds (a running server keeps its copy in memory).
  const keep = new Set(outputs);
  for (const name of await readdir(assets)) {
    if (!keep.has(name)) await rm(join(assets, name), { force: true });
  }
  return { js, css };
}

const options = {
  entryPoints: { app: join(here, 'src', 'main.js') },
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: 'linked',
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
};

await mkdir(assets, { recursive: true });
if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{
      name: 'index-html',
      setup(build) {
        build.onEnd(async (result) => {
          if (result.errors.length === 0 && result.metafile) {
            const { js } = await writeIndex(result.metafile);
            console.log(`built ${js}`);
          }
        });
      },
    }],
  });
  await ctx.watch();
  console.log('watching src/ (Ctrl-C to stop)');
} else {
  const t0 = Date.now();
  const result = await esbuild.build(options);
  const { js, css } = await writeIndex(result.metafile);
  let bytes = 0;
  for (const [, o] of Object.entries(result.metafile.outputs)) bytes += o.bytes;
  console.log(`web: dist/assets/${js}, ${css} (${(bytes / 1024).toFixed(0)} KiB with maps) in ${Date.now() - t0} ms`);
}
