import { EggPlugin } from 'egg';

const plugin: EggPlugin = {
  sequelize: { enable: true, package: 'egg-sequelize' },
  redis: { enable: true, package: 'egg-redis' },
  // Not used: no views, no sessions in cookies.
  view: false,
  session: false,
  i18n: false,
  watcher: false,
  development: false,
};

export default plugin;
