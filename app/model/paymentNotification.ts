import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

export type NotificationOutcome = 'RECEIVED' | 'APPLIED' | 'DUPLICATE' | 'REJECTED' | 'ERROR';

const KEY_LIMIT = 32;

/**
 * The order numbers a notification's fields name, as its audit row keeps them: cut to their
 * columns, since an overlong value in a forged or broken notification must not fail the INSERT
 * that records it.
 */
export function auditKeys(fields: Record<string, unknown> | undefined): { outTradeNo: string | null; transactionId: string | null } {
  const cut = (value: unknown) => (typeof value === 'string' ? value.slice(0, KEY_LIMIT) : null);
  return { outTradeNo: cut(fields?.out_trade_no), transactionId: cut(fields?.transaction_id) };
}

const definePaymentNotification = (app: Application) => {
  class PaymentNotification extends Model<InferAttributes<PaymentNotification>, InferCreationAttributes<PaymentNotification>> {
    declare id: CreationOptional<number>;
    declare kind: 'pay' | 'refund';
    declare outTradeNo: string | null;
    declare transactionId: string | null;
    declare rawBody: string;
    declare parsed: string | null;
    declare outcome: CreationOptional<NotificationOutcome>;
    declare reason: CreationOptional<string | null>;
    declare remoteIp: string | null;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  PaymentNotification.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    kind: { type: DataTypes.STRING(8), allowNull: false },
    outTradeNo: { type: DataTypes.STRING(KEY_LIMIT), allowNull: true },
    transactionId: { type: DataTypes.STRING(KEY_LIMIT), allowNull: true },
    rawBody: { type: DataTypes.TEXT('medium'), allowNull: false },
    parsed: { type: DataTypes.TEXT('medium'), allowNull: true },
    outcome: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'RECEIVED' },
    reason: { type: DataTypes.STRING(255), allowNull: true },
    remoteIp: { type: DataTypes.STRING(64), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'payment_notifications', underscored: true });
  return PaymentNotification;
};

export default definePaymentNotification;

/** A row of PaymentNotification, as the model reads it. */
export type PaymentNotificationRow = InstanceType<ReturnType<typeof definePaymentNotification>>;
