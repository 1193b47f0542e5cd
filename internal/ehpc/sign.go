package ehpc

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // the API's signature scheme fixes md5 as the body digest; it is not used for secrecy.
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signature parameters fixed by signature_version 1 of the API.
const (
	apiVersion       = "1"
	signatureMethod  = "HmacSHA256"
	signatureVersion = "1"
	timestampLayout  = "2006-01-02T15:04:05Z"
)

// escape percent-encodes s the way the API's reference signer does: only the RFC 3986
// unreserved characters stay as they are, everything else becomes %XX with upper-case
// hex. url.QueryEscape is not usable here because it writes a space as "+", which the
// server would sign as "%20" and reject.
func escape(s string) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	}
	return false
}

// canonicalQuery returns the query string that is signed: every parameter except
// "signature", sorted by name (and by value for repeated names so the result is
// deterministic), each name and value escaped, joined as name=value with "&".
// The same string is sent on the wire, so what the server parses is what was signed.
func canonicalQuery(params url.Values) string {
	names := make([]string, 0, len(params))
	for name := range params {
		if name == "signature" {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)

	var b strings.Builder
	for _, name := range names {
		values := append([]string(nil), params[name]...)
		sort.Strings(values)
		for _, v := range values {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(name))
			b.WriteByte('=')
			b.WriteString(escape(v))
		}
	}
	return b.String()
}

// stringToSign builds the four-line string of signature_version 1. The body digest
// covers the exact bytes sent, so a JSON body must be marshalled once and reused.
func stringToSign(method, path, canonical string, body []byte) string {
	sum := md5.Sum(body) //nolint:gosec // see import comment.
	return method + "\n" + path + "\n" + canonical + "\n" + hex.EncodeToString(sum[:])
}

// sign returns base64(HMAC-SHA256(secret, text)), text being a stringToSign.
func sign(secret, text string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// wireSignature encodes a signature for the query string the way the reference code
// does (Python's quote_plus applied twice), so "+" travels as "%252B". Servers built
// from the reference decode twice; sending it once-encoded would fail their check.
func wireSignature(sig string) string {
	return url.QueryEscape(url.QueryEscape(sig))
}

// signURL returns the full URL for req signed with timestamp stamp (whole
// seconds, UTC), and the signature itself, for scrubbing.
func (c *Client) signURL(req request, stamp time.Time) (string, string, error) {
	if req.zone == "" {
		return "", "", fmt.Errorf("EHPC API %s: the zone parameter is required", req.path)
	}
	q := url.Values{}
	for k, vs := range req.params {
		q[k] = append([]string(nil), vs...)
	}
	q.Set("access_key_id", c.cfg.AccessKeyID)
	q.Set("zone", req.zone)
	q.Set("timestamp", stamp.UTC().Format(timestampLayout))
	q.Set("version", apiVersion)
	q.Set("signature_method", signatureMethod)
	q.Set("signature_version", signatureVersion)

	path := c.base.EscapedPath() + req.path
	canonical := canonicalQuery(q)
	sig := sign(c.cfg.SecretKey, stringToSign(req.method, path, canonical, req.body))
	return c.base.Scheme + "://" + c.base.Host + path + "?" + canonical + "&signature=" + wireSignature(sig), sig, nil
}
