import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';
import type { OutboxStatus } from '../domain/outboxRules';

const defineOutboxEvent = (app: Application) => {
  class OutboxEvent extends Model<InferAttributes<OutboxEvent>, InferCreationAttributes<OutboxEvent>> {
    declare id: CreationOptional<number>;
    declare eventId: string;
    declare type: string;
    declare orderId: number;
    declare outTradeNo: string;
    declare seq: number;
    declare payload: string;
    declare status: CreationOptional<OutboxStatus>;
    declare attempts: CreationOptional<number>;
    declare nextAttemptAt: Date;
    declare claimToken: CreationOptional<string | null>;
    declare lockedUntil: CreationOptional<Date | null>;
    declare deliveredTo: CreationOptional<string>;
    declare lastError: CreationOptional<string | null>;
    declare lastAttemptAt: CreationOptional<Date | null>;
    declare deliveredAt: CreationOptional<Date | null>;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  OutboxEvent.init({
    id: { type: DataTypes.BIGINT.UNSIGNED, primaryKey: true, autoIncrement: true },
    eventId: { type: DataTypes.STRING(40), allowNull: false },
    type: { type: DataTypes.STRING(40), allowNull: false },
    orderId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    outTradeNo: { type: DataTypes.STRING(32), allowNull: false },
    seq: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    payload: { type: DataTypes.TEXT, allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'PENDING' },
    attempts: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
    nextAttemptAt: { type: DataTypes.DATE(3), allowNull: false },
    claimToken: { type: DataTypes.STRING(40), allowNull: true },
    lockedUntil: { type: DataTypes.DATE(3), allowNull: true },
    deliveredTo: { type: DataTypes.STRING(64), allowNull: false, defaultValue: '' },
    lastError: { type: DataTypes.STRING(255), allowNull: true },
    lastAttemptAt: { type: DataTypes.DATE(3), allowNull: true },
    deliveredAt: { type: DataTypes.DATE(3), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'outbox_events', underscored: true });
  return OutboxEvent;
};

export default defineOutboxEvent;

/** A row of OutboxEvent, as the model reads it. */
export type OutboxEventRow = InstanceType<ReturnType<typeof defineOutboxEvent>>;
