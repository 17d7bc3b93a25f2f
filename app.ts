import { Application, IBoot } from 'egg';

export default class AppBoot implements IBoot {
  constructor(private readonly app: Application) {}

  configWillLoad() {
    // Outermost, so body-parser failures (malformed JSON, too large) get the JSON error shape too.
    this.app.config.coreMiddleware.unshift('errorHandler');
  }
}
