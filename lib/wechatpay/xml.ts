import { parser as saxParser } from 'sax';
import { WechatXmlError } from './errors';

export const DEFAULT_MAX_XML_BYTES = 16 * 1024;

export interface ParseXmlOptions {
  maxBytes?: number;
  /** Name of the single root element: `xml` for WeChat Pay, `root` for decrypted refund info. */
  root?: string;
}

/** Element names we write: plain identifiers, so no name can carry markup. */
const ELEMENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Any character outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] |
 * [#xE000-#xFFFD] | [#x10000-#x10FFFF]); with the u flag a lone surrogate matches too.
 */
const FORBIDDEN_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const FORBIDDEN_CHARS = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Whether a code point is a Char of XML 1.0, the only ones a document may hold, raw or as a reference. */
export function isXmlChar(codePoint: number): boolean {
  return codePoint === 0x9 || codePoint === 0xA || codePoint === 0xD ||
    (codePoint >= 0x20 && codePoint <= 0xD7FF) || (codePoint >= 0xE000 && codePoint <= 0xFFFD) ||
    (codePoint >= 0x10000 && codePoint <= 0x10FFFF);
}

/** The text with every character XML 1.0 cannot carry replaced by U+FFFD, for messages that must always be sent. */
export function toXmlText(text: string): string {
  return text.replace(FORBIDDEN_CHARS, '\uFFFD');
}

/**
 * One flat `<xml>` with every value in CDATA, as WeChat expects. Any string of XML 1.0 text is
 * written so that a conforming parser reads it back exactly; a value holding a character XML 1.0
 * forbids (a control character, a lone surrogate, U+FFFE) cannot be sent and is refused.
 */
export function buildXml(params: Record<string, string | number | undefined | null>, root = 'xml'): string {
  if (!ELEMENT_NAME.test(root)) throw new WechatXmlError(`invalid XML element name ${JSON.stringify(root)}`);
  let xml = `<${root}>`;
  for (const [ name, value ] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (!ELEMENT_NAME.test(name)) throw new WechatXmlError(`invalid XML element name ${JSON.stringify(name)}`);
    xml += `<${name}>${cdata(name, String(value))}</${name}>`;
  }
  return `${xml}</${root}>`;
}

function cdata(name: string, text: string): string {
  const forbidden = FORBIDDEN_CHAR.exec(text);
  if (forbidden) {
    throw new WechatXmlError(`value of ${name} contains ${codePointName(forbidden[0].codePointAt(0)!)}, which XML 1.0 does not allow`);
  }
  // A raw CR would be read back as LF (XML's end-of-line handling applies inside CDATA too), so it
  // goes out as a reference between sections; "]]>" would end a section early, so it is split
  // across two. Most values hold neither: one section.
  if (!text.includes('\r') && !text.includes(']]>')) return `<![CDATA[${text}]]>`;
  const body = text.split('\r')
    .map(part => (part === '' ? '' : `<![CDATA[${part.split(']]>').join(']]]]><![CDATA[>')}]]>`))
    .join('&#xD;');
  return body === '' ? '<![CDATA[]]>' : body;
}

function codePointName(codePoint: number): string {
  if (!(codePoint <= 0x10FFFF)) return 'a code point beyond U+10FFFF';
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The first raw character, or character reference, that XML 1.0 forbids; undefined when there is none. */
function forbiddenCharacter(text: string): string | undefined {
  const raw = FORBIDDEN_CHAR.exec(text);
  if (raw) return `${codePointName(raw[0].codePointAt(0)!)} at character ${raw.index}`;
  // Most bodies hold no character reference at all: one native search instead of the section walk.
  const reference = text.includes('&#') ? forbiddenReference(text) : undefined;
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

/** One fatal decoder for every call: a non-streaming decode keeps no state from one body to the next. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const hasOwn = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);

/**
 * Reads a flat document from a strict sax parser's events, without building a tree. Each event is
 * judged where it stands (outside the root, in the root, in a field), so a document is refused at
 * its first fault. Errors that sax raises (mid-document, or at `close()` for a document left open)
 * are thrown from `onerror`: sax calls it for an error met at the very end of the input too, which
 * xml-js ignored (hence its former random-sentinel workaround).
 */
class FlatXmlReader {
  // Non-strict entities as xml-js had them (it set strictEntities after sax had built its table):
  // HTML's named entities stay readable. No position tracking: messages keep only the first line.
  private readonly sax = saxParser(true, { position: false });
  private root = 'xml';
  /** 0 outside the root, 1 in the root, 2 in a field. */
  private depth = 0;
  private sawRoot = false;
  private field = '';
  private value = '';
  private fields: Record<string, string> = {};

  constructor() {
    const sax = this.sax;
    sax.onerror = err => {
      throw new WechatXmlError(`malformed XML: ${err.message.split('\n')[0]}`);
    };
    sax.onopentag = tag => this.open(tag.name, tag.attributes);
    sax.onclosetag = () => this.close();
    sax.ontext = text => this.text(text);
    sax.oncdata = text => this.text(text);
    sax.onprocessinginstruction = instruction => this.instruction(instruction.name);
    // A DOCTYPE never gets here (refused before parsing); refused again should that ever change.
    sax.ondoctype = () => {
      throw new WechatXmlError('XML with a document type or entity declaration is refused');
    };
    // Comments and other "<!...>" declarations are skipped wherever they are, as before.
  }

  read(text: string, root: string): Record<string, string> {
    this.root = root;
    this.depth = 0;
    this.sawRoot = false;
    this.fields = {};
    this.sax.write(text).close();
    if (!this.sawRoot) throw new WechatXmlError(`expected one <${root}> root element`);
    const fields = this.fields;
    this.fields = {};
    return fields;
  }

  private open(name: string, attributes: Record<string, unknown>): void {
    if (this.depth === 0) {
      if (this.sawRoot || name !== this.root) throw new WechatXmlError(`expected one <${this.root}> root element`);
      if (hasAttributes(attributes)) throw new WechatXmlError(`unexpected attributes on <${this.root}>`);
      this.sawRoot = true;
      this.depth = 1;
    } else if (this.depth === 1) {
      if (hasAttributes(attributes)) throw new WechatXmlError(`unexpected attributes on <${name}>`);
      if (hasOwn(this.fields, name)) throw new WechatXmlError(`field <${name}> appears more than once`);
      this.field = name;
      this.value = '';
      this.depth = 2;
    } else {
      throw new WechatXmlError(`field <${this.field}> is not flat`);
    }
  }

  /** sax (strict) has already refused a closing tag that does not match the open one. */
  private close(): void {
    if (this.depth === 2) {
      // A plain object; "__proto__" must become an own field, not the object's prototype.
      if (this.field === '__proto__') {
        Object.defineProperty(this.fields, this.field, { value: this.value, writable: true, enumerable: true, configurable: true });
      } else {
        this.fields[this.field] = this.value;
      }
    }
    this.depth--;
  }

  /** Text and CDATA alike: a field's value, whitespace between fields, ignored outside the root (sax refuses text there). */
  private text(text: string): void {
    if (this.depth === 2) {
      this.value += text;
    } else if (this.depth === 1 && text.trim() !== '') {
      throw new WechatXmlError(`unexpected text directly inside <${this.root}>`);
    }
  }

  /** An "<?xml ...?>" declaration is skipped wherever it is, as xml-js did; any other instruction only outside the root. */
  private instruction(name: string): void {
    if (this.depth === 0 || name.toLowerCase() === 'xml') return;
    if (this.depth === 1) throw new WechatXmlError(`unexpected instruction inside <${this.root}>`);
    throw new WechatXmlError(`field <${this.field}> is not flat`);
  }
}

function hasAttributes(attributes: Record<string, unknown>): boolean {
  for (const name in attributes) if (hasOwn(attributes, name)) return true;
  return false;
}

/** The idle reader; taken for one parse and put back only after a clean one (a throw leaves sax mid-document). */
let idleReader: FlatXmlReader | undefined;

/**
 * Parses WeChat's flat XML into a string map. Refuses (typed error, never a crash): bodies over
 * the size limit, any DOCTYPE or ENTITY declaration (XXE, billion laughs), characters XML 1.0
 * forbids (raw or as character references), malformed XML, a root other than the expected one,
 * nested elements, attributes and repeated fields.
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
      text = UTF8.decode(body);
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

  const reader = idleReader ?? new FlatXmlReader();
  idleReader = undefined;
  let fields: Record<string, string>;
  try {
    fields = reader.read(text, root);
  } catch (err) {
    if (err instanceof WechatXmlError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new WechatXmlError(`malformed XML: ${message.split('\n')[0]}`);
  }
  idleReader = reader;
  return fields;
}
