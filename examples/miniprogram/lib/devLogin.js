'use strict';
/**
 * Local development only: login codes from the WeChat simulator (POST /simulator/login-code)
 * instead of wx.login(), whose codes only the real WeChat knows. The simulated openid is kept in
 * storage, so every login is the same user.
 */
const OPENID_STORAGE_KEY = 'wxpay.devOpenid';

/** The simulated user's openid: made up once, then read back from storage. */
function devOpenid(wx) {
  let openid = wx.getStorageSync(OPENID_STORAGE_KEY);
  if (!openid) {
    openid = `odev${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    wx.setStorageSync(OPENID_STORAGE_KEY, openid);
  }
  return openid;
}

function simulatorLoginCode(wx, simulatorUrl) {
  const openid = devOpenid(wx);
  return new Promise((resolve, reject) => {
    wx.request({
      url: `${simulatorUrl.replace(/\/+$/, '')}/simulator/login-code`,
      method: 'POST',
      data: { openid },
      header: { 'content-type': 'application/json' },
      success: res => (res.statusCode === 200 && res.data && res.data.code
        ? resolve(res.data.code)
        : reject(new Error(`the simulator gave no login code (HTTP ${res.statusCode})`))),
      fail: err => reject(new Error(`the simulator is unreachable: ${err.errMsg}`)),
    });
  });
}

module.exports = { simulatorLoginCode, devOpenid };
