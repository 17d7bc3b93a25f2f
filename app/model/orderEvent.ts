import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

const defineOrderEvent = (app: Application) => {
  class OrderEvent extends Model<InferAttributes<OrderEvent>, InferCreationAttributes<OrderEvent>> {
    declare id: CreationOptional<number>;
    declare orderId: number;
    declare type: string;
    declare source: string;
    declare detail: string | null;
    declare createdAt: CreationOptional<Date>;
  }
  OrderEvent.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    orderId: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    type: { type: DataTypes.STRING(32), allowNull: false },
    source: { type: DataTypes.STRING(16), allowNull: false },
    detail: { type: DataTypes.TEXT, allowNull: true },
    createdAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'order_events', underscored: true, updatedAt: false });
  return OrderEvent;
};

export default defineOrderEvent;

/** A row of OrderEvent, as the model reads it. */
export type OrderEventRow = InstanceType<ReturnType<typeof defineOrderEvent>>;
