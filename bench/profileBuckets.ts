/** Where a sampled function belongs, for bench/profileSummary.ts (CPU) and bench/allocations.ts (memory). */

/** The bucket a function's self time (or allocation) is counted in: a package, a folder of ours, or the runtime. */
export function bucket(url: string, name: string): string {
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  if (!url) return '(native / runtime)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const ours = /\/(app|lib|config|dist)\/(.*)$/.exec(url);
  if (ours) {
    const rel = ours[1] === 'dist' ? ours[2] : `${ours[1]}/${ours[2]}`;
    return rel.split('/').slice(0, 2).join('/')
      .replace(/\.(js|ts)$/, '');
  }
  return url.replace(/^file:\/\//, '');
}
