import { EggAppConfig, PowerPartial } from 'egg';

// Local development talks to the simulator (npm run dev starts it); defaults in config.default.
export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  return config;
};
