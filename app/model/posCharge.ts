import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

export type PosChargeStatus = 'PROCESSING' | 'PAID' | 'FAILED' | 'REVERSED';

const definePosCharge = (app: Application) => {
  class PosCharge extends Model<InferAttributes<PosCharge>, InferCreationAttributes<PosCharge>> {
    declare id: CreationOptional<number>;
    declare orderId: number;
    declare idempotencyKey: string;
    declare fingerprint: string;
    declare status: CreationOptional<PosChargeStatus>;
    declare operator: string;
    declare storeInfo: string | null;
    declare payerOpenid: CreationOptional<string | null>;
    declare failureCode: CreationOptional<string | null>;
    declare wechatCode: CreationOptional<string | null>;
    declare failureMessage: CreationOptional<string | null>;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  PosCharge.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    orderId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    idempotencyKey: { type: DataTypes.STRING(64), allowNull: false },
    fingerprint: { type: DataTypes.STRING(64), allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'PROCESSING' },
    operator: { type: DataTypes.STRING(16), allowNull: false },
    storeInfo: { type: DataTypes.TEXT, allowNull: true },
    payerOpenid: { type: DataTypes.STRING(128), allowNull: true },
    failureCode: { type: DataTypes.STRING(32), allowNull: true },
    wechatCode: { type: DataTypes.STRING(32), allowNull: true },
    failureMessage: { type: DataTypes.STRING(255), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'pos_charges', underscored: true });
  return PosCharge;
};

export default definePosCharge;

/** A row of PosCharge, as the model reads it. */
export type PosChargeRow = InstanceType<ReturnType<typeof definePosCharge>>;
