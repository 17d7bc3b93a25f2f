import { randomBytes } from 'node:crypto';
import { js2xml, xml2js } from 'xml-js';
import { WechatXmlError } from './errors';

export const DEFAULT_MAX_XML_BYTES = 16 * 1024;

export interface ParseXmlOptions {
  maxBytes?: number;
  /** Name of the single root element: `xml` for WeChat Pay, `root` for decrypted refund info. */
  root?: string;
}

/** One flat `<xml>` with every value in CDATA, as WeChat expects. */
export function buildXml(params: Record<string, string | number | undefined | null>, root = 'xml'): string {
  const children: Record<string, { _cdata: string }> = {};
  for (const [ name, value ] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new WechatXmlError(`invalid XML element name ${JSON.stringify(name)}`);
    // "]]>" cannot appear inside one CDATA section; WeChat's values never carry it, so refuse it.
    const text = String(value);
    if (text.includes(']]>')) throw new WechatXmlError(`value of ${name} contains "]]>"`);
    children[name] = { _cdata: text };
  }
  return js2xml({ [root]: children }, { compact: true });
}

/**
 * Parses WeChat's flat XML into a string map. Refuses (typed error, never a crash): bodies over
 * the size limit, any DOCTYPE or ENTITY declaration (XXE, billion laughs), malformed XML, a root
 * other than the expected one, nested elements, attributes and repeated fields.
 */
export function parseXml(body: string | Buffer, options: ParseXmlOptions = {}): Record<string, string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const root = options.root ?? 'xml';
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  if (size > maxBytes) throw new WechatXmlError(`XML body of ${size} bytes exceeds the limit of ${maxBytes}`);
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new WechatXmlError('XML body is not valid UTF-8');
    }
  }
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST|<!NOTATION/i.test(text)) {
    throw new WechatXmlError('XML with a document type or entity declaration is refused');
  }
  if (text.trim().length === 0) throw new WechatXmlError('empty XML body');

  if (!text.trimEnd().endsWith(`</${root}>`)) throw new WechatXmlError(`malformed XML: does not end with </${root}>`);

  let doc: any;
  // sax (under xml-js) forgets an error met at the very end of the input (an unclosed element,
  // comment, CDATA or processing instruction). A sentinel instruction appended to the body only
  // shows up, last, in the tree when the document before it was complete; its name is random so a
  // body cannot carry it.
  const sentinel = `wxend-${randomBytes(8).toString('hex')}`;
  try {
    doc = xml2js(`${text}<?${sentinel}?>`, { compact: false, captureSpacesBetweenElements: false });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new WechatXmlError(`malformed XML: ${message.split('\n')[0]}`);
  }
  const nodes: any[] = Array.isArray(doc?.elements) ? doc.elements : [];
  const last = nodes[nodes.length - 1];
  if (!last || last.type !== 'instruction' || last.name !== sentinel || hasUnclosedElement(doc)) {
    throw new WechatXmlError('malformed XML: unclosed element, comment or section');
  }
  nodes.pop();
  const top = nodes.filter((e: any) => e.type === 'element');
  if (top.length !== 1 || top[0].name !== root) throw new WechatXmlError(`expected one <${root}> root element`);
  if (top[0].attributes && Object.keys(top[0].attributes).length > 0) {
    throw new WechatXmlError(`unexpected attributes on <${root}>`);
  }
  const result: Record<string, string> = Object.create(null);
  for (const child of top[0].elements ?? []) {
    if (child.type === 'comment') continue;
    if (child.type === 'text' || child.type === 'cdata') {
      if (String(child.text ?? child.cdata).trim() === '') continue;
      throw new WechatXmlError(`unexpected text directly inside <${root}>`);
    }
    if (child.type !== 'element') throw new WechatXmlError(`unexpected ${child.type} inside <${root}>`);
    if (child.attributes && Object.keys(child.attributes).length > 0) {
      throw new WechatXmlError(`unexpected attributes on <${child.name}>`);
    }
    if (Object.prototype.hasOwnProperty.call(result, child.name)) {
      throw new WechatXmlError(`field <${child.name}> appears more than once`);
    }
    let value = '';
    for (const part of child.elements ?? []) {
      if (part.type === 'cdata') value += part.cdata;
      else if (part.type === 'text') value += String(part.text);
      else if (part.type === 'comment') continue;
      else throw new WechatXmlError(`field <${child.name}> is not flat`);
    }
    result[child.name] = value;
  }
  return { ...result };
}

/** xml-js leaves a `parent` link on an element it never saw closed. Iterative: nesting depth is attacker-chosen. */
function hasUnclosedElement(doc: any): boolean {
  const stack: any[] = [ doc ];
  while (stack.length > 0) {
    const node = stack.pop();
    for (const child of node.elements ?? []) {
      if (Object.prototype.hasOwnProperty.call(child, 'parent')) return true;
      stack.push(child);
    }
  }
  return false;
}
