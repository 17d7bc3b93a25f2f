import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';

describe('GET /health', () => {
  afterEach(() => mock.restore());

  it('answers 200 with both stores up', async () => {
    const res = await app.httpRequest().get('/health').expect(200);
    assert.deepEqual(res.body, { status: 'ok', mysql: 'up', redis: 'up' });
  });

  it('answers 503 naming MySQL when it does not answer', async () => {
    mock(app.model, 'query', async () => { throw new Error('connect ECONNREFUSED'); });
    const res = await app.httpRequest().get('/health').expect(503);
    assert.deepEqual(res.body, { status: 'degraded', mysql: 'down', redis: 'up' });
  });

  it('answers 503 naming Redis when it does not answer', async () => {
    mock(app.redis, 'ping', async () => { throw new Error('Connection is closed.'); });
    const res = await app.httpRequest().get('/health').expect(503);
    assert.deepEqual(res.body, { status: 'degraded', mysql: 'up', redis: 'down' });
  });

  it('answers JSON 404 for an unknown route', async () => {
    const res = await app.httpRequest().get('/no/such/route').expect(404);
    assert.deepEqual(res.body, { code: 'NOT_FOUND', message: 'no such route' });
  });
});
