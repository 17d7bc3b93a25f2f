import type { TradeType } from '../../lib/wechatpay/tradeType';
import type { AppRole } from '../../config/config.default';

/**
 * How a payer reached us, fixed when their session is made: each channel orders through one of
 * the merchant's apps and may use only its trade types (docs/decisions/0016-channels-and-sessions.md).
 * A web-shop guest (PC page or mobile browser outside WeChat) has no openid; the app's user logged
 * in through the Open Platform; mini-program and official-account users pay with JSAPI.
 */
export type SessionChannel = 'miniProgram' | 'officialAccount' | 'app' | 'web';
export const SESSION_CHANNELS: readonly SessionChannel[] = [ 'miniProgram', 'officialAccount', 'app', 'web' ];

export interface ChannelRule {
  /** Whose appid the channel's orders name at WeChat. */
  appRole: AppRole;
  /** The trade types it may order with; the first is the default. */
  tradeTypes: readonly TradeType[];
}

export const CHANNEL_RULES: Readonly<Record<SessionChannel, ChannelRule>> = {
  miniProgram: { appRole: 'miniProgram', tradeTypes: [ 'JSAPI' ] },
  officialAccount: { appRole: 'officialAccount', tradeTypes: [ 'JSAPI' ] },
  app: { appRole: 'app', tradeTypes: [ 'APP' ] },
  // NATIVE and MWEB orders name the official account's appid: WeChat wants an appid bound to the
  // merchant, and the payer scans or opens the cashier in their own WeChat, not in one of our apps.
  web: { appRole: 'officialAccount', tradeTypes: [ 'NATIVE', 'MWEB' ] },
};

export function isSessionChannel(value: unknown): value is SessionChannel {
  return typeof value === 'string' && (SESSION_CHANNELS as readonly string[]).includes(value);
}

/** The trade type an order of this channel uses: the one asked for if the channel allows it, else undefined. */
export function chooseTradeType(channel: SessionChannel, requested?: TradeType): TradeType | undefined {
  const allowed = CHANNEL_RULES[channel].tradeTypes;
  if (requested === undefined) return allowed[0];
  return allowed.includes(requested) ? requested : undefined;
}

/**
 * Whether WeChat takes the payment only from the openid the order named: true for JSAPI alone.
 * For the other trade types whoever scans the code or opens the cashier pays, so a payment's
 * openid says nothing about the order's owner and is not compared with it.
 */
export function payerIsOrderOwner(tradeType: string): boolean {
  return tradeType === 'JSAPI';
}
