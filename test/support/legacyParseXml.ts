/**
 * The XML reader lib/wechatpay/xml.ts had before it read sax's events directly: xml-js's whole
 * tree, a random sentinel instruction appended, then the tree flattened with checks. Kept only for
 * the differential test in test/lib/wechatpay/xml.test.ts (the new reader must accept exactly what
 * this one accepted, with the same fields). Copied unchanged but for the exports and the imports.
 */
import { randomBytes } from 'node:crypto';
import { xml2js } from 'xml-js';
import { DEFAULT_MAX_XML_BYTES, isXmlChar, ParseXmlOptions, WechatXmlError } from '../../lib/wechatpay';

/**
 * Any character outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] |
 * [#xE000-#xFFFD] | [#x10000-#x10FFFF]); with the u flag a lone surrogate matches too.
 */
const FORBIDDEN_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function codePointName(codePoint: number): string {
  if (!(codePoint <= 0x10FFFF)) return 'a code point beyond U+10FFFF';
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The first raw character, or character reference, that XML 1.0 forbids; undefined when there is none. */
function forbiddenCharacter(text: string): string | undefined {
  const raw = FORBIDDEN_CHAR.exec(text);
  if (raw) return `${codePointName(raw[0].codePointAt(0)!)} at character ${raw.index}`;
  const reference = forbiddenReference(text);
  if (reference) return `the character reference ${reference.text} (${codePointName(reference.codePoint)})`;
  return undefined;
}

/** Sections in which "&#" is plain text, and how each ends. */
const SECTION_ENDS: Record<string, string> = { '<![CDATA[': ']]>', '<!--': '-->', '<?': '?>' };

/**
 * The first numeric character reference naming a character XML 1.0 forbids, outside CDATA
 * sections, comments and processing instructions (where "&#1;" is just text). One pass: an
 * unclosed section ends the scan, since the parser refuses the document anyway.
 */
function forbiddenReference(text: string): { text: string; codePoint: number } | undefined {
  const starts = /&#|<!\[CDATA\[|<!--|<\?/g;
  const charReference = /&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));/y;
  for (let found = starts.exec(text); found; found = starts.exec(text)) {
    if (found[0] === '&#') {
      charReference.lastIndex = found.index;
      const reference = charReference.exec(text);
      if (!reference) continue; // not a reference: the parser refuses the bare "&"
      const codePoint = reference[1] !== undefined ? parseInt(reference[1], 16) : parseInt(reference[2], 10);
      if (!isXmlChar(codePoint)) {
        const shown = reference[0].length > 24 ? `${reference[0].slice(0, 20)}...;` : reference[0];
        return { text: shown, codePoint };
      }
      starts.lastIndex = found.index + reference[0].length;
      continue;
    }
    const end = text.indexOf(SECTION_ENDS[found[0]], found.index + found[0].length);
    if (end < 0) return undefined;
    starts.lastIndex = end + SECTION_ENDS[found[0]].length;
  }
  return undefined;
}

/**
 * Parses WeChat's flat XML into a string map. Refuses (typed error, never a crash): bodies over
 * the size limit, any DOCTYPE or ENTITY declaration (XXE, billion laughs), characters XML 1.0
 * forbids (raw or as character references), malformed XML, a root other than the expected one,
 * nested elements, attributes and repeated fields.
 */
export function legacyParseXml(body: string | Buffer, options: ParseXmlOptions = {}): Record<string, string> {
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
  const forbidden = forbiddenCharacter(text);
  if (forbidden) throw new WechatXmlError(`XML contains ${forbidden}, which XML 1.0 does not allow`);

  if (!text.trimEnd().endsWith(`</${root}>`)) throw new WechatXmlError(`malformed XML: does not end with </${root}>`);

  let doc: any;
  // sax (under xml-js) forgets an error met at the very end of the input (an unclosed element,
  // comment, CDATA or processing instruction). A sentinel instruction appended to the body only
  // shows up, last, in the tree when the document before it was complete; its name is random so a
  // body cannot carry it.
  const sentinel = `wxend-${randomBytes(8).toString('hex')}`;
  try {
    // Whitespace-only text is kept: a field holding only spaces (or a CR written as &#xD;) is not
    // empty, and signatures count it; whitespace between fields is skipped below.
    doc = xml2js(`${text}<?${sentinel}?>`, { compact: false, captureSpacesBetweenElements: true });
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
