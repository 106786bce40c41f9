/**
 * The error every tokenfetch failure is. `code` is stable: invalid_config, invalid_argument,
 * invalid_key, oauth_error, invalid_token_response, token_type_mismatch, redirect, http_error,
 * timeout, network_error, url_not_allowed. `status`, `error` and `errorDescription` are set when a server answered.
 * Messages never contain secrets, private keys, assertions or tokens.
 */
export class TokenError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'TokenError';
    if (code !== undefined) this.code = code;
  }
}
