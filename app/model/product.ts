import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

const defineProduct = (app: Application) => {
  class Product extends Model<InferAttributes<Product>, InferCreationAttributes<Product>> {
    declare id: CreationOptional<number>;
    declare name: string;
    declare priceFen: number;
    declare active: boolean;
    /** The unified order's goods_tag (a coupon campaign's tag) for orders of this product alone. */
    declare goodsTag: CreationOptional<string | null>;
    /** Refuses credit cards for orders holding this product (limit_pay=no_credit). */
    declare noCredit: CreationOptional<boolean>;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  Product.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    name: { type: DataTypes.STRING(64), allowNull: false },
    priceFen: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
    active: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    goodsTag: { type: DataTypes.STRING(32), allowNull: true },
    noCredit: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'products', underscored: true });
  return Product;
};

export default defineProduct;

/** A row of Product, as the model reads it. */
export type ProductRow = InstanceType<ReturnType<typeof defineProduct>>;
