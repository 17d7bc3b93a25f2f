import { app } from 'egg-mock/bootstrap';
import { testEnv } from './support/env';

// Root hooks, loaded first by egg-bin: one simulator and one listening app for the whole run.
before(async () => {
  await app.ready();
  await testEnv.start(app);
});

after(async () => {
  await testEnv.stop();
});
