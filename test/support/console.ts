import { app } from 'egg-mock/bootstrap';

/** A cookie jar for supertest: the console's cookies as a browser would keep them. */
export class ConsoleClient {
  readonly cookies = new Map<string, string>();

  /** Keeps the Set-Cookie headers of a reply (an emptied cookie is dropped). */
  keep(res: { headers: Record<string, any> }): void {
    for (const line of (res.headers['set-cookie'] ?? []) as string[]) {
      const [ pair ] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get cookieHeader(): string {
    return [ ...this.cookies ].map(([ k, v ]) => `${k}=${v}`).join('; ');
  }

  get csrf(): string {
    return this.cookies.get('csrfToken') ?? '';
  }

  /** Opens the page (which hands out the CSRF token cookie). */
  async open(): Promise<void> {
    this.keep(await app.httpRequest().get('/admin/').expect(200));
  }

  /** Opens the page and signs in with the admin token; throws unless it worked. */
  async signIn(token = app.config.adminToken): Promise<this> {
    await this.open();
    const res = await this.request('post', '/admin/session').send({ token });
    if (res.status !== 200) throw new Error(`sign-in answered ${res.status} ${res.text}`);
    return this;
  }

  /** A request carrying the jar's cookies and, unless told otherwise, the CSRF header; Set-Cookie is kept. */
  request(method: 'get' | 'post' | 'delete', url: string, opts: { csrf?: boolean } = {}) {
    const req = (app.httpRequest() as any)[method](url).set('Cookie', this.cookieHeader);
    if (opts.csrf !== false && this.csrf) req.set('x-csrf-token', this.csrf);
    const then = req.then.bind(req);
    req.then = (resolve: any, reject: any) => then((res: any) => { this.keep(res); return res; }).then(resolve, reject);
    return req;
  }
}
