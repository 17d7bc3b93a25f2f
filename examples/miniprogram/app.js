'use strict';
const { createApi } = require('./lib/api');
const { simulatorLoginCode } = require('./lib/devLogin');
const config = require('./config');

App({
  onLaunch() {
    // One client for every page: it keeps the session token (also in storage) and logs in again
    // by itself when the token expires.
    this.api = createApi({
      wx,
      baseUrl: config.baseUrl,
      getLoginCode: config.simulatorUrl ? () => simulatorLoginCode(wx, config.simulatorUrl) : undefined,
    });
  },
});
