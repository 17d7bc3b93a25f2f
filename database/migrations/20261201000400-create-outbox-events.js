'use strict';

/**
 * The transactional outbox (docs/events.md, docs/decisions/0007-event-outbox.md): one row per event
 * a merchant's systems act on, written in the transaction of the change it reports, and its
 * delivery state, moved by the relay. Separate from order_events (the internal audit trail), whose
 * rows are never updated.
 */
module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.createTable('outbox_events', {
      id: { type: Sequelize.BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
      event_id: { type: Sequelize.STRING(40), allowNull: false },
      type: { type: Sequelize.STRING(40), allowNull: false },
      order_id: { type: Sequelize.INTEGER.UNSIGNED, allowNull: false },
      out_trade_no: { type: Sequelize.STRING(32), allowNull: false },
      seq: { type: Sequelize.INTEGER.UNSIGNED, allowNull: false },
      payload: { type: Sequelize.TEXT, allowNull: false },
      // PENDING (to deliver, or being retried), DELIVERED, DEAD (gave up: an operator replays it).
      status: { type: Sequelize.STRING(16), allowNull: false, defaultValue: 'PENDING' },
      attempts: { type: Sequelize.INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      next_attempt_at: { type: Sequelize.DATE(3), allowNull: false },
      // A relay's claim: the row is its own until locked_until (a relay that died loses it then).
      claim_token: { type: Sequelize.STRING(40), allowNull: true },
      locked_until: { type: Sequelize.DATE(3), allowNull: true },
      // The sinks that confirmed it (comma-separated), so a retry does not resend to the others.
      delivered_to: { type: Sequelize.STRING(64), allowNull: false, defaultValue: '' },
      last_error: { type: Sequelize.STRING(255), allowNull: true },
      last_attempt_at: { type: Sequelize.DATE(3), allowNull: true },
      delivered_at: { type: Sequelize.DATE(3), allowNull: true },
      created_at: { type: Sequelize.DATE(3), allowNull: false },
      updated_at: { type: Sequelize.DATE(3), allowNull: false },
    });
    await queryInterface.addIndex('outbox_events', [ 'event_id' ], { unique: true, name: 'uq_outbox_events_event_id' });
    await queryInterface.addIndex('outbox_events', [ 'order_id', 'seq' ], { unique: true, name: 'uq_outbox_events_order_seq' });
    await queryInterface.addIndex('outbox_events', [ 'status', 'next_attempt_at' ], { name: 'idx_outbox_events_due' });
    await queryInterface.addIndex('outbox_events', [ 'created_at' ], { name: 'idx_outbox_events_created' });
  },

  async down(queryInterface) {
    await queryInterface.dropTable('outbox_events');
  },
};
