// Add the user's roles and plan to the tokens, under a namespace.
exports.onExecutePostLogin = async (event, api) => {
  const namespace = 'https://example.com';
  const plan = event.user.app_metadata.plan || 'free';
  api.idToken.setCustomClaim(`${namespace}/plan`, plan);
  api.accessToken.setCustomClaim(`${namespace}/plan`, plan);
  api.idToken.setCustomClaim(`${namespace}/roles`, event.user.app_metadata.roles || []);
};
