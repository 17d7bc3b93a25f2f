import { Application } from 'egg';
import { Attributes, CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

export type AttemptStatus = 'CREATED' | 'PREPAID' | 'FAILED' | 'PAID' | 'CLOSED';

const definePaymentAttempt = (app: Application) => {
  class PaymentAttempt extends Model<InferAttributes<PaymentAttempt>, InferCreationAttributes<PaymentAttempt>> {
    declare id: CreationOptional<number>;
    declare orderId: number;
    declare outTradeNo: string;
    declare totalFee: number;
    declare signType: string;
    /** The order's appid and trade type, fixed on the attempt like its sign type. */
    declare appid: string;
    declare tradeType: CreationOptional<string>;
    declare status: CreationOptional<AttemptStatus>;
    declare timeStart: string;
    declare timeExpire: string;
    declare prepayId: CreationOptional<string | null>;
    declare prepayExpiresAt: CreationOptional<Date | null>;
    /** NATIVE: code_url; MWEB: mweb_url (without redirect_url); valid until prepayExpiresAt. */
    declare payUrl: CreationOptional<string | null>;
    declare transactionId: CreationOptional<string | null>;
    declare errCode: CreationOptional<string | null>;
    /** What the payment was made of, as WeChat reported it: cash, coupons (JSON [{id, type, fee}]), the merchant's settled amount. */
    declare cashFee: CreationOptional<number | null>;
    declare couponFee: CreationOptional<number | null>;
    declare couponCount: CreationOptional<number | null>;
    declare settlementTotalFee: CreationOptional<number | null>;
    declare coupons: CreationOptional<string | null>;
    declare errCodeDes: CreationOptional<string | null>;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  PaymentAttempt.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    orderId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    outTradeNo: { type: DataTypes.STRING(32), allowNull: false },
    totalFee: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    signType: { type: DataTypes.STRING(16), allowNull: false },
    appid: { type: DataTypes.STRING(32), allowNull: false },
    tradeType: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'JSAPI' },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'CREATED' },
    timeStart: { type: DataTypes.STRING(14), allowNull: false },
    timeExpire: { type: DataTypes.STRING(14), allowNull: false },
    prepayId: { type: DataTypes.STRING(64), allowNull: true },
    prepayExpiresAt: { type: DataTypes.DATE(3), allowNull: true },
    payUrl: { type: DataTypes.STRING(512), allowNull: true },
    transactionId: { type: DataTypes.STRING(32), allowNull: true },
    errCode: { type: DataTypes.STRING(32), allowNull: true },
    cashFee: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    couponFee: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    couponCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    settlementTotalFee: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    coupons: { type: DataTypes.TEXT, allowNull: true },
    errCodeDes: { type: DataTypes.STRING(255), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'payment_attempts', underscored: true });
  return PaymentAttempt;
};

export default definePaymentAttempt;

/** A row of PaymentAttempt, as the model reads it. */
export type PaymentAttemptRow = InstanceType<ReturnType<typeof definePaymentAttempt>>;

/** A payment attempt's columns as plain data: a row read by the model, or one a repository has just written. */
export type PaymentAttemptData = Attributes<PaymentAttemptRow>;
