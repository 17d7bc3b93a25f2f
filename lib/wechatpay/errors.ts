/**
 * Typed errors of the WeChat protocol layer. They carry what WeChat said (codes, messages) and
 * never a secret, so callers may log them as they are.
 */
export class WechatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The body is not the flat XML WeChat speaks: malformed, too large, nested, or with a DTD. */
export class WechatXmlError extends WechatError {}

/** A signature that does not verify, or a reply that should be signed and is not. */
export class WechatSignatureError extends WechatError {}

/**
 * The request could not be completed: timeout, refused or dropped connection, non-200 status, or
 * (reason not_sent, WechatRequestNotSentError) it never left this process.
 */
export class WechatTransportError extends WechatError {
  constructor(message: string, readonly reason: 'timeout' | 'network' | 'http_status' | 'not_sent') {
    super(message);
  }
}

/**
 * The request failed before any byte of it was sent: it could not be built or signed, the client
 * certificate it needs is missing, or its URL or a header is unusable. WeChat cannot have acted on
 * it, so a caller may take the operation as not done; callers that do not ask see a transport error.
 */
export class WechatRequestNotSentError extends WechatTransportError {
  constructor(message: string) {
    super(message, 'not_sent');
  }
}

/** WeChat answered return_code=FAIL (request form) or result_code=FAIL (business result). */
export class WechatApiError extends WechatError {
  constructor(
    readonly kind: 'return' | 'result',
    readonly errCode: string,
    readonly errCodeDes: string,
    readonly reply: Record<string, string> = {},
  ) {
    super(`WeChat ${kind}_code=FAIL ${errCode}: ${errCodeDes}`);
  }
}

/**
 * A downloaded bill past a size cap: its bytes on the wire (`compressed`) or its text once
 * decompressed (`decompressed`). Reading stopped there, so a larger cap is the remedy, not a retry.
 */
export class WechatBillTooLargeError extends WechatError {
  constructor(readonly measure: 'compressed' | 'decompressed', readonly limitBytes: number) {
    super(`the bill exceeds ${limitBytes} bytes ${measure === 'compressed' ? 'on the wire' : 'decompressed'}`);
  }
}

/** code2Session answered an errcode. */
export class WechatLoginError extends WechatError {
  constructor(readonly errcode: number, readonly errmsg: string) {
    super(`code2Session errcode ${errcode}: ${errmsg}`);
  }
}
