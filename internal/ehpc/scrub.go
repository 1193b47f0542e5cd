package ehpc

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// signatureParam matches a signature query parameter in any text the server might
// echo back (an error page quoting the request URL, for instance).
var signatureParam = regexp.MustCompile(`(?i)(signature=)[^&\s"'<>]*`)

// scrubber removes secrets from text that is about to leave the client in an error
// or a log line. The secret key is replaced wherever it appears; signatures are
// caught by their parameter name since their values change every request.
type scrubber struct {
	secret string
	// signatures are one request's signature in each spelling it travels in.
	signatures []string
}

// withSignature returns a scrubber that also removes sig, raw or URL-encoded
// once or twice, wherever it appears with or without its parameter name.
func (s scrubber) withSignature(sig string) scrubber {
	if sig == "" {
		return s
	}
	s.signatures = []string{wireSignature(sig), url.QueryEscape(sig), sig}
	return s
}

func (s scrubber) scrub(text string) string {
	if s.secret != "" && strings.Contains(text, s.secret) {
		text = strings.ReplaceAll(text, s.secret, "[REDACTED]")
	}
	for _, sig := range s.signatures {
		if strings.Contains(text, sig) {
			text = strings.ReplaceAll(text, sig, "[REDACTED]")
		}
	}
	return signatureParam.ReplaceAllString(text, "${1}[REDACTED]")
}

// excerptLimit bounds how much of an unusable body an error quotes: enough to
// recognise an HTML page or a proxy message, not enough to flood a terminal.
const excerptLimit = 120

// excerpt returns a printable, scrubbed prefix of body.
func (s scrubber) excerpt(body []byte) string {
	// Scrub before cutting, so a secret that straddles the cut cannot leak in part.
	body = []byte(s.scrub(string(body)))
	var b strings.Builder
	lastSpace := false
	for len(body) > 0 && b.Len() < excerptLimit {
		r, size := utf8.DecodeRune(body)
		body = body[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			r = '?'
		case unicode.IsSpace(r):
			if lastSpace || b.Len() == 0 {
				continue
			}
			r = ' '
		case !unicode.IsPrint(r):
			r = '?'
		}
		lastSpace = r == ' '
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if len(body) > 0 {
		out += "..."
	}
	return out
}

// scrubErr rewrites err's text without secrets; *url.Error quotes the whole URL,
// signature included.
func (s scrubber) scrubErr(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	text := err.Error()
	clean := s.scrub(text)
	if clean == text {
		return err
	}
	return errors.New(clean)
}
