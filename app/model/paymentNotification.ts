import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

export type NotificationOutcome = 'RECEIVED' | 'APPLIED' | 'DUPLICATE' | 'REJECTED' | 'ERROR';

export default (app: Application) => {
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
    outTradeNo: { type: DataTypes.STRING(32), allowNull: true },
    transactionId: { type: DataTypes.STRING(32), allowNull: true },
    rawBody: { type: DataTypes.TEXT, allowNull: false },
    parsed: { type: DataTypes.TEXT, allowNull: true },
    outcome: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'RECEIVED' },
    reason: { type: DataTypes.STRING(255), allowNull: true },
    remoteIp: { type: DataTypes.STRING(64), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'payment_notifications', underscored: true });
  return PaymentNotification;
};
