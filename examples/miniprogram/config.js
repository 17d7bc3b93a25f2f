'use strict';
// Where the payment service is. In WeChat DevTools, plain http://127.0.0.1 needs "Does not verify
// valid domain names, web-view (business domain names), TLS versions and HTTPS certificates"
// ticked (project.config.json sets urlCheck: false). On a phone: an https domain on the request
// whitelist of your mini-program.
module.exports = {
  baseUrl: 'http://127.0.0.1:7001',
  // Local development only. The service started by `npm run dev` talks to the WeChat simulator,
  // which cannot know real wx.login() codes, so the app takes its login codes from the simulator
  // instead. Set to '' when the service talks to the real WeChat.
  simulatorUrl: 'http://127.0.0.1:9999',
};
