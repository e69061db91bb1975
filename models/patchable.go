package models

import "slices"

// Patchable is the projection of a client that JSON Patch and JSON merge
// patch apply to: exactly the members of SPEC §4.1's allowlist, with their
// wire names. Nothing else of a client can be read or written through it.
type Patchable struct {
	Tenant                      *string     `json:"tenant"`
	BusinessName                *string     `json:"businessName"`
	HomepageURL                 *string     `json:"homepageUrl"`
	Name                        string      `json:"name"`
	Description                 *string     `json:"description"`
	AccessTokenValiditySeconds  int         `json:"accessTokenValiditySeconds"`
	RefreshTokenValiditySeconds int         `json:"refreshTokenValiditySeconds"`
	RedirectURIs                []string    `json:"redirectUris"`
	GrantTypes                  []GrantType `json:"grantTypes"`
	AccessType                  AccessType  `json:"accessType"`
	Enabled                     bool        `json:"enabled"`
	StrongAuthSupported         bool        `json:"strongAuthSupported"`
	ClaimsSupported             bool        `json:"claimsSupported"`
}

// PatchableMembers is SPEC §4.1's allowlist, in wire names.
var PatchableMembers = []string{
	"tenant", "businessName", "homepageUrl", "name", "description",
	"accessTokenValiditySeconds", "refreshTokenValiditySeconds", "redirectUris",
	"grantTypes", "accessType", "enabled", "strongAuthSupported", "claimsSupported",
}

// NullableMembers are the patchable members that may be removed or set to
// null; both store null.
var NullableMembers = []string{"description", "businessName", "homepageUrl", "tenant"}

// ArrayMembers are the patchable members whose elements a path may address.
var ArrayMembers = []string{"redirectUris", "grantTypes"}

// IsPatchable reports whether member is in the allowlist (exact, case-sensitive).
func IsPatchable(member string) bool { return slices.Contains(PatchableMembers, member) }

// IsNullable reports whether member may be removed or nulled.
func IsNullable(member string) bool { return slices.Contains(NullableMembers, member) }

// IsArrayMember reports whether member's elements may be addressed by index.
func IsArrayMember(member string) bool { return slices.Contains(ArrayMembers, member) }

// Patchable returns a deep copy of c's patchable members.
func (c *OAuthClient) Patchable() Patchable {
	d := c.Clone()
	return Patchable{
		Tenant:                      d.Tenant,
		BusinessName:                d.BusinessName,
		HomepageURL:                 d.HomepageURL,
		Name:                        d.Name,
		Description:                 d.Description,
		AccessTokenValiditySeconds:  d.AccessTokenValiditySeconds,
		RefreshTokenValiditySeconds: d.RefreshTokenValiditySeconds,
		RedirectURIs:                d.RedirectURIs,
		GrantTypes:                  d.GrantTypes,
		AccessType:                  d.AccessType,
		Enabled:                     d.Enabled,
		StrongAuthSupported:         d.StrongAuthSupported,
		ClaimsSupported:             d.ClaimsSupported,
	}
}

// WithPatchable returns a copy of c whose patchable members are p's. Nil
// slices become empty ones.
func (c *OAuthClient) WithPatchable(p Patchable) OAuthClient {
	d := c.Clone()
	d.Tenant = clonePtr(p.Tenant)
	d.BusinessName = clonePtr(p.BusinessName)
	d.HomepageURL = clonePtr(p.HomepageURL)
	d.Name = p.Name
	d.Description = clonePtr(p.Description)
	d.AccessTokenValiditySeconds = p.AccessTokenValiditySeconds
	d.RefreshTokenValiditySeconds = p.RefreshTokenValiditySeconds
	d.RedirectURIs = slices.Clone(p.RedirectURIs)
	if d.RedirectURIs == nil {
		d.RedirectURIs = []string{}
	}
	d.GrantTypes = slices.Clone(p.GrantTypes)
	if d.GrantTypes == nil {
		d.GrantTypes = []GrantType{}
	}
	d.AccessType = p.AccessType
	d.Enabled = p.Enabled
	d.StrongAuthSupported = p.StrongAuthSupported
	d.ClaimsSupported = p.ClaimsSupported
	return d
}
