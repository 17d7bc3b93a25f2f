import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { WechatBillError } from './bill';
import { WechatBillTooLargeError } from './errors';

export interface BillReplyLimits {
  /** Bytes of the bill's text, once decompressed. */
  maxBytes: number;
  /** Bytes on the wire, compressed or not. */
  maxCompressedBytes: number;
}

/**
 * Reads a downloadbill reply body as it arrives: GZIP (recognised by its magic bytes, since WeChat
 * answers errors as plain XML even when GZIP was asked) is decompressed as a stream; both caps stop
 * the reading as soon as they are passed, so memory stays bounded whatever the reply holds.
 */
export async function readBillReply(body: Readable, limits: BillReplyLimits): Promise<string> {
  const { head, ended } = await peek(body, 2);
  // A body of fewer than two bytes is no GZIP and far below any cap.
  if (ended) return head.toString('utf8');
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  const text = new TextCollector(limits.maxBytes);
  const wire = byteLimit(limits.maxCompressedBytes);
  try {
    await pipeline(gzipped ? [ body, wire, createGunzip(), text ] : [ body, wire, text ]);
  } catch (err) {
    // zlib's errors carry Z_ codes (Z_DATA_ERROR, Z_BUF_ERROR for a truncated stream).
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new WechatBillError(`the GZIP reply does not decompress: ${(err as Error).message}`, 0);
    }
    throw err;
  }
  return text.text();
}

/**
 * The first `size` bytes, put back for whoever reads next; or, when the body ends before that,
 * all of it with `ended` set (nothing can be put back after the end).
 */
function peek(stream: Readable, size: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (ended: boolean) => {
      cleanup();
      const head = Buffer.concat(chunks);
      if (!ended) stream.unshift(head);
      resolve({ head, ended });
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (length < size && (chunk = stream.read()) !== null) {
        chunks.push(chunk);
        length += chunk.length;
      }
      if (length >= size) done(false);
    };
    const onEnd = () => done(true);
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

function byteLimit(maxBytes: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > maxBytes) callback(new WechatBillTooLargeError('compressed', maxBytes));
      else callback(null, chunk);
    },
  });
}

/** UTF-8 text up to maxBytes; fails, keeping nothing more, past it. */
class TextCollector extends Writable {
  private readonly decoder = new StringDecoder('utf8');
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.parts = [];
      callback(new WechatBillTooLargeError('decompressed', this.maxBytes));
      return;
    }
    this.parts.push(this.decoder.write(chunk));
    callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.parts.push(this.decoder.end());
    callback();
  }

  text(): string {
    return this.parts.join('');
  }
}
