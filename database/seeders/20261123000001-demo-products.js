'use strict';

// Demo products for local development and the quick start. Prices in fen.
const PRODUCTS = [
  { id: 1, name: 'Coffee', price_fen: 1200 },
  { id: 2, name: 'Croissant', price_fen: 850 },
  { id: 3, name: 'Tea', price_fen: 900 },
  { id: 4, name: 'Cent test item', price_fen: 1 },
];

module.exports = {
  async up(queryInterface) {
    const now = new Date();
    for (const p of PRODUCTS) {
      await queryInterface.sequelize.query(
        'INSERT INTO products (id, name, price_fen, active, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?) ' +
        'ON DUPLICATE KEY UPDATE name = VALUES(name), price_fen = VALUES(price_fen), active = 1, updated_at = VALUES(updated_at)',
        { replacements: [ p.id, p.name, p.price_fen, now, now ] });
    }
  },
  async down(queryInterface) {
    await queryInterface.bulkDelete('products', { id: PRODUCTS.map(p => p.id) });
  },
};
