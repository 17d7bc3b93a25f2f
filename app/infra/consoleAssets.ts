import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface ConsoleAsset {
  type: string;
  body: string;
}

/**
 * The console's files by the name the page asks for: its own (console/, copied into dist/ by the
 * build) and the chart library, read from chart.js's installed package (no CDN). Read once, kept.
 */
export class ConsoleAssets {
  private readonly cache = new Map<string, Promise<ConsoleAsset>>();
  private readonly files: Record<string, { file: string; type: string }>;

  constructor(baseDir: string) {
    const chartDir = path.dirname(require.resolve('chart.js'));
    this.files = {
      'index.html': { file: path.join(baseDir, 'console', 'index.html'), type: 'text/html' },
      'console.js': { file: path.join(baseDir, 'console', 'console.js'), type: 'application/javascript' },
      'console.css': { file: path.join(baseDir, 'console', 'console.css'), type: 'text/css' },
      'chart.umd.js': { file: path.join(chartDir, 'chart.umd.js'), type: 'application/javascript' },
    };
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.files, name);
  }

  get(name: string): Promise<ConsoleAsset> {
    let asset = this.cache.get(name);
    if (!asset) {
      const { file, type } = this.files[name];
      asset = fs.readFile(file, 'utf8').then(body => ({ type, body }));
      asset.catch(() => this.cache.delete(name));
      this.cache.set(name, asset);
    }
    return asset;
  }
}
