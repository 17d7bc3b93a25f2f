import { sign, SignType } from './sign';
import { nonceStr as makeNonce } from './ids';

export interface RequestPaymentParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: SignType;
  paySign: string;
}

/**
 * The fields `wx.requestPayment()` takes. appId (capital I) is signed but not returned, as the
 * mini-program supplies it itself.
 */
export function requestPaymentParams(input: {
  appId: string; prepayId: string; apiKey: string; signType: SignType; now?: Date; nonceStr?: string;
}): RequestPaymentParams {
  const timeStamp = String(Math.floor((input.now ?? new Date()).getTime() / 1000));
  const nonce = input.nonceStr ?? makeNonce();
  const pkg = `prepay_id=${input.prepayId}`;
  const paySign = sign({ appId: input.appId, timeStamp, nonceStr: nonce, package: pkg, signType: input.signType },
    input.apiKey, input.signType);
  return { timeStamp, nonceStr: nonce, package: pkg, signType: input.signType, paySign };
}
