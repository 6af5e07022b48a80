#!/usr/bin/env node
// Makes the package importable by its own name from anywhere inside the repository
// (notebooks do `import { ... } from "advanced-neural-models"`): node_modules/<name> -> repo root.
// Runs on `npm install` / `npm ci` (postinstall); idempotent; never replaces a real folder.
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const { name } = require(path.join(root, "package.json"));
const link = path.join(root, "node_modules", name);
const target = path.relative(path.dirname(link), root);

let stat;
try {
  stat = fs.lstatSync(link);
} catch {
  stat = undefined;
}
if (stat && !stat.isSymbolicLink()) {
  console.error(`link-self: ${link} exists and is not a symlink; leaving it alone`);
  process.exit(0);
}
if (stat && fs.readlinkSync(link) === target) process.exit(0);
if (stat) fs.unlinkSync(link);
fs.mkdirSync(path.dirname(link), { recursive: true });
fs.symlinkSync(target, link, "dir");
console.log(`link-self: node_modules/${name} -> ${target}`);
