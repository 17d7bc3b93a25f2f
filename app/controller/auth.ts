import { Controller } from 'egg';
import { requireObject, requireString } from '../common/validate';

export default class AuthController extends Controller {
  /** POST /api/login { code } -> { token, expiresIn, user } */
  async login() {
    const body = requireObject(this.ctx.request.body);
    const code = requireString(body.code, 'code', { max: 128, pattern: /^[\x21-\x7e]+$/ });
    this.ctx.body = await this.service.auth.login(code);
  }
}
