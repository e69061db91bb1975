package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// compareWithOracle applies body with Apply and with the oracle: the same
// client, or the same detailCode, and never a panic or a 5xx.
func compareWithOracle(t *testing.T, c models.OAuthClient, media string, body []byte) {
	t.Helper()
	got, err := Apply(&c, media, body)
	want, code := oracleApply(&c, media, body)
	if err != nil {
		if s := apierrors.StatusOf(err); s < 400 || s > 499 {
			t.Fatalf("%s: status %d: %v", body, s, err)
		}
	}
	switch {
	case err == nil && code == "":
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\non %s\nApply:  %+v\noracle: %+v", body, clientJSON(c), got, want)
		}
	case err != nil && code != "":
		if e, _ := apierrors.From(err); e.DetailCode != code {
			t.Fatalf("%s\non %s\nApply: %v\noracle: %s", body, clientJSON(c), err, code)
		}
	case err != nil:
		t.Fatalf("%s\non %s\nApply: %v\noracle applied it: %+v", body, clientJSON(c), err, want)
	default:
		t.Fatalf("%s\non %s\nApply applied it: %+v\noracle: %s", body, clientJSON(c), got, code)
	}
}

func clientJSON(c models.OAuthClient) string {
	return string(projection(&c, nil))
}

// TestDifferential compares Apply with the oracle on random operations over
// random valid clients. Seeded: a failure names its patch and repeats.
func TestDifferential(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	rng := rand.New(rand.NewPCG(20261122, 6902))
	for range n {
		c := randomClient(rng)
		media, body := randomPatch(rng, c)
		compareWithOracle(t, c, media, body)
	}
}

var (
	uris       = []string{"https://a.example/cb", "https://b.example/cb", "https://c.example/x?y=1", "http://localhost:8080/cb", "http://evil.example/cb", "not a uri"}
	grants     = []string{"CLIENT_CREDENTIALS", "AUTHORIZATION_CODE", "REFRESH_TOKEN", "PASSWORD"}
	texts      = []string{"", "x", "Acme", "é<&>", "line\nbreak", "\u2028", "null", "3600"}
	numberPool = []string{"0", "-0", "60", "3600", "7200", "86400", "31536000", "3600.5", "59", "1e400", "-1", "100000000000000000000"}
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func randomClient(rng *rand.Rand) models.OAuthClient {
	for {
		c := stored()
		opt := func() *string {
			if rng.IntN(2) == 0 {
				return nil
			}
			s := pick(rng, texts[1:4])
			return &s
		}
		c.Tenant, c.Description, c.BusinessName = opt(), opt(), opt()
		if rng.IntN(3) == 0 {
			h := "https://acme.example"
			c.HomepageURL = &h
		}
		c.RedirectURIs = nil
		for _, u := range uris[:3] {
			if rng.IntN(2) == 0 {
				c.RedirectURIs = append(c.RedirectURIs, u)
			}
		}
		if c.RedirectURIs == nil {
			c.RedirectURIs = []string{}
		}
		c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
		if len(c.RedirectURIs) > 0 && rng.IntN(2) == 0 {
			c.GrantTypes = append(c.GrantTypes, models.GrantAuthorizationCode)
		}
		c.AccessTokenValiditySeconds = pick(rng, []int{60, 3600, 7200})
		c.Enabled = rng.IntN(2) == 0
		c.ClaimsSupported = rng.IntN(2) == 0
		if c.Validate() == nil {
			return c
		}
	}
}

// paths are pointers for random operations: the allowlist's members and
// indexes, and a few it refuses.
func paths() []string {
	var ps []string
	for _, m := range memberNames() {
		ps = append(ps, "/"+m)
		if models.IsArrayMember(m) {
			ps = append(ps, "/"+m+"/0", "/"+m+"/1", "/"+m+"/2", "/"+m+"/3", "/"+m+"/-", "/"+m+"/0", "/"+m+"/1")
		}
	}
	return ps
}

// refused are pointers SPEC §4.1 refuses, used now and then.
var refused = []string{"/redirectUris/01", "/secret", "/", "/name/0", "", "/grantTypes/-1", "redirectUris"}

func randomPath(rng *rand.Rand, ps []string, appendTarget bool) string {
	if rng.IntN(40) == 0 {
		return pick(rng, refused)
	}
	for {
		if p := pick(rng, ps); appendTarget || !strings.HasSuffix(p, "/-") {
			return p
		}
	}
}

// sensibleValue is, most of the time, a value of the right type for path,
// its numbers respelled.
func sensibleValue(rng *rand.Rand, path string) string {
	if rng.IntN(3) == 0 {
		return randomValue(rng, 0)
	}
	member, index, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch member {
	case "redirectUris":
		if index != "" {
			return q(pick(rng, uris))
		}
		return "[" + q(pick(rng, uris)) + "]"
	case "grantTypes":
		if index != "" {
			return q(pick(rng, grants))
		}
		return "[" + q(pick(rng, grants)) + "]"
	case "accessTokenValiditySeconds", "refreshTokenValiditySeconds":
		v, _ := oracleRead([]byte(pick(rng, []string{"60", "3600", "7200", "86400", "3600.5"})), 1)
		var b bytes.Buffer
		respell(rng, &b, v)
		return b.String()
	case "enabled", "strongAuthSupported", "claimsSupported":
		return pick(rng, []string{"true", "false"})
	case "accessType":
		return q(pick(rng, []string{"ONLINE", "OFFLINE", "online"}))
	case "homepageUrl":
		return pick(rng, []string{`"https://acme.example/home"`, "null"})
	}
	return pick(rng, []string{q(pick(rng, texts)), "null"})
}

// respell writes v, a value the oracle read, as JSON with numbers, strings
// and member order spelled at random: equal by RFC 6902 §4.6, not by text.
func respell(rng *rand.Rand, b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case oNum:
		d := toDecimal(x)
		if d.digits == "" || !d.exp.IsInt64() || d.exp.Int64() > 30 || d.exp.Int64() < -30 {
			b.WriteString(string(x))
			return
		}
		if d.neg {
			b.WriteByte('-')
		}
		// digits × 10^exp: move the point by shift, pad with zeros.
		digits, exp := d.digits+strings.Repeat("0", rng.IntN(3)), d.exp.Int64()
		exp -= int64(len(digits) - len(d.digits))
		shift := int64(rng.IntN(len(digits) + 1))
		whole, frac := digits[:int64(len(digits))-shift], digits[int64(len(digits))-shift:]
		if whole == "" {
			whole = "0"
		}
		b.WriteString(whole)
		if frac != "" {
			b.WriteString("." + frac)
		}
		if e := exp + shift; e != 0 || rng.IntN(3) == 0 {
			fmt.Fprintf(b, "%s%d", pick(rng, []string{"e", "E", "e+"}), e)
		}
	case string:
		b.WriteByte('"')
		for _, r := range x {
			switch {
			case r == '"' || r == '\\' || r < 0x20 || r > 0xffff || rng.IntN(4) != 0:
				enc, _ := json.Marshal(string(r))
				b.Write(enc[1 : len(enc)-1])
			default:
				fmt.Fprintf(b, `\u%04x`, r)
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(pick(rng, []string{",", " , "}))
			}
			respell(rng, b, e)
		}
		b.WriteByte(']')
	case *oObj:
		names := slices.Clone(x.names)
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		b.WriteByte('{')
		for i, k := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			respell(rng, b, k)
			b.WriteByte(':')
			respell(rng, b, x.vals[k])
		}
		b.WriteByte('}')
	default:
		enc, _ := json.Marshal(x)
		b.Write(enc)
	}
}

func randomValue(rng *rand.Rand, depth int) string {
	switch k := rng.IntN(10); {
	case k == 0:
		return "null"
	case k == 1:
		return pick(rng, []string{"true", "false"})
	case k == 2:
		return pick(rng, numberPool)
	case k <= 5:
		s, _ := json.Marshal(pick(rng, append(append([]string{}, uris...), append(texts, grants...)...)))
		return string(s)
	case k <= 7 && depth < 3:
		var es []string
		for range rng.IntN(4) {
			es = append(es, randomValue(rng, depth+1))
		}
		return "[" + strings.Join(es, ",") + "]"
	case depth < 3:
		return fmt.Sprintf(`{"a":%s,"b":%s}`, randomValue(rng, depth+1), randomValue(rng, depth+1))
	}
	return "null"
}

// randomPatch builds a JSON Patch (or, one time in eight, a merge patch)
// for c. A test op reads, half the time, what the oracle holds at its path
// after the operations before it, respelled.
func randomPatch(rng *rand.Rand, c models.OAuthClient) (string, []byte) {
	ps := paths()
	if rng.IntN(8) == 0 {
		var members []string
		for range rng.IntN(4) {
			m := pick(rng, memberNames())
			members = append(members, fmt.Sprintf("%q:%s", m, sensibleValue(rng, "/"+m)))
		}
		return MediaMergePatch, []byte("{" + strings.Join(members, ",") + "}")
	}
	doc := projection(&c, nil)
	var ops []string
	for range rng.IntN(7) + 1 {
		op := pick(rng, []string{"add", "remove", "replace", "move", "copy", "test", "test", "test"})
		path := randomPath(rng, ps, op == "add" || op == "move" || op == "copy")
		var o string
		switch op {
		case "remove":
			o = fmt.Sprintf(`{"op":"remove","path":%q}`, path)
		case "move", "copy":
			o = fmt.Sprintf(`{"op":%q,"from":%q,"path":%q}`, op, randomPath(rng, ps, false), path)
		case "test":
			value := randomValue(rng, 0)
			if cur, e := oracleJSONPatch(doc, []byte("["+strings.Join(ops, ",")+"]")); e == nil && rng.IntN(2) == 0 {
				if cur == nil {
					cur = doc
				}
				state, _ := oracleRead(cur, 1<<10)
				if v, err := oGet(state, oTokens(path)); err == nil && strings.HasPrefix(path, "/") {
					var b bytes.Buffer
					respell(rng, &b, v)
					value = b.String()
				}
			}
			o = fmt.Sprintf(`{"op":"test","path":%q,"value":%s}`, path, value)
		default:
			o = fmt.Sprintf(`{"op":%q,"path":%q,"value":%s}`, op, path, sensibleValue(rng, path))
		}
		ops = append(ops, o)
	}
	return MediaJSONPatch, []byte("[" + strings.Join(ops, ",") + "]")
}
