import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';
import type { RefundStatus } from '../domain/refundRules';

const defineRefund = (app: Application) => {
  class Refund extends Model<InferAttributes<Refund>, InferCreationAttributes<Refund>> {
    declare id: CreationOptional<number>;
    declare orderId: number;
    declare attemptId: number;
    declare outTradeNo: string;
    declare transactionId: string;
    declare outRefundNo: string;
    declare refundId: CreationOptional<string | null>;
    declare amount: number;
    declare reason: string;
    declare status: CreationOptional<RefundStatus>;
    declare idempotencyKey: string | null;
    declare errCode: CreationOptional<string | null>;
    declare errCodeDes: CreationOptional<string | null>;
    declare successAt: CreationOptional<Date | null>;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  Refund.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    orderId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    attemptId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    outTradeNo: { type: DataTypes.STRING(32), allowNull: false },
    transactionId: { type: DataTypes.STRING(32), allowNull: false },
    outRefundNo: { type: DataTypes.STRING(64), allowNull: false },
    refundId: { type: DataTypes.STRING(32), allowNull: true },
    amount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    reason: { type: DataTypes.STRING(80), allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'PROCESSING' },
    idempotencyKey: { type: DataTypes.STRING(64), allowNull: true },
    errCode: { type: DataTypes.STRING(32), allowNull: true },
    errCodeDes: { type: DataTypes.STRING(255), allowNull: true },
    successAt: { type: DataTypes.DATE(3), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'refunds', underscored: true });
  return Refund;
};

export default defineRefund;

/** A row of Refund, as the model reads it. */
export type RefundRow = InstanceType<ReturnType<typeof defineRefund>>;
