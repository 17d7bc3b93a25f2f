import { Application } from 'egg';
import { Attributes, CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';
import type { OrderStatus } from '../domain/orderStatus';

export interface OrderItem {
  productId: number;
  name: string;
  unitPriceFen: number;
  quantity: number;
}

const defineOrder = (app: Application) => {
  class Order extends Model<InferAttributes<Order>, InferCreationAttributes<Order>> {
    declare id: CreationOptional<number>;
    declare outTradeNo: string;
    /** The ordering user; null for a POS order (the payer is whoever's payment code was scanned). */
    declare userId: number | null;
    declare idempotencyKey: string | null;
    declare totalFee: number;
    declare body: string;
    declare items: string;
    declare status: CreationOptional<OrderStatus>;
    declare signType: string;
    /** The app the order was made in: every WeChat call and check for it uses this appid. */
    declare appid: string;
    declare tradeType: CreationOptional<string>;
    /** Sent to WeChat as the unified order's attach, echoed by its notification and query. */
    declare attach: CreationOptional<string | null>;
    /** The unified order's optional fields, fixed at creation (docs/decisions/0015-unified-order-options-and-coupons.md). */
    declare goodsTag: CreationOptional<string | null>;
    declare limitPay: CreationOptional<string | null>;
    declare receipt: CreationOptional<boolean>;
    declare detail: CreationOptional<string | null>;
    declare expiresAt: Date;
    declare currentAttemptId: CreationOptional<number | null>;
    declare paidAttemptId: CreationOptional<number | null>;
    declare transactionId: CreationOptional<string | null>;
    declare paidAt: CreationOptional<Date | null>;
    declare bankType: CreationOptional<string | null>;
    declare closedAt: CreationOptional<Date | null>;
    declare refundRequired: CreationOptional<boolean>;
    declare refundedFee: CreationOptional<number>;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  Order.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    outTradeNo: { type: DataTypes.STRING(32), allowNull: false },
    userId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    idempotencyKey: { type: DataTypes.STRING(64), allowNull: true },
    totalFee: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    body: { type: DataTypes.STRING(128), allowNull: false },
    items: { type: DataTypes.TEXT, allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'NOTPAY' },
    signType: { type: DataTypes.STRING(16), allowNull: false },
    appid: { type: DataTypes.STRING(32), allowNull: false },
    tradeType: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'JSAPI' },
    attach: { type: DataTypes.STRING(127), allowNull: true },
    goodsTag: { type: DataTypes.STRING(32), allowNull: true },
    limitPay: { type: DataTypes.STRING(16), allowNull: true },
    receipt: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    detail: { type: DataTypes.TEXT, allowNull: true },
    expiresAt: { type: DataTypes.DATE(3), allowNull: false },
    currentAttemptId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    paidAttemptId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
    transactionId: { type: DataTypes.STRING(32), allowNull: true },
    paidAt: { type: DataTypes.DATE(3), allowNull: true },
    bankType: { type: DataTypes.STRING(32), allowNull: true },
    closedAt: { type: DataTypes.DATE(3), allowNull: true },
    refundRequired: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    refundedFee: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'orders', underscored: true });
  return Order;
};

export default defineOrder;

/** A row of Order, as the model reads it. */
export type OrderRow = InstanceType<ReturnType<typeof defineOrder>>;

/** An order's columns as plain data: a row read by the model, or one a repository has just written (no model instance). */
export type OrderData = Attributes<OrderRow>;
