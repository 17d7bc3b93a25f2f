import 'egg';
import { BizConfig } from '../config/config.default';
import { SessionUser } from '../app/service/session';

declare module 'egg' {
  // Business settings, declared once so EggAppConfig does not infer itself (TS7024).
  interface EggAppConfig extends BizConfig {}
  interface Context {
    state: { user: SessionUser } & Record<string, any>;
  }
  interface Request {
    /** A WeChat notification's body as sent, read by the rawXmlBody middleware. */
    rawXml?: Buffer;
  }
}
