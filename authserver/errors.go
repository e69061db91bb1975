package authserver

import (
	"fmt"
	"time"
)

// Code is an error code of RFC 6749 §5.2, RFC 8707 §2 or RFC 7591 §3.2.2.
type Code string

// The error codes the authorization server answers with.
const (
	// InvalidRequest: a parameter is missing, repeated or malformed.
	InvalidRequest Code = "invalid_request"
	// InvalidClient: client authentication failed (unknown client, wrong
	// credentials, disabled client, unsupported method). The only code
	// answered with 401.
	InvalidClient Code = "invalid_client"
	// InvalidGrant: the grant itself is invalid or expired.
	InvalidGrant Code = "invalid_grant"
	// UnauthorizedClient: the client may not use this grant type.
	UnauthorizedClient Code = "unauthorized_client"
	// UnsupportedGrantType: the grant type is not one this server knows.
	UnsupportedGrantType Code = "unsupported_grant_type"
	// InvalidScope: the requested scope is malformed or not the client's.
	InvalidScope Code = "invalid_scope"
	// InvalidTarget: a requested resource or audience is malformed or not
	// one of the client's (RFC 8707 §2).
	InvalidTarget Code = "invalid_target"
	// InvalidClientMetadata: a registration's metadata is malformed or not
	// allowed (RFC 7591 §3.2.2); the description names the field.
	InvalidClientMetadata Code = "invalid_client_metadata"
	// InvalidRedirectURI: a redirect URI of a registration is not
	// acceptable (RFC 7591 §3.2.2); the description names it.
	InvalidRedirectURI Code = "invalid_redirect_uri"
)

// Error is a refusal of the authorization server: an RFC 6749 §5.2 error
// code and a description safe to show the client (it never holds a secret
// or key material).
type Error struct {
	Code        Code
	Description string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Description }

// NewError returns the refusal code with description.
func NewError(code Code, description string) *Error {
	return &Error{Code: code, Description: description}
}

// invalidClient is every failed client authentication: the description
// does not tell an unknown client from a wrong secret.
func invalidClient() *Error {
	return NewError(InvalidClient, "client authentication failed")
}

// TooManyFailuresError refuses a client authentication because too many
// failed from the same origin lately; RetryAfter is how long until one
// more attempt is admitted.
type TooManyFailuresError struct {
	RetryAfter time.Duration
}

func (e *TooManyFailuresError) Error() string {
	return fmt.Sprintf("too many failed client authentications; retry after %v", e.RetryAfter)
}
