/**
 * Turn a clean checkout of a tagged commit into the files of one version: one
 * builder per format, one factory. The files are left in `outDir`; the engine
 * hashes them into the blob store and records them as the version's assets.
 */
import { writeFileSync } from 'node:fs';
import { localError } from '../errors.js';
import { join } from 'node:path';
import type { Checkout } from '../sources/source.js';
import { buildGoModule, goAssetNames } from './go.js';
import { packNpm, type InternalNpmRegistry } from './npm.js';
import { buildPython } from './python.js';

export type BuildFormat = 'npm' | 'pypi' | 'go';

export interface BuildRequest {
  format: BuildFormat;
  checkout: Checkout;
  /** The package: npm name, PyPI project, Go module path. */
  name: string;
  /** The version as listed (PEP 440 normal form, semver, Go `v1.2.3`). */
  version: string;
  /** An empty folder for the outputs. */
  outDir: string;
  /** Where a build keeps its scratch (HOME, TMPDIR, npm's cache): the state's tmp, so what a killed run left is swept by the next. */
  scratchDir?: string;
  signal?: AbortSignal;
  /** The largest file a build may leave (limits.maxArtifactBytes): Python's are refused by size before they are read. */
  maxFileBytes?: number;
  /** npm: the job's npm registries, whose names an install never resolves publicly. */
  internalNpm?: readonly InternalNpmRegistry[];
}

export interface BuiltFile {
  /** The asset name on the target. */
  name: string;
  path: string;
  facts: Record<string, unknown>;
}

export interface Built {
  /** In upload order. */
  files: BuiltFile[];
  /** Facts about the whole version (Go: module path, h1 hashes, go.sum lines). */
  facts: Record<string, unknown>;
}

export async function buildVersion(req: BuildRequest): Promise<Built> {
  const { checkout } = req;
  switch (req.format) {
    case 'pypi': {
      const r = await buildPython({
        checkoutDir: checkout.dir,
        subdir: checkout.subdir,
        commitTime: checkout.committedAt,
        outDir: req.outDir,
        name: req.name,
        version: req.version,
        command: checkout.build.command,
        python: checkout.build.python,
        timeoutMs: checkout.build.timeoutMs,
        network: checkout.build.network,
        signal: req.signal,
        ...(req.scratchDir ? { scratchDir: req.scratchDir } : {}),
        ...(req.maxFileBytes !== undefined ? { maxFileBytes: req.maxFileBytes } : {}),
      });
      return {
        files: r.files.map((f) => ({ name: f.filename, path: f.path, facts: { filetype: f.filetype, pyversion: f.pyversion, metadata: f.metadata } })),
        facts: { project: r.name, builtIn: r.durationMs, builtWith: r.builtWith },
      };
    }
    case 'go': {
      const names = goAssetNames(req.version);
      const b = await buildGoModule({
        checkoutDir: checkout.dir,
        subdir: checkout.subdir,
        modulePath: req.name,
        version: req.version,
        commitTime: checkout.committedAt,
        // the files on disk have short names of their own (the folder is this build's alone): named
        // after the version, a version go and CodeArtifact take (up to 250 characters) would make
        // a file name past the 255 bytes a file system holds, and end the run (ENAMETOOLONG)
        zipPath: join(req.outDir, 'module.zip'),
      });
      const mod = join(req.outDir, 'module.mod');
      const info = join(req.outDir, 'module.info');
      writeOutput(mod, b.mod.bytes);
      writeOutput(info, b.info.bytes);
      return {
        // .info last: it is the smallest, and the generic version is Published when its last asset lands
        files: [
          { name: names.zip, path: b.zip.path, facts: { h1: b.zip.h1 } },
          { name: names.mod, path: mod, facts: { h1: b.mod.h1, synthesized: b.mod.synthesized } },
          { name: names.info, path: info, facts: {} },
        ],
        facts: { module: b.modulePath, h1: b.zip.h1, goModH1: b.mod.h1, goSum: b.goSum, omitted: b.omitted.length },
      };
    }
    case 'npm': {
      const r = await packNpm({
        checkoutDir: checkout.dir,
        subdir: checkout.subdir,
        name: req.name,
        version: req.version,
        outDir: req.outDir,
        command: checkout.build.command,
        timeoutMs: checkout.build.timeoutMs,
        network: checkout.build.network,
        signal: req.signal,
        ...(req.scratchDir ? { scratchDir: req.scratchDir } : {}),
        ...(req.internalNpm ? { internal: req.internalNpm } : {}),
        commitTime: checkout.committedAt,
      });
      return { files: [{ name: 'package.tgz', path: r.path, facts: {} }], facts: { builtWith: r.builtWith } };
    }
    default: {
      const never: never = req.format;
      throw new Error(`unknown build format ${String(never)}`);
    }
  }
}

/**
 * A file of the build written beside the others: a full disk is this machine's ELOCAL, naming
 * the file. A raw errno error would reach the engine as a CodeArtifact failure (ETARGET) and
 * fail every version in turn instead of stopping the run.
 */
function writeOutput(path: string, bytes: Buffer): void {
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw localError(e, path, 'write', { anyCode: true })!;
  }
}
