import * as QRCode from 'qrcode';

/**
 * A WeChat code (an order's code_url, a product's static code) as a QR code image, rendered
 * unchanged from its URL (WeChat's rule): medium error correction, a quiet zone of 4 modules.
 */
export async function qrCodeImage(url: string, format: 'svg' | 'png'): Promise<string | Buffer> {
  const options = { errorCorrectionLevel: 'M' as const, margin: 4 };
  return format === 'svg'
    ? QRCode.toString(url, { ...options, type: 'svg' })
    : QRCode.toBuffer(url, { ...options, type: 'png', width: 256 });
}
