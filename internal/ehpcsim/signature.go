package ehpcsim

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// TimestampLayout is the wire format of timestamp, start_time, end_time and of
// every time in a response.
const TimestampLayout = "2006-01-02T15:04:05Z"

// defaultTimestampValidity is the documented validity window of a signed
// request (Options.TimestampValidity 0).
const defaultTimestampValidity = 60 * time.Second

// queryPair is one name=value of the raw query, decoded once. The simulator
// parses RawQuery itself instead of using url.ParseQuery because the signature
// depends on details ParseQuery hides: order (signature must be last),
// duplicates, and the raw, still twice-encoded signature value.
type queryPair struct {
	name, value string
	rawValue    string
}

// parseRawQuery splits a raw query into pairs, decoding names and values once
// with form semantics ('+' is a space), as Go's and Python's servers do. A
// semicolon is an ordinary character here.
func parseRawQuery(raw string) ([]queryPair, error) {
	var pairs []queryPair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, fmt.Errorf("query parameter name %q is not valid URL encoding", rawName)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("the value of query parameter %q is not valid URL encoding", name)
		}
		pairs = append(pairs, queryPair{name: name, value: value, rawValue: rawValue})
	}
	return pairs, nil
}

// valuesOf turns pairs into url.Values for the handlers, without the signature:
// nothing downstream (handlers, logs, RequestLog) has any business seeing it.
func valuesOf(pairs []queryPair) url.Values {
	v := url.Values{}
	for _, p := range pairs {
		if p.name == "signature" {
			continue
		}
		v[p.name] = append(v[p.name], p.value)
	}
	return v
}

// rfc3986Escape keeps only the unreserved set and writes upper-case hex, which
// is what API.md's "hex digits upper case, space is %20" amounts to. Go's
// url.QueryEscape would differ on space ('+') and '~'.
func rfc3986Escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// canonicalQuery is step 1-3 of the documented algorithm. Sorting by value as
// well as name only matters for repeated names, where it makes the result
// independent of the order the client happened to send them in.
func canonicalQuery(pairs []queryPair) string {
	kept := make([]queryPair, 0, len(pairs))
	for _, p := range pairs {
		if p.name != "signature" {
			kept = append(kept, p)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].name != kept[j].name {
			return kept[i].name < kept[j].name
		}
		return kept[i].value < kept[j].value
	})
	parts := make([]string, len(kept))
	for i, p := range kept {
		parts[i] = rfc3986Escape(p.name) + "=" + rfc3986Escape(p.value)
	}
	return strings.Join(parts, "&")
}

func stringToSign(method, path, canonical string, body []byte) string {
	sum := md5.Sum(body)
	return method + "\n" + path + "\n" + canonical + "\n" + hex.EncodeToString(sum[:])
}

func computeSignature(secret, sts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// apiError is an API-level failure: HTTP 200 with this ret_code and message.
type apiError struct {
	code int
	msg  string
}

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

var zonePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// authInfo is what a request proved about itself.
type authInfo struct {
	accessKey    string
	zone         string
	stringToSign string
}

// single returns the only value of a common parameter. A repeated common
// parameter is rejected because client and server could disagree on which copy
// counts, and a signature over an ambiguous request proves little.
func single(q map[string][]string, name string) (string, bool, *apiError) {
	vs := q[name]
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	default:
		return "", true, errf(1100, "InvalidParameter, parameter [%s] is given %d times", name, len(vs))
	}
}

// authenticate checks the common parameters, the signature and the timestamp,
// in that order: the parameters must be usable before a signature can be
// checked, and the clock is only worth complaining about for a request that
// is otherwise genuine. The returned authInfo carries the string to sign even
// on failure, for RequestLog.
func (s *Simulator) authenticate(method, escapedPath string, pairs []queryPair, body []byte, now time.Time) (authInfo, *apiError) {
	var info authInfo
	q := map[string][]string{}
	for _, p := range pairs {
		q[p.name] = append(q[p.name], p.value)
	}

	key, ok, e := single(q, "access_key_id")
	if e != nil {
		return info, e
	}
	if !ok || key == "" {
		return info, errf(1200, "AuthenticationFailed, parameter [access_key_id] is required")
	}
	info.accessKey = key

	ts, ok, e := single(q, "timestamp")
	if e != nil {
		return info, e
	}
	if !ok {
		if _, legacy := q["time_stamp"]; legacy {
			return info, errf(1100, "MissingParameter, parameter [timestamp] is required (time_stamp is not accepted)")
		}
		return info, errf(1100, "MissingParameter, parameter [timestamp] is required")
	}
	reqTime, err := time.Parse(TimestampLayout, ts)
	if err != nil {
		return info, errf(1100, "InvalidParameter, timestamp [%s] is not in the format YYYY-MM-DDThh:mm:ssZ", ts)
	}
	for _, c := range []struct{ name, want string }{
		{"version", "1"},
		{"signature_method", "HmacSHA256"},
		{"signature_version", "1"},
	} {
		v, ok, e := single(q, c.name)
		if e != nil {
			return info, e
		}
		if !ok || v == "" {
			return info, errf(1100, "MissingParameter, parameter [%s] is required", c.name)
		}
		if v != c.want {
			return info, errf(1100, "InvalidParameter, %s [%s] is not supported, use [%s]", c.name, v, c.want)
		}
	}
	zone, ok, e := single(q, "zone")
	if e != nil {
		return info, e
	}
	if !ok || zone == "" {
		return info, errf(1100, "MissingParameter, parameter [zone] is required")
	}
	if !zonePattern.MatchString(zone) || !s.knownZoneLocked(zone) {
		return info, errf(1100, "InvalidParameter, zone [%s] is not a valid zone", zone)
	}
	info.zone = zone

	secret, known := s.creds[key]
	if !known {
		return info, errf(1200, "AuthenticationFailed, access key [%s] does not exist", key)
	}

	info.stringToSign = stringToSign(method, escapedPath, canonicalQuery(pairs), body)
	if len(q["signature"]) == 0 {
		return info, errf(1200, "AuthenticationFailed, parameter [signature] is required")
	}
	if len(q["signature"]) > 1 {
		return info, errf(1200, "AuthenticationFailed, parameter [signature] is given more than once")
	}
	last := pairs[len(pairs)-1]
	if last.name != "signature" {
		return info, errf(1200, "AuthenticationFailed, signature must be the last query parameter")
	}
	if !signatureMatches(last.rawValue, computeSignature(secret, info.stringToSign)) {
		return info, errf(1200, "AuthenticationFailed, signature not matched")
	}

	if skew := now.Sub(reqTime); skew > s.validity {
		return info, errf(1300, "RequestExpired, timestamp [%s] is older than %s", ts, validityText(s.validity))
	} else if skew < -s.validity {
		return info, errf(1300, "RequestExpired, timestamp [%s] is more than %s in the future", ts, validityText(s.validity))
	}
	return info, nil
}

// validityText spells the validity window the way the API's message does
// ("60 seconds"), falling back to Go's notation for a window a test chose
// that is not whole seconds.
func validityText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d seconds", d/time.Second)
	}
	return d.String()
}

// signatureMatches undoes the documented double URL-encoding. After the first
// decoding the value must still be URL-encoded, so a raw '+', '/' or '=' at
// that stage means the client encoded only once; that is rejected even though
// the characters would survive the second decoding, because the real service
// decodes twice and would turn such a '+' into a space.
func signatureMatches(rawValue, want string) bool {
	once, err := url.QueryUnescape(rawValue)
	if err != nil || strings.ContainsAny(once, "+/=") {
		return false
	}
	twice, err := url.QueryUnescape(once)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(twice), []byte(want))
}

func (s *Simulator) knownZoneLocked(zone string) bool {
	for _, c := range s.clusters {
		if c.Zone == zone {
			return true
		}
	}
	return false
}
