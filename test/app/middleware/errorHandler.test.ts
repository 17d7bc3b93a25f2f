import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { ConnectionAcquireTimeoutError } from 'sequelize';
import { ProductRepository } from '../../../app/repository/productRepository';
import { createOrder, login, resetWorld } from '../../support/fixtures';

describe('errorHandler', () => {
  beforeEach(resetWorld);
  afterEach(mock.restore);

  it('a database with no free pool connection in time answers 503 DATABASE_BUSY (retryable), not 500, and nothing is written', async () => {
    const { token } = await login();
    const poolTimeout = async () => { throw new ConnectionAcquireTimeoutError(new Error('Operation timeout')); };
    // The order path's first read (pricing, in plain SQL) and the product list's (the model) both wait in vain.
    mock(ProductRepository.prototype, 'findActive', poolTimeout);
    mock(app.model.Product, 'findAll', poolTimeout);
    const res = await createOrder(token).expect(503);
    assert.deepEqual(res.body, { code: 'DATABASE_BUSY', message: 'the service is busy, try again shortly' });
    assert.equal(await app.model.Order.count(), 0);
    const list = await app.httpRequest().get('/api/products').expect(503);
    assert.equal(list.body.code, 'DATABASE_BUSY');
  });

  it('any other unexpected error stays a 500 INTERNAL_ERROR', async () => {
    mock(app.model.Product, 'findAll', async () => { throw new Error('something else'); });
    const res = await app.httpRequest().get('/api/products').expect(500);
    assert.deepEqual(res.body, { code: 'INTERNAL_ERROR', message: 'internal error' });
  });
});
