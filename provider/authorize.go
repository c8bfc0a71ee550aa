package provider

import (
	"context"
	"net/http"

	"github.com/ory/fosite"
)

// WriteAuthorizeResponse finishes an authorization request the person has
// approved: fosite's NewAuthorizeResponse (code, OpenID Connect and PKCE
// state, stored in one transaction), the RFC 9207 iss parameter, and the
// redirect. On error it writes an error redirect (WriteAuthorizeError), or
// a plain 400 when no redirect is possible.
func (p *Provider) WriteAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, s *Session) {
	resp, err := p.newAuthorizeResponse(ctx, ar, s)
	p.WriteAuthorizeResult(ctx, w, ar, resp, err)
}

// NewAuthorizeResponse is the storage half of WriteAuthorizeResponse: it
// makes and stores the response (code, OpenID Connect and PKCE state) and
// writes nothing to the client. With a ctx that carries the caller's
// transaction it joins it, so that the caller can write more in the same
// transaction, commit, and only then send the response with
// WriteAuthorizeResult.
func (p *Provider) NewAuthorizeResponse(ctx context.Context, ar fosite.AuthorizeRequester, s *Session) (fosite.AuthorizeResponder, error) {
	return p.newAuthorizeResponse(ctx, ar, s)
}

// WriteAuthorizeResult sends the outcome of NewAuthorizeResponse: the
// redirect with the RFC 9207 iss parameter, or, when err is not nil, an
// error redirect (WriteAuthorizeError) or a plain 400 when no redirect is
// possible.
func (p *Provider) WriteAuthorizeResult(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder, err error) {
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= http.StatusInternalServerError {
			p.log.ErrorContext(ctx, "authorize response failed", "error", rfc.Error(), "debug", rfc.Debug(), "cause", rfc.Cause())
		}
		if !p.WriteAuthorizeError(ctx, w, ar, err) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "invalid authorization request", http.StatusBadRequest)
		}
		return
	}
	resp.AddParameter("iss", p.cfg.Issuer)
	p.oauth2.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// newAuthorizeResponse runs fosite's authorize handlers in one transaction,
// so the code is never stored without its OpenID Connect and PKCE state.
func (p *Provider) newAuthorizeResponse(ctx context.Context, ar fosite.AuthorizeRequester, s *Session) (resp fosite.AuthorizeResponder, err error) {
	txCtx, err := p.adapter.BeginTX(ctx)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	defer func() {
		if err != nil {
			_ = p.adapter.Rollback(txCtx)
		}
	}()
	resp, err = p.oauth2.NewAuthorizeResponse(txCtx, ar, s)
	if err != nil {
		return nil, err
	}
	if err = p.adapter.Commit(txCtx); err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return resp, nil
}

// WriteAuthorizeError sends an authorization error back to the client with
// error, error_description, state and (RFC 9207) iss, honouring
// response_mode (query or form_post). It reports false, writing nothing,
// when the redirect URI cannot be trusted (unknown client, unregistered
// redirect_uri): the caller then shows the person an error page instead.
func (p *Provider) WriteAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) (redirected bool) {
	if ar == nil || !ar.IsRedirectURIValid() {
		return false
	}
	rfc := fosite.ErrorToRFC6749Error(err).WithLegacyFormat(false).WithExposeDebug(false)
	params := rfc.ToValues()
	if st := ar.GetState(); st != "" {
		params.Set("state", st)
	}
	params.Set("iss", p.cfg.Issuer)

	redirectURI := *ar.GetRedirectURI()
	redirectURI.Fragment = ""
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		tmpl := p.fcfg.GetFormPostHTMLTemplate(ctx)
		if tmpl == nil {
			tmpl = fosite.DefaultFormPostTemplate
		}
		fosite.WriteAuthorizeFormPostResponse(redirectURI.String(), params, tmpl, w)
		return true
	}
	q := redirectURI.Query()
	for k, v := range params {
		q[k] = v
	}
	redirectURI.RawQuery = q.Encode()
	w.Header().Set("Location", redirectURI.String())
	w.WriteHeader(http.StatusSeeOther)
	return true
}
