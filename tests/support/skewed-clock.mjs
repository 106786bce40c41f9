// Preloaded (`node --import`) into a test server process whose clock is off, as an edge host's or a VM's may be:
// `Date` (so `Date.now()`, `new Date()`, and with them oidc-provider's and jose's notion of now) runs
// TOKENFETCH_CLOCK_SHIFT_MS ahead of the machine's clock (negative: behind), and every HTTP response's `Date` header
// says that time. (Node writes its own `Date` header from the real clock; a server with a wrong clock would not.)
import { ServerResponse } from 'node:http';

const shift = Number(process.env.TOKENFETCH_CLOCK_SHIFT_MS);
if (!Number.isFinite(shift)) throw new Error('skewed-clock.mjs: TOKENFETCH_CLOCK_SHIFT_MS must be a number of ms');

const RealDate = Date;
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + shift);
    else super(...args);
  }

  static now() {
    return RealDate.now() + shift;
  }
}
globalThis.Date = SkewedDate;

const { writeHead } = ServerResponse.prototype;
ServerResponse.prototype.writeHead = function writeHeadAtSkewedTime(...args) {
  if (!this.hasHeader('date')) this.setHeader('date', new SkewedDate().toUTCString());
  return writeHead.apply(this, args);
};
