import * as http from 'node:http';

/** POSTs an XML body over real HTTP (through `agent`, to bound the connections) and resolves with the reply text. */
export function postXml(url: string, xml: string, agent: http.Agent): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const target = new URL(url);
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
      headers: { 'content-type': 'text/xml' } }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', chunk => { text += chunk; });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(xml);
  });
}
