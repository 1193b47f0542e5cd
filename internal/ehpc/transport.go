package ehpc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
)

// permanentTransport classifies err, from sending a request to host, as a
// ConnectError when retrying cannot help, or returns nil.
func permanentTransport(path, host string, err error) error {
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
		recordHdr   tls.RecordHeaderError
		alert       tls.AlertError
		dnsErr      *net.DNSError
		cause       = err
		uerr        *url.Error
		isTLSFailed bool
	)
	if errors.As(err, &uerr) {
		cause = uerr.Err
	}
	switch {
	case errors.As(cause, &verify), errors.As(cause, &unknownCA), errors.As(cause, &hostname),
		errors.As(cause, &invalid), errors.As(cause, &recordHdr), errors.As(cause, &alert):
		isTLSFailed = true
	case errors.As(cause, &dnsErr) && dnsErr.IsNotFound:
		return &ConnectError{Path: path, Host: host, Kind: "dns", Err: cause}
	}
	if isTLSFailed {
		return &ConnectError{Path: path, Host: host, Kind: "tls", Err: cause}
	}
	return nil
}

// redirectTarget is a 3xx answer's Location without query or fragment, resolved
// against the request's URL.
func redirectTarget(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return ""
	}
	loc.RawQuery, loc.Fragment, loc.User = "", "", nil
	return loc.String()
}
