/**
 * Handler that will be called during the execution of a PostLogin flow.
 *
 * Reduce friction with passkeys: a passkey login is phishing-resistant and
 * (with user verification) already two factors, so skip the MFA challenge
 * for it; challenge every other login.
 *
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  const usedPasskey = event.authentication?.methods?.some(
    (method) => method.name === 'passkey'
  );

  if (usedPasskey) {
    api.multifactor.enable('none');
  } else {
    api.multifactor.enable('any', { allowRememberBrowser: false });
  }
};
