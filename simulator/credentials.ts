import { AppCredential, MerchantCredential } from './types';

/** Development credentials, shared with the app's local and test configuration. */
export const DEV_CREDENTIALS = {
  appId: 'wx0000000000000001',
  appSecret: 'dev-app-secret-not-for-production',
  mchId: '1900000001',
  apiKey: 'devkey00000000000000000000000001',
  /** A second app of the same merchant, the app's default official account (config/env.ts). */
  oaAppId: 'wx0000000000000002',
  oaAppSecret: 'dev-oa-secret-not-for-production',
  /** A third app, the Open Platform mobile app (APP payments, config/env.ts). */
  mobileAppId: 'wx0000000000000003',
  mobileAppSecret: 'dev-mobile-secret-not-for-production',
} as const;

/** Where H5 payment is registered by default: the development hosts. */
export const DEFAULT_H5_DOMAINS = [ '127.0.0.1', 'localhost' ];

/** The apps and merchants the simulator knows, validated once at construction. */
export class Credentials {
  private readonly apps = new Map<string, AppCredential>();
  private readonly merchants = new Map<string, MerchantCredential>();
  readonly defaultAppId: string;

  constructor(apps?: AppCredential[], merchants?: MerchantCredential[]) {
    // By default the merchant sells through three apps, as with a mini-program, an official
    // account and a mobile app; the first is the default for codes and seeded orders.
    const appList = apps ?? [
      { appId: DEV_CREDENTIALS.appId, appSecret: DEV_CREDENTIALS.appSecret },
      { appId: DEV_CREDENTIALS.oaAppId, appSecret: DEV_CREDENTIALS.oaAppSecret },
      { appId: DEV_CREDENTIALS.mobileAppId, appSecret: DEV_CREDENTIALS.mobileAppSecret },
    ];
    if (appList.length === 0) throw new Error('at least one app is needed');
    for (const app of appList) {
      if (!app.appId || !app.appSecret) throw new Error('every app needs appId and appSecret');
      if (this.apps.has(app.appId)) throw new Error(`app ${app.appId} is listed twice`);
      this.apps.set(app.appId, { ...app });
    }
    const merchantList = merchants ?? [{
      mchId: DEV_CREDENTIALS.mchId,
      apiKey: DEV_CREDENTIALS.apiKey,
      appIds: appList.map(a => a.appId),
    }];
    for (const mch of merchantList) {
      if (!/^\d{1,32}$/.test(mch.mchId)) throw new Error(`mchId ${JSON.stringify(mch.mchId)} must be digits`);
      // WeChat Pay v2 keys are exactly 32 characters; a test with another length would pass here and fail there.
      if (typeof mch.apiKey !== 'string' || mch.apiKey.length !== 32) throw new Error(`apiKey of ${mch.mchId} must be 32 characters`);
      if (this.merchants.has(mch.mchId)) throw new Error(`merchant ${mch.mchId} is listed twice`);
      this.merchants.set(mch.mchId, { ...mch, appIds: [ ...mch.appIds ], h5Domains: [ ...(mch.h5Domains ?? DEFAULT_H5_DOMAINS) ] });
    }
    this.defaultAppId = appList[0].appId;
  }

  app(appId: string | undefined): AppCredential | undefined {
    return appId === undefined ? undefined : this.apps.get(appId);
  }

  mchIds(): string[] {
    return [ ...this.merchants.keys() ];
  }

  merchant(mchId: string | undefined): MerchantCredential | undefined {
    return mchId === undefined ? undefined : this.merchants.get(mchId);
  }
}
