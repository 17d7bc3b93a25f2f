import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

export type ReconciliationStatus = 'OK' | 'MISMATCH' | 'NO_BILL' | 'ERROR';

/** The stored outcome of comparing one Beijing day with WeChat's bill (see ReconciliationService). */
const defineReconciliation = (app: Application) => {
  class Reconciliation extends Model<InferAttributes<Reconciliation>, InferCreationAttributes<Reconciliation>> {
    declare id: CreationOptional<number>;
    /** YYYY-MM-DD, a Beijing calendar day. */
    declare billDate: string;
    declare status: ReconciliationStatus;
    /** WeChat had a bill for the day (the bill* columns are its totals). */
    declare hasBill: boolean;
    declare billPaymentCount: number;
    declare billPaymentTotal: number;
    declare billRefundCount: number;
    declare billRefundTotal: number;
    declare billFeeTotal: number;
    /** The coupons of the day's payments, fen: the bill's coupon column, and ours (payment_attempts.coupon_fee). */
    declare billCouponTotal: CreationOptional<number>;
    declare localCouponTotal: CreationOptional<number>;
    declare localPaymentCount: number;
    declare localPaymentTotal: number;
    declare localRefundCount: number;
    declare localRefundTotal: number;
    declare discrepancyCount: number;
    /** JSON: Discrepancy[] */
    declare discrepancies: string;
    declare error: string | null;
    declare startedAt: Date;
    declare finishedAt: Date;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  Reconciliation.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    billDate: { type: DataTypes.DATEONLY, allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false },
    hasBill: { type: DataTypes.BOOLEAN, allowNull: false },
    billPaymentCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    billPaymentTotal: { type: DataTypes.BIGINT, allowNull: false },
    billRefundCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    billRefundTotal: { type: DataTypes.BIGINT, allowNull: false },
    billFeeTotal: { type: DataTypes.BIGINT, allowNull: false },
    billCouponTotal: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
    localCouponTotal: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
    localPaymentCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    localPaymentTotal: { type: DataTypes.BIGINT, allowNull: false },
    localRefundCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    localRefundTotal: { type: DataTypes.BIGINT, allowNull: false },
    discrepancyCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    discrepancies: { type: DataTypes.TEXT('medium'), allowNull: false },
    error: { type: DataTypes.STRING(512), allowNull: true },
    startedAt: { type: DataTypes.DATE(3), allowNull: false },
    finishedAt: { type: DataTypes.DATE(3), allowNull: false },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'reconciliations', underscored: true });
  return Reconciliation;
};

export default defineReconciliation;

/** A row of Reconciliation, as the model reads it. */
export type ReconciliationRow = InstanceType<ReturnType<typeof defineReconciliation>>;
