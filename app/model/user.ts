import { Application } from 'egg';
import { CreationOptional, DataTypes, InferAttributes, InferCreationAttributes, Model } from 'sequelize';

const defineUser = (app: Application) => {
  class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
    declare id: CreationOptional<number>;
    /** The app this openid belongs to: an openid means nothing without it. */
    declare appid: string;
    declare openid: string;
    declare unionid: string | null;
    declare lastLoginAt: Date | null;
    declare createdAt: CreationOptional<Date>;
    declare updatedAt: CreationOptional<Date>;
  }
  User.init({
    id: { type: DataTypes.INTEGER.UNSIGNED, primaryKey: true, autoIncrement: true },
    appid: { type: DataTypes.STRING(32), allowNull: false },
    openid: { type: DataTypes.STRING(64), allowNull: false },
    unionid: { type: DataTypes.STRING(64), allowNull: true },
    lastLoginAt: { type: DataTypes.DATE(3), allowNull: true },
    createdAt: DataTypes.DATE(3),
    updatedAt: DataTypes.DATE(3),
  }, { sequelize: app.model, tableName: 'users', underscored: true });
  return User;
};

export default defineUser;

/** A row of User, as the model reads it. */
export type UserRow = InstanceType<ReturnType<typeof defineUser>>;
